"""The distinct signatures `skillsmith group` sees, and the fields it adds to each line.

A signature is a (norm_error, kind, component) triple; every line of the input maps to
one. An input where a third of the events stay distinct after normalization holds
hundreds of thousands of them, so they are kept compactly: one dict of normalized texts
per (kind, component) (kind and component strings are shared, not repeated per
signature), line counts and sources in typed arrays, and after merging one pattern
number per signature. The text added to an output line (fingerprint, pattern id, JSON
quoting) is made when a chunk is written, and only the recent ones are cached: holding
it for every signature would cost more than the signatures themselves.
"""

from __future__ import annotations

from array import array

from ..grouping import source_patterns
from ..normalize import fingerprinter

PIECES_CACHED = 1 << 16  # output endings kept between chunks (the frequent signatures recur in each)


class Signatures:
    def __init__(self):
        # (kind, component) -> (its number, {norm: signature number})
        self._texts: dict[tuple[str, str], tuple[int, dict[str, int]]] = {}
        self._sources: list[tuple[str, str]] = []
        self._fingerprints: list = []  # per source, norm -> fingerprint
        self._source_of = array("i")
        self.weights = array("q")  # lines per signature
        self._norms: list[str] = []
        self._pattern_of = array("i")
        self._pattern_ids: list[str] = []
        self._pieces: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self.weights)

    def number(self, norm: str, kind: str, component: str) -> int:
        """The signature's number (in order of first appearance); a missing component is ""."""
        source = self._texts.get((kind, component))
        if source is None:
            source = self._texts[(kind, component)] = (len(self._sources), {})
            self._sources.append((kind, component))
        number = source[1].get(norm)
        if number is None:
            number = source[1][norm] = len(self.weights)
            self.weights.append(0)
            self._source_of.append(source[0])
        return number

    def merge(self) -> None:
        """Merge patterns over all signatures, weighted by their line counts (the same as over
        every line); the earliest-seen member of a pattern names it. The per-source dicts go."""
        self._norms = [""] * len(self.weights)
        self._pattern_of = array("i", bytes(4 * len(self.weights)))
        for (kind, component), (_, texts) in self._texts.items():
            norms, numbers = list(texts), list(texts.values())
            for norm, number in zip(norms, numbers):
                self._norms[number] = norm
            for members, pattern in source_patterns(kind, component, norms, [self.weights[n] for n in numbers],
                                                    numbers):
                at = len(self._pattern_ids)
                self._pattern_ids.append(pattern.id)
                for i in members:
                    self._pattern_of[numbers[i]] = at
        self._texts = {}
        self._fingerprints = [fingerprinter(kind, component) for kind, component in self._sources]

    def fields(self, number: int) -> tuple[str, str, str, str]:
        """(norm_error, kind, fingerprint, pattern id) of a merged signature."""
        source = self._source_of[number]
        norm = self._norms[number]
        return (norm, self._sources[source][0], self._fingerprints[source](norm),
                self._pattern_ids[self._pattern_of[number]])

    def piece(self, number: int, make) -> bytes:
        """make(fields) for a signature, from a bounded cache."""
        piece = self._pieces.get(number)
        if piece is None:
            if len(self._pieces) >= PIECES_CACHED:
                self._pieces.clear()
            piece = self._pieces[number] = make(self.fields(number))
        return piece
