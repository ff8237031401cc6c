"""Re-normalizing stored rows: the few that came without a fingerprint, and a whole day's
when the rules version changes (a backfill).

A few rows are updated in place. A day whose rows are mostly stale is written anew
instead: its partition is copied once with the new values, indexed in bulk and swapped
in, which costs one sequential write instead of an index update per row per index, and
its counts are recounted from it.
"""

from __future__ import annotations

import io
from datetime import date, datetime

from skillsmith_assets.normalize.rules import RULES_VERSION
from skillsmith_assets.mining.rollup import count_day, day_bounds

NORMALIZE_CHUNK = 50_000
# Below this many stale rows in a day, updating them in place costs less than writing the day anew.
REWRITE_MIN_ROWS = 50_000
# How long the swap may wait for other transactions on agent_errors before the day is updated in place.
SWAP_LOCK_TIMEOUT = "20s"


def normalize_rows(conn, start: datetime, end: datetime) -> int:
    """Fill kind/norm_error/fingerprint for rows in [start, end) that lack them or are stale.

    Rows stream from a server-side cursor in chunks (memory stays flat), are normalized by
    the batch path (the same rule table as the SQL functions, many times faster than
    regexes in PL/pgSQL), and go back with one COPY and one UPDATE per chunk.
    """
    from skillsmith_assets.normalize.batch import normalize_batch
    from skillsmith_assets.intake.bulk import copy_text

    total = 0
    with conn.cursor(name="skillsmith_rows_to_normalize") as source, conn.cursor() as cur:
        source.itersize = NORMALIZE_CHUNK
        source.execute(
            """SELECT id, error, component FROM agent_errors
                WHERE ts >= %(start)s AND ts < %(end)s
                  AND (fingerprint IS NULL OR normalizer_version IS DISTINCT FROM %(version)s)""",
            {"start": start, "end": end, "version": RULES_VERSION},
        )
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS skillsmith_normalized "
                    "(id bigint, norm text, kind text, fp uuid) ON COMMIT DROP")
        while rows := source.fetchmany(NORMALIZE_CHUNK):
            results = normalize_batch([row[1] for row in rows], [row[2] for row in rows])
            buffer = io.StringIO("".join(
                f"{row[0]}\t{copy_text(r.norm_error)}\t{copy_text(r.kind)}\t{r.fingerprint}\n"
                for row, r in zip(rows, results)
            ))
            cur.copy_expert("COPY skillsmith_normalized (id, norm, kind, fp) FROM STDIN", buffer)
            cur.execute(
                """UPDATE agent_errors e SET norm_error = n.norm, kind = n.kind, fingerprint = n.fp,
                          normalizer_version = %s
                     FROM skillsmith_normalized n
                    WHERE e.id = n.id AND e.ts >= %s AND e.ts < %s""",
                (RULES_VERSION, start, end),  # the range keeps the join to the day's partition
            )
            cur.execute("TRUNCATE skillsmith_normalized")
            total += len(rows)
    return total


def stale_rows(conn, start: datetime, end: datetime) -> int:
    """Rows of [start, end) to (re-)normalize, counted through the index that holds only them."""
    with conn.cursor() as cur:
        cur.execute("""SELECT count(*) FROM agent_errors WHERE ts >= %(start)s AND ts < %(end)s
                         AND (fingerprint IS NULL OR normalizer_version IS DISTINCT FROM %(version)s)""",
                    {"start": start, "end": end, "version": RULES_VERSION})
        return cur.fetchone()[0]


def day_partition(conn, day: date) -> str | None:
    """The name of the day's own partition, if the store is partitioned and it exists."""
    name = f"agent_errors_{day:%Y%m%d}"
    with conn.cursor() as cur:
        cur.execute("""SELECT 1 FROM pg_inherits WHERE inhparent = 'agent_errors'::regclass
                          AND inhrelid = to_regclass(%s)""", (name,))
        return name if cur.fetchone() else None


def normalize_day(conn, day: date) -> int:
    """Bring the day's rows to the current rules version; the rows it normalized.

    A day with many stale rows and a partition of its own is rewritten; when the swap
    cannot get its locks in time (a long load into the table), it is updated in place.
    """
    start, end = day_bounds(day)
    stale = stale_rows(conn, start, end)
    if stale == 0:
        return 0
    part = day_partition(conn, day) if stale >= REWRITE_MIN_ROWS else None
    if part is not None:
        from psycopg2 import errors

        with conn.cursor() as cur:
            cur.execute("SAVEPOINT skillsmith_rewrite")
        try:
            rewrite_partition(conn, part, day)
            return stale
        except errors.LockNotAvailable:
            with conn.cursor() as cur:
                cur.execute("ROLLBACK TO SAVEPOINT skillsmith_rewrite")
    return normalize_rows(conn, start, end)


