"""Mining at scale: one 6-hourly tick over 30 days of history, against recomputing the window from every row.

The history is what earlier ticks left behind: 30 days of ``agent_errors`` rows,
already normalized, with their per-day counts in ``error_daily_counts``. It is
generated inside Postgres (``generate_series`` over a table of message variants
whose norm/kind/fingerprint come from the project's own normalizer), because the
tick's cost is what is measured, not the loading. The counts are written by
``rollup.count_day`` (the repair recount), so no change is pending.

Then the last six hours arrive: ``--tick-events`` events, stored as ingest stores
them (normalized; the table's triggers record their count deltas). The tick is exactly what the schedule ``mining_every_6_hours`` launches — its
RunRequest (yesterday's and today's partitions) materializing ``MINING_ASSETS``:
raw_errors → normalized_errors → error_signatures → error_candidates →
skill_proposals. It runs in its own process (its peak memory is the tick's), on a Dagster
instance whose storage is production's (deploy/dagster.yaml: Postgres, in a database of its own
on the same server).

The alternative is the full recompute: a materialized view over ``agent_errors`` with the
columns error_signatures keeps (7- and 30-day hits, first/last seen and the union of tags per
fingerprint), refreshed, which reads the whole window every time; beside it the same view
without the tags.

Scaling: the history grows 1×, 3×, 10× (the new events stay the same); the tick
should stay nearly flat while the refresh grows with the window. Each history is a
database of its own, and the ticks take turns over them (1×, 3×, 10×, then again), so a
slow phase of the machine weighs on every size alike instead of on the size it came in. The incremental
result is checked against the full recompute: every fingerprint's 30-day hits and tags in
``error_signatures`` equal the view's.

    python -m benchmarks.mining_bench --history 10000000 --tick-events 83333
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from . import common

DB = "skillsmith_bench_mining"
DAGSTER_DB = "skillsmith_bench_dagster"  # the Dagster instance's own storage, as in production
SLOTS = 100_000  # resolution of the pick-a-variant table
EXTRA_TAIL_SHARE = 0.05  # share of events spread over the extra one-off variants

# The full recompute: the seed's signature columns (hits, first/last seen and the union of tags
# per fingerprint, the columns error_signatures keeps) from every row of the window, in one scan:
# the rows are grouped with their tags (a fingerprint has few distinct tag sets), then the groups
# are rolled up (unnesting every row's tags instead costs several times as much).
SEED_VIEW = """
CREATE MATERIALIZED VIEW bench_seed_signatures AS
WITH g AS (SELECT fingerprint, component, kind, norm_error, tags,
                  count(*) FILTER (WHERE ts > now() - interval '7 days') AS hits_7d,
                  count(*) AS hits_30d, min(ts) AS first_seen, max(ts) AS last_seen
             FROM agent_errors WHERE ts > now() - interval '30 days'
            GROUP BY fingerprint, component, kind, norm_error, tags),
s AS (SELECT fingerprint, component, kind, norm_error, sum(hits_7d) AS hits_7d, sum(hits_30d) AS hits_30d,
             min(first_seen) AS first_seen, max(last_seen) AS last_seen
        FROM g GROUP BY fingerprint, component, kind, norm_error),
t AS (SELECT fingerprint, array_agg(DISTINCT tag ORDER BY tag) AS tags FROM g, unnest(g.tags) AS tag
       GROUP BY fingerprint)
SELECT s.*, coalesce(t.tags, '{}') AS tags FROM s LEFT JOIN t USING (fingerprint)
WITH NO DATA
"""

# The same without the tags: hits and first/last seen alone, a cheaper recompute that does less
# than the tick (reported beside it).
COUNTS_VIEW = """
CREATE MATERIALIZED VIEW bench_seed_counts AS
SELECT fingerprint, component, kind, norm_error,
       count(*) FILTER (WHERE ts > now() - interval '7 days') AS hits_7d,
       count(*) AS hits_30d,
       min(ts) AS first_seen, max(ts) AS last_seen
  FROM agent_errors
 WHERE ts > now() - interval '30 days'
 GROUP BY fingerprint, component, kind, norm_error
