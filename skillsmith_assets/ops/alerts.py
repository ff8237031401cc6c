"""Alerts to a chat webhook: what a person needs to act on a failure, and nothing secret.

Plain Python (no Dagster) so the message format, the scrubbing and the delivery rules
are testable on their own; ``defs/operations.py`` turns Dagster runs into ``Alert``.

Rules, and why:

- **Slack-compatible by default** (Slack, Mattermost, Rocket.Chat and others accept it):
  ``blocks`` for a readable card plus a plain ``text`` fallback, which Slack uses for
  notifications and which clients that ignore blocks show instead.
- **Secrets scrubbed** before anything leaves the process: error messages routinely
  carry connection strings, tokens and keys, and a chat channel is not a vault.
- **``& < >`` escaped**: Slack treats them as control characters (``<!channel>``,
  ``<url|label>``), so raw error text could ping a channel or forge a link.
- **At most 2,800 characters of error**, head and tail kept: a section block holds
  3,000; the head names the error, the tail holds the innermost frames.
- **Delivery**: one POST; if it fails (a receiver that rejects blocks, a transient
  5xx), one retry as plain text; if that fails too, ``AlertDeliveryError`` -- the
  caller must let it propagate so the failure is visible, never swallow it.
- Microsoft Teams (Workflows / Power Automate adaptive cards) and generic JSON
  receivers are supported with ``format="teams"`` / ``"json"``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from skillsmith_assets.secrets import scrub_secrets

MAX_ERROR_CHARS = 2800
FORMATS = ("slack", "teams", "json")

def escape(text: str) -> str:
    """Slack's three control characters as entities (``&`` first, so entities stay single)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped_pieces(text: str) -> list[str]:
    return [escape(ch) for ch in text]


def escape_and_truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Escape ``text``, then keep its head and tail so the result is at most ``limit`` characters.

    Cutting happens between escaped characters, never inside an entity such as ``&amp;``.
    """
    pieces = _escaped_pieces(text)
    total = sum(len(p) for p in pieces)
    if total <= limit:
        return "".join(pieces)
    # The marker's length depends on the number omitted; reserve room for the widest.
    marker_room = len(f"\n… [{len(pieces)} characters omitted] …\n")
    budget = max(limit - marker_room, 0)
    head_budget = budget // 2
    tail_budget = budget - head_budget
    head, used = [], 0
    for p in pieces:
        if used + len(p) > head_budget:
            break
        head.append(p)
        used += len(p)
    tail, used = [], 0
    for p in reversed(pieces[len(head):]):
        if used + len(p) > tail_budget:
            break
        tail.append(p)
        used += len(p)
    tail.reverse()
    omitted = len(pieces) - len(head) - len(tail)
    return "".join(head) + f"\n… [{omitted} characters omitted] …\n" + "".join(tail)


def truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Head and tail of ``text`` (unescaped), at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    marker_room = len(f"\n… [{len(text)} characters omitted] …\n")
    budget = max(limit - marker_room, 0)
    head = budget // 2
    tail = budget - head
    omitted = len(text) - head - tail
    return text[:head] + f"\n… [{omitted} characters omitted] …\n" + (text[-tail:] if tail else "")


@dataclass
class Alert:
    """One thing that went wrong, in words: what failed, where, the error, and where to look."""

    title: str
    job: str | None = None
    run_id: str | None = None
    run_url: str | None = None
    assets: list[str] = field(default_factory=list)
    step: str | None = None
    partition: str | None = None
    checks: list[str] = field(default_factory=list)  # "asset:check — description"
    error: str = ""
    note: str | None = None  # e.g. "after 2 retries"
    kind: str = "run_failure"  # or "check_failure"

    def scrubbed(self) -> "Alert":
        """A copy whose free text holds no secret (names are identifiers, scrubbed anyway)."""
        s = scrub_secrets
        return Alert(
            title=s(self.title),
            job=s(self.job) if self.job else self.job,
            run_id=self.run_id,
            run_url=self.run_url,
            assets=[s(a) for a in self.assets],
            step=s(self.step) if self.step else self.step,
            partition=s(self.partition) if self.partition else self.partition,
            checks=[s(c) for c in self.checks],
            error=s(self.error),
            note=s(self.note) if self.note else self.note,
            kind=self.kind,
        )

    def facts(self) -> list[tuple[str, str]]:
        rows = []
        if self.job:
            rows.append(("Job", self.job))
        if self.assets:
            rows.append(("Asset" if len(self.assets) == 1 else "Assets", ", ".join(self.assets)))
        if self.step:
            rows.append(("Step", self.step))
        if self.partition:
            rows.append(("Partition", self.partition))
        if self.run_id:
            rows.append(("Run", self.run_id))
        if self.note:
            rows.append(("Note", self.note))
        return rows


def plain_text(alert: Alert, limit: int = MAX_ERROR_CHARS) -> str:
    """The whole alert as escaped plain text: the ``text`` fallback and the retry payload."""
    a = alert.scrubbed()
    lines = [escape(a.title)]
    lines += [f"{name}: {escape(value)}" for name, value in a.facts()]
    for check in a.checks:
        lines.append(f"Check failed: {escape(truncate(check, 500))}")
    if a.error:
        lines.append("Error:")
        lines.append(escape_and_truncate(a.error, limit))
    if a.run_url:
        lines.append(f"Run: {escape(a.run_url)}")
    return "\n".join(lines)


def slack_payload(alert: Alert) -> dict:
    """Blocks for a readable card, and the same content as plain ``text``."""
    a = alert.scrubbed()
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": escape(truncate(a.title, 140)), "emoji": True}},
    ]
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{escape_and_truncate(value, 1900)}"} for name, value in a.facts()
    ][:10]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if a.checks:
        text = "\n".join(f"• {escape(truncate(c, 500))}" for c in a.checks[:5])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Failed checks*\n{truncate(text, 2900)}"}})
    if a.error:
        # Backtick runs would close the code block early; a lookalike keeps the text readable.
        error = escape_and_truncate(a.error.replace("```", "ˋˋˋ"), MAX_ERROR_CHARS)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{error}```"}})
    if a.run_url:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{escape(a.run_url).replace('|', '%7C')}|Open the run in Dagster>"},
            }
        )
    return {"text": plain_text(alert), "blocks": blocks}


def teams_payload(alert: Alert) -> dict:
    """An adaptive card, as Teams Workflows (and Power Automate) webhooks expect."""
    a = alert.scrubbed()
    body: list[dict] = [
        {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True, "text": escape(a.title)},
        {"type": "FactSet", "facts": [{"title": n, "value": escape(v)} for n, v in a.facts()]},
    ]
    for check in a.checks[:5]:
        body.append({"type": "TextBlock", "wrap": True, "text": "Check failed: " + escape(truncate(check, 500))})
    if a.error:
        body.append({"type": "TextBlock", "wrap": True, "fontType": "Monospace", "text": escape_and_truncate(a.error)})
    card: dict = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if a.run_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the run in Dagster", "url": a.run_url}]
    return _teams_message(card)


def _teams_message(card: dict) -> dict:
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}],
    }


def json_payload(alert: Alert) -> dict:
    """Every field as data, for receivers that route alerts themselves (text fields escaped)."""
    a = alert.scrubbed()
    return {
        "source": "skillsmith",
        "kind": a.kind,
        "title": escape(a.title),
        "text": plain_text(alert),
        "job": a.job,
        "run_id": a.run_id,
        "run_url": a.run_url,
        "assets": a.assets,
        "step": a.step,
        "partition": a.partition,
        "checks": [escape(truncate(c, 500)) for c in a.checks],
        "error": escape_and_truncate(a.error) if a.error else "",
    }


def rich_payload(alert: Alert, fmt: str) -> dict:
    return {"slack": slack_payload, "teams": teams_payload, "json": json_payload}[fmt](alert)


def plain_payload(alert: Alert, fmt: str) -> dict:
    """The smallest payload each kind of receiver accepts: the text alone."""
    text = plain_text(alert)
    if fmt == "teams":
        return _teams_message(
            {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "wrap": True, "text": text}]}
        )
    return {"text": text}


def detect_format(url: str, fmt: str = "auto") -> str:
    """``fmt`` if given; ``auto`` picks Teams for Microsoft's webhook hosts, Slack otherwise."""
    fmt = (fmt or "auto").strip().lower()
    if fmt in FORMATS:
        return fmt
    if fmt != "auto":
        raise ValueError(f"unknown alert format {fmt!r}: use one of auto, {', '.join(FORMATS)}")
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith((".webhook.office.com", ".logic.azure.com", ".powerplatform.com", ".office.com")):
        return "teams"
    return "slack"


