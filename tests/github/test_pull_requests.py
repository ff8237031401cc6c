"""The pull-request sensor and run, with the real PyGithub client over HTTP to a loopback GitHub API."""

from __future__ import annotations

import json
import re

import dagster as dg
import pytest
import yaml

from conftest import run_cli
from github_api_server import GitHubAPIServer
from skillsmith_assets.github import pull_request as github_pr
from skillsmith_assets.defs import pull_requests
from skillsmith_assets.github.client import (
    GitHubSettings, GitHubSetupError, SecretScanningBlocked, TransientGitHubError,
)
from skillsmith_assets.github.pr_body import (
    MAX_BODY_CHARS, Marker, render_body, ZWSP, credential_kinds, parse_marker, scrub,
)

BRANCH = "skillsmith/proposals-main"


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "skills" / "proposed").mkdir(parents=True)
    (root / "autopatches").mkdir()
    monkeypatch.setenv("SKILLSMITH_PROJECT_DIR", str(root))
    for name in pull_requests.ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def server():
    with GitHubAPIServer() as srv:
        yield srv


def make_settings(server, **overrides) -> GitHubSettings:
    values = dict(repo="acme/ops", token="test-token", api_url=server.url, backoff_base=0.001,
                  seconds_between_writes=0, max_wait=30, timeout=10)
    values.update(overrides)
    return GitHubSettings(**values)


