"""Set-based steps from raw events to ranked candidates, one SQL statement each.

Plain Python over a DB-API connection: the CLI, the demo and the Dagster
assets all call these. Days are UTC dates; every write is delete-then-insert
for the slice it owns, so re-running a step is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone


# Memory for hashing a day's groups (a hash that outgrows it spills to disk, it does not fail).
GROUPING_WORK_MEM = "64MB"

# Impact weights: recent hits count more than the month's.
IMPACT_WEIGHT_7D = 0.7
IMPACT_WEIGHT_30D = 0.3


def serialize_mining(conn) -> None:
    """Hold the mining lock until the transaction ends: two runs never rewrite the rollups at once."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('skillsmith-mining'))")


def serialize_counts(conn) -> None:
    """Hold the counts lock until the transaction ends: two transactions that consume deltas would
    lock their rows in different orders (days re-normalized side by side, or a tick beside them)."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('skillsmith-counts'))")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def count_day(conn, day: date) -> int:
    """Recount one day from its rows (a repair; mining adds deltas instead); returns the fingerprints.

    The day's pending deltas are dropped in the same statement that counts its rows, so
    the two agree on which rows exist (one snapshot) and nothing is counted twice.
    """
    start, end = day_bounds(day)
    return store_day_counts(conn, day, """
        SELECT fingerprint, tags, count(*) AS n, min(component) AS component, min(kind) AS kind,
               min(norm_error) AS norm_error, min(ts) AS first_seen, max(ts) AS last_seen
          FROM agent_errors
         WHERE ts >= %(start)s AND ts < %(end)s AND fingerprint IS NOT NULL
         GROUP BY fingerprint, tags""", {"start": start, "end": end})


def store_day_counts(conn, day: date, groups_sql: str, params: dict) -> int:
    """Replace the day's counts (and drop its pending deltas) with the sums of ``groups_sql``: rows
    of (fingerprint, tags, n, component, kind, norm_error, first_seen, last_seen), one pass over
    the day. Returns the fingerprints counted."""
    serialize_counts(conn)
    with conn.cursor() as cur:
        # A day holds few (fingerprint, tags) groups, but the planner cannot tell: with the default
        # work_mem it sorts the day's rows, spilling them to disk, instead of hashing the groups.
        cur.execute(f"SET LOCAL work_mem = '{GROUPING_WORK_MEM}'")
        cur.execute("DELETE FROM error_daily_counts WHERE day = %s", (day,))
        cur.execute(
            f"""
            WITH consumed AS (DELETE FROM error_count_deltas WHERE day = %(day)s),
            g AS ({groups_sql}),
            tagged AS (SELECT fingerprint, array_agg(DISTINCT t ORDER BY t) AS tags
                         FROM g, unnest(g.tags) AS t GROUP BY fingerprint)
            INSERT INTO error_daily_counts (day, fp, component, kind, norm_msg, hits, first_seen, last_seen, tags)
            SELECT %(day)s, s.fingerprint, s.component, s.kind, s.norm_error, s.n, s.first_seen, s.last_seen,
                   coalesce(t.tags, '{{}}')
              FROM (SELECT fingerprint, min(component) AS component, min(kind) AS kind,
                           min(norm_error) AS norm_error, sum(n) AS n, min(first_seen) AS first_seen,
                           max(last_seen) AS last_seen
                      FROM g GROUP BY fingerprint) s
              LEFT JOIN tagged t USING (fingerprint)
            """,
            {"day": day, **params},
        )
        return cur.rowcount


# Adds every pending delta into the daily counts in one statement (one snapshot): the deltas it
# deletes are exactly the ones it adds. A (day, fingerprint) left with no hits is removed.
_APPLY_DELTAS = """
WITH d AS (DELETE FROM error_count_deltas RETURNING *),
sums AS (
    SELECT day, fp, min(component) AS component, min(kind) AS kind, min(norm_msg) AS norm_msg, sum(hits) AS hits,
           -- rows that went away (negative hits) never widen first/last seen
           coalesce(min(first_seen) FILTER (WHERE hits > 0), min(first_seen)) AS first_seen,
           coalesce(max(last_seen) FILTER (WHERE hits > 0), max(last_seen)) AS last_seen
      FROM d GROUP BY day, fp
),
tagged AS (
    SELECT day, fp, array_agg(DISTINCT t ORDER BY t) AS tags FROM d, unnest(d.tags) AS t GROUP BY day, fp
)
INSERT INTO error_daily_counts AS c (day, fp, component, kind, norm_msg, hits, first_seen, last_seen, tags)
SELECT s.day, s.fp, s.component, s.kind, s.norm_msg, s.hits, s.first_seen, s.last_seen, coalesce(t.tags, '{}')
  FROM sums s LEFT JOIN tagged t USING (day, fp)
