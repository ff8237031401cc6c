"""What `skillsmith group` keeps per signature gives the fields the per-event path gives."""

from __future__ import annotations

import random

import pytest
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


def test_chunk_endings_are_each_signatures_fields_made_in_bulk(monkeypatch):
    """endings() makes a chunk's endings per source, in bulk, and keeps some between chunks:
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

    for start in range(0, len(numbers), 500):
        chunk = array("i", numbers[start:start + 500])
        assert signatures.endings(chunk.tobytes()) == [module.added_fields(*signatures.fields(n)).encode()
                                                       for n in chunk]
    assert 0 < len(signatures._pieces) < len(set(numbers))


# --- the compiled table against the Python reference ---------------------------------------

ODD = ["a", "b", " ", '"', "\\", "\x00", "\x01", "\x1f", "\x7f", "\n", "\t", "é", "€", "😀", "\u2028", "\ud7ff",
       "\ue000", "\uffff", "<*>", "1", "/"]


def _odd_text(rng, longest=12):
    if rng.random() < 0.01:
        return rng.choice(ODD) * rng.randint(5000, 70000)  # long texts
    return "".join(rng.choice(ODD) for _ in range(rng.randint(0, longest)))


def _chunks(rng, chunks=6, sources=40):
    """Chunks as the scanner and the engine give them: (result_of, results, pair_message,
    pair_component, pair_count), over many sources; components are None, "" or odd texts."""
    kinds = [_odd_text(rng, 4) or "Error" for _ in range(sources // 4)] + ["KeyError"]
    components = [None, ""] + [_odd_text(rng, 5) for _ in range(sources // 4)]
    norms = [_odd_text(rng) for _ in range(400)]
    out = []
    for _ in range(chunks):
        results = list(dict.fromkeys((rng.choice(norms), rng.choice(kinds)) for _ in range(rng.randint(1, 200))))
        messages = rng.randint(1, 300)
        result_of = [rng.randrange(len(results)) for _ in range(messages)]
        pairs = rng.randint(0, 400)
        pair_message = [rng.randrange(messages) for _ in range(pairs)]
        pair_component = [rng.choice(components) for _ in range(pairs)]
        pair_count = [rng.choice([1, 1, 2, 7, 1 << 40]) for _ in range(pairs)]
        out.append((result_of, results, pair_message, pair_component, pair_count))
    return out


def _both():
    from skillsmith_assets.mining import _patterns
    from skillsmith_assets.mining.signatures import CompiledSignatures

    return Signatures(), CompiledSignatures(_patterns)


def test_compiled_table_numbers_counts_and_merges_as_the_python_one():
    for seed in range(4):
        rng = random.Random(seed)
        python, compiled = _both()
        numbered = []
        for chunk in _chunks(rng):
            numbered.append(python.number_pairs(*chunk))
            assert compiled.number_pairs(*chunk) == numbered[-1]
            items = [(_odd_text(rng), rng.choice(["KeyError", "é"]), rng.choice([None, "", "c"])) for _ in range(20)]
            numbers = python.numbers(items)
            assert compiled.numbers(items) == numbers
            python.count(numbers)
            compiled.count(numbers)
        assert len(python) == len(compiled) > 0
        assert [python.weight(n) for n in range(len(python))] == [compiled.weight(n) for n in range(len(compiled))]
        python.merge()
        compiled.merge()
        assert [python.fields(n) for n in range(len(python))] == [compiled.fields(n) for n in range(len(compiled))]
        for pair_sigs in numbered:
            for errors in ("strict", "surrogateescape"):
                assert compiled.endings(pair_sigs, errors) == python.endings(pair_sigs, errors)


def test_compiled_endings_are_added_fields_of_each_signature(monkeypatch):
    """Endings made in C, kept between chunks while the budget allows, are each signature's own."""
    import skillsmith_assets.mining.signatures as module

    monkeypatch.setattr(module, "PIECES_KEPT", 3000)
    rng = random.Random(8)
    _, compiled = _both()
    chunks = _chunks(rng, chunks=8, sources=12)
    numbered = [compiled.number_pairs(*chunk) for chunk in chunks]
    compiled.merge()
    for pair_sigs in numbered + numbered:
        expected = [module.added_fields(*compiled.fields(n)).encode() for n in array("i", pair_sigs)]
        assert compiled.endings(pair_sigs) == expected