def write_proposal(project, hex8: str, kind="guardrail", name=None, samples=None, component="odoo.addons.sale",
                   hits=(10, 25)):
    sid = ("GR-" if kind == "guardrail" else "FX-") + hex8.upper()
    fingerprint = f"{hex8.lower()}-0000-4000-8000-000000000000"
    action = (
        {"type": "block", "message": f"Prevented: {name or 'KeyError'}"}
        if kind == "guardrail"
        else {"type": "autopatch", "script": f"autopatches/fx-{hex8.lower()}.py", "dry_run": True}
    )
    doc = {
        "id": sid, "name": name or f"KeyError in sale.order ({hex8})", "kind": kind, "status": "proposed",
        "match": {"component": component, "message_regex": "KeyError.*partner_id", "fingerprint": fingerprint},
        "action": action,
        "metadata": {"hits_7d": hits[0], "hits_30d": hits[1], "impact_score": round(hits[0] * 0.7 + hits[1] * 0.3, 2),
                     "auto_generated": True, "first_seen": "2026-11-01T00:00:00Z", "last_seen": "2026-11-23T00:00:00Z",
                     "samples": samples or ["KeyError: 'partner_id'"], "pattern_size": 1, "pattern": hex8},
    }
    if kind == "fixer":
        (project / "autopatches" / f"fx-{hex8.lower()}.py").write_text("def apply(repo_dir: str) -> bool:\n    return False\n")
    (project / "skills" / "proposed" / f"{sid}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return sid


def sync(server, **overrides):
    return github_pr.sync_pull_request(make_settings(server, **overrides), sleep=lambda s: None)


def branch_files(server, branch=BRANCH):
    return server.fake.files_at(server.fake.refs[f"heads/{branch}"])


# --- opening, updating, leaving alone -------------------------------------------------


def test_first_batch_opens_one_pr_with_the_files_body_and_labels(project, server):
    a = write_proposal(project, "abcd1234")
    b = write_proposal(project, "0badc0de", kind="fixer")
    outcome = sync(server)

    assert outcome.action == "opened" and outcome.pr_number == 1
    fake = server.fake
    assert len(fake.pulls) == 1
    pr = fake.pulls[0]
    assert pr["head_ref"] == BRANCH and pr["base_ref"] == "main" and pr["state"] == "open"
    files = branch_files(server)
    assert set(files) == {"README.md", f"skills/proposed/{a}.yaml", f"skills/proposed/{b}.yaml", "autopatches/fx-0badc0de.py"}
    assert files[f"skills/proposed/{a}.yaml"] == (project / "skills" / "proposed" / f"{a}.yaml").read_bytes()
    # One bot commit directly on the base, made through the Git Data API.
    head = fake.commits[fake.refs[f"heads/{BRANCH}"]]
    assert head["parents"] == [fake.refs["heads/main"]]
    assert head["author"]["email"] == head["committer"]["email"] == "skillsmith-bot@users.noreply.github.com"
    paths = [(r.method, r.path) for r in fake.writes()]
    for endpoint in ("git/blobs", "git/trees", "git/commits", "git/refs", "pulls"):
        assert ("POST", f"/repos/acme/ops/{endpoint}") in paths
    assert not any("/contents/" in p for _, p in paths)
    # The body: summary, table, a collapsible section per proposal, review how-to, marker.
    body = pr["body"]
    assert body.startswith("Skillsmith proposes 2 skills (1 guardrail, 1 fixer)")
    assert "| id | kind | component | hits 7d / 30d | impact score |" in body
    assert f"| `{a}` | guardrail | odoo.addons.sale | 10 / 25 | 14.5 |" in body
    assert body.count("<details>") == 2 and "skillsmith approve" in body and "skillsmith reject" in body
    marker = parse_marker(body)
    assert marker.ids == (b, a) or set(marker.ids) == {a, b}
    assert marker.digest == github_pr.batch_digest(github_pr.load_proposals(project))
    assert marker.head == fake.refs[f"heads/{BRANCH}"]
    # Labels were missing: created, then put on the PR.
    assert set(fake.labels) == {"skillsmith", "skills"} and pr["labels"] == ["skillsmith", "skills"]


def test_second_batch_updates_the_same_pr_on_the_current_base(project, server):
    a = write_proposal(project, "abcd1234")
    assert sync(server).action == "opened"
    fake = server.fake
    new_base = fake.human_push("main", "CHANGELOG.md", b"moved on\n")
    b = write_proposal(project, "12345678", name="ValueError in stock.move")

    outcome = sync(server)
    assert outcome.action == "updated" and outcome.pr_number == 1
    assert len(fake.pulls) == 1 and fake.pulls[0]["state"] == "open"
    files = branch_files(server)
    assert {f"skills/proposed/{a}.yaml", f"skills/proposed/{b}.yaml", "CHANGELOG.md"} <= set(files)
    head = fake.commits[fake.refs[f"heads/{BRANCH}"]]
    assert head["parents"] == [new_base]
    assert b in fake.pulls[0]["body"] and parse_marker(fake.pulls[0]["body"]).head == fake.refs[f"heads/{BRANCH}"]


def test_the_same_batch_again_writes_nothing(project, server):
    write_proposal(project, "abcd1234")
    sync(server)
    writes = len(server.fake.writes())
    outcome = sync(server)
    assert outcome.action == "unchanged"
    assert len(server.fake.writes()) == writes


def test_a_closed_pr_is_not_reopened_and_new_proposals_get_a_new_pr(project, server):
    a = write_proposal(project, "abcd1234")
    sync(server)
    fake = server.fake
    fake.pulls[0]["state"] = "closed"  # a person closed it without merging
    writes = len(fake.writes())

    outcome = sync(server)
    assert outcome.action == "skipped" and "closed" in outcome.reason
    assert len(fake.writes()) == writes and fake.pulls[0]["state"] == "closed"

    b = write_proposal(project, "12345678")
    outcome = sync(server)
    assert outcome.action == "opened" and outcome.pr_number == 2
    assert parse_marker(fake.pulls[1]["body"]).ids == (b,)
    assert f"skills/proposed/{a}.yaml" not in branch_files(server)
    assert fake.pulls[0]["state"] == "closed"
    assert not any(r.method == "PATCH" and r.path.endswith("/pulls/1") for r in fake.requests)


def test_a_person_pushing_to_the_branch_stops_updates_with_one_comment(project, server):
    write_proposal(project, "abcd1234")
    sync(server)
    fake = server.fake
    human = fake.human_push(BRANCH)
    write_proposal(project, "12345678")

    for _ in range(2):
        outcome = sync(server)
        assert outcome.action == "left-alone"
    assert fake.refs[f"heads/{BRANCH}"] == human
    assert len(fake.comments[1]) == 1 and "will not update" in fake.comments[1][0]["body"]
    assert "12345678" not in fake.pulls[0]["body"]


def test_proposals_merged_into_the_base_are_not_proposed_again(project, server):
    write_proposal(project, "abcd1234")
    sync(server)
    server.fake.merge_to_base(1)
    outcome = sync(server)
    assert outcome.action == "unchanged" and len(server.fake.pulls) == 1


def test_a_cap_on_prs_opened_per_day(project, server):
    write_proposal(project, "abcd1234")
    sync(server, max_prs_per_day=1)
    server.fake.pulls[0]["state"] = "closed"
    write_proposal(project, "12345678")
    outcome = sync(server, max_prs_per_day=1)
    assert outcome.action == "skipped" and "SKILLSMITH_GITHUB_MAX_PRS_PER_DAY" in outcome.reason
    assert len(server.fake.pulls) == 1


# --- failures ---------------------------------------------------------------------


def test_5xx_is_retried_and_a_post_that_went_through_is_not_repeated(project, server):
    write_proposal(project, "abcd1234")
    fake = server.fake
    fake.fail_next("POST", r"/git/blobs$", 502)
    fake.fail_next("POST", r"/git/refs$", 500, after=True)
    fake.fail_next("POST", r"/pulls$", 502, after=True)
    fake.fail_next("GET", r"/pulls$", 503, times=2)

    outcome = sync(server)
    assert outcome.action == "opened" and outcome.pr_number == 1
    assert len(fake.pulls) == 1
    posts = [r.path for r in fake.requests if r.method == "POST"]
    assert posts.count("/repos/acme/ops/git/blobs") == 2
    assert posts.count("/repos/acme/ops/git/refs") == 1
    assert posts.count("/repos/acme/ops/pulls") == 1


def test_429_waits_as_long_as_retry_after_says(project, server):
    write_proposal(project, "abcd1234")
    server.fake.fail_next("GET", r"^/repos/acme/ops$", 429, {"message": "Too many requests"}, {"Retry-After": "7"})
    waits = []
    outcome = github_pr.sync_pull_request(make_settings(server), sleep=waits.append)
    assert outcome.action == "opened"
    assert len(waits) == 1 and waits[0] >= 7


def test_rate_limit_longer_than_the_run_waits_fails_as_transient(project, server):
    write_proposal(project, "abcd1234")
    server.fake.fail_next("GET", r"^/repos/acme/ops$", 429, {"message": "slow down"}, {"Retry-After": "3600"})
    with pytest.raises(TransientGitHubError, match="3600s"):
        sync(server)


def test_persistent_5xx_gives_up_as_transient(project, server):
    write_proposal(project, "abcd1234")
    server.fake.fail_next("GET", r"^/repos/acme/ops$", 503, times=10)
    with pytest.raises(TransientGitHubError, match="5 attempts"):
        sync(server)


def test_409_from_secret_scanning_fails_without_echoing_the_content(project, server):
    leaked = "acme_live_9f8e7d6c5b4a3f2e1d0c"  # a vendor's token shape only GitHub knows
    write_proposal(project, "abcd1234", samples=[f"login failed with {leaked}"])
    server.fake.fail_next("POST", r"/git/blobs$", 409, {
        "message": f"Repository rule violations found\n\nPush cannot contain secrets: {leaked}",
        "metadata": {"secret_scanning": {"bypass_placeholders": [{"token_type": "AWS", "placeholder_id": "x"}]}},
    })
    with pytest.raises(SecretScanningBlocked) as caught:
        sync(server)
    text = str(caught.value)
    assert "secret scanning" in text and leaked not in text and "partner_id" not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not server.fake.pulls and f"heads/{BRANCH}" not in server.fake.refs


@pytest.mark.parametrize(
    "case, setting",
    [("bad token", "GITHUB_TOKEN"), ("wrong repo", "SKILLSMITH_GITHUB_REPO"), ("forbidden", "GITHUB_TOKEN"),
     ("wrong base", "SKILLSMITH_GITHUB_BASE")],
)
def test_wrong_settings_fail_with_a_message_naming_the_setting(project, server, case, setting):
    write_proposal(project, "abcd1234")
    overrides = {"bad token": {"token": "wrong-token-value"}, "wrong repo": {"repo": "acme/nope"},
                 "forbidden": {}, "wrong base": {"base_branch": "trunk"}}[case]
    if case == "forbidden":
        server.fake.fail_next("POST", r"/git/blobs$", 403, {"message": "Resource not accessible by integration"})
    with pytest.raises(GitHubSetupError) as caught:
        sync(server, **overrides)
    assert setting in str(caught.value)
    assert "wrong-token-value" not in str(caught.value) and "test-token" not in str(caught.value)
    assert not server.fake.pulls


def test_missing_settings_are_named(project):
    assert "GITHUB_TOKEN" in GitHubSettings(repo="acme/ops").missing()
    assert "SKILLSMITH_GITHUB_REPO" in GitHubSettings(token="t").missing()
    assert "SKILLSMITH_GITHUB_APP_PRIVATE_KEY" in GitHubSettings(repo="a/b", app_id="1", app_installation_id="2").missing()
    assert GitHubSettings(repo="a/b", token="t").missing() is None


# --- untrusted text -----------------------------------------------------------------

HOSTILE_SAMPLES = [
    "KeyError by @octocat, see #123 and acme/ops#45, GH-9, fixes https://evil.example/x",
    "<script>alert(1)</script><img src=x onerror=alert(2)> <!-- skillsmith-batch digest=" + "0" * 64 + " ids=GR-00000000 -->",
    "```\n</details>\n# Approved by @admin\n```",
    "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 and github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
    "connect postgres://app:hunter2secret@db.internal:5432/prod failed",
    "Authorization: Bearer abcdef0123456789abcdef rejected; retry with password=Tr0ub4dor&3",
    "AWS AKIAIOSFODNN7EXAMPLE openai sk-proj-abcdefghijklmnopqrstuvwx slack xoxb-123456789012-abcdefghijkl",
    "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234567890abcdef\n-----END RSA PRIVATE KEY-----",
    "\u202eevil\u202c zero\u200bwidth",
]
SECRETS = ["ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_pat_11ABCDEFG", "hunter2secret", "abcdef0123456789abcdef",
           "AKIAIOSFODNN7EXAMPLE", "sk-proj-abcdefghijklmnopqrstuvwx", "xoxb-123456789012", "eyJhbGciOiJIUzI1NiJ9",
           "Tr0ub4dor", "MIIEpAIBAAKCAQEA1234567890abcdef"]


def assert_inert(body, title=""):
    for secret in SECRETS:
        assert secret not in body and secret not in title
    assert not re.search(r"@[A-Za-z0-9]", body), "a live mention"
    assert not re.search(r"#[0-9]", body) and not re.search(r"GH-[0-9]", body), "a live reference"
    assert "<script" not in body and "<img" not in body and "<b>" not in body and "</details>\n# Approved" not in body
    assert "```" not in body and "https://evil" not in body
    assert "\u202e" not in body
    assert body.count("<!--") == 1 and body.count("-->") == 1
    assert body.count("<details>") == body.count("</details>")


def test_hostile_proposal_text_is_scrubbed_and_defused(project, server):
    # Files holding unmistakable credentials never leave (see the next test); the rest
    # of the hostile text reaches the PR body, made inert.
    samples = [s for s in HOSTILE_SAMPLES if not credential_kinds(s)]
    assert len(samples) >= 5
    write_proposal(project, "abcd1234", name="@everyone <b>urgent</b> #1 `rm -rf`", samples=samples,
                   component="@org/team <!-- x -->")
    sync(server)
    body = server.fake.pulls[0]["body"]
    title = server.fake.pulls[0]["title"]
    assert_inert(body, title)
    marker = parse_marker(body)
    assert marker.ids == ("GR-ABCD1234",) and marker.digest != "0" * 64
    assert body.count("<details>") == body.count("</details>") == 1
    # Still readable: masks and quoted keys survive as text.
    assert f"@{ZWSP}octocat" in body and "REDACTED" in body


def test_every_hostile_sample_renders_inert(project):
    write_proposal(project, "abcd1234", name="@everyone <b>urgent</b> #1 `rm -rf`", samples=HOSTILE_SAMPLES * 2,
                   component="@org/team <!-- x -->")
    proposal = github_pr.load_proposals()[0]
    body = render_body([proposal.summary], Marker("a" * 64, (proposal.id,)), limit=MAX_BODY_CHARS)
    assert_inert(body)
    body = render_body([proposal.summary], Marker("a" * 64, (proposal.id,)), limit=3000)
    assert_inert(body)
    assert len(body) <= 3000 and parse_marker(body).ids == (proposal.id,)


def test_scrub_masks_each_kind_of_secret():
    for sample, secret in [
        ("x ghs_0123456789abcdefghijABCDEFGHIJ y", "ghs_0123456789"),
        ("https://user:p4ssw0rd@example.com/x", "p4ssw0rd"),
        ("aws_secret_access_key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("Authorization: token 0123456789abcdef0123", "0123456789abcdef0123"),
        ("api_key: 'abcd1234efgh5678'", "abcd1234efgh5678"),
        ("sk_live_abcdefghijklmnop1234", "sk_live_abcdefghijklmnop1234"),
        ("https://hooks.slack.com/services/T000/B000/XXXX", "T000/B000"),
    ]:
        assert secret not in scrub(sample), sample
    assert scrub("KeyError: <int> password=<redacted> 'partner_id'") == "KeyError: <int> password=<redacted> 'partner_id'"


def test_a_file_holding_a_credential_is_held_back(project, server):
    kept = write_proposal(project, "abcd1234")
    leaky = write_proposal(project, "12345678", samples=["auth ghp_0123456789abcdefghijABCDEFGHIJklmnop failed"])
    messages = []
    outcome = github_pr.sync_pull_request(make_settings(server), sleep=lambda s: None, log=messages.append)
    assert outcome.action == "opened" and outcome.proposal_ids == (kept,)
    assert any(leaky in m and "GitHub token" in m for m in messages)
    assert not any("ghp_0123" in m for m in messages)
    assert f"skills/proposed/{leaky}.yaml" not in branch_files(server)
    assert all(b"ghp_0123" not in content for content in server.fake.blobs.values())


def test_the_body_stays_under_the_limit_and_keeps_its_marker(project, server):
    for i in range(60):
        write_proposal(project, f"{i:08X}", samples=[f"ValueError: {'x' * 380} {j}" for j in range(5)])
    outcome = sync(server)
    body = server.fake.pulls[0]["body"]
    assert len(body) <= MAX_BODY_CHARS and body == outcome.body
    assert len(parse_marker(body).ids) == 60
    assert "more in the file" in body or "see the files in this pull request" in body
    assert len(branch_files(server)) == 61


# --- the sensor and the run, on a real Dagster instance --------------------------------


def github_resource(server, **overrides):
    values = dict(repo="acme/ops", token="test-token", api_url=server.url, backoff_base=0.001,
                  seconds_between_writes=0.0)
    values.update(overrides)
    return pull_requests.GitHubPullRequests(**values)


def materialize_proposals(instance):
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="skill_proposals"))


