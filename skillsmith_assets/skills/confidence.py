"""How far each deployed skill can be trusted, learned from the outcomes the runtime records.

The statistic is the **Wilson score lower bound at 95 %** (z = 1.96) of the success
rate: the success rate we are 95 % sure the skill beats, given how many times it has
been used. A raw ratio would call a skill that worked three times out of three
"100 %"; its Wilson lower bound is 0.44, and it takes 35 clean uses in a row to pass
0.9. An unused skill has confidence 0.

What counts, per kind:

- guardrail: success = ``prevented``; failure = ``false_positive``;
- fixer: success = ``fixed``; failure = ``fix_failed`` or ``false_positive``;
- ``dry_run_diff`` is evidence for reviewers, not a result, so it is counted but
  moves neither way.

A skill is flagged for retirement when it has at least ``min_outcomes`` judged uses and
its confidence is below ``threshold`` (defaults 5 and 0.3): with five uses that means
at most three successes. Flagging does not change any file: a person retires a
skill by setting ``status: retired`` and running ``skillsmith retrain``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

Z_95 = 1.96
DEFAULT_THRESHOLD = 0.3
DEFAULT_MIN_OUTCOMES = 5

SUCCESS = {"guardrail": ("prevented",), "fixer": ("fixed",)}
FAILURE = {"guardrail": ("false_positive",), "fixer": ("fix_failed", "false_positive")}


def wilson_lower_bound(successes: int, trials: int, z: float = Z_95) -> float:
    """The lower end of the Wilson score interval for ``successes`` out of ``trials``; 0 when untried."""
    if trials <= 0:
        return 0.0
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, (centre - margin) / (1 + z2 / trials))


def kind_of(skill_id: str) -> str:
    return "fixer" if skill_id.upper().startswith("FX-") else "guardrail"


@dataclass(frozen=True)
class SkillConfidence:
    skill_id: str
    kind: str
    successes: int
    failures: int
    dry_runs: int
    confidence: float
    flagged: bool
    last_used: datetime | None = None

    @property
    def trials(self) -> int:
        return self.successes + self.failures


def score(counts: dict[str, int], skill_id: str, threshold: float = DEFAULT_THRESHOLD,
          min_outcomes: int = DEFAULT_MIN_OUTCOMES, last_used: datetime | None = None) -> SkillConfidence:
    """Confidence of one skill from its outcome counts (``{"prevented": 12, "false_positive": 1}``)."""
    kind = kind_of(skill_id)
    successes = sum(counts.get(o, 0) for o in SUCCESS[kind])
    failures = sum(counts.get(o, 0) for o in FAILURE[kind])
    conf = wilson_lower_bound(successes, successes + failures)
    flagged = successes + failures >= min_outcomes and conf < threshold
    return SkillConfidence(skill_id, kind, successes, failures, counts.get("dry_run_diff", 0), conf, flagged, last_used)


def outcome_counts(conn) -> dict[str, tuple[dict[str, int], datetime | None]]:
    """Per skill: outcome -> count, and when it was last used."""
    with conn.cursor() as cur:
        cur.execute("SELECT skill_id, outcome, count(*), max(ts) FROM skill_outcomes GROUP BY skill_id, outcome")
        rows = cur.fetchall()
    found: dict[str, tuple[dict[str, int], datetime | None]] = {}
    for skill_id, outcome, count, last in rows:
        counts, seen = found.get(skill_id, ({}, None))
        counts[outcome] = int(count)
        found[skill_id] = (counts, max(filter(None, [seen, last]), default=None))
    return found


def skill_confidences(conn, skill_ids=(), threshold: float = DEFAULT_THRESHOLD,
                      min_outcomes: int = DEFAULT_MIN_OUTCOMES) -> list[SkillConfidence]:
    """Every skill with outcomes, plus ``skill_ids`` (the deployed ones) even if never used; lowest first."""
    found = outcome_counts(conn)
    ids = sorted(set(found) | set(skill_ids))
    scored = [score(found.get(s, ({}, None))[0], s, threshold, min_outcomes, found.get(s, ({}, None))[1]) for s in ids]
    return sorted(scored, key=lambda c: (c.confidence, c.skill_id))


def fix_rate(fixed: int, failed: int) -> float:
    """fixed / (fixed + failed): the one definition, for the metrics and the confidence asset.
    NaN (shown as n/a) when no fix was tried: 0 would read as "every fix failed"."""
    return fixed / (fixed + failed) if fixed + failed else math.nan


def outcome_metrics(conn, days: int | None = None) -> dict[str, float | int]:
    """The learning metrics: errors prevented and ``fix_rate``, all time or over the last ``days``."""
    where, params = ("WHERE ts >= now() - make_interval(days => %s)", (days,)) if days else ("", ())
    with conn.cursor() as cur:
        cur.execute(f"SELECT outcome, count(*) FROM skill_outcomes {where} GROUP BY outcome", params)
        counts = {outcome: int(n) for outcome, n in cur.fetchall()}
    fixed, failed = counts.get("fixed", 0), counts.get("fix_failed", 0)
    return {
        "errors_prevented": counts.get("prevented", 0),
        "fixes_applied": fixed,
        "fixes_failed": failed,
        "fix_rate": fix_rate(fixed, failed),
        "dry_run_diffs": counts.get("dry_run_diff", 0),
        "false_positives": counts.get("false_positive", 0),
    }