ON CONFLICT (day, fp) DO UPDATE SET
    hits = c.hits + excluded.hits,
    first_seen = CASE WHEN excluded.hits > 0 THEN least(c.first_seen, excluded.first_seen) ELSE c.first_seen END,
    last_seen = CASE WHEN excluded.hits > 0 THEN greatest(c.last_seen, excluded.last_seen) ELSE c.last_seen END,
    tags = CASE WHEN excluded.tags = '{}' THEN c.tags
                ELSE ARRAY(SELECT DISTINCT x FROM unnest(c.tags || excluded.tags) AS x ORDER BY x) END
RETURNING day, fp, hits
"""


def apply_count_deltas(conn) -> int:
    """Add the rows stored, changed or deleted since the last run into the daily counts.

    Returns the number of (day, fingerprint) counts touched. Its cost follows the
    changes, not the history: the 6-hourly tick reads no row of agent_errors here.
    """
    serialize_counts(conn)
    with conn.cursor() as cur:
        cur.execute(_APPLY_DELTAS)
        counts = cur.fetchall()
        emptied = [(day, fp) for day, fp, hits in counts if hits <= 0]
        if emptied:  # only counts this statement touched can have reached zero
            cur.execute("DELETE FROM error_daily_counts WHERE (day, fp) IN (SELECT * FROM unnest(%s::date[], %s::uuid[]))",
                        ([day for day, _ in emptied], [fp for _, fp in emptied]))
    return len(counts)


def rows_in_window(conn, start: datetime, end: datetime) -> int:
    """The rows of agent_errors in whole days [start, end), without reading them: the daily
    counts plus the pending deltas are exactly the rows with a fingerprint, and the rows
    still without one are found through their (normally empty) partial index."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT coalesce((SELECT sum(hits) FROM error_daily_counts WHERE day >= %(d0)s AND day < %(d1)s), 0)
                    + coalesce((SELECT sum(hits) FROM error_count_deltas WHERE day >= %(d0)s AND day < %(d1)s), 0)
                    + (SELECT count(*) FROM agent_errors
                        WHERE ts >= %(start)s AND ts < %(end)s AND fingerprint IS NULL)""",
            {"d0": start.date(), "d1": end.date(), "start": start, "end": end},
        )
        return int(cur.fetchone()[0])


def refresh_signatures(conn, as_of: datetime) -> int:
    """Roll the daily counts of the 30 days up to ``as_of`` into error_signatures."""
    today = as_of.astimezone(timezone.utc).date()
    with conn.cursor() as cur:
        cur.execute("DELETE FROM error_signatures")
        cur.execute(
            """
            WITH s AS (SELECT fp, min(component) AS component, min(kind) AS kind, min(norm_msg) AS norm_msg,
                              sum(hits) AS hits_30d, coalesce(sum(hits) FILTER (WHERE day > %(d7)s), 0) AS hits_7d,
                              min(first_seen) AS first_seen, max(last_seen) AS last_seen
                         FROM error_daily_counts WHERE day > %(d30)s AND day <= %(today)s GROUP BY fp),
            -- each fingerprint's distinct tags first (a hash), then a small sort: sorting every
            -- (fingerprint, tag) of 30 days for array_agg(DISTINCT ...) was most of the rollup
            tagged AS (SELECT fp, array_agg(t ORDER BY t) AS tags
                         FROM (SELECT DISTINCT c.fp, t FROM error_daily_counts c, unnest(c.tags) AS t
                                WHERE c.day > %(d30)s AND c.day <= %(today)s) d GROUP BY fp)
            INSERT INTO error_signatures (fp, component, kind, norm_msg, hits_30d, hits_7d, tags,
                                          first_seen, last_seen, trend, pattern, pattern_size, pattern_template, as_of)
            SELECT s.fp, s.component, s.kind, s.norm_msg, s.hits_30d, s.hits_7d, coalesce(t.tags, '{}'),
                   s.first_seen, s.last_seen,
                   round((s.hits_7d * 30.0 / 7.0 / greatest(s.hits_30d, 1))::numeric, 3),
                   s.fp::text, 1, s.norm_msg, %(as_of)s
              FROM s LEFT JOIN tagged t USING (fp)
            """,
            {"d7": today - timedelta(days=7), "d30": today - timedelta(days=30), "today": today, "as_of": as_of},
        )
        return cur.rowcount


def signature_rows(conn) -> list[tuple]:
    """(fp, kind, component, norm_msg, hits_30d, first_seen) of every signature, in a stable order."""
    with conn.cursor() as cur:
        cur.execute("SELECT fp::text, kind, component, norm_msg, hits_30d, first_seen FROM error_signatures "
                    "ORDER BY fp")
        return cur.fetchall()


def assign_patterns(conn, assignments: list[tuple[str, str, str]]) -> None:
    """Store (fp, pattern id, pattern template) for each signature, with the pattern sizes."""
    import io

    from skillsmith_assets.intake.bulk import copy_text

    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS skillsmith_patterns (fp uuid, pattern text, template text) "
                    "ON COMMIT DROP")
        buffer = io.StringIO()
        for fp, pattern, template in assignments:
            buffer.write(f"{fp}\t{copy_text(pattern)}\t{copy_text(template)}\n")
        buffer.seek(0)
        cur.copy_expert("COPY skillsmith_patterns (fp, pattern, template) FROM STDIN", buffer)
        cur.execute(
            """UPDATE error_signatures s SET pattern = p.pattern, pattern_template = p.template,
                      pattern_size = sizes.n
                 FROM skillsmith_patterns p
                 JOIN (SELECT pattern, count(*) AS n FROM skillsmith_patterns GROUP BY pattern) sizes
                   ON sizes.pattern = p.pattern
                WHERE s.fp = p.fp"""
        )
        cur.execute("DROP TABLE skillsmith_patterns")


@dataclass(frozen=True)
class CandidateRules:
    min_hits: int = 2  # on 7-day hits
    top_n: int = 50
    weight_7d: float = IMPACT_WEIGHT_7D
    weight_30d: float = IMPACT_WEIGHT_30D


# The top ``top_n`` patterns by impact over the 30-day signatures (a pattern key is the pattern
# id, or the fingerprint of a signature not yet assigned one).
RANKED_PATTERNS = """
    WITH keyed AS (
        SELECT s.*, coalesce(s.pattern, s.fp::text) AS pkey FROM error_signatures s
    ), patterns AS (
        SELECT s.pkey AS pattern,
               (array_agg(s.fp ORDER BY s.hits_30d DESC, s.fp))[1] AS fp,
               min(s.component) AS component, min(s.kind) AS kind,
               min(coalesce(s.pattern_template, s.norm_msg)) AS norm_msg,
               sum(s.hits_30d) AS hits_30d, sum(s.hits_7d) AS hits_7d,
               coalesce((SELECT array_agg(DISTINCT t ORDER BY t)
                           FROM keyed s2, unnest(s2.tags) t WHERE s2.pkey = s.pkey), '{}') AS tags,
               min(s.first_seen) AS first_seen, max(s.last_seen) AS last_seen,
               count(*) AS pattern_size, max(s.as_of) AS as_of
          FROM keyed s
         GROUP BY s.pkey
    ), ranked AS (
        SELECT p.*, round((hits_7d * %(w7)s + hits_30d * %(w30)s)::numeric, 2)::float8 AS impact,
               row_number() OVER (ORDER BY hits_7d * %(w7)s + hits_30d * %(w30)s DESC, fp) AS rnk
          FROM patterns p WHERE hits_7d >= %(min_hits)s
    ), top AS (
        SELECT * FROM ranked WHERE rnk <= %(top_n)s
    )"""


def _ranking_params(rules: CandidateRules) -> dict:
    return {"w7": rules.weight_7d, "w30": rules.weight_30d, "min_hits": rules.min_hits, "top_n": rules.top_n}


def top_pattern_messages(conn, rules: CandidateRules = CandidateRules(), per_pattern: int = 20) -> list[tuple]:
    """(pattern key, component, up to ``per_pattern`` of its normalized messages, most hits first)
    for each of the top ``top_n`` patterns: what a skill's match rule is tested against."""
    with conn.cursor() as cur:
        cur.execute(
            RANKED_PATTERNS + """
            SELECT t.pattern, t.component,
                   (SELECT array_agg(k.norm_msg ORDER BY k.hits_30d DESC, k.fp)
                      FROM (SELECT * FROM keyed k WHERE k.pkey = t.pattern
                             ORDER BY k.hits_30d DESC, k.fp LIMIT %(per_pattern)s) k)
              FROM top t ORDER BY t.rnk
            """,
            {**_ranking_params(rules), "per_pattern": per_pattern},
        )
        return cur.fetchall()


