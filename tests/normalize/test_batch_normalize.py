"""The batch path gives byte-identical results to the per-event path, in and out of worker processes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from skillsmith_assets.normalize import batch as batch_normalize, native as native_normalize
from skillsmith_assets.normalize.batch import normalize_batch
from skillsmith_assets.normalize.message import normalize_event
from skillsmith_assets.intake.sample_data import generate_events
from test_normalize_masks import FRAGMENTS, MASKED, SECRETS

MESSAGES = st.one_of(st.text(max_size=80), st.lists(FRAGMENTS, max_size=20).map("".join))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(MESSAGES, st.one_of(st.none(), st.sampled_from(["a", "b", ""]))), max_size=30))
def test_batch_equals_per_event(pairs):
    messages = [m.replace("\x00", "") for m, _ in pairs] + [m for m, _ in MASKED] + [m for m, _ in SECRETS]
    components = [c for _, c in pairs] + ["x"] * (len(MASKED) + len(SECRETS))
    assert normalize_batch(messages, components, workers=1) == [normalize_event(m, c) for m, c in zip(messages, components)]


def test_worker_processes_give_the_same_results(monkeypatch):
    """Without the compiled engine, the Python engine runs in worker processes."""
    monkeypatch.setattr(native_normalize, "engine", lambda: None)
    monkeypatch.setattr(batch_normalize, "PARALLEL_MIN", 10)
    monkeypatch.setattr(batch_normalize, "CHUNK", 37)
    events = list(generate_events(600, seed=9))
    messages = [e["error"] for e in events] * 2  # duplicates are computed once, answered twice
    components = [e["component"] for e in events] * 2
    expected = [normalize_event(m, c) for m, c in zip(messages, components)]
    assert normalize_batch(messages, components, workers=2) == expected


def test_nul_and_empty_messages():
    messages = ["", "a\x00b", "  ", "KeyError: 123456 at 2025-11-07T10:00:00Z"]
    assert normalize_batch(messages, workers=1) == [normalize_event(m) for m in messages]
