"""What the skills already cover (approved, proposed or rejected): a candidate they match is
not proposed again."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from skillsmith_assets import paths
from skillsmith_assets.skills.catalog import read_skill_files
from skillsmith_assets.skills.schema import regex_problem


@dataclass
class Coverage:
    """What existing skills (approved, proposed, rejected) already cover."""

    fingerprints: set[str] = field(default_factory=set)
    patterns: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    # (component or None, message_regex) of every skill: what it matches at run time. Unlike
    # fingerprints, this survives a new normalizer rules version.
    matchers: list[tuple[str | None, str]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def matches(self, component: str | None, norm_messages) -> bool:
        """Whether a skill would match any of these normalized messages of ``component``."""
        for skill_component, pattern in self.matchers:
            if skill_component not in (None, component):
                continue
            compiled = re.compile(pattern)
            if any(compiled.search(message) for message in norm_messages):
                return True
        return False


def existing_coverage() -> Coverage:
    coverage = Coverage()
    for folder in (paths.skills_dir(), paths.proposed_dir(), paths.rejected_dir()):
        for path, doc, problem in read_skill_files(folder):
            if problem:
                coverage.unreadable.append(str(path))
                continue
            if not isinstance(doc, dict) or "id" not in doc:
                continue
            coverage.ids.add(str(doc["id"]))
            match = doc.get("match") if isinstance(doc.get("match"), dict) else {}
            meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
            if match.get("fingerprint"):
                coverage.fingerprints.add(str(match["fingerprint"]))
            coverage.fingerprints.update(str(f) for f in meta.get("fingerprints") or [] if f)
            if meta.get("pattern"):
                coverage.patterns.add(str(meta["pattern"]))
            regex = match.get("message_regex")
            if regex_problem(regex) is None:
                component = match.get("component")
                coverage.matchers.append((str(component) if component else None, regex))
    return coverage