class AlertDeliveryError(RuntimeError):
    """The webhook refused the alert twice (rich, then plain text). Never swallow it."""


@dataclass
class Delivery:
    format: str
    attempts: int  # 1: delivered as rich payload; 2: delivered by the plain-text retry
    status: int


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would turn into a GET and look delivered: treat it as a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


def describe_endpoint(url: str) -> str:
    """Scheme, host and port only: webhook paths are secrets (Slack's carry the token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}"


def _post(url: str, payload: dict, timeout: float) -> int:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "skillsmith-alerts"}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
            response.read(65536)
    except urllib.error.HTTPError as exc:
        body = ""
        try:
            body = exc.read(300).decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001 - the status is what matters
            pass
        raise _Failed(f"HTTP {exc.code}{': ' + scrub_secrets(body) if body else ''}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Failed(f"{type(exc).__name__}: {scrub_secrets(str(reason))}") from None
    if not 200 <= status < 300:
        raise _Failed(f"HTTP {status}")
    return status


class _Failed(Exception):
    pass


def post_alert(url: str, alert: Alert, fmt: str = "auto", timeout: float = 10.0) -> Delivery:
    """Deliver ``alert``; retry once as plain text; raise ``AlertDeliveryError`` if both fail."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"the alert webhook must be an http(s) URL, not {urlsplit(url).scheme or 'empty'}:")
    fmt = detect_format(url, fmt)
    try:
        return Delivery(fmt, 1, _post(url, rich_payload(alert, fmt), timeout))
    except _Failed as first:
        first_reason = str(first)
    try:
        return Delivery(fmt, 2, _post(url, plain_payload(alert, fmt), timeout))
    except _Failed as second:
        raise AlertDeliveryError(
            f"alert {scrub_secrets(alert.title)!r} not delivered to {describe_endpoint(url)}: "
            f"{fmt} payload failed ({first_reason}), plain-text retry failed ({second})"
        ) from None
