"""Variable-length parameters: one template whose variable part spans a different number of tokens.

Each case holds real-looking messages of one bug whose value has one, two or
more words, next to a look-alike bug that must stay apart. Messages go through
the normalizer first, as in ``skillsmith group``.
"""

from __future__ import annotations

import random
import re

import pytest

from skillsmith_assets.mining.patterns import merge_patterns
from skillsmith_assets.normalize.rules import SPAN
from skillsmith_assets.normalize.message import normalize_event
from skillsmith_assets.skills.schema import regex_problem
from skillsmith_assets.skills.match_regex import build_message_regex

RNG_SEED = 7


def _group(messages: list[str], component: str = "agent") -> list:
    items = []
    for message in messages:
        n = normalize_event(message, component)
        items.append((n.kind, component, n.norm_error))
    return merge_patterns(items)


def _assert_groups(bugs: dict[str, list[str]]):
    """Every bug is exactly one pattern, and no two bugs share one."""
    messages, labels = [], []
    for label, texts in bugs.items():
        messages += texts
        labels += [label] * len(texts)
    patterns = _group(messages)
    by_label: dict[str, set] = {}
    for label, pattern in zip(labels, patterns):
        by_label.setdefault(label, set()).add(pattern.id)
    for label, ids in by_label.items():
        assert len(ids) == 1, f"{label} split into {len(ids)} patterns: " + "; ".join(
            sorted({p.template for p, lab in zip(patterns, labels) if lab == label}))
    owners = [next(iter(ids)) for ids in by_label.values()]
    assert len(set(owners)) == len(owners), "two bugs merged"
    return {label: next(p for p, lab in zip(patterns, labels) if lab == label) for label in bugs}


WORDS = ["eleven", "one hundred", "n/a", "twenty five", "", "a dozen", "forty two thousand", "none yet",
         "seven and a half", "unknown", "TBD", "approx. 300", "three hundred and twelve", "lots"]
NAMES = ["Deco Addict", "Gemini Furniture", "Jackson Group", "Azure Interior", "Ready Mat", "Lumber Inc",
         "The Jackson Group Ltd", "Wood Corner", "YourCompany", "Marc Demo", "Joel Willis", "Brandon Freeman SA"]


def test_quoted_literals_with_spaces_merge():
    rng = random.Random(RNG_SEED)
    patterns = _assert_groups({
        "int": [f"ValueError: invalid literal for int() with base 10: '{rng.choice(WORDS)}'" for _ in range(30)]
        + ["ValueError: invalid literal for int() with base 10: 'eleven'",
           "ValueError: invalid literal for int() with base 10: 'one hundred'"],
        "float": [f"ValueError: could not convert string to float: '{rng.choice(WORDS)}'" for _ in range(20)],
    })
    assert SPAN in patterns["int"].template


def test_key_value_with_empty_or_multi_word_value_merges():
    rng = random.Random(RNG_SEED)
    reasons = ["limit exceeded", "card expired", "", "do not honor", "insufficient funds", "suspected fraud",
               "invalid account number", "issuer unavailable"]
    _assert_groups({
        "declined": [f"payment gateway refused charge: status=declined reason={rng.choice(reasons)} "
                     f"order={rng.randint(1000, 99999)}" for _ in range(40)],
        "refund": [f"payment gateway refused refund: status=declined reason={rng.choice(reasons)} "
                   f"order={rng.randint(1000, 99999)}" for _ in range(25)],
    })


def test_names_in_parentheses_merge():
    rng = random.Random(RNG_SEED)
    _assert_groups({
        "partner": [f"odoo.exceptions.MissingError: Partner ({rng.choice(NAMES)}) was deleted or does not exist "
                    f"(id {rng.randint(1, 99999)})" for _ in range(30)],
        "product": [f"odoo.exceptions.MissingError: Product ({rng.choice(NAMES)}) was deleted or does not exist "
                    f"(id {rng.randint(1, 99999)})" for _ in range(30)],
    })


