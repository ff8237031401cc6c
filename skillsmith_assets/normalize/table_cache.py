"""The compiled rule table, kept between processes.

Compiling the table from ``re``'s syntax trees takes about 40 ms, a third of a short
command's run and paid again by every process. The table is a pure function of the
rules, of the compiler in ``native.py`` and of the Python version (``re``'s parser), so
it is kept in a file named by a digest of all three: a change to any of them names
another file, and a stale one is never read. The file carries a digest of its own
content; one that does not match it (a torn or damaged file) is ignored and written
again. Nothing here is required: where the directory cannot be written, the table is
compiled as before.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

MAGIC = b"skillsmith rule table 1\n"


def table_key(sources: list[Path], inputs: object) -> str:
    """A digest of what the table is made of: the compiler's source files, the rules' values
    (their repr), the Python version and the marshal format."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.read_bytes())
    digest.update(repr(inputs).encode("utf-8", "backslashreplace"))
    digest.update(f"{sys.version}|{marshal.version}".encode())
    return digest.hexdigest()


def cached_table(key: str, compile_table: Callable[[], tuple], directory: Path) -> tuple:
    """The table under ``key`` from ``directory``, else compiled and stored there for the next process."""
    path = directory / f"rule-table-{key[:32]}.bin"
    table = _read(path)
    if table is not None:
        return table
    table = compile_table()
    _write(path, table)
    return table


def _read(path: Path) -> tuple | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(MAGIC) + 32
    if data[:len(MAGIC)] != MAGIC or hashlib.sha256(data[head:]).digest() != data[len(MAGIC):head]:
        return None
    try:
        table = marshal.loads(data[head:])
    except (EOFError, ValueError, TypeError):
        return None
    return table if isinstance(table, tuple) else None


def _write(path: Path, table: tuple) -> None:
    """Write to a temporary file in the same directory and rename it: a reader sees the old
    file or the whole new one, never a part."""
    payload = marshal.dumps(table)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rule-table-")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
