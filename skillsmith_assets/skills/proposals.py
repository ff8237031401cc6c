"""Candidates become proposal files: rendered, parsed back, validated, written atomically.

Generated files are data: every value goes through the ``yaml`` filter (a YAML
scalar or flow sequence that round-trips exactly), the rendered text is parsed
back and must equal what was meant and pass the skill schema, and a file is
replaced with ``os.replace`` only when its content changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from skillsmith_assets import paths
from skillsmith_assets.skills.classification import Classifier
from skillsmith_assets.skills.schema import autopatch_relpath, parse_yaml, skill_id, validate_skill, write_text_atomic
from skillsmith_assets.skills.match_regex import build_message_regex

MAX_SAMPLES = 3
MAX_FINGERPRINTS = 50


@dataclass(frozen=True)
class Candidate:
    fp: str
    component: str | None
    kind: str
    template: str  # the pattern's normalized text (<*> where members differ)
    hits_7d: int
    hits_30d: int
    impact_score: float
    first_seen: str
    last_seen: str
    pattern: str
    pattern_size: int
    samples: tuple[str, ...]  # normalized member messages
    fingerprints: tuple[str, ...]


# Characters YAML reads as line breaks or refuses raw, even inside double quotes.
_YAML_UNSAFE = {"\u0085", "\u2028", "\u2029", "\ufeff"}


def yaml_quoted(text: str) -> str:
    """A YAML double-quoted scalar: printable text stays readable, everything else is escaped."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif " " <= ch <= "~" or (ch > "\x7f" and ch.isprintable() and ch not in _YAML_UNSAFE):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def yaml_value(value) -> str:
    """One value as inline YAML that parses back to exactly ``value``."""
    if isinstance(value, str):
        return yaml_quoted(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    raise TypeError(f"no YAML form for {type(value).__name__}")


def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["yaml"] = yaml_value
    return env


def skill_values(candidate: Candidate, skill_kind: str, message_regex: str) -> dict:
    sid = skill_id(skill_kind, candidate.fp)
    where = candidate.component or "any component"
    name = f"{candidate.kind} in {where}"
    return {
        "id": sid,
        "name": name,
        "component": candidate.component,
        "message_regex": message_regex,
        "fingerprint": candidate.fp,
        "message": f"Prevented: {name}",
        "script": autopatch_relpath(sid),
        "hits_7d": int(candidate.hits_7d),
        "hits_30d": int(candidate.hits_30d),
        "impact_score": float(candidate.impact_score),
        "first_seen": candidate.first_seen,
        "last_seen": candidate.last_seen,
        "pattern": candidate.pattern,
        "pattern_size": int(candidate.pattern_size),
        "fingerprints": list(candidate.fingerprints[:MAX_FINGERPRINTS]),
        "samples": list(candidate.samples[:MAX_SAMPLES]),
    }


def render_skill(env: jinja2.Environment, skill_kind: str, values: dict) -> tuple[str, dict]:
    """Render, parse back, and check the document says what ``values`` say and is a valid proposal."""
    text = env.get_template(f"{skill_kind}.yaml.j2").render(**values)
    doc = parse_yaml(text)
    problems = validate_skill(doc, expected_status="proposed")
    if problems:
        raise ValueError(f"{values['id']}: rendered skill is invalid: {'; '.join(problems)}")
    match, meta = doc["match"], doc["metadata"]
    faithful = (
        doc["id"] == values["id"] and doc["kind"] == skill_kind and doc["name"] == values["name"]
        and match.get("component") == values["component"] and match["message_regex"] == values["message_regex"]
        and match["fingerprint"] == values["fingerprint"] and meta.get("samples") == values["samples"]
    )
    if not faithful:
        raise ValueError(f"{values['id']}: the template changed the values it was given")
    return text, doc


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` atomically unless the file already holds it; returns whether it was written."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    write_text_atomic(path, text)
    return True


@dataclass
class ProposalReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (fingerprint, reason)
    files: list[Path] = field(default_factory=list)
    docs: list[dict] = field(default_factory=list)


def write_proposals(candidates: list[Candidate], classifier: Classifier,
                    other_samples: dict[str, list[str]], out_dir: Path | None = None) -> ProposalReport:
    """One file per candidate in ``skills/proposed/``.

    ``other_samples[pattern]`` holds normalized messages of *other* patterns of the same
    component, which the candidate's regex must not match. A candidate that cannot be
    written validly is skipped with a reason; it never leaves a file behind.
    """
    out_dir = out_dir or paths.proposed_dir()
    env = template_environment()
    report = ProposalReport()
    for candidate in candidates:
        try:
            regex = build_message_regex(candidate.template, list(candidate.samples), other_samples.get(candidate.pattern, []))
            skill_kind = classifier.skill_kind(candidate.kind, candidate.component, candidate.template)
            values = skill_values(candidate, skill_kind, regex)
            text, doc = render_skill(env, skill_kind, values)
        except (ValueError, jinja2.TemplateError) as exc:
            report.skipped.append((candidate.fp, str(exc)))
            continue
        path = out_dir / f"{values['id']}.yaml"
        (report.written if write_if_changed(path, text) else report.unchanged).append(values["id"])
        report.files.append(path)
        report.docs.append(doc)
    return report
