"""Reading JSON-lines (or plain text) events from stdin for the database-free commands."""

from __future__ import annotations

import codecs
import json
import mmap
import os
import stat
import sys
from typing import Iterator

from ..events import json_problem, lone_surrogate


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
        except (ValueError, RecursionError) as exc:
            yield number, None, json_problem(exc)
            continue
        if not isinstance(obj, dict):
            yield number, None, f"expected a JSON object, got {type(obj).__name__}"
        elif not isinstance(obj.get("error"), str):
            yield number, None, "no 'error' string"
        elif obj.get("component") is not None and not isinstance(obj["component"], str):
            yield number, None, "'component' must be a string"
        elif lone_surrogate(obj["error"]) or lone_surrogate(obj.get("component") or ""):
            yield number, None, "'error' or 'component' holds a lone surrogate escape: not valid Unicode"
        else:
            yield number, obj, None


def json_line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def write_line(obj: dict, out=None) -> None:
    (out or sys.stdout).write(json_line(obj))


def report_rejection(number: int, reason: str) -> dict:
    """Rejected lines keep their place in the output, and are named on stderr."""
    sys.stderr.write(f"line {number}: rejected: {reason}\n")
    return {"line": number, "rejected": reason}


def load_scanner():
    """The compiled JSON-lines scanner, or None when the package was installed without a
    compiler or SKILLSMITH_PURE_PYTHON is set."""
    if os.environ.get("SKILLSMITH_PURE_PYTHON"):
        return None
    try:
        from .. import _jsonl
    except ImportError:
        return None
    return _jsonl


def byte_stdio(stdin, stdout) -> tuple | None:
    """The binary streams under two text streams when bytes can stand in for them, else None.

    The compiled path reads and writes UTF-8 with "\\n" line ends, which is what the text
    streams do on POSIX with a UTF-8 locale; anywhere else the text streams are used.
    """
    if os.linesep != "\n":
        return None
    streams = []
    for stream in (stdin, stdout):
        encoding, binary = getattr(stream, "encoding", None), getattr(stream, "buffer", None)
        if binary is None or not encoding or codecs.lookup(encoding).name != "utf-8":
            return None
        streams.append(binary)
    return tuple(streams)


def read_all(stream):
    """The rest of a binary stream as a bytes-like object. A regular file is mapped, not
    copied: no second copy of a large input in memory, and no time spent making it."""
    try:
        fd, position = stream.fileno(), stream.tell()
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_size > position:
            data = memoryview(mmap.mmap(fd, 0, access=mmap.ACCESS_READ))[position:]
            stream.seek(0, os.SEEK_END)  # consumed, as after read()
            return data
    except (OSError, ValueError, OverflowError, AttributeError):  # not a file, or one that cannot be mapped
        pass
    return stream.read()
