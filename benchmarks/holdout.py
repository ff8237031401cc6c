"""Leave-one-system-out grouping accuracy: the merge rules are chosen without the system they are scored on.

A figure measured on the data its thresholds were chosen on overstates how
grouping does on logs nobody has seen. So every tunable of pattern merging
(``MergeRules``) is chosen here by a grid search on five systems and scored on
the sixth, once for each system; the mean of the six held-out scores is the
headline. The in-sample figure (the product's ``DEFAULT_RULES`` scored on every
system) is reported beside it, so the gap between the two is visible.

The normalizer's masks are not in the grid: they are value types (numbers,
dates, addresses, ...) fixed by their shape, never chosen per data set.

    python -m benchmarks.holdout --loghub ../shared/datasets/loghub-2k-dev
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import sys
from dataclasses import asdict, fields, replace
from pathlib import Path

from skillsmith_assets.mining.patterns import DEFAULT_RULES, MergeRules, merge_patterns

from .grouping import (AGENT_CORPUS, DEFAULT_LOGHUB, LOGHUB_SUFFIX, grouping_accuracy, load_agent_corpus,
                       load_loghub, merged_bugs)

# The values tried for each tunable; the product's defaults are among them.
GRID: dict[str, tuple] = {
    "min_variable_values": (8, 12, 16, 24),
    "min_rare_values": (3, 4, 5),
    "rare_weight": (1, 3),
    "similarity": (0.4, 0.5, 0.6),
    "span_min_anchors": (2, 3),
    "span_anchors": (0.5, 0.6),
    "values_by_shape": (True, False),
    "spans": (True, False),
}
# For a quick run (the smoke test): the defaults and a step either side of two tunables.
SMALL_GRID: dict[str, tuple] = {
    "min_variable_values": (8, 12, 16),
    "spans": (True, False),
}


def grid_rules(grid: dict[str, tuple]) -> list[MergeRules]:
    """Every combination of the grid's values, the product's defaults first (they win ties)."""
    names = [f.name for f in fields(MergeRules)]
    unknown = set(grid) - set(names)
    if unknown:
        raise ValueError(f"not merge rules: {sorted(unknown)}")
    keys = list(grid)
    combos = [replace(DEFAULT_RULES, **dict(zip(keys, values))) for values in itertools.product(*grid.values())]
    return [DEFAULT_RULES] + [rules for rules in combos if rules != DEFAULT_RULES]


def normalized_systems(directory: Path) -> dict[str, tuple[list[tuple[str, None, str]], list[str]]]:
    """Per system: (kind, component, normalized message) per line, and the ground-truth event ids."""
    from skillsmith_assets.normalize.message import normalize_event

    systems = {}
    for name, (messages, truth) in load_loghub(directory).items():
        items = []
        for message in messages:
            n = normalize_event(message, None)
            items.append((n.kind, None, n.norm_error))
        systems[name] = (items, truth)
    return systems


def normalized_agent_corpus(path: Path = AGENT_CORPUS) -> tuple[list[tuple[str, str | None, str]], list[str]]:
    """The labelled agent errors as (kind, component, normalized message), and their bug labels."""
    from skillsmith_assets.normalize.message import normalize_event

    events = load_agent_corpus(path)
    items = []
    for event in events:
        n = normalize_event(event["error"], event.get("component"))
        items.append((n.kind, event.get("component"), n.norm_error))
    return items, [event["bug"] for event in events]


_SYSTEMS: dict = {}  # what a worker process scores (set once per process)
_AGENT: list = []


def _score(rules: MergeRules) -> dict:
    scores = {name: grouping_accuracy(truth, [p.id for p in merge_patterns(items, rules=rules)])
              for name, (items, truth) in _SYSTEMS.items()}
    merged = None
    if _AGENT:
        items, labels = _AGENT[0]
        merged = len(merged_bugs(labels, [p.id for p in merge_patterns(items, rules=rules)]))
    return {"ga": scores, "agent_merged": merged}


def _init(systems: dict, agent) -> None:
    _SYSTEMS.clear()
    _SYSTEMS.update(systems)
    _AGENT[:] = [agent] if agent else []


def score_matrix(systems: dict, candidates: list[MergeRules], agent=None, workers: int | None = None) -> list[dict]:
    """Per candidate: GA on every system, and how many pairs of distinct agent bugs it merges.

    One process per core: every candidate is scored independently.
    """
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(candidates) < 8:
        _init(systems, agent)
        return [_score(rules) for rules in candidates]
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with context.Pool(workers, initializer=_init, initargs=(systems, agent)) as pool:
        return pool.map(_score, candidates, chunksize=max(1, len(candidates) // (workers * 8)))


def _best(matrix: list[dict], candidates: list[MergeRules], on: list[str]) -> int:
    """The admissible candidate with the best mean GA on ``on``.

    Admissible: it merges no two distinct bugs of the agent corpus (a hard rule
    of the product, whatever it gains elsewhere). Ties go to the candidate that
    changes fewest tunables from the defaults, then to grid order: a change has
    to earn its place on the systems it is chosen on.
    """
    def key(i: int):
        mean = sum(matrix[i]["ga"][s] for s in on) / len(on)
        return (round(mean, 9), -len(_changed(candidates[i])), -i)

    admissible = [i for i, row in enumerate(matrix) if not row["agent_merged"]]
    return max(admissible or range(len(matrix)), key=key)


def leave_one_out(systems: dict, grid: dict[str, tuple] = GRID, agent=None) -> dict:
    """Per held-out system: the rules chosen on the others, their score there, and the in-sample score."""
    candidates = grid_rules(grid)
    matrix = score_matrix(systems, candidates, agent)
    names = sorted(systems)
    rows = []
    for held_out in names:
        chosen = _best(matrix, candidates, [s for s in names if s != held_out])
        rows.append({
            "system": held_out,
            "held_out": matrix[chosen]["ga"][held_out],
            "in_sample": matrix[0]["ga"][held_out],  # the product's defaults, chosen with this system in view
            "rules": _changed(candidates[chosen]),
        })
    on_all = _best(matrix, candidates, names)
    return {
        "rows": rows,
        "held_out_mean": sum(r["held_out"] for r in rows) / len(rows),
        "held_out_min": min(r["held_out"] for r in rows),
        "in_sample_mean": sum(r["in_sample"] for r in rows) / len(rows),
        "candidates": len(candidates),
        "inadmissible": sum(1 for row in matrix if row["agent_merged"]),
        "grid": {k: list(v) for k, v in grid.items()},
        "chosen_on_all": _changed(candidates[on_all]),
        "defaults": asdict(DEFAULT_RULES),
    }


def _changed(rules: MergeRules) -> dict:
    """What a choice changes from the product's defaults ({} when it keeps them)."""
    default = asdict(DEFAULT_RULES)
    return {k: v for k, v in asdict(rules).items() if v != default[k]}


def table(result: dict) -> str:
    lines = ["| held-out system | GA, rules chosen on the other five | GA, product defaults (in sample) | "
             "rules chosen (change from the defaults) |", "|---|---|---|---|"]
    for row in result["rows"]:
        changed = ", ".join(f"{k}={v}" for k, v in row["rules"].items()) or "the defaults"
        lines.append(f"| {row['system']} | {row['held_out']:.3f} | {row['in_sample']:.3f} | {changed} |")
    lines.append(f"| **mean** | **{result['held_out_mean']:.3f}** (lowest {result['held_out_min']:.3f}) | "
                 f"{result['in_sample_mean']:.3f} | {result['candidates']} candidates, {result['inadmissible']} "
                 "excluded for merging agent bugs |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.holdout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB, help="directory laid out like loghub-2k-dev")
    parser.add_argument("--small", action="store_true", help="a small grid (quick)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not any(args.loghub.glob(f"*{LOGHUB_SUFFIX}")):
        print(f"no *{LOGHUB_SUFFIX} files in {args.loghub}", file=sys.stderr)
        return 2
    result = leave_one_out(normalized_systems(args.loghub), SMALL_GRID if args.small else GRID,
                           normalized_agent_corpus())
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
