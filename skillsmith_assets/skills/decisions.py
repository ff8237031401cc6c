"""Approve and reject: the human decisions of the skill lifecycle, each one command that
cannot leave a broken skill behind.

Every check runs before anything is written; a refusal raises ``LifecycleError``
and leaves the tree as it was. Writes are atomic (temporary file, then
``os.replace``) and the proposal is removed only after its new home is written,
so a crash in between leaves a duplicate (which approve and retrain detect),
never a lost skill.

The file keeps the text the reviewer saw in the pull request: only the lines that
change (``status``, ``dry_run``) are edited, and the result is parsed back and
compared with the intended document; when a hand-edited layout defeats the line
edit, the whole document is re-emitted instead.

How "its tests pass" is decided for a fixer: ``tests/test_autopatches.py`` in the
project discovers every ``autopatches/fx-*.py`` and runs it on its fixture
repositories ``tests/fixtures/autopatches/<script>/before`` and ``after``;
approve runs that file in a pytest subprocess filtered to the script's name
(``-k fx-xxxxxxxx``) and requires it to pass with at least one test.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from skillsmith_assets import paths
from skillsmith_assets.skills.schema import (
    ID_RE, dump_skill, load_skill_file, canonical_id, parse_yaml, validate_skill, write_text_atomic,
)
from skillsmith_assets.skills.catalog import files_for_id, read_skill_files

AUTOPATCH_TESTS = "tests/test_autopatches.py"
TEST_TIMEOUT_SECONDS = 600


class LifecycleError(Exception):
    """A refused approve or reject; the message says why and what to do."""


@dataclass
class Decision:
    skill_id: str
    kind: str
    path: Path  # where the skill file is now
    removed: Path  # the proposal file that was removed
    dry_run: bool | None = None
    registry_note: str = ""


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(paths.project_dir()).as_posix()
    except ValueError:
        return str(path)


def _find_proposal(sid: str) -> Path:
    if not ID_RE.match(sid):
        raise LifecycleError(f"{sid!r} is not a skill id (GR-XXXXXXXX or FX-XXXXXXXX)")
    found = files_for_id(paths.proposed_dir(), sid)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(_rel(p) for p in found)
        raise LifecycleError(f"several proposal files for {sid}: {names}; keep one")
    if files_for_id(paths.skills_dir(), sid):
        raise LifecycleError(f"{sid} is already approved ({_rel(files_for_id(paths.skills_dir(), sid)[0])})")
    if files_for_id(paths.rejected_dir(), sid):
        raise LifecycleError(f"{sid} was rejected ({_rel(files_for_id(paths.rejected_dir(), sid)[0])})")
    raise LifecycleError(f"no proposal {sid} in {_rel(paths.proposed_dir())}/")


def _load_proposal(path: Path) -> dict:
    try:
        doc = load_skill_file(path)
    except (ValueError, OSError) as exc:
        raise LifecycleError(f"{_rel(path)} is not valid YAML; fix or regenerate it ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise LifecycleError(f"{_rel(path)} does not hold a skill mapping")
    return doc


_TOP_STATUS = re.compile(r"^status:[ \t]*([\"']?)(proposed|approved|rejected|retired)\1[ \t]*(#.*)?$", re.M)
_DRY_RUN = re.compile(r"^([ \t]+)dry_run:[ \t]*(true|false|True|False|yes|no)[ \t]*(#.*)?$", re.M)


def _edited_text(original: str, status: str, dry_run: bool | None, append: dict | None, expected: dict) -> str:
    """``original`` with status (and dry_run) changed in place; re-emitted whole if that does not yield ``expected``."""
    text = original
    if len(_TOP_STATUS.findall(text)) == 1:
        text = _TOP_STATUS.sub(lambda m: f"status: {status}" + (f"  {m.group(3)}" if m.group(3) else ""), text)
        if dry_run is not None and len(_DRY_RUN.findall(text)) == 1:
            value = "true" if dry_run else "false"
            text = _DRY_RUN.sub(lambda m: f"{m.group(1)}dry_run: {value}" + (f"  {m.group(3)}" if m.group(3) else ""), text)
        if append:
            text = text.rstrip("\n") + "\n" + dump_skill(append)
        try:
            if parse_yaml(text) == expected:
                return text
        except yaml.YAMLError:
            pass
    return dump_skill(expected)


def _check_no_conflict(doc: dict, sid: str) -> None:
    """The approved skills must not already cover this id or fingerprint (retrain would refuse)."""
    fp = str((doc.get("match") or {}).get("fingerprint") or "").lower()
    for path, other, _ in read_skill_files(paths.skills_dir()):
        if not isinstance(other, dict) or other.get("status") != "approved":
            continue
        if other.get("id") == sid:
            raise LifecycleError(f"{sid} is already approved ({_rel(path)})")
        other_fp = str((other.get("match") or {}).get("fingerprint") or "").lower()
        if fp and other_fp == fp:
            raise LifecycleError(f"approved skill {other.get('id')} ({_rel(path)}) already handles fingerprint {fp}")


def _check_autopatch(doc: dict) -> None:
    """A fixer is approved only when its script exists, imports, defines apply, and its tests pass."""
    from skillsmith_assets.skills.registry import autopatch_problem
    from skillsmith_assets.skills.sandbox import check_autopatch_imports

    script = paths.project_dir() / doc["action"]["script"]
    problem = autopatch_problem(script)
    if problem:
        raise LifecycleError(f"cannot approve {doc['id']}: {problem} (write {doc['action']['script']} and its tests first)")
    problem = check_autopatch_imports(script)
    if problem:
        raise LifecycleError(f"cannot approve {doc['id']}: {problem}")
    problem = run_autopatch_tests(script.stem)
    if problem:
        raise LifecycleError(f"cannot approve {doc['id']}: {problem}")


def run_autopatch_tests(stem: str) -> str | None:
    """Run the project's autopatch tests for one script (``pytest -k <stem>``); why they fail, or None."""
    project = paths.project_dir()
    test_file = project / AUTOPATCH_TESTS
    if not test_file.is_file():
        return f"{AUTOPATCH_TESTS} is missing, so the autopatch cannot be tested"
    env = {**os.environ, "SKILLSMITH_PROJECT_DIR": str(project), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header",
               "-o", "addopts=", str(test_file), "-k", stem]
    try:
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return f"the tests of {stem} did not finish within {TEST_TIMEOUT_SECONDS} s"
    if done.returncode == 0:
        return None
    if done.returncode == 5:
        return (f"no tests ran for {stem}: add its fixture repositories tests/fixtures/autopatches/{stem}/before "
                f"and after (see autopatches/README.md)")
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    return f"the tests of {stem} fail (`pytest {AUTOPATCH_TESTS} -k {stem}`):\n{tail}"


