"""The benchmarks at smoke size: they run, and what they measure is consistent.

No timing is asserted here (timing belongs to ``make bench``); these tests make
sure the benchmark code itself cannot rot: every engine fingerprints alike, ingest
stores exactly the rows a bare COPY stores, the incremental tick's signatures equal
the full recompute, and the report renders.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from benchmarks import __main__ as suite
from benchmarks import common, ingest_bench, key_bench, mining_bench, normalize_bench

EVENTS = 3000
SLOW_EVENTS = 500
HISTORY = 20_000
TICK_EVENTS = 100
FINGERPRINTS = 300
SCALES = (1, 10)  # two history sizes are enough to exercise the scaling code


@pytest.fixture(scope="module")
def results(pg_admin_url, tmp_path_factory):
    server = common.BenchServer(admin_url=pg_admin_url)
    workdir = tmp_path_factory.mktemp("bench")
    try:
        out = {
            "started": "smoke",
            "machine": common.machine(),
            "server": {"kind": server.description, **server.settings()},
            "normalize": normalize_bench.run(server, EVENTS, SLOW_EVENTS),
            "ingest": ingest_bench.run(server, EVENTS, workdir=workdir),
            "keys": key_bench.run(server, HISTORY, TICK_EVENTS, scales=SCALES),
            "mining": mining_bench.run(server, HISTORY, TICK_EVENTS, scales=SCALES, fingerprints=FINGERPRINTS,
                                       workdir=workdir, repeats=2),
        }
    finally:
        server.close()
    return out


def test_fast_events_are_deterministic_and_realistic():
    now = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)
    a = common.fast_events(500, seed=3, now=now)
    b = common.fast_events(500, seed=3, now=now)
    assert a.error == b.error and a.ts == b.ts
    assert a.ts == sorted(a.ts)
    assert len(set(a.component)) >= 5
    assert any("Traceback (most recent call last)" in e for e in a.error)
    assert sum(e.startswith("RuntimeError: unexpected state") for e in a.error) > 10


def test_every_normalizer_runs_and_fingerprints_agree(results):
    paths = results["normalize"]["paths"]
    assert set(paths) == {"per-event", "batch", "batch-python", "sql", "drain3"}
    for name, row in paths.items():
        assert "missing" not in row, row
        assert row["eps"] > 0 and row["vs_drain3"] > 0, name
    assert paths["batch"]["events"] == EVENTS and paths["per-event"]["events"] == SLOW_EVENTS
    assert results["normalize"]["consistent"] == {"batch-python": True, "per-event": True, "sql": True}
    assert paths["drain3"]["groups"] > 0


def test_ingest_stores_what_a_bare_copy_stores(results):
    runs = results["ingest"]["runs"]
    assert [r["events"] for r in runs] == [EVENTS // 10, EVENTS * 3 // 10, EVENTS]
    for run in runs:
        assert run["ingest"]["loaded"] == run["events"]
        assert run["ingest"]["rows"] == run["copy"]["rows"] == run["events"]
        assert run["same_rows"] is True
        assert run["share_of_copy"] > 0 and run["ingest"]["peak_rss_mb"] > 0
        assert run["complete_copy"]["stored"] == run["ingest"]["stored"] and run["share_of_complete_copy"] > 0
        assert run["complete_copy"]["indexes"] > 0 and run["complete_copy"]["triggers"] > 0
    stripped = runs[-1]["stripped_copy"]  # the largest batch only: plain storage, the table's ceiling
    assert all(run["stripped_copy"] is None for run in runs[:-1])
    assert stripped["stored"] == runs[-1]["ingest"]["stored"] and stripped["eps"] > 0
    assert stripped["indexes"] == stripped["triggers"] == 0
    # the same two COPYs through two connections, each its own transaction: every row once
    parallel, stripped_parallel = runs[-1]["parallel_copy"], runs[-1]["stripped_parallel_copy"]
    assert parallel["connections"] == stripped_parallel["connections"] == 2
    assert parallel["stored"] == stripped_parallel["stored"] == runs[-1]["ingest"]["stored"]
    assert parallel["indexes"] > 0 and stripped_parallel["indexes"] == 0


def test_the_key_benchmark_fills_both_tables_alike(results):
    runs = results["keys"]["runs"]
    assert [r["history"] for r in runs] == [HISTORY // 10, HISTORY]
    for run in runs:
        assert run["global_rows"] == run["daily_rows"] == run["history"] + TICK_EVENTS
        assert run["global"] > 0 and run["daily"] > 0
    assert "global / day" in key_bench.table(results["keys"])


def test_tick_signatures_equal_the_full_recompute(results):
    mining = results["mining"]
    assert all(run["fully_indexed"] for run in mining["runs"])  # the tick is measured on the real indexes
    assert [r["history"] for r in mining["runs"]] == [HISTORY // 10, HISTORY]
    for run in mining["runs"]:
        check = run["check"]
        assert check["differ"] == 0 and check["unnormalized"] == 0
        assert check["same"] == check["signatures"] == check["seed_rows"] > 0
        assert check["hits_30d"] == run["history"] + TICK_EVENTS
        assert check["new_with_unseen_fp"] == 0  # the tick's SQL normalizer agrees with the Python one
        assert set(run["tick"]["steps"]) == set(mining_bench.STEP_ORDER)
        # the new events came normalized from ingest: the tick rewrites no row, it adds their counts
        assert run["tick"]["metadata"]["normalized_errors"]["normalized"] == 0
        assert run["tick"]["metadata"]["normalized_errors"]["fingerprints"] > 0
        assert run["tick"]["tags"]  # the schedule's partition range
        assert run["proposals"] > 0 and run["check"]["candidates"] > 0
        assert run["speedup"] > 0 and run["tick_peak_rss_mb"] > 0
        # each repeat starts from the same state, so each tick counts the same new events' fingerprints
        assert len(run["tick_seconds_each"]) == 2 and len(set(run["tick_fingerprints_each"])) == 1
    # the smallest history's tick again on dagster-postgres's own storage: the same work, counted again
    stock = mining["runs"][0]["stock_storage_tick"]
    assert set(stock["steps"]) == set(mining_bench.STEP_ORDER)
    assert stock["metadata"]["normalized_errors"]["fingerprints"] > 0
    assert "stock_storage_tick" not in mining["runs"][-1]
    backfill = mining["backfill"]  # the stale rows of the backfill's days, each re-normalized once
    assert backfill["rows"] > 0 and backfill["normalized_each"] == [backfill["rows"]] * 2


def test_report_renders_tables_targets_and_plot(results, tmp_path):
    text = suite.render(results, "python -m benchmarks --events 3000")
    for heading in ("## Targets", "## Normalize + fingerprint", "## Ingest", "### The idempotency key", "## Mining"):
        assert heading in text
    assert "`python -m benchmarks --events 3000`" in text
    assert len(suite.targets(results)) == 11
    assert suite.plot(results, tmp_path / "benchmarks.png")
    assert (tmp_path / "benchmarks.png").stat().st_size > 10_000


def _nothing() -> None:
    return None


def test_a_child_reports_its_own_peak_memory_not_its_parents():
    ballast = bytearray(400 << 20)  # the parent's memory, touched page by page so it is resident
    for at in range(0, len(ballast), 4096):
        ballast[at] = 1
    _, _, child_mb = common.in_child(_nothing)
    assert common.peak_rss_mb() >= 400
    assert child_mb < 200  # a fresh interpreter that does nothing
