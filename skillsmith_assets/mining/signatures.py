"""The distinct signatures `skillsmith group` sees, and the fields it adds to each line.

A signature is a (norm_error, kind, component) triple; every line of the input maps to
one. An input where a third of the events stay distinct after normalization holds
hundreds of thousands of them, so they are kept compactly: the normalized texts of each
(kind, component) in one compiled ``Texts`` store (UTF-8 in large blocks, numbered; kind
and component strings are not repeated per signature), line counts, sources and pattern
numbers in typed arrays. The text added to an output line (fingerprint, pattern id, JSON
quoting) is made when a chunk is written, and kept between chunks only for signatures of
several lines: holding it for every signature would cost more than the signatures.

``Signatures`` is the reference, in Python; ``CompiledSignatures`` does the same with the
compiled ``_patterns.Table`` (numbering a chunk's pairs and making its endings in C), and
``signature_table()`` picks it where it is built.
"""

from __future__ import annotations

import hashlib
import json
import threading
from array import array

from skillsmith_assets.mining.patterns import compiled_merger, source_patterns
from skillsmith_assets.normalize.message import fingerprint_head, fingerprinter, fingerprints

# Bytes of output endings kept between chunks: the frequent signatures recur in every chunk,
# and come early, so the first ones kept are the ones worth keeping; a cache cleared when full
# would be refilled by the same one-chunk signatures that filled it.
PIECES_KEPT = 4 << 20
# Signatures from which CompiledSignatures.merge makes the fingerprints on a thread of their own.
FINGERPRINTS_ON_A_THREAD = 10_000
# Fingerprints per call on that thread: each call holds the GIL, which merging needs now and then.
FINGERPRINTS_PER_CALL = 2048
# json.dumps(text, ensure_ascii=False) without building an encoder per call.
quote = json.JSONEncoder(ensure_ascii=False).encode


def added_fields(norm_error: str, kind: str, fingerprint: str, pattern: str) -> str:
    """The end of an output line: the fields `group` adds, then the closing brace."""
    return (f', "norm_error": {quote(norm_error)}, "kind": {quote(kind)}, "fingerprint": "{fingerprint}", '
            f'"pattern": "{pattern}"}}\n')


def added_fields_encoded(norms: list[str], kind: str, fingerprints: list[str], patterns: list[str],
                         errors: str = "strict") -> list[bytes]:
    """added_fields of many signatures of one kind, encoded to UTF-8, in one loop (a grouped
    input can hold hundreds of thousands of distinct signatures)."""
    kind, string = quote(kind), json.encoder.encode_basestring  # what quote does with a str
    return [(f', "norm_error": {string(norm)}, "kind": {kind}, "fingerprint": "{fingerprint}", '
             f'"pattern": "{pattern}"}}\n').encode("utf-8", errors)
            for norm, fingerprint, pattern in zip(norms, fingerprints, patterns)]


class PyTexts:
    """Distinct strings numbered in order of first appearance: the stand-in for the compiled
    ``_patterns.Texts`` where it is not built."""

    def __init__(self):
        self._numbers: dict[str, int] = {}
        self._texts: list[str] = []

    def add(self, text: str) -> int:
        number = self._numbers.setdefault(text, len(self._texts))
        if number == len(self._texts):
            self._texts.append(text)
        return number

    def __len__(self) -> int:
        return len(self._texts)

    def __getitem__(self, i: int) -> str:
        return self._texts[i]


def texts_store():
    """A new store of distinct texts: the compiled one where it is built."""
    module = compiled_merger()
    return PyTexts() if module is None else module.Texts()


def signature_table():
    """A new, empty signature table: the compiled one where it is built."""
    module = compiled_merger()
    return Signatures() if module is None else CompiledSignatures(module)