def _rebuild_registry() -> str:
    """Redeploy after a decision; an unrelated broken skill does not undo the decision, it is reported."""
    from skillsmith_assets.skills.registry import retrain

    result = retrain()
    if result.ok:
        return f"registry rebuilt: {len(result.skills)} approved skills deployed"
    listed = "\n  ".join(result.problems)
    return f"registry NOT rebuilt, other skills have problems (fix them, then `skillsmith retrain`):\n  {listed}"


def approve(skill_id: str, live: bool = False, rebuild: bool = True) -> Decision:
    """Move a proposal into ``skills/`` with ``status: approved`` (fixers: dry_run unless ``live``)."""
    sid = canonical_id(skill_id)
    source = _find_proposal(sid)
    doc = _load_proposal(source)
    if doc.get("id") != sid:
        raise LifecycleError(f"{_rel(source)} holds id {doc.get('id')!r}, not {sid}")
    errors = validate_skill(doc, expected_status="proposed")
    if errors:
        raise LifecycleError(f"{_rel(source)} is not a valid proposal:\n  " + "\n  ".join(errors))
    approved = {**doc, "status": "approved"}
    dry_run = None
    if doc["kind"] == "fixer":
        dry_run = not live
        approved["action"] = {**doc["action"], "dry_run": dry_run}
    errors = validate_skill(approved, expected_status="approved")
    if errors:
        raise LifecycleError(f"{sid} would not be a valid approved skill:\n  " + "\n  ".join(errors))
    samples = (doc.get("metadata") or {}).get("samples") or []
    missed = [s for s in samples if not re.search(doc["match"]["message_regex"], s)]
    if missed:
        raise LifecycleError(f"{sid}'s message_regex does not match its own sample {missed[0]!r}; "
                             "fix the regex (it is searched in the normalized message)")
    target = paths.skills_dir() / f"{sid}.yaml"
    if target.exists():
        raise LifecycleError(f"{_rel(target)} already exists")
    _check_no_conflict(doc, sid)
    if doc["kind"] == "fixer":
        _check_autopatch(doc)

    text = _edited_text(source.read_text(encoding="utf-8"), "approved", dry_run, None, approved)
    write_text_atomic(target, text)
    source.unlink()
    decision = Decision(sid, doc["kind"], target, source, dry_run)
    if rebuild:
        decision.registry_note = _rebuild_registry()
    return decision


def reject(skill_id: str, reason: str, by: str | None = None, now: datetime | None = None) -> Decision:
    """Record why a proposal was rejected in ``skills/rejected/<ID>.yaml`` and remove the proposal.

    The record keeps the proposal's ``match`` and ``metadata`` (fingerprint, pattern,
    fingerprints) so the miner never proposes the same pattern again.
    """
    sid = canonical_id(skill_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise LifecycleError("a rejection needs a reason (--reason …)")
    source = _find_proposal(sid)
    doc = _load_proposal(source)
    if doc.get("id") != sid:
        raise LifecycleError(f"{_rel(source)} holds id {doc.get('id')!r}, not {sid}")
    if not isinstance(doc.get("match"), dict):
        raise LifecycleError(f"{_rel(source)} has no match section, so there is no pattern to remember")
    by = (by or os.environ.get("SKILLSMITH_USER") or _whoami()).strip() or "unknown"
    at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    rejection = {"reason": reason, "by": by, "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    record = {**{k: v for k, v in doc.items() if k != "rejection"}, "status": "rejected", "rejection": rejection}
    original = source.read_text(encoding="utf-8")
    text = _edited_text(original, "rejected", None, {"rejection": rejection}, record) if "rejection" not in doc \
        else dump_skill(record)
    target = paths.rejected_dir() / f"{sid}.yaml"
    write_text_atomic(target, text)
    source.unlink()
    return Decision(sid, str(doc.get("kind")), target, source)


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
