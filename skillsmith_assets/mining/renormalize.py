"""Re-normalizing stored rows: the few that came without a fingerprint, and a whole day's
when the rules version changes (a backfill).

A few rows are updated in place. A day whose rows are mostly stale is written anew
instead: its partition is copied once with the new values, indexed in bulk and swapped
in, which costs one sequential write instead of an index update per row per index, and
its counts are recounted from it.
"""

from __future__ import annotations

import io
import threading
from datetime import date, datetime

from skillsmith_assets.normalize.rules import RULES_VERSION
from skillsmith_assets.mining.rollup import GROUPING_WORK_MEM, day_bounds, store_day_counts

NORMALIZE_CHUNK = 50_000
# Below this many stale rows in a day, updating them in place costs less than writing the day anew.
REWRITE_MIN_ROWS = 50_000
# How long the swap may wait for other transactions on agent_errors before the day is updated in place.
SWAP_LOCK_TIMEOUT = "20s"
# One batch normalization at a time: it uses every core already, and days run side by side.
_NORMALIZING = threading.Lock()
# Rows to (re-)normalize: without a fingerprint, or made by an older rules version.
_STALE = "(fingerprint IS NULL OR normalizer_version IS DISTINCT FROM %(version)s)"


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
            f"""SELECT id, error, component FROM agent_errors
                 WHERE ts >= %(start)s AND ts < %(end)s AND {_STALE}""",
            {"start": start, "end": end, "version": RULES_VERSION},
        )
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS skillsmith_normalized "
                    "(id bigint, norm text, kind text, fp uuid) ON COMMIT DROP")
        while rows := source.fetchmany(NORMALIZE_CHUNK):
            with _NORMALIZING:
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


def stale_rows(conn, start: datetime, end: datetime, limit: int, table: str = "agent_errors") -> int:
    """Rows of [start, end) to (re-)normalize, up to ``limit``: the count stops there, so a
    day that is rewritten anyway is not read whole just to count them. ``table``: agent_errors
    or the day's own partition."""
    with conn.cursor() as cur:
        cur.execute(f"""SELECT count(*) FROM (SELECT 1 FROM "{table}" WHERE ts >= %(start)s AND ts < %(end)s
                                                AND {_STALE} LIMIT %(limit)s) s""",
                    {"start": start, "end": end, "version": RULES_VERSION, "limit": limit})
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
    A rewrite leaves the replaced partition detached, for ``drop_replaced`` once committed.
    """
    start, end = day_bounds(day)
    # Counted in the day's own partition: a read through agent_errors would hold a lock that the
    # swap of a day rewritten beside this one (DETACH, exclusive on agent_errors) waits for,
    # while this day's own swap waits for that one: the two would deadlock.
    part = day_partition(conn, day)
    stale = stale_rows(conn, start, end, limit=REWRITE_MIN_ROWS, table=part or "agent_errors")
    if stale == 0:
        return 0
    if part is not None and stale >= REWRITE_MIN_ROWS:
        from psycopg2 import errors

        with conn.cursor() as cur:
            cur.execute("SAVEPOINT skillsmith_rewrite")
        try:
            return rewrite_partition(conn, part, day)
        except errors.LockNotAvailable:
            with conn.cursor() as cur:
                cur.execute("ROLLBACK TO SAVEPOINT skillsmith_rewrite")
    return normalize_rows(conn, start, end)


def rewrite_partition(conn, part: str, day: date) -> int:
    """Write the day's partition anew with every row normalized by the current rules, swap it
    in and recount the day, in the caller's transaction; the rows that were stale.

    The day's rows are read once, grouped by (error, component, tags): the distinct pairs
    go to the batch normalizer, and the groups' sizes and times give the day's counts under
    the new fingerprints without reading the rows again. One CREATE TABLE ... AS joins the
    map into a new table, whose indexes are then built in bulk from the old partition's
    own definitions. Writes to the day wait (SHARE lock) from the first read to the swap,
    so none is lost.
    """
    from skillsmith_assets.normalize.batch import normalize_batch
    from skillsmith_assets.intake.bulk import copy_text

    new = f"{part}_rewrite"
    lo, hi = day_bounds(day)
    with conn.cursor() as cur:
        cur.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
        cur.execute(f"SET LOCAL work_mem = '{GROUPING_WORK_MEM}'")
        cur.execute(f'LOCK TABLE "{part}" IN SHARE MODE')
        cur.execute(f"""CREATE TEMP TABLE skillsmith_day_groups ON COMMIT DROP AS
                        SELECT error, component, tags, count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen,
                               count(*) FILTER (WHERE {_STALE}) AS stale
                          FROM "{part}" GROUP BY 1, 2, 3""", {"version": RULES_VERSION})
        cur.execute("SELECT DISTINCT error, component FROM skillsmith_day_groups")
        pairs = cur.fetchall()
        with _NORMALIZING:
            results = normalize_batch([p[0] for p in pairs], [p[1] for p in pairs])
        cur.execute("CREATE TEMP TABLE skillsmith_day_map (error text, component text, has_component boolean, "
                    "norm text, kind text, fp uuid) ON COMMIT DROP")
        cur.copy_expert("COPY skillsmith_day_map FROM STDIN", io.StringIO("".join(
            f"{copy_text(error)}\t{copy_text(component or '')}\t{'f' if component is None else 't'}\t"
            f"{copy_text(r.norm_error)}\t{copy_text(r.kind)}\t{r.fingerprint}\n"
            for (error, component), r in zip(pairs, results))))
        del pairs, results
        cur.execute("ANALYZE skillsmith_day_map")
        _create_renormalized(cur, part, new, lo, hi)
        _copy_indexes(cur, part, new)
        cur.execute(f'ALTER TABLE agent_errors DETACH PARTITION "{part}"')
        cur.execute(f'ALTER TABLE agent_errors ATTACH PARTITION "{new}" FOR VALUES FROM (%s) TO (%s)', (lo, hi))
        cur.execute(f'DROP TABLE IF EXISTS "{part}{REPLACED}"')  # left by a run that stopped before dropping it
        cur.execute(f'ALTER TABLE "{part}" RENAME TO "{part}{REPLACED}"')
        cur.execute(f'ALTER TABLE "{new}" RENAME TO "{part}"')
        cur.execute(f'ALTER TABLE "{part}" DROP CONSTRAINT "{new}_day"')
    store_day_counts(conn, day, f"""
        SELECT m.fp AS fingerprint, g.tags, sum(g.n) AS n, min(g.component) AS component, min(m.kind) AS kind,
               min(m.norm) AS norm_error, min(g.first_seen) AS first_seen, max(g.last_seen) AS last_seen
          FROM skillsmith_day_groups g JOIN skillsmith_day_map m ON {_SAME_PAIR.format(row="g")}
         GROUP BY m.fp, g.tags""", {})
    with conn.cursor() as cur:
        cur.execute("SELECT sum(stale) FROM skillsmith_day_groups")
        stale = int(cur.fetchone()[0] or 0)
        cur.execute("DROP TABLE skillsmith_day_groups, skillsmith_day_map")
    return stale


# A rewritten day's old partition, detached: dropping it costs about as long as its files take to
# release (0.6 s for a 1M-row day), so it is dropped after the day commits, beside the next day's work.
REPLACED = "_replaced"


def replaced_tables(conn) -> list[str]:
    """The replaced partitions that exist (to this transaction) and await their drop."""
    with conn.cursor() as cur:
        cur.execute("""SELECT c.relname FROM pg_class c
                        WHERE c.relname ~ ('^agent_errors_[0-9]{8}' || %s || '$') AND c.relkind = 'r'
                          AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'agent_errors'::regclass)
                          AND NOT c.relispartition ORDER BY 1""", (REPLACED,))
        return [name for (name,) in cur.fetchall()]


def drop_replaced(conn, names: list[str]) -> None:
    """Drop replaced partitions (never anything still part of agent_errors)."""
    with conn.cursor() as cur:
        for name in names:
            if not name.endswith(REPLACED):
                raise ValueError(f"{name} is not a replaced partition")
            cur.execute(f'DROP TABLE IF EXISTS "{name}"')


class ReplacedDrops:
    """Drops a rewritten day's replaced partition on a connection and thread of its own, so
    that releasing its files overlaps the next day's work; waits for every drop on exit."""

    def __init__(self, connection):
        self.connection = connection
        self.pool = None
        self.pending = []

    def __enter__(self):
        return self

    def submit(self, names: list[str]) -> None:
        if not names:
            return
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skillsmith-drop")
        self.pending.append(self.pool.submit(self._drop, names))

    def _drop(self, names: list[str]) -> None:
        with self.connection() as conn:
            drop_replaced(conn, names)

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            if exc[0] is None:  # a failed drop fails the run: the table would stay and hold its disk
                for future in self.pending:
                    future.result()


