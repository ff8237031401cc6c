"""The compiled pass 1 of pattern merging (`_patterns.c`) makes exactly the parts of the Python
pass (grouping.python_parts), in the same order, on generated inputs and on the agent corpus."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from skillsmith_assets.mining import patterns as grouping
from skillsmith_assets.mining.patterns import DEFAULT_RULES, MergeRules, merge_texts, python_parts
from skillsmith_assets.normalize.message import normalize_event

try:
    from skillsmith_assets.mining import _patterns
except ImportError:
    pytest.fail("the compiled pattern merger is not built: run `make install` (it needs a C compiler)", pytrace=False)

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "agent_errors.jsonl"
RULES = [DEFAULT_RULES, MergeRules(min_variable_values=8, min_rare_values=3, rare_weight=1, similarity=0.4),
         MergeRules(similarity=0.6, values_by_shape=False), MergeRules(spans=False)]
WORDS = ["user", "alice", "bob", "<int>", "/srv/a", "x1", "'key'", "'other key'", "<*>", "", "é", "zé", "Zeta",
         "http://h", "failed:", "(a", "b)", "reason=limit", "timed", "out", "a\tb", "\u2028", "😀"]


def native(texts, weights, rules):
    return _patterns.positional_parts(texts, weights, rules.min_variable_values, rules.min_rare_values,
                                      rules.rare_weight, rules.similarity, rules.values_by_shape)


def generated(seed: int, count: int) -> tuple[list[str], list[int]]:
    """Distinct messages from a few templates with varying slots, lengths and weights."""
    rng = random.Random(seed)
    stems = [[rng.choice(WORDS) for _ in range(rng.randint(1, 7))] for _ in range(rng.randint(1, 6))]
    texts: dict[str, int] = {}
    while len(texts) < count:
        tokens = list(rng.choice(stems))
        for _ in range(rng.randint(0, 3)):
            at = rng.randrange(len(tokens) + 1)
            if rng.random() < 0.5 and tokens:
                tokens[min(at, len(tokens) - 1)] = rng.choice(WORDS + [f"v{rng.randint(0, 30)}"])
            else:
                tokens.insert(at, rng.choice(WORDS))
        texts.setdefault(" ".join(tokens), rng.choice([1, 1, 2, 3, 5, 40, 1000]))
    return list(texts), list(texts.values())


@pytest.mark.parametrize("seed", range(60))
def test_parts_equal_on_generated_messages(seed):
    texts, weights = generated(seed, 1 + seed * 7)
    messages = [tuple(t.split(" ")) for t in texts]
    for rules in RULES:
        assert native(texts, weights, rules) == [(m, t) for m, t in python_parts(messages, weights, rules)]


def test_parts_equal_on_the_agent_corpus():
    by_source: dict[tuple, dict[str, int]] = {}
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        n = normalize_event(event["error"], event.get("component"))
        texts = by_source.setdefault((n.kind, event.get("component")), {})
        texts[n.norm_error] = texts.get(n.norm_error, 0) + 1
    for texts in by_source.values():
        for rules in RULES:
            assert merge_texts(list(texts), list(texts.values()), rules) == \
                merge_texts(list(texts), list(texts.values()), rules, native=False)


def test_falls_back_where_it_cannot_run():
    """A lone surrogate cannot be UTF-8 and a weight may exceed 64 bits: the Python pass runs."""
    texts, weights = ["a \udc80 b", "a c b", "a d b"], [1, 2**70, 1]
    assert grouping._native_parts(texts, weights, DEFAULT_RULES) is None
    assert merge_texts(texts, weights) == merge_texts(texts, weights, native=False)


def test_empty_and_single():
    assert native([], [], DEFAULT_RULES) == []
    assert native([""], [1], DEFAULT_RULES) == [([0], [""])]


@pytest.mark.parametrize("seed", range(6))
def test_parts_equal_on_long_messages_and_large_buckets(seed):
    """Buckets of hundreds of messages (sorted in C by weight, then text), and messages of more
    than 32 tokens (their probes sorted the other way)."""
    rng = random.Random(seed)
    stem = [rng.choice(WORDS) for _ in range(rng.choice([3, 12, 40, 70]))]
    texts: dict[str, int] = {}
    while len(texts) < 600:
        tokens = list(stem)
        for _ in range(rng.randint(1, 4)):
            tokens[rng.randrange(len(tokens))] = rng.choice(WORDS + [f"id{rng.randint(0, 400)}"])
        texts.setdefault(" ".join(tokens), rng.choice([1, 1, 1, 2, 7]))
    texts, weights = list(texts), list(texts.values())
    messages = [tuple(t.split(" ")) for t in texts]
    for rules in RULES:
        expected = [(m, t) for m, t in python_parts(messages, weights, rules)]
        assert native(texts, weights, rules) == expected
        # a bucket too large to copy its ranks out is sorted reading them through the tokens
        assert _patterns.positional_parts(texts, weights, rules.min_variable_values, rules.min_rare_values,
                                          rules.rare_weight, rules.similarity, rules.values_by_shape, 0) == expected
