import click


def run_mining(min_hits: int, top_n: int, target=None) -> None:
    """Normalize what is new, roll up the 30-day window, rank and print candidates."""
    from datetime import datetime, timedelta, timezone

    from .. import db, rollup
    from .output import CANDIDATE_COLUMNS, table

    as_of = datetime.now(timezone.utc)
    start = as_of - timedelta(days=30)
    with db.connection(target) as conn:
        normalized = rollup.normalize_rows(conn, start, as_of + timedelta(days=1))
        for day in rollup.days_with_events(conn, start, as_of + timedelta(days=1)):
            rollup.count_day(conn, day)
        signatures = rollup.refresh_signatures(conn, as_of)
        rollup.refresh_candidates(conn, rollup.CandidateRules(min_hits=min_hits, top_n=top_n))
        top = rollup.top_candidates(conn, limit=top_n)
    click.echo(f"Normalized {normalized} new errors; {signatures} signatures in the last 30 days.")
    if not top:
        click.echo(f"No candidates: no signature has {min_hits}+ hits in the last 7 days.")
        return
    click.echo(f"\nTop candidates by impact (hits_7d*0.7 + hits_30d*0.3):\n")
    click.echo(table(top[:15], CANDIDATE_COLUMNS))


@click.command("mine")
@click.option("--min-hits", "--min_hits", "min_hits", default=2, show_default=True, type=click.IntRange(min=1),
              help="Minimum hits in the last 7 days for a candidate.")
@click.option("--top", "top_n", default=50, show_default=True, type=click.IntRange(min=1),
              help="How many candidates to keep.")
def mine(min_hits, top_n):
    """Mine the error store: normalize, roll up, rank, and print the candidates."""
    from .. import db

    db.apply_schema()
    run_mining(min_hits, top_n)
