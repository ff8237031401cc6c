import gc
import os
import sys
from bisect import bisect_left
from contextlib import contextmanager

import click

ADDED = ("norm_error", "kind", "fingerprint", "pattern")
# Bytes per write of the spliced output: blocks of several MB, made and freed by turns, leave
# the C heap grown by several times their size; 1 MB writes cost no more.
OUTPUT_PIECE = 1 << 20


@click.command("group")
@click.option("--text", "text_mode", is_flag=True, help="Read plain lines, each one an error message.")
@click.option("--workers", type=int, default=None, help="Worker processes for large inputs (default: one per core).")
def group(text_mode, workers):
    """Like `normalize`, then merge patterns over the whole input: every output line
    also gets `pattern`, the id of its group (see docs/grouping.md). No database needed.

    Output lines keep the input's fields and order. A line that is not a valid
    event is written as {"line": N, "rejected": reason}, named on stderr, and the
    exit status is 1 once all lines are done.
    """
    from skillsmith_assets.cli.jsonl_io import InputChanged, byte_stdio
    from skillsmith_assets.intake.scanner import load_scanner

    if sys.stdin is None or sys.stdin.closed:
        raise click.ClickException("standard input is closed: give the events on stdin (a file or a pipe)")
    stdin = click.get_text_stream("stdin", errors="replace")
    scanner, stdio = load_scanner(), byte_stdio(stdin, sys.stdout)
    try:
        with _without_cycle_collection():
            if scanner is not None and stdio is not None:
                rejected = _group_scanned(scanner, *stdio, text_mode, workers)
            else:
                rejected = _group_lines(stdin, text_mode, workers)
    except InputChanged as exc:
        raise click.ClickException(str(exc)) from None
    except BrokenPipeError:
        # The reader of the output went away (`| head`): stop quietly with SIGPIPE's status,
        # as command-line tools do; nothing is left to flush to it.
        sys.stdout = open(os.devnull, "w")
        sys.exit(141)
    except OSError as exc:
        raise click.ClickException(f"cannot read the input: {exc.strerror or exc}") from None
    if rejected:
        sys.exit(1)


