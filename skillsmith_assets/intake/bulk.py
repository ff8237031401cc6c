"""Bulk load of JSON-lines events into ``agent_errors`` through COPY.

Rows are stored complete: each chunk of events goes through the batch
normalizer first (``norm_error``, ``kind``, ``fingerprint``, ``normalizer_version``
filled), as the collector does for one event, so mining never rewrites them.

Each file loads in one transaction: a crash leaves none of it behind, and
re-loading adds nothing (rows are keyed by ``events.Event.key``: the event's own
id, else the file and line it came from). A bad line is reported with its number
and skipped; the rest of the file goes on.

The per-line work (parse, validate, key, render the COPY row) is the compiled
scanner's (``_jsonl.ingest_scan``); a line it is not certain about, and every line
when the extension is not built, goes through ``events.parse_line``, and both give
the same rows. Chunks go straight into ``agent_errors`` with COPY in a savepoint;
a chunk that meets a stored key (a re-load) is rolled back, and it and the rest of
the stream go through a staging table and ``ON CONFLICT DO NOTHING``.

The key is checked within the event's day (``(event_key, ts)``, one partition's
index). An event without a time is stamped with the transaction's ``now()`` the first
time it is stored, and the stamp is kept under its key (``agent_error_stamps``); a
chunk holding such events goes through the staging table, where those rows (the ones
whose ts is ``now()``) take their earlier stamp, so loading them again adds nothing.
"""

from __future__ import annotations

import io
import itertools
import os
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import BinaryIO, Callable, Iterable, Iterator

from skillsmith_assets.intake.events import Event, RejectedEvent, parse_line
from skillsmith_assets.store.partitions import DayPartitions

# What one chunk reads, at least (a longer line makes a longer chunk): one COPY statement in
# one savepoint, one run of the count triggers, one normalization call over its distinct
# messages. 4 MiB is ~15k events; peak memory is a few chunks' buffers (8 MiB measured
# ~30 MiB more, for no speed that showed through the machine's noise). A file over ~256 MiB
# takes more than the 64 subtransactions a backend lists in shared memory: while it loads,
# other sessions' snapshots look the rest up in pg_subtrans.
CHUNK_BYTES = 4 << 20

# Every statement ingest sends, in one place. Rows go in COPY's binary format (the server
# parses no timestamps, UUIDs or array literals). The column order puts what depends on
# the (message, component) pair last, so the compiled scanner renders the start of each
# row and one shared piece per pair ends it.
_COLUMNS = "ts, error, tags, event_key, component, norm_error, kind, fingerprint, normalizer_version"
SQL = {
    # the transaction's now(), as the ts of events without one (what the seed's default gives)
    "now": "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
    "copy": f"COPY agent_errors ({_COLUMNS}) FROM STDIN WITH (FORMAT binary)",
    "utf8": "SET LOCAL client_encoding = 'UTF8'",  # the rows' text is UTF-8 whatever the session had
    "savepoint": "SAVEPOINT skillsmith_ingest_chunk",
    "release": "RELEASE SAVEPOINT skillsmith_ingest_chunk",
    "rollback": "ROLLBACK TO SAVEPOINT skillsmith_ingest_chunk",
    "staging": """
CREATE TEMP TABLE IF NOT EXISTS skillsmith_ingest_staging (
    ts timestamptz, error text, tags text[], event_key uuid, component text,
    norm_error text, kind text, fingerprint uuid, normalizer_version integer,
    seq bigint GENERATED ALWAYS AS IDENTITY  -- the input's order, which the ids follow
) ON COMMIT DELETE ROWS""",
    "copy_staging": f"COPY skillsmith_ingest_staging ({_COLUMNS}) FROM STDIN WITH (FORMAT binary)",
    # Rows stamped now() (no time of their own) take the stamp of their first load, if any.
    "stamp": """
INSERT INTO agent_error_stamps (event_key, ts)
SELECT event_key, ts FROM skillsmith_ingest_staging WHERE ts = now()
ON CONFLICT (event_key) DO NOTHING;
UPDATE skillsmith_ingest_staging s SET ts = st.ts FROM agent_error_stamps st
 WHERE s.ts = now() AND st.event_key = s.event_key AND st.ts <> s.ts""",
    # No conflict target: the key is (event_key) on a store made before partitioning, (event_key, ts) after.
    "merge": f"INSERT INTO agent_errors ({_COLUMNS}) SELECT {_COLUMNS} FROM skillsmith_ingest_staging "
             "ORDER BY seq ON CONFLICT DO NOTHING",
    "truncate": "TRUNCATE skillsmith_ingest_staging",
}


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


# COPY's binary format: a header, rows (a field count, then each field's length and bytes,
# big-endian; length -1 for NULL), a trailer.
_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
_TEXT_OID = 25


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def _uuid(text: str) -> bytes:
    return b"\x00\x00\x00\x10" + bytes.fromhex(text.replace("-", ""))


