"""The library agents import to use deployed skills: match an error, block it or fix it, report back.

```python
from skillsmith_assets import runtime

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

import difflib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import paths

log = logging.getLogger("skillsmith.runtime")

OUTCOMES = ("prevented", "fixed", "fix_failed", "dry_run_diff", "false_positive")
DEFAULT_TIMEOUT_SECONDS = 60.0
MAX_DETAIL_CHARS = 20_000
COPY_IGNORE = (".git", ".hg", ".svn", "__pycache__", ".venv", "node_modules")

# Runs in the child: load the script by path, call apply(repo_dir), report through a file
# (the patch may print anything on stdout). Mode "check" only imports and inspects it.
_RUNNER = r"""
import importlib.util, inspect, json, os, sys, traceback
mode, script, repo, out = sys.argv[1:5]
def main():
    name = "autopatch_" + os.path.basename(script)[:-3].replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    apply = getattr(module, "apply", None)
    if not callable(apply):
        return dict(ok=False, error="defines no callable apply(repo_dir)")
    try:
        inspect.signature(apply).bind(repo)
    except TypeError as exc:
        return dict(ok=False, error="apply(repo_dir) has the wrong signature: %s" % exc)
    if mode == "check":
        return dict(ok=True, returned=None)
    os.chdir(repo)
    returned = apply(repo)
    if not isinstance(returned, bool):
        return dict(ok=False, error="apply returned %r, not True or False" % (returned,))
    return dict(ok=True, returned=returned)
try:
    result = main()
except BaseException:
    result = dict(ok=False, error=traceback.format_exc(limit=8))
with open(out, "w", encoding="utf-8") as f:
    json.dump(result, f)
"""


@dataclass
class PatchRun:
    ok: bool
    returned: bool | None = None
    error: str = ""


def run_autopatch(script: Path, repo_dir: Path, timeout: float = DEFAULT_TIMEOUT_SECONDS, mode: str = "apply") -> PatchRun:
    """Run ``apply(repo_dir)`` of ``script`` in a child process; on timeout the whole process group is killed."""
    with tempfile.TemporaryDirectory(prefix="skillsmith-run-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-I", "-B", "-c", _RUNNER, mode, str(script), str(repo_dir), str(out)]
        try:
            proc = subprocess.Popen(command, cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return PatchRun(False, error=f"could not start the autopatch: {exc}")
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return PatchRun(False, error=f"timed out after {timeout:g} s and was stopped")
        try:
            data = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tail = output.decode("utf-8", "replace")[-2000:].strip()
            return PatchRun(False, error=f"exited with status {proc.returncode} before reporting a result"
                            + (f": {tail}" if tail else ""))
        return PatchRun(bool(data.get("ok")), data.get("returned"), data.get("error") or "")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.kill()
    proc.communicate()


def check_autopatch_imports(script: Path, timeout: float = 60.0) -> str | None:
    """Why ``script`` cannot be imported as an autopatch with ``apply(repo_dir)``, or None."""
    with tempfile.TemporaryDirectory(prefix="skillsmith-check-") as repo:
        run = run_autopatch(Path(script), Path(repo), timeout=timeout, mode="check")
    return None if run.ok else f"autopatch {Path(script).name} does not import cleanly: {run.error.strip()}"


# ---------------------------------------------------------------- repository copies and diffs


def _files(root: Path) -> dict[str, os.stat_result]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in COPY_IGNORE]
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            found[full.relative_to(root).as_posix()] = full.stat()
    return found


def _changes(original: Path, copy: Path) -> tuple[list[str], list[str], list[str]]:
    """(changed, added, removed) relative paths between two trees; same size and mtime counts as unchanged."""
    before, after = _files(original), _files(copy)
    changed, added = [], []
    for rel, st in after.items():
        old = before.get(rel)
        if old is None:
            added.append(rel)
        elif (old.st_size, old.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            if (original / rel).read_bytes() != (copy / rel).read_bytes():
                changed.append(rel)
    removed = [rel for rel in before if rel not in after]
    return sorted(changed), sorted(added), sorted(removed)


def _text(path: Path) -> list[str] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def unified_diff(original: Path, copy: Path, changed, added, removed) -> str:
    parts = []
    for rel in sorted([*changed, *added, *removed]):
        a, b = _text(original / rel), _text(copy / rel)
        if a is None or b is None:
            parts.append(f"Binary files a/{rel} and b/{rel} differ\n")
            continue
        fromfile = "/dev/null" if rel in added else f"a/{rel}"
        tofile = "/dev/null" if rel in removed else f"b/{rel}"
        parts.append("".join(difflib.unified_diff(a, b, fromfile, tofile)))
    return "".join(parts)


def _copy_back(copy: Path, original: Path, changed, added, removed) -> None:
    for rel in [*changed, *added]:
        target = original / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        shutil.copy2(copy / rel, tmp)
        os.replace(tmp, target)
    for rel in removed:
        (original / rel).unlink(missing_ok=True)


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
        self._database = database
        if record_outcomes is None:
            record_outcomes = database is not None or bool(
                os.environ.get("SKILLSMITH_DATABASE_URL") or os.environ.get("SUPABASE_DB_HOST"))
        self.record_outcomes = record_outcomes
        self._conn = None
        self._warned = False

    # -- registry
    def _load(self) -> None:
        from . import registry as reg

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
        from .normalize import normalize_event

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
                changed, added, removed = _changes(repo, copy)
                files = sorted([*changed, *added, *removed])
                if dry:
                    diff = unified_diff(repo, copy, changed, added, removed)
                    return FixResult(hit.skill_id, "dry_run_diff", True, files, diff or "(no changes)")
                if not run.returned:
                    return failed(f"autopatch {script.name} found nothing to change")
                if not files:
                    return failed(f"autopatch {script.name} returned True but changed no file")
                _copy_back(copy, repo, changed, added, removed)
                return FixResult(hit.skill_id, "fixed", False, files)
        except Exception as exc:  # copying a repository can fail in many ways; the caller must not
            return failed(f"{type(exc).__name__}: {exc}")

    def report_false_positive(self, skill_id: str, fingerprint: str | None = None, detail: str = "") -> None:
        """An agent (or a person) says a skill matched an error it should not have."""
        self.record(skill_id, fingerprint, "false_positive", detail)

    # -- outcomes
    def record(self, skill_id: str, fingerprint: str | None, outcome: str, detail: str | None = None) -> bool:
        """Insert one row into skill_outcomes; False (and a warning) when that is impossible."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if not self.record_outcomes:
            return False
        if detail and len(detail) > MAX_DETAIL_CHARS:
            detail = detail[: MAX_DETAIL_CHARS - 20] + "\n… (truncated)"
        try:
            with self._lock:
                if self._conn is None or self._conn.closed:
                    from . import db

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
