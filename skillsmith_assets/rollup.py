"""Set-based steps from raw events to ranked candidates, one SQL statement each.

Plain Python over a DB-API connection: the CLI, the demo and the Dagster
assets all call these. Days are UTC dates; every write is delete-then-insert
for the slice it owns, so re-running a step is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .normalize_rules import RULES_VERSION

# Placeholders a pattern's norm_msg may hold; impact weights as in the seed.
IMPACT_WEIGHT_7D = 0.7
IMPACT_WEIGHT_30D = 0.3


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def normalize_rows(conn, start: datetime, end: datetime) -> int:
    """Fill kind/norm_error/fingerprint for rows in [start, end) that lack them or are stale."""
    with conn.cursor() as cur:
        cur.execute(
            """
            UPDATE agent_errors AS e
               SET norm_error = n.norm,
                   kind = n.kind,
                   fingerprint = error_fingerprint_normalized(n.kind, e.component, n.norm),
                   normalizer_version = %(version)s
              FROM (SELECT id, norm, error_kind(norm) AS kind
                      FROM (SELECT id, normalize_error_message(error) AS norm
                              FROM agent_errors
                             WHERE ts >= %(start)s AND ts < %(end)s
                               AND (fingerprint IS NULL OR normalizer_version IS DISTINCT FROM %(version)s)) raw
                   ) AS n
             WHERE e.id = n.id
            """,
            {"start": start, "end": end, "version": RULES_VERSION},
        )
        return cur.rowcount


def count_day(conn, day: date) -> int:
    """Rewrite one day's per-fingerprint counts; returns the number of fingerprints."""
    start, end = day_bounds(day)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM error_daily_counts WHERE day = %s", (day,))
        cur.execute(
            """
            INSERT INTO error_daily_counts (day, fp, component, kind, norm_msg, hits, first_seen, last_seen, tags)
            SELECT %(day)s, e.fingerprint, min(e.component), min(e.kind), min(e.norm_error),
                   count(*), min(e.ts), max(e.ts),
                   coalesce((SELECT array_agg(DISTINCT t ORDER BY t)
                               FROM agent_errors e2, unnest(e2.tags) AS t
                              WHERE e2.fingerprint = e.fingerprint
                                AND e2.ts >= %(start)s AND e2.ts < %(end)s), '{}')
              FROM agent_errors e
             WHERE e.ts >= %(start)s AND e.ts < %(end)s AND e.fingerprint IS NOT NULL
             GROUP BY e.fingerprint
            """,
            {"day": day, "start": start, "end": end},
        )
        return cur.rowcount


def refresh_signatures(conn, as_of: datetime) -> int:
    """Roll the daily counts of the 30 days up to ``as_of`` into error_signatures."""
    today = as_of.astimezone(timezone.utc).date()
    with conn.cursor() as cur:
        cur.execute("DELETE FROM error_signatures")
        cur.execute(
            """
            INSERT INTO error_signatures (fp, component, kind, norm_msg, hits_30d, hits_7d, tags,
                                          first_seen, last_seen, trend, pattern, pattern_size, as_of)
            SELECT fp, min(component), min(kind), min(norm_msg),
                   sum(hits), coalesce(sum(hits) FILTER (WHERE day > %(d7)s), 0),
                   coalesce((SELECT array_agg(DISTINCT t ORDER BY t)
                               FROM error_daily_counts c2, unnest(c2.tags) t
                              WHERE c2.fp = c.fp AND c2.day > %(d30)s AND c2.day <= %(today)s), '{}'),
                   min(first_seen), max(last_seen),
                   round((coalesce(sum(hits) FILTER (WHERE day > %(d7)s), 0) * 30.0 / 7.0
                          / greatest(sum(hits), 1))::numeric, 3),
                   fp::text, 1, %(as_of)s
              FROM error_daily_counts c
             WHERE day > %(d30)s AND day <= %(today)s
             GROUP BY fp
            """,
            {"d7": today - timedelta(days=7), "d30": today - timedelta(days=30), "today": today, "as_of": as_of},
        )
        return cur.rowcount


@dataclass(frozen=True)
class CandidateRules:
    min_hits: int = 2  # on 7-day hits
    top_n: int = 50
    weight_7d: float = IMPACT_WEIGHT_7D
    weight_30d: float = IMPACT_WEIGHT_30D


def refresh_candidates(conn, rules: CandidateRules = CandidateRules(), exclude_patterns: tuple[str, ...] = ()) -> int:
    """Rank signatures by impact into error_candidates, minus patterns already covered."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM error_candidates")
        cur.execute(
            """
            INSERT INTO error_candidates (fp, component, kind, norm_msg, hits_30d, hits_7d, tags, impact_score,
                                          rank, first_seen, last_seen, pattern, pattern_size, as_of)
            SELECT fp, component, kind, norm_msg, hits_30d, hits_7d, tags, impact, rnk,
                   first_seen, last_seen, pattern, pattern_size, as_of
              FROM (SELECT s.*, round((hits_7d * %(w7)s + hits_30d * %(w30)s)::numeric, 2)::float8 AS impact,
                           row_number() OVER (ORDER BY hits_7d * %(w7)s + hits_30d * %(w30)s DESC, fp) AS rnk
                      FROM error_signatures s
                     WHERE hits_7d >= %(min_hits)s AND NOT (pattern = ANY(%(excluded)s))) ranked
             WHERE rnk <= %(top_n)s
            """,
            {
                "w7": rules.weight_7d,
                "w30": rules.weight_30d,
                "min_hits": rules.min_hits,
                "top_n": rules.top_n,
                "excluded": list(exclude_patterns),
            },
        )
        return cur.rowcount


def days_with_events(conn, start: datetime, end: datetime) -> list[date]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM agent_errors WHERE ts >= %s AND ts < %s ORDER BY 1",
            (start, end),
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