def pg_time(ts: datetime) -> int:
    """timestamptz's binary form: microseconds since 2000-01-01 UTC."""
    return (ts - _PG_EPOCH) // timedelta(microseconds=1)


def row_start(event: Event, now: int) -> bytes:
    """The start of an event's row in COPY's binary format: the field count, then ts (``now``
    when it has none), error, tags (array_send's form), event key."""
    if event.tags is None:
        tags = _NULL
    else:
        dims = struct.pack(">ii", len(event.tags), 1) if event.tags else b""
        body = struct.pack(">iii", 1 if event.tags else 0, 0, _TEXT_OID) + dims + b"".join(map(_text, event.tags))
        tags = len(body).to_bytes(4, "big") + body
    ts = pg_time(event.ts) if event.ts else now
    return struct.pack(">hiq", 9, 8, ts) + _text(event.error) + tags + _uuid(event.key)


def _utc_day(ts: datetime) -> date:
    return ts.astimezone(timezone.utc).date()


# --- chunks -----------------------------------------------------------------------------------

@dataclass
class Chunk:
    """One chunk of a stream, ready to store: its COPY rows and what storing them needs."""

    parts: Callable[[], Iterator[bytes]]  # the COPY data (binary format), in pieces; callable again for a retry
    rows: int
    days: set[date]  # UTC dates of the rows' ts (events without ts count as today's: now())
    last_line: int
    stamped: bool = False  # some row has no ts of its own (it carries the transaction's now())


def _blocks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    """The stream in blocks of whole lines (split after b"\\n"; the last may lack it)."""
    tail = b""
    while True:
        data = stream.read(size)
        if not data:
            if tail:
                yield tail
            return
        cut = data.rfind(b"\n")
        if cut < 0:
            tail += data
            continue
        yield tail + data[:cut + 1]
        tail = data[cut + 1:]


def _pieces(messages: list[str], pairs: Iterable[tuple[int, str | None]]) -> list[bytes]:
    """The end of the COPY row of each (message index, component) pair: component, norm_error,
    kind, fingerprint, normalizer_version; each distinct message normalized once."""
    from skillsmith_assets.normalize.batch import default_workers, normalize_indexed
    from skillsmith_assets.normalize.message import fingerprint_normalized
    from skillsmith_assets.normalize.rules import RULES_VERSION

    # one core fewer than the machine has: the server's backend is storing the previous chunk
    result_of, results = normalize_indexed(messages, max(1, default_workers() - 1))
    shared: dict[tuple[int, str | None], bytes] = {}
    out = []
    for message, component in pairs:
        key = (result_of[message], component)
        piece = shared.get(key)
        if piece is None:
            norm, kind = results[key[0]]
            fp = fingerprint_normalized(kind, component, norm)
            piece = shared[key] = ((_text(component) if component is not None else _NULL) + _text(norm) + _text(kind)
                                   + _uuid(fp) + struct.pack(">ii", 4, RULES_VERSION))
        out.append(piece)
    return out


def _parse(data: bytes, start: int, stop: int, number: int, origin: str, source: str,
           report: IngestReport) -> Event | None:
    try:
        return parse_line(data[start:stop], f"{origin}:{number}")
    except RejectedEvent as exc:
        report.rejected.append(Rejection(source, number, str(exc)))
        return None


def _scanned_chunks(stream, source, origin, now, today, report, scanner) -> Iterator[Chunk]:
    """Chunks read by the compiled scanner; the lines it declines go to events.parse_line."""
    import json

    origin_json = json.dumps(origin, ensure_ascii=False)[:-1].encode("utf-8")
    number = 1
    for data in _blocks(stream, CHUNK_BYTES):
        (messages, pair_message, pair_component, _, records, slow, rows, days, stamped,
         lines) = scanner.ingest_scan(data, origin_json, now, number)
        number += lines
        day_set = {date.fromordinal(_EPOCH + d) for d in set(days)}
        if stamped:
            day_set.add(today)
        events = []
        for line, start, stop in slow:
            event = _parse(data, start, stop, line, origin, source, report)
            events.append(event)
            if event is not None:
                day_set.add(_utc_day(event.ts) if event.ts else today)
        extra = [e for e in events if e is not None]
        first_extra = len(messages)
        pieces = _pieces(messages + [e.error for e in extra],
                         [*zip(pair_message, pair_component),
                          *((first_extra + i, e.component) for i, e in enumerate(extra))])
        literals, taken = [], iter(pieces[len(pair_message):])
        for event in events:
            literals.append(b"" if event is None else row_start(event, now) + next(taken))
        pair_pieces = pieces[:len(pair_message)]
        count = len(records) // 24 - (len(events) - len(extra))

        def parts(rows=rows, records=records, pair_pieces=pair_pieces, literals=literals):
            return itertools.chain((_HEADER,), scanner.splice(rows, records, pair_pieces, literals, size=1 << 18),
                                   (_TRAILER,))

        del data, rows, messages  # not kept while the chunk is stored and the next one read
        yield Chunk(parts, count, day_set, number - 1, bool(stamped) or any(e.ts is None for e in extra))


