"""``message_regex`` for a pattern: escaped literal text, bounded classes for the wildcards.

The regex is searched in normalized messages, where placeholders such as
``<int>`` are literal text. Wildcard positions (``<*>``, from pattern merging)
become ``[^ ]{1,2000}``: a bounded class that cannot cross a space, so no
position can backtrack into its neighbour's text. A pattern holds at most one
span (``<**>``, any run of tokens, none included): one bounded lazy run, so a
search stays linear in the message's length times the template's.
"""

from __future__ import annotations

import re

from skillsmith_assets.normalize.rules import SPAN, WILDCARD

WILDCARD_CLASS = "[^ ]{1,2000}"  # a token of a normalized message (at most 2,000 characters)
SPAN_RUN = "[\\s\\S]{0,2000}?"  # a run of tokens (the message is at most 2,000 characters here)
SHORT_PREFIX_CHARS = 120  # try a readable prefix first; grow only if it is ambiguous
MAX_LITERAL_CHARS = 1200


def escape_literal(text: str) -> str:
    """``re.escape`` minus the escaped spaces (only needed in verbose mode), for readable regexes."""
    return re.escape(text).replace("\\ ", " ")


def _tokens_regex(text: str) -> str:
    return WILDCARD_CLASS.join(escape_literal(part) for part in text.split(WILDCARD))


def _regex_for(template: str, anchored_end: bool) -> str:
    """Literal text, ``<*>`` classes, and the span: a standalone ``<**>`` takes one of its
    neighbouring spaces with it, so an empty run leaves no double space to match."""
    end = "\\Z" if anchored_end else ""
    if SPAN not in template:
        return "\\A" + _tokens_regex(template) + end
    before, after = template.split(SPAN, 1)
    if before.endswith(" ") or (not before and after.startswith(" ")):
        run = f"(?: {SPAN_RUN})?" if before else f"(?:{SPAN_RUN} )?"
        before, after = (before[:-1], after) if before else (before, after[1:])
    else:
        run = SPAN_RUN
    return "\\A" + _tokens_regex(before) + run + _tokens_regex(after) + end


def _prefix(template: str, chars: int) -> str:
    """The template cut at a space at or before ``chars``, never inside a wildcard."""
    if len(template) <= chars:
        return template
    cut = template.rfind(" ", 0, chars)
    return template[: cut if cut > 0 else chars]


def build_message_regex(template: str, own_samples: list[str], other_samples: list[str]) -> str:
    """The shortest prefix regex that matches every own sample and no other sample.

    Falls back to the whole template anchored at both ends; raises ValueError if
    even that cannot tell the pattern apart (identical text in another pattern).
    """
    candidates = []
    for chars in (SHORT_PREFIX_CHARS, 300, 600, MAX_LITERAL_CHARS):
        if len(template) > chars:
            prefix = _prefix(template, chars)
            if prefix.count("<*") != prefix.count(WILDCARD) + prefix.count(SPAN):  # never cut one in half
                continue
            candidates.append(_regex_for(prefix, anchored_end=False))
    candidates.append(_regex_for(template[:MAX_LITERAL_CHARS], anchored_end=len(template) <= MAX_LITERAL_CHARS))
    for pattern in candidates:
        compiled = re.compile(pattern)
        if all(compiled.search(s) for s in own_samples) and not any(compiled.search(s) for s in other_samples):
            return pattern
    raise ValueError("the pattern's text cannot be told apart from another pattern's samples")
