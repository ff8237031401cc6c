"""The compiled engine returns exactly what the Python engine returns, and refuses what it cannot run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skillsmith_assets.normalize import native as native_normalize, rules as normalize_rules
from skillsmith_assets.normalize.native import UnsupportedPattern, compile_pattern
from skillsmith_assets.normalize.message import error_kind, normalize_error_message
from test_normalize_masks import FRAGMENTS, MASKED, SECRETS

ROOT = Path(__file__).resolve().parents[2]
AGENT_CORPUS = ROOT / "benchmarks" / "data" / "agent_errors.jsonl"


def python_engine(messages):
    return [(n, error_kind(n)) for n in map(normalize_error_message, messages)]


def compiled(engine, messages):
    """(norm_error, kind) per message from the engine's indexed answer, what the batch path uses."""
    index, table = engine.normalize_indexed(messages)
    return [table[i] for i in memoryview(index).cast("i")]


@pytest.fixture(scope="module")
def engine():
    built = native_normalize.engine()
    assert built is not None, "the compiled engine is not built: run `make install` (it needs a C compiler)"
    return built


def test_every_mask_example_and_expectation(engine):
    examples = [step.example for step in normalize_rules.STEPS if isinstance(step, normalize_rules.Mask)]
    messages = examples + [m for m, _ in MASKED] + [m for m, _ in SECRETS]
    assert compiled(engine, messages) == python_engine(messages)


def test_agent_corpus(engine):
    messages = [json.loads(line)["error"] for line in AGENT_CORPUS.read_text(encoding="utf-8").splitlines()]
    assert compiled(engine, messages) == python_engine(messages)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)
MESSAGES = st.one_of(TEXT, st.lists(FRAGMENTS, max_size=40).map("".join),
                     st.lists(st.one_of(FRAGMENTS, TEXT), max_size=12).map("".join))


@settings(max_examples=400, deadline=None)
@given(st.lists(MESSAGES, max_size=8))
def test_generated_messages(engine, messages):
    assert compiled(engine, messages) == python_engine(messages)


def test_edges(engine):
    messages = [
        "", " ", "\x00", "a\x00b 12", "日本 42 \U0001f600 0x7f", "\ud800 lone surrogate 7",
        "x" * 40_000 + " 123 " + "KeyError: 'k'",  # clipped to head and tail
        "word " * 1000 + "7",  # truncated to 2000 characters
        "password " * 3000 + "= hunter2",  # bounded key search
        "Traceback (most recent call last):\n" + '  File "/a.py", line 1, in f\n' * 300 + "ValueError: 3",
        # long runs of what the masks look for: as quick and as equal as the short ones
        "a_" * 16000 + "passwordX", "a." * 16000 + "token", "ab " * 10000 + "token", "1-" * 16000, "0." * 16000,
        "1" * 32000, "1 " * 16000, "x=1 " * 8000, "eyJ" * 10000, ":" * 32000, "<int> " * 6000,
    ]
    assert compiled(engine, messages) == python_engine(messages)


def test_threads_return_results_in_input_order(engine, monkeypatch):
    monkeypatch.setattr(native_normalize, "CHUNK", 7)
    messages = [f"KeyError: {i} for user{i % 5}@example.com at 10.0.{i % 3}.1" for i in range(200)]
    index, table = native_normalize.normalize_indexed(messages, workers=3)
    assert [table[i] for i in index] == python_engine(messages)


@pytest.mark.parametrize("threads", [2, 3, 16])
def test_a_call_on_threads_answers_as_one_thread_does(engine, threads):
    """Threads take blocks of messages in turn; the results still come in order of first
    use, a text met by two threads is one result, and texts of every character width
    (ASCII, Latin-1, wider) come back whole."""
    shapes = [
        "KeyError: {i} for user{j}@example.com", "ValueError: caf\u00e9 {j} na\u00efve", "\u65e5\u672c {i} \U0001f600 {j}",
        "Traceback (most recent call last):\n  File \"/a.py\", line {j}, in f\nOSError: {j}", "free text number {j}",
    ]
    messages = [shapes[i % len(shapes)].format(i=i, j=i % 97) for i in range(3_000)]
    one_index, one_table = engine.normalize_indexed(messages)
    index, table = engine.normalize_indexed(messages, threads=threads)
    assert (index, table) == (one_index, one_table)
    assert [table[i] for i in memoryview(index).cast("i")] == python_engine(messages)
    first_use = list(dict.fromkeys(memoryview(index).cast("i")))
    assert first_use == list(range(len(table))) and len(table) == len(set(table))