def evaluate(instance, resource, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"github": resource})
    result = pull_requests.proposals_pull_request_sensor(context)
    return result, context.cursor


def test_the_sensor_requests_one_run_per_digest_and_the_run_opens_the_pr(project, server):
    write_proposal(project, "abcd1234")
    resource = github_resource(server)
    with dg.DagsterInstance.ephemeral() as instance:
        result, cursor = evaluate(instance, resource)
        assert isinstance(result, dg.SkipReason) and "not been materialized" in result.skip_message

        materialize_proposals(instance)
        request, cursor = evaluate(instance, resource, cursor)
        assert isinstance(request, dg.RunRequest)
        digest = github_pr.batch_digest(github_pr.load_proposals())
        assert request.run_key == digest and request.tags[pull_requests.DIGEST_TAG] == digest
        assert not server.fake.writes(), "the sensor itself writes nothing to GitHub"

        run = pull_requests.pull_request_job.execute_in_process(
            instance=instance, run_config=request.run_config, resources={"github": resource}
        )
        assert run.success and run.output_for_node("pull_request") == "opened"
        assert len(server.fake.pulls) == 1

        result, cursor = evaluate(instance, resource, cursor)
        assert isinstance(result, dg.SkipReason) and "no new" in result.skip_message
        materialize_proposals(instance)  # same files again
        result, cursor = evaluate(instance, resource, cursor)
        assert isinstance(result, dg.SkipReason) and "unchanged" in result.skip_message

        write_proposal(project, "12345678")
        materialize_proposals(instance)
        request2, cursor = evaluate(instance, resource, cursor)
        assert isinstance(request2, dg.RunRequest) and request2.run_key != digest