class Signatures:
    """Signatures numbered in order of first appearance, their line counts, then their patterns."""

    def __init__(self):
        self._by_source: dict[tuple[str, str], int] = {}  # (kind, component) -> source number
        self._sources: list[tuple[str, str]] = []
        self._texts: list = []  # per source: its distinct norms (a Texts)
        self._numbers: list[array] = []  # per source: the signature number of each of its texts
        self._fingerprints: list = []  # per source, norm -> fingerprint
        self._source_of = array("i")  # per signature: its source
        self._local_of = array("i")  # and its text's number there
        self.weights = array("q")  # lines per signature
        self._pattern_of = array("i")
        self._pattern_ids: list[str] = []
        self._pieces: dict[int, bytes] = {}
        self._pieces_size = 0

    def __len__(self) -> int:
        return len(self.weights)

    def weight(self, number: int) -> int:
        return self.weights[number]

    def numbers(self, items) -> list[int]:
        """The number of each (norm, kind, component) signature, a new one numbered after all
        seen before; a missing component is "". One loop for a chunk's signatures: this runs
        once per distinct pair of a chunk, so per-call and per-signature overhead counts (the
        arrays of new signatures grow once, after the loop)."""
        by_source, texts, numbers_of = self._by_source, self._texts, self._numbers
        first = next_number = len(self.weights)
        out, new_sources, new_locals = [], array("i"), array("i")
        emit, add_source, add_local = out.append, new_sources.append, new_locals.append
        for norm, kind, component in items:
            component = component or ""
            source = by_source.get((kind, component))
            if source is None:
                source = self._new_source(kind, component)
            local = texts[source].add(norm)
            numbers = numbers_of[source]
            if local < len(numbers):
                emit(numbers[local])
                continue
            numbers.append(next_number)
            emit(next_number)
            add_source(source)
            add_local(local)
            next_number += 1
        self.weights.frombytes(bytes(self.weights.itemsize * (next_number - first)))
        self._source_of.extend(new_sources)
        self._local_of.extend(new_locals)
        return out

    def unseen(self, messages: list[str], pair_message: list[int], pair_component: list, forced: list[int]):
        """Which of a chunk's messages to normalize; None: all of them (this table remembers no pairs,
        the compiled one does)."""
        return None

    def number_pairs(self, result_of: list[int], results: list[tuple[str, str]], pair_message: list[int],
                     pair_component: list, pair_count: list[int], seen=None) -> bytes:
        """The signature of each of a chunk's pairs, as int32 bytes, each pair's count added to its
        signature's weight: pair i is (message pair_message[i], pair_component[i]), and a message's
        (norm, kind) is results[result_of[message]]. One signature lookup per (result, component)
        of the chunk (no component and "" are the same, as in the fingerprint). ``seen`` is what
        unseen() gave: None."""
        if seen is not None:
            raise ValueError("this table remembers no pairs: seen is None")
        keys = list(zip(map(result_of.__getitem__, pair_message), pair_component))
        local = dict.fromkeys(keys)
        local = dict(zip(local, self.numbers([(*results[r], c) for r, c in local])))
        pair_sigs = array("i", map(local.__getitem__, keys))
        weights = self.weights
        for number, count in zip(pair_sigs, pair_count):
            weights[number] += count
        return pair_sigs.tobytes()

    def count(self, numbers) -> None:
        """One more line for each signature of ``numbers``."""
        weights = self.weights
        for number in numbers:
            weights[number] += 1

    def _new_source(self, kind: str, component: str) -> int:
        """Number a new (kind, component), with an empty store of its texts."""
        source = self._by_source[(kind, component)] = len(self._sources)
        self._sources.append((kind, component))
        self._texts.append(texts_store())
        self._numbers.append(array("i"))
        return source

    def merge(self) -> None:
        """Merge patterns over all signatures, weighted by their line counts (the same as over
        every line); the earliest-seen member of a pattern names it."""
        self._pattern_of = array("i", bytes(4 * len(self.weights)))
        for (kind, component), texts, numbers in zip(self._sources, self._texts, self._numbers):
            # a source's texts are numbered in the order they were first seen, as the signatures are
            for members, pattern in source_patterns(kind, component, texts, [self.weights[n] for n in numbers],
                                                    None):
                at = len(self._pattern_ids)
                self._pattern_ids.append(pattern.id)
                for i in members:
                    self._pattern_of[numbers[i]] = at
        self._fingerprints = [fingerprinter(kind, component) for kind, component in self._sources]

    def fields(self, number: int) -> tuple[str, str, str, str]:
        """(norm_error, kind, fingerprint, pattern id) of a merged signature."""
        source = self._source_of[number]
        norm = self._texts[source][self._local_of[number]]
        return (norm, self._sources[source][0], self._fingerprints[source](norm),
                self._pattern_ids[self._pattern_of[number]])

    def endings(self, numbers: bytes, errors: str = "strict") -> list[bytes]:
        """The output ending (added_fields, encoded with ``errors``) of each signature of ``numbers``
        (a chunk's pairs, in order, as int32 bytes), made for the chunk's new signatures of one
        source at a time (a call per signature would cost more than the ending). Each is made
        once per chunk; those of signatures seen on more than one line are kept between chunks
        while PIECES_KEPT bytes allow (a signature of one line is written once: keeping it
        only holds memory)."""
        numbers = array("i", numbers)
        cache, source_of = self._pieces, self._source_of
        chunk, by_source = {}, {}
        for number in set(numbers):
            piece = cache.get(number)
            if piece is None:
                by_source.setdefault(source_of[number], []).append(number)
            else:
                chunk[number] = piece
        for source, members in by_source.items():
            made = self._made(source, members, errors)
            chunk.update(zip(members, made))
            if self._pieces_size < PIECES_KEPT:
                self._keep(members, made)
        return list(map(chunk.__getitem__, numbers))

    def _made(self, source: int, members: list[int], errors: str) -> list[bytes]:
        """The endings of signatures of one source."""
        kind, component = self._sources[source]
        texts, local_of, ids, pattern_of = self._texts[source], self._local_of, self._pattern_ids, self._pattern_of
        norms = [texts[local_of[n]] for n in members]
        return added_fields_encoded(norms, kind, fingerprints(kind, component, norms),
                                    [ids[pattern_of[n]] for n in members], errors)

    def _keep(self, members: list[int], made: list[bytes]) -> None:
        """Keep the endings of signatures of several lines, while PIECES_KEPT bytes allow."""
        weights = self.weights
        for number, piece in zip(members, made):
            if weights[number] > 1 and self._pieces_size + len(piece) <= PIECES_KEPT:
                self._pieces[number] = piece
                self._pieces_size += len(piece)


