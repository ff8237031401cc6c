"""The mining lineage: raw_errors → normalized_errors → error_signatures → error_candidates → skill_proposals.

Thin wiring over ``skillsmith_assets.mining.steps``. The daily assets take a partition
*range* in one run (single-run backfill policy), so a backfill of a month is one
run, and the 6-hourly tick is one run over yesterday and today plus everything
downstream.
"""

import time
from datetime import datetime, timedelta, timezone

import dagster as dg

from skillsmith_assets.mining import steps as mining, rollup
from skillsmith_assets.intake.inbox import inbox_dir
from skillsmith_assets.skills.schema import validate_skill
from skillsmith_assets.skills.catalog import read_skill_files
from skillsmith_assets.defs.partitions import daily_partitions, window_tags
from skillsmith_assets.defs.resources import ErrorStore

GROUP = "mining"


def _md_table(rows: list[dict], columns: list[str]) -> dg.MarkdownMetadataValue:
    def cell(value) -> str:
        text = " ".join(str(value).split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        return text[:120]

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines) if rows else "_none_")


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    kinds={"postgres"},
)
def raw_errors(context: dg.AssetExecutionContext, error_store: ErrorStore) -> dg.MaterializeResult:
    """The day's slice of agent_errors; also loads the day's archived files from SKILLSMITH_INBOX (idempotently)."""
    start, end = context.partition_time_window
    report = mining.load_raw(error_store.connection, start, end, inbox_dir(), today=datetime.now(timezone.utc).date())
    for line in report.rejected[:50]:
        context.log.warning(f"rejected {line}")
    return dg.MaterializeResult(metadata={
        "events": report.events,
        "loaded": report.loaded,
        "already_present": report.duplicates,
        "rejected": len(report.rejected),
        "files": len(report.files),
    })


@dg.asset(
    deps=[raw_errors],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    kinds={"postgres", "python"},
)
def normalized_errors(context: dg.AssetExecutionContext, error_store: ErrorStore) -> dg.MaterializeResult:
    """Fills norm_error, kind and fingerprint for the days' rows that lack them or were made by an
    older normalizer version (a backfill after a rules change), a day at a time, then adds every
    pending count delta into the daily counts."""
    start, end = context.partition_time_window
    began = time.perf_counter()
    normalized, fingerprints = mining.normalize_window(error_store.connection, start, end)
    seconds = time.perf_counter() - began
    return dg.MaterializeResult(metadata={
        "normalized": normalized,
        "fingerprints": fingerprints,
        "days": len(mining.days_between(start, end)),
        "rows_per_second": round(normalized / seconds) if normalized else 0,
    })


@dg.asset_check(asset=normalized_errors, partitions_def=daily_partitions, blocking=True)
def every_row_fingerprinted(context: dg.AssetCheckExecutionContext, error_store: ErrorStore) -> dg.AssetCheckResult:
    """No row of a materialized day is left without a fingerprint."""
    start, end = context.op_execution_context.partition_time_window
    with error_store.connection() as conn:
        missing = mining.unnormalized_rows(conn, start, end)
    return dg.AssetCheckResult(passed=missing == 0, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"rows_without_fingerprint": missing})


@dg.asset(deps=[normalized_errors], group_name=GROUP, kinds={"postgres", "python"})
def error_signatures(error_store: ErrorStore) -> dg.MaterializeResult:
    """7- and 30-day hits, first/last seen, tags and trend per fingerprint, rolled up from the daily
    counts; fingerprints that differ only in high-cardinality tokens are merged into patterns."""
    with error_store.connection() as conn:
        signatures, patterns = mining.build_signatures(conn, datetime.now(timezone.utc))
    return dg.MaterializeResult(metadata={"signatures": signatures, "patterns": patterns})


class CandidateConfig(dg.Config):
    """Thresholds of a mining run (set in the launchpad or `skillsmith mine`)."""

    min_hits: int = rollup.CandidateRules.min_hits
    top_n: int = rollup.CandidateRules.top_n
    weight_7d: float = rollup.CandidateRules.weight_7d
    weight_30d: float = rollup.CandidateRules.weight_30d


