"""Normalize + fingerprint: five engines on the same generated events, events per second each.

- **per-event**: ``normalize.normalize_event``, one call per event (what ``ingest_error``
  and ``skillsmith normalize`` do);
- **batch**: the batch normalizer (``skillsmith_assets.normalize.batch``), byte-identical
  to the per-event path, spread over the machine's cores: the compiled engine
  (``native_normalize``) on threads;
- **batch, pure Python**: the same without the compiled engine (``SKILLSMITH_PURE_PYTHON``):
  Python's ``re`` in worker processes, what an install without a C compiler gets;
- **SQL**: the generated functions inside Postgres (``normalize_error_message``,
  ``error_kind``, ``error_fingerprint_normalized``), as ``normalized_errors`` runs them,
  in one ``CREATE TABLE AS`` so the server may use parallel workers;
- **Drain3**: ``TemplateMiner()`` with its default configuration, the reference point.

Each Python engine runs in its own process (peak memory per engine; events are
regenerated there from the same seed, outside the timed part). The fingerprints of
every engine are compared as a digest over the same events: a speed-up that changes
a single fingerprint is a bug, not a result.

    python -m benchmarks.normalize_bench --events 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import logging
import os
import sys
import time
from datetime import datetime, timezone

from . import common

# The first of these the batch module defines is the batch path's entry point.
BATCH_ENTRY_POINTS = ("normalize_batch", "normalize_many", "normalize_events", "batch_normalize")


def digest(fingerprints) -> str:
    h = hashlib.sha256()
    for chunk in common.chunks(list(fingerprints), 100_000):
        h.update(("\n".join(str(f) for f in chunk) + "\n").encode())
    return h.hexdigest()[:16]


def _events(count: int, seed: int, now_iso: str) -> common.EventColumns:
    return common.fast_events(count, seed=seed, now=datetime.fromisoformat(now_iso))


def batch_function():
    """The batch path's public function, or None while the module does not exist."""
    try:
        module = importlib.import_module("skillsmith_assets.normalize.batch")
    except ImportError:
        return None
    for name in BATCH_ENTRY_POINTS:
        fn = getattr(module, name, None)
        if callable(fn):
            return fn
    return None


def _fingerprints_of(result) -> list[str]:
    """The fingerprint column of whatever the batch function returns (frame, mapping, list of records)."""
    if hasattr(result, "columns") and "fingerprint" in result.columns:  # a DataFrame
        return [str(f) for f in result["fingerprint"].tolist()]
    if isinstance(result, dict):
        return [str(f) for f in result["fingerprint"]]
    if hasattr(result, "fingerprint"):  # a columnar object
        return [str(f) for f in result.fingerprint]
    return [str(getattr(r, "fingerprint", None) or r["fingerprint"]) for r in result]


def per_event_child(count: int, seed: int, now_iso: str) -> dict:
    from skillsmith_assets.normalize.message import normalize_event

    events = _events(count, seed, now_iso)
    start = time.perf_counter()
    fps = [normalize_event(m, c).fingerprint for m, c in zip(events.error, events.component)]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "events": count, "digest": digest(fps), "groups": len(set(fps))}


def batch_child(count: int, seed: int, now_iso: str) -> dict:
    fn = batch_function()
    events = _events(count, seed, now_iso)
    start = time.perf_counter()
    result = fn(events.error, events.component)
    seconds = time.perf_counter() - start
    fps = _fingerprints_of(result)
    return {"seconds": seconds, "events": count, "digest": digest(fps), "groups": len(set(fps)),
            "entry_point": f"batch_normalize.{fn.__name__}"}


def batch_python_child(count: int, seed: int, now_iso: str) -> dict:
    os.environ["SKILLSMITH_PURE_PYTHON"] = "1"
    from skillsmith_assets.normalize import native as native_normalize

    native_normalize.engine.cache_clear()
    return batch_child(count, seed, now_iso)


def drain3_child(count: int, seed: int, now_iso: str) -> dict:
    from drain3 import TemplateMiner

    logging.getLogger("drain3").setLevel(logging.ERROR)
    events = _events(count, seed, now_iso)
    miner = TemplateMiner()
    add = miner.add_log_message
    start = time.perf_counter()
    for message in events.error:
        add(message)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "events": count, "digest": None, "groups": len(miner.drain.clusters)}


