"""The pull request's text: secrets scrubbed, untrusted text defused, a hidden marker, a size cap.

Proposal files carry text that came from production errors, which anyone who can
make an agent fail can influence. Before any of it reaches GitHub it is scrubbed
of anything that looks like a credential and defused, so it cannot ping people
(``@user``), link or close issues (``#123``), inject HTML or comments (and so
forge the marker this module reads back), or break out of markdown structure.
Plain Python: no Dagster, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skillsmith_assets.secrets import PRIVATE_KEY_BEGIN, SECRET_SHAPES, scrub_secrets

MAX_BODY_CHARS = 60_000  # GitHub refuses bodies over 65,536 characters; keep a margin
MAX_SAMPLE_CHARS = 400
MAX_SAMPLES_SHOWN = 5
ZWSP = "\u200b"

# Shapes specific enough that a match is almost surely a live credential.
_CREDENTIAL_SHAPES: tuple[tuple[str, re.Pattern], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("a private key", PRIVATE_KEY_BEGIN),
        *((shape.name, r"(?<![A-Za-z0-9_-])" + shape.pattern) for shape in SECRET_SHAPES),
        ("a Slack webhook", r"https://hooks\.slack\.com/services/"),
        ("a JSON web token", r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
        ("a password in a URL", r"\b[a-z][a-z0-9+.-]*://[^\s/:@<>]+:(?!<|\[REDACTED\])[^\s/@<>]+@"),
    )
)


def credential_kinds(text: str) -> list[str]:
    """Which unmistakable credential shapes ``text`` holds (names only, never the values)."""
    return [name for name, pattern in _CREDENTIAL_SHAPES if pattern.search(text)]


def scrub(text: str) -> str:
    """``text`` with anything shaped like a credential replaced by ``[REDACTED]``."""
    return scrub_secrets(text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()|~!])")


def defuse(text: str, limit: int = MAX_SAMPLE_CHARS, html: bool = False) -> str:
    """Untrusted ``text`` as one inert line of GitHub markdown (or, with ``html``, of an
    HTML block such as ``<summary>``), secrets scrubbed.

    HTML (and so comment markers) is entity-escaped, markdown punctuation and
    backticks are backslash-escaped (in markdown only: an HTML block shows
    backslashes), and a zero-width space after ``@``, ``#`` and ``://`` keeps
    mentions, issue references and autolinks from going live. Bidirectional and
    other invisible controls are dropped (they can hide text).
    """
    # Bound the input first: scrubbing is linear per line but quadratic in the worst case.
    text = scrub(str(text)[: limit * 4])
    text = _CONTROL.sub("", text)
    text = _NEWLINES.sub(" \u23ce ", text).replace("\t", " ")
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not html:
        text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = text.replace("@", "@" + ZWSP).replace("#", "#" + ZWSP).replace("://", ":" + ZWSP + "//")
    # GitHub also links bare "GH-123" references.
    text = re.sub(r"(?i)\b(gh)-(\d)", r"\1-" + ZWSP + r"\2", text)
    return text.replace("`", "&grave;") if html else text


# --- the marker -----------------------------------------------------------------

MARKER_RE = re.compile(
    r"<!-- skillsmith-batch digest=(?P<digest>[0-9a-f]{64})(?: head=(?P<head>[0-9a-f]{40}))?"
    r" ids=(?P<ids>[A-Z0-9,-]*) -->"
)
HANDS_OFF_MARKER = "<!-- skillsmith-hands-off -->"


@dataclass(frozen=True)
class Marker:
    """What a bot PR's body records about the batch it proposes."""

    digest: str
    ids: tuple[str, ...]
    head: str | None = None

    def render(self) -> str:
        head = f" head={self.head}" if self.head else ""
        return f"<!-- skillsmith-batch digest={self.digest}{head} ids={','.join(self.ids)} -->"


def parse_marker(body: str | None) -> Marker | None:
    """The marker the bot wrote, or None. Untrusted text cannot contain ``<!--``
    (``defuse`` escapes it), so any match was written by the bot; the last one wins."""
    matches = list(MARKER_RE.finditer(body or ""))
    if not matches:
        return None
    m = matches[-1]
    ids = tuple(i for i in m.group("ids").split(",") if i)
    return Marker(digest=m.group("digest"), ids=ids, head=m.group("head"))


# --- the body -------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalSummary:
    """The fields of one proposal the body shows; all strings are untrusted."""

    id: str
    kind: str
    name: str
    component: str
    hits_7d: int
    hits_30d: int
    impact_score: float
    samples: tuple[str, ...]
    path: str
    extra_paths: tuple[str, ...] = ()


