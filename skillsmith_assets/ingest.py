"""Bulk load of JSON-lines events into ``agent_errors`` through COPY.

Rows are stored complete: each chunk of events goes through the batch
normalizer first (``norm_error``, ``kind``, ``fingerprint``, ``normalizer_version``
filled), as the collector does for one event, so mining never rewrites them.

Each file loads in one transaction: a crash leaves none of it behind, and
re-loading adds nothing (rows are keyed by ``events.Event.key``: the event's own
id, else the file and line it came from). A bad line is reported with its number
and skipped; the rest of the file goes on.
"""

from __future__ import annotations

import io
import os
import sys
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterable

from .batch_normalize import normalize_batch
from .events import Event, RejectedEvent, parse_line
from .normalize import Normalized
from .partitions import DayPartitions

CHUNK_ROWS = 20_000

_COLUMNS = "ts, error, component, tags, event_key, norm_error, kind, fingerprint, normalizer_version"
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS skillsmith_ingest_staging (
    ts timestamptz, error text, component text, tags text[], event_key uuid,
    norm_error text, kind text, fingerprint uuid, normalizer_version integer,
    seq bigint GENERATED ALWAYS AS IDENTITY  -- the input's order, which the ids follow
) ON COMMIT DELETE ROWS
"""

# An event without a time is stamped when first stored; loading it again takes that stamp,
# so its (event_key, ts) finds the stored row within the day's partition.
_STAMP = """
INSERT INTO agent_error_stamps (event_key, ts)
SELECT event_key, now() FROM skillsmith_ingest_staging WHERE ts IS NULL
ON CONFLICT (event_key) DO NOTHING;
UPDATE skillsmith_ingest_staging s SET ts = st.ts FROM agent_error_stamps st
 WHERE s.ts IS NULL AND st.event_key = s.event_key;
"""
_DAYS = "SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM skillsmith_ingest_staging"
# No conflict target: the key is (event_key) on a store made before partitioning, (event_key, ts) after.
_MERGE = f"""
INSERT INTO agent_errors ({_COLUMNS})
SELECT {_COLUMNS} FROM skillsmith_ingest_staging ORDER BY seq
ON CONFLICT DO NOTHING
"""


@dataclass
class Rejection:
    source: str
    line: int
    reason: str


@dataclass
class IngestReport:
    loaded: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (input, why it could not be read)

    def add(self, other: "IngestReport") -> None:
        self.loaded += other.loaded
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.unreadable.extend(other.unreadable)

    def summary(self) -> str:
        return f"loaded {self.loaded}, already present {self.duplicates}, rejected {len(self.rejected)}"


def copy_text(value: str) -> str:
    """Escape a value for COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _array_literal(tags: list[str]) -> str:
    return "{" + ",".join('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in tags) + "}"


def copy_row(event: Event, normalized: Normalized) -> str:
    """One complete row in COPY's text format (the columns of ``_COLUMNS``)."""
    ts = event.ts.isoformat() if event.ts else "\\N"
    component = copy_text(event.component) if event.component is not None else "\\N"
    tags = copy_text(_array_literal(event.tags)) if event.tags is not None else "\\N"
    return (f"{ts}\t{copy_text(event.error)}\t{component}\t{tags}\t{event.key}\t"
            f"{copy_text(normalized.norm_error)}\t{copy_text(normalized.kind)}\t{normalized.fingerprint}\t"
            f"{normalized.normalizer_version}\n")


def _flush(cur, events: list[Event], partitions: DayPartitions | None) -> tuple[int, int]:
    """Normalize a chunk with the batch engine and store it; (inserted, already present)."""
    if not events:
        return 0, 0
    results = normalize_batch([e.error for e in events], [e.component for e in events])
    cur.copy_expert(f"COPY skillsmith_ingest_staging ({_COLUMNS}) FROM STDIN",
                    io.StringIO("".join(copy_row(e, n) for e, n in zip(events, results))))
    if any(e.ts is None for e in events):
        cur.execute(_STAMP)
    if partitions is not None:
        cur.execute(_DAYS)
        partitions.ensure(day for (day,) in cur.fetchall())
    cur.execute(_MERGE)
    inserted = cur.rowcount
    cur.execute("TRUNCATE skillsmith_ingest_staging")
    return inserted, len(events) - inserted


def ingest_stream(conn, stream: BinaryIO, source: str, progress: Callable[[int], None] | None = None,
                  origin: str | None = None, partitions: DayPartitions | None = None) -> IngestReport:
    """Load one JSON-lines stream in one transaction (the caller's connection commits).

    ``source`` names the stream in reports; ``origin`` (default: ``source``) is the
    stable name its events are keyed by, with their line numbers: a file's
    absolute path, so loading it again from another directory adds nothing.
    ``partitions`` makes the day partitions each chunk needs first; without it, rows of a
    day that has none wait in the default partition for the next mining run to make it.
    """
    origin = origin or source
    report = IngestReport()
    rows: list[Event] = []
    with conn.cursor() as cur:
        cur.execute(_STAGING)
        cur.execute("TRUNCATE skillsmith_ingest_staging")
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                rows.append(parse_line(line, f"{origin}:{number}"))
            except RejectedEvent as exc:
                report.rejected.append(Rejection(source, number, str(exc)))
                continue
            if len(rows) >= CHUNK_ROWS:
                loaded, dup = _flush(cur, rows, partitions)
                report.loaded += loaded
                report.duplicates += dup
                rows = []
                if progress:
                    progress(number)
        loaded, dup = _flush(cur, rows, partitions)
        report.loaded += loaded
        report.duplicates += dup
    return report


class TerminalProgress:
    """Line counts on stderr, at most twice a second, only on a terminal."""

    def __init__(self, source: str, stream=sys.stderr):
        self.source = source
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = 0.0

    def __call__(self, lines: int) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.5:
            self.stream.write(f"\r{self.source}: {lines:,} lines read")
            self.stream.flush()
            self.last = now

    def done(self) -> None:
        if self.enabled and self.last:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _unreadable(exc: OSError) -> str:
    """Why an input could not be read, in a few words."""
    if isinstance(exc, IsADirectoryError):
        return "is a directory (give the files in it, e.g. DIR/*.jsonl)"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


def ingest_files(conn_factory, paths: Iterable[str], stdin: BinaryIO | None = None, show_progress: bool = True) -> IngestReport:
    """Load each path (``-`` for stdin) in its own transaction.

    An input that cannot be opened is reported in ``unreadable`` and the others
    still load; one that fails while being read loads nothing of itself.
    """
    total = IngestReport()
    partitions = DayPartitions(conn_factory)
    for path in paths:
        progress = TerminalProgress(path) if show_progress else None
        try:
            if path == "-":
                with conn_factory() as conn:
                    report = ingest_stream(conn, stdin or sys.stdin.buffer, "<stdin>", progress, partitions=partitions)
            else:
                if os.path.isdir(path):
                    raise IsADirectoryError(path)
                with open(path, "rb") as handle, conn_factory() as conn:
                    report = ingest_stream(conn, handle, path, progress, origin=os.path.realpath(path),
                                           partitions=partitions)
        except OSError as exc:
            report = IngestReport(unreadable=[(path, _unreadable(exc))])
        finally:
            if progress:
                progress.done()
        total.add(report)
    return total