def sql_path(server: common.BenchServer, count: int, seed: int, now_iso: str) -> dict:
    """Load the events into a table (untimed), then time the SQL functions over all of them."""
    target = server.fresh_database("skillsmith_bench_normalize")
    events = _events(count, seed, now_iso)
    conn = common.connect(target.url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE UNLOGGED TABLE bench_events (id bigint, error text, component text)")
            for offset in range(0, count, 200_000):
                buffer = io.StringIO()
                for i in range(offset, min(offset + 200_000, count)):
                    buffer.write(f"{i}\t{common.copy_text(events.error[i])}\t{events.component[i]}\n")
                buffer.seek(0)
                cur.copy_expert("COPY bench_events (id, error, component) FROM STDIN", buffer)
            cur.execute("VACUUM ANALYZE bench_events")
            query = """SELECT id, error_fingerprint_normalized(error_kind(norm), component, norm) AS fp
                         FROM (SELECT id, component, normalize_error_message(error) AS norm FROM bench_events) n"""
            cur.execute("EXPLAIN " + query)
            plan = "\n".join(row[0] for row in cur.fetchall())
            start = time.perf_counter()
            cur.execute("CREATE UNLOGGED TABLE bench_fingerprints AS " + query)
            seconds = time.perf_counter() - start
            cur.execute("SELECT fp::text FROM bench_fingerprints ORDER BY id")
            fps = [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
        server.drop("skillsmith_bench_normalize")
    workers = 0
    for line in plan.splitlines():
        if "Workers Planned" in line:
            workers = int(line.split(":")[-1])
    return {"seconds": seconds, "events": count, "digest": digest(fps), "groups": len(set(fps)),
            "parallel_workers": workers}


def run(server: common.BenchServer, events: int = 1_000_000, slow_events: int | None = None, seed: int = 11,
        paths: tuple[str, ...] = ("per-event", "batch", "batch-python", "sql", "drain3")) -> dict:
    """Every engine's events/s and its ratio to Drain3; ``slow_events`` caps the per-event and SQL paths.

    The SQL engine manages hundreds of events a second; on the first ``slow_events``
    of the same events its rate (and the per-event path's) is the same as on all of
    them, and their digests are compared with the batch path's over those same events.
    """
    now_iso = datetime.now(timezone.utc).isoformat()
    slow = min(slow_events or events, events)
    rows: dict[str, dict] = {}
    if "drain3" in paths:
        common.log(f"normalize: Drain3 default on {events:,} events")
        result, _, rss = common.in_child(drain3_child, events, seed, now_iso)
        rows["drain3"] = {**result, "peak_rss_mb": rss}
    if "batch" in paths:
        if batch_function() is None:
            rows["batch"] = {"missing": "skillsmith_assets.normalize.batch has no batch entry point yet"}
        else:
            common.log(f"normalize: batch path on {events:,} events")
            result, _, rss = common.in_child(batch_child, events, seed, now_iso)
            rows["batch"] = {**result, "peak_rss_mb": rss}
            if slow < events:  # the digest the slow paths must match: the batch path over their events
                check, _, _ = common.in_child(batch_child, slow, seed, now_iso)
                rows["batch"]["digest_at_slow"] = check["digest"]
    if "batch-python" in paths and batch_function() is not None:
        common.log(f"normalize: batch path without the compiled engine on {events:,} events")
        result, _, rss = common.in_child(batch_python_child, events, seed, now_iso)
        rows["batch-python"] = {**result, "peak_rss_mb": rss}
    if "per-event" in paths:
        common.log(f"normalize: per-event path on {slow:,} events")
        result, _, rss = common.in_child(per_event_child, slow, seed, now_iso)
        rows["per-event"] = {**result, "peak_rss_mb": rss}
    if "sql" in paths:
        common.log(f"normalize: SQL functions on {slow:,} events")
        rows["sql"] = {**sql_path(server, slow, seed, now_iso), "peak_rss_mb": None}
    for row in rows.values():
        if "seconds" in row:
            row["eps"] = row["events"] / row["seconds"] if row["seconds"] else None
    drain_eps = rows.get("drain3", {}).get("eps")
    for row in rows.values():
        row["vs_drain3"] = row["eps"] / drain_eps if drain_eps and row.get("eps") else None
    return {"events": events, "slow_events": slow, "seed": seed, "paths": rows, "consistent": consistency(rows)}


def consistency(rows: dict[str, dict]) -> dict:
    """Whether the engines that fingerprint agree, each compared over the events it saw."""
    out = {}
    reference = {}
    if "batch" in rows and rows["batch"].get("digest"):
        reference[rows["batch"]["events"]] = rows["batch"]["digest"]
        if rows["batch"].get("digest_at_slow"):
            reference.setdefault(-1, rows["batch"]["digest_at_slow"])
    for name in ("batch-python", "per-event", "sql"):
        row = rows.get(name)
        if not row or not row.get("digest"):
            continue
        ref = reference.get(row["events"]) or reference.get(-1)
        if ref is None and name == "sql" and rows.get("per-event", {}).get("events") == row["events"]:
            ref = rows["per-event"]["digest"]
        out[name] = None if ref is None else row["digest"] == ref
    return out


LABELS = {"per-event": "per-event (`normalize_event`)", "batch": "batch (`batch_normalize`)",
          "batch-python": "batch, pure Python (`SKILLSMITH_PURE_PYTHON=1`)",
          "sql": "SQL functions in Postgres", "drain3": "Drain3 default `TemplateMiner`"}


def table(result: dict) -> str:
    rows = []
    for name in ("batch", "batch-python", "per-event", "sql", "drain3"):
        row = result["paths"].get(name)
        if row is None:
            continue
        if "missing" in row:
            rows.append([LABELS[name], "—", "—", "—", "—", "—", row["missing"]])
            continue
        same = result["consistent"].get(name)
        note = {True: "same fingerprints as batch", False: "**fingerprints differ**", None: ""}[same]
        if name == "sql" and row.get("parallel_workers"):
            note = (note + "; " if note else "") + f"parallel workers planned: {row['parallel_workers']}"
        if name == "drain3":
            note = f"{row['groups']:,} clusters"
        elif name == "batch":
            note = f"{row['groups']:,} fingerprints"
        rows.append([LABELS[name], common.fmt_num(row["events"]), common.fmt_num(row["seconds"], 2),
                     common.fmt_num(row["eps"]), common.fmt_ratio(row["vs_drain3"]),
                     common.fmt_num(row["peak_rss_mb"]), note])
    return common.markdown_table(
        ["engine", "events", "seconds", "events/s", "vs Drain3", "peak RSS MiB", "notes"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.normalize_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--slow-events", type=int, default=None,
                        help="cap for the per-event and SQL paths (default: all events)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    server = common.BenchServer()
    try:
        print(table(run(server, args.events, args.slow_events, args.seed)))
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
