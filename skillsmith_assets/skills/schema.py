"""The skill file schema: what a valid guardrail or fixer is, and how a regex is judged safe.

Plain Python: proposal writing, ``approve``, ``retrain`` and the runtime all
validate through ``validate_skill``. ``message_regex`` is searched in the
*normalized* message (the runtime normalizes an event before matching), so its
placeholders (``<int>``, ``<uuid>``...) are literal text.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

try:  # Python 3.11+
    import re._parser as sre_parse  # type: ignore[import-not-found]
    import re._constants as sre_constants  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

KINDS = ("guardrail", "fixer")
STATUSES = ("proposed", "approved", "rejected", "retired")
ID_PREFIX = {"guardrail": "GR", "fixer": "FX"}
ID_RE = re.compile(r"\A(GR|FX)-[0-9A-F]{8}\Z")
MAX_REGEX_LENGTH = 2000


def skill_id(kind: str, fingerprint: str) -> str:
    """``GR-``/``FX-`` and the fingerprint's first 8 hex digits, upper case."""
    return f"{ID_PREFIX[kind]}-{fingerprint.replace('-', '')[:8].upper()}"


def autopatch_relpath(fingerprint_or_id: str) -> str:
    """``autopatches/fx-<8 hex, lower case>.py`` for a fingerprint or a skill id."""
    hex8 = fingerprint_or_id.split("-", 1)[1] if ID_RE.match(fingerprint_or_id) else fingerprint_or_id.replace("-", "")
    return f"autopatches/fx-{hex8[:8].lower()}.py"


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` is unsafe or invalid, or None.

    Unsafe: back-references, and a repeat inside a repeat (``(a+)+``, ``(\\w*)*``) --
    the shapes that backtrack catastrophically in Python's engine.
    """
    if not isinstance(pattern, str) or not pattern:
        return "message_regex must be a non-empty string"
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"message_regex is longer than {MAX_REGEX_LENGTH} characters"
    try:
        re.compile(pattern)
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"message_regex does not compile: {exc}"
    repeats = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None))

    def walk(items, inside_repeat: bool) -> str | None:
        for op, arg in items:
            if op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
                return "message_regex uses a back-reference"
            if op in repeats:
                low, high, body = arg
                if inside_repeat and high > 1:
                    return "message_regex nests a repeat inside a repeat (catastrophic backtracking)"
                found = walk(body, inside_repeat or high > 1)
                if found:
                    return found
            elif op == sre_constants.SUBPATTERN:
                found = walk(arg[-1], inside_repeat)
                if found:
                    return found
            elif op == sre_constants.BRANCH:
                for branch in arg[1]:
                    found = walk(branch, inside_repeat)
                    if found:
                        return found
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                found = walk(arg[1], inside_repeat)
                if found:
                    return found
        return None

    return walk(tree, False)


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def validate_skill(doc, expected_status: str | None = None) -> list[str]:
    """Every way ``doc`` (a parsed skill file) breaks the schema; empty when valid."""
    if not isinstance(doc, dict):
        return ["a skill file must hold a mapping"]
    errors: list[str] = []
    kind = doc.get("kind")
    if kind not in KINDS:
        errors.append(f"kind must be one of {', '.join(KINDS)}")
    sid = doc.get("id")
    if not isinstance(sid, str) or not ID_RE.match(sid):
        errors.append("id must be GR-XXXXXXXX or FX-XXXXXXXX (8 upper-case hex digits)")
    elif kind in KINDS and not sid.startswith(ID_PREFIX[kind] + "-"):
        errors.append(f"id {sid} does not match kind {kind} (expected prefix {ID_PREFIX[kind]}-)")
    if not isinstance(doc.get("name"), str) or not doc["name"].strip():
        errors.append("name must be a non-empty string")
    status = doc.get("status")
    if status not in STATUSES:
        errors.append(f"status must be one of {', '.join(STATUSES)}")
    elif expected_status and status != expected_status:
        errors.append(f"status is {status}, expected {expected_status}")

    match = doc.get("match")
    if not isinstance(match, dict):
        errors.append("match must be a mapping")
    else:
        component = match.get("component")
        if component is not None and not isinstance(component, str):
            errors.append("match.component must be a string")
        problem = regex_problem(match.get("message_regex"))
        if problem:
            errors.append(problem)
        fp = match.get("fingerprint")
        if fp is not None and not _is_uuid(fp):
            errors.append("match.fingerprint must be a UUID")
        elif fp is not None and isinstance(sid, str) and ID_RE.match(sid) and sid[3:] != str(fp).replace("-", "")[:8].upper():
            errors.append(f"id {sid} does not carry the fingerprint's first 8 hex digits")

    action = doc.get("action")
    if not isinstance(action, dict):
        errors.append("action must be a mapping")
    elif kind == "guardrail":
        if action.get("type") != "block":
            errors.append("a guardrail's action.type must be block")
        if not isinstance(action.get("message"), str) or not action["message"].strip():
            errors.append("a guardrail's action.message must be a non-empty string")
    elif kind == "fixer":
        if action.get("type") != "autopatch":
            errors.append("a fixer's action.type must be autopatch")
        script = action.get("script")
        if not isinstance(script, str) or not re.fullmatch(r"autopatches/fx-[0-9a-f]{8}\.py", script):
            errors.append("a fixer's action.script must be autopatches/fx-<8 hex>.py")
        elif isinstance(sid, str) and ID_RE.match(sid) and script != autopatch_relpath(sid):
            errors.append(f"a fixer's action.script must be {autopatch_relpath(sid)}")
        if not isinstance(action.get("dry_run"), bool):
            errors.append("a fixer's action.dry_run must be true or false")

    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        errors.append("metadata must be a mapping")
    else:
        for key in ("hits_7d", "hits_30d"):
            if not isinstance(metadata.get(key), int) or isinstance(metadata.get(key), bool) or metadata[key] < 0:
                errors.append(f"metadata.{key} must be a non-negative integer")
        score = metadata.get("impact_score")
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            errors.append("metadata.impact_score must be a number")
        if "auto_generated" in metadata and not isinstance(metadata["auto_generated"], bool):
            errors.append("metadata.auto_generated must be true or false")
        samples = metadata.get("samples")
        if samples is not None and not (isinstance(samples, list) and all(isinstance(s, str) for s in samples)):
            errors.append("metadata.samples must be a list of strings")
    return errors


def parse_yaml(text: str):
    """yaml.safe_load, through libyaml where PyYAML was built with it: the same safe constructor
    at a tenth of the cost (a mining run parses back every proposal it renders)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_skill_file(path: Path):
    """Parse a skill file with the safe loader; raises ValueError naming the file."""
    import yaml

    try:
        return parse_yaml(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None


def canonical_id(text: str) -> str:
    """A skill id as typed on the command line (``fx-abcd1234``) in its canonical form."""
    return str(text).strip().upper()


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half of one.

    A temporary file in the same directory is flushed to disk and renamed over the
    target with ``os.replace`` (atomic on POSIX and Windows within one filesystem).
    """
    import os
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def dump_skill(doc: dict) -> str:
    """A skill as YAML, keys in the schema's order, values escaped by the YAML emitter."""
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
