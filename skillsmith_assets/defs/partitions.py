"""The one daily partitioning of the project: fixed start, today included (end_offset=1)."""

import dagster as dg

daily_partitions = dg.DailyPartitionsDefinition(start_date="2025-10-01", end_offset=1, timezone="UTC")