@pytest.mark.parametrize("pattern", [
    "a.b",  # '.' reads differently in ARE
    "(a)\\1",  # back-reference
    "(?<=ab)c",  # a lookbehind wider than one class
    "(?:a?)*b",  # a repeat of something that can match nothing
    "a*",  # a pattern that can match the empty string
    "(?i)abc",  # flags
    "[é]",  # non-ASCII in a class
])
def test_unsupported_patterns_are_refused(pattern):
    with pytest.raises(UnsupportedPattern):
        compile_pattern(pattern, native_normalize._Classes())


def test_pure_python_switch_turns_both_compiled_parts_off():
    code = ("from skillsmith_assets.normalize import native as native_normalize; from skillsmith_assets.intake import scanner;"
            "print(native_normalize.engine() is None, scanner.load_scanner() is None)")
    env = {"SKILLSMITH_PURE_PYTHON": "1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "True True"


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "pure-python"])
def test_indexed_results_expand_to_the_per_message_results(engine, monkeypatch, compiled):
    from skillsmith_assets.normalize.batch import normalize_indexed

    if not compiled:
        monkeypatch.setattr(native_normalize, "engine", lambda: None)
    monkeypatch.setattr(native_normalize, "CHUNK", 5)
    messages = [f"KeyError: {i} in step {'ab'[i % 2]}" for i in range(40)] + ["x", "", "ValueError: 7"]
    index, table = normalize_indexed(messages, workers=2)
    assert [table[i] for i in index] == python_engine(messages)
    assert len(table) == len(set(table)) == 5  # two steps, "x", "" and the ValueError


def test_a_rule_the_engine_cannot_run_leaves_normalization_to_python(monkeypatch):
    steps = normalize_rules.STEPS + (normalize_rules.Mask("dot", "a.b", "", "axb", "", guard="a"),)
    monkeypatch.setattr(normalize_rules, "STEPS", steps)
    native_normalize.engine.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="compiled normalizer not used"):
            assert native_normalize.engine() is None
    finally:
        native_normalize.engine.cache_clear()


# Tokens that masks find, and what may stand right before them (a word character before
# one means no match): placed at every offset around the 16-character blocks in which the
# engine looks for the places a match may start.
BOUNDARY_TOKENS = ["3f2b8c1e-9a4d-4e0f-8b7a-2c1d0e9f8a7b", "Bearer abc.DEF-123", "xoxb-1234567890-abcdef", "<ip> <ip>",
                   "10.0.0.1:5432", "deadbeef1234567", "tx274a77a8975c4a66aeb24", "Nov  7 10:00:00", "350ms", "a  b",
                   "v6.1.7601", "blk_-12", "fe80::1"]
BOUNDARY_BEFORE = ["", " ", "x", "_", "-", ".", "é", "\t"]


def test_every_offset_around_blocks(engine):
    messages = [filler * offset + before + token + after
                for token in BOUNDARY_TOKENS for before in BOUNDARY_BEFORE
                for filler in (" ", "é", "q")
                for offset in range(0, 36) for after in ("", " ", "x")]
    assert compiled(engine, messages) == python_engine(messages)


def test_keywords_and_guards_at_every_offset_with_any_character_before(engine):
    """Guards and keywords are looked for in the text's byte copy (upper-case letters folded
    for keywords), made 16 characters at a time: characters on the edges of ASCII, of the
    letters and of UTF-16 surrogates, and words in every case, at every offset."""
    neighbours = ["\x00", "\x7f", "\x80", "\xff", "\u0100", "\u7fff", "\u8000", "\uffff", "\U00010000", "\U0010ffff",
                  "@", "[", "`", "{", "Z", "a"]
    words = ["PASSWORD=hunter2", "Password: x", "pa\u0100ssword=x", "P@SSWORD=x", "TOKEN=abc", "BEARER abcdefgh",
             "bearer abcdefgh", "  x", "\t\n", "<int> <int>", "<int>,<id>", "File \"/a.py\", line 3", "://h/x?y",
             "Traceback (most recent call last):\n  File \"/a.py\", line 1, in f\nKeyError: 1"]
    messages = [filler * offset + word + filler
                for word in words for filler in neighbours for offset in (0, 1, 13, 14, 15, 16, 17, 31, 32, 33)]
    assert compiled(engine, messages) == python_engine(messages)