def refresh_candidates(conn, rules: CandidateRules = CandidateRules(),
                       covered_fingerprints: tuple[str, ...] = (), covered_patterns: tuple[str, ...] = ()) -> int:
    """The ``top_n`` patterns by impact, minus those a skill already covers, into error_candidates.

    ``top_n`` cuts the whole ranking *before* covered patterns are dropped, so mining
    unchanged data again proposes nothing new, and a rejection does not pull the next
    pattern in. A pattern is covered when its key, or any of its fingerprints, belongs
    to a skill (approved, proposed or rejected).
    """
    with conn.cursor() as cur:
        cur.execute("DELETE FROM error_candidates")
        cur.execute(
            RANKED_PATTERNS + """, covered AS (
                SELECT DISTINCT pkey AS pattern FROM keyed
                 WHERE fp::text = ANY(%(fps)s) OR pkey = ANY(%(patterns)s)
            )
            INSERT INTO error_candidates (fp, component, kind, norm_msg, hits_30d, hits_7d, tags, impact_score,
                                          rank, first_seen, last_seen, pattern, pattern_size, as_of)
            SELECT fp, component, kind, norm_msg, hits_30d, hits_7d, tags, impact, rnk,
                   first_seen, last_seen, pattern, pattern_size, as_of
              FROM top WHERE pattern NOT IN (SELECT pattern FROM covered)
            """,
            {**_ranking_params(rules), "fps": list(covered_fingerprints), "patterns": list(covered_patterns)},
        )
        return cur.rowcount


