"""The grouping measurements themselves: held-out selection, id stability, Sentry's types, the docs section."""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks import grouping_bench, holdout, sentry_types, stability
from skillsmith_assets.mining.patterns import DEFAULT_RULES, merge_patterns


def _matrix(rows):
    return [{"ga": ga, "agent_merged": merged} for ga, merged in rows]


def test_held_out_choice_never_sees_the_held_out_system():
    candidates = [DEFAULT_RULES, replace(DEFAULT_RULES, similarity=0.4), replace(DEFAULT_RULES, similarity=0.6)]
    matrix = _matrix([
        ({"A": 0.90, "B": 0.90, "C": 0.90}, 0),
        ({"A": 0.99, "B": 0.99, "C": 0.10}, 0),  # best on A and B, poor on C
        ({"A": 1.00, "B": 1.00, "C": 1.00}, 2),  # best everywhere, but merges agent bugs
    ])
    chosen_without_c = holdout._best(matrix, candidates, ["A", "B"])
    assert chosen_without_c == 1  # so C is scored with rules it would not have picked itself
    assert holdout._best(matrix, candidates, ["C"]) == 0  # the merging candidate is never admissible


def test_ties_go_to_the_fewest_changes():
    candidates = [replace(DEFAULT_RULES, similarity=0.4, rare_weight=1), replace(DEFAULT_RULES, similarity=0.4)]
    matrix = _matrix([({"A": 0.95}, 0), ({"A": 0.95}, 0)])
    assert holdout._best(matrix, candidates, ["A"]) == 1


def test_grid_starts_with_the_defaults_and_rejects_unknown_rules():
    rules = holdout.grid_rules(holdout.SMALL_GRID)
    assert rules[0] == DEFAULT_RULES and len(set(rules)) == len(rules)
    with pytest.raises(ValueError, match="no_such_rule"):
        holdout.grid_rules({"no_such_rule": (1,)})


def test_leave_one_out_reports_every_system(tmp_path):
    systems = {}
    for name, host in (("Alpha", "alpha"), ("Beta", "beta"), ("Gamma", "gamma")):
        items = [("Error", None, f"login failed for user u{i} on {host}") for i in range(20)]
        items += [("Error", None, f"disk {host} full")] * 5
        systems[name] = (items, ["E1"] * 20 + ["E2"] * 5)
    result = holdout.leave_one_out(systems, holdout.SMALL_GRID)
    assert [row["system"] for row in result["rows"]] == ["Alpha", "Beta", "Gamma"]
    assert result["held_out_mean"] == 1.0 and result["candidates"] == len(holdout.grid_rules(holdout.SMALL_GRID))
    assert "| **mean** |" in holdout.table(result)


def test_ids_hold_while_a_pattern_widens():
    names = [f"{a}{b}" for a in ("north", "south", "east", "west") for b in ("wind", "rain", "snow", "fog")]
    items = []
    for i in range(64):
        host = "alpha" if i < 16 else names[i % 16]  # one host at first, sixteen later
        items.append(("Error", "sync", f"job {names[(i * 7) % 16]} failed on {host}"))
        if i % 4 == 0:
            items.append(("KeyError", "sale", "KeyError: 'partner_id'"))
    result = stability.kept_ids(items)
    assert result["share"] == 1.0
    # the template widened on the way ("on alpha", then "on <*>"), so an id made of it moved
    assert result["share_by_template"] < 1.0
    early = merge_patterns(items[:20], first_seen=list(range(20)))
    full = merge_patterns(items, first_seen=list(range(len(items))))
    assert early[0].template != full[0].template and [p.id for p in early] == [p.id for p in full[:20]]


def test_every_sentry_type_groups_or_stays_apart_on_purpose():
    rows = sentry_types.run()
    assert {row["type"].split(" ")[0] for row in rows} >= {"email", "url", "ip", "uuid", "date", "duration", "hex",
                                                           "float", "int", "git_sha", "swift_txn_id"}
    failing = [(row["type"], row["failures"]) for row in rows if not row["ok"]]
    assert failing == []


def test_docs_section_is_replaced_between_markers(tmp_path):
    page = tmp_path / "grouping.md"
    page.write_text(f"# Title\n\nbefore\n\n{grouping_bench.BEGIN}\nold numbers\n{grouping_bench.END}\n\nafter\n")
    g = grouping_bench.run(0, loghub=tmp_path / "absent")
    grouping_bench.write_docs(g, "make bench", page)
    text = page.read_text()
    assert "old numbers" not in text and "before" in text and "after" in text
    assert "### Sentry's volatile types" in text and "### Stable identities" in text
    assert "Loghub samples were not found" in text
    assert text.count(grouping_bench.BEGIN) == 1


def test_throughput_keeps_every_run_of_both_commands_and_shows_them(tmp_path):
    """Both real commands, in turn, on a small generated corpus: the median is one of the runs,
    and the page lists every run so the spread behind it shows."""
    from benchmarks import grouping

    speed = grouping.throughput(2000, tmp_path, runs=3, corpus="distinct")
    ours, drain = speed["skillsmith_seconds_each"], speed["drain3_seconds_each"]
    assert len(ours) == len(drain) == 3
    assert speed["skillsmith_group"]["seconds"] == sorted(ours)[1]
    assert speed["drain3"]["seconds"] == sorted(drain)[1]
    lines = grouping_bench.each_run([speed])
    assert lines[0].startswith("- distinct, each run in turn")
    assert lines[0].count(" / ") == 4  # the heading's and one per run
    assert f"{ours[2]:.2f} / {drain[2]:.1f}" in lines[0]
