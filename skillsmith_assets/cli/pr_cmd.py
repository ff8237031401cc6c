import click


@click.command("pr")
@click.option("--dry-run", is_flag=True, help="Print the branch, files and body; write nothing, need no token.")
def pr(dry_run):
    """Open or update the pull request for the current proposals (the code the sensor's run uses).

    Settings come from the environment: GITHUB_TOKEN (or SKILLSMITH_GITHUB_APP_ID,
    SKILLSMITH_GITHUB_APP_PRIVATE_KEY, SKILLSMITH_GITHUB_APP_INSTALLATION_ID),
    SKILLSMITH_GITHUB_REPO (owner/name), SKILLSMITH_GITHUB_BASE, GITHUB_API_URL,
    SKILLSMITH_GITHUB_LABELS, SKILLSMITH_GITHUB_MAX_PRS_PER_DAY.
    Exit status: 0 done (or nothing to do), 1 GitHub failed, 2 a setting is missing or wrong.
    """
    from skillsmith_assets.github import pull_request as github_pr
    from skillsmith_assets.github.client import (
        GitHubPullRequestError, GitHubSettings, GitHubSetupError, TransientGitHubError,
    )

    try:
        settings = GitHubSettings.from_env()
    except GitHubSetupError as exc:
        click.echo(f"skillsmith pr: {exc}", err=True)
        raise SystemExit(2)
    warn = lambda message: click.echo(f"skillsmith pr: {message}", err=True)  # noqa: E731
    proposals = github_pr.load_proposals(log=warn)
    if dry_run:
        if not proposals:
            click.echo("No proposal files in skills/proposed/: nothing to propose.")
            return
        outcome = github_pr.plan(proposals, settings)
        for message in outcome.log:
            warn(message)
        click.echo(f"branch: {outcome.branch}")
        click.echo(f"base: {settings.base_branch or '(the repository default branch; main assumed here)'}")
        click.echo(f"digest: {outcome.digest}")
        click.echo("files:")
        for path in outcome.files:
            click.echo(f"  {path}")
        click.echo("body:")
        click.echo(outcome.body)
        return
    try:
        outcome = github_pr.sync_pull_request(settings, proposals, log=warn)
    except GitHubSetupError as exc:
        click.echo(f"skillsmith pr: {exc}", err=True)
        raise SystemExit(2)
    except (GitHubPullRequestError, TransientGitHubError) as exc:
        click.echo(f"skillsmith pr: {exc}", err=True)
        raise SystemExit(1)
    click.echo(outcome.reason + (f": {outcome.pr_url}" if outcome.pr_url else ""))