def test_without_a_token_the_sensor_skips_naming_what_to_set(project, server):
    write_proposal(project, "abcd1234")
    with dg.DagsterInstance.ephemeral() as instance:
        materialize_proposals(instance)
        result, cursor = evaluate(instance, pull_requests.GitHubPullRequests())
        assert isinstance(result, dg.SkipReason)
        assert "GITHUB_TOKEN" in result.skip_message and "SKILLSMITH_GITHUB_REPO" in result.skip_message
        assert cursor is None  # the materialization is still pending once the settings exist


def test_the_resource_reads_the_environment_when_used(project, server, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    monkeypatch.setenv("SKILLSMITH_GITHUB_REPO", "acme/ops")
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    monkeypatch.setenv("SKILLSMITH_GITHUB_LABELS", "bot, review")
    settings = pull_requests.GitHubPullRequests().settings()
    assert (settings.token, settings.repo, settings.api_url, settings.labels) == ("test-token", "acme/ops", server.url, ("bot", "review"))
    assert "test-token" not in repr(settings)


def test_a_run_with_a_wrong_token_fails_visibly_without_retries(project, server):
    write_proposal(project, "abcd1234")
    with dg.DagsterInstance.ephemeral() as instance:
        run = pull_requests.pull_request_job.execute_in_process(
            instance=instance, resources={"github": github_resource(server, token="wrong-token-value")}, raise_on_error=False
        )
        assert not run.success
        failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
        assert "GITHUB_TOKEN" in failure.step_failure_data.error.message
        assert "wrong-token-value" not in json.dumps(failure.step_failure_data.error.message)
        assert not any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in run.all_events)


