"""Ingest: ``skillsmith ingest FILE`` against a bare ``COPY`` of the same rows, at 1×, 3× and 10× batch size.

The ceiling is what Postgres itself needs to store the rows: the rows ingest ends
up writing (ts, error, component, tags, event key), pre-rendered in COPY's text
format and copied straight into an empty ``agent_errors`` with all its indexes.
Ingest does more — parses and validates each JSON line, derives the event key,
normalizes and fingerprints the messages, skips duplicates — and the ratio says what
that costs.

At the largest batch the complete rows are also copied into ``agent_errors`` stripped of
its keys, indexes and triggers: plain storage, the most any design of the table could take
on this server through one connection (one file loads in one transaction, so in one). Both
COPYs of the complete rows are then repeated through two connections, each its own
transaction: what giving up a file's single transaction could buy.

A second reference is the COPY of the complete rows ingest stored (``norm_error``,
``kind``, ``fingerprint``, ``normalizer_version`` too, dumped from its table): rows
with fingerprints cost the server more than the bare ones (the ``(fingerprint, ts)``
index gets real keys, the count triggers aggregate them), so the gap between the two
COPYs is the server's own share, and ingest / complete COPY is what is left to ingest.

Each run gets a fresh database, so every batch lands in an empty table. The
ingest command runs as its own process under ``/usr/bin/time -v`` (as a user runs
it), which gives its peak resident memory: it should not grow with the batch.

    python -m benchmarks.ingest_bench --events 1000000
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from . import common

DB = "skillsmith_bench_ingest"
BARE_COLUMNS = "ts, error, component, tags, event_key"
COMPLETE_COLUMNS = BARE_COLUMNS + ", norm_error, kind, fingerprint, normalizer_version"
COMPLETE_STATEMENT_ROWS = 15_000  # about what one chunk of ingest (4 MiB of JSON lines) holds
PARALLEL_CONNECTIONS = 2  # the machine's cores: what a load split across transactions could use here


def _stored(url: str) -> tuple[int, str]:
    """Row count and a digest of what was stored (key, time, message, component, tags)."""
    conn = common.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("""SELECT count(*), md5(string_agg(event_key::text || ts::text || md5(error)
                                                         || coalesce(component, '') || coalesce(tags::text, ''),
                                                         ',' ORDER BY event_key))
                             FROM agent_errors""")
            return cur.fetchone()
    finally:
        conn.close()


def ingest_run(server: common.BenchServer, jsonl: Path, count: int, check: bool, stored_rows: Path | None = None) -> dict:
    """``skillsmith ingest`` of jsonl into a fresh database; with stored_rows, the rows it stored are
    written there (COPY text, in insertion order) for the complete-rows COPY."""
    target = server.fresh_database(DB)
    skillsmith = str(Path(sys.executable).with_name("skillsmith"))
    result = common.timed_command([skillsmith, "ingest", str(jsonl)], env={"SKILLSMITH_DATABASE_URL": target.url})
    loaded = None
    for line in (result["stdout"] + result["stderr"]).splitlines():
        if "loaded" in line:
            try:
                loaded = int(line.split("loaded", 1)[1].split(",")[0].strip().replace(",", ""))
            except ValueError:
                pass
    rows, stored = _stored(target.url) if check else (None, None)
    if stored_rows is not None:
        conn = common.connect(target.url)
        try:
            with conn.cursor() as cur, open(stored_rows, "wb") as out:
                cur.copy_expert(f"COPY (SELECT {COMPLETE_COLUMNS} FROM agent_errors ORDER BY id) TO STDOUT", out)
        finally:
            conn.close()
    server.drop(DB)
    return {"events": count, "seconds": result["seconds"], "eps": count / result["seconds"],
            "peak_rss_mb": result["peak_rss_mb"], "loaded": loaded, "rows": rows, "stored": stored}


def _statements(handle, rows: int):
    """The lines of handle, ``rows`` at a time."""
    while True:
        lines = list(itertools.islice(handle, rows))
        if not lines:
            return
        yield "".join(lines)


# What makes agent_errors plain storage: its keys, indexes and triggers go.
STRIP = [
    "SELECT 'ALTER TABLE agent_errors DROP CONSTRAINT ' || quote_ident(conname) FROM pg_constraint "
    "WHERE conrelid = 'agent_errors'::regclass AND contype IN ('p', 'u')",
    "SELECT 'DROP INDEX ' || quote_ident(indexname) FROM pg_indexes WHERE tablename = 'agent_errors'",
]


def _strip(conn) -> None:
    with conn.cursor() as cur:
        for query in STRIP:
            cur.execute(query)
            for (statement,) in cur.fetchall():
                cur.execute(statement)
        cur.execute("ALTER TABLE agent_errors DISABLE TRIGGER USER")
    conn.commit()


def _copy_in_parallel(conns, statements: Iterator[str], columns: str) -> None:
    """The statements shared out among the connections as each is free, each connection in one
    transaction of its own."""
    lock = threading.Lock()

    def load(conn) -> None:
        with conn.cursor() as cur:
            while True:
                with lock:
                    text = next(statements, None)
                if text is None:
                    break
                cur.copy_expert(f"COPY agent_errors ({columns}) FROM STDIN", io.StringIO(text), size=1 << 20)
        conn.commit()

    with ThreadPoolExecutor(len(conns)) as pool:
        for done in [pool.submit(load, conn) for conn in conns]:
            done.result()


def copy_run(server: common.BenchServer, rows_path: Path, count: int, check: bool, now: datetime,
             columns: str = BARE_COLUMNS, statement_rows: int | None = None, stripped: bool = False,
             connections: int = 1) -> dict:
    """COPY of rows_path into a fresh database: one statement, or one per ``statement_rows``
    rows (complete rows: the count triggers' aggregation grows faster than the rows of one
    statement, so they go in statements of about ingest's chunk). ``stripped``: into
    agent_errors without its keys, indexes and triggers, what no design of the table beats.
    ``connections`` > 1: the statements shared out among that many connections, each its own
    transaction (what loading one file in one transaction rules out)."""
    from skillsmith_assets.store.partitions import ensure_days

    target = server.fresh_database(DB)
    conn = common.connect(target.url)
    others = [common.connect(target.url) for _ in range(connections - 1)]
    try:
        # The day partitions ingest makes as it goes exist before the clock starts: the ceiling is the COPY alone.
        ensure_days(conn, [(now - timedelta(days=d)).date() for d in range(32)])
        conn.commit()
        if stripped:
            _strip(conn)
        start = time.perf_counter()
        with open(rows_path, encoding="utf-8") as handle:
            if statement_rows is None:
                with conn.cursor() as cur:
                    cur.copy_expert(f"COPY agent_errors ({columns}) FROM STDIN", handle, size=1 << 20)
                conn.commit()
            else:
                _copy_in_parallel([conn, *others], _statements(handle, statement_rows), columns)
        seconds = time.perf_counter() - start
        with conn.cursor() as cur:  # what the rows went through: a stripped table has none of it
            cur.execute("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'agent\\_errors%'")
            indexes = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
                        "AND tgrelid IN (SELECT 'agent_errors'::regclass UNION ALL "
                        "SELECT inhrelid FROM pg_inherits WHERE inhparent = 'agent_errors'::regclass)")
            triggers = cur.fetchone()[0]
    finally:
        for each in (conn, *others):
            each.close()
    rows, stored = _stored(target.url) if check else (None, None)
    server.drop(DB)
    return {"events": count, "seconds": seconds, "eps": count / seconds, "rows": rows, "stored": stored,
            "indexes": indexes, "triggers": triggers, "connections": connections}


def run(server: common.BenchServer, events: int = 1_000_000, scales: tuple[int, ...] = (1, 3, 10), seed: int = 11,
        workdir: Path | None = None, check: bool = True) -> dict:
    """Ingest and bare COPY at ``events * scale / max(scales)`` events for each scale."""
    top = max(scales)
    sizes = [max(1, events * s // top) for s in scales]
    with tempfile.TemporaryDirectory(prefix="skillsmith-bench-ingest-", dir=workdir) as tmp:
        common.log(f"ingest: generating {events:,} events")
        now = datetime.now(timezone.utc)
        generated = common.fast_events(events, seed=seed, now=now)
        runs = []
        for scale, size in zip(scales, sizes):
            jsonl, rows_path = Path(tmp) / f"events_{size}.jsonl", Path(tmp) / f"rows_{size}.copy"
            complete_path = Path(tmp) / f"complete_{size}.copy"
            common.write_jsonl(generated, jsonl, limit=size)
            common.write_copy_rows(generated, rows_path, limit=size)
            common.log(f"ingest: skillsmith ingest of {size:,} events ({scale}x)")
            ingest = ingest_run(server, jsonl, size, check, stored_rows=complete_path)
            common.log(f"ingest: bare COPY of {size:,} rows")
            copy = copy_run(server, rows_path, size, check, now)
            common.log(f"ingest: COPY of the {size:,} complete rows ingest stored")
            complete = copy_run(server, complete_path, size, check, now, columns=COMPLETE_COLUMNS,
                                statement_rows=COMPLETE_STATEMENT_ROWS)
            stripped = parallel = stripped_parallel = None
            if scale == top:
                common.log(f"ingest: COPY of the {size:,} complete rows into agent_errors without keys, indexes "
                           "or triggers")
                stripped = copy_run(server, complete_path, size, check, now, columns=COMPLETE_COLUMNS,
                                    statement_rows=COMPLETE_STATEMENT_ROWS, stripped=True)
                common.log(f"ingest: the same two COPYs of the {size:,} complete rows through "
                           f"{PARALLEL_CONNECTIONS} connections")
                parallel = copy_run(server, complete_path, size, check, now, columns=COMPLETE_COLUMNS,
                                    statement_rows=COMPLETE_STATEMENT_ROWS, connections=PARALLEL_CONNECTIONS)
                stripped_parallel = copy_run(server, complete_path, size, check, now, columns=COMPLETE_COLUMNS,
                                             statement_rows=COMPLETE_STATEMENT_ROWS, stripped=True,
                                             connections=PARALLEL_CONNECTIONS)
            runs.append({"scale": scale, "events": size, "ingest": ingest, "copy": copy, "complete_copy": complete,
                         "stripped_copy": stripped, "parallel_copy": parallel,
                         "stripped_parallel_copy": stripped_parallel,
                         "share_of_copy": copy["seconds"] / ingest["seconds"],
                         "share_of_complete_copy": complete["seconds"] / ingest["seconds"],
                         "same_rows": None if not check else ingest["stored"] == copy["stored"],
                         "jsonl_mb": jsonl.stat().st_size / 2**20})
            for path in (jsonl, rows_path, complete_path):
                path.unlink()
    return {"events": events, "runs": runs}


def table(result: dict) -> str:
    rows = []
    for run in result["runs"]:
        ingest, copy = run["ingest"], run["copy"]
        complete = run.get("complete_copy")  # absent from results saved before it was measured
        same = {True: "yes", False: "**no**", None: "not checked"}[run["same_rows"]]
        rows.append([f"{run['scale']}×", common.fmt_num(run["events"]), common.fmt_num(run["jsonl_mb"], 0),
                     common.fmt_num(ingest["seconds"], 2), common.fmt_num(ingest["eps"]),
                     common.fmt_num(copy["seconds"], 2), common.fmt_num(copy["eps"]),
                     f"{run['share_of_copy'] * 100:.0f}%",
                     common.fmt_num(complete["seconds"], 2) if complete else "–",
                     f"{run['share_of_complete_copy'] * 100:.0f}%" if complete else "–",
                     common.fmt_num(ingest["peak_rss_mb"]), same])
    return common.markdown_table(
        ["batch", "events", "JSON MiB", "ingest s", "ingest events/s", "bare COPY s", "COPY rows/s",
         "ingest / COPY speed", "complete-rows COPY s", "ingest / complete-rows COPY", "ingest peak RSS MiB",
         "same rows stored"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="the largest batch (10x)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    server = common.BenchServer()
    try:
        print(table(run(server, args.events, seed=args.seed)))
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
