"""``skillsmith stats``: the six monitoring metrics, from the error store and skills/."""

import json
import math

import click


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (NaN as null) instead of a table.")
def stats(as_json: bool):
    """Print error volume, pattern diversity, proposals per week, approval rate,
    errors prevented and fix rate (definitions: skillsmith_assets/ops/metrics.py)."""
    from skillsmith_assets.store import db
    from skillsmith_assets.ops import metrics
    from skillsmith_assets import paths

    target = db.resolve_target()
    db.apply_schema(target)
    with db.connection(target) as conn:
        values = metrics.compute(conn, skills_root=paths.skills_dir())
    if as_json:
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}
        click.echo(json.dumps(clean, sort_keys=False))
        return
    width = max(len(k) for k in values)
    shown = {k: metrics.format_value(k, v) for k, v in values.items()}
    value_width = max(len(v) for v in shown.values())
    for key in metrics.METRIC_KEYS:
        click.echo(f"{key.ljust(width)}  {shown[key].rjust(value_width)}  {metrics.DESCRIPTIONS[key]}")
    click.echo("")
    for key in metrics.SUPPORTING_KEYS:
        click.echo(f"{key.ljust(width)}  {shown[key].rjust(value_width)}  {metrics.DESCRIPTIONS[key]}")