@contextmanager
def _without_cycle_collection():
    """A large input makes a million tuples and no reference cycles: the cyclic
    collector would only walk them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def kept_form(event: dict, raw: str) -> str | dict:
    """What to keep of an event until its output line is written: the raw line when the
    event has none of the added fields yet (its keys, spacing and escapes are kept as
    written), else the event, re-serialized with those fields replaced."""
    return raw if not any(key in event for key in ADDED) else event


def event_line(kept: str | dict, fields: tuple[str, str, str, str]) -> str:
    """The output line of an event, from its kept_form (a --text line is kept as {"error": line})."""
    from skillsmith_assets.mining.signatures import added_fields

    if isinstance(kept, str):
        return kept.strip()[:-1].rstrip() + added_fields(*fields)
    from skillsmith_assets.cli.jsonl_io import json_line

    kept.update(zip(ADDED, fields))
    return json_line(kept)


# --- line by line, with the json module ---------------------------------------------------

def _group_lines(stdin, text_mode: bool, workers: int | None) -> int:
    """Read, group and write line by line; the path without the compiled scanner. Returns
    the number of rejected lines."""
    from skillsmith_assets.normalize.batch import normalize_batch
    from skillsmith_assets.mining.patterns import merge_patterns
    from skillsmith_assets.cli.jsonl_io import read_events, report_rejection, write_line

    # Whole input first (patterns are merged over all of it). Only the raw line and the
    # two fields grouping needs are kept, so a million events fit in a few hundred MB.
    rows: list[tuple[int, str | dict | None, str | None]] = []
    messages: list[str] = []
    components: list[str | None] = []
    for number, raw in enumerate(stdin, start=1):
        for _, event, reason in read_events([raw], text_mode):
            if event is None:
                rows.append((number, None, reason))
                continue
            messages.append(event["error"])
            components.append(event.get("component"))
            rows.append((number, event if text_mode else kept_form(event, raw), None))
    normalized = normalize_batch(messages, components, workers)
    patterns = merge_patterns([(n.kind, c, n.norm_error) for n, c in zip(normalized, components)])
    out = sys.stdout
    results = iter(zip(normalized, patterns))
    rejected = 0
    for number, kept, reason in rows:
        if kept is None:
            rejected += 1
            write_line(report_rejection(number, reason), out)
            continue
        result, pattern = next(results)
        out.write(event_line(kept, (result.norm_error, result.kind, result.fingerprint, pattern.id)))
    out.flush()
    return rejected


# --- the compiled scanner -----------------------------------------------------------------

def _group_scanned(scanner, stdin_bytes, stdout_bytes, text_mode: bool, workers: int | None) -> int:
    """Same output as _group_lines, reading the input as a stream in two passes.

    Pass 1 reads chunks of whole lines: the scanner validates and de-duplicates each
    chunk in C, Python sees each distinct (error, component) pair of a chunk once (and
    reads the other, slow, lines with the json module), and every pair is numbered by its
    (kind, component, norm_error) signature (a chunk is scanned while the one before is
    normalized and the one before that numbered; a message whose pairs were all numbered in
    an earlier chunk is not normalized again); only the signatures stay in memory (compactly:
    signatures.py). Patterns are merged over the signatures. Pass 2 reads each chunk again
    (from the input when it can seek, else from a spill file) and splices the output lines
    in C. Memory holds one chunk at a time, whatever the input's size. Returns the number
    of rejected lines.
    """
    from skillsmith_assets.normalize.batch import default_workers, normalize_indexed
    from skillsmith_assets.cli.jsonl_io import LineChunks
    from skillsmith_assets.mining.signatures import signature_table

    threads = workers or default_workers()
    signatures = signature_table()
    chunks = []  # per chunk: where its bytes, records and pair signatures are; its slow lines' outputs
    rejected = 0

    with LineChunks(stdin_bytes) as source, _normalizer() as normalizer, _normalizer() as numberer:
        pending = None  # the previous chunk, scanned, and its numbering under way
        for chunk in source:
            scanned, bad = _scan_chunk(scanner, chunk, source, text_mode, threads)
            rejected += bad
            batch, seen = _to_normalize(signatures, scanned)
            normalized = normalizer.submit(normalize_indexed, batch, workers)
            numbered = numberer.submit(_number_chunk, signatures, scanned, normalized, seen)
            if pending is not None:
                chunks.append(_kept_chunk(*pending, source))
            pending = scanned, numbered
        if pending is not None:
            chunks.append(_kept_chunk(*pending, source))
        signatures.merge()
        errors = getattr(sys.stdout, "errors", None) or "strict"  # as the text stream would encode
        sys.stdout.flush()
        for where, records_at, sigs_at, literals, slow_lines in chunks:
            for at, kept, sig in slow_lines:
                literals[at] = event_line(kept, signatures.fields(sig))
            # A --text line is {"error": <the line>, ...}: the scanner writes the line as a JSON string.
            for part in scanner.splice(source.read_back(where), source.read_records(records_at),
                                       signatures.endings(source.read_records(sigs_at), errors),
                                       [line.encode("utf-8", errors) for line in literals],
                                       prefix=b'{"error": ' if text_mode else b"", quote=text_mode,
                                       size=OUTPUT_PIECE):
                stdout_bytes.write(part)
    stdout_bytes.flush()
    return rejected


def _normalizer():
    """Where a chunk is normalized, or numbered: on a thread of its own when the compiled engine
    runs, so that it overlaps the other steps of the chunks around it (the engine releases the
    GIL); else in turn: the Python engine forks worker processes, which a process
    with a second thread running should not do."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from skillsmith_assets.normalize.native import engine

    if engine() is not None:
        return ThreadPoolExecutor(1, thread_name_prefix="normalize")

    class InTurn:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def submit(self, fn, *args):
            done = Future()
            done.set_result(fn(*args))
            return done

    return InTurn()