def test_compiled_endings_leave_lone_surrogates_to_python():
    """A text with a lone surrogate has no strict UTF-8 (merging refuses it before any ending
    is made): the C endings leave such a signature, or a source without a head, to the fallback."""
    import hashlib

    from skillsmith_assets.mining._patterns import Table
    from skillsmith_assets.mining.signatures import added_fields, quote
    from skillsmith_assets.normalize.message import fingerprint_head

    table = Table()
    assert table.numbers([("plain", "KeyError", ""), ("lone \ud800 here", "KeyError", ""), ("\udfff", "K", "c"),
                          ("x", "K", "c")]) == [0, 1, 2, 3]
    table.set_pattern(0, [0, 1], 0)
    table.set_pattern(1, [0, 1], 1)
    table.set_heads([(fingerprint_head("KeyError", "").encode(), quote("KeyError").encode()), None])
    assert table.fingerprint(2, hashlib.sha256) == 2
    table.finish([b"p0", b"p1"])
    made = table.endings(array("i", [0, 1, 2, 3, 1]).tobytes(), hashlib.sha256, lambda n: b"fallback %d" % n, 0)
    assert made == [added_fields("plain", "KeyError", fingerprint_normalized("KeyError", "", "plain"), "p0").encode(),
                    b"fallback 1", b"fallback 2", b"fallback 3", b"fallback 1"]


def test_compiled_table_refuses_bad_input_cleanly():
    from skillsmith_assets.mining._patterns import Table

    table = Table()
    with pytest.raises(IndexError):
        table.number_pairs([0], [("n", "K")], [1], [None], [1])
    with pytest.raises(IndexError):
        table.number_pairs([3], [("n", "K")], [0], [None], [1])
    with pytest.raises(TypeError):
        table.number_pairs([0], [("n", "K", "extra")], [0], [None], [1])
    with pytest.raises(TypeError):
        table.number_pairs([0], [("n", "K")], [0], [5], [1])
    with pytest.raises(ValueError):
        table.number_pairs([0], [("n", "K")], [0], [None, None], [1])
    with pytest.raises(OverflowError):
        table.number_pairs([0], [("n", "K")], [0], [None], [1 << 70])
    with pytest.raises(TypeError):
        table.numbers([("n", "K")])
    with pytest.raises(IndexError):
        table.count([99])
    assert table.numbers([("n", "K", None)]) == [0]
    with pytest.raises(ValueError):
        table.endings(array("i", [0]).tobytes(), None, None, 0)  # before finish()
    with pytest.raises(ValueError):
        table.finish([b"p"])  # before set_heads()
    with pytest.raises(ValueError):
        table.fingerprint(1, None)  # before set_heads()
    with pytest.raises(ValueError):
        table.set_heads([None, None])  # one source
    table.set_heads([None])
    with pytest.raises(ValueError):
        table.finish([b"p"])  # no pattern set
    table.set_pattern(0, [0], 0)
    with pytest.raises(IndexError):
        table.finish([])
    table.finish([b"p"])
    with pytest.raises(IndexError):
        table.endings(array("i", [5]).tobytes(), None, None, 0)
    with pytest.raises(ValueError):
        table.endings(b"123", None, None, 0)
    with pytest.raises(ZeroDivisionError):  # the fallback's error comes through
        table.endings(array("i", [0]).tobytes(), None, lambda number: 1 / 0, 0)


def test_fingerprints_made_on_a_thread_while_patterns_merge(monkeypatch):
    import skillsmith_assets.mining.signatures as module

    monkeypatch.setattr(module, "FINGERPRINTS_ON_A_THREAD", 0)
    monkeypatch.setattr(module, "FINGERPRINTS_PER_CALL", 7)
    rng = random.Random(9)
    python, compiled = _both()
    numbered = [(python.number_pairs(*chunk), compiled.number_pairs(*chunk)) for chunk in _chunks(rng, sources=30)]
    python.merge()
    compiled.merge()
    assert compiled._table.fingerprint(0, None) == len(compiled)  # all made
    for made_python, made_compiled in numbered:
        assert compiled.endings(made_compiled) == python.endings(made_python)


