"""The compiled engine's shortcuts skip only what cannot match.

A start is tried only when the characters after it fit the pattern's prefix table,
and a greedy run backs off only to where what follows it may start: both are
derived from the pattern, so they must admit every real match. Checked here on
patterns written to stress them (and on the rule table's own), against ``re``.
"""

from __future__ import annotations

import re
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from re import _parser as sre_parse

from skillsmith_assets.normalize import message as normalize_message
from skillsmith_assets.normalize import native as native_normalize
from skillsmith_assets.normalize import rules as normalize_rules
from skillsmith_assets.normalize.message import error_kind, normalize_error_message
from test_normalize_masks import FRAGMENTS

# Patterns where a run is followed by optional parts, alternatives of other lengths,
# lookarounds, the end of the text, bounded and nested repeats.
STRESS = [
    ("[0-9]+(?:[.][0-9]+)?[ ]?(?:ms|s|m)(?![a-z])", "<d>"),
    ("(?<![a-z])([a-f]{2,6})(?:-[a-f]{2})*[0-9]?", "<\\1>"),
    ("x[ab]*(?:c|d[ab]*)+e", "<x>"),
    ("(?:[a-c]{0,3}:){2,4}[a-c]{1,3}(?![a-c:])", "<ip>"),
    ("[ab]+\\Z", "<end>"),
    ("[0-9]+(?=[a-c])", "<n>"),
    ("(?<![0-9])1[0-9]{2}(?:[0-9]{3})?(?![0-9])", "<e>"),
    ("(?:ab|a[0-9]{1,2})c", "<b>"),
    ("\\A[a-c]+:", "<k>:"),
    ("(?<=[a-c])-[0-9]{1,2}(?:[.][0-9]+){2,}", "<v>"),
    ("(<[a-c]>)(?:,?[ ]+[a-c]*_?<[a-c]>)+", "\\1"),
    ("[ \\t]+", " "),
]
ALPHABET = st.sampled_from(list("abcdex019-.:,_<> \tm") + ["ms", "<a>", "ab1c", "é", "12.5 s", "a:b::c"])
TEXTS = st.one_of(st.lists(ALPHABET, max_size=40).map("".join),
                  st.lists(st.one_of(ALPHABET, FRAGMENTS), max_size=20).map("".join))


def _masks(patterns):
    return tuple(normalize_rules.Mask(f"m{i}", p, r, "", "") for i, (p, r) in enumerate(patterns))


@pytest.fixture(scope="module")
def stress_engine():
    """The engine compiled from the stress table, with the Python engine on the same table."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(normalize_rules, "STEPS", _masks(STRESS))
        normalize_message._compiled_steps.cache_clear()
        native_normalize.engine.cache_clear()
        try:
            built = native_normalize.engine()
            assert built is not None
            yield built
        finally:
            normalize_message._compiled_steps.cache_clear()
            native_normalize.engine.cache_clear()


def _compiled(engine, messages):
    index, table = engine.normalize_indexed(messages)
    return [table[i] for i in memoryview(index).cast("i")]


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS, max_size=6))
def test_stress_table_matches_python(stress_engine, messages):
    expected = [(n, error_kind(n)) for n in map(normalize_error_message, messages)]
    assert _compiled(stress_engine, messages) == expected


def test_stress_table_edges(stress_engine):
    messages = ["", "a", "1", "ab", "ab ", "12.5 ms", "12.5 msx", "ab:c:a", "ab:c:a:", "xabde", "xabdabcde",
                "<a>, <b> c_<c> <a>", "a-1.2.3", "1234567", "123456", "é" * 50 + "ab", "ab\n", "abc:" * 300]
    expected = [(n, error_kind(n)) for n in map(normalize_error_message, messages)]
    assert _compiled(stress_engine, messages) == expected


def _prefix_admits(pattern: str, text: str) -> None:
    """Every position where the pattern matches passes the prefix table and leaves room for
    the shortest match."""
    table, width, shortest = native_normalize._prefix(sre_parse.parse(pattern))
    bits = array("I", table)
    compiled = re.compile(pattern)
    for start in range(len(text) + 1):
        match = compiled.match(text, start)
        if not match:
            continue
        assert match.end() - start >= shortest, (pattern, text, start)
        for offset in range(1, width):
            code = min(ord(text[start + offset]), 128)
            assert bits[code] >> offset & 1, (pattern, text, start, offset)


RULE_PATTERNS = [step.pattern for step in normalize_rules.STEPS if isinstance(step, normalize_rules.Mask)]


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_prefix_admits_every_match(text):
    for pattern, _ in STRESS:
        _prefix_admits(pattern, text)
    for pattern in RULE_PATTERNS + [normalize_rules.KIND_PATTERN]:
        _prefix_admits(pattern, text)


def test_prefix_narrows_fixed_shapes():
    """A fixed shape gives a table that rejects what does not fit (a table that admitted
    everything would pass the tests above and skip nothing)."""
    table, width, shortest = native_normalize._prefix(sre_parse.parse("[0-9a-f]{8}-[0-9a-f]{4}"))
    bits = array("I", table)
    assert (width, shortest) == (13, 13)
    assert bits[ord("-")] == 1 << 8
    assert bits[ord("a")] == sum(1 << i for i in range(1, 13) if i != 8)
    assert bits[ord("g")] == 0 and bits[128] == 0


def test_follow_set_of_a_run():
    """The run in front of an optional part stops where that part, or what is after it, may start."""
    classes = native_normalize._Classes()
    code = array("i", native_normalize.compile_pattern("[0-9]+(?:[.][0-9]+)?[ ]?s(?![a-z])", classes)[0])
    assert code[0] == native_normalize.OP_REPEAT
    follow, end_ok = code[4], code[5]
    assert [chr(c) for c, member in enumerate(classes.table[follow]) if member] == [" ", ".", "s"]
    assert end_ok == 0
    last = native_normalize.compile_pattern("[a-z]+(?![0-9])", classes)[0]
    follow = array("i", last)[4]
    assert classes.table[follow][ord("5")] == 0 and classes.table[follow][ord(" ")] == 1
    assert array("i", last)[5] == 1  # the text may end after the run