def title(proposals) -> str:
    n = len(proposals)
    return f"Skillsmith: {n} proposed skill{'s' if n != 1 else ''} from recurring errors"


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "?"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _score(p: ProposalSummary) -> float:
    value = p.impact_score
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _table_row(p: ProposalSummary) -> str:
    return (
        f"| `{p.id}` | {p.kind} | {defuse(p.component or '-', 120)} | {_number(p.hits_7d)} / {_number(p.hits_30d)}"
        f" | {_number(p.impact_score)} |"
    )


def _section(p: ProposalSummary, max_samples: int) -> str:
    lines = [
        "<details>",
        f"<summary>{p.id} \u00b7 {defuse(p.name, 200, html=True)}</summary>",
        "",
        f"File: `{p.path}`" + "".join(f", `{extra}`" for extra in p.extra_paths),
        "",
    ]
    shown = p.samples[:max_samples]
    if shown:
        lines.append("Normalized samples:")
        lines.append("")
        lines.extend(f"- {defuse(sample)}" for sample in shown)
        if len(p.samples) > len(shown):
            lines.append(f"- \u2026 {len(p.samples) - len(shown)} more in the file")
    else:
        lines.append("No samples recorded.")
    lines += ["", "</details>", "", ""]
    return "\n".join(lines)


def render_body(proposals, marker: Marker, limit: int = MAX_BODY_CHARS) -> str:
    """The PR body: summary, table, one collapsible section per proposal, how to review, marker.

    Always at most ``limit`` characters and always ending with the marker: when
    everything does not fit, samples are cut first, then whole sections and rows,
    with a note saying the files hold the rest.
    """
    proposals = sorted(proposals, key=lambda p: (-_score(p), p.id))
    kinds = {k: sum(1 for p in proposals if p.kind == k) for k in ("guardrail", "fixer")}
    summary = (
        f"Skillsmith proposes {len(proposals)} skill{'s' if len(proposals) != 1 else ''} "
        f"({kinds['guardrail']} guardrail{'s' if kinds['guardrail'] != 1 else ''}, "
        f"{kinds['fixer']} fixer{'s' if kinds['fixer'] != 1 else ''}) mined from recurring production errors."
    )
    review = "\n".join(
        [
            "### How to review",
            "",
            "- **Approve** a skill: `skillsmith approve <ID>` (moves it into `skills/`; a fixer only when its "
            "autopatch exists and its tests pass), commit, and merge.",
            "- **Reject** a skill: `skillsmith reject <ID> --reason \"...\"`; it is never proposed again.",
            "- Closing this pull request without merging stops Skillsmith from proposing these skills in a "
            "pull request again; new proposals arrive in a new one.",
            "- Skillsmith updates this pull request in place while every commit on its branch is its own. "
            "Push to the branch and it leaves the pull request to you.",
            "",
            "Samples are normalized and scrubbed of secrets; mentions and references in them are inert.",
        ]
    )
    tail = "\n\n" + review + "\n\n" + marker.render() + "\n"
    head = summary + "\n\n| id | kind | component | hits 7d / 30d | impact score |\n|---|---|---|---|---|\n"
    budget = limit - len(tail) - 200  # room for the "more" notes

    for max_samples in (MAX_SAMPLES_SHOWN, 2, 1, 0):
        rows, sections, omitted_rows, omitted_sections = [], [], 0, 0
        used = len(head)
        for p in proposals:
            row = _table_row(p) + "\n"
            if used + len(row) <= budget:
                rows.append(row)
                used += len(row)
            else:
                omitted_rows += 1
        used += 2
        for p in proposals:
            section = _section(p, max_samples)
            if not omitted_rows and used + len(section) <= budget:
                sections.append(section)
                used += len(section)
            else:
                omitted_sections += 1
        if not omitted_sections or max_samples == 0:
            break
    notes = ""
    if omitted_rows:
        notes += f"\n\u2026 and {omitted_rows} more proposals: see the files in this pull request.\n"
    text = head + "".join(rows) + notes + "\n" + "".join(sections)
    if omitted_sections:
        text += f"\nDetails of {omitted_sections} proposals did not fit here: see the files in this pull request.\n"
    body = text.rstrip("\n") + tail
    if len(body) > limit:  # cannot happen with sane inputs; never exceed GitHub's limit or lose the marker
        body = body[: limit - len(tail) - 1] + "\u2026" + tail
    return body
