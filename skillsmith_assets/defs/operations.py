"""Operations: alerts on failed runs and failing checks, freshness of raw_errors, the metrics asset.

Thin wiring over ``skillsmith_assets.ops.alerts`` (message, scrubbing, delivery) and
``skillsmith_assets.ops.metrics`` (the six metrics). Choices, and why:

- **One alert per failed run, on its last attempt.** With run retries enabled
  (``deploy/dagster.yaml``), Dagster tags a failed run ``dagster/will_retry=true``
  when the retry daemon is going to re-execute it, and the retry is a new run (tags
  ``dagster/parent_run_id``, ``dagster/retry_number``). The sensor skips runs that
  will be retried and alerts on the run no retry follows, saying how many retries
  came before: a failure a retry fixes needs nobody, and a run that keeps failing
  alerts once, with the error of its last attempt, not once per attempt. (Should
  the daemon then fail to launch the retry, it notes that on the run and no alert
  follows: the price of not alerting every attempt.)
- **Failing ERROR checks alert the same way.** A *blocking* check failing with ERROR
  severity fails its step and so its run: the run-failure alert names the check and
  its description. A non-blocking ERROR check (the freshness check) leaves the run
  successful, so a second sensor watches successful runs for failed ERROR checks.
  Each run therefore yields at most one alert.
- **Delivery failures are loud.** A run-status sensor's cursor advances even when its
  body raises, so there is no second chance: the alert is sent (with one plain-text
  retry in ``alerts.post_alert``) and a final failure raises, turning the tick red
  with the reason, instead of being logged and forgotten.
- **No webhook, no failure.** The URL is read when the sensor runs (``dg.EnvVar``'s
  ``get_value``), not bound as required config: binding a missing variable would make
  every tick an error, while an unconfigured alert channel is a choice, shown as a
  skip reason.
"""

from datetime import datetime, timezone

import dagster as dg

from skillsmith_assets.ops import alerts, metrics
from skillsmith_assets import paths
from skillsmith_assets.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from skillsmith_assets.defs.resources import ErrorStore

GROUP = "operations"
WEBHOOK_ENV = "SKILLSMITH_ALERT_WEBHOOK_URL"
DAGSTER_URL_ENV = "SKILLSMITH_DAGSTER_URL"
FORMAT_ENV = "SKILLSMITH_ALERT_FORMAT"
FRESHNESS_ENV = "SKILLSMITH_FRESHNESS_HOURS"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
DEFAULT_FRESHNESS_HOURS = 24.0

