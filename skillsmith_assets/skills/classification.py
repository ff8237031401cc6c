"""Guardrail or fixer: a keyword heuristic, as rules in a YAML file.

The packaged default (``data/classification.yaml``) is overridden by a
``classification.yaml`` at the project root, so a team changes the policy
without editing code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from skillsmith_assets.paths import PACKAGE_DIR, project_dir
from skillsmith_assets.skills.schema import KINDS, parse_yaml


@dataclass(frozen=True)
class Rule:
    """A skill kind for the errors it matches (in the rules file: ``kind`` and ``kinds``)."""

    skill_kind: str
    error_kinds: tuple[str, ...] = ()
    message_contains: tuple[str, ...] = ()
    components: tuple[str, ...] = ()

    def matches(self, error_kind: str, component: str | None, message: str) -> bool:
        if self.error_kinds and (error_kind or "").lower() not in self.error_kinds:
            return False
        if self.message_contains and not any(s in message.lower() for s in self.message_contains):
            return False
        if self.components and not any(
            (component or "").lower() == c or (component or "").lower().startswith(c + ".") for c in self.components
        ):
            return False
        return True


@dataclass(frozen=True)
class Classifier:
    rules: tuple[Rule, ...]
    default: str = "guardrail"
    source: str = ""

    def skill_kind(self, error_kind: str, component: str | None, message: str) -> str:
        """Guardrail or fixer for an error of ``error_kind`` (KeyError, ...): the first rule that matches."""
        for rule in self.rules:
            if rule.matches(error_kind, component, message):
                return rule.skill_kind
        return self.default


def rules_path() -> Path:
    custom = project_dir() / "classification.yaml"
    return custom if custom.exists() else PACKAGE_DIR / "data" / "classification.yaml"


def _strings(value, field: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: {field} must be a list of strings")
    return tuple(v.lower() for v in value)


def load_classifier(path: Path | None = None) -> Classifier:
    """Read and check the rules file; a mistake is reported with its place, never ignored."""
    path = path or rules_path()
    try:
        doc = parse_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    default = doc.get("default", "guardrail")
    if default not in KINDS:
        raise ValueError(f"{path}: default must be guardrail or fixer")
    rules = []
    for i, raw in enumerate(doc.get("rules") or [], start=1):
        where = f"{path}: rule {i}"
        if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
            raise ValueError(f"{where}: needs kind: guardrail or fixer")
        unknown = set(raw) - {"kind", "kinds", "message_contains", "components"}
        if unknown:
            raise ValueError(f"{where}: unknown condition(s) {', '.join(sorted(unknown))}")
        rules.append(Rule(raw["kind"], _strings(raw.get("kinds"), "kinds", where),
                          _strings(raw.get("message_contains"), "message_contains", where),
                          _strings(raw.get("components"), "components", where)))
    return Classifier(tuple(rules), default, str(path))
