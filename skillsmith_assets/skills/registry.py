"""The compiled registry of deployed skills: what ``skillsmith retrain`` builds and the runtime loads.

Every file in ``skills/`` is checked (schema, a regex that compiles and is safe,
one approved skill per fingerprint, fixer scripts that exist and define
``apply``) before anything is written, so a broken skill can never reach the
agents: on any problem the previous ``skills/registry.json`` stays in place.

The registry is deterministic (no timestamps) so rebuilding it from the same
skills changes nothing, and it lists approved skills in match order:
skills bound to a component before component-less ones, then longer (more
specific) regexes first, then by id. The fingerprint index is the fast path.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from skillsmith_assets import paths
from skillsmith_assets.skills.schema import ID_RE, regex_problem, validate_skill, write_text_atomic
from skillsmith_assets.skills.catalog import read_skill_files

REGISTRY_NAME = "registry.json"
REGISTRY_FORMAT = 1


def registry_path() -> Path:
    return paths.skills_dir() / REGISTRY_NAME


@dataclass
class BuildResult:
    """A registry built from ``skills/``, with every problem that keeps it from being deployed."""

    registry: dict
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def skills(self) -> list[dict]:
        return self.registry["skills"]

    def counts(self) -> dict[str, int]:
        skills = self.skills
        return {
            "approved_skills": len(skills),
            "guardrails": sum(1 for s in skills if s["kind"] == "guardrail"),
            "fixers": sum(1 for s in skills if s["kind"] == "fixer"),
            "live_fixers": sum(1 for s in skills if s["kind"] == "fixer" and not s["action"].get("dry_run", True)),
            "retired_skills": len(self.registry["retired"]),
            "problems": len(self.problems),
        }


def autopatch_problem(script: Path) -> str | None:
    """Why ``script`` cannot serve as an autopatch, judged without running it (the AST, not an import)."""
    if not script.is_file():
        return f"autopatch script {script.name} does not exist"
    try:
        tree = ast.parse(script.read_bytes(), filename=str(script))
    except (SyntaxError, ValueError) as exc:
        return f"autopatch script {script.name} does not parse: {exc}"
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "apply":
            positional = node.args.posonlyargs + node.args.args
            required = len(positional) - len(node.args.defaults)
            if len(positional) >= 1 and required <= 1 or node.args.vararg is not None:
                return None
            return f"autopatch script {script.name}: apply must take one argument, repo_dir"
    return f"autopatch script {script.name} defines no top-level apply(repo_dir)"


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(paths.project_dir()).as_posix()
    except ValueError:
        return str(path)


def _compiled_entry(doc: dict, source: Path) -> dict:
    match = doc["match"]
    metadata = doc.get("metadata") or {}
    extra = metadata.get("fingerprints") if isinstance(metadata.get("fingerprints"), list) else []
    return {
        "id": doc["id"],
        "name": doc["name"],
        "kind": doc["kind"],
        "component": match.get("component") or None,
        "message_regex": match["message_regex"],
        "fingerprint": str(match["fingerprint"]).lower() if match.get("fingerprint") else None,
        "fingerprints": sorted({str(f).lower() for f in extra if isinstance(f, str)}),
        "action": dict(doc["action"]),
        "source": _relative(source),
        "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
    }


def match_order_key(entry: dict):
    """Component-bound before component-less, then longer regex first, then id: specific wins."""
    return (entry["component"] is None, -len(entry["message_regex"]), entry["id"])


def build(strict: bool = True) -> BuildResult:
    """Validate every skill in ``skills/`` and compile the approved ones; writes nothing.

    With ``strict=False`` (the runtime's fallback when no registry was built) a skill
    with a problem is left out instead of failing the whole build.
    """
    from skillsmith_assets.normalize.rules import RULES_VERSION

    skills: list[dict] = []
    retired: list[str] = []
    problems: list[str] = []
    warnings: list[str] = []
    by_id: dict[str, str] = {}
    by_fp: dict[str, str] = {}

    for path, doc, problem in read_skill_files(paths.skills_dir()):
        rel = _relative(path)
        if problem:
            problems.append(f"{rel}: {problem}")
            continue
        errors = validate_skill(doc)
        if isinstance(doc, dict):
            status = doc.get("status")
            if status == "proposed":
                errors.append("status is proposed: approve it with `skillsmith approve ID` (or set status: approved)")
            elif status == "rejected":
                errors.append("status is rejected: rejected skills belong in skills/rejected/")
            sid = doc.get("id")
            if isinstance(sid, str) and ID_RE.match(sid) and not path.name.upper().startswith(sid):
                errors.append(f"file name must start with the skill's id {sid}")
            action = doc.get("action")
            if doc.get("kind") == "fixer" and isinstance(action, dict) and isinstance(action.get("script"), str):
                if doc.get("status") == "approved" and re.fullmatch(r"autopatches/fx-[0-9a-f]{8}\.py", action["script"]):
                    problem = autopatch_problem(paths.project_dir() / action["script"])
                    if problem:
                        errors.append(problem)
        if errors:
            problems.extend(f"{rel}: {e}" for e in errors)
            continue
        sid = doc["id"]
        if sid in by_id:
            problems.append(f"{rel}: id {sid} is also used by {by_id[sid]}")
            continue
        by_id[sid] = rel
        if doc["status"] == "retired":
            retired.append(sid)
            continue
        entry = _compiled_entry(doc, path)
        fp = entry["fingerprint"]
        if fp and fp in by_fp:
            problems.append(f"{rel}: fingerprint {fp} is already handled by approved skill {by_fp[fp]}")
            continue
        if fp:
            by_fp[fp] = sid
        samples = (doc.get("metadata") or {}).get("samples") or []
        compiled = re.compile(entry["message_regex"])
        missed = [s for s in samples if not compiled.search(s)]
        if missed:
            warnings.append(f"{rel}: message_regex does not match {len(missed)} of its {len(samples)} samples")
        skills.append(entry)

    # metadata.fingerprints join the fast path unless another skill claims them.
    for entry in skills:
        kept = []
        for fp in entry["fingerprints"]:
            owner = by_fp.get(fp)
            if owner is None:
                by_fp[fp] = entry["id"]
                kept.append(fp)
            elif owner != entry["id"]:
                warnings.append(f"{entry['source']}: fingerprint {fp} in metadata.fingerprints belongs to {owner}; ignored")
        entry["fingerprints"] = kept

    skills.sort(key=match_order_key)
    registry = {
        "format": REGISTRY_FORMAT,
        "normalizer_version": RULES_VERSION,
        "skills": skills,
        "retired": sorted(retired),
    }
    result = BuildResult(registry, problems, warnings)
    if not strict:
        result.problems = []
        result.warnings = warnings + [f"skipped: {p}" for p in problems]
    return result


def registry_text(registry: dict) -> str:
    return json.dumps(registry, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def retrain() -> BuildResult:
    """Validate ``skills/`` and, only when every skill is valid, write ``skills/registry.json`` atomically."""
    result = build()
    if result.ok:
        path = registry_path()
        text = registry_text(result.registry)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            write_text_atomic(path, text)
        result.written = True
    return result


def load(path: Path | None = None) -> dict:
    """The compiled registry; raises ValueError when it is missing a field the runtime needs."""
    path = Path(path) if path else registry_path()
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != REGISTRY_FORMAT or not isinstance(data.get("skills"), list):
        raise ValueError(f"{path}: not a skill registry of format {REGISTRY_FORMAT}; run `skillsmith retrain`")
    for entry in data["skills"]:
        problem = regex_problem(entry.get("message_regex"))
        if problem:
            raise ValueError(f"{path}: skill {entry.get('id')}: {problem}; run `skillsmith retrain`")
    return data