def test_a_failure_on_the_fingerprint_thread_is_raised_by_merge(monkeypatch):
    import skillsmith_assets.mining.signatures as module

    def broken(data):
        raise RuntimeError("no hash today")

    monkeypatch.setattr(module, "FINGERPRINTS_ON_A_THREAD", 0)
    monkeypatch.setattr(module.hashlib, "sha256", broken)
    _, compiled = _both()
    compiled.count(compiled.numbers([("a b", "K", ""), ("a c", "K", "x")]))
    with pytest.raises(RuntimeError, match="no hash today"):
        compiled.merge()


def test_fingerprints_refuse_signatures_added_after_them():
    import hashlib

    from skillsmith_assets.mining._patterns import Table

    table = Table()
    table.numbers([("a", "K", "")])
    table.set_heads([(b"h", b'"K"')])
    assert table.fingerprint(1, hashlib.sha256) == 1
    table.numbers([("b", "K", "")])
    with pytest.raises(ValueError):
        table.fingerprint(2, hashlib.sha256)


def test_release_memory_answers_whether_memory_went_back():
    from skillsmith_assets.mining._patterns import release_memory

    assert release_memory() in (True, False)


def test_compiled_endings_with_specials_at_every_offset():
    """Endings read texts 8 bytes at a time: a quote, a backslash, a control character, a
    character near the surrogates or a multi-byte one at each offset of a text."""
    specials = ['"', "\\", "\x00", "\x1f", "\n", "\x7f", "é", "\ud7ff", "\ue000", "€", "😀", "\u2028"]
    items = []
    for offset in range(20):
        for special in specials:
            for tail in (0, 3, 8, 9):
                items.append(("a" * offset + special + "b" * tail, "KeyError", f"c{offset % 3}"))
    python, compiled = _both()
    numbers = python.numbers(items)
    assert compiled.numbers(items) == numbers
    for table in (python, compiled):
        table.count(numbers)
        table.merge()
    pairs = array("i", numbers).tobytes()
    assert compiled.endings(pairs) == python.endings(pairs)


def _message_chunks(rng: random.Random, chunks: int = 12):
    """Chunks as the scanner gives them: distinct messages (each always normalizing to the same
    result), pairs of (message, component) with counts. Messages recur between chunks, with the
    same or another component; None and "" are one component."""
    pool = [_odd_text(rng) + str(i) for i in range(300)]
    result_of_text = {m: (rng.choice(["a b", "c", "é d"]) + str(rng.randrange(40)), rng.choice(["K", "L"]))
                      for m in pool}
    components = [None, "", "sale", "é"]
    out = []
    for _ in range(chunks):
        messages = list(dict.fromkeys(rng.choice(pool) for _ in range(rng.randint(1, 120))))
        pairs = list(dict.fromkeys((rng.randrange(len(messages)), rng.choice(components))
                                   for _ in range(rng.randint(1, 160))))
        forced = sorted(rng.sample(range(len(messages)), min(2, len(messages))))
        out.append((messages, [m for m, _ in pairs], [c for _, c in pairs],
                    [rng.choice([1, 3, 1 << 33]) for _ in pairs], forced))
    return out, result_of_text


def _normalized(messages: list[str], result_of_text) -> tuple[list[int], list[tuple[str, str]]]:
    """(result_of, results) for messages, as normalize_indexed gives them."""
    results = list(dict.fromkeys(result_of_text[m] for m in messages))
    return [results.index(result_of_text[m]) for m in messages], results


