import click


@click.command("demo")
@click.option("--events", default=5000, show_default=True, help="How many sample errors to generate.")
@click.option("--seed", default=7, show_default=True, help="Random seed of the generator.")
def demo(events, seed):
    """Load realistic sample errors spread over 30 days into the database, then mine them.

    Earlier sample errors (tagged 'sample') are replaced, so the demo can run again.
    """
    import io
    import json
    from datetime import datetime, timezone

    from skillsmith_assets.store import db
    from skillsmith_assets.intake.bulk import ingest_stream
    from skillsmith_assets.store.partitions import DayPartitions
    from skillsmith_assets.intake.sample_data import generate_events
    from skillsmith_assets.cli.mine_cmd import run_mining

    target = db.resolve_target()
    click.echo(f"Database: {target.source}")
    db.apply_schema(target)
    now = datetime.now(timezone.utc)
    lines = []
    for event in generate_events(events, days=30, seed=seed, now=now):
        event["tags"] = event["tags"] + ["sample"]
        event["event_id"] = f"{event['event_id']}-{now:%Y%m%d%H%M%S}"
        lines.append(json.dumps(event).encode())
    with db.connection(target) as conn:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM agent_errors WHERE tags @> ARRAY['sample']")
        report = ingest_stream(conn, io.BytesIO(b"\n".join(lines)), "<sample>",
                               partitions=DayPartitions(lambda: db.connection(target)))
    click.echo(f"Sample errors: {report.summary()}")
    if not run_mining():
        raise SystemExit(1)
    click.echo("Review them there, or in the Dagster UI: `make dev`, then http://127.0.0.1:3000.")
