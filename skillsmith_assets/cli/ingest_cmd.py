
import click

MAX_LISTED = 50


@click.command("ingest")
@click.argument("files", nargs=-1, required=True)
@click.option("--rejects", type=click.Path(dir_okay=False, writable=True),
              help="Also write every rejected line's file, number and reason here (JSON lines).")
def ingest(files, rejects):
    """Load JSON-lines events from FILES (or - for stdin) into agent_errors.

    Ends with counts: loaded, already present, rejected. Loading a file twice adds nothing.
    Exit status: 0 when every input was read (rejected lines are reported, not fatal);
    1 when an input could not be read (the others are still loaded and counted);
    2 when the database cannot be reached.
    """
    import json

    from skillsmith_assets.store import db
    from skillsmith_assets.intake.bulk import ingest_files

    db.apply_schema()
    report = ingest_files(db.connection, files)
    for path, reason in report.unreadable:
        click.echo(f"skillsmith ingest: {path}: {reason}; nothing loaded from it (exit status 1)", err=True)
    for rejection in report.rejected[:MAX_LISTED]:
        click.echo(f"{rejection.source}:{rejection.line}: rejected: {rejection.reason}", err=True)
    if len(report.rejected) > MAX_LISTED:
        click.echo(f"... and {len(report.rejected) - MAX_LISTED} more rejected lines"
                   + ("" if rejects else " (use --rejects FILE to keep them all)"), err=True)
    if rejects:
        with open(rejects, "w", encoding="utf-8") as handle:
            for r in report.rejected:
                handle.write(json.dumps({"source": r.source, "line": r.line, "reason": r.reason}) + "\n")
    click.echo(report.summary() + (f", unreadable inputs {len(report.unreadable)}" if report.unreadable else ""))
    # Rejected lines are reported, never fatal; an input that could not be read is.
    if report.unreadable:
        raise SystemExit(1)