# The columns a rewrite gives new values, from the day's map (m); every other column is copied.
RENORMALIZED = {"norm_error": "m.norm", "fingerprint": "m.fp", "kind": "m.kind",
                "normalizer_version": "%(version)s::integer"}


def _create_renormalized(cur, part: str, new: str, lo: datetime, hi: datetime) -> None:
    """Create ``new`` as the partition's rows joined with the day's map, then give it the
    partition's NOT NULLs and defaults, and the day's constraint (which lets ATTACH skip
    scanning it). CREATE TABLE AS writes in bulk, markedly faster than INSERT ... SELECT
    into a table made beforehand; its constraints then cost one scan."""
    from psycopg2.extensions import quote_ident

    cur.execute("""SELECT a.attname, a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
                     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                    WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
                    ORDER BY a.attnum""", (f'"{part}"',))
    columns = [(quote_ident(name, cur), name, not_null, default) for name, not_null, default in cur.fetchall()]
    select = ", ".join(f"{RENORMALIZED.get(name, f'e.{quoted}')} AS {quoted}" for quoted, name, _, _ in columns)
    cur.execute(f'CREATE TABLE "{new}" AS SELECT {select} FROM "{part}" e JOIN skillsmith_day_map m '
                f'ON {_SAME_PAIR.format(row="e")}', {"version": RULES_VERSION})
    changes = [cur.mogrify(f'ADD CONSTRAINT "{new}_day" CHECK (ts >= %s AND ts < %s)', (lo, hi)).decode()]
    changes += [f"ALTER {quoted} SET NOT NULL" for quoted, _, not_null, _ in columns if not_null]
    changes += [f"ALTER {quoted} SET DEFAULT {default}" for quoted, _, _, default in columns if default]
    cur.execute(f'ALTER TABLE "{new}" ' + ", ".join(changes))  # no parameters: a '%' stays as it is


# A row (or group) and its pair in the day's map: a hash join on the pair, where NULL and ''
# are different components, so both are in the key.
_SAME_PAIR = ("m.error = {row}.error AND m.component = coalesce({row}.component, '') "
              "AND m.has_component = ({row}.component IS NOT NULL)")


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