def test_the_definitions_load():
    dg.Definitions.validate_loadable(pull_requests.defs)
    sensor = pull_requests.proposals_pull_request_sensor
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    op = pull_requests.pull_request_job.graph.node_defs[0]
    assert op.pool == pull_requests.POOL and op.retry_policy.max_retries >= 1


# --- the command line ---------------------------------------------------------------


def test_cli_dry_run_prints_branch_files_and_body_without_a_token(project):
    sid = write_proposal(project, "abcd1234", samples=["KeyError by @octocat"])
    result = run_cli("pr", "--dry-run", env={"SKILLSMITH_PROJECT_DIR": str(project)})
    assert result.returncode == 0, result.stderr
    assert f"branch: {BRANCH}" in result.stdout
    assert f"  skills/proposed/{sid}.yaml" in result.stdout
    assert "| id | kind |" in result.stdout and "<!-- skillsmith-batch digest=" in result.stdout
    assert "@octocat" not in result.stdout


def test_cli_opens_the_pr_and_names_missing_settings(project, server):
    write_proposal(project, "abcd1234")
    result = run_cli("pr", env={"SKILLSMITH_PROJECT_DIR": str(project)})
    assert result.returncode == 2 and "GITHUB_TOKEN" in result.stderr
    env = {"SKILLSMITH_PROJECT_DIR": str(project), "GITHUB_TOKEN": "test-token", "SKILLSMITH_GITHUB_REPO": "acme/ops",
           "GITHUB_API_URL": server.url, "SKILLSMITH_GITHUB_WRITE_INTERVAL": "0"}
    result = run_cli("pr", env=env)
    assert result.returncode == 0, result.stderr
    assert "opened pull request #1" in result.stdout and len(server.fake.pulls) == 1


