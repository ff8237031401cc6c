"""The distinct signatures `skillsmith group` sees, and the fields it adds to each line.

A signature is a (norm_error, kind, component) triple; every line of the input maps to
one. An input where a third of the events stay distinct after normalization holds
hundreds of thousands of them, so they are kept compactly: the normalized texts of each
(kind, component) in one compiled ``Texts`` store (UTF-8 in large blocks, numbered; kind
and component strings are not repeated per signature), line counts, sources and pattern
numbers in typed arrays. The text added to an output line (fingerprint, pattern id, JSON
quoting) is made when a chunk is written, and kept between chunks only for signatures of
several lines: holding it for every signature would cost more than the signatures.
"""

from __future__ import annotations

from array import array

from skillsmith_assets.mining.patterns import compiled_merger, source_patterns
from skillsmith_assets.normalize.message import fingerprinter, fingerprints

# Bytes of output endings kept between chunks: the frequent signatures recur in every chunk,
# and come early, so the first ones kept are the ones worth keeping; a cache cleared when full
# would be refilled by the same one-chunk signatures that filled it.
PIECES_KEPT = 4 << 20


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
            for members, pattern in source_patterns(kind, component, texts, [self.weights[n] for n in numbers],
                                                    numbers):
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

    def pieces(self, numbers: array, make) -> list[bytes]:
        """The output ending of each signature of ``numbers`` (a chunk's pairs, in order), made
        by make(norms, kind, fingerprints, pattern ids) for the chunk's new signatures of one
        source at a time (a call per signature would cost more than the ending). Each is made
        once per chunk; those of signatures seen on more than one line are kept between chunks
        while PIECES_KEPT bytes allow (a signature of one line is written once: keeping it
        only holds memory)."""
        cache, source_of = self._pieces, self._source_of
        chunk, by_source = {}, {}
        for number in set(numbers):
            piece = cache.get(number)
            if piece is None:
                by_source.setdefault(source_of[number], []).append(number)
            else:
                chunk[number] = piece
        for source, members in by_source.items():
            made = self._made(source, members, make)
            chunk.update(zip(members, made))
            if self._pieces_size < PIECES_KEPT:
                self._keep(members, made)
        return list(map(chunk.__getitem__, numbers))

    def _made(self, source: int, members: list[int], make) -> list[bytes]:
        """make(...) for signatures of one source."""
        kind, component = self._sources[source]
        texts, local_of, ids, pattern_of = self._texts[source], self._local_of, self._pattern_ids, self._pattern_of
        norms = [texts[local_of[n]] for n in members]
        return make(norms, kind, fingerprints(kind, component, norms), [ids[pattern_of[n]] for n in members])

    def _keep(self, members: list[int], made: list[bytes]) -> None:
        """Keep the endings of signatures of several lines, while PIECES_KEPT bytes allow."""
        weights = self.weights
        for number, piece in zip(members, made):
            if weights[number] > 1 and self._pieces_size + len(piece) <= PIECES_KEPT:
                self._pieces[number] = piece
                self._pieces_size += len(piece)
