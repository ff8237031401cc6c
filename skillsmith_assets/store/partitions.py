"""The day partitions of ``agent_errors``: made ahead of need, dropped for retention, and the
move of a store made before partitioning.

The partition of a day is made by ``skillsmith_ensure_days`` (sql/010), in a short
transaction of its own: a day that has none when its rows arrive still stores them (in
the default partition, moved into the day's own when it is made), so nothing waits on or
fails for a missing partition.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable

# Days made ahead of today, so the collector's rows always have their partition.
DAYS_AHEAD = 7
# How long making a partition may wait for a lock before its rows go to the default partition instead.
LOCK_TIMEOUT = "10s"


def is_partitioned(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = 'agent_errors'::regclass")
        return cur.fetchone()[0]


def ensure_days(conn, days: Iterable[date]) -> int:
    """Make the missing partitions of ``days`` in the caller's transaction; how many were made."""
    with conn.cursor() as cur:
        cur.execute("SELECT skillsmith_ensure_days(%s::date[])", (sorted(set(days)),))
        return cur.fetchone()[0]


def days_around(today: date, behind: int = 1, ahead: int = DAYS_AHEAD) -> list[date]:
    return [today + timedelta(days=i) for i in range(-behind, ahead + 1)]


class DayPartitions:
    """Makes the partitions a loader is about to need, each day once per loader.

    ``connection`` opens a transaction (``db.connection``): partitions are made and
    committed apart from the loader's own transaction, which may run for minutes.
    """

    def __init__(self, connection: Callable):
        self.connection = connection
        self.known: set[date] = set()

    def ensure(self, days: Iterable[date]) -> None:
        missing = set(days) - self.known
        if not missing:
            return
        from psycopg2 import errors

        try:
            with self.connection() as conn:
                with conn.cursor() as cur:
                    cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                ensure_days(conn, missing)
        except errors.LockNotAvailable:
            # Busy store: the rows go to the default partition and move when the day is made.
            print(f"warning: the partitions of {len(missing)} day(s) could not be made now "
                  "(lock wait); their rows are kept in agent_errors_default until the next mining run",
                  file=sys.stderr)
            return
        self.known |= missing


def drop_days_before(conn, cutoff: date) -> tuple[int, int]:
    """Retention: remove every event before ``cutoff`` (UTC day) with its counts and stamps, in
    the caller's transaction; (partitions dropped, rows removed from the default partition or
    from an unpartitioned store).

    A day's partition is dropped whole, not deleted row by row; its daily counts go in the
    same transaction, so the counts keep matching the rows.
    """
    start = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=timezone.utc)
    dropped = 0
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('skillsmith-partitions'))")
        if is_partitioned(conn):
            cur.execute(
                """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'agent_errors'::regclass AND c.relname ~ '^agent_errors_[0-9]{8}$'
                      AND to_date(right(c.relname, 8), 'YYYYMMDD') < %s ORDER BY 1""",
                (cutoff,),
            )
            for (name,) in cur.fetchall():
                cur.execute(f'DROP TABLE "{name}"')  # names are agent_errors_YYYYMMDD, checked above
                dropped += 1
        # Older rows outside a day partition: deleted through the table, so the count triggers see them.
        cur.execute("DELETE FROM agent_errors WHERE ts < %s", (start,))
        deleted = cur.rowcount
        cur.execute("DELETE FROM error_daily_counts WHERE day < %s", (cutoff,))
        cur.execute("DELETE FROM error_count_deltas WHERE day < %s", (cutoff,))
        cur.execute("DELETE FROM agent_error_stamps WHERE ts < %s", (start,))
    return dropped, deleted


_OLD = "agent_errors_unpartitioned"


class MigrationBlocked(RuntimeError):
    """Something outside Skillsmith depends on the table; the message says what to do."""


def _dependent_views(cur) -> list[str]:
    cur.execute("""SELECT DISTINCT v.relname FROM pg_depend d
                     JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
                    WHERE d.refobjid = 'agent_errors'::regclass AND v.oid <> d.refobjid ORDER BY 1""")
    return [name for (name,) in cur.fetchall()]


def migrate(conn, progress: Callable[[str], None] = lambda _: None) -> int:
    """Move an unpartitioned ``agent_errors`` into the day-partitioned store, in the caller's
    transaction (a failure leaves the store as it was); returns the rows moved, or -1 when
    the store is partitioned already.

    Every row keeps its id, columns and values; the id sequence carries on. Each moved row's
    time is recorded under its key (``agent_error_stamps``): which rows came without a time
    of their own cannot be told any more, and a file loaded again must still add nothing.
    """
    from skillsmith_assets.store.db import SQL_DIR

    def schema_sql(name: str) -> str:
        return (SQL_DIR / name).read_text(encoding="utf-8")

    if is_partitioned(conn):
        return -1
    with conn.cursor() as cur:
        cur.execute("LOCK TABLE agent_errors IN ACCESS EXCLUSIVE MODE")
        views = _dependent_views(cur)
        if views:
            # A view would follow the old table and keep it alive; Postgres cannot re-point it.
            raise MigrationBlocked(f"views read agent_errors: {', '.join(views)}; drop them, migrate, "
                                   "then create them again (they work unchanged on the partitioned table)")
        cur.execute("SELECT count(*) FROM agent_errors")
        rows = cur.fetchone()[0]
        progress(f"moving {rows:,} rows")
        # Index and constraint names are per schema: the new table's must be free.
        cur.execute(f"ALTER TABLE agent_errors RENAME TO {_OLD}")
        cur.execute(f"ALTER TABLE {_OLD} DROP CONSTRAINT IF EXISTS agent_errors_pkey")
        cur.execute(f"""SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()
                          AND tablename = '{_OLD}'""")
        for (index,) in cur.fetchall():
            cur.execute(f'DROP INDEX "{index}"')
        cur.execute(schema_sql("010_agent_errors.sql"))
        cur.execute(
            f"""WITH RECURSIVE days(d) AS (
                    SELECT (min(ts) AT TIME ZONE 'UTC')::date FROM {_OLD}
                    UNION ALL
                    SELECT (SELECT (min(ts) AT TIME ZONE 'UTC')::date FROM {_OLD}
                             WHERE ts >= ((d + 1)::timestamp AT TIME ZONE 'UTC'))
                      FROM days WHERE d IS NOT NULL)
                SELECT skillsmith_ensure_days(array_agg(d)) FROM days WHERE d IS NOT NULL"""
        )
        progress(f"{cur.fetchone()[0] or 0} day partitions made")
        # The count triggers come with 050 below and recount once: the move itself adds no deltas.
        cur.execute(f"INSERT INTO agent_errors SELECT id, ts, error, component, tags, norm_error, fingerprint, "
                    f"kind, normalizer_version, event_key FROM {_OLD}")
        moved = cur.rowcount
        cur.execute(f"""INSERT INTO agent_error_stamps (event_key, ts)
                        SELECT event_key, ts FROM {_OLD} WHERE event_key IS NOT NULL ORDER BY event_key
                        ON CONFLICT (event_key) DO NOTHING""")
        if moved != rows:
            raise RuntimeError(f"moved {moved} rows of {rows}: nothing was changed")
        cur.execute(f"DROP TABLE {_OLD}")
        for name in ("020_normalize_functions.sql", "050_count_deltas.sql"):
            progress(f"indexes and counts: {name}")
            cur.execute(schema_sql(name))
    return moved
