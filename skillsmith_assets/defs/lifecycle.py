"""Deploy and learn in the graph: the compiled skill registry and each skill's confidence.

Thin wiring over ``registry`` (the same code as ``skillsmith retrain``) and
``confidence`` (the same statistic the metrics use), so the UI shows what is
deployed and how far each skill is trusted, plotted over time.
"""

import dagster as dg

from skillsmith_assets.skills import confidence, registry
from skillsmith_assets.defs.resources import ErrorStore

GROUP = "skills"


def _md_escape(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dg.asset(group_name=GROUP, kinds={"yaml", "json"})
def skill_registry(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Approved skills in ``skills/``, validated and compiled into ``skills/registry.json``.

    Runs what ``make retrain`` runs. Any invalid skill fails the materialization
    and leaves the previous registry deployed, so agents never load a broken skill.
    """
    result = registry.retrain()
    for warning in result.warnings:
        context.log.warning(warning)
    if not result.ok:
        raise dg.Failure(
            description=f"{len(result.problems)} problem(s) in skills/; the previous registry stays deployed",
            metadata={"problems": dg.MetadataValue.md("\n".join(f"- {_md_escape(p)}" for p in result.problems))},
        )
    rows = ["| id | kind | component | message_regex | action |", "|---|---|---|---|---|"]
    for s in result.skills:
        action = s["action"].get("message") if s["kind"] == "guardrail" else (
            f"{s['action'].get('script')} ({'dry run' if s['action'].get('dry_run', True) else 'live'})")
        rows.append(f"| {s['id']} | {s['kind']} | {_md_escape(s['component'] or '*')} | "
                    f"`{_md_escape(s['message_regex'])}` | {_md_escape(action)} |")
    preview = "\n".join(rows) if result.skills else "_No approved skills._"
    return dg.MaterializeResult(
        metadata={
            **{key: dg.MetadataValue.int(value) for key, value in result.counts().items()},
            "warnings": dg.MetadataValue.int(len(result.warnings)),
            "path": dg.MetadataValue.path(str(registry.registry_path())),
            "preview": dg.MetadataValue.md(preview),
        }
    )


class SkillConfidenceConfig(dg.Config):
    threshold: float = confidence.DEFAULT_THRESHOLD
    """Skills whose confidence (Wilson 95 % lower bound) falls below this are flagged for retirement."""
    min_outcomes: int = confidence.DEFAULT_MIN_OUTCOMES
    """Judged uses (successes + failures) needed before a skill can be flagged."""


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "python"},
    deps=[skill_registry],
    check_specs=[dg.AssetCheckSpec("no_skill_below_threshold", asset="skill_confidence",
                                   description="No deployed skill is flagged for retirement.")],
)
def skill_confidence(config: SkillConfidenceConfig, error_store: ErrorStore) -> dg.MaterializeResult:
    """Confidence per skill from the outcomes the runtime records in ``skill_outcomes``.

    Confidence is the Wilson score lower bound at 95 % of the success rate (prevented
    for guardrails, fixed for fixers; false positives and failed fixes count against),
    so a few lucky runs do not make a skill trusted. Skills below the threshold after
    enough uses are flagged for retirement (a WARN check); nothing is retired automatically.
    """
    deployed = [s["id"] for s in _deployed_skills()]
    with error_store.connection() as conn:
        scores = confidence.skill_confidences(conn, deployed, config.threshold, config.min_outcomes)
        metrics = confidence.outcome_metrics(conn)
        recent = confidence.outcome_metrics(conn, days=7)
        month = confidence.outcome_metrics(conn, days=30)  # the window of the fix_rate_30d metric
    flagged = [s for s in scores if s.flagged]
    rows = ["| skill | kind | successes | failures | dry runs | confidence | flagged |", "|---|---|---|---|---|---|---|"]
    for s in scores:
        rows.append(f"| {s.skill_id} | {s.kind} | {s.successes} | {s.failures} | {s.dry_runs} | "
                    f"{s.confidence:.3f} | {'retire?' if s.flagged else ''} |")
    judged = [s for s in scores if s.trials]
    return dg.MaterializeResult(
        metadata={
            "skills_scored": dg.MetadataValue.int(len(scores)),
            "skills_flagged": dg.MetadataValue.int(len(flagged)),
            "skills_without_outcomes": dg.MetadataValue.int(sum(1 for s in scores if not s.trials and not s.dry_runs)),
            "mean_confidence": dg.MetadataValue.float(
                sum(s.confidence for s in judged) / len(judged) if judged else 0.0),
            "errors_prevented": dg.MetadataValue.int(metrics["errors_prevented"]),
            "errors_prevented_7d": dg.MetadataValue.int(recent["errors_prevented"]),
            "fix_rate": dg.MetadataValue.float(metrics["fix_rate"]),
            "fix_rate_30d": dg.MetadataValue.float(month["fix_rate"]),
            "fixes_applied": dg.MetadataValue.int(metrics["fixes_applied"]),
            "false_positives": dg.MetadataValue.int(metrics["false_positives"]),
            "statistic": dg.MetadataValue.text("Wilson score lower bound, 95% (z=1.96)"),
            "preview": dg.MetadataValue.md("\n".join(rows) if scores else "_No deployed skills and no outcomes yet._"),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="no_skill_below_threshold",
                passed=not flagged,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"flagged": dg.MetadataValue.text(", ".join(s.skill_id for s in flagged) or "none")},
            )
        ],
    )


def _deployed_skills() -> list[dict]:
    try:
        return registry.load()["skills"] if registry.registry_path().exists() else registry.build(strict=False).skills
    except ValueError:
        return registry.build(strict=False).skills


skills_job = dg.define_asset_job(
    "skills_job",
    selection=dg.AssetSelection.assets(skill_registry, skill_confidence),
    description="Redeploy the approved skills (registry) and relearn their confidence from outcomes.",
)

# Every 6 hours, half an hour after mining: a skill merged since the last run is deployed
# (or its problem alerts as a failed run), and confidence follows the latest outcomes.
skills_every_6_hours = dg.ScheduleDefinition(
    name="skills_every_6_hours",
    job=skills_job,
    cron_schedule="30 */6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


defs = dg.Definitions(
    assets=[skill_registry, skill_confidence],
    jobs=[skills_job],
    schedules=[skills_every_6_hours],
)
