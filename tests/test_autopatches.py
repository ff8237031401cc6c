"""Every autopatch in ``autopatches/`` on its fixture repositories.

Convention (also how ``skillsmith approve`` decides that a fixer's tests pass: it runs
this file with ``-k fx-xxxxxxxx``): ``tests/fixtures/autopatches/<script name>/``
holds ``before/`` (a small repository with the problem) and ``after/`` (the same
repository as the patch must leave it), and optionally ``absent/`` (a repository
without the problem). A script is correct when it turns ``before`` into exactly
``after`` and returns True, a second run changes nothing and returns False, it
returns False and changes nothing where the problem is absent, and it writes
nothing outside the repository.

Self-contained (standard library and pytest only) so it runs in any project that
holds skills, with ``SKILLSMITH_PROJECT_DIR`` pointing at that project.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
from pathlib import Path

import pytest

PROJECT = Path(os.environ.get("SKILLSMITH_PROJECT_DIR") or Path(__file__).resolve().parent.parent).resolve()
SCRIPTS = sorted((PROJECT / "autopatches").glob("fx-*.py"))
FIXTURES = PROJECT / "tests" / "fixtures" / "autopatches"


def load(script: Path):
    spec = importlib.util.spec_from_file_location(f"autopatch_{script.stem.replace('-', '_')}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (caches left out)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def fixture(script: Path, name: str) -> Path:
    return FIXTURES / script.stem / name


def workspace(tmp_path: Path, source: Path) -> Path:
    """A copy of ``source`` as ``<tmp>/work/repo``: anything else appearing in ``work`` was written outside it."""
    repo = tmp_path / "work" / "repo"
    shutil.copytree(source, repo)
    return repo


params = pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])


@params
def test_has_fixture_repositories(script):
    assert fixture(script, "before").is_dir(), f"add {fixture(script, 'before').relative_to(PROJECT)}"
    assert fixture(script, "after").is_dir(), f"add {fixture(script, 'after').relative_to(PROJECT)}"
    assert tree(fixture(script, "before")) != tree(fixture(script, "after")), "before and after must differ"


@params
def test_defines_apply_of_one_argument(script):
    apply = getattr(load(script), "apply", None)
    assert callable(apply), f"{script.name} must define apply(repo_dir: str) -> bool"
    inspect.signature(apply).bind("repo")


@params
def test_applies_the_repair(script, tmp_path):
    repo = workspace(tmp_path, fixture(script, "before"))
    assert load(script).apply(str(repo)) is True
    assert tree(repo) == tree(fixture(script, "after"))
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["repo"], "wrote outside the repository"


@params
def test_second_run_changes_nothing(script, tmp_path):
    repo = workspace(tmp_path, fixture(script, "before"))
    module = load(script)
    module.apply(str(repo))
    once = tree(repo)
    assert module.apply(str(repo)) is False
    assert tree(repo) == once


@params
def test_returns_false_when_the_problem_is_absent(script, tmp_path):
    sources = [fixture(script, "after")] + [p for p in [fixture(script, "absent")] if p.is_dir()]
    for index, source in enumerate(sources):
        repo = workspace(tmp_path / str(index), source)
        assert load(script).apply(str(repo)) is False, f"reported a repair on {source.name}/"
        assert tree(repo) == tree(source)
