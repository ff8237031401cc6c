import click


@click.command("db-setup")
def db_setup():
    """Apply sql/ to the configured database, idempotently (safe to run again)."""
    from .. import db

    target = db.resolve_target()
    applied = db.apply_schema(target)
    if applied:
        click.echo(f"Schema applied to {target.source} ({target.redacted()}): {', '.join(applied)}")
    else:
        click.echo(f"Schema of {target.source} ({target.redacted()}) is up to date.")
