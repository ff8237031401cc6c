"""The library agents import to use deployed skills: match an error, block it or fix it, report back.

```python
from skillsmith_assets.skills import runtime

hit = runtime.match({"error": str(exc), "component": "odoo.addons.sale"})
if hit and hit.kind == "guardrail":
    raise RuntimeError(runtime.guard(hit))           # the block message; records "prevented"
if hit and hit.kind == "fixer":
    result = runtime.fix(hit, "/srv/odoo-addons")    # FixResult; records fixed / fix_failed / dry_run_diff
```

Why it is shaped this way:

- The registry (``skills/registry.json``, built by ``skillsmith retrain``) is loaded
  once per process; without one, the valid skills in ``skills/`` are compiled in
  memory so a fresh checkout still works.
- An event is normalized the way it was when the skill was mined, then matched:
  its fingerprint first (exact, a dictionary look-up), else the component and
  ``message_regex`` searched in the normalized message, specific skills first.
- An autopatch is someone's code and runs in a child process with a time limit, on a
  copy of the repository. Only when it returns True in time are its changes copied
  back (file by file, each atomically); in dry-run mode the copy's diff is reported
  instead. A patch that raises, hangs or exits never crashes the caller and never
  leaves a half-patched repository.
- Outcomes go to ``skill_outcomes`` when a database is configured
  (``SKILLSMITH_DATABASE_URL`` or ``SUPABASE_DB_*``, or ``Runtime(record_outcomes=True)``
  for the embedded one). A database that is down costs a warning, never the agent's run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from skillsmith_assets import paths
from skillsmith_assets.skills.outcomes import OutcomeLog
from skillsmith_assets.skills.sandbox import (
    COPY_IGNORE, DEFAULT_TIMEOUT_SECONDS, changes, copy_back, run_autopatch, unified_diff,
)

log = logging.getLogger("skillsmith.runtime")


# ---------------------------------------------------------------- matching


@dataclass
class Match:
    """An approved skill that matches an event, with what to do about it."""

    skill_id: str
    name: str
    kind: str
    action: dict
    matched_by: str  # "fingerprint" or "regex"
    fingerprint: str  # the event's fingerprint
    norm_error: str
    skill: dict = field(repr=False, default_factory=dict)

    @property
    def message(self) -> str | None:
        """A guardrail's block message."""
        return self.action.get("message")

    @property
    def dry_run(self) -> bool:
        return bool(self.action.get("dry_run", True))

    def as_dict(self) -> dict:
        return {"id": self.skill_id, "name": self.name, "kind": self.kind, "action": self.action,
                "matched_by": self.matched_by, "fingerprint": self.fingerprint, "source": self.skill.get("source")}


@dataclass
class FixResult:
    """What a fixer did: outcome is fixed, fix_failed or dry_run_diff."""

    skill_id: str
    outcome: str
    dry_run: bool
    changed_files: list[str] = field(default_factory=list)
    diff: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("fixed", "dry_run_diff")


def _event_fields(event) -> tuple[str, str | None]:
    if isinstance(event, str):
        return event, None
    if not isinstance(event, dict):
        raise TypeError("an event is a dict with 'error' (and optional 'component'), or a message string")
    message = event.get("error", event.get("message"))
    if not isinstance(message, str):
        raise ValueError("the event has no 'error' string")
    component = event.get("component")
    return message, component if isinstance(component, str) and component else None


