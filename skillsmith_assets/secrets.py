"""Secrets out of free text that leaves the machine: PR bodies, alerts, logs.

Already-masked placeholders (``<secret>``, ``<redacted>``) are left as they are.

Stored messages are already normalized (the rule table masks secrets the same way
in Python and SQL); this is the last line of defence for any other text, so it
errs on the side of redacting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class SecretShape:
    name: str  # what it is, in words (the pull-request guard names it)
    pattern: str  # the token alone, no boundaries: each user adds its own
    example: str  # a realistic value, for the tests


# Tokens recognisable by shape alone: one list for every place that hides secrets. The
# normalizer's masks (normalize_rules.py, in the dialect Python and PostgreSQL read alike),
# the scrubber below (text leaving the machine) and the pull-request guard (pr_body.py) are
# built from it, and tests/normalize/test_secret_shapes.py holds each of them to every example.
SECRET_SHAPES: tuple[SecretShape, ...] = (
    SecretShape("a GitHub token", "(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
                "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    SecretShape("a Slack token", "(?:xox[abposre]|xapp)-[A-Za-z0-9-]{8,}", "xapp-1-A0123BCDE-4567890-abcdefabcdef"),
    SecretShape("an AWS access key id", "(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}",
                "AKIAIOSFODNN7EXAMPLE"),
    SecretShape("an API key", "(?:sk|rk|pk)[_-][A-Za-z0-9_-]{16,}", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    SecretShape("a Google API key", "AIza[0-9A-Za-z_-]{30,}", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
)
SHAPE = {shape.name: shape.pattern for shape in SECRET_SHAPES}

_SECRET_KEYS = r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?"
_SECRET_VALUE = r"\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&'\"}\])]+"

# The first line of a PEM private key, with whatever whitespace its words are apart.
PRIVATE_KEY_BEGIN = r"-----BEGIN\s[A-Z0-9\s]*PRIVATE\s+KEY(?:\s+BLOCK)?-----"

# Ordered: the specific shapes first, then the generic ``key=value`` forms.
_SECRET_PATTERNS: list[tuple[re.Pattern, str]] = [
    # PEM private keys, also when truncated before their END line.
    (
        re.compile(
            PRIVATE_KEY_BEGIN + r".*?(?:-----END\s[A-Z0-9\s]*PRIVATE\s+KEY(?:\s+BLOCK)?-----|\Z)",
            re.S,
        ),
        "[REDACTED PRIVATE KEY]",
    ),
    # Slack incoming webhooks carry their secret in the path.
    (re.compile(r"https://hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"), "https://hooks.slack.com/" + REDACTED),
    # Passwords in URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@"), r"\1" + REDACTED + "@"),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), REDACTED),
    # GitHub, Slack, AWS, API (OpenAI, Anthropic, Stripe) and Google keys: the shared shapes.
    *((re.compile(r"(?<![A-Za-z0-9_-])" + shape.pattern), REDACTED) for shape in SECRET_SHAPES),
    # Authorization headers.
    (re.compile(r"(?i)\b(Bearer|Basic|Token)\s+(?!<)[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # key=value (any case), "key": value (quoted, as in JSON or a dict's repr), and
    # key: value with a lower-case key (YAML, logs). An unquoted CamelCase key before a
    # colon is an exception class (``InvalidToken: signature did not match``): kept.
    (
        re.compile(r"(?i)(\b[\w.-]*(?:%s)s?[\"']?\s*=\s*)(?!\[REDACTED|<)(%s)" % (_SECRET_KEYS, _SECRET_VALUE)),
        r"\1" + REDACTED,
    ),
    (
        re.compile(r"([\"'][\w.-]*(?i:%s)s?[\"']\s*:\s*)(?!\[REDACTED|<)(%s)" % (_SECRET_KEYS, _SECRET_VALUE)),
        r"\1" + REDACTED,
    ),
    (
        re.compile(r"(\b[a-z0-9_.-]*(?:%s)\s*:\s*)(?!\[REDACTED|<)(%s)" % (_SECRET_KEYS, _SECRET_VALUE)),
        r"\1" + REDACTED,
    ),
]


def scrub_secrets(text: str) -> str:
    """``text`` with tokens, keys, passwords and private keys replaced by ``[REDACTED]``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text
