"""What `skillsmith group` keeps per signature gives the fields the per-event path gives."""

from __future__ import annotations

import random
from array import array

from skillsmith_assets.mining.signatures import Signatures
from skillsmith_assets.mining.patterns import merge_patterns
from skillsmith_assets.normalize.message import fingerprint_normalized, fingerprinter, fingerprints


def test_fingerprinter_is_fingerprint_normalized():
    rng = random.Random(3)
    alphabet = "ab :é€😀\u2028<>1"
    for _ in range(500):
        kind, component, norm = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(3))
        component = None if rng.random() < 0.2 else component
        assert fingerprinter(kind, component)(norm) == fingerprint_normalized(kind, component, norm)


def test_signature_fields_match_merge_patterns():
    rng = random.Random(4)
    items = [(rng.choice(["KeyError", "ValueError"]), rng.choice(["", "sale", "stock"]),
              f"{rng.choice(['KeyError', 'ValueError'])}: {rng.choice(['missing', 'bad'])} user{rng.randint(0, 40)}")
             for _ in range(2000)]
    signatures = Signatures()
    numbers = signatures.numbers([(norm, kind, component) for kind, component, norm in items[:700]])
    numbers += signatures.numbers([(norm, kind, component) for kind, component, norm in items[700:]])
    for number in numbers:
        signatures.weights[number] += 1
    assert numbers == [list(dict.fromkeys(items)).index(item) for item in items]
    signatures.merge()
    for (kind, component, norm), number, pattern in zip(items, numbers, merge_patterns(items)):
        assert signatures.fields(number) == (norm, kind, fingerprint_normalized(kind, component, norm), pattern.id)


def test_compiled_texts_number_and_return_what_the_python_store_does():
    from skillsmith_assets.mining._patterns import Texts

    from skillsmith_assets.mining.signatures import PyTexts

    rng = random.Random(5)
    alphabet = ["a", "b", " ", "é", "😀", "\udc80", "\ud800", "\x00", "\u2028"]
    texts = ["", "x" * (3 << 20)] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
                                     for _ in range(30000)]
    compiled, python = Texts(), PyTexts()
    assert [compiled.add(t) for t in texts] == [python.add(t) for t in texts]
    assert len(compiled) == len(python) and list(compiled) == [python[i] for i in range(len(python))]


def test_fingerprints_of_a_source_are_fingerprint_normalized_of_each():
    rng = random.Random(6)
    alphabet = "ab :é€😀\u2028<>1"
    for _ in range(100):
        kind, component = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(2))
        component = None if rng.random() < 0.2 else component
        norms = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9))) for _ in range(rng.randint(0, 5))]
        assert fingerprints(kind, component, norms) == [fingerprint_normalized(kind, component, n) for n in norms]


def test_chunk_pieces_are_each_signatures_fields_made_in_bulk(monkeypatch):
    """pieces() makes a chunk's endings per source, in bulk, and keeps some between chunks:
    every ending is still that of its own signature, chunk after chunk."""
    import skillsmith_assets.mining.signatures as module

    monkeypatch.setattr(module, "PIECES_KEPT", 2000)  # some kept, then the store is full
    rng = random.Random(7)
    items = [(f"{rng.choice(['KeyError', 'ValueError'])}: user{rng.randint(0, 300)} {rng.choice('abc')}",
              rng.choice(["KeyError", "ValueError"]), rng.choice(["", "sale", "stock"])) for _ in range(3000)]
    signatures = Signatures()
    numbers = signatures.numbers(items)
    for number in numbers:
        signatures.weights[number] += 1
    signatures.merge()

    def make(norms, kind, prints, patterns):
        return [repr((norm, kind, fingerprint, pattern)).encode() for norm, fingerprint, pattern
                in zip(norms, prints, patterns)]

    for start in range(0, len(numbers), 500):
        chunk = array("i", numbers[start:start + 500])
        assert signatures.pieces(chunk, make) == [repr(signatures.fields(n)).encode() for n in chunk]
    assert 0 < len(signatures._pieces) < len(set(numbers))