def rewrite_partition(conn, part: str, day: date) -> None:
    """Write the day's partition anew with every row normalized by the current rules, swap it
    in and recount the day, in the caller's transaction.

    The day's rows are read once for their distinct (error, component) pairs, which the
    batch normalizer maps; one INSERT ... SELECT joins the map into a new table, whose
    indexes are then built in bulk from the old partition's own definitions. Writes to
    the day wait (SHARE lock) from the first read to the swap, so none is lost.
    """
    from skillsmith_assets.normalize.batch import normalize_batch
    from skillsmith_assets.intake.bulk import copy_text

    new = f"{part}_rewrite"
    lo, hi = day_bounds(day)
    with conn.cursor() as cur:
        cur.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
        cur.execute(f'LOCK TABLE "{part}" IN SHARE MODE')
        cur.execute(f'SELECT error, component FROM "{part}" GROUP BY 1, 2')
        pairs = cur.fetchall()
        results = normalize_batch([p[0] for p in pairs], [p[1] for p in pairs])
        cur.execute("CREATE TEMP TABLE skillsmith_day_map (error text, component text, has_component boolean, "
                    "norm text, kind text, fp uuid) ON COMMIT DROP")
        cur.copy_expert("COPY skillsmith_day_map FROM STDIN", io.StringIO("".join(
            f"{copy_text(error)}\t{copy_text(component or '')}\t{'f' if component is None else 't'}\t"
            f"{copy_text(r.norm_error)}\t{copy_text(r.kind)}\t{r.fingerprint}\n"
            for (error, component), r in zip(pairs, results))))
        del pairs, results
        cur.execute("ANALYZE skillsmith_day_map")
        # LIKE the partition: the rewrite's first lock on agent_errors itself is the swap's
        cur.execute(f'CREATE TABLE "{new}" (LIKE "{part}" INCLUDING DEFAULTS)')
        # A hash join on the pair: NULL and '' are different components, so both are in the key.
        cur.execute(f"""
            INSERT INTO "{new}" (id, ts, error, component, tags, norm_error, fingerprint, kind,
                                 normalizer_version, event_key)
            SELECT e.id, e.ts, e.error, e.component, e.tags, m.norm, m.fp, m.kind, %s, e.event_key
              FROM "{part}" e JOIN skillsmith_day_map m
                ON m.error = e.error AND m.component = coalesce(e.component, '')
               AND m.has_component = (e.component IS NOT NULL)""", (RULES_VERSION,))
        _copy_indexes(cur, part, new)
        # The constraint lets ATTACH skip scanning the new table.
        cur.execute(f'ALTER TABLE "{new}" ADD CONSTRAINT "{new}_day" CHECK (ts >= %s AND ts < %s)', (lo, hi))
        cur.execute(f'ALTER TABLE agent_errors DETACH PARTITION "{part}"')
        cur.execute(f'ALTER TABLE agent_errors ATTACH PARTITION "{new}" FOR VALUES FROM (%s) TO (%s)', (lo, hi))
        cur.execute(f'DROP TABLE "{part}"')
        cur.execute(f'ALTER TABLE "{new}" RENAME TO "{part}"')
        cur.execute(f'ALTER TABLE "{part}" DROP CONSTRAINT "{new}_day"')
    count_day(conn, day)


def _copy_indexes(cur, source: str, target: str) -> None:
    """Give ``target`` the indexes of ``source`` (so ATTACH adopts them instead of building
    them under its lock); the primary key as a constraint, as ATTACH requires."""
    cur.execute(f"""SELECT pg_get_indexdef(i.indexrelid), c.oid IS NOT NULL
                      FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'p'
                     WHERE i.indrelid = '"{source}"'::regclass""")
    for definition, primary in cur.fetchall():
        using = definition[definition.index(" USING "):]  # " USING btree (cols) [WHERE ...]"
        if primary:
            cur.execute(f'ALTER TABLE "{target}" ADD PRIMARY KEY {using[using.index("("):]}')
        else:
            unique = "UNIQUE " if definition.startswith("CREATE UNIQUE") else ""
            cur.execute(f'CREATE {unique}INDEX ON "{target}"{using}')