@pytest.mark.parametrize("lag", [0, 1])
def test_pairs_numbered_before_are_not_normalized_again(lag):
    """unseen() names a chunk's messages that have a pair not numbered in an earlier chunk (and the
    forced ones); numbering the chunk with only those messages' results gives the numbers and
    weights of the reference table. lag 1 is `group`'s order: the next chunk is looked at before
    this one is numbered."""
    from array import array

    rng = random.Random(11 + lag)
    python, compiled = _both()
    chunks, result_of_text = _message_chunks(rng)
    numbered_pairs: set[tuple[str, str]] = set()
    looked = []
    for k in range(len(chunks) + lag):
        if k < len(chunks):
            messages, pair_message, pair_component, _, forced = chunks[k]
            batch, seen = compiled.unseen(messages, pair_message, pair_component, forced)
            new = {pair_message[i] for i in range(len(pair_message))
                   if (messages[pair_message[i]], pair_component[i] or "") not in numbered_pairs}
            assert batch == [messages[i] for i in sorted(new | set(forced))]
            assert list(compiled.normalized_indices(seen)) == sorted(new | set(forced))
            looked.append((batch, seen))
        j = k - lag
        if j < 0:
            continue
        messages, pair_message, pair_component, pair_count, _ = chunks[j]
        batch, seen = looked[j]
        expected = python.number_pairs(*_normalized(messages, result_of_text), pair_message, pair_component,
                                       pair_count)
        assert compiled.number_pairs(*_normalized(batch, result_of_text), pair_message, pair_component,
                                     pair_count, seen) == expected
        numbered_pairs.update((messages[m], c or "") for m, c in zip(pair_message, pair_component))
        assert len(array("i", expected)) == len(pair_message)
    assert sum(len(b) for b, _ in looked) < sum(len(c[0]) for c in chunks)  # some were left out
    assert [python.weight(n) for n in range(len(python))] == [compiled.weight(n) for n in range(len(compiled))]


def test_a_table_remembers_the_first_pairs_up_to_its_bound():
    from skillsmith_assets.mining import _patterns
    from skillsmith_assets.mining.signatures import CompiledSignatures

    compiled = CompiledSignatures(_patterns)
    compiled._table = _patterns.Table(remember=10)
    messages = [f"message {i}" for i in range(50)]
    pairs = list(range(50))
    for rounds in range(2):
        batch, seen = compiled.unseen(messages, pairs, [None] * 50, [])
        assert batch == (messages if rounds == 0 else messages[10:])
        numbers = compiled.number_pairs(*_normalized(batch, {m: (m, "K") for m in messages}), pairs, [""] * 50,
                                        [1] * 50, seen)
        assert list(array("i", numbers)) == list(range(50))
    assert [compiled.weight(n) for n in range(50)] == [2] * 50
    compiled._table.forget_pairs()
    assert compiled.unseen(messages, pairs, [None] * 50, [])[0] == messages  # remembers nothing now


def test_unseen_and_its_numbering_refuse_bad_input_cleanly():
    from skillsmith_assets.mining._patterns import Table

    table = Table()
    with pytest.raises(TypeError):
        table.unseen([b"bytes"], [0], [None], [])
    with pytest.raises(TypeError):
        table.unseen(["m"], [0], [5], [])
    with pytest.raises(IndexError):
        table.unseen(["m"], [1], [None], [])
    with pytest.raises(IndexError):
        table.unseen(["m"], [0], [None], [3])
    with pytest.raises(ValueError):
        table.unseen(["m"], [0, 0], [None], [])
    batch, seen = table.unseen(["m", "n"], [0, 1], [None, None], [])
    assert batch == ["m", "n"]
    with pytest.raises(ValueError):  # a result per message of the batch
        table.number_pairs([0], [("m", "K")], [0, 1], [None, None], [1, 1], seen)
    with pytest.raises(ValueError):  # what unseen() gave for other pairs
        table.number_pairs([0, 0], [("m", "K")], [0], [None], [1], seen)
    with pytest.raises(TypeError):
        table.number_pairs([0, 0], [("m", "K")], [0, 1], [None, None], [1, 1], ("todo", seen[1], 2))
    assert list(array("i", table.number_pairs([0, 0], [("m", "K")], [0, 1], [None, None], [1, 1], seen))) == [0, 0]
    table.forget_pairs()
    with pytest.raises(ValueError):  # the pairs it named are forgotten
        table.number_pairs([0, 0], [("m", "K")], [0, 1], [None, None], [1, 1], seen)
