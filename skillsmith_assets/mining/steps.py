"""The mining steps, one function per asset, free of Dagster.

Each takes a DB-API connection (the caller commits) and returns the numbers
the asset reports. The Dagster assets in ``defs/mining.py`` only wire these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path

from skillsmith_assets.mining import renormalize, rollup
from skillsmith_assets.skills.classification import load_classifier
from skillsmith_assets.intake.inbox import load_day
from skillsmith_assets.store.partitions import DayPartitions, days_around
from skillsmith_assets.skills.proposals import Candidate, ProposalReport, write_proposals
from skillsmith_assets.mining.coverage import existing_coverage


def days_between(start: datetime, end: datetime) -> list[date]:
    """The UTC days of [start, end)."""
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass
class RawReport:
    events: int = 0  # rows of agent_errors in the window
    loaded: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def load_raw(connection, start: datetime, end: datetime, inbox: Path | None, today: date) -> RawReport:
    """Make the day partitions of the window and of the days ahead, load the window's archived
    files (if an inbox is set), then count the window's events.

    ``connection`` opens a transaction (a context manager): partitions are made in their own.
    """
    partitions = DayPartitions(connection)
    partitions.ensure(days_between(start, end) + days_around(today))
    report = RawReport()
    with connection() as conn:
        for day in days_between(start, end) if inbox is not None else ():
            ingest_report, names = load_day(conn, inbox, day, partitions)
            report.loaded += ingest_report.loaded
            report.duplicates += ingest_report.duplicates
            report.rejected += [f"{r.source}:{r.line}: {r.reason}" for r in ingest_report.rejected]
            report.files += names
        report.events = rollup.rows_in_window(conn, start, end)
    return report


# Days re-normalized side by side: one day's index builds and commit overlap the next day's
# reading and writing (six 1M-row days 1.19x faster than one at a time on two cores; three at
# a time no faster than two).
DAYS_IN_FLIGHT = 2


def normalize_window(connection, start: datetime, end: datetime,
                     in_flight: int = DAYS_IN_FLIGHT) -> tuple[int, int]:
    """Normalize the window's rows that are missing a fingerprint or stale (rows come normalized
    from ingest, so normally none), then add every change since the last run into the daily
    counts; (rows normalized, counts touched).

    ``connection`` opens a transaction (a context manager) on a connection of its own. Each
    day is one: a backfill after a rules change re-normalizes history a day at a time, each
    day's rows and counts committed together, so the 6-hourly tick runs between days instead
    of waiting for all; ``in_flight`` days at once, started in order. When a day fails, the
    days in flight end and no later day starts.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    upcoming = iter(days_between(start, end))
    width = max(1, in_flight)
    normalized = touched = 0
    with renormalize.ReplacedDrops(connection) as drops, \
            ThreadPoolExecutor(max_workers=width, thread_name_prefix="skillsmith-day") as pool:
        running = deque(pool.submit(_normalize_day, connection, day) for day in islice(upcoming, width))
        while running:
            rows, counts, replaced = running.popleft().result()
            normalized += rows
            touched += counts
            drops.submit(replaced)  # committed: dropped while later days are re-normalized
            running.extend(pool.submit(_normalize_day, connection, day) for day in islice(upcoming, 1))
    return normalized, touched


def _normalize_day(connection, day: date) -> tuple[int, int, list[str]]:
    """One day in its own transaction: (rows normalized, counts touched, replaced partitions)."""
    with connection() as conn:
        rows = renormalize.normalize_day(conn, day)
        counts = rollup.apply_count_deltas(conn)
        return rows, counts, renormalize.replaced_tables(conn)


def unnormalized_rows(conn, start: datetime, end: datetime) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM agent_errors WHERE ts >= %s AND ts < %s AND fingerprint IS NULL",
                    (start, end))
        return cur.fetchone()[0]


def build_signatures(conn, as_of: datetime) -> tuple[int, int]:
    """Roll up 30 days of counts, then merge fingerprints into patterns; (signatures, patterns)."""
    from skillsmith_assets.mining.patterns import merge_patterns

    rollup.serialize_mining(conn)
    count = rollup.refresh_signatures(conn, as_of)
    rows = rollup.signature_rows(conn)
    # A pattern's id comes from its earliest-seen signature, so it holds while the pattern grows.
    patterns = merge_patterns([(kind, component, norm) for _, kind, component, norm, _, _ in rows],
                              weights=[row[4] for row in rows],
                              first_seen=[row[5] for row in rows])
    rollup.assign_patterns(conn, [(row[0], p.id, p.template) for row, p in zip(rows, patterns)])
    return count, len({p.id for p in patterns})


def build_candidates(conn, rules: rollup.CandidateRules) -> tuple[int, list[str]]:
    """Rank patterns not yet covered by a skill; (candidates, unreadable skill files)."""
    rollup.serialize_mining(conn)
    coverage = existing_coverage()
    # A skill covers a pattern its match rule already fires on, whatever fingerprints the
    # current normalizer version gives it.
    matched = [key for key, component, messages in rollup.top_pattern_messages(conn, rules)
               if coverage.matches(component, messages or ())]
    count = rollup.refresh_candidates(conn, rules, tuple(coverage.fingerprints),
                                      tuple(coverage.patterns) + tuple(matched))
    return count, coverage.unreadable


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def build_proposals(conn) -> ProposalReport:
    """Write a proposal file for each candidate (unchanged files are left alone)."""
    rollup.serialize_mining(conn)
    classifier = load_classifier()
    candidates, others = [], {}
    for row in rollup.candidate_evidence(conn):
        candidates.append(Candidate(
            fp=row["fp"], component=row["component"], kind=row["kind"], template=row["norm_msg"],
            hits_7d=row["hits_7d"], hits_30d=row["hits_30d"], impact_score=row["impact_score"],
            first_seen=_iso(row["first_seen"]), last_seen=_iso(row["last_seen"]), pattern=row["pattern"],
            pattern_size=row["pattern_size"], samples=tuple(row["samples"]), fingerprints=tuple(row["fingerprints"]),
        ))
        others[row["pattern"]] = rollup.other_pattern_samples(conn, row["component"], row["pattern"])
    return write_proposals(candidates, classifier, others)