_EPOCH = date(1970, 1, 1).toordinal()


def _python_chunks(stream, source, origin, now, today, report) -> Iterator[Chunk]:
    """The same chunks from the json module alone (the extension is optional)."""
    number = 0
    for data in _blocks(stream, CHUNK_BYTES):
        events = []
        for line in io.BytesIO(data):
            number += 1
            if line.strip():
                event = _parse(line, 0, len(line), number, origin, source, report)
                if event is not None:
                    events.append(event)
        if not events:
            continue
        distinct = {m: i for i, m in enumerate(dict.fromkeys(e.error for e in events))}
        pieces = _pieces(list(distinct), ((distinct[e.error], e.component) for e in events))
        text = b"".join(itertools.chain((_HEADER,), (row_start(e, now) + p for e, p in zip(events, pieces)), (_TRAILER,)))
        days = {_utc_day(e.ts) if e.ts else today for e in events}
        yield Chunk(lambda text=text: iter((text,)), len(events), days, number, any(e.ts is None for e in events))


def _scanner():
    from skillsmith_assets.intake.scanner import load_scanner

    scanner = load_scanner()
    return scanner if scanner is not None and hasattr(scanner, "ingest_scan") else None


# --- storing ----------------------------------------------------------------------------------

class _Reader:
    """A file for copy_expert over an iterator of bytes."""

    def __init__(self, parts: Iterator[bytes]):
        self.parts = parts

    def read(self, size: int = -1) -> bytes:
        for part in self.parts:
            if part:
                return part
        return b""


class _Store:
    """Stores chunks on a thread of its own, one at a time, while the next one is prepared
    (the scanner and the normalizer let go of the GIL, and psycopg2 does while it waits)."""

    def __init__(self, cur, partitions: DayPartitions | None = None):
        self.cur = cur
        self.partitions = partitions
        if cur.connection.encoding not in ("UTF8", "UNICODE"):
            cur.execute(SQL["utf8"])
        self.direct = True  # COPY straight into agent_errors until a chunk holds a key already there
        self.staging = False
        self.loaded = self.duplicates = 0
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def now(self) -> tuple[int, date]:
        """The transaction's now(), for events without ts (pg_time), and its UTC date."""
        self.cur.execute(SQL["now"])
        now = datetime.fromisoformat(self.cur.fetchone()[0] + "+00:00")
        return pg_time(now), now.date()

    def put(self, chunk: Chunk) -> None:
        self.wait()
        self.thread = threading.Thread(target=self._run, args=(chunk,), name="skillsmith-ingest-store", daemon=True)
        self.thread.start()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _run(self, chunk: Chunk) -> None:
        try:
            self.store(chunk)
        except BaseException as exc:  # raised again in the caller's thread
            self.error = exc

    def store(self, chunk: Chunk) -> None:
        """One chunk: COPY straight into agent_errors inside a savepoint (a first load, the
        common case); when a key is already there, that chunk and the rest of the stream go
        through the staging table and ON CONFLICT DO NOTHING."""
        from psycopg2.errors import UniqueViolation

        cur = self.cur
        if self.partitions is not None:
            self.partitions.ensure(chunk.days)
        if self.direct and not chunk.stamped:
            cur.execute(SQL["savepoint"])
            try:
                cur.copy_expert(SQL["copy"], _Reader(chunk.parts()), size=1 << 18)
            except UniqueViolation:
                cur.execute(SQL["rollback"])
                cur.execute(SQL["release"])
                self.direct = False
            else:
                cur.execute(SQL["release"])
                self.loaded += chunk.rows
                return
        if not self.staging:
            cur.execute(SQL["staging"])
            cur.execute(SQL["truncate"])
            self.staging = True
        cur.copy_expert(SQL["copy_staging"], _Reader(chunk.parts()), size=1 << 18)
        if chunk.stamped:
            cur.execute(SQL["stamp"])
        cur.execute(SQL["merge"])
        inserted = cur.rowcount
        cur.execute(SQL["truncate"])
        self.loaded += inserted
        self.duplicates += chunk.rows - inserted


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
    with conn.cursor() as cur:
        store = _Store(cur, partitions)
        now, today = store.now()
        scanner = _scanner()
        if scanner is not None:
            try:
                origin.encode("utf-8")
            except UnicodeEncodeError:  # a name that is not Unicode: the json module's path says so
                scanner = None
        chunks = (_scanned_chunks(stream, source, origin, now, today, report, scanner) if scanner
                  else _python_chunks(stream, source, origin, now, today, report))
        try:
            for chunk in chunks:
                store.put(chunk)
                if progress:
                    progress(chunk.last_line)
        finally:
            store.wait()  # never leave the connection to a thread still using it
    report.loaded, report.duplicates = store.loaded, store.duplicates
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
