"""Per-event normalization and fingerprinting: the Python engine of the rule table.

Plain Python, no database and no Dagster: ``skillsmith normalize`` and the
collector call it directly. The SQL functions are generated from the same rule
table (``sql_functions.py``) and return identical results.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import lru_cache

from skillsmith_assets.normalize import rules as rules

# Lower-cases ASCII letters only, like SQL translate(s, 'A..Z', 'a..z'): locale-free.
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

# Postgres text cannot hold NUL; it is replaced visibly, the same everywhere.
NUL_REPLACEMENT = "\u2400"


def _python_replacement(replacement: str) -> str:
    """Turn the portable ``\\1`` group syntax into a Python template that cannot misread digits."""
    return re.sub(r"\\([1-9])", r"\\g<\1>", replacement)


_LEADING_LOOKBEHIND = re.compile(r"\(\?<([!=])\[((?:\\.|[^\]\\])+)\]\)")
_CLASS = re.compile(r"\[(?:\\.|[^\]\\])+\]")
_QUANTIFIER = re.compile(r"\+|\{([0-9]+)(,([0-9]*))?\}")


def python_pattern(pattern: str) -> str:
    """The same regex, rewritten so Python's engine can scan for its first character.

    ``(?<![C])X…`` (a lookbehind first) makes ``re`` attempt a match at every
    position; ``X(?<![C]X)…`` matches exactly the same text (X is one character,
    so looking back over ``[C]X`` after it is looking back over ``[C]`` before it;
    the same holds for ``(?<=[C])``),
    but starts with a character, which ``re`` finds with a fast scan. Patterns of
    any other shape are returned unchanged. The SQL functions use the original;
    the parity tests compare the two engines.
    """
    lead = _LEADING_LOOKBEHIND.match(pattern)
    if not lead:
        return pattern
    rest = pattern[lead.end():]
    group = _leading_group(rest)
    if group is not None:  # "(?<![C])(X…)…": move the lookbehind into the group
        opening, content, closing_at = group
        inner = python_pattern(pattern[:lead.end()] + content)
        if inner == pattern[:lead.end()] + content:
            return pattern
        return opening + inner + rest[closing_at:]
    atom_match = _CLASS.match(rest)
    if atom_match:
        atom = atom_match.group(0)
    elif rest[:1] and rest[0] not in "\\()[]{}?*+|.^$":
        atom = rest[0]
    else:
        return pattern
    after = rest[len(atom):]
    tail = ""
    quantifier = _QUANTIFIER.match(after)
    if quantifier:
        if quantifier.group(0) == "+":
            tail = atom + "*"
        else:
            low = int(quantifier.group(1))
            if low < 1:
                return pattern
            if quantifier.group(2) is None:
                tail = f"{atom}{{{low - 1}}}"
            elif quantifier.group(3) == "":
                tail = f"{atom}{{{low - 1},}}"
            else:
                tail = f"{atom}{{{low - 1},{int(quantifier.group(3)) - 1}}}"
        after = after[quantifier.end():]
    elif after[:1] in ("*", "?"):
        return pattern
    return f"{atom}(?<{lead.group(1)}[{lead.group(2)}]{atom}){tail}{after}"


def _leading_group(text: str):
    """(opening, content, index after ")") of a group at the start of ``text`` with no
    top-level alternative and not followed by a quantifier; else None."""
    if text.startswith("(?:"):
        opening = "(?:"
    elif text.startswith("(") and not text.startswith("(?"):
        opening = "("
    else:
        return None
    depth, i = 0, len(opening)
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            end = _CLASS.match(text, i)
            if not end:
                return None
            i = end.end()
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                if text[i + 1:i + 2] in ("*", "+", "?", "{"):
                    return None
                return opening, text[len(opening):i], i
            depth -= 1
        elif char == "|" and depth == 0:
            return None
        i += 1
    return None


TRIM_PATTERN = "\\A | \\Z"


def _trim_one_space(text: str) -> str:
    """What ``re.sub(TRIM_PATTERN, "", text)`` returns, without scanning the whole text:
    one leading space and one trailing space go (the text is whitespace-collapsed)."""
    if text.startswith(" "):
        text = text[1:]
    if text.endswith(" "):
        text = text[:-1]
    return text


@lru_cache(maxsize=1)
def _compiled_steps():
    compiled = []
    for step in rules.STEPS:
        if isinstance(step, rules.Mask):
            digits_only = bool(step.keywords) and all(k.isdigit() for k in step.keywords) and \
                set("".join(step.keywords)) == set("0123456789")
            if step.pattern == TRIM_PATTERN and step.replacement == "":
                compiled.append(("mask", _trim_one_space, None, (step.guard, None if digits_only else step.keywords)))
                continue
            compiled.append(("mask", re.compile(python_pattern(step.pattern)), _python_replacement(step.replacement),
                             (step.guard, None if digits_only else step.keywords)))
        elif isinstance(step, rules.Clip):
            compiled.append(("clip", step.head, step.tail, None))
        else:
            compiled.append(("truncate", step.length, None, None))
    return tuple(compiled)


_KIND_RE = re.compile(rules.KIND_PATTERN)
_DIGIT = re.compile("[0-9]")


def strip_nul(text: str) -> str:
    return text.replace("\x00", NUL_REPLACEMENT) if "\x00" in text else text


def normalize_error_message(message: str) -> str:
    """Strip what varies between occurrences of the same error, keep what names the bug."""
    text = strip_nul(message)
    folded_from, folded = None, ""
    digits_from, has_digit = None, False
    for op, a, b, guards in _compiled_steps():
        if op == "mask":
            guard, keywords = guards
            if guard not in text:  # "" is in every text; an absent guard means no match is possible
                continue
            if keywords is None:  # "any digit": one scan, remembered until the text changes
                if digits_from is not text:
                    digits_from, has_digit = text, _DIGIT.search(text) is not None
                if not has_digit:
                    continue
            elif keywords:
                if folded_from is not text:
                    folded_from, folded = text, text.translate(ASCII_LOWER)
                if not any(k in folded for k in keywords):
                    continue
            text = a(text) if b is None else a.sub(b, text)
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


def uuid_of(material: str) -> str:
    """The UUID text of the first 128 bits of material's SHA-256: str(uuid.UUID(h[:32])),
    formatted directly (five times cheaper, and ids are made per event on hot paths)."""
    h = hashlib.sha256(material.encode("utf-8")).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def length_prefixed_uuid(*parts: str) -> str:
    """A UUID of several fields, each length-prefixed so no two combinations share a digest input."""
    return uuid_of("".join(f"{len(p)}:{p}" for p in parts))


def fingerprint_normalized(kind: str, component: str | None, normalized_message: str) -> str:
    """A UUID from kind, component and normalized message, versioned with the rules."""
    return length_prefixed_uuid(f"v{rules.RULES_VERSION}", kind or "", component or "", normalized_message)


def fingerprint_head(kind: str, component: str | None) -> str:
    """What the digest input of fingerprint_normalized starts with, for every message of one
    (kind, component): the rules version, kind and component, length-prefixed; the message
    follows, as f"{len(norm)}:{norm}"."""
    return "".join(f"{len(p)}:{p}" for p in (f"v{rules.RULES_VERSION}", kind or "", component or ""))


def fingerprinter(kind: str, component: str | None):
    """fingerprint_normalized with kind and component fixed, for many messages of one source:
    the length-prefixed head of the digest input is made once."""
    head = fingerprint_head(kind, component)
    return lambda normalized_message: uuid_of(f"{head}{len(normalized_message)}:{normalized_message}")


def fingerprints(kind: str, component: str | None, norms: list[str]) -> list[str]:
    """fingerprint_normalized of many normalized messages of one source, in one loop: a
    grouped input has hundreds of thousands of signatures, and a call per one costs more
    than its hashing."""
    head = fingerprint_head(kind, component)
    sha256 = hashlib.sha256
    out = []
    for norm in norms:
        h = sha256(f"{head}{len(norm)}:{norm}".encode("utf-8")).hexdigest()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}")
    return out


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
