"""Grouping accuracy and throughput of Skillsmith's normalizer and pattern merger, next to Drain3.

    python -m benchmarks.grouping --loghub ../shared/datasets/loghub-2k-dev
    python -m benchmarks.grouping --throughput 1000000

GA (grouping accuracy, the LogPAI metric): a message counts as correct only
when the set of messages in its predicted group is exactly the set of messages
in its ground-truth group. Three groupings are scored on the same messages:
``fingerprint`` (stage 1 alone), ``pattern`` (stage 1 + pattern merging, what
``skillsmith group`` outputs) and Drain3 with its default configuration.

The loghub directory is optional (it is research data the project does not
ship); when it is absent the run says so and scores the project's own labelled
agent-error corpus (``benchmarks/data/agent_errors.jsonl``) only.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT_CORPUS = Path(__file__).resolve().parent / "data" / "agent_errors.jsonl"
LOGHUB_SUFFIX = "_2k.log_structured_corrected.csv"
# Where the labelled Loghub samples sit beside a checkout (research data the project never ships).
DEFAULT_LOGHUB = ROOT.parent / "shared" / "datasets" / "loghub-2k-dev"


def grouping_accuracy(truth: list, predicted: list) -> float:
    """Share of messages whose predicted group is exactly their ground-truth group."""
    if not truth:
        return 0.0
    truth_size: dict = defaultdict(int)
    for t in truth:
        truth_size[t] += 1
    groups: dict = defaultdict(list)
    for t, p in zip(truth, predicted):
        groups[p].append(t)
    correct = 0
    for members in groups.values():
        if len(set(members)) == 1 and truth_size[members[0]] == len(members):
            correct += len(members)
    return correct / len(truth)


def skillsmith_groups(messages: list[str], components: list[str | None]) -> tuple[list[str], list[str], list]:
    """(fingerprints, pattern ids, normalized events) the way ``skillsmith group`` computes them."""
    from skillsmith_assets.mining.patterns import merge_patterns
    from skillsmith_assets.normalize.message import normalize_event

    normalized = [normalize_event(m, c) for m, c in zip(messages, components)]
    patterns = merge_patterns([(n.kind, c, n.norm_error) for n, c in zip(normalized, components)])
    return [n.fingerprint for n in normalized], [p.id for p in patterns], list(zip(normalized, patterns))


def drain3_groups(messages: list[str]) -> tuple[list[int], list[str]]:
    """Drain3 0.9.x with its default configuration: cluster ids and final templates."""
    from drain3 import TemplateMiner

    logging.getLogger("drain3").setLevel(logging.ERROR)
    miner = TemplateMiner()
    ids = [miner.add_log_message(m)["cluster_id"] for m in messages]
    templates = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return ids, [templates[i] for i in ids]


def load_loghub(directory: Path) -> dict[str, tuple[list[str], list[str]]]:
    datasets = {}
    for path in sorted(directory.glob(f"*{LOGHUB_SUFFIX}")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        datasets[path.name[: -len(LOGHUB_SUFFIX)]] = ([r["Content"] for r in rows], [r["EventId"] for r in rows])
    return datasets


def score_loghub(directory: Path) -> list[dict]:
    rows = []
    for name, (messages, truth) in load_loghub(directory).items():
        fingerprints, patterns, _ = skillsmith_groups(messages, [None] * len(messages))
        drain, _ = drain3_groups(messages)
        rows.append({"system": name, "fingerprint": grouping_accuracy(truth, fingerprints),
                     "pattern": grouping_accuracy(truth, patterns), "drain3": grouping_accuracy(truth, drain)})
    return rows


def load_agent_corpus(path: Path = AGENT_CORPUS) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def merged_bugs(labels: list[str], predicted: list) -> list[list[str]]:
    """Predicted groups that hold more than one labelled bug."""
    groups: dict = defaultdict(set)
    for label, p in zip(labels, predicted):
        groups[p].add(label)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def score_agent_corpus(path: Path = AGENT_CORPUS) -> dict:
    events = load_agent_corpus(path)
    messages = [e["error"] for e in events]
    components = [e.get("component") for e in events]
    labels = [e["bug"] for e in events]
    secrets = [s for e in events for s in e.get("secrets", [])]
    fingerprints, patterns, outputs = skillsmith_groups(messages, components)
    drain, drain_templates = drain3_groups(messages)
    ours_text = "\n".join(f"{n.norm_error}\n{p.template}" for n, p in outputs)
    drain_text = "\n".join(drain_templates)
    return {
        "events": len(events), "bugs": len(set(labels)),
        "fingerprint": grouping_accuracy(labels, fingerprints),
        "pattern": grouping_accuracy(labels, patterns),
        "drain3": grouping_accuracy(labels, drain),
        "pattern_merged": merged_bugs(labels, patterns),
        "drain3_merged": merged_bugs(labels, drain),
        "secrets_planted": len(secrets),
        "secrets_leaked": sorted({s for s in secrets if s in ours_text}),
        "drain3_secrets_leaked": len({s for s in secrets if s in drain_text}),
    }


# --- throughput -----------------------------------------------------------------------------

CORPORA = ("sample", "distinct")


def write_events(path: Path, count: int, corpus: str = "sample") -> None:
    """``count`` agent events, one JSON object a line.

    ``sample``: the project's sample generator (a few hundred bugs; most messages differ
    only in ids, so they normalize to a few hundred texts). ``distinct``: the same, with
    every third message replaced by free text from a vocabulary of words that no mask
    touches, so about a third of the events stay distinct after normalization: the case
    where grouping has the most signatures to merge.
    """
    import random

    from skillsmith_assets.intake.sample_data import generate_events

    rng = random.Random(5)
    words = [f"{a}{b}" for a in ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda", "theta",
                                 "zeta") for b in ("red", "blue", "green", "amber", "violet", "cyan", "grey", "teal",
                                                   "gold", "pink", "navy", "lime")]
    verbs = ("sync", "export", "import", "reconcile", "post", "cancel", "merge", "split", "archive", "notify")
    with path.open("w", encoding="utf-8") as out:
        for i, event in enumerate(generate_events(count, days=30, seed=11)):
            if corpus == "distinct" and i % 3 == 0:
                w = [rng.choice(words) for _ in range(5)]
                event["error"] = f"agent.WorkflowError: could not {rng.choice(verbs)} {w[0]} for {w[1]} {w[2]}: " \
                                 f"{w[3]} is {w[4]}"
            out.write(json.dumps(event) + "\n")


def repeated(source: Path, times: int, path: Path) -> Path:
    """``source`` written ``times`` times over into ``path`` (a large input, made fast)."""
    if not path.exists():
        with path.open("wb") as out:
            for _ in range(times):
                with source.open("rb") as handle:
                    while block := handle.read(1 << 24):
                        out.write(block)
    return path


def drain3_cli(path: str) -> None:
    """The Drain3 side of the throughput comparison: JSON lines in, each line plus its cluster id out."""
    from drain3 import TemplateMiner

    logging.getLogger("drain3").setLevel(logging.ERROR)
    miner = TemplateMiner()
    write = sys.stdout.write
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            event = json.loads(line)
            event["cluster"] = miner.add_log_message(event["error"])["cluster_id"]
            write(json.dumps(event, ensure_ascii=False) + "\n")


def _timed(command: list[str], stdin_path: Path) -> dict:
    """Run a whole process under /usr/bin/time -v when available; wall seconds and peak RSS."""
    timer = ["/usr/bin/time", "-v"] if os.path.exists("/usr/bin/time") else []
    with stdin_path.open("rb") as stdin, open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        proc = subprocess.run(timer + command, stdin=stdin, stdout=devnull, stderr=subprocess.PIPE, cwd=ROOT)
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    rss = None
    for line in proc.stderr.decode(errors="replace").splitlines():
        if "Maximum resident set size" in line:
            rss = int(line.split(":")[-1]) // 1024
    return {"seconds": wall, "max_rss_mb": rss}


# Runs of each command in the throughput comparison: the machine's speed drifts between runs by
# more than the margin of a 5x target, and a median of five holds better than one of three.
THROUGHPUT_RUNS = 5


def throughput(count: int, workdir: Path, runs: int = THROUGHPUT_RUNS, corpus: str = "sample") -> dict:
    """Both commands in turn (ours, Drain3, ours, ...) ``runs`` times each; the median run of each counts."""
    events = workdir / f"events_{corpus}_{count}.jsonl"
    if not events.exists():
        write_events(events, count, corpus)
    python = sys.executable
    skillsmith = str(Path(python).with_name("skillsmith"))
    ours_runs, drain_runs = [], []
    for _ in range(runs):
        ours_runs.append(_timed([skillsmith, "group"], events))
        drain_runs.append(_timed([python, "-m", "benchmarks.grouping", "--drain3-cli", str(events)], events))
    from benchmarks.common import median  # here, not at the top: the Drain3 side imports this module

    ours = median(ours_runs, key=lambda r: r["seconds"])
    drain = median(drain_runs, key=lambda r: r["seconds"])
    return {"events": count, "corpus": corpus, "runs": runs, "skillsmith_group": ours, "drain3": drain,
            "skillsmith_seconds_each": [r["seconds"] for r in ours_runs],
            "drain3_seconds_each": [r["seconds"] for r in drain_runs],
            "skillsmith_eps": count / ours["seconds"], "drain3_eps": count / drain["seconds"],
            "speedup": drain["seconds"] / ours["seconds"]}


def memory_scaling(count: int, workdir: Path, sizes=(0.1, 1, 10)) -> list[dict]:
    """Peak RSS of `skillsmith group` at a tenth, one and ten times ``count`` sample events
    (the largest made by repeating the middle one), one run each."""
    base = workdir / f"events_sample_{count}.jsonl"
    if not base.exists():
        write_events(base, count)
    skillsmith = str(Path(sys.executable).with_name("skillsmith"))
    rows = []
    for size in sizes:
        events = int(count * size)
        if size < 1:
            path = workdir / f"events_sample_{events}.jsonl"
            if not path.exists():
                with base.open("rb") as source, path.open("wb") as out:
                    for _, line in zip(range(events), source):
                        out.write(line)
        elif size == 1:
            path = base
        else:
            path = repeated(base, int(size), workdir / f"events_sample_{count}_x{int(size)}.jsonl")
        rows.append({"events": events, **_timed([skillsmith, "group"], path)})
    return rows


# --- report ---------------------------------------------------------------------------------

def print_report(loghub: list[dict] | None, agent: dict | None, speed: dict | None) -> None:
    if loghub:
        print("| system | fingerprint GA | pattern GA | Drain3 default GA |")
        print("|---|---|---|---|")
        for row in loghub:
            print(f"| {row['system']} | {row['fingerprint']:.3f} | {row['pattern']:.3f} | {row['drain3']:.3f} |")
        mean = {k: sum(r[k] for r in loghub) / len(loghub) for k in ("fingerprint", "pattern", "drain3")}
        print(f"| **mean** | {mean['fingerprint']:.3f} | {mean['pattern']:.3f} | {mean['drain3']:.3f} |")
        print()
    if agent:
        print(f"agent-error corpus: {agent['events']} events, {agent['bugs']} labelled bugs")
        print(f"  GA fingerprint {agent['fingerprint']:.3f}  pattern {agent['pattern']:.3f}  "
              f"Drain3 {agent['drain3']:.3f}")
        print(f"  distinct bugs merged: pattern {len(agent['pattern_merged'])}, Drain3 {len(agent['drain3_merged'])}")
        for group in agent["pattern_merged"]:
            print(f"    pattern merged: {group}")
        print(f"  planted secrets {agent['secrets_planted']}: leaked by skillsmith {len(agent['secrets_leaked'])}, "
              f"by Drain3 templates {agent['drain3_secrets_leaked']}")
        print()
    if speed:
        ours, drain = speed["skillsmith_group"], speed["drain3"]
        print(f"throughput on {speed['events']:,} events (whole process, wall clock):")
        print(f"  skillsmith group  {ours['seconds']:.1f} s  {speed['skillsmith_eps']:,.0f} events/s  "
              f"peak RSS {ours['max_rss_mb']} MB")
        print(f"  Drain3 default    {drain['seconds']:.1f} s  {speed['drain3_eps']:,.0f} events/s  "
              f"peak RSS {drain['max_rss_mb']} MB")
        print(f"  speed-up {speed['speedup']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grouping", description=__doc__.split("\n\n")[0])
    parser.add_argument("--loghub", type=Path, help="directory laid out like loghub-2k-dev (optional)")
    parser.add_argument("--agent-corpus", type=Path, default=AGENT_CORPUS)
    parser.add_argument("--throughput", type=int, metavar="N", help="also time `skillsmith group` vs Drain3 on N events")
    parser.add_argument("--corpus", choices=CORPORA, default="sample", help="which generated events --throughput uses")
    parser.add_argument("--workdir", type=Path, default=None, help="where generated events are kept (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--drain3-cli", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drain3_cli:
        drain3_cli(args.drain3_cli)
        return 0
    loghub = None
    if args.loghub is None or not args.loghub.is_dir() or not any(args.loghub.glob(f"*{LOGHUB_SUFFIX}")):
        print(f"loghub: skipped ({args.loghub or 'no --loghub given'}: no *{LOGHUB_SUFFIX} files)", file=sys.stderr)
    else:
        loghub = score_loghub(args.loghub)
    agent = score_agent_corpus(args.agent_corpus) if args.agent_corpus.exists() else None
    speed = None
    if args.throughput:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            speed = throughput(args.throughput, args.workdir, corpus=args.corpus)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                speed = throughput(args.throughput, Path(tmp), corpus=args.corpus)
    if args.json:
        print(json.dumps({"loghub": loghub, "agent": agent, "throughput": speed}, indent=2))
    else:
        print_report(loghub, agent, speed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
