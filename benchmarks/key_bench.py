"""The idempotency key's cost as history grows: a key unique over the whole history against one
unique within its day's partition (what ``agent_errors`` uses).

Two tables hold only what the key needs (``ts``, ``event_key``) with the same history (random
keys over 30 days, like event keys), one unpartitioned with ``UNIQUE (event_key)``, one
partitioned by day with ``UNIQUE (event_key, ts)``. Then the same new rows (the last six
hours, new random keys) are copied into each: with a global key every row is a random insert
into an index the size of the history; with the day's key, into an index the size of a day.

    python -m benchmarks.key_bench --history 10000000 --new 250000
"""

from __future__ import annotations

import argparse
import io
import time
import uuid
from datetime import datetime, timedelta, timezone

from . import common

DB = "skillsmith_bench_keys"

_GLOBAL = """
CREATE TABLE keys_global (ts timestamptz NOT NULL, event_key uuid NOT NULL);
"""
_DAILY = """
CREATE TABLE keys_daily (ts timestamptz NOT NULL, event_key uuid NOT NULL) PARTITION BY RANGE (ts);
"""


def _fill(cur, table: str, history: int, start: datetime, span: timedelta) -> None:
    cur.execute(f"""INSERT INTO {table} (ts, event_key)
                    SELECT %s::timestamptz + %s::interval * (g::float8 / %s), gen_random_uuid()
                      FROM generate_series(1, %s) g""", (start, span, history, history))


def _new_rows(count: int, now: datetime) -> str:
    return "".join(f"{(now - timedelta(seconds=i * 21600 / count)).isoformat()}\t{uuid.uuid4()}\n"
                   for i in range(count))


def measure(server: common.BenchServer, history: int, new: int, now: datetime) -> dict:
    """Seconds to COPY ``new`` rows into each table holding ``history`` rows."""
    rows = _new_rows(new, now)
    start, span = now - timedelta(days=30), timedelta(days=30) - timedelta(hours=6)
    out = {"history": history, "new": new}
    for name, ddl, index in (
        ("global", _GLOBAL, "CREATE UNIQUE INDEX ON keys_global (event_key)"),
        ("daily", _DAILY, "CREATE UNIQUE INDEX ON keys_daily (event_key, ts)"),
    ):
        target = server.fresh_database(DB, schema=False)
        conn = common.connect(target.url)
        try:
            with conn.cursor() as cur:
                cur.execute(ddl)
                if name == "daily":
                    for d in range(32):
                        day = (now - timedelta(days=d)).date()
                        lo = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
                        cur.execute(f"CREATE TABLE keys_daily_{day:%Y%m%d} PARTITION OF keys_daily "
                                    "FOR VALUES FROM (%s) TO (%s)", (lo, lo + timedelta(days=1)))
                cur.execute("SET maintenance_work_mem = '512MB'")
                _fill(cur, f"keys_{name}", history, start, span)
                cur.execute(index)  # built in bulk after the history, as a store grown over time has it
            conn.commit()
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"VACUUM ANALYZE keys_{name}")
            conn.autocommit = False
            began = time.perf_counter()
            with conn.cursor() as cur:
                cur.copy_expert(f"COPY keys_{name} (ts, event_key) FROM STDIN", io.StringIO(rows))
            conn.commit()
            out[name] = time.perf_counter() - began
            with conn.cursor() as cur:  # every new row went in: no key met an old one
                cur.execute(f"SELECT count(*) FROM keys_{name}")
                out[f"{name}_rows"] = cur.fetchone()[0]
        finally:
            conn.close()
            server.drop(DB)
    out["ratio"] = out["global"] / out["daily"]
    return out


def run(server: common.BenchServer, history: int, new: int, scales: tuple[int, ...] = (1, 3, 10)) -> dict:
    top = max(scales)
    now = datetime.now(timezone.utc)
    runs = []
    for scale in scales:
        size = max(1, history * scale // top)
        common.log(f"keys: {new:,} new rows into {size:,} rows of history, global key and day key")
        runs.append(measure(server, size, new, now))
    return {"runs": runs}


def table(result: dict) -> str:
    rows = [[common.fmt_num(r["history"]), common.fmt_num(r["new"]),
             common.fmt_num(r["global"] * 1e6 / r["new"], 1), common.fmt_num(r["daily"] * 1e6 / r["new"], 1),
             common.fmt_ratio(r["ratio"])] for r in result["runs"]]
    return common.markdown_table(["history rows", "new rows", "global key µs/row", "day key µs/row",
                                  "global / day"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=10_000_000)
    parser.add_argument("--new", type=int, default=250_000)
    parser.add_argument("--scales", default="1,3,10")
    args = parser.parse_args(argv)
    server = common.BenchServer()
    try:
        print(table(run(server, args.history, args.new, tuple(int(s) for s in args.scales.split(",")))))
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