WITH NO DATA
"""

LETTERS = "ghjkmnpqrstvwxyz"  # no hex digits: a variant's key must read as a word, never as an id


def _word(n: int, length: int = 5) -> str:
    out = []
    for _ in range(length):
        n, r = divmod(n, len(LETTERS))
        out.append(LETTERS[r])
    return "".join(out)


def variants(fingerprints: int, seed: int, now: datetime) -> list[dict]:
    """Distinct messages with their normalized form and weight: the generator's mix plus one-offs.

    ``fingerprints`` is the size of the fingerprint universe of the window; the
    generator's own mix supplies a few hundred, the rest are one-off lookups that
    differ in a quoted key (kept by normalization: it names the bug).
    """
    from skillsmith_assets.normalize.batch import normalize_batch

    sample = common.fast_events(20_000, seed=seed, now=now)
    norms = normalize_batch(sample.error, sample.component)
    by_fp: dict[str, dict] = {}
    for message, component, tags, n in zip(sample.error, sample.component, sample.tags, norms):
        entry = by_fp.get(n.fingerprint)
        if entry is None:
            by_fp[n.fingerprint] = {"error": message, "component": component, "tags": tags, "norm": n.norm_error,
                                    "kind": n.kind, "fp": n.fingerprint, "weight": 1.0}
        else:
            entry["weight"] += 1
    base = list(by_fp.values())
    extra_count = max(0, fingerprints - len(base))
    extra_messages = [f"LookupError: no record for key '{_word(i)}' in step {_word(i * 7 + 3, 3)}"
                      for i in range(extra_count)]
    extra = []
    if extra_count:
        norms = normalize_batch(extra_messages, ["agent.lookup"] * extra_count)
        total = sum(v["weight"] for v in base)
        each = total * EXTRA_TAIL_SHARE / (1 - EXTRA_TAIL_SHARE) / extra_count
        for message, n in zip(extra_messages, norms):
            extra.append({"error": message, "component": "agent.lookup", "tags": ["agent", "lookup"],
                          "norm": n.norm_error, "kind": n.kind, "fp": n.fingerprint, "weight": each})
    return base + extra


def load_variants(conn, rows: list[dict]) -> int:
    """Store the variants and the slot table that picks one by weight; returns the number of slots."""
    import io

    from skillsmith_assets.intake.bulk import copy_text

    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_variants, bench_slots")
        cur.execute("CREATE TABLE bench_variants (vid int PRIMARY KEY, error text, component text, tags text[], "
                    "norm text, kind text, fp uuid)")
        cur.execute("CREATE TABLE bench_slots (slot int PRIMARY KEY, vid int)")
        buffer = io.StringIO()
        for vid, v in enumerate(rows):
            tags = "{" + ",".join(v["tags"]) + "}"
            buffer.write(f"{vid}\t{copy_text(v['error'])}\t{v['component']}\t{tags}\t{copy_text(v['norm'])}\t"
                         f"{v['kind']}\t{v['fp']}\n")
        buffer.seek(0)
        cur.copy_expert("COPY bench_variants FROM STDIN", buffer)
        total = sum(v["weight"] for v in rows)
        slots, edge, acc = [], 0, 0.0
        for vid, v in enumerate(rows):  # cumulative weights → slot ranges, at least one slot each
            acc += v["weight"]
            upto = max(edge + 1, round(acc / total * SLOTS))
            slots.extend(f"{s}\t{vid}\n" for s in range(edge, upto))
            edge = upto
        cur.copy_expert("COPY bench_slots FROM STDIN", io.StringIO("".join(slots)))
        cur.execute("ANALYZE bench_variants; ANALYZE bench_slots")
    conn.commit()
    return len(slots)


def _secondary_indexes(cur) -> list[tuple[str, str]]:
    cur.execute("""SELECT i.indexname, i.indexdef FROM pg_indexes i
                    WHERE i.tablename = 'agent_errors' AND i.indexname <> 'agent_errors_pkey' ORDER BY 1""")
    return cur.fetchall()


def partitions_fully_indexed(conn) -> bool:
    """Whether every day partition has each of agent_errors' indexes (a bulk load drops and remakes them)."""
    with conn.cursor() as cur:
        cur.execute("""SELECT count(*) FROM pg_partition_tree('agent_errors'::regclass) p
                        WHERE p.isleaf AND (SELECT count(*) FROM pg_index WHERE indrelid = p.relid)
                              <> (SELECT count(*) FROM pg_index WHERE indrelid = 'agent_errors'::regclass)""")
        return cur.fetchone()[0] == 0