WILL_RETRY_TAG = "dagster/will_retry"
RETRY_NUMBER_TAG = "dagster/retry_number"
PARTITION_TAG = "dagster/partition"


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts go: a Slack-compatible incoming webhook (Teams and generic JSON too).

    Empty fields fall back, when used, to ``SKILLSMITH_ALERT_WEBHOOK_URL``,
    ``SKILLSMITH_DAGSTER_URL`` (the UI's address for run links, default
    http://127.0.0.1:3000) and ``SKILLSMITH_ALERT_FORMAT`` (auto, slack, teams, json).
    """

    webhook_url: str = ""
    dagster_url: str = ""
    format: str = ""
    timeout_seconds: float = 10.0

    def url(self) -> str:
        return (self.webhook_url or dg.EnvVar(WEBHOOK_ENV).get_value("") or "").strip()

    def run_url(self, run_id: str) -> str:
        base = self.dagster_url or dg.EnvVar(DAGSTER_URL_ENV).get_value("") or DEFAULT_DAGSTER_URL
        return f"{base.strip().rstrip('/')}/runs/{run_id}"

    def send(self, alert: alerts.Alert) -> alerts.Delivery:
        """Post the alert; raises ``AlertDeliveryError`` when the plain-text retry fails too."""
        fmt = self.format or dg.EnvVar(FORMAT_ENV).get_value("") or "auto"
        return alerts.post_alert(self.url(), alert, fmt=fmt, timeout=self.timeout_seconds)


def _not_configured(what: str) -> dg.SkipReason:
    return dg.SkipReason(f"{WEBHOOK_ENV} is not set: {what} was not alerted. Set it to a Slack-compatible webhook URL.")


def _partition(run: dg.DagsterRun) -> str | None:
    if run.tags.get(PARTITION_TAG):
        return run.tags[PARTITION_TAG]
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start} … {end}"
    return None


def user_error(error):
    """The user's error inside Dagster's wrappers (a SerializableErrorInfo), or None."""
    root = error
    while root is not None and root.cause is not None and (root.cls_name or "").startswith("Dagster"):
        root = root.cause
    return root


def _error_text(error) -> str:
    """The user's error with its own stack and causes; Dagster's wrapper adds only framework frames."""
    root = user_error(error)
    return root.to_string().strip() if root is not None else ""


def _failed_checks(records) -> list[str]:
    found = []
    for record in records:
        event = record.dagster_event
        if event is None or event.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        if evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        label = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name} (ERROR"
        label += ", blocking)" if evaluation.blocking else ")"
        if evaluation.description:
            label += f" — {evaluation.description}"
        found.append(label)
    return found


def run_failure_alert(instance: dg.DagsterInstance, run: dg.DagsterRun, failure_event, run_url: str) -> alerts.Alert:
    """What failed in ``run``: job, failed asset(s) and step, failed checks, the first error."""
    interesting = {
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    records = instance.all_logs(run.run_id, of_type=interesting)
    step_failures = [r.dagster_event for r in records if r.dagster_event and r.dagster_event.is_step_failure]
    failed_steps = [e.step_key for e in step_failures]
    assets: list[str] = []
    for record in records:
        event = record.dagster_event
        if event is None or event.step_key not in failed_steps:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            name = event.asset_key.to_user_string()
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            name = event.event_specific_data.asset_key.to_user_string()
        else:
            continue
        if name not in assets:
            assets.append(name)
    if step_failures:
        error = _error_text(step_failures[0].step_failure_data.error)
    else:  # the run failed outside any step (resources, run worker, code location)
        data = getattr(failure_event, "event_specific_data", None) if failure_event else None
        error = _error_text(getattr(data, "error", None)) or (failure_event.message if failure_event else "")
    retries = int(run.tags.get(RETRY_NUMBER_TAG) or 0)
    return alerts.Alert(
        title=f"Skillsmith run failed: {run.job_name}",
        job=run.job_name,
        run_id=run.run_id,
        run_url=run_url,
        assets=assets,
        step=", ".join(failed_steps) or None,
        partition=_partition(run),
        checks=_failed_checks(records),
        error=error,
        note=f"failed after {retries} automatic {'retry' if retries == 1 else 'retries'}" if retries else None,
        kind="run_failure",
    )


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts one alert per failed run (its last attempt) to SKILLSMITH_ALERT_WEBHOOK_URL.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook):
    """Every job of this code location; skips runs that Dagster will retry (see the module doc)."""
    run = context.dagster_run
    if not alert_webhook.url():
        return _not_configured(f"failed run {run.run_id} of {run.job_name}")
    if run.tags.get(WILL_RETRY_TAG, "").lower() == "true":
        return dg.SkipReason(f"run {run.run_id} of {run.job_name} will be retried: alerting on its last attempt only")
    alert = run_failure_alert(context.instance, run, context.failure_event, alert_webhook.run_url(run.run_id))
    delivery = alert_webhook.send(alert)  # raises: the tick shows red, never swallowed
    context.log.info(f"alerted failed run {run.run_id} ({delivery.format}, attempt {delivery.attempts})")
    return None


@dg.run_status_sensor(
    name="alert_on_failed_checks",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts on ERROR-severity checks that failed in runs that still succeeded (non-blocking checks).",
)
def alert_on_failed_checks(context: dg.RunStatusSensorContext, alert_webhook: AlertWebhook):
    """Failed runs are the other sensor's: their alert lists their failed checks."""
    run = context.dagster_run
    records = context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    failed = _failed_checks(records)
    if not failed:
        return None
    if not alert_webhook.url():
        return _not_configured(f"{len(failed)} failed check(s) in run {run.run_id}")
    first = next(
        r.dagster_event.event_specific_data
        for r in records
        if not r.dagster_event.event_specific_data.passed
        and r.dagster_event.event_specific_data.severity == dg.AssetCheckSeverity.ERROR
    )
    assets = []
    for r in records:
        evaluation = r.dagster_event.event_specific_data
        name = evaluation.asset_key.to_user_string()
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR and name not in assets:
            assets.append(name)
    alert = alerts.Alert(
        title=f"Skillsmith check failed: {first.asset_key.to_user_string()}:{first.check_name}"
        + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""),
        job=run.job_name,
        run_id=run.run_id,
        run_url=alert_webhook.run_url(run.run_id),
        assets=assets,
        partition=_partition(run),
        checks=failed,
        error=first.description or "",
        kind="check_failure",
    )
    delivery = alert_webhook.send(alert)
    context.log.info(f"alerted {len(failed)} failed check(s) of run {run.run_id} ({delivery.format})")
    return None


