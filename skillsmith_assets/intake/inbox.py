"""Archived events in a folder (``SKILLSMITH_INBOX``): one day's files load with that day's partition.

A file belongs to the days whose date (``YYYY-MM-DD`` or ``YYYYMMDD``) its name
carries, e.g. ``errors-2026-11-07.jsonl`` or ``agent.20261107.jsonl.gz``; files
without a date in their name are not loaded by partitions (use ``skillsmith ingest``).
Loading is idempotent: events are keyed, so a re-run adds nothing.
"""

from __future__ import annotations

import gzip
import os
import re
from datetime import date
from pathlib import Path

from skillsmith_assets.intake.bulk import IngestReport, ingest_stream

_DATE_IN_NAME = re.compile(r"(?<![0-9])(20[0-9]{2})-?([01][0-9])-?([0-3][0-9])(?![0-9])")


def inbox_dir() -> Path | None:
    value = os.environ.get("SKILLSMITH_INBOX")
    return Path(value) if value else None


def file_day(path: Path) -> date | None:
    match = _DATE_IN_NAME.search(path.name)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def files_for_day(folder: Path, day: date) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz", ".ndjson")) and file_day(p) == day)


def load_day(conn, folder: Path, day: date, partitions=None) -> tuple[IngestReport, list[str]]:
    """Load the day's files into the caller's transaction; returns the counts and the file names."""
    total = IngestReport()
    names = []
    for path in files_for_day(folder, day):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            # keyed by the file's name, so a moved inbox folder does not load its files twice
            total.add(ingest_stream(conn, handle, str(path), origin=f"inbox:{path.name}",
                                    partitions=partitions))
        names.append(path.name)
    return total, names
