"""Administration of the error store's day partitions: moving an older store, retention."""

from datetime import date

import click


@click.command("db-migrate")
def db_migrate():
    """Move an agent_errors made before day partitioning into the partitioned store.

    One transaction: every row keeps its id and values, the daily counts are rebuilt,
    and a failure leaves the store as it was. Writers wait while it runs; run it again
    and it says there is nothing to do.
    """
    from skillsmith_assets.store import db, partitions

    target = db.resolve_target()
    db.apply_schema(target)
    try:
        with db.connection(target) as conn:
            moved = partitions.migrate(conn, progress=lambda line: click.echo(f"  {line}", err=True))
    except partitions.MigrationBlocked as exc:
        raise click.ClickException(f"nothing was changed: {exc}") from None
    if moved < 0:
        click.echo(f"agent_errors of {target.source} ({target.redacted()}) is partitioned by day already.")
    else:
        click.echo(f"agent_errors of {target.source} ({target.redacted()}) is partitioned by day: {moved:,} rows moved.")


@click.command("db-prune")
@click.option("--before", "cutoff", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Remove the events of every UTC day before this date (YYYY-MM-DD).")
def db_prune(cutoff):
    """Retention: drop the day partitions before a date, with their counts, in one transaction."""
    from skillsmith_assets.store import db, partitions

    day: date = cutoff.date()
    target = db.resolve_target()
    db.apply_schema(target)
    with db.connection(target) as conn:
        dropped, deleted = partitions.drop_days_before(conn, day)
    click.echo(f"Events before {day.isoformat()} removed: {dropped} day partitions dropped"
               + (f", {deleted:,} other rows deleted" if deleted else "") + ".")