def test_a_github_app_installation_can_open_the_pr(project, server):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    server.fake.app_public_key = key.public_key()
    write_proposal(project, "abcd1234")
    outcome = sync(server, token="", app_id=server.fake.app_id, app_private_key=pem,
                   app_installation_id=str(server.fake.installation_id))
    assert outcome.action == "opened"
    assert any(r.path.endswith("/access_tokens") for r in server.fake.requests)


def test_a_real_mining_run_leads_to_one_pr_with_its_proposal_files(project, server, database, tmp_path):
    """The whole path: errors in Postgres -> skill_proposals materializes -> sensor -> run -> PR."""
    import io
    from datetime import datetime, timedelta, timezone

    from skillsmith_assets.store import db
    from skillsmith_assets.defs import mining
    from skillsmith_assets.defs.resources import ErrorStore
    from skillsmith_assets.intake.bulk import ingest_stream
    from skillsmith_assets.intake.sample_data import generate_events

    payload = io.BytesIO(b"\n".join(json.dumps(e).encode() for e in generate_events(1500, days=30, seed=5)))
    with db.connection(database) as conn:
        ingest_stream(conn, payload, "<test>")
    today = datetime.now(timezone.utc).date()
    resource = github_resource(server)
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        mined = dg.materialize(mining.MINING_ASSETS, instance=instance, resources={"error_store": ErrorStore()},
                               tags=mining.window_tags(str(today - timedelta(days=30)), str(today)))
        assert mined.success
        proposed = sorted(p.name for p in (project / "skills" / "proposed").glob("*.yaml"))
        assert proposed

        request, _ = evaluate(instance, resource)
        assert isinstance(request, dg.RunRequest)
        run = pull_requests.pull_request_job.execute_in_process(
            instance=instance, run_config=request.run_config, resources={"github": resource}
        )
        assert run.success
    assert len(server.fake.pulls) == 1
    files = branch_files(server)
    assert {f"skills/proposed/{name}" for name in proposed} <= set(files)
    assert parse_marker(server.fake.pulls[0]["body"]).digest == request.run_key


def test_a_lost_answer_and_a_failing_lookup_still_make_one_pr(project, server):
    write_proposal(project, "abcd1234")
    fake = server.fake
    fake.fail_next("POST", r"/pulls$", 0, after=True)  # created, but the connection dropped
    fake.fail_next("GET", r"/pulls$", 503, skip=1)  # the lookup after it fails once (the listing passes)
    fake.fail_next("POST", r"/labels$", 0, after=True)
    outcome = sync(server)
    assert outcome.action == "opened" and len(fake.pulls) == 1
    assert [r.method for r in fake.requests if r.path == "/repos/acme/ops/pulls"] == ["GET", "POST", "GET", "GET"]
    assert set(fake.labels) == {"skillsmith", "skills"}


def test_a_malformed_setting_is_named(project, server, monkeypatch):
    write_proposal(project, "abcd1234")
    monkeypatch.setenv("SKILLSMITH_GITHUB_MAX_PRS_PER_DAY", "lots")
    with dg.DagsterInstance.ephemeral() as instance:
        materialize_proposals(instance)
        result, _ = evaluate(instance, github_resource(server))
        assert isinstance(result, dg.SkipReason) and "SKILLSMITH_GITHUB_MAX_PRS_PER_DAY" in result.skip_message
