"""The ordered rule table behind normalization, shared by Python and SQL.

One table feeds both engines (``normalize.py`` and the generated
``sql/020_normalize_functions.sql``), so the SQL functions return exactly what
the Python code returns. Patterns are written in the *portable dialect*: the
part of regex syntax that Python ``re`` and PostgreSQL ARE read the same way.

Portable dialect (checked by ``tests/test_normalize_rules.py``):
- character classes are spelled out (``[0-9]``, ``[A-Za-z0-9_]``, ``[ \\t\\n]``):
  no ``\\d \\w \\s \\b`` (locale and Unicode dependent, and ``\\b`` is a backspace in ARE);
- anchors are ``\\A`` and ``\\Z``; no ``^ $`` (Python's ``$`` also matches before a
  final newline) and no ``.`` (ARE's ``.`` matches newlines);
- lookarounds hold a single character class; lookbehinds have a fixed width;
- greedy quantifiers only, bounds at most 255 (ARE's limit);
- alternatives never match different lengths at the same position
  (Python takes the first alternative, ARE the longest);
- replacements are literal text, ``\\1``..``\\9`` refer to groups.

Bump ``RULES_VERSION`` whenever a rule changes: the fingerprint carries it, and
rows made with an older version are re-normalized by the daily partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

RULES_VERSION = 1

# A word character, for boundaries: what sits next to a token decides whether it is one.
W = "A-Za-z0-9_"
HEX = "0-9A-Fa-f"
SPACE = " \\t\\n\\r\\f\\v"


@dataclass(frozen=True)
class Mask:
    """Replace every match of ``pattern`` with ``replacement``."""

    name: str
    pattern: str
    replacement: str
    example: str  # an input the rule rewrites
    expected: str  # what normalization as a whole makes of ``example``


@dataclass(frozen=True)
class Clip:
    """Keep the head and tail of a huge message: bounds time and memory, keeps the exception line."""

    head: int
    tail: int


@dataclass(frozen=True)
class Truncate:
    """Cap the normalized message's length (characters)."""

    length: int


NOT_WORD_BEFORE = f"(?<![{W}])"
NOT_WORD_AFTER = f"(?![{W}])"

STEPS: tuple[Mask | Clip | Truncate, ...] = (
    Clip(head=16384, tail=16384),
    Mask(
        "uuid",
        f"{NOT_WORD_BEFORE}[{HEX}]{{8}}-[{HEX}]{{4}}-[{HEX}]{{4}}-[{HEX}]{{4}}-[{HEX}]{{12}}{NOT_WORD_AFTER}",
        "<uuid>",
        "order 3f2b8c1e-9a4d-4e0f-8b7a-2c1d0e9f8a7b not found",
        "order <uuid> not found",
    ),
    Mask(
        "ts",
        f"{NOT_WORD_BEFORE}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}"
        f"(?:[.,][0-9]{{1,9}})?(?:Z|[+-][0-9]{{2}}:?[0-9]{{2}})?(?![{W}])",
        "<ts>",
        "KeyError: 123456 at 2025-11-07T10:00:00Z",
        "KeyError: <int> at <ts>",
    ),
    Mask(
        "epoch",
        "(?<![0-9A-Za-z_.])1[0-9]{9}(?:[0-9]{3})?(?![0-9A-Za-z_])",
        "<epoch>",
        "token expired at 1762509600",
        "token expired at <epoch>",
    ),
    Mask(
        "int",
        "(?<![0-9A-Za-z_.])[0-9]{4,}(?![0-9A-Za-z_])",
        "<int>",
        "KeyError: 123456",
        "KeyError: <int>",
    ),
    Mask("whitespace", f"[{SPACE}]+", " ", "a\n\t  b", "a b"),
    Mask("trim", f"\\A | \\Z", "", "  padded  ", "padded"),
    Truncate(length=2000),
)

# The exception type: an optional dotted module path, then the class name, then ':'.
# ``odoo.exceptions.ValidationError: ...`` gives ``ValidationError``.
KIND_PATTERN = "\\A(?:[A-Za-z_][A-Za-z0-9_]*[.])*([A-Z][A-Za-z0-9_]*)(?=:)"
# Messages that name no exception type.
KIND_DEFAULT = "Error"
