import click


@click.command("db-setup")
def db_setup():
    """Apply sql/ to the configured database, idempotently (safe to run again), and make the
    day partitions of agent_errors from yesterday to a week ahead."""
    from datetime import datetime, timezone

    from skillsmith_assets.store import db, partitions

    target = db.resolve_target()
    applied = db.apply_schema(target)
    if applied:
        click.echo(f"Schema applied to {target.source} ({target.redacted()}): {', '.join(applied)}")
    else:
        click.echo(f"Schema of {target.source} ({target.redacted()}) is up to date.")
    with db.connection(target) as conn:
        if partitions.is_partitioned(conn):
            partitions.ensure_days(conn, partitions.days_around(datetime.now(timezone.utc).date()))
        else:
            click.echo("agent_errors is not partitioned by day (a store made by an earlier version): "
                       "`skillsmith db-migrate` moves it, keeping every row.")