def test_paths_with_spaces_merge():
    rng = random.Random(RNG_SEED)
    folders = ["exports/daily", "Finance/closing 2026/final", "Sales Team/Q3 reports", "tmp", "a b c/d e",
               "archive/old exports/2025", "shared drive/Accounting"]
    _assert_groups({
        "export": [f"FileNotFoundError: [Errno 2] No such file or directory: '/srv/exports/{rng.choice(folders)}/"
                   f"{rng.randint(1, 99999)}.csv'" for _ in range(30)],
        "permission": [f"PermissionError: [Errno 13] Permission denied: '/srv/exports/{rng.choice(folders)}/"
                       f"{rng.randint(1, 99999)}.csv'" for _ in range(20)],
    })


def test_unquoted_path_followed_by_a_reason_keeps_reasons_apart():
    rng = random.Random(RNG_SEED)
    paths = ["/p/gb2/maps/8k_128x64.map", "/home/user/run2/x.map", "/tmp/a.map", "/data/maps/big_one.map"]
    _assert_groups({
        "denied": [f"ciod: Error creating node map from file {rng.choice(paths)}: Permission denied"
                   for _ in range(15)],
        "no-child": [f"ciod: Error creating node map from file {rng.choice(paths)}: No child processes"
                     for _ in range(15)],
    })


def test_lists_of_different_lengths_merge():
    rng = random.Random(RNG_SEED)
    fields = ["email", "street", "city", "zip", "vat", "phone", "country_id", "company_id", "user_id"]

    def listing():
        return ", ".join(rng.sample(fields, rng.randint(1, 4)))

    _assert_groups({
        "partner": [f"odoo.exceptions.ValidationError: Missing required fields [{listing()}] on res.partner"
                    for _ in range(30)],
        "order": [f"odoo.exceptions.ValidationError: Missing required fields [{listing()}] on sale.order"
                  for _ in range(30)],
    })


def test_free_text_after_the_last_colon_merges():
    rng = random.Random(RNG_SEED)
    reasons = ["timeout", "no arguments were given", "rate limited by the provider, retry later",
               "upstream returned an empty body", "schema validation failed for field amount", "cancelled",
               "model refused the request", "connection reset by peer"]
    _assert_groups({
        "search": [f"tool call search_orders failed after {rng.randint(10, 99999)} ms: {rng.choice(reasons)}"
                   for _ in range(40)],
        "invoice": [f"tool call create_invoice failed after {rng.randint(10, 99999)} ms: {rng.choice(reasons)}"
                    for _ in range(40)],
    })


@pytest.mark.parametrize("first,second", [
    ("odoo.exceptions.UserError: Cannot delete a posted journal entry",
     "odoo.exceptions.UserError: Cannot cancel a posted journal entry"),
    ("KeyError: 'partner_id'", "KeyError: 'product_id'"),
    ("sync failed: connection refused", "sync failed: connection reset by peer"),
])
def test_two_frequent_values_stay_two_bugs(first, second):
    """Two values that each recur are two bugs, whatever their lengths."""
    _assert_groups({"first": [first] * 25, "second": [second] * 25})


def test_words_that_differ_without_a_marked_slot_stay_apart():
    """Without quotes, brackets, a key= or a final colon, a longer run of words is another event."""
    _assert_groups({
        "lost": ["worker lost heartbeat, restarting"] * 5,
        "lost-twice": ["worker lost heartbeat twice in a row, restarting"] * 5,
    })


def test_span_regex_matches_every_length_and_no_other_bug():
    rng = random.Random(RNG_SEED)
    messages = [f"ValueError: invalid literal for int() with base 10: '{w}'" for w in WORDS]
    messages += [f"ValueError: invalid literal for int() with base 10: '{rng.choice(WORDS)}'" for _ in range(10)]
    patterns = _group(messages)
    template = patterns[0].template
    assert SPAN in template and len({p.id for p in patterns}) == 1
    own = [normalize_event(m, "agent").norm_error for m in messages]
    other = [normalize_event("ValueError: could not convert string to float: 'eleven'", "agent").norm_error]
    regex = build_message_regex(template, own, other)
    assert regex_problem(regex) is None  # a span passes the skill schema's safety check
    compiled = re.compile(regex)
    assert all(compiled.search(text) for text in own)
    assert not any(compiled.search(text) for text in other)