class CompiledSignatures:
    """Signatures with the same numbers, weights, patterns and endings, kept by the compiled
    ``_patterns.Table``: it numbers a chunk's pairs and makes its endings in C (SHA-256 by
    hashlib), and merging reads each source's texts from it directly."""

    def __init__(self, module):
        self._module, self._table = module, module.Table()
        self._texts: list = []  # per source, once merged
        self._kinds: list[str] = []
        self._fingerprints: list = []
        self._pattern_ids: list[str] = []

    def __len__(self) -> int:
        return len(self._table)

    def weight(self, number: int) -> int:
        return self._table.signature(number)[2]

    def numbers(self, items) -> list[int]:
        """Signatures.numbers."""
        return self._table.numbers(items if isinstance(items, list) else list(items))

    def unseen(self, messages, pair_message, pair_component, forced):
        """Which of a chunk's messages to normalize: (those messages, what number_pairs needs), leaving
        out messages whose every pair was numbered in an earlier chunk (the table remembers their
        signatures), keeping the indices ``forced``."""
        return self._table.unseen(messages, pair_message, pair_component, forced)

    @staticmethod
    def normalized_indices(seen) -> array:
        """The indices of the messages unseen() named, ascending, from its ``seen``."""
        return array("i", seen[0])

    def number_pairs(self, result_of, results, pair_message, pair_component, pair_count, seen=None) -> bytes:
        """Signatures.number_pairs; with ``seen`` (unseen()'s second item), ``result_of`` has an entry
        per message of its indices."""
        return self._table.number_pairs(result_of, results, pair_message, pair_component, pair_count, seen)

    def count(self, numbers) -> None:
        self._table.count(numbers if isinstance(numbers, list) else list(numbers))

    def merge(self) -> None:
        """Signatures.merge. The fingerprints are made meanwhile, on a thread of their own (the
        compiled merging runs without the GIL): made when a chunk is written, they held up the
        writing. A source whose texts do not encode to UTF-8 gets no head: its endings are made
        in Python."""
        table, heads = self._table, []
        # Every chunk is numbered: the pairs remembered for unseen() go before merging needs memory.
        table.forget_pairs()
        self._module.release_memory()
        sources = table.sources()
        for kind, component in sources:
            try:
                heads.append((fingerprint_head(kind, component).encode("utf-8"), quote(kind).encode("utf-8")))
            except UnicodeEncodeError:
                heads.append(None)
        table.set_heads(heads)
        printing = _Fingerprinting(table) if len(table) >= FINGERPRINTS_ON_A_THREAD else None
        try:
            for source, (kind, component) in enumerate(sources):
                texts, numbers, weights = table.source(source)
                for members, pattern in source_patterns(kind, component, texts, weights, None):
                    table.set_pattern(source, members, len(self._pattern_ids))
                    self._pattern_ids.append(pattern.id)
                self._texts.append(texts)
                self._kinds.append(kind)
                self._fingerprints.append(fingerprinter(kind, component))
        except BaseException:
            if printing is not None:
                printing.stop()
            raise
        if printing is not None:
            printing.finish()
        table.finish([pattern_id.encode("utf-8") for pattern_id in self._pattern_ids])
        # What merging freed goes back to the system before the output is written: left to the
        # C heap it kept the peak 4 MB higher.
        self._module.release_memory()

    def fields(self, number: int) -> tuple[str, str, str, str]:
        """Signatures.fields."""
        source, local, _, pattern = self._table.signature(number)
        norm = self._texts[source][local]
        return norm, self._kinds[source], self._fingerprints[source](norm), self._pattern_ids[pattern]

    def endings(self, numbers: bytes, errors: str = "strict") -> list[bytes]:
        """Signatures.endings, made in C; a signature whose texts hold a lone surrogate (which
        no strict UTF-8 encoding takes) is made by added_fields_encoded, with ``errors``."""
        def fallback(number):
            norm, kind, fingerprint, pattern = self.fields(number)
            return added_fields_encoded([norm], kind, [fingerprint], [pattern], errors)[0]

        return self._table.endings(numbers, hashlib.sha256, fallback, PIECES_KEPT)


class _Fingerprinting:
    """The fingerprints of a table's signatures, made on a thread while its patterns merge."""

    def __init__(self, table):
        self._table, self._error = table, None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="fingerprints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for stop in range(FINGERPRINTS_PER_CALL, len(self._table) + FINGERPRINTS_PER_CALL, FINGERPRINTS_PER_CALL):
                if self._stop:
                    return
                self._table.fingerprint(stop, hashlib.sha256)
        except BaseException as exc:  # raised again by finish(), in the merging thread
            self._error = exc

    def stop(self) -> None:
        """Stop early (merging failed) and wait."""
        self._stop = True
        self._thread.join()

    def finish(self) -> None:
        """Wait for the thread; raise what it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
