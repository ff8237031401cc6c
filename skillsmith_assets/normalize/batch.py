"""The batch path of normalization: many messages at once, byte-identical to the per-event path.

``normalize.py`` stays the per-event engine (``ingest_error``, ``skillsmith
normalize``). For large inputs (``skillsmith group``, backfills) this module
computes the same function faster in ways that cannot change a result:

- each distinct message is normalized once (error streams repeat themselves);
- the compiled engine (``native_normalize.py``) runs the rule table in C on
  every core; where it is not built, chunks of distinct messages go to worker
  processes running the Python engine, one per core, and come back in order.

Why not a vectorized string library: the rule table relies on lookbehinds and
on Python ``re`` / PostgreSQL ARE semantics; Arrow's RE2 kernels have no
lookarounds, so they could not give byte-identical results. Equality with the
per-event path is tested on generated inputs.
"""

from __future__ import annotations

import os
from typing import Sequence

from skillsmith_assets.normalize.message import (
    Normalized, error_kind, fingerprint_normalized, normalize_error_message,
)

# Below this many distinct messages, starting worker processes costs more than it saves.
PARALLEL_MIN = 20_000
CHUNK = 4_000


def _normalize_chunk(messages: list[str]) -> list[tuple[str, str]]:
    out = []
    for message in messages:
        norm = normalize_error_message(message)
        out.append((norm, error_kind(norm)))
    return out


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def normalize_indexed(messages: Sequence[str], workers: int | None = None) -> tuple[list[int], list[tuple[str, str]]]:
    """For messages the caller has de-duplicated: (per message the index of its result, the
    distinct (norm_error, kind) results), what callers that group by result need."""
    from skillsmith_assets.normalize import native as native_normalize

    workers = default_workers() if workers is None else workers
    if native_normalize.engine() is not None:
        return native_normalize.normalize_indexed(messages, workers)
    messages = list(messages)
    if workers > 1 and len(messages) >= PARALLEL_MIN:
        results = _parallel(messages, workers)
    else:
        results = _normalize_chunk(messages)
    seen: dict[tuple[str, str], int] = {}
    index = [seen.setdefault(result, len(seen)) for result in results]
    return index, list(seen)


def _parallel(distinct: list[str], workers: int) -> list[tuple[str, str]]:
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    chunks = [distinct[i:i + CHUNK] for i in range(0, len(distinct), CHUNK)]
    # close + join, not the context manager's terminate(): terminate() sends SIGTERM to idle
    # workers, and a worker forked from a Dagster run inherits Dagster's interrupt handler,
    # which prints a DagsterExecutionInterruptedError traceback per worker on every call.
    pool = multiprocessing.get_context(method).Pool(workers)
    try:
        parts = pool.map(_normalize_chunk, chunks, chunksize=1)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return [result for part in parts for result in part]


def normalize_batch(messages: Sequence[str], components: Sequence[str | None] | None = None,
                    workers: int | None = None) -> list[Normalized]:
    """``normalize_event(message, component)`` for each pair, in input order.

    Events with the same result share one (immutable) Normalized: a million events
    come to a few thousand, and each is built and fingerprinted once.
    """
    if components is None:
        components = [None] * len(messages)
    if len(components) != len(messages):
        raise ValueError("components must have one entry per message")
    distinct = {message: at for at, message in enumerate(dict.fromkeys(messages))}
    result_of, results = normalize_indexed(list(distinct), workers)
    shared: dict[tuple[int, str | None], Normalized] = {}
    out = []
    for message, component in zip(messages, components):
        key = (result_of[distinct[message]], component)
        normalized = shared.get(key)
        if normalized is None:
            norm, kind = results[key[0]]
            normalized = shared[key] = Normalized(norm, kind, fingerprint_normalized(kind, component, norm))
        out.append(normalized)
    return out
