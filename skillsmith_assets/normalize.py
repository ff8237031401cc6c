"""Per-event normalization and fingerprinting: the Python engine of the rule table.

Plain Python, no database and no Dagster: ``skillsmith normalize`` and the
collector call it directly. The SQL functions are generated from the same rule
table (``sql_functions.py``) and return identical results.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache

from . import normalize_rules as rules

# Postgres text cannot hold NUL; it is replaced visibly, the same everywhere.
NUL_REPLACEMENT = "\u2400"


def _python_replacement(replacement: str) -> str:
    """Turn the portable ``\\1`` group syntax into a Python template that cannot misread digits."""
    return re.sub(r"\\([1-9])", r"\\g<\1>", replacement)


@lru_cache(maxsize=1)
def _compiled_steps():
    compiled = []
    for step in rules.STEPS:
        if isinstance(step, rules.Mask):
            compiled.append(("mask", re.compile(step.pattern), _python_replacement(step.replacement)))
        elif isinstance(step, rules.Clip):
            compiled.append(("clip", step.head, step.tail))
        else:
            compiled.append(("truncate", step.length, None))
    return tuple(compiled)


_KIND_RE = re.compile(rules.KIND_PATTERN)


def strip_nul(text: str) -> str:
    return text.replace("\x00", NUL_REPLACEMENT) if "\x00" in text else text


def normalize_error_message(message: str) -> str:
    """Strip what varies between occurrences of the same error, keep what names the bug."""
    text = strip_nul(message)
    for op, a, b in _compiled_steps():
        if op == "mask":
            text = a.sub(b, text)
        elif op == "clip":
            if len(text) > a + b:
                text = text[:a] + "\n" + text[len(text) - b :]
        else:
            text = text[:a]
    return text


def error_kind(normalized_message: str) -> str:
    """The exception class name a normalized message starts with, else ``Error``."""
    match = _KIND_RE.search(normalized_message)
    return match.group(1) if match else rules.KIND_DEFAULT


def fingerprint_normalized(kind: str, component: str | None, normalized_message: str) -> str:
    """A UUID from kind, component and normalized message, versioned with the rules.

    Fields are length-prefixed so no two field combinations share a digest input.
    """
    parts = (f"v{rules.RULES_VERSION}", kind or "", component or "", normalized_message)
    payload = "".join(f"{len(p)}:{p}" for p in parts)
    return str(uuid.UUID(hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]))


def error_fingerprint(kind: str, component: str | None, message: str) -> str:
    """Mirror of the SQL ``error_fingerprint(kind, component, msg)``: ``msg`` is raw."""
    return fingerprint_normalized(kind, component, normalize_error_message(message))


@dataclass(frozen=True)
class Normalized:
    norm_error: str
    kind: str
    fingerprint: str
    normalizer_version: int = rules.RULES_VERSION


def normalize_event(message: str, component: str | None = None) -> Normalized:
    norm = normalize_error_message(message)
    kind = error_kind(norm)
    return Normalized(norm, kind, fingerprint_normalized(kind, component, norm))
