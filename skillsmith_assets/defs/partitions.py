"""The one daily partitioning of the project: fixed start, today included (end_offset=1)."""

import dagster as dg

daily_partitions = dg.DailyPartitionsDefinition(start_date="2025-10-01", end_offset=1, timezone="UTC")

# The run tags Dagster reads a partition range from (one run over many days).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def window_tags(first_day: str, last_day: str) -> dict[str, str]:
    """Run tags that give the daily assets a partition range in one run."""
    return {RANGE_START_TAG: first_day, RANGE_END_TAG: last_day}
