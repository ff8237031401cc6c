"""Reading JSON-lines (or plain text) events from stdin for the database-free commands."""

from __future__ import annotations

import codecs
import json
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from typing import Iterator

from skillsmith_assets.intake.events import json_problem, lone_surrogate


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


def chunk_bytes() -> int:
    """What one chunk of input holds, at least (a longer line makes a longer chunk):
    SKILLSMITH_CHUNK_BYTES, default 8 MiB."""
    try:
        return max(1, int(os.environ.get("SKILLSMITH_CHUNK_BYTES", 8 << 20)))
    except ValueError:
        return 8 << 20


def line_counter():
    """count_lines(data): the line ends in data, \n, \r\n and a lone \r each one, as the scanner
    reads lines; compiled where the scanner is built."""
    from skillsmith_assets.intake.scanner import load_scanner

    scanner = load_scanner()
    if scanner is not None:
        return scanner.count_lines

    def count_lines(data) -> int:
        data = bytes(data)
        lines = data.count(b"\n")
        if data.find(b"\r") >= 0:  # \r alone ends a line too, \r\n once
            lines += data.count(b"\r") - data.count(b"\r\n")
        return lines

    return count_lines


@dataclass(frozen=True)
class Chunk:
    data: memoryview  # whole lines (a view of LineChunks' buffer: valid until the next chunk)
    first_line: int  # the number of its first line in the input
    offset: int  # where it starts in the input


class InputChanged(Exception):
    """The input file changed between the two passes (it was truncated or rewritten)."""


class LineChunks:
    """The input as chunks of whole lines, read as a stream, and read again for a second pass.

    A regular file is read again from itself; anything else (a pipe, a socket, a terminal)
    is kept in an unnamed temporary file as it is read. Nothing is mapped into memory, so a
    file truncated while it is read is an error with a message, never a crash.
    """

    def __init__(self, stream, size: int | None = None):
        self.stream, self.size = stream, size or chunk_bytes()
        self.start, self.seekable = 0, False
        try:
            if stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                self.start, self.seekable = stream.tell(), True
        except (OSError, ValueError, AttributeError):
            pass
        self.spill = None if self.seekable else tempfile.TemporaryFile()
        self.records = tempfile.TemporaryFile()
        self._back = bytearray()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in (self.spill, self.records):
            if handle is not None:
                handle.close()

    def __iter__(self) -> Iterator[Chunk]:
        """Chunks whose data is a view of one buffer, reused: a chunk is valid until the next.

        Reading into one buffer, not into a new bytes object per read and another per slice,
        matters for memory: blocks of several MB allocated and freed by turns leave the C heap
        grown by several times a chunk, which was most of what a chunk cost.
        """
        count_lines = line_counter()
        buffer = bytearray(self.size)
        view = memoryview(buffer)
        filled, line, offset = 0, 1, self.start  # filled: the start of a line carried over
        while True:
            if filled == len(buffer):  # one line longer than the buffer: a larger one
                view.release()
                buffer = buffer + bytes(len(buffer))
                view = memoryview(buffer)
            end = self._fill(view, filled)
            if end == filled:
                if filled:
                    yield Chunk(view[:filled], line, offset)
                return
            cut = buffer.rfind(b"\n", 0, end) + 1
            if cut == 0:  # no line ends yet: read on
                filled = end
                continue
            yield Chunk(view[:cut], line, offset)
            line += count_lines(view[:cut])
            offset += cut
            buffer[:end - cut] = bytes(view[cut:end])  # a copy: the two ranges may overlap
            filled = end - cut

    def _fill(self, view: memoryview, start: int) -> int:
        """Read into view[start:] until it is full or the input ends; where the bytes end."""
        while start < len(view):
            count = self.stream.readinto(view[start:])
            if not count:
                break
            start += count
        return start

    def keep(self, chunk: Chunk) -> tuple[int, int]:
        """Where to find the chunk's bytes again."""
        if self.spill is None:
            return chunk.offset, len(chunk.data)
        self.spill.seek(0, os.SEEK_END)
        at = self.spill.tell()
        self.spill.write(chunk.data)
        return at, len(chunk.data)

    def read_back(self, where: tuple[int, int]) -> memoryview:
        """A chunk's bytes again, in one buffer reused from call to call (valid until the next)."""
        at, length = where
        source = self.spill if self.spill is not None else self.stream
        source.seek(at)
        if len(self._back) < length:
            self._back = bytearray(length)
        view = memoryview(self._back)[:length]
        count = 0
        while count < length:
            got = source.readinto(view[count:])
            if not got:
                raise InputChanged("the input file became shorter while it was read (was it truncated or "
                                   "rewritten?); no output was written for the lines not yet written")
            count += got
        return view

    def keep_records(self, records: bytes) -> tuple[int, int]:
        self.records.seek(0, os.SEEK_END)
        at = self.records.tell()
        self.records.write(records)
        return at, len(records)

    def read_records(self, where: tuple[int, int]) -> bytes:
        self.records.seek(where[0])
        return self.records.read(where[1])
