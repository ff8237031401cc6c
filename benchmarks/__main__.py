"""Every benchmark, one run: ``make bench`` (or ``python -m benchmarks``).

Prints the tables and writes ``docs/benchmarks.md`` and ``docs/benchmarks.png``,
so the numbers in the docs are always the output of the commands quoted there, on the
machine described there.
Sizes are options; the defaults are the sizes the targets name (1M events; the key over up to
10M rows of history; the tick over 1M, 3M and 30M events of history), about twenty minutes on
2 cores when every step meets its target.

    python -m benchmarks --events 1000000 --history 10000000 --mining-history 30000000
    python -m benchmarks --only mining --mining-history 3000000
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import common, grouping_bench, ingest_bench, key_bench, mining_bench, normalize_bench

BENCHMARKS = ("grouping", "normalize", "ingest", "mining")

# The targets, checked against the numbers of the same run.
TARGETS = {
    "batch_vs_drain3": 5.0,
    "batch_eps": 1_000_000,
    "ingest_eps": 300_000,
    "ingest_share_of_copy": 0.60,
    "tick_seconds": 2.0,
    "tick_speedup": 20.0,
    "tick_vs_smallest": 1.3,
    "tick_rss_mb": 1024,
    "backfill_rows_per_second": 200_000,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="events for normalize (batch, Drain3) and the largest ingest batch (default 1M)")
    parser.add_argument("--slow-events", type=int, default=50_000,
                        help="events for the per-event and SQL normalizers (their rate is per event; SQL manages "
                             "hundreds a second) (default 50k)")
    parser.add_argument("--history", type=int, default=10_000_000,
                        help="rows of history at the largest size of the idempotency key's benchmark (default 10M)")
    parser.add_argument("--mining-history", type=int, default=30_000_000,
                        help="events in the 30-day window at the largest history of the mining benchmark "
                             "(default 30M)")
    parser.add_argument("--mining-scales", type=lambda text: tuple(int(x) for x in text.split(",")),
                        default=(1, 3, 30), help="the mining benchmark's relative history sizes (default 1,3,30)")
    parser.add_argument("--tick-events", type=int, default=None,
                        help="new events per 6-hourly tick (default: 6 hours at the largest mining history's rate)")
    parser.add_argument("--fingerprints", type=int, default=2000, help="distinct fingerprints in the history")
    parser.add_argument("--scales", type=lambda text: tuple(int(x) for x in text.split(",")), default=(1, 3, 10),
                        help="ingest batch and key history sizes, relative: the largest is --events / "
                             "--history (default 1,3,10)")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    parser.add_argument("--loghub", type=Path, default=grouping_bench.DEFAULT_LOGHUB,
                        help="labelled Loghub samples for grouping accuracy (default ../shared/datasets/loghub-2k-dev; "
                             "skipped with a message when absent)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--docs", type=Path, default=common.ROOT / "docs",
                        help="where benchmarks.md and benchmarks.png go (default docs/)")
    parser.add_argument("--no-docs", action="store_true", help="print the tables only")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--workdir", type=Path, help="where the temporary server and files go (default: the temp dir)")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="no run: rewrite the docs from results saved with --json (later files win)")
    return parser.parse_args(argv)


# Options that only say where output goes: left out of the command quoted in the docs.
OUTPUT_OPTIONS = {"--docs", "--json", "--workdir", "--no-docs", "--loghub"}


KEY_HISTORY_MAX = 10_000_000


def run_all(args: argparse.Namespace, server: common.BenchServer) -> dict:
    chosen = args.only or list(BENCHMARKS)
    results: dict = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": common.machine(),
                     "server": {"kind": server.description, **server.settings()}}
    seconds = {}
    if "grouping" in chosen:
        start = time.perf_counter()
        results["grouping"] = grouping_bench.run(args.events, args.loghub, args.workdir)
        seconds["grouping"] = time.perf_counter() - start
        print(common.markdown_table(["target", "wanted", "measured", ""], grouping_bench.targets(results["grouping"]))
              + "\n", flush=True)
    if "normalize" in chosen:
        start = time.perf_counter()
        results["normalize"] = normalize_bench.run(server, args.events, args.slow_events, args.seed)
        seconds["normalize"] = time.perf_counter() - start
        print(normalize_bench.table(results["normalize"]) + "\n", flush=True)
    if "ingest" in chosen:
        start = time.perf_counter()
        results["ingest"] = ingest_bench.run(server, args.events, scales=args.scales, seed=args.seed,
                                             workdir=args.workdir)
        print(ingest_bench.table(results["ingest"]) + "\n", flush=True)
        # The key's cost as history grows, up to 10M rows of history (two tables are filled per size).
        results["keys"] = key_bench.run(server, min(args.history, KEY_HISTORY_MAX),
                                        args.tick_events or args.mining_history // 120, scales=args.scales)
        seconds["ingest"] = time.perf_counter() - start
        print(key_bench.table(results["keys"]) + "\n", flush=True)
    if "mining" in chosen:
        start = time.perf_counter()
        results["mining"] = mining_bench.run(server, args.mining_history, args.tick_events, scales=args.mining_scales,
                                             fingerprints=args.fingerprints, seed=args.seed, workdir=args.workdir)
        seconds["mining"] = time.perf_counter() - start
        print(mining_bench.table(results["mining"]) + "\n", flush=True)
        print(mining_bench.steps_table(results["mining"]) + "\n", flush=True)
    results["benchmark_seconds"] = seconds
    return results


# --- verdicts ---------------------------------------------------------------------------------

def _parallel_copies(top: dict) -> str:
    """What loading a file through several transactions at once would reach: the COPYs through
    more than one connection."""
    parallel, stripped = top.get("parallel_copy"), top.get("stripped_parallel_copy")
    if not (parallel and stripped):
        return ""
    target = TARGETS["ingest_eps"]
    if parallel["eps"] >= target:
        tail = "."
    elif stripped["eps"] >= target:
        tail = ": 300,000 events/s would take both, the stripped table and more than one connection."
    else:
        tail = ": both below 300,000 events/s."
    return (f" Through {parallel['connections']} connections, each its own transaction (which a file's single "
            f"transaction rules out), the stripped table took {common.fmt_num(stripped['eps'])} rows/s and the "
            f"table with its keys, indexes and triggers {common.fmt_num(parallel['eps'])}" + tail)


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else "met" if ok else "**missed**"


def targets(results: dict) -> list[list[str]]:
    rows = grouping_bench.targets(results["grouping"]) if results.get("grouping") else []
    norm = results.get("normalize")
    if norm:
        batch = norm["paths"].get("batch", {})
        ratio, eps = batch.get("vs_drain3"), batch.get("eps")
        rows.append(["batch normalize + fingerprint vs Drain3", f">= {TARGETS['batch_vs_drain3']:.0f}×",
                     common.fmt_ratio(ratio), _verdict(None if ratio is None else ratio >= TARGETS["batch_vs_drain3"])])
        rows.append(["batch normalize + fingerprint, 2 cores (aim)", ">= 1,000,000 events/s",
                     f"{common.fmt_num(eps)} events/s", _verdict(None if eps is None else eps >= TARGETS["batch_eps"])])
    ing = results.get("ingest")
    if ing:
        top = max(ing["runs"], key=lambda r: r["events"])
        stripped, parallel, stripped_parallel = (top.get(k) for k in ("stripped_copy", "parallel_copy",
                                                                        "stripped_parallel_copy"))
        rows.append([f"ingest ({top['events']:,} events)", ">= 300,000 events/s",
                     f"{common.fmt_num(top['ingest']['eps'])} events/s"
                     + (f" (a COPY into the table without keys, indexes or triggers: "
                        f"{common.fmt_num(stripped['eps'])} rows/s" if stripped else "")
                     + (f"; through {parallel['connections']} connections, {common.fmt_num(stripped_parallel['eps'])} "
                        f"rows/s, and {common.fmt_num(parallel['eps'])} into the table as it is"
                        if parallel and stripped_parallel else "")
                     + (")" if stripped else ""),
                     _verdict(top["ingest"]["eps"] >= TARGETS["ingest_eps"])])
        # The reference: a COPY of the same final rows (normalized columns too) into the same table.
        share = top.get("share_of_complete_copy")
        rows.append(["ingest vs COPY of the same final rows", ">= 60%",
                     ("—" if share is None else f"{share * 100:.0f}%")
                     + f" (vs the unnormalized columns alone: {top['share_of_copy'] * 100:.0f}%)",
                     _verdict(None if share is None else share >= TARGETS["ingest_share_of_copy"])])
        rss = [r["ingest"]["peak_rss_mb"] for r in ing["runs"]]
        flat = max(rss) <= 1.5 * min(rss) if len(rss) > 1 else None
        rows.append(["ingest memory across 1×/3×/10× batches", "flat",
                     " / ".join(common.fmt_num(r) for r in rss) + " MiB", _verdict(flat)])
    keys = results.get("keys")
    if keys:
        big, small = keys["runs"][-1], keys["runs"][0]
        growth = (big["daily"] / big["new"]) / (small["daily"] / small["new"])
        rows.append([f"idempotency key cost per new row, {small['history']:,} → {big['history']:,} rows of history",
                     "flat (<= 1.5×)", f"{common.fmt_ratio(growth)} (a key over the whole history: "
                     f"{common.fmt_ratio(big['global'] / small['global'])}; {common.fmt_ratio(big['ratio'])} "
                     f"the day key's cost at {big['history']:,})", _verdict(growth <= 1.5)])
    mine = results.get("mining")
    if mine:
        top = max(mine["runs"], key=lambda r: r["history"])
        small = min(mine["runs"], key=lambda r: r["history"])
        t = top["tick"]["seconds"]
        rows.append([f"6-hourly tick over {top['history']:,} events", "<= 2 s", f"{t:.2f} s",
                     _verdict(t <= TARGETS["tick_seconds"])])
        rows.append(["tick vs the full recompute (matview refresh)", ">= 20× faster",
                     f"{common.fmt_ratio(top['speedup'])} (asset steps alone {common.fmt_ratio(top['speedup_steps'])}; "
                     f"against the recompute without tags {common.fmt_ratio(top.get('speedup_counts'))})",
                     _verdict(top["speedup"] >= TARGETS["tick_speedup"])])
        if top is small:
            rows.append(["tick at the largest vs the smallest history", "<= 1.3×", "one history size measured", "—"])
        else:
            rows.append([f"tick at {top['history']:,} vs at {small['history']:,} events of history", "<= 1.3×",
                         common.fmt_ratio(top["tick_vs_smallest"]),
                         _verdict(top["tick_vs_smallest"] <= TARGETS["tick_vs_smallest"])])
        rows.append(["tick peak memory (the run's process)", "< 1 GiB", f"{common.fmt_num(top['tick_peak_rss_mb'])} MiB",
                     _verdict(top["tick_peak_rss_mb"] < TARGETS["tick_rss_mb"])])
        backfill = mine.get("backfill")
        if backfill:
            rows.append([f"rules-version backfill ({backfill['rows']:,} rows, {backfill['days']} days, one run, median of {backfill.get('repeats', 1)})",
                         ">= 200,000 rows/s", f"{common.fmt_num(backfill['rows_per_second'])} rows/s",
                         _verdict(backfill["rows_per_second"] >= TARGETS["backfill_rows_per_second"])])
    return rows


# --- the plot ---------------------------------------------------------------------------------

def plot(results: dict, path: Path) -> bool:
    """Tick vs history and ingest vs batch size, each next to its alternative; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        common.log("matplotlib is not installed (`pip install -e '.[dev]'`): no plot")
        return False
    panels = [k for k in ("mining", "ingest", "normalize") if results.get(k)]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, key in zip(axes, panels):
        if key == "mining":
            runs = results["mining"]["runs"]
            x = [r["history"] / 1e6 for r in runs]
            ax.plot(x, [r["tick"]["seconds"] for r in runs], "o-", label="6-hourly tick (run)")
            ax.plot(x, [r["steps_seconds"] for r in runs], "s--", label="tick, asset steps only")
            ax.plot(x, [r["refresh_seconds"] for r in runs], "^-", label="seed: refresh matview")
            ax.set_xlabel("history in the 30-day window (M events)")
            ax.set_ylabel("seconds")
            ax.set_title(f"Mining tick ({results['mining']['tick_events']:,} new events)")
        elif key == "ingest":
            runs = results["ingest"]["runs"]
            x = [r["events"] / 1e6 for r in runs]
            ax.plot(x, [r["ingest"]["seconds"] for r in runs], "o-", label="skillsmith ingest")
            ax.plot(x, [r["copy"]["seconds"] for r in runs], "^-", label="bare COPY (ceiling)")
            ax2 = ax.twinx()
            rss = [r["ingest"]["peak_rss_mb"] for r in runs]
            ax2.plot(x, rss, "s:", color="grey", label="ingest peak RSS")
            ax2.set_ylabel("peak RSS (MiB)")
            ax2.set_ylim(0, max(rss) * 2.2)  # below the time curves' legend
            ax2.legend(loc="lower right", fontsize=8)
            ax.set_xlabel("batch (M events)")
            ax.set_ylabel("seconds")
            ax.set_title("Ingest vs batch size")
        else:
            paths = results["normalize"]["paths"]
            names = [n for n in ("batch", "per-event", "sql", "drain3") if paths.get(n, {}).get("eps")]
            ax.bar(names, [paths[n]["eps"] for n in names], color=["C0", "C1", "C2", "C3"][: len(names)])
            ax.set_yscale("log")
            ax.set_ylabel("events/s (log)")
            ax.set_title("Normalize + fingerprint")
            continue
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --- the document -----------------------------------------------------------------------------