def add_history(conn, lo: int, hi: int, start: datetime, end: datetime, slots: int) -> None:
    """Rows lo..hi of the history, spread evenly over [start, end), normalized as earlier ticks left them.

    The secondary indexes are dropped and rebuilt around the load (a bulk load is
    faster that way); they come back with their definitions unchanged.
    """
    from skillsmith_assets.mining.steps import days_between
    from skillsmith_assets.normalize.rules import RULES_VERSION
    from skillsmith_assets.store.partitions import ensure_days

    ensure_days(conn, days_between(start, end))
    with conn.cursor() as cur:
        # As earlier ticks left them: counted, with no deltas pending (count_days recounts the days).
        cur.execute("ALTER TABLE agent_errors DISABLE TRIGGER USER")
        indexes = _secondary_indexes(cur)
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute(
            """
            INSERT INTO agent_errors (ts, error, component, tags, norm_error, kind, fingerprint,
                                      normalizer_version, event_key)
            SELECT %(start)s::timestamptz + %(span)s::interval * ((g - %(lo)s)::float8 / %(n)s),
                   v.error, v.component, v.tags, v.norm, v.kind, v.fp, %(version)s,
                   md5('bench-history-' || g)::uuid
              FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
              JOIN bench_slots s ON s.slot = (hashint8(g) & 2147483647) %% %(slots)s
              JOIN bench_variants v ON v.vid = s.vid
             ORDER BY g
            """,
            {"start": start, "span": end - start, "lo": lo, "hi": hi, "n": hi - lo + 1, "slots": slots,
             "version": RULES_VERSION},
        )
        for _, definition in indexes:
            # a partitioned table's index is defined "ON ONLY" the parent: recreated as such it
            # would reach no partition, so it is made again for the whole table
            cur.execute(definition.replace(" ON ONLY ", " ON "))
        cur.execute("ALTER TABLE agent_errors ENABLE TRIGGER USER")
    conn.commit()


def count_days(conn, days: list[date]) -> None:
    from skillsmith_assets.mining import rollup

    for day in days:
        rollup.count_day(conn, day)
    conn.commit()


def new_event_rows(count: int, seed: int, now: datetime, span: timedelta) -> str:
    """The last six hours as ingest stores them (normalized at ingest), as COPY text."""
    from skillsmith_assets.normalize.batch import normalize_batch

    events = common.fast_events(count, seed=seed + 1, now=now, span=span)
    normalized = normalize_batch(events.error, events.component)
    rows = []
    for i, n in enumerate(normalized):
        tags = "{" + ",".join(events.tags[i]) + "}"
        rows.append(f"{events.ts[i]}\t{common.copy_text(events.error[i])}\t{events.component[i]}\t{tags}\t"
                    f"{common.event_key('tick-' + events.event_id[i])}\t{common.copy_text(n.norm_error)}\t"
                    f"{common.copy_text(n.kind)}\t{n.fingerprint}\t{n.normalizer_version}\n")
    return "".join(rows)


def remove_new_events(conn, since: datetime) -> None:
    """Take the six hours' events out again (before the history is recounted), unseen by the counts."""
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE agent_errors DISABLE TRIGGER USER")
        cur.execute("DELETE FROM agent_errors WHERE ts >= %s", (since,))
        cur.execute("ALTER TABLE agent_errors ENABLE TRIGGER USER")
    conn.commit()


def add_new_events(conn, rows: str) -> None:
    """Store the six hours' events as ingest does: the counts learn of them from the next tick."""
    import io

    with conn.cursor() as cur:
        cur.copy_expert("COPY agent_errors (ts, error, component, tags, event_key, norm_error, kind, fingerprint, "
                        "normalizer_version) FROM STDIN", io.StringIO(rows))
    conn.commit()


def before_the_tick(conn, tick_start: datetime, days: list[date], new_rows: str) -> None:
    """The history counted, the six hours' events stored with their count deltas pending, as a tick finds them."""
    remove_new_events(conn, tick_start)
    count_days(conn, days)
    add_new_events(conn, new_rows)
    vacuum(conn, "agent_errors", "error_daily_counts")