def _with_least(steps: tuple, least, run=lambda step: step[9]) -> tuple:
    """The table's steps with every mask's least counts replaced by least(step), its run by run(step)."""
    return tuple(step[:8] + (least(step), run(step)) if step[0] == native_normalize.STEP_MASK else step
                 for step in steps)


def test_least_counts_and_runs_change_which_masks_run_not_the_results():
    from skillsmith_assets.normalize import _fastnorm

    classes, steps, kind, default = native_normalize.compile_table()
    masks = [step for step in steps if step[0] == native_normalize.STEP_MASK]
    assert any(step[8] for step in masks) and any(step[9][0] >= 0 for step in masks)
    without = _fastnorm.Engine(classes, _with_least(steps, lambda step: (), lambda step: (-1, 0)), kind, default)
    messages = [json.loads(line)["error"] for line in AGENT_CORPUS.read_text(encoding="utf-8").splitlines()]
    messages += ["fe80:1 x", "fe80::1 x", "3f2b8c1e-9a4d-4e0f-8b7a2c1d0e9f8a7b", "10.0.0 and 10.0.0.1",
                 "id deadbee", "id deadbeef", "x" + "a" * 15 + "0" * 16 + " and " + "7f" * 40]
    assert compiled(_fastnorm.Engine(classes, steps, kind, default), messages) == compiled(without, messages)


@pytest.mark.parametrize("least, error", [
    (tuple((ord("a"), 2) for _ in range(9)), "more least counts"),
    (((233, 2),), "ASCII"),
    (((ord(":"),),), None),  # not a (character, count) pair
])
def test_engine_refuses_bad_least_counts(least, error):
    from skillsmith_assets.normalize import _fastnorm

    classes, steps, kind, default = native_normalize.compile_table()
    with pytest.raises((ValueError, TypeError), match=error):
        _fastnorm.Engine(classes, _with_least(steps, lambda step: least), kind, default)


@pytest.mark.parametrize("run", [(10**6, 7), (-2, 7)])
def test_engine_refuses_a_run_of_a_class_it_lacks(run):
    from skillsmith_assets.normalize import _fastnorm

    classes, steps, kind, default = native_normalize.compile_table()
    with pytest.raises(ValueError, match="class table"):
        _fastnorm.Engine(classes, _with_least(steps, lambda step: step[8], lambda step: run), kind, default)


def test_runs_found_at_every_offset_of_the_engine_blocks(engine):
    """The engine measures runs 16 characters at a time: a run of hex digits one short of, at
    and past what `hex` (7) and `glued_hex` (16) need, at every offset across those blocks."""
    messages = []
    for offset in range(40):
        for run in ("7f3a2b", "7f3a2b1", "deadbeefdeadbee", "deadbeefdeadbeef", "0" * 40):
            for glue in ("", "g", "zz"):
                messages.append("q" * offset + " " + glue + run + " tail")
                messages.append("é" * offset + glue + run)
    assert compiled(engine, messages) == python_engine(messages)


@pytest.mark.parametrize("length", [20, 33])
def test_a_mask_skipped_for_lacking_a_long_run_is_skipped_only_then(length):
    """A table of one mask needing `length` digits in a row (past one and two 16-character blocks):
    runs one short, exact and longer, at every offset, give what `re` gives."""
    import re

    from skillsmith_assets.normalize import _fastnorm

    pattern = "(?<![0-9])[0-9]{%d,}" % length
    classes = native_normalize._Classes()
    run = native_normalize.mandatory_run(pattern)
    assert run[1] == length
    step = (native_normalize.STEP_MASK, compile_pattern(pattern, classes), ("<n>",), "", (), 0, 0, 0, (),
            (classes.add(run[0]), run[1]))
    kind = compile_pattern(normalize_rules.KIND_PATTERN, classes)
    engine = _fastnorm.Engine(b"".join(classes.table), (step,), kind, normalize_rules.KIND_DEFAULT)
    messages = [prefix * offset + "1" * size + " x 12"
                for offset in range(34) for size in (length - 1, length, length + 15, 3 * length) for prefix in "a é"]
    index, table = engine.normalize_indexed(messages)
    assert [table[i][0] for i in memoryview(index).cast("i")] == [re.sub(pattern, "<n>", m) for m in messages]