def command_line(argv: list[str] | None) -> str:
    """The command that reproduces the numbers: the sizes given, not where the output went."""
    args = list(sys.argv[1:] if argv is None else argv)
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in OUTPUT_OPTIONS:
            skip = "=" not in arg and name != "--no-docs"
            continue
        kept.append(arg)
    return "python -m benchmarks" + ("" if not kept else " " + " ".join(shlex.quote(a) for a in kept))


def write_docs(results: dict, docs: Path) -> None:
    if results.get("grouping"):
        grouping_bench.write_docs(results["grouping"], results["command"], docs / "grouping.md")
    if not any(results.get(name) for name in ("normalize", "ingest", "mining")):
        return  # a grouping-only run leaves the speed page as the last full run wrote it
    has_plot = plot(results, docs / "benchmarks.png")
    (docs / "benchmarks.md").write_text(render(results, results["command"], "benchmarks.png" if has_plot else None)
                                        + "\n")
    common.log(f"wrote {docs / 'benchmarks.md'}" + (f" and {docs / 'benchmarks.png'}" if has_plot else ""))


def render(results: dict, command: str, plot_name: str | None = "benchmarks.png") -> str:
    m = results["machine"]
    s = results["server"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`benchmarks/__main__.py`); do not edit by hand — rerun it. How each "
        "benchmark works, and how to profile a slow step: [`benchmarks/README.md`](../benchmarks/README.md).",
        "",
        f"- **Command:** {common.fmt_commands(command)} (run {results['started']}; "
        + ", ".join(f"{k} {v / 60:.1f} min" for k, v in results.get("benchmark_seconds", {}).items()) + ")",
        f"- **Machine:** {m.get('Model name', '?')}, {m.get('CPU(s)', m.get('cores'))} CPUs "
        f"({m.get('Thread(s) per core', '?')} thread per core), {m.get('memory', '?')} RAM; "
        f"Python {m['python']} on {m['platform']}; load average when the run started "
        f"{m.get('load', '?')} (1/5/15 min)",
        f"- **Database:** {s['kind']}, PostgreSQL {s['server_version']}, default settings "
        f"(shared_buffers {s['shared_buffers']}, work_mem {s['work_mem']}, "
        f"max_parallel_workers_per_gather {s['max_parallel_workers_per_gather']}, "
        f"synchronous_commit {s['synchronous_commit']}) on the same 2 cores",
        "",
        "## Targets",
        "",
        common.markdown_table(["target", "wanted", "measured", ""], targets(results)),
        "",
    ]
    if plot_name:
        lines += [f"![tick vs history, ingest vs batch size, normalizers]({plot_name})", ""]
    if results.get("grouping"):
        lines += ["## Grouping", "", "Accuracy held out, the agent corpus, Sentry's types, id stability and "
                  "`skillsmith group` against Drain3: [`docs/grouping.md`](grouping.md#measured) "
                  "(written by the same run).", ""]
    if results.get("normalize"):
        n = results["normalize"]
        lines += [
            "## Normalize + fingerprint",
            "",
            f"The same {n['events']:,} generated events (`benchmarks/common.py: fast_events`, the sample "
            f"data's templates and mix) for every engine; the per-event and SQL engines run on the first "
            f"{n['slow_events']:,} of them (a rate per event does not depend on how many; the SQL engine manages "
            f"hundreds of events a second). "
            "Fingerprints are compared as a digest over the same events; Drain3 makes clusters, not fingerprints.",
            "",
            normalize_bench.table(n),
            "",
        ]
    if results.get("ingest"):
        lines += [
            "## Ingest",
            "",
            "`skillsmith ingest FILE` (JSON lines; a whole process, under `/usr/bin/time -v`) against a bare "
            "`COPY` of the rows it ends up storing into the same empty `agent_errors` (all its indexes), "
            "each in a fresh database. *Same rows stored* compares a digest of both tables.",
            "",
            ingest_bench.table(results["ingest"]),
            "",
        ]
    if results.get("keys"):
        lines += [
            "### The idempotency key as history grows",
            "",
            "`benchmarks/key_bench.py`: the same new rows (the tick's count, the last six hours, random keys) "
            "copied into a table holding the history's keys, once with a key unique over the whole history "
            "(`UNIQUE (event_key)`, unpartitioned) and once with the key `agent_errors` uses, unique within "
            "its day's partition (`UNIQUE (event_key, ts)`). Only `ts` and `event_key` are stored, so the "
            "key's cost is all that differs.",
            "",
            key_bench.table(results["keys"]),
            "",
        ]
    if results.get("mining"):
        mi = results["mining"]
        sizes = ", ".join(f"{run['history']:,}" for run in mi["runs"])
        lines += [
            "## Mining: the 6-hourly tick vs the full recompute",
            "",
            f"History: 30 days of normalized rows with their daily counts ({mi['fingerprints']:,} distinct "
            f"fingerprints), at {sizes} events; then "
            f"{mi['tick_events']:,} events in the last six hours, stored as ingest stores them (normalized, "
            "their count deltas pending; six hours at the largest history's rate, the same at every size). "
            "The tick is the RunRequest of "
            "the schedule `mining_every_6_hours` (yesterday's and today's partitions) materializing "
            "`MINING_ASSETS` in-process; *tick s (run)* is the whole `materialize` call, *asset steps* the sum "
            f"of its steps. Each size's tick runs {mi.get('repeats', 1)} times, each from the same starting state, "
            "the sizes taking turns (each history is a database of its own), "
            "and the median run is shown (every run's time in the JSON); the recomputes are medians of as many "
            "runs. The full recompute is `REFRESH MATERIALIZED VIEW` over `agent_errors` computing the "
            "columns `error_signatures` keeps (7- and 30-day hits, first/last seen and the union of tags per "
            "fingerprint); *without tags* is the same view without the tags, a recompute that does less than "
            "the tick. *Signatures = full recompute*: every fingerprint's 30-day hits and tags in "
            "`error_signatures` equal the view's, and no row is left without a fingerprint.",
            "",
            mining_bench.table(mi),
            "",
            "Where the tick's time goes (seconds per asset step, from the run's events). The tick runs on "
            "the Dagster storage `deploy/dagster.yaml` configures (Postgres, connections kept open; in a "
            "database of its own on the same server); at the smallest history it runs again, after the same "
            "setup, on dagster-postgres's own `storage: postgres`, which connects for every event it stores:",
            "",
            mining_bench.steps_table(mi),
            "",
        ]
        if mi.get("backfill"):
            b = mi["backfill"]
            lines += [f"A new rules version's backfill: the rows of {b['days']} days of the largest history "
                      f"({b['rows']:,}) marked as made by the previous version, then one run of `normalized_errors` "
                      "over the range, each day in a transaction of its own"
                      + (f", {b['days_in_flight']} days at a time" if b.get("days_in_flight") else "")
                      + f"; done {b.get('repeats', 1)} times, the median: "
                      f"{b['seconds']:.1f} s, {b['rows_per_second']:,.0f} rows/s, peak {b['peak_rss_mb']:.0f} MiB"
                      + (" (each run: " + ", ".join(f"{r:,.0f}" for r in b["rows_per_second_each"]) + " rows/s)"
                         if b.get("rows_per_second_each") else "") + ".", ""]
    lines += ["## Where the time goes", ""] + [f"- {item}" for item in findings(results)] + [
        "",
        "Profiles behind these lines, and how to take them: "
        "[`benchmarks/README.md`](../benchmarks/README.md#what-the-profiles-show).",
        "",
    ]
    return "\n".join(lines)