def vacuum(conn, *tables: str) -> None:
    """VACUUM ANALYZE the tables, then a CHECKPOINT, so what is timed next does not share the
    disk with the flushing of a bulk load's writes (a role without the right skips it)."""
    import psycopg2

    old = conn.autocommit
    conn.autocommit = True
    with conn.cursor() as cur:
        for table in tables:
            cur.execute(f"VACUUM ANALYZE {table}")
        try:
            cur.execute("CHECKPOINT")
        except psycopg2.errors.InsufficientPrivilege:
            pass
    conn.autocommit = old


# dagster-postgres's own storage, which connects for every read and write: the alternative to
# deploy/dagster.yaml's pooled storage, timed beside it on the smallest history.
STOCK_STORAGE = {"postgres": {"postgres_url": {"env": "DAGSTER_POSTGRES_URL"}}}


def production_instance(dagster_home: str, storage_url: str, stock: bool = False):
    """A Dagster instance whose storage is deploy/dagster.yaml's (or, ``stock``, dagster-postgres's
    own), in the database at ``storage_url``."""
    import dagster as dg
    import yaml

    storage = (STOCK_STORAGE if stock else
               yaml.safe_load((common.ROOT / "deploy" / "dagster.yaml").read_text())["storage"])
    os.environ["DAGSTER_POSTGRES_URL"] = storage_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    Path(dagster_home).mkdir(parents=True, exist_ok=True)
    return dg.instance_for_test(overrides={"storage": storage}, temp_dir=dagster_home)


