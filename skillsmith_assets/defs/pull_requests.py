"""New proposal files -> a run that opens or updates the pull request (``github_pr`` does the work).

The sensor only reads: it notices a new ``skill_proposals`` materialization and
requests a run keyed on the digest of the proposal files, so the same proposals
never cause two runs and new ones always do. The GitHub writes happen in the run,
so a failure is a failed run, visible and retryable, in a pool of its own.
"""

import json
from typing import Optional

import dagster as dg

from skillsmith_assets.github import pull_request as github_pr
from skillsmith_assets.github.client import GitHubPullRequestError, GitHubSettings, GitHubSetupError

PROPOSALS_ASSET = dg.AssetKey("skill_proposals")
POOL = "github_pull_requests"
DIGEST_TAG = "skillsmith/proposal_digest"
ENV_NAMES = (
    "GITHUB_TOKEN",
    "SKILLSMITH_GITHUB_REPO",
    "GITHUB_API_URL",
    "SKILLSMITH_GITHUB_BASE",
    "SKILLSMITH_GITHUB_LABELS",
    "SKILLSMITH_GITHUB_MAX_PRS_PER_DAY",
    "SKILLSMITH_GITHUB_APP_ID",
    "SKILLSMITH_GITHUB_APP_PRIVATE_KEY",
    "SKILLSMITH_GITHUB_APP_INSTALLATION_ID",
    "SKILLSMITH_GITHUB_WRITE_INTERVAL",
)


class GitHubPullRequests(dg.ConfigurableResource):
    """Where the proposals' pull request goes. A field left unset falls back to its environment
    variable (read through ``dg.EnvVar`` when used, never at import), so a missing token
    makes the sensor skip with a reason instead of failing to load the code location."""

    token: Optional[str] = None
    repo: Optional[str] = None
    api_url: Optional[str] = None
    base_branch: Optional[str] = None
    labels: Optional[list[str]] = None
    max_prs_per_day: Optional[int] = None
    app_id: Optional[str] = None
    app_private_key: Optional[str] = None
    app_installation_id: Optional[str] = None
    backoff_base: float = 2.0
    max_attempts: int = 5
    max_wait: float = 120.0
    seconds_between_writes: float = 1.0

    def settings(self) -> GitHubSettings:
        env = {name: value for name in ENV_NAMES if (value := dg.EnvVar(name).get_value()) is not None}
        explicit = {
            key: value
            for key, value in (
                ("token", self.token),
                ("repo", self.repo),
                ("api_url", self.api_url),
                ("base_branch", self.base_branch),
                ("labels", tuple(self.labels) if self.labels is not None else None),
                ("max_prs_per_day", self.max_prs_per_day),
                ("app_id", self.app_id),
                ("app_private_key", self.app_private_key),
                ("app_installation_id", self.app_installation_id),
            )
            if value is not None
        }
        return GitHubSettings.from_env(
            env,
            backoff_base=self.backoff_base,
            max_attempts=self.max_attempts,
            max_wait=self.max_wait,
            seconds_between_writes=self.seconds_between_writes,
            **explicit,
        )


class PullRequestConfig(dg.Config):
    digest: str = ""  # the proposal digest the sensor saw; the run proposes the files present when it runs


@dg.op(
    pool=POOL,
    retry_policy=dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
)
def pull_request(context: dg.OpExecutionContext, config: PullRequestConfig, github: GitHubPullRequests) -> dg.Output:
    """Open or update the proposals' pull request. Wrong settings and secret-scanning
    refusals fail without retries; GitHub's transient errors retry with backoff."""
    proposals = github_pr.load_proposals(log=context.log.warning)
    if config.digest and github_pr.batch_digest(proposals) != config.digest:
        context.log.info("the proposal files changed since the sensor saw them; proposing the current ones")
    try:
        outcome = github_pr.sync_pull_request(github.settings(), proposals, log=context.log.info)
    except GitHubPullRequestError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    context.log.info(outcome.reason)
    metadata = {
        "action": outcome.action,
        "reason": outcome.reason,
        "branch": outcome.branch,
        "proposals": len(outcome.proposal_ids),
    }
    if outcome.pr_url:
        metadata["pull_request"] = dg.MetadataValue.url(outcome.pr_url)
    return dg.Output(outcome.action, metadata=metadata)


@dg.job(description="Open or update the pull request proposing the current skill files.")
def pull_request_job():
    pull_request()


_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    job=pull_request_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="New or changed proposal files after skill_proposals materializes -> a pull-request run.",
)
def proposals_pull_request_sensor(context: dg.SensorEvaluationContext, github: GitHubPullRequests):
    """Reads only. The cursor holds the last materialization handled and the digest last
    requested; it does not move while settings are missing or a run is active, so
    nothing is lost, only delayed."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    latest = context.instance.fetch_materializations(PROPOSALS_ASSET, limit=1).records
    if not latest:
        return dg.SkipReason("skill_proposals has not been materialized yet")
    storage_id = latest[0].storage_id
    if storage_id <= cursor.get("storage_id", -1):
        return dg.SkipReason("no new skill_proposals materialization")
    try:
        missing = github.settings().missing()
    except GitHubSetupError as exc:
        missing = str(exc)
    if missing:
        return dg.SkipReason(missing)
    active = context.instance.get_run_records(dg.RunsFilter(job_name=pull_request_job.name, statuses=_ACTIVE), limit=1)
    if active:
        return dg.SkipReason(f"a pull-request run is still in progress ({active[0].dagster_run.run_id}); waiting for it")
    proposals = github_pr.load_proposals(log=context.log.warning)
    if not proposals:
        context.update_cursor(json.dumps({**cursor, "storage_id": storage_id}))
        return dg.SkipReason("no proposal files in skills/proposed/")
    digest = github_pr.batch_digest(proposals)
    context.update_cursor(json.dumps({"storage_id": storage_id, "digest": digest}))
    if digest == cursor.get("digest"):
        return dg.SkipReason("the proposal files are unchanged since the last pull-request run")
    return dg.RunRequest(
        run_key=digest,
        run_config=dg.RunConfig(ops={"pull_request": PullRequestConfig(digest=digest)}),
        tags={DIGEST_TAG: digest},
    )


defs = dg.Definitions(
    jobs=[pull_request_job],
    sensors=[proposals_pull_request_sensor],
    resources={"github": GitHubPullRequests()},
)