class FreshnessConfig(dg.Config):
    """Hours without a new error that count as stale; empty: SKILLSMITH_FRESHNESS_HOURS, else 24."""

    max_quiet_hours: float | None = None


def _max_quiet_hours(config: FreshnessConfig) -> float:
    if config.max_quiet_hours is not None:
        return float(config.max_quiet_hours)
    raw = dg.EnvVar(FRESHNESS_ENV).get_value("")
    return float(raw) if raw else DEFAULT_FRESHNESS_HOURS


@dg.asset_check(
    asset="raw_errors",
    name="raw_errors_freshness",
    blocking=False,
    description="Fails (ERROR) when no new error arrived in agent_errors for max_quiet_hours: usually a broken collector.",
)
def raw_errors_freshness(config: FreshnessConfig, error_store: ErrorStore) -> dg.AssetCheckResult:
    """Judged on the whole table, not the run's partitions: a backfill of old days says nothing about today.

    Non-blocking: a quiet collector is no reason to stop mining the errors already stored.
    """
    limit = _max_quiet_hours(config)
    now = datetime.now(timezone.utc)
    with error_store.connection() as conn:
        last = metrics.last_error_at(conn)
    if last is None:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description="agent_errors holds no error at all: is the collector sending?",
            metadata={"max_quiet_hours": limit},
        )
    quiet = (now - last).total_seconds() / 3600
    passed = quiet <= limit
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"last error {quiet:.1f} h ago (limit {limit:g} h)"
            if passed
            else f"no new error for {quiet:.1f} h (limit {limit:g} h): check the collector and SKILLSMITH_INBOX"
        ),
        metadata={
            "hours_since_last_error": round(quiet, 3),
            "max_quiet_hours": limit,
            "last_error_at": dg.MetadataValue.timestamp(last),
        },
    )


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "python"},
)
def skillsmith_metrics(context: dg.AssetExecutionContext, error_store: ErrorStore) -> dg.MaterializeResult:
    """The six monitoring metrics (error volume, pattern diversity, proposals per week,
    approval rate, errors prevented, fix rate), defined in ``skillsmith_assets.ops.metrics``.

    Numeric metadata under stable keys so the UI plots each one over time.
    """
    with error_store.connection() as conn:
        values = metrics.compute(conn, skills_root=paths.skills_dir())
    rows = "\n".join(
        f"| `{key}` | {metrics.format_value(key, values[key])} | {metrics.DESCRIPTIONS[key]} |" for key in values
    )
    metadata: dict = {key: dg.MetadataValue.float(float(value)) for key, value in values.items()}
    metadata["summary"] = dg.MetadataValue.md("| metric | value | meaning |\n|---|---:|---|\n" + rows)
    return dg.MaterializeResult(metadata=metadata)


metrics_job = dg.define_asset_job(
    "metrics_job", selection=dg.AssetSelection.assets(skillsmith_metrics), description="Recompute the monitoring metrics."
)

metrics_hourly = dg.ScheduleDefinition(
    name="metrics_hourly",
    job=metrics_job,
    cron_schedule="15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(
    assets=[skillsmith_metrics],
    asset_checks=[raw_errors_freshness],
    jobs=[metrics_job],
    schedules=[metrics_hourly],
    sensors=[alert_on_run_failure, alert_on_failed_checks],
    resources={"alert_webhook": AlertWebhook()},
)