def _materialize(url: str, project_dir: str | None, dagster: tuple, assets: list[str], tags=None,
                 when_iso: str | None = None) -> dict:
    """Materialize the named mining assets in-process, in a child; seconds, per-step seconds and numeric
    metadata from the run. ``dagster``: production_instance's arguments.
    ``when_iso``: the tags are the schedule's RunRequest at that time."""
    os.environ["SKILLSMITH_DATABASE_URL"] = url
    if project_dir:
        os.environ["SKILLSMITH_PROJECT_DIR"] = project_dir
    import logging

    import dagster as dg

    from skillsmith_assets.defs import mining
    from skillsmith_assets.defs.resources import ErrorStore

    logging.getLogger("dagster").setLevel(logging.WARNING)
    with production_instance(*dagster) as instance:
        if when_iso:
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime.fromisoformat(when_iso))
            tags = mining.mining_every_6_hours(context).tags
        start = time.perf_counter()
        result = dg.materialize([getattr(mining, name) for name in assets], instance=instance,
                                resources={"error_store": ErrorStore()}, tags=tags, raise_on_error=True,
                                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
        seconds = time.perf_counter() - start
        steps = {}
        for event in result.get_step_success_events():
            steps[event.step_key] = event.event_specific_data.duration_ms / 1000
        metadata = {}
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            metadata[mat.asset_key.to_user_string()] = {
                k: v.value for k, v in mat.metadata.items() if isinstance(v.value, (int, float))}
    return {"seconds": seconds, "steps": steps, "metadata": metadata, "tags": dict(tags)}


def tick_child(url: str, project_dir: str, dagster: tuple, when_iso: str) -> dict:
    """One 6-hourly tick: the schedule's RunRequest, materialized in-process; per-asset seconds from the run."""
    return _materialize(url, project_dir, dagster, STEP_ORDER, when_iso=when_iso)


def refresh_view(conn, name: str, definition: str) -> float:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
        if not cur.fetchone()[0]:
            cur.execute(definition)
        conn.commit()
        start = time.perf_counter()
        cur.execute(f"REFRESH MATERIALIZED VIEW {name}")
        conn.commit()
        return time.perf_counter() - start


def compare_with_seed_view(conn) -> dict:
    """The incremental signatures against the full recompute, fingerprint by fingerprint (30-day hits, tags)."""
    with conn.cursor() as cur:
        cur.execute("""
            WITH seed AS (SELECT fingerprint AS fp, sum(hits_30d) AS hits, min(tags) AS tags
                            FROM bench_seed_signatures GROUP BY 1)
            SELECT count(*) FILTER (WHERE s.fp IS NOT NULL AND seed.fp IS NOT NULL AND s.hits_30d = seed.hits
                                      AND s.tags = seed.tags),
                   count(*) FILTER (WHERE s.fp IS NULL OR seed.fp IS NULL OR s.hits_30d <> seed.hits
                                      OR s.tags <> seed.tags),
                   (SELECT count(*) FROM error_signatures), (SELECT count(*) FROM seed),
                   (SELECT coalesce(sum(hits_30d), 0) FROM error_signatures),
                   (SELECT count(*) FROM agent_errors WHERE fingerprint IS NULL)
              FROM error_signatures s FULL JOIN seed ON seed.fp = s.fp""")
        same, differ, signatures, seed_rows, hits, unnormalized = cur.fetchone()
        cur.execute("SELECT count(*) FROM error_candidates")
        candidates = cur.fetchone()[0]
        cur.execute("""SELECT count(*) FROM agent_errors e WHERE e.ts >= (SELECT max(ts) FROM agent_errors) - interval '6 hours'
                          AND NOT EXISTS (SELECT 1 FROM bench_variants v WHERE v.fp = e.fingerprint)""")
        unknown = cur.fetchone()[0]
    return {"same": same, "differ": differ, "signatures": signatures, "seed_rows": seed_rows,
            "hits_30d": int(hits), "unnormalized": unnormalized, "candidates": candidates,
            "new_with_unseen_fp": unknown}


def table_sizes(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute("""SELECT pg_total_relation_size('agent_errors'), pg_total_relation_size('error_daily_counts'),
                              (SELECT count(*) FROM error_daily_counts)""")
        errors, counts, count_rows = cur.fetchone()
    return {"agent_errors_mb": errors / 2**20, "daily_counts_mb": counts / 2**20, "daily_count_rows": count_rows}


# Each tick, recompute and backfill is timed this many times from the same starting state; the median
# run is reported (a single run of a half-second tick moved by a third between runs on this machine,
# and a median of three by a fifth between benchmark runs).
REPEATS = 5


def run(server: common.BenchServer, history: int = 10_000_000, tick_events: int | None = None,
        scales: tuple[int, ...] = (1, 3, 10), fingerprints: int = 2000, seed: int = 11,
        workdir: Path | None = None, repeats: int = REPEATS) -> dict:
    """The tick and the full recompute at ``history * scale / max(scales)`` events of history, for each scale.

    ``tick_events`` defaults to six hours at the largest history's rate.
    """
    from skillsmith_assets.mining import steps

    top = max(scales)
    tick_events = tick_events or max(1, history // 120)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    tick_start = now - timedelta(hours=6)
    today = now.date()
    first_day = today - timedelta(days=29)  # the oldest day inside both 30-day windows
    history_start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=timezone.utc) + timedelta(minutes=1)
    days = [first_day + timedelta(days=i) for i in range(30)]
    dagster_storage = server.fresh_database(DAGSTER_DB, schema=False)
    scratch = Path(tempfile.mkdtemp(prefix="skillsmith-bench-mining-", dir=workdir))
    histories: dict[int, dict] = {}  # scale -> its database, connection, size and setup laps
    runs = []
    try:
        common.log(f"mining: {fingerprints:,} message variants")
        rows = variants(fingerprints, seed, now)
        common.log(f"mining: {tick_events:,} new events in the last 6 hours")
        new_rows = new_event_rows(tick_events, seed, now, timedelta(hours=6))
        for scale in sorted(scales):
            # each history in a database of its own, so the ticks over them can alternate
            size = history * scale // top
            target = server.fresh_database(f"{DB}_{scale}")
            h = histories[scale] = {"target": target, "conn": common.connect(target.url), "size": size,
                                    "watch": common.Stopwatch(), "ticks": []}
            common.log(f"mining: history of {size:,} events ({scale}x)")
            with h["watch"]("history"):
                add_history(h["conn"], 1, size, history_start, tick_start, load_variants(h["conn"], rows))
        for attempt in range(repeats):
            # one tick over each history in turn: what the machine does meanwhile weighs on every size alike
            for scale in sorted(scales):
                h = histories[scale]
                with h["watch"]("daily counts"):
                    before_the_tick(h["conn"], tick_start, days, new_rows)
                project = scratch / f"project_{scale}_{attempt}"  # no proposal written yet, each time
                (project / "skills" / "proposed").mkdir(parents=True, exist_ok=True)
                common.log(f"mining: 6-hourly tick over {h['size']:,} events of history ({attempt + 1} of {repeats})")
                tick, _, rss = common.in_child(tick_child, h["target"].url, str(project),
                                               (str(scratch / f"dagster_{scale}"), dagster_storage.url),
                                               now.isoformat())
                tick["peak_rss_mb"] = rss
                tick["proposals"] = len(list((project / "skills" / "proposed").glob("*.yaml")))
                h["ticks"].append(tick)
                common.log(f"mining: tick {tick['seconds']:.2f} s")
        for scale in sorted(scales):
            h = histories[scale]
            conn, ticks = h["conn"], h["ticks"]
            tick = common.median(ticks, key=lambda t: t["seconds"])
            common.log(f"mining: refreshing the full recompute's materialized views ({scale}x)")
            refresh = common.median([refresh_view(conn, "bench_seed_signatures", SEED_VIEW) for _ in range(repeats)])
            refresh_counts = common.median([refresh_view(conn, "bench_seed_counts", COUNTS_VIEW) for _ in range(repeats)])
            check = compare_with_seed_view(conn)
            proposals = tick["proposals"]
            rss = max(t["peak_rss_mb"] for t in ticks)
            runs.append({"scale": scale, "history": h["size"], "tick_events": tick_events, "tick": tick,
                         "tick_seconds_each": [t["seconds"] for t in ticks],
                         "tick_fingerprints_each": [t["metadata"]["normalized_errors"]["fingerprints"] for t in ticks],
                         "tick_peak_rss_mb": rss, "refresh_seconds": refresh,
                         "speedup": refresh / tick["seconds"], "refresh_counts_seconds": refresh_counts,
                         "speedup_counts": refresh_counts / tick["seconds"],
                         "steps_seconds": sum(tick["steps"].values()),
                         "speedup_steps": refresh / max(sum(tick["steps"].values()), 1e-9),
                         "check": check, "proposals": proposals, "setup": h["watch"].laps, **table_sizes(conn),
                         "fully_indexed": partitions_fully_indexed(conn)})
            common.log(f"mining: refresh {refresh:.1f} s; check {json.dumps(check)}")
            if scale == min(scales):
                common.log("mining: the same tick again, on dagster-postgres's own storage")
                before_the_tick(conn, tick_start, days, new_rows)
                stock_project = scratch / "project_stock"  # no proposal written yet, as for the first tick
                (stock_project / "skills" / "proposed").mkdir(parents=True, exist_ok=True)
                stock, _, _ = common.in_child(tick_child, h["target"].url, str(stock_project),
                                              (str(scratch / "dagster_stock"), dagster_storage.url, True),
                                              now.isoformat())
                runs[-1]["stock_storage_tick"] = stock
        conn, url = histories[top]["conn"], histories[top]["target"].url
        backfills = []
        for attempt in range(repeats):
            common.log(f"mining: rules-version backfill over {BACKFILL_DAYS} days of the largest history "
                       f"({attempt + 1} of {repeats})")
            backfills.append(rules_backfill(conn, url, (str(scratch / "dagster_backfill"), dagster_storage.url),
                                            days[-BACKFILL_DAYS - 1:-1]))
            common.log(f"mining: backfill {backfills[-1]['rows']:,} rows in {backfills[-1]['seconds']:.1f} s")
        backfill = common.median(backfills, key=lambda b: b["seconds"])
        backfill["repeats"] = repeats
        backfill["days_in_flight"] = steps.DAYS_IN_FLIGHT
        backfill["rows_per_second_each"] = [b["rows_per_second"] for b in backfills]
        backfill["normalized_each"] = [b["normalized"] for b in backfills]
    finally:
        for scale, h in histories.items():
            h["conn"].close()
            server.drop(f"{DB}_{scale}")
        server.drop(DAGSTER_DB)
        shutil.rmtree(scratch, ignore_errors=True)
    base = runs[0]["tick"]["seconds"]
    for run_ in runs:
        run_["tick_vs_smallest"] = run_["tick"]["seconds"] / base
    return {"history": history, "tick_events": tick_events, "fingerprints": len(rows), "runs": runs,
            "repeats": repeats, "backfill": backfill}


# A rules change re-normalizes every day of history, DAYS_IN_FLIGHT at a time. Six of the 30
# days keep the benchmark short; with three, the last day ran alone, a third of the window
# at half the overlap a whole-history backfill has.
BACKFILL_DAYS = 6


def rules_backfill(conn, url: str, dagster: tuple[str, str], days: list[date]) -> dict:
    """A new rules version's backfill: the days' rows marked as made by the previous version
    (their text and counts unchanged), then the backfill run the UI launches over the range
    (one run, the single-run policy) re-normalizes them a day at a time."""
    from skillsmith_assets.normalize.rules import RULES_VERSION
    from skillsmith_assets.mining.rollup import day_bounds

    start, _ = day_bounds(days[0])
    _, end = day_bounds(days[-1])
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE agent_errors DISABLE TRIGGER USER")
        cur.execute("UPDATE agent_errors SET normalizer_version = %s WHERE ts >= %s AND ts < %s",
                    (RULES_VERSION - 1, start, end))
        rows = cur.rowcount
        cur.execute("ALTER TABLE agent_errors ENABLE TRIGGER USER")
    conn.commit()
    vacuum(conn, "agent_errors")
    result, _, rss = common.in_child(backfill_child, url, dagster, str(days[0]), str(days[-1]))
    return {"days": len(days), "rows": rows, "normalized": result["normalized"], "seconds": result["seconds"],
            "rows_per_second": rows / result["seconds"], "peak_rss_mb": rss}


def backfill_child(url: str, dagster: tuple[str, str], first: str, last: str) -> dict:
    """The backfill run the UI launches over a partition range: normalized_errors alone."""
    from skillsmith_assets.defs import mining

    run = _materialize(url, None, dagster, ["normalized_errors"], tags=mining.window_tags(first, last))
    return {"seconds": run["seconds"], "normalized": run["metadata"]["normalized_errors"]["normalized"]}


STEP_ORDER = ["raw_errors", "normalized_errors", "error_signatures", "error_candidates", "skill_proposals"]


def table(result: dict) -> str:
    rows = []
    for run in result["runs"]:
        c = run["check"]
        same = "yes" if c["differ"] == 0 and c["unnormalized"] == 0 else f"**no** ({c['differ']} differ)"
        rows.append([f"{run['scale']}×", common.fmt_num(run["history"]), common.fmt_num(run["tick_events"]),
                     common.fmt_num(run["tick"]["seconds"], 2), common.fmt_num(run["steps_seconds"], 2),
                     common.fmt_num(run["refresh_seconds"], 2), common.fmt_ratio(run["speedup"]),
                     common.fmt_ratio(run["speedup_steps"]), common.fmt_num(run.get("refresh_counts_seconds"), 2),
                     common.fmt_ratio(run.get("speedup_counts")), common.fmt_ratio(run["tick_vs_smallest"]),
                     common.fmt_num(run["tick_peak_rss_mb"]), common.fmt_num(c["signatures"]), same])
    return common.markdown_table(
        ["history", "events in window", "new events", "tick s (run)", "tick s (asset steps)",
         "full recompute s", "recompute / tick", "recompute / steps", "recompute without tags s",
         "without tags / tick", "tick vs 1×", "tick peak RSS MiB",
         "signatures", "signatures = full recompute"], rows)


def steps_table(result: dict) -> str:
    """Seconds per asset step and around them; the smallest history's tick also on dagster-postgres's own
    storage (which connects for every event) beside deploy/dagster.yaml's pooled one."""
    rows = []
    for run in result["runs"]:
        ticks = [(f"{run['scale']}×", run["tick"])]
        if run.get("stock_storage_tick"):
            ticks.append((f"{run['scale']}×, `storage: postgres`", run["stock_storage_tick"]))
        for label, tick in ticks:
            steps = tick["steps"]
            rows.append([label] + [common.fmt_num(steps.get(s), 2) for s in STEP_ORDER]
                        + [common.fmt_num(tick["seconds"] - sum(steps.values()), 2), common.fmt_num(tick["seconds"], 2)])
    return common.markdown_table(["history"] + [f"`{s}` s" for s in STEP_ORDER] + ["run overhead s", "tick s"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mining_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=10_000_000, help="events in the 30-day window at 10x")
    parser.add_argument("--tick-events", type=int, default=None, help="new events per tick (default: 6 h at 10x)")
    parser.add_argument("--fingerprints", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    server = common.BenchServer()
    try:
        result = run(server, args.history, args.tick_events, fingerprints=args.fingerprints, seed=args.seed)
        print(table(result))
        print()
        print(steps_table(result))
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
