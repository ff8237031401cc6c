"""Secrets out of free text that leaves the machine: PR bodies, alerts, logs.

Already-masked placeholders (``<secret>``, ``<redacted>``) are left as they are.

Stored messages are already normalized (the rule table masks secrets the same way
in Python and SQL); this is the last line of defence for any other text, so it
errs on the side of redacting.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

_SECRET_KEYS = r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?"
_SECRET_VALUE = r"\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&'\"}\])]+"

# Ordered: the specific shapes first, then the generic ``key=value`` forms.
_SECRET_PATTERNS: list[tuple[re.Pattern, str]] = [
    # PEM private keys, also when truncated before their END line.
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
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
    # GitHub tokens (classic, fine-grained, app, OAuth, refresh).
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), REDACTED),
    # Slack tokens.
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\bxapp-[A-Za-z0-9-]{10,}"), REDACTED),
    # OpenAI / Anthropic style keys, Stripe keys.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{10,}"), REDACTED),
    # AWS access key ids, Google API keys.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
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
