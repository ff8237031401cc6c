"""Reading JSON-lines (or plain text) events from stdin for the database-free commands."""

from __future__ import annotations

import json
import sys
from typing import Iterator


def read_events(stream, text_mode: bool) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield (line number, event object or None, rejection reason or None) in input order."""
    for number, raw in enumerate(stream, start=1):
        line = raw.rstrip("\n").rstrip("\r")
        if text_mode:
            yield number, {"error": line}, None
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield number, None, f"not JSON: {getattr(exc, 'msg', 'too deeply nested')}"
            continue
        if not isinstance(obj, dict):
            yield number, None, f"expected a JSON object, got {type(obj).__name__}"
        elif not isinstance(obj.get("error"), str):
            yield number, None, "no 'error' string"
        elif obj.get("component") is not None and not isinstance(obj["component"], str):
            yield number, None, "'component' must be a string"
        else:
            yield number, obj, None


def write_line(obj: dict, out=None) -> None:
    (out or sys.stdout).write(json.dumps(obj, ensure_ascii=False) + "\n")


def report_rejection(number: int, reason: str) -> dict:
    """Rejected lines keep their place in the output, and are named on stderr."""
    sys.stderr.write(f"line {number}: rejected: {reason}\n")
    return {"line": number, "rejected": reason}