@dg.asset(deps=[error_signatures], group_name=GROUP, kinds={"postgres"})
def error_candidates(context: dg.AssetExecutionContext, config: CandidateConfig,
                     error_store: ErrorStore) -> dg.MaterializeResult:
    """Patterns ranked by impact (hits_7d*w7 + hits_30d*w30) with at least min_hits in 7 days, the
    top_n kept, minus patterns a skill already covers (approved, proposed or rejected)."""
    rules = rollup.CandidateRules(config.min_hits, config.top_n, config.weight_7d, config.weight_30d)
    with error_store.connection() as conn:
        count, unreadable = mining.build_candidates(conn, rules)
        top = rollup.top_candidates(conn, limit=10)
    for path in unreadable:
        context.log.warning(f"skill file {path} is not valid YAML; its pattern is not excluded")
    return dg.MaterializeResult(metadata={
        "candidates": count,
        "top_impact_score": float(top[0]["impact_score"]) if top else 0.0,
        "top_candidates": _md_table(top, ["rank", "kind", "component", "norm_msg", "hits_7d", "hits_30d", "impact_score"]),
    })


@dg.asset(deps=[error_candidates], group_name=GROUP, kinds={"yaml"})
def skill_proposals(context: dg.AssetExecutionContext, error_store: ErrorStore) -> dg.MaterializeResult:
    """One YAML file per candidate in skills/proposed/, validated before it is written."""
    with error_store.connection() as conn:
        report = mining.build_proposals(conn)
    for fp, reason in report.skipped:
        context.log.warning(f"no proposal for {fp}: {reason}")
    rows = [{"id": d["id"], "kind": d["kind"], "component": d["match"].get("component"),
             "hits_7d": d["metadata"]["hits_7d"], "impact_score": d["metadata"]["impact_score"]} for d in report.docs]
    return dg.MaterializeResult(metadata={
        "proposals": len(report.files),
        "written": len(report.written),
        "unchanged": len(report.unchanged),
        "skipped": len(report.skipped),
        "proposal_files": _md_table(rows, ["id", "kind", "component", "hits_7d", "impact_score"]),
    })


@dg.asset_check(asset=skill_proposals)
def proposals_are_valid() -> dg.AssetCheckResult:
    """Every file in skills/proposed/ parses and validates against the skill schema."""
    from skillsmith_assets.paths import proposed_dir

    problems = []
    for path, doc, problem in read_skill_files(proposed_dir()):
        errors = [problem] if problem else validate_skill(doc, expected_status="proposed")
        problems += [f"{path.name}: {e}" for e in errors]
    return dg.AssetCheckResult(passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"invalid": len(problems), "problems": dg.MetadataValue.md(
                                   "\n".join(f"- {p}" for p in problems[:50]) or "_none_")})


MINING_ASSETS = [raw_errors, normalized_errors, error_signatures, error_candidates, skill_proposals]

mining_job = dg.define_asset_job(
    "mining_job",
    selection=dg.AssetSelection.assets(*MINING_ASSETS),
    partitions_def=daily_partitions,
    description="Load, normalize, roll up, rank and propose: the whole lineage for a range of days.",
)


@dg.schedule(
    cron_schedule="0 */6 * * *",
    job=mining_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def mining_every_6_hours(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Today's and yesterday's partitions (late events), then everything downstream: one run per tick."""
    when = context.scheduled_execution_time or datetime.now(timezone.utc)
    today = when.astimezone(timezone.utc).date()
    yesterday = today - timedelta(days=1)
    return dg.RunRequest(
        run_key=f"mining-{when.astimezone(timezone.utc):%Y-%m-%dT%H:%M}",
        tags=window_tags(yesterday.isoformat(), today.isoformat()),
    )


defs = dg.Definitions(
    assets=MINING_ASSETS,
    asset_checks=[every_row_fingerprinted, proposals_are_valid],
    jobs=[mining_job],
    schedules=[mining_every_6_hours],
)
