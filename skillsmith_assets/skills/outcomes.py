"""What happened when a skill was used, kept in ``skill_outcomes``: the input of confidence.

A database that is down costs one warning, never the agent's run.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("skillsmith.runtime")

OUTCOMES = ("prevented", "fixed", "fix_failed", "dry_run_diff", "false_positive")
MAX_DETAIL_CHARS = 20_000


class OutcomeLog:
    """One connection per process, opened on first use; ``enabled`` False records nothing."""

    def __init__(self, enabled: bool, database=None):
        self.enabled = enabled
        self._database = database
        self._conn = None
        self._warned = False
        self._lock = threading.Lock()

    def record(self, skill_id: str, fingerprint: str | None, outcome: str, detail: str | None = None) -> bool:
        """Insert one row into skill_outcomes; False (and a warning) when that is impossible."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if not self.enabled:
            return False
        if detail and len(detail) > MAX_DETAIL_CHARS:
            detail = detail[: MAX_DETAIL_CHARS - 20] + "\n… (truncated)"
        try:
            with self._lock:
                if self._conn is None or self._conn.closed:
                    from skillsmith_assets.store import db

                    self._conn = db.connect(self._database)
                    self._conn.autocommit = True
                with self._conn.cursor() as cur:
                    cur.execute(
                        "INSERT INTO skill_outcomes (skill_id, fingerprint, outcome, detail) VALUES (%s, %s, %s, %s)",
                        (skill_id, fingerprint, outcome, detail),
                    )
            return True
        except Exception as exc:  # the agent's work matters more than our bookkeeping
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:
                    pass
                self._conn = None
            if not self._warned:
                log.warning("skillsmith: could not record outcome %s of %s: %s", outcome, skill_id, exc)
                self._warned = True
            return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