def candidate_evidence(conn, max_samples: int = 3, max_fingerprints: int = 50) -> list[dict]:
    """Each candidate with its pattern's samples and fingerprints, by rank."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT c.fp::text, c.component, c.kind, c.norm_msg, c.hits_7d, c.hits_30d, c.impact_score,
                   c.first_seen, c.last_seen, c.pattern, c.pattern_size,
                   (SELECT array_agg(norm_msg ORDER BY hits_30d DESC, fp) FROM (
                        SELECT DISTINCT ON (norm_msg) norm_msg, hits_30d, fp FROM error_signatures s
                         WHERE coalesce(s.pattern, s.fp::text) = c.pattern ORDER BY norm_msg, hits_30d DESC) d
                   ) AS samples,
                   (SELECT array_agg(fp::text ORDER BY hits_30d DESC, fp) FROM error_signatures s
                     WHERE coalesce(s.pattern, s.fp::text) = c.pattern) AS fingerprints
              FROM error_candidates c ORDER BY c.rank
            """
        )
        cols = [col.name for col in cur.description]
        rows = [dict(zip(cols, row)) for row in cur.fetchall()]
    for row in rows:
        row["samples"] = (row["samples"] or [])[:max_samples]
        row["fingerprints"] = (row["fingerprints"] or [])[:max_fingerprints]
    return rows


def other_pattern_samples(conn, component: str | None, pattern: str, limit: int = 2000) -> list[str]:
    """Normalized messages of other patterns in the same component: a regex must not match them."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT norm_msg FROM error_signatures
                WHERE component IS NOT DISTINCT FROM %s AND coalesce(pattern, fp::text) <> %s
                ORDER BY hits_30d DESC, fp LIMIT %s""",
            (component, pattern, limit),
        )
        return [row[0] for row in cur.fetchall()]


def top_candidates(conn, limit: int = 10) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT rank, kind, component, norm_msg, hits_7d, hits_30d, impact_score, fp
                 FROM error_candidates ORDER BY rank LIMIT %s""",
            (limit,),
        )
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]
