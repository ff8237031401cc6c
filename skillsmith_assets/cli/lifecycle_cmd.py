"""``approve``, ``reject``, ``retrain`` and ``check``: deploying skills and asking which one applies.

Exit statuses: 0 done; 1 refused (approve/reject), invalid skills (retrain) or no
matching skill (check); 2 unusable input (check: stdin is not one JSON event).
"""

import json
import sys

import click


def _refuse(message: str) -> None:
    click.echo(f"skillsmith: {message}", err=True)
    click.echo("Nothing was changed.", err=True)
    sys.exit(1)


@click.command("approve")
@click.argument("skill_id")
@click.option("--live", is_flag=True, help="Fixers: let the autopatch write (dry_run: false). Default: dry run.")
def approve(skill_id, live):
    """Move proposal SKILL_ID from skills/proposed/ into skills/ with status approved.

    The skill is validated first; a fixer also needs its autopatch to exist, import,
    and pass its tests (tests/test_autopatches.py -k fx-xxxxxxxx). The registry is
    rebuilt afterwards. On any refusal nothing changes.
    """
    from skillsmith_assets.skills.decisions import LifecycleError
    from skillsmith_assets.skills.decisions import approve as do_approve

    try:
        decision = do_approve(skill_id, live=live)
    except LifecycleError as exc:
        _refuse(str(exc))
    mode = ""
    if decision.kind == "fixer":
        mode = " (dry run: reports the diff it would make)" if decision.dry_run else " (live: patches repositories)"
    click.echo(f"Approved {decision.skill_id}{mode}: {_rel(decision.removed)} -> {_rel(decision.path)}")
    if decision.registry_note:
        click.echo(decision.registry_note)


@click.command("reject")
@click.argument("skill_id")
@click.option("--reason", required=True, help="Why: kept with the rejection, and shown to whoever asks later.")
@click.option("--by", "by", default=None, help="Who rejects (default: $SKILLSMITH_USER, else the login name).")
def reject(skill_id, reason, by):
    """Reject proposal SKILL_ID: record it in skills/rejected/ so it is never proposed again, remove the proposal."""
    from skillsmith_assets.skills.decisions import LifecycleError
    from skillsmith_assets.skills.decisions import reject as do_reject

    try:
        decision = do_reject(skill_id, reason, by=by)
    except LifecycleError as exc:
        _refuse(str(exc))
    click.echo(f"Rejected {decision.skill_id}: recorded in {_rel(decision.path)}; {_rel(decision.removed)} removed")


@click.command("retrain")
def retrain():
    """Validate every skill in skills/ and rebuild skills/registry.json (only when all are valid)."""
    from skillsmith_assets.skills.registry import registry_path
    from skillsmith_assets.skills.registry import retrain as do_retrain

    result = do_retrain()
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not result.ok:
        for problem in result.problems:
            click.echo(f"invalid: {problem}", err=True)
        click.echo(f"{len(result.problems)} problem(s); the registry was not rebuilt.", err=True)
        sys.exit(1)
    counts = result.counts()
    click.echo(
        f"Registry rebuilt: {counts['approved_skills']} approved skills ({counts['guardrails']} guardrails, "
        f"{counts['fixers']} fixers, {counts['live_fixers']} live), {counts['retired_skills']} retired -> "
        f"{_rel(registry_path())}"
    )


@click.command("check")
def check():
    """Read one event as JSON on stdin ({"error": ..., "component": ...}); print the matching
    approved skill and its action as JSON. Exit 1 when no approved skill matches."""
    from skillsmith_assets.skills.runtime import Runtime

    raw = click.get_text_stream("stdin", errors="replace").read()
    try:
        event = json.loads(raw)
    except ValueError as exc:
        click.echo(f"skillsmith check: stdin is not one JSON object: {exc}", err=True)
        sys.exit(2)
    if not isinstance(event, dict) or not isinstance(event.get("error", event.get("message")), str):
        click.echo('skillsmith check: expected a JSON object with an "error" string', err=True)
        sys.exit(2)
    if event.get("component") is not None and not isinstance(event.get("component"), str):
        click.echo('skillsmith check: "component" must be a string', err=True)
        sys.exit(2)
    try:
        hit = Runtime(record_outcomes=False).match(event)
    except (ValueError, OSError) as exc:
        click.echo(f"skillsmith check: cannot load the skills: {exc}", err=True)
        sys.exit(2)
    if hit is None:
        click.echo("no approved skill matches", err=True)
        sys.exit(1)
    click.echo(json.dumps(hit.as_dict(), ensure_ascii=False))


def _rel(path) -> str:
    from skillsmith_assets.paths import project_dir

    try:
        return path.resolve().relative_to(project_dir()).as_posix()
    except ValueError:
        return str(path)