def _scan_chunk(scanner, chunk, source, text_mode: bool, threads: int):
    """Pass 1's reading of one chunk (its bytes are valid until the next): the scanner's
    distinct messages and pairs, the slow lines read, the bytes and line records kept for
    pass 2. Returns (what _number_chunk takes, the number of rejected lines)."""
    messages, pair_message, pair_component, pair_count, records, slow = scanner.scan(
        chunk.data, text_mode, threads=threads)
    literals, events, rejected = _read_slow(chunk.data, slow, messages, text_mode, chunk.first_line)
    kept = source.keep(chunk), source.keep_records(records)
    return (messages, pair_message, pair_component, pair_count, literals, events, kept), rejected


def _to_normalize(signatures, scanned):
    """The messages of a chunk to normalize, and what numbering them needs (None: all of them).
    A message whose every pair was numbered in an earlier chunk is left out: on an input of
    distinct messages, about a fifth of a chunk's are such repeats. The slow lines' messages are
    always normalized (their signatures are looked up by text)."""
    messages, pair_message, pair_component, _, _, events, _ = scanned
    unseen = signatures.unseen(messages, pair_message, pair_component, [message for _, message, _, _ in events])
    return (messages, None) if unseen is None else unseen


def _number_chunk(signatures, scanned, normalized, seen):
    """Pass 1's counting of one chunk once its messages are normalized (a future), on a thread
    of its own, chunk after chunk (so the numbers are those of one thread), while the next chunk
    is normalized and the one after scanned: each line's signature counted. Returns the
    signatures of the chunk's pairs (int32 bytes) and of its slow lines. The main thread's
    unseen() reads the table meanwhile: each is one call into the compiled table, which holds
    the GIL throughout, so the two never interleave."""
    _, pair_message, pair_component, pair_count, _, events, _ = scanned
    result_of, results = normalized.result()
    pair_sigs = signatures.number_pairs(result_of, results, pair_message, pair_component, pair_count, seen)
    if events and seen is not None:  # result_of follows the messages normalized, in ascending order
        normalized_messages, batch_result_of = signatures.normalized_indices(seen), result_of
        result_of = {message: batch_result_of[bisect_left(normalized_messages, message)]
                     for _, message, _, _ in events}
    numbers = signatures.numbers([(*results[result_of[message]], component or "")
                                  for _, message, component, _ in events])
    signatures.count(numbers)
    return pair_sigs, numbers


def _kept_chunk(scanned, numbered, source):
    """What pass 2 needs to write a chunk again, once it is numbered (a future)."""
    _, _, _, _, literals, events, kept = scanned
    pair_sigs, numbers = numbered.result()
    slow_lines = [(at, event, number) for (at, _, _, event), number in zip(events, numbers)]
    return (*kept, source.keep_records(pair_sigs), literals, slow_lines)


def _read_slow(data: bytes, slow: list[tuple[int, int, int]], messages: list[str], text_mode: bool,
               first_line: int = 1):
    """Read the lines the scanner left to the json module, as _group_lines would.

    Returns (literals, events, rejected): an output line per slow line ("" for a blank
    one; for an event, filled in once it is normalized), the events as (literal index,
    message index, component, kept_form), and the number of rejected lines. An event's
    message is appended to ``messages`` when new.
    """
    from skillsmith_assets.cli.jsonl_io import json_line, read_events, report_rejection

    literals: list[str] = []
    events = []
    rejected = 0
    index = None
    for number, start, stop in slow:
        number += first_line - 1  # the scanner numbers a chunk's lines from 1
        raw = str(data[start:stop], "utf-8", "replace")
        literals.append("")
        for _, event, reason in read_events([raw], text_mode):
            if event is None:
                rejected += 1
                literals[-1] = json_line(report_rejection(number, reason))
                continue
            if index is None:
                index = {m: i for i, m in enumerate(messages)}
            message = index.setdefault(event["error"], len(messages))
            if message == len(messages):
                messages.append(event["error"])
            kept = event if text_mode else kept_form(event, raw)
            events.append((len(literals) - 1, message, event.get("component"), kept))
    return literals, events, rejected
