"""The 6-hourly tick adds only what changed: late events, re-runs, deletions, raw rows, no UPDATE.

Every check compares the daily counts with a recount from the rows themselves.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from skillsmith_assets.store import db
from skillsmith_assets.mining import rollup
from skillsmith_assets.intake.collector import ingest_error
from skillsmith_assets.defs import mining
from skillsmith_assets.defs.resources import ErrorStore
from skillsmith_assets.intake.bulk import ingest_stream

NOW = datetime.now(timezone.utc)
TODAY = NOW.date()


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILLSMITH_PROJECT_DIR", str(tmp_path / "repo"))
    (tmp_path / "repo" / "skills" / "proposed").mkdir(parents=True)
    (tmp_path / "dh").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dh")) as inst:
        yield inst


def _load(target, events):
    payload = io.BytesIO(b"\n".join(json.dumps(e).encode() for e in events))
    with db.connection(target) as conn:
        return ingest_stream(conn, payload, f"<test {len(events)}>")


def _tick(instance):
    """What the schedule runs: yesterday's and today's partitions and everything downstream."""
    request = next(iter(mining.mining_every_6_hours.evaluate_tick(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=NOW)).run_requests))
    result = dg.materialize(mining.MINING_ASSETS, instance=instance, resources={"error_store": ErrorStore()},
                            tags=request.tags)
    assert result.success
    return result


def test_the_scheduled_job_runs_every_step_in_the_run_process(database, conn, instance, tmp_path):
    """The code location's mining_job launched as a run worker launches it (its own process, the
    instance's storage): every step runs in that process, none in a process of its own."""
    _load(database, [_event(i, 1) for i in range(5)])
    request = next(iter(mining.mining_every_6_hours.evaluate_tick(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=NOW)).run_requests))
    home = tmp_path / "worker_home"
    home.mkdir()
    dagster = str(Path(sys.executable).with_name("dagster"))
    done = subprocess.run([dagster, "job", "execute", "-m", "skillsmith_assets.definitions", "-j", "mining_job",
                           "--tags", json.dumps(dict(request.tags))],
                          env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with dg.DagsterInstance.from_config(str(home)) as worker:
        (run,) = worker.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        records = worker.all_logs(run.run_id)
    started = {r.step_key for r in records if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.STEP_START}
    assert {a.key.to_user_string() for a in mining.MINING_ASSETS} <= started
    assert len({r.dagster_event.pid for r in records if r.dagster_event} - {None}) == 1
    assert _counts(conn) == _recount(conn)


def _counts(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute("SELECT day, fp::text, hits FROM error_daily_counts ORDER BY 1, 2")
        return {(day, fp): hits for day, fp, hits in cur.fetchall()}


def _recount(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute("""SELECT (ts AT TIME ZONE 'UTC')::date, fingerprint::text, count(*) FROM agent_errors
                        WHERE fingerprint IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""")
        return {(day, fp): hits for day, fp, hits in cur.fetchall()}


def _updates(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_stat_force_next_flush()")
        # a partitioned table counts nothing itself: its day partitions do
        cur.execute("""SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables
                        WHERE relid IN (SELECT relid FROM pg_partition_tree('agent_errors'))""")
        return cur.fetchone()[0]


def _event(i: int, hours_ago: float, message: str = "KeyError: 'partner_id'") -> dict:
    return {"error": message, "component": "sale", "id": f"e{i}", "ts": (NOW - timedelta(hours=hours_ago)).isoformat()}


def test_ingest_stores_complete_rows_and_the_tick_updates_none(database, conn, instance):
    _load(database, [_event(i, i * 2) for i in range(40)])
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM agent_errors WHERE fingerprint IS NULL OR norm_error IS NULL "
                    "OR kind IS NULL OR normalizer_version IS NULL")
        assert cur.fetchone()[0] == 0
    conn.commit()
    before = _updates(conn)
    _tick(instance)
    conn.commit()
    assert _updates(conn) == before  # no row of agent_errors rewritten
    assert _counts(conn) == _recount(conn)


def test_a_late_event_lands_in_its_own_day_after_a_tick(database, conn, instance):
    _load(database, [_event(i, 1) for i in range(5)])
    _tick(instance)
    late_day = TODAY - timedelta(days=4)  # outside the tick's two partitions
    _load(database, [{**_event(100, 24 * 4 + 1), "ts": f"{late_day}T03:00:00+00:00"}])
    _tick(instance)
    conn.commit()
    counts = _counts(conn)
    assert counts == _recount(conn)
    assert sum(hits for (day, _), hits in counts.items() if day == late_day) == 1


def test_re_runs_add_nothing_and_deletions_are_subtracted(database, conn, instance):
    _load(database, [_event(i, i) for i in range(10)])
    ingest_error({"error": "TimeoutError: upstream", "component": "http"})  # the collector's row counts too
    _tick(instance)
    _tick(instance)
    conn.commit()
    assert sum(_counts(conn).values()) == 11 and _counts(conn) == _recount(conn)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM agent_errors WHERE id IN (SELECT id FROM agent_errors ORDER BY id LIMIT 4)")
    conn.commit()
    _tick(instance)
    conn.commit()
    assert sum(_counts(conn).values()) == 7 and _counts(conn) == _recount(conn)


def test_raw_rows_are_normalized_once_and_counted(database, conn, instance):
    with conn.cursor() as cur:  # a row written by other tools, without a fingerprint
        cur.execute("INSERT INTO agent_errors (ts, error, component) VALUES (now(), 'KeyError: 123', 'sale')")
    conn.commit()
    _tick(instance)
    conn.commit()
    assert _counts(conn) == _recount(conn) and sum(_counts(conn).values()) == 1
    before = _updates(conn)
    _tick(instance)
    conn.commit()
    assert _updates(conn) == before


def test_recount_of_a_day_agrees_with_the_deltas(database, conn, instance):
    _load(database, [_event(i, i * 3) for i in range(30)])
    _tick(instance)
    _load(database, [_event(200 + i, 1) for i in range(7)])  # pending deltas for today
    with db.connection(database) as own:
        rollup.count_day(own, TODAY)  # a repair recount consumes today's pending deltas
        rollup.apply_count_deltas(own)
    conn.commit()
    assert _counts(conn) == _recount(conn)


def _index_shapes(conn, table: str) -> list[str]:
    """A partition's index definitions without their names."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass", (table,))
        return sorted(d[d.index(" USING "):] for (d,) in cur.fetchall())


@pytest.mark.parametrize("path", ["update in place", "rewrite the day"])
def test_a_rules_version_backfill_renormalizes_history_and_moves_the_counts(database, conn, instance, path,
                                                                            monkeypatch):
    from skillsmith_assets.mining import renormalize

    monkeypatch.setattr(renormalize, "REWRITE_MIN_ROWS", 1 if path == "rewrite the day" else 10**9)
    events = [_event(i, i * 2, f"KeyError: 'field_{i % 3}'") for i in range(60)]
    _load(database, events)
    _tick(instance)
    days = sorted({day for day, _ in _counts(conn)})
    # History made by an older rules version: other fingerprints, counted under them.
    with conn.cursor() as cur:
        cur.execute("""UPDATE agent_errors SET normalizer_version = normalizer_version - 1,
                              norm_error = 'old: ' || norm_error,
                              fingerprint = md5('old' || fingerprint::text)::uuid""")
    conn.commit()
    with db.connection(database) as own:  # counted under the old fingerprints, as the old version left them
        rollup.apply_count_deltas(own)
    old_counts = _counts(conn)
    assert old_counts == _recount(conn) and sum(old_counts.values()) == 60
    with conn.cursor() as cur:  # a replaced day that a stopped run left undropped, and a table of someone else's
        cur.execute("CREATE TABLE agent_errors_20200101_replaced (LIKE agent_errors)")
        cur.execute("CREATE TABLE agent_errors_20200101_kept (LIKE agent_errors)")
    conn.commit()  # an open reader of agent_errors would make the run wait to make the days' partitions
    # The backfill: one run over the partition range, as the UI launches it.
    result = dg.materialize([mining.raw_errors, mining.normalized_errors], instance=instance,
                            resources={"error_store": ErrorStore()},
                            tags=mining.window_tags(str(days[0]), str(days[-1])))
    assert result.success
    normalized = [e.event_specific_data.materialization.metadata["normalized"].value
                  for e in result.get_asset_materialization_events()
                  if e.event_specific_data.materialization.asset_key == dg.AssetKey("normalized_errors")]
    assert normalized == [60] * len(days)  # one event per partition, each with the run's figures
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM agent_errors WHERE normalizer_version IS DISTINCT FROM normalizer_version()"
                    " OR norm_error LIKE 'old: %'")
        assert cur.fetchone()[0] == 0
    new_counts = _counts(conn)
    assert new_counts == _recount(conn) and sum(new_counts.values()) == 60
    assert not set(new_counts) & set(old_counts)  # every count moved to the new fingerprints
    # every day keeps its partition's indexes, the idempotency key among them
    shapes = {_index_shapes(conn, f"agent_errors_{day:%Y%m%d}").__repr__() for day in days}
    assert len(shapes) == 1 and "(event_key, ts)" in shapes.pop()
    assert _load(database, events).duplicates == 60
    with conn.cursor() as cur:  # replaced partitions are dropped once their day is committed, and nothing else
        cur.execute("SELECT relname FROM pg_class WHERE relname ~ '^agent_errors_[0-9]{8}_' AND relkind = 'r' "
                    "AND NOT relispartition")
        assert cur.fetchall() == [("agent_errors_20200101_kept",)]


def test_a_failing_day_fails_the_window_and_no_later_day_starts(database, monkeypatch):
    """Days run two at a time, in order: when one fails, the one beside it ends and none after starts."""
    from skillsmith_assets.mining import renormalize, steps

    started = []
    real = renormalize.normalize_day

    def normalize_day(conn, day):
        started.append(day)
        if day == days[1]:
            raise RuntimeError("the day's partition is gone")
        return real(conn, day)

    start = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=timezone.utc) - timedelta(days=6)
    days = steps.days_between(start, start + timedelta(days=6))
    monkeypatch.setattr(renormalize, "normalize_day", normalize_day)
    with pytest.raises(RuntimeError, match="partition is gone"):
        steps.normalize_window(lambda: db.connection(database), start, start + timedelta(days=6))
    assert days[:2] == sorted(started)[:2] and set(started) <= set(days[:3])


def _count_rows(conn) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("""SELECT day, fp::text, component, kind, norm_msg, hits, first_seen, last_seen, tags
                         FROM error_daily_counts ORDER BY 1, 2""")
        return cur.fetchall()


def test_the_counts_the_triggers_record_are_a_recount_of_the_rows(database, conn, instance):
    """Statement triggers write one delta per (day, fingerprint) of a statement, tags gathered
    from its groups; added up by the tick, every column is what a repair recount gives."""
    events = [{"error": f"KeyError: '{('partner', 'order')[i % 2]}'", "component": [None, "", "sale"][i % 3],
               "tags": [["b", "a"], ["c"], [], ["a", "d"]][i // 2 % 4], "id": f"t{i}",
               "ts": (NOW - timedelta(hours=i)).isoformat()} for i in range(40)]
    _load(database, events)
    _tick(instance)
    conn.commit()
    counted = _count_rows(conn)
    with db.connection(database) as own:
        for day in {row[0] for row in counted}:
            rollup.count_day(own, day)
    conn.commit()
    assert counted == _count_rows(conn)
    assert sum(row[5] for row in counted) == 40 and any(len(row[8]) > 2 for row in counted)


def test_a_rewritten_day_counts_what_a_recount_counts(database, conn, instance, monkeypatch):
    """The rewrite counts the day from its first pass over the rows; every column of every
    count must be what a repair recount of the rewritten rows gives."""
    from skillsmith_assets.mining import renormalize

    monkeypatch.setattr(renormalize, "REWRITE_MIN_ROWS", 1)
    day = TODAY - timedelta(days=1)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
    events = [{"error": f"KeyError: 'field_{i % 4}' in order {i}", "component": [None, "", "sale", "Sale"][i % 4],
               "tags": [["b", "a"], ["a"], [], ["c", "b"]][i % 3], "id": f"r{i}",
               "ts": (noon + timedelta(minutes=7 * i)).isoformat()} for i in range(48)]
    _load(database, events)
    with conn.cursor() as cur:  # rows of an older rules version, and raw rows written by other tools
        cur.execute("UPDATE agent_errors SET normalizer_version = normalizer_version - 1")
        cur.execute("INSERT INTO agent_errors (ts, error, component, tags) VALUES (%s, 'KeyError: 99', NULL, '{z}'),"
                    " (%s, 'KeyError: 98', '', NULL)", (noon, noon + timedelta(hours=1)))
    conn.commit()
    with db.connection(database) as own:
        assert renormalize.normalize_day(own, day) == 50
    rewritten = _count_rows(conn)
    with db.connection(database) as own:
        rollup.count_day(own, day)
    conn.commit()
    assert rewritten == _count_rows(conn)
    assert sum(row[5] for row in rewritten) == 50
    assert {row[2] for row in rewritten} == {"", "sale", "Sale"}  # no component and "" count as one


def test_signatures_equal_a_recompute_from_the_rows(database, conn, instance):
    """hits over 30 and 7 days, first/last seen, the union of tags and the trend, rolled up from
    the daily counts, are what the rows of the window give (rows older than 30 days left out)."""
    events = [{"error": "KeyError: '" + ("partner", "order", "invoice")[i % 3] + "'", "component": "sale", "id": f"s{i}",
               "tags": [["b", "a"], ["c"], []][i % 3] + ([f"day{i % 5}"] if i % 2 else []),
               "ts": (NOW - timedelta(hours=5 + 9 * i)).isoformat()} for i in range(100)]  # 37 days
    _load(database, events)
    _tick(instance)
    conn.commit()
    d30, d7 = TODAY - timedelta(days=30), TODAY - timedelta(days=7)
    with conn.cursor() as cur:
        cur.execute("""SELECT fp::text, hits_30d, hits_7d, tags, first_seen, last_seen, trend
                         FROM error_signatures ORDER BY 1""")
        rolled = cur.fetchall()
        cur.execute("""
            WITH w AS (SELECT *, (ts AT TIME ZONE 'UTC')::date AS day FROM agent_errors
                        WHERE (ts AT TIME ZONE 'UTC')::date > %(d30)s)
            SELECT fingerprint::text, count(*), count(*) FILTER (WHERE day > %(d7)s),
                   coalesce((SELECT array_agg(DISTINCT t ORDER BY t) FROM w w2, unnest(w2.tags) t
                              WHERE w2.fingerprint = w.fingerprint), '{}'),
                   min(ts), max(ts),
                   round((count(*) FILTER (WHERE day > %(d7)s) * 30.0 / 7.0 / count(*))::numeric, 3)::float8
              FROM w GROUP BY fingerprint ORDER BY 1""", {"d30": d30, "d7": d7})
        assert rolled == cur.fetchall()
    assert len(rolled) == 3 and all(len(row[3]) > 1 for row in rolled)
    assert 0 < sum(row[2] for row in rolled) < sum(row[1] for row in rolled) < 100


def test_the_window_row_count_reads_counts_not_rows(database, conn, instance):
    from skillsmith_assets.mining.rollup import day_bounds

    _load(database, [_event(i, i * 5) for i in range(50)])
    _tick(instance)  # counted
    _load(database, [_event(100 + i, i) for i in range(7)])  # pending deltas
    with conn.cursor() as cur:  # a raw row, without a fingerprint
        cur.execute("INSERT INTO agent_errors (ts, error) VALUES (now() - interval '1 hour', 'KeyError: 7')")
    conn.commit()
    for days in (1, 2, 5):
        start, end = day_bounds(TODAY - timedelta(days=days - 1))[0], day_bounds(TODAY)[1]
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM agent_errors WHERE ts >= %s AND ts < %s", (start, end))
            assert rollup.rows_in_window(conn, start, end) == cur.fetchone()[0]