def findings(results: dict) -> list[str]:
    """Plain statements read off this run's numbers, so the explanation never disagrees with the tables."""
    out = []
    norm = results.get("normalize")
    if norm:
        p = norm["paths"]
        per, batch, pure, sql, drain = (p.get(k, {}).get("eps")
                                        for k in ("per-event", "batch", "batch-python", "sql", "drain3"))
        if per and batch and drain:
            text = f"Normalize: the rule table costs {1e6 / per:,.0f} µs per message per core in Python's `re`"
            if sql:
                text += f" and {1e6 / sql:,.0f} µs in Postgres' regex engine"
            text += (f"; the batch path (the compiled engine on both cores, each distinct message once) reaches "
                     f"{batch / per:.1f}× the per-event rate and {batch / drain:.2f}× Drain3, which tokenizes and "
                     f"walks a prefix tree without any regex ({1e6 / drain:.1f} µs per message)")
            if pure:
                text += f"; without the compiled engine the batch path reaches {pure / drain:.2f}× Drain3"
            out.append(text + ".")
    ing = results.get("ingest")
    if ing:
        top = max(ing["runs"], key=lambda r: r["events"])
        per_event = 1e6 / top["ingest"]["eps"]
        per_row = 1e6 / top["copy"]["eps"]
        complete = top.get("complete_copy")
        out.append(f"Ingest: {per_event:.1f} µs per event against {per_row:.1f} µs per row for a COPY of the "
                   "unnormalized columns"
                   + (f" and {1e6 / complete['eps']:.1f} µs for the complete rows" if complete else "")
                   + ". The compiled scanner parses, keys and renders each line while the previous chunk is "
                   "stored, and each distinct message is normalized once, so what is left is mostly the "
                   "server's: the rows' indexes and the count triggers. The ceiling is the table itself: "
                   "300,000 events/s is above what a bare COPY reaches here"
                   + (f", and above the {common.fmt_num(top['stripped_copy']['eps'])} rows/s of a COPY of the "
                      "complete rows into `agent_errors` stripped of every key, index and trigger (plain storage, "
                      "through the one connection a file's single transaction has)"
                      if top.get("stripped_copy") else "") + "."
                   + _parallel_copies(top))
    mine = results.get("mining")
    if mine:
        top = max(mine["runs"], key=lambda r: r["history"])
        steps = top["tick"]["steps"]
        if steps:
            name, seconds = max(steps.items(), key=lambda kv: kv[1])
            share = seconds / top["tick"]["seconds"] * 100
            text = (f"Mining: at {top['history']:,} events of history the tick's largest step is `{name}` "
                    f"({seconds:.1f} s of {top['tick']['seconds']:.1f} s, {share:.0f}%)")
            if name == "normalized_errors" and top.get("recount_seconds") is not None:
                text += (f": normalizing the {top['tick_events']:,} new rows takes "
                         f"{seconds - top['recount_seconds']:.1f} s, recounting the two days "
                         f"{top['recount_seconds']:.1f} s")
            out.append(text + f". The full recompute reads all {top['history']:,} rows every time "
                       f"({top['refresh_seconds']:.1f} s).")
        for run in mine["runs"]:
            stock = run.get("stock_storage_tick")
            if stock:
                out.append(f"Mining: Dagster's storage. At {run['history']:,} events of history the same tick took "
                           f"{stock['seconds']:.2f} s on dagster-postgres's own `storage: postgres`, which "
                           f"connects for every event it stores, and {run['tick']['seconds']:.2f} s on the "
                           "pooled storage `deploy/dagster.yaml` configures.")
    return out


