"""Do pattern ids hold as data grows? A proposal keeps matching its errors only if they do.

Each corpus is split by time into four parts and mined in order: first the
first part, then the first two, and so on, the way the 6-hourly schedule sees
history grow. After each step, every event of the earlier parts is compared
with the pattern id it had one step before. The figure is the share of those
comparisons where the id held. Only a rules-version change may move ids, and
it is not part of this run.

    python -m benchmarks.stability --loghub ../shared/datasets/loghub-2k-dev
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from skillsmith_assets.mining.patterns import merge_patterns

from .grouping import DEFAULT_LOGHUB, LOGHUB_SUFFIX

PARTS = 4


def kept_ids(items: list[tuple[str, str | None, str]], parts: int = PARTS) -> dict:
    """items in time order; how many earlier events kept their pattern id at each growth step.

    ``by_template`` counts the same for an id made of the pattern's template (what
    a pattern id was before it was anchored on the pattern's earliest message):
    the template widens as data grows, and such an id moves with it.
    """
    bounds = [round(len(items) * k / parts) for k in range(1, parts + 1)]
    before = before_template = None
    kept = kept_template = compared = 0
    for end in bounds:
        patterns = merge_patterns(items[:end], first_seen=list(range(end)))
        ids = [p.id for p in patterns]
        by_template = [(item[0], item[1], p.template) for item, p in zip(items, patterns)]
        if before is not None:
            kept += sum(1 for old, new in zip(before, ids) if old == new)
            kept_template += sum(1 for old, new in zip(before_template, by_template) if old == new)
            compared += len(before)
        before, before_template = ids, by_template
    return {"events": len(items), "compared": compared, "kept": kept, "kept_by_template": kept_template,
            "share": kept / compared if compared else 1.0,
            "share_by_template": kept_template / compared if compared else 1.0}


def run(systems: dict[str, list[tuple[str, str | None, str]]]) -> dict:
    """Per corpus and over all of them."""
    rows = {name: kept_ids(items) for name, items in systems.items()}
    compared = sum(r["compared"] for r in rows.values())
    kept = sum(r["kept"] for r in rows.values())
    by_template = sum(r["kept_by_template"] for r in rows.values())
    return {"corpora": rows, "compared": compared, "kept": kept, "share": kept / compared if compared else 1.0,
            "share_by_template": by_template / compared if compared else 1.0}


def table(result: dict) -> str:
    lines = ["| corpus | events | earlier events compared | kept their pattern id | with ids from the template |",
             "|---|---|---|---|---|"]
    for name, row in result["corpora"].items():
        lines.append(f"| {name} | {row['events']:,} | {row['compared']:,} | {row['share']:.2%} | "
                     f"{row['share_by_template']:.2%} |")
    lines.append(f"| **all** | | {result['compared']:,} | **{result['share']:.2%}** | "
                 f"{result['share_by_template']:.2%} |")
    return "\n".join(lines)


SAMPLE_EVENTS = 20_000


def sample_events(count: int = SAMPLE_EVENTS) -> list[tuple[str, str | None, str]]:
    """The demo's generated agent errors (a long tail of one-offs among recurring bugs), oldest first."""
    from datetime import datetime, timezone

    from skillsmith_assets.normalize.message import normalize_event
    from skillsmith_assets.intake.sample_data import generate_events

    now = datetime(2026, 1, 31, tzinfo=timezone.utc)  # fixed: the same events every run
    items = []
    for event in generate_events(count, days=30, seed=11, now=now):
        n = normalize_event(event["error"], event.get("component"))
        items.append((n.kind, event.get("component"), n.norm_error))
    return items


def corpora(loghub: Path | None) -> dict[str, list[tuple[str, str | None, str]]]:
    """The agent corpus (file order) and each Loghub system (line order), normalized."""
    from .holdout import normalized_agent_corpus, normalized_systems

    out = {"agent errors (labelled corpus, file order)": normalized_agent_corpus()[0],
           f"sample agent events ({SAMPLE_EVENTS:,} over 30 days, oldest first)": sample_events()}
    if loghub is not None and any(loghub.glob(f"*{LOGHUB_SUFFIX}")):
        out.update({name: items for name, (items, _) in normalized_systems(loghub).items()})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(corpora(args.loghub))
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
