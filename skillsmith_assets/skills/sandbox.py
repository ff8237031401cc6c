"""Autopatches are someone's code: each runs in a child process with a time limit, on a copy
of the repository, and only its finished changes are copied back (each file atomically)."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT_SECONDS = 60.0
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


def changes(original: Path, copy: Path) -> tuple[list[str], list[str], list[str]]:
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


def copy_back(copy: Path, original: Path, changed, added, removed) -> None:
    for rel in [*changed, *added]:
        target = original / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        shutil.copy2(copy / rel, tmp)
        os.replace(tmp, target)
    for rel in removed:
        (original / rel).unlink(missing_ok=True)
