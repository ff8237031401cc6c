"""agent_errors is partitioned by day: partitions made ahead and on demand, the idempotency key
checked within a day, retention by dropping days, and the move of a store made before."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest

from conftest import run_cli
from skillsmith_assets.store import db, partitions
from skillsmith_assets.mining import rollup
from skillsmith_assets.intake.collector import ingest_error

NOW = datetime.now(timezone.utc)
TODAY = NOW.date()
NOON = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=timezone.utc)

# The store as the version before partitioning made it (its sql/010, unchanged).
UNPARTITIONED_STORE = """
CREATE TABLE agent_errors (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    error       text NOT NULL,
    component   text,
    tags        text[],
    norm_error  text,
    fingerprint uuid,
    kind text,
    normalizer_version integer,
    event_key uuid
);
CREATE UNIQUE INDEX agent_errors_event_key_key ON agent_errors (event_key);
CREATE INDEX agent_errors_ts_idx ON agent_errors (ts);
CREATE INDEX agent_errors_fingerprint_ts_idx ON agent_errors (fingerprint, ts);
"""

ROW = "id, ts, error, component, tags, norm_error, fingerprint, kind, normalizer_version, event_key"


def _query(url: str, sql: str, params=()):
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else None
    conn.close()
    return rows


def _day_partitions(url: str) -> list[str]:
    return [name for (name,) in _query(url, """
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'agent_errors'::regclass ORDER BY 1""") if name != "agent_errors_default"]


def _in_default(url: str) -> int:
    return _query(url, "SELECT count(*) FROM agent_errors_default")[0][0]


def _counts_match_rows(url: str) -> bool:
    with psycopg2.connect(url) as conn:
        rollup.apply_count_deltas(conn)
    conn.close()
    counts = _query(url, "SELECT day, fp, hits FROM error_daily_counts ORDER BY 1, 2")
    rows = _query(url, """SELECT (ts AT TIME ZONE 'UTC')::date, fingerprint, count(*) FROM agent_errors
                           WHERE fingerprint IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""")
    return counts == rows


def _events(days: int, per_day: int, timeless: int = 0) -> list[dict]:
    events = [{"error": f"KeyError: 'field_{i % 7}' in order {i}", "component": f"c{i % 3}",
               "ts": (NOON - timedelta(days=d, minutes=i)).isoformat(), **({"id": f"e-{d}-{i}"} if i % 2 else {})}
              for d in range(days) for i in range(per_day)]
    return events + [{"error": f"TimeoutError: upstream {i} timed out", "tags": ["no-ts"]} for i in range(timeless)]


def _write(path, events) -> str:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


def test_a_new_store_has_the_days_around_today_and_ingest_makes_the_days_it_needs(database, tmp_path):
    names = _day_partitions(database.url)
    for offset in (-1, 0, 7):
        assert f"agent_errors_{TODAY + timedelta(days=offset):%Y%m%d}" in names
    old = NOW - timedelta(days=400)
    path = _write(tmp_path / "old.jsonl", [{"error": "ValueError: x", "ts": old.isoformat()}])
    assert "loaded 1" in run_cli("ingest", path).stdout
    assert f"agent_errors_{old:%Y%m%d}" in _day_partitions(database.url)
    assert _in_default(database.url) == 0
    # the row is found through the partition, not a scan of every day
    plan = "\n".join(r[0] for r in _query(database.url, "EXPLAIN SELECT * FROM agent_errors WHERE ts >= %s AND ts < %s",
                                          (old - timedelta(hours=1), old + timedelta(hours=1))))
    assert f"agent_errors_{old:%Y%m%d}" in plan and f"agent_errors_{TODAY:%Y%m%d}" not in plan


def test_a_row_of_a_day_without_partition_waits_in_the_default_and_moves_intact(database):
    when = NOW - timedelta(days=900)
    stored = ingest_error({"error": "KeyError: 'x'", "component": "sale", "ts": when.isoformat()})
    assert _in_default(database.url) == 1
    with db.connection(database) as conn:
        assert partitions.ensure_days(conn, [when.date()]) == 1
    assert _in_default(database.url) == 0
    assert _query(database.url, f"SELECT id, ts FROM agent_errors_{when:%Y%m%d}") == [(stored["id"], stored["ts"])]
    assert _counts_match_rows(database.url)


def test_the_key_holds_within_a_day_and_timeless_events_keep_their_first_stamp(database, tmp_path):
    path = _write(tmp_path / "mixed.jsonl", _events(days=3, per_day=10, timeless=4))
    assert "loaded 34, already present 0" in run_cli("ingest", path).stdout
    # a second load runs at another now(): the time-less events find their stamps
    assert "loaded 0, already present 34" in run_cli("ingest", path).stdout
    first = ingest_error({"error": "KeyError: 'y'", "id": "agent-1/req-9"})
    retry = ingest_error({"error": "KeyError: 'y'", "id": "agent-1/req-9"})
    assert (retry["id"], retry["ts"]) == (first["id"], first["ts"])
    assert _query(database.url, "SELECT count(*) FROM agent_errors")[0][0] == 35
    # the key's index is a day's: partition-local, (event_key, ts)
    assert _query(database.url, """SELECT indexdef FROM pg_indexes
                                    WHERE indexname = 'agent_errors_event_key_ts_key'""")[0][0].endswith(
        "(event_key, ts)")


def test_prune_drops_whole_days_with_their_counts(database, tmp_path):
    path = _write(tmp_path / "ten.jsonl", _events(days=10, per_day=6, timeless=2))
    run_cli("ingest", path)
    assert _counts_match_rows(database.url)
    cutoff = TODAY - timedelta(days=4)
    before = len(_day_partitions(database.url))
    result = run_cli("db-prune", "--before", cutoff.isoformat())
    assert result.returncode == 0, result.stderr
    assert "5 day partitions dropped" in result.stdout
    assert len(_day_partitions(database.url)) == before - 5
    oldest = _query(database.url, "SELECT min(ts) FROM agent_errors")[0][0]
    assert oldest.date() >= cutoff
    assert _query(database.url, "SELECT count(*) FROM agent_errors")[0][0] == 5 * 6 + 2
    assert _counts_match_rows(database.url)
    assert run_cli("db-prune", "--before", "yesterday").returncode == 2  # a date, or nothing happens


@pytest.fixture
def unpartitioned_store(empty_database, monkeypatch):
    """A store made by the version before partitioning, with the current schema applied over it."""
    _query(empty_database, UNPARTITIONED_STORE)
    monkeypatch.setenv("SKILLSMITH_DATABASE_URL", empty_database)
    db.apply_schema(db.DatabaseTarget(empty_database, "test", "-"))
    return empty_database


def test_migration_moves_a_filled_store_keeping_every_row(unpartitioned_store, tmp_path):
    url = unpartitioned_store
    path = _write(tmp_path / "history.jsonl", _events(days=40, per_day=25, timeless=5))
    assert "loaded 1005" in run_cli("ingest", path).stdout
    ingest_error({"error": "KeyError: 'z'", "component": "sale", "id": "call-1"})
    _query(url, "INSERT INTO agent_errors (ts, error) VALUES (now(), 'raw row, not normalized')")
    setup = run_cli("db-setup")
    assert "skillsmith db-migrate" in setup.stdout
    assert _counts_match_rows(url)
    rows = _query(url, f"SELECT {ROW} FROM agent_errors ORDER BY id")

    result = run_cli("db-migrate")
    assert result.returncode == 0, result.stderr
    assert "1,007 rows moved" in result.stdout
    assert _query(url, f"SELECT {ROW} FROM agent_errors ORDER BY id") == rows
    assert _in_default(url) == 0
    assert {f"agent_errors_{row[1]:%Y%m%d}" for row in rows} <= set(_day_partitions(url))
    assert _counts_match_rows(url)
    # loading the same file again adds nothing, time-less lines included; ids carry on
    assert "loaded 0, already present 1005" in run_cli("ingest", path).stdout
    assert ingest_error({"error": "KeyError: 'z'", "id": "call-1"})["id"] == rows[1005][0]
    assert ingest_error({"error": "KeyError: 'new'"})["id"] > max(row[0] for row in rows)
    assert "partitioned by day already" in run_cli("db-migrate").stdout
    assert "up to date" in run_cli("db-setup").stdout


def test_migration_blocked_by_a_view_changes_nothing(unpartitioned_store, tmp_path):
    url = unpartitioned_store
    run_cli("ingest", _write(tmp_path / "few.jsonl", _events(days=3, per_day=5)))
    _query(url, "CREATE VIEW recent_errors AS SELECT * FROM agent_errors WHERE ts > now() - interval '1 day'")
    result = run_cli("db-migrate")
    assert result.returncode == 1
    assert "nothing was changed" in result.stderr and "recent_errors" in result.stderr
    assert _query(url, "SELECT relkind FROM pg_class WHERE oid = 'agent_errors'::regclass")[0][0] == "r"
    assert _query(url, "SELECT count(*) FROM agent_errors")[0][0] == 15
