import click

from skillsmith_assets.mining.rollup import CandidateRules


def dagster_instance():
    """The instance the UI shows: DAGSTER_HOME, else $SKILLSMITH_HOME/dagster_home."""
    import os

    import dagster as dg

    from skillsmith_assets.store.db import skillsmith_home

    if not os.environ.get("DAGSTER_HOME"):
        home = skillsmith_home() / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():  # a local SQLite instance; production uses deploy/dagster.yaml
            config.write_text("# Local Dagster instance (SQLite in this folder). Production: deploy/dagster.yaml\n"
                              "telemetry:\n  enabled: false\n")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def failure_cause(error) -> str:
    """One line naming the cause of a failed step: the innermost error's class and first line."""
    import re

    from skillsmith_assets.defs.operations import user_error
    from skillsmith_assets.secrets import scrub_secrets

    root = user_error(error)
    if root is None:
        return "unknown error"
    lines = (root.message or "").strip().splitlines()
    text = lines[0] if lines else ""
    name = (root.cls_name or "").rsplit(".", 1)[-1]
    qualified = re.match(r"(?:[\w]+\.)*" + re.escape(name) + ": ", text) if name else None
    if qualified:  # "skillsmith_assets.store.db.DatabaseError: ..." -> "DatabaseError: ..."
        text = f"{name}: {text[qualified.end():]}"
    elif name:
        text = f"{name}: {text}"
    return scrub_secrets(text)


def run_mining(min_hits: int = CandidateRules.min_hits, top_n: int = CandidateRules.top_n, days: int = 30) -> bool:
    """Materialize the whole graph in-process for the last ``days`` days; print what it proposed."""
    from datetime import datetime, timedelta, timezone

    import dagster as dg

    from skillsmith_assets.store import db
    from skillsmith_assets.mining import rollup
    from skillsmith_assets.defs import mining
    from skillsmith_assets.paths import proposed_dir
    from skillsmith_assets.cli.output import CANDIDATE_COLUMNS, table

    # An unreachable store is one clear line (exit status 2), before any run starts.
    db.apply_schema(db.resolve_target())
    today = datetime.now(timezone.utc).date()
    first = max(today - timedelta(days=days), mining.daily_partitions.start.date())
    result = dg.materialize(
        mining.MINING_ASSETS,
        instance=dagster_instance(),
        resources={"error_store": mining.ErrorStore()},
        tags=mining.window_tags(first.isoformat(), today.isoformat()),
        run_config={
            "ops": {"error_candidates": {"config": {"min_hits": min_hits, "top_n": top_n}}},
            # The run's events, traces included, are in the instance (and the UI); the terminal
            # gets the one-line cause below instead of Dagster's framed traces.
            "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
        },
        raise_on_error=False,
    )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                click.echo(f"Mining failed in {event.step_key}: {failure_cause(event.step_failure_data.error)}",
                           err=True)
        click.echo(f"Run {result.run_id[:8]} holds the full trace (make dev shows it). Nothing of the failed "
                   "steps was committed; run the command again once the cause is fixed.", err=True)
        return False
    metadata = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        metadata[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    proposals = metadata.get("skill_proposals", {})
    with db.connection() as conn:
        top = rollup.top_candidates(conn, limit=top_n)
    click.echo(f"Mined {first} .. {today} (run {result.run_id[:8]}): "
               f"{metadata.get('error_signatures', {}).get('signatures', 0)} signatures, "
               f"{metadata.get('error_signatures', {}).get('patterns', 0)} patterns, "
               f"{metadata.get('error_candidates', {}).get('candidates', 0)} new candidates.")
    if top:
        click.echo("\nNew candidates by impact (hits_7d*0.7 + hits_30d*0.3):\n")
        click.echo(table(top[:15], CANDIDATE_COLUMNS))
    else:
        click.echo(f"No new candidates: every pattern with {min_hits}+ hits in 7 days is already covered by a skill.")
    click.echo(f"\nProposals: {proposals.get('written', 0)} written, {proposals.get('unchanged', 0)} unchanged, "
               f"{proposals.get('skipped', 0)} skipped, in {proposed_dir()}")
    return True


@click.command("mine")
@click.option("--min-hits", "--min_hits", "min_hits", default=CandidateRules.min_hits, show_default=True, type=click.IntRange(min=1),
              help="Minimum hits in the last 7 days for a candidate.")
@click.option("--top", "top_n", default=CandidateRules.top_n, show_default=True, type=click.IntRange(min=1),
              help="How many candidates to keep.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=1, max=400),
              help="How many past days of partitions to (re)load and normalize.")
def mine(min_hits, top_n, days):
    """Materialize the asset graph (raw_errors → … → skill_proposals) on the Dagster instance
    the UI shows, and print what it proposed."""
    import sys

    if not run_mining(min_hits, top_n, days):
        sys.exit(1)
