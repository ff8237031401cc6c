"""What an incoming error event is, and why a line is rejected.

An event is a JSON object: ``error`` (a non-empty string, required), optional
``component`` (string), ``tags`` (list of strings), ``ts`` (ISO 8601 string or
epoch seconds/milliseconds) and ``id``/``event_id`` (the source's own id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from skillsmith_assets.normalize.message import strip_nul, uuid_of


# json.dumps's own string encoder (ensure_ascii=True, its default).
_json_string = json.encoder.encode_basestring_ascii


class RejectedEvent(ValueError):
    """The event cannot be stored; the message says why."""


@dataclass(frozen=True)
class Event:
    error: str
    component: str | None
    tags: list[str] | None
    ts: datetime | None  # None: stamped when stored
    source_id: str | None
    origin: str | None = None  # where it came from: "<file>:<line>", or one collector call

    @property
    def key(self) -> str:
        """The idempotency key: the source's own id if it gave one, else where the event came from.

        Never the content alone: a recurring error logged twice without ``ts`` or
        ``id`` is two events. Re-reading the same line of the same file gives the
        same key (so re-loading a file adds nothing); the content is part of the
        key too, so a line that changed in place is loaded, not lost.
        """
        if self.source_id is not None:
            # the text json.dumps(["id", source_id]) makes, without building a list (ingest's hot path)
            material = '["id", ' + _json_string(self.source_id) + "]"
        elif self.origin is not None:
            ts = self.ts.isoformat() if self.ts else None
            material = json.dumps([self.origin, ts, self.component, self.error, self.tags], ensure_ascii=False)
        else:
            raise ValueError("an event without an id needs an origin to be keyed")
        return uuid_of(material)


def parse_ts(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise RejectedEvent("'ts' must be an ISO 8601 string or epoch seconds, not a boolean")
    if isinstance(value, (int, float)):
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise RejectedEvent(f"'ts' {value!r} is out of range") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise RejectedEvent(f"'ts' {value[:40]!r} is not an ISO 8601 timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    raise RejectedEvent(f"'ts' must be an ISO 8601 string or epoch seconds, not {type(value).__name__}")


def lone_surrogate(text: str) -> bool:
    """JSON can escape half of a UTF-16 pair ("\\ud800"): such text is not Unicode, and
    cannot be hashed, written as UTF-8 or stored in Postgres."""
    if text.isascii():  # the common case, answered without encoding
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_problem(exc: Exception) -> str:
    """Why json.loads refused a line (it also raises ValueError for integers over 4300 digits)."""
    if isinstance(exc, RecursionError):
        return "not JSON: too deeply nested"
    return f"not JSON: {getattr(exc, 'msg', None) or str(exc).split(';')[0]}"


def parse_event(obj, check_unicode: bool = True, origin: str | None = None) -> Event:
    """Validate one decoded JSON value; NUL bytes are replaced visibly (Postgres text cannot hold them)."""
    if not isinstance(obj, dict):
        raise RejectedEvent(f"expected a JSON object, got {type(obj).__name__}")
    error = obj.get("error")
    if error is None:
        raise RejectedEvent("no 'error' field")
    if not isinstance(error, str):
        raise RejectedEvent(f"'error' must be a string, not {type(error).__name__}")
    if not error.strip():
        raise RejectedEvent("'error' is empty")
    component = obj.get("component")
    if component is not None and not isinstance(component, str):
        raise RejectedEvent(f"'component' must be a string, not {type(component).__name__}")
    tags = obj.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise RejectedEvent("'tags' must be a list of strings")
        tags = [strip_nul(t) for t in tags]
    source_id = obj.get("event_id", obj.get("id"))
    if source_id is not None and not isinstance(source_id, (str, int)) or isinstance(source_id, bool):
        raise RejectedEvent("'id' must be a string or an integer")
    if check_unicode:
        fields = (("error", error), ("component", component), ("id", source_id), *(("tags", t) for t in tags or ()))
        for name, value in fields:
            if isinstance(value, str) and lone_surrogate(value):
                raise RejectedEvent(f"'{name}' holds a lone surrogate escape: not valid Unicode")
    return Event(
        error=strip_nul(error),
        component=strip_nul(component) if component is not None else None,
        tags=tags,
        ts=parse_ts(obj.get("ts")),
        source_id=strip_nul(str(source_id)) if source_id is not None else None,
        origin=origin,
    )


def parse_line(line: bytes | str, origin: str | None = None) -> Event:
    """One JSON-lines line to an Event, or RejectedEvent saying what is wrong with it."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RejectedEvent(f"not UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise RejectedEvent(json_problem(exc)) from None
    # Valid UTF-8 holds no surrogates: only a "\\u" escape can make one.
    return parse_event(obj, check_unicode="\\u" in line, origin=origin)