def merge(parts: list[dict]) -> dict:
    """Results of several runs as one (later runs win); mining runs at other history sizes are combined.

    So a long measurement can be split — say the largest history in one run, the
    smaller ones in another — and still give one scaling table.
    """
    results: dict = {}
    commands, seconds, mining_runs = [], {}, {}
    for part in parts:
        commands.append(part.get("command", "python -m benchmarks"))
        sizes = {run["history"] for run in (part.get("mining") or {}).get("runs", [])}
        # A mining run at other sizes adds to the measurement; one that measures the same sizes again replaces it.
        adds = bool(sizes) and not sizes <= set(mining_runs)
        for key, value in part.get("benchmark_seconds", {}).items():
            seconds[key] = seconds.get(key, 0.0) + value if key == "mining" and adds else value
        if part.get("mining"):
            if results.get("mining") and results["mining"]["tick_events"] != part["mining"]["tick_events"]:
                raise SystemExit("cannot combine mining runs with different --tick-events")
            mining_runs.update({run["history"]: run for run in part["mining"]["runs"]})
        results.update(part)
    if mining_runs:
        runs = [mining_runs[h] for h in sorted(mining_runs)]
        for run in runs:
            run["tick_vs_smallest"] = run["tick"]["seconds"] / runs[0]["tick"]["seconds"]
        results["mining"] = {**results["mining"], "runs": runs, "history": runs[-1]["history"]}
    results["benchmark_seconds"] = seconds
    results["command"] = " and ".join(dict.fromkeys(commands))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        write_docs(merge([json.loads(path.read_text()) for path in args.render]), args.docs)
        return 0
    server = common.BenchServer(args.workdir)
    try:
        results = run_all(args, server)
    finally:
        server.close()
    results["command"] = command_line(argv)
    print(common.markdown_table(["target", "wanted", "measured", ""], targets(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    if not args.no_docs:
        write_docs(results, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