class Runtime:
    """Deployed skills for one process: load once, match many times."""

    def __init__(self, registry: dict | str | Path | None = None, record_outcomes: bool | None = None, database=None):
        self._registry_source = registry
        self._compiled: list[tuple[dict, re.Pattern]] | None = None
        self._by_fp: dict[str, dict] = {}
        self._lock = threading.Lock()
        if record_outcomes is None:
            record_outcomes = database is not None or bool(
                os.environ.get("SKILLSMITH_DATABASE_URL") or os.environ.get("SUPABASE_DB_HOST"))
        self.outcomes = OutcomeLog(record_outcomes, database)

    # -- registry
    def _load(self) -> None:
        from skillsmith_assets.skills import registry as reg

        source = self._registry_source
        if isinstance(source, dict):
            data = source
        elif source is not None:
            data = reg.load(Path(source))
        else:
            data = None
            if reg.registry_path().exists():
                try:
                    data = reg.load()
                except (ValueError, OSError) as exc:  # a damaged file must not take the agent down
                    log.error("skillsmith: cannot load %s (%s); compiling skills/ instead", reg.registry_path(), exc)
        if data is None:
            result = reg.build(strict=False)
            for warning in result.warnings:
                log.warning("skills: %s", warning)
            data = result.registry
        compiled, by_fp = [], {}
        for entry in data["skills"]:
            compiled.append((entry, re.compile(entry["message_regex"])))
            for fp in [entry.get("fingerprint"), *entry.get("fingerprints", [])]:
                if fp:
                    by_fp.setdefault(fp.lower(), entry)
        self._compiled, self._by_fp = compiled, by_fp

    def skills(self) -> list[dict]:
        with self._lock:
            if self._compiled is None:
                self._load()
        return [entry for entry, _ in self._compiled]

    def reload(self) -> None:
        with self._lock:
            self._load()

    # -- matching
    def match(self, event) -> Match | None:
        """The first approved skill matching ``event`` (``{"error": ..., "component": ...}``), or None."""
        from skillsmith_assets.normalize.message import normalize_event

        self.skills()
        message, component = _event_fields(event)
        norm = normalize_event(message, component)
        entry = self._by_fp.get(norm.fingerprint)
        if entry is not None and entry.get("component") in (None, component):
            return self._hit(entry, "fingerprint", norm)
        for entry, pattern in self._compiled:
            if entry.get("component") not in (None, component):
                continue
            if pattern.search(norm.norm_error):
                return self._hit(entry, "regex", norm)
        return None

    @staticmethod
    def _hit(entry: dict, how: str, norm) -> Match:
        return Match(entry["id"], entry["name"], entry["kind"], dict(entry["action"]), how, norm.fingerprint,
                     norm.norm_error, entry)

    # -- using a skill
    def guard(self, hit: Match, detail: str | None = None) -> str:
        """A guardrail's block message; records that the error was prevented."""
        if hit.kind != "guardrail":
            raise ValueError(f"{hit.skill_id} is a {hit.kind}, not a guardrail")
        self.record(hit.skill_id, hit.fingerprint, "prevented", detail or hit.norm_error[:500])
        return hit.message

    def fix(self, hit: Match, repo_dir, dry_run: bool | None = None,
            timeout: float = DEFAULT_TIMEOUT_SECONDS) -> FixResult:
        """Run a fixer's autopatch on ``repo_dir``; never raises for anything the patch does."""
        if hit.kind != "fixer":
            raise ValueError(f"{hit.skill_id} is a {hit.kind}, not a fixer")
        dry = hit.dry_run if dry_run is None else dry_run
        result = self._fix(hit, Path(repo_dir), dry, timeout)
        detail = result.diff if result.outcome == "dry_run_diff" else (
            result.error or ("changed " + ", ".join(result.changed_files)))
        self.record(hit.skill_id, hit.fingerprint, result.outcome, detail)
        return result

    def _fix(self, hit: Match, repo: Path, dry: bool, timeout: float) -> FixResult:
        def failed(error: str) -> FixResult:
            return FixResult(hit.skill_id, "fix_failed", dry, error=error)

        script = paths.project_dir() / str(hit.action.get("script", ""))
        if not script.is_file():
            return failed(f"autopatch {hit.action.get('script')} not found under {paths.project_dir()}")
        if not repo.is_dir():
            return failed(f"repository {repo} is not a directory")
        try:
            with tempfile.TemporaryDirectory(prefix="skillsmith-fix-") as tmp:
                copy = Path(tmp) / repo.name
                shutil.copytree(repo, copy, symlinks=True, ignore=shutil.ignore_patterns(*COPY_IGNORE))
                run = run_autopatch(script, copy, timeout)
                if not run.ok:
                    return failed(f"autopatch {script.name}: {run.error.strip()}")
                changed, added, removed = changes(repo, copy)
                files = sorted([*changed, *added, *removed])
                if dry:
                    diff = unified_diff(repo, copy, changed, added, removed)
                    return FixResult(hit.skill_id, "dry_run_diff", True, files, diff or "(no changes)")
                if not run.returned:
                    return failed(f"autopatch {script.name} found nothing to change")
                if not files:
                    return failed(f"autopatch {script.name} returned True but changed no file")
                copy_back(copy, repo, changed, added, removed)
                return FixResult(hit.skill_id, "fixed", False, files)
        except Exception as exc:  # copying a repository can fail in many ways; the caller must not
            return failed(f"{type(exc).__name__}: {exc}")

    def report_false_positive(self, skill_id: str, fingerprint: str | None = None, detail: str = "") -> None:
        """An agent (or a person) says a skill matched an error it should not have."""
        self.record(skill_id, fingerprint, "false_positive", detail)

    # -- outcomes
    def record(self, skill_id: str, fingerprint: str | None, outcome: str, detail: str | None = None) -> bool:
        """Insert one row into skill_outcomes; False (and a warning) when that is impossible."""
        return self.outcomes.record(skill_id, fingerprint, outcome, detail)

    def close(self) -> None:
        self.outcomes.close()


_default: Runtime | None = None
_default_lock = threading.Lock()


def default() -> Runtime:
    """The process-wide runtime, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Runtime()
        return _default


def match(event) -> Match | None:
    return default().match(event)


def guard(hit: Match, detail: str | None = None) -> str:
    return default().guard(hit, detail)


def fix(hit: Match, repo_dir, dry_run: bool | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> FixResult:
    return default().fix(hit, repo_dir, dry_run, timeout)


def report_false_positive(skill_id: str, fingerprint: str | None = None, detail: str = "") -> None:
    default().report_false_positive(skill_id, fingerprint, detail)
