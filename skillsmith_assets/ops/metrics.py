"""The six monitoring metrics, from the error store and the skills folder.

Plain Python (no Dagster): the ``skillsmith_metrics`` asset records them as numeric
metadata (the UI plots them run over run) and ``skillsmith stats`` prints them.
Every metric is "as of" one instant (``now``), so a run and a test agree. The keys are
stable (they name the metadata series in the UI); what each counts is README's Metrics
table, in short in ``DESCRIPTIONS``. ``fix_rate_30d`` looks back further than the
others because fixers run rarely, and a rate over a handful of runs is noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from skillsmith_assets import paths
from skillsmith_assets.skills.confidence import fix_rate
from skillsmith_assets.skills.catalog import read_skill_files

METRIC_KEYS = (
    "error_volume_7d",
    "pattern_diversity_7d",
    "proposals_per_week",
    "approval_rate",
    "errors_prevented_7d",
    "fix_rate_30d",
)
SUPPORTING_KEYS = ("skills_approved", "skills_rejected", "proposals_pending", "fix_attempts_30d")

DESCRIPTIONS = {
    "error_volume_7d": "errors recorded in the last 7 days",
    "pattern_diversity_7d": "distinct fingerprints among them",
    "proposals_per_week": "skill proposals made in the last 7 days",
    "approval_rate": "approved / (approved + rejected), all decisions",
    "errors_prevented_7d": "guardrail blocks (outcome 'prevented') in the last 7 days",
    "fix_rate_30d": "fixed / (fixed + fix_failed), last 30 days",
    "skills_approved": "generated skills approved into skills/",
    "skills_rejected": "proposals rejected (skills/rejected/)",
    "proposals_pending": "proposals awaiting review (skills/proposed/)",
    "fix_attempts_30d": "fixer applications in the last 30 days",
}

_PROPOSED_AT_KEYS = ("proposed_at", "generated_at", "created_at")
_DECIDED_AT_KEYS = ("approved_at", "rejected_at", "decided_at", "at")


@dataclass(frozen=True)
class SkillFile:
    path: Path
    place: str  # "proposed" | "approved" | "rejected" | "other"
    proposed_at: datetime
    generated: bool


def _parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    from datetime import date

    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return None


def _first_time(doc: dict, keys) -> datetime | None:
    """The first timestamp found under ``keys`` at the top level, in ``metadata``,
    or in the ``rejection`` / ``approval`` records (``skillsmith reject`` writes ``rejection.at``)."""
    sources = [doc] + [doc[k] for k in ("metadata", "rejection", "approval") if isinstance(doc.get(k), dict)]
    for key in keys:
        for source in sources:
            found = _parse_time(source.get(key))
            if found:
                return found
    return None


def dated_skill_files(skills_root: Path | None = None) -> list[SkillFile]:
    """Every skill file with where it is and when it was proposed (see the module doc);
    an unreadable file still counts by its place."""
    root = Path(skills_root) if skills_root else paths.skills_dir()
    places = [(root / "proposed", "proposed"), (root / "rejected", "rejected"), (root, None)]
    found = []
    for directory, place in places:
        for path, doc, _ in read_skill_files(directory):
            doc = doc if isinstance(doc, dict) else {}
            if place is None:
                place_here = "approved" if doc.get("status") == "approved" else "other"
            else:
                place_here = place
            meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
            when = _first_time(doc, _PROPOSED_AT_KEYS) or _first_time(doc, _DECIDED_AT_KEYS)
            if when is None:
                when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            found.append(SkillFile(path, place_here, when, meta.get("auto_generated") is not False))
    return found


def skill_metrics(now: datetime, skills_root: Path | None = None) -> dict[str, float]:
    files = [f for f in dated_skill_files(skills_root) if f.generated]
    approved = sum(1 for f in files if f.place == "approved")
    rejected = sum(1 for f in files if f.place == "rejected")
    pending = sum(1 for f in files if f.place == "proposed")
    week_ago = now - timedelta(days=7)
    recent = sum(1 for f in files if f.place in ("proposed", "approved", "rejected") and week_ago < f.proposed_at <= now)
    decided = approved + rejected
    return {
        "proposals_per_week": float(recent),
        "approval_rate": approved / decided if decided else math.nan,
        "skills_approved": approved,
        "skills_rejected": rejected,
        "proposals_pending": pending,
    }


_DB_SQL = """
SELECT
  (SELECT count(*) FROM agent_errors WHERE ts > %(now)s - interval '7 days' AND ts <= %(now)s),
  (SELECT count(DISTINCT fingerprint) FROM agent_errors
     WHERE ts > %(now)s - interval '7 days' AND ts <= %(now)s AND fingerprint IS NOT NULL),
  (SELECT count(*) FROM skill_outcomes
     WHERE outcome = 'prevented' AND ts > %(now)s - interval '7 days' AND ts <= %(now)s),
  (SELECT count(*) FROM skill_outcomes
     WHERE outcome = 'fixed' AND ts > %(now)s - interval '30 days' AND ts <= %(now)s),
  (SELECT count(*) FROM skill_outcomes
     WHERE outcome = 'fix_failed' AND ts > %(now)s - interval '30 days' AND ts <= %(now)s)
"""


def database_metrics(conn, now: datetime) -> dict[str, float]:
    """The error-store metrics in one round trip (index on ``agent_errors.ts``)."""
    with conn.cursor() as cur:
        cur.execute(_DB_SQL, {"now": now})
        volume, diversity, prevented, fixed, failed = cur.fetchone()
    attempts = fixed + failed
    return {
        "error_volume_7d": int(volume),
        "pattern_diversity_7d": int(diversity),
        "errors_prevented_7d": int(prevented),
        "fix_rate_30d": fix_rate(fixed, failed),
        "fix_attempts_30d": int(attempts),
    }


def compute(conn, now: datetime | None = None, skills_root: Path | None = None) -> dict[str, float]:
    """All metrics, keyed as ``METRIC_KEYS`` then ``SUPPORTING_KEYS``."""
    now = now or datetime.now(timezone.utc)
    values = {**database_metrics(conn, now), **skill_metrics(now, skills_root)}
    return {key: values[key] for key in (*METRIC_KEYS, *SUPPORTING_KEYS)}


def format_value(key: str, value) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if key in ("approval_rate", "fix_rate_30d"):
        return f"{value:.1%}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}"
    return str(int(value))


def last_error_at(conn) -> datetime | None:
    """When the newest error in ``agent_errors`` happened (the freshness check's input)."""
    with conn.cursor() as cur:
        cur.execute("SELECT max(ts) FROM agent_errors")
        (last,) = cur.fetchone()
    return last
