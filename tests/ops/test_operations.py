"""Operations: alerts on real failed runs and checks, the production instance on Postgres, metrics.

Real parts: Dagster instances (a temporary SQLite one, and one loaded from
deploy/dagster.yaml on the embedded Postgres), a webhook receiver on loopback, the
embedded Postgres for the error store.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from conftest import ROOT, run_cli, with_database
from skillsmith_assets.ops import alerts, metrics
from skillsmith_assets.defs import operations
from skillsmith_assets.defs.operations import AlertWebhook, alert_on_failed_checks, alert_on_run_failure
from skillsmith_assets.defs.partitions import daily_partitions
from skillsmith_assets.defs.resources import ErrorStore
from webhook_receiver import WebhookReceiver

PLANTED_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PLANTED_PASSWORD = "s3cr3t-Pa55"
DAGSTER_URL = "http://dagster.example.test:3000"


@pytest.fixture(autouse=True)
def no_proxy_no_webhook(monkeypatch):
    """Loopback only, and no webhook unless a test configures one."""
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in (operations.WEBHOOK_ENV, operations.DAGSTER_URL_ENV, operations.FORMAT_ENV, operations.FRESHNESS_ENV):
        monkeypatch.delenv(var, raising=False)


# --- the failing job -------------------------------------------------------------------


@dg.asset
def exploding_asset() -> None:
    raise ValueError(
        f"collector refused <payload> & gave up: token={PLANTED_TOKEN} "
        f"dsn=postgresql://app:{PLANTED_PASSWORD}@db.internal:5432/errors"
    )


@dg.asset
def checked_asset() -> int:
    return 1


@dg.asset_check(asset=checked_asset, blocking=True)
def rows_are_sane() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description="3 rows without fingerprint")


@dg.asset(deps=[checked_asset])
def after_checked_asset() -> int:
    return 2


@dg.asset(partitions_def=daily_partitions, name="raw_errors")
def raw_errors_stand_in() -> dg.MaterializeResult:
    """Stands in for the mining graph's raw_errors: the freshness check is keyed on its name."""
    return dg.MaterializeResult(metadata={"events": 0})


TEST_DEFS = dg.Definitions(
    assets=[exploding_asset, checked_asset, after_checked_asset, raw_errors_stand_in],
    asset_checks=[rows_are_sane, operations.raw_errors_freshness],
    jobs=[
        dg.define_asset_job("exploding_job", selection=[exploding_asset]),
        dg.define_asset_job("checked_job", selection=[checked_asset, after_checked_asset]),
        dg.define_asset_job("raw_job", selection=["raw_errors"], partitions_def=daily_partitions),
    ],
    resources={"error_store": ErrorStore()},
)


def exploding_job_def():
    return TEST_DEFS.resolve_job_def("exploding_job")


def run_job(instance, name: str, **kwargs):
    return TEST_DEFS.resolve_job_def(name).execute_in_process(instance=instance, raise_on_error=False, **kwargs)


def tick(sensor, instance, webhook: AlertWebhook, cursor: str | None = None):
    """One sensor evaluation against the instance, as the daemon does it."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"alert_webhook": webhook})
    result = sensor.evaluate_tick(context)
    return result, context.cursor


def started_sensor(sensor, instance, webhook):
    """The first tick only sets the cursor past existing runs (as when the sensor is turned on)."""
    result, cursor = tick(sensor, instance, webhook)
    assert "Initiating" in (result.skip_message or "")
    return cursor


def webhook_for(receiver) -> AlertWebhook:
    return AlertWebhook(webhook_url=receiver.url, dagster_url=DAGSTER_URL, format="slack")


# --- the alert message -----------------------------------------------------------------


def test_scrubber_removes_every_kind_of_secret():
    secrets = {
        "ghp": PLANTED_TOKEN,
        "pat": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "bearer": "Bearer abcdef123456.ghijkl-789",
        "url": "postgresql://user:hunter2pass@host/db",
        "aws": "AKIAIOSFODNN7EXAMPLE",
        "sk": "sk-proj-abcdefghijklmnopqrstuvwx",
        "slack": "xoxb-123456789012-abcdefghijkl",
        "hook": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "kv": "password='correct horse'",
        "json": '"client_secret": "abc123def"',
    }
    text = " | ".join(secrets.values())
    scrubbed = alerts.scrub_secrets(text)
    for leaked in ("A1b2C3d4", "abcdefghijklmnopqrstuvwxyz", "abcdef123456", "hunter2pass", "AKIAIOSFODNN7EXAMPLE",
                   "sk-proj", "xoxb-", "XXXXXXXXXXXXXXXX", "dozjgNryP4J3", "MIIEowIBAAKCAQEA", "correct horse", "abc123def"):
        assert leaked not in scrubbed, leaked
    assert "KeyError: 'partner_id' in sale.order" == alerts.scrub_secrets("KeyError: 'partner_id' in sale.order")
    assert alerts.scrub_secrets("token expired at 1762509600") == "token expired at 1762509600"
    assert alerts.scrub_secrets(f"token={PLANTED_TOKEN}") == "token=[REDACTED]"
    for kept in ("AuthenticationError: auth failed for user bob", "cryptography.fernet.InvalidToken: signature did not match",
                 "TokenExpiredError: token expired at <epoch>", "KeyError: 'password'", "ValueError: secret_santa"):
        assert alerts.scrub_secrets(kept) == kept
    assert alerts.scrub_secrets("db_password: hunter2, user=x") == "db_password: [REDACTED], user=x"
    assert alerts.scrub_secrets("{'api_key': 'abc', 'n': 1}") == "{'api_key': [REDACTED], 'n': 1}"


def test_error_is_escaped_and_truncated_keeping_head_and_tail():
    error = "HEAD<&>" + "x&" * 5000 + "TAIL>"
    shown = alerts.escape_and_truncate(error)
    assert len(shown) <= alerts.MAX_ERROR_CHARS
    assert shown.startswith("HEAD&lt;&amp;&gt;") and shown.endswith("TAIL&gt;")
    assert "characters omitted" in shown
    body = shown.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert "&" not in body and "<" not in body and ">" not in body  # no entity cut in half

    payload = alerts.slack_payload(alerts.Alert(title="t", error=error * 3, run_url="http://x/runs/1"))
    for block in payload["blocks"]:
        text = block.get("text", {}).get("text", "")
        assert len(text) <= 3000
    assert "<!channel>" not in json.dumps(alerts.slack_payload(alerts.Alert(title="<!channel>", error="<!here>")))


# --- run failures ----------------------------------------------------------------------


def test_failed_run_posts_exactly_one_alert_with_asset_error_and_link():
    with dg.instance_for_test() as instance, WebhookReceiver() as receiver:
        webhook = webhook_for(receiver)
        cursor = started_sensor(alert_on_run_failure, instance, webhook)
        result = run_job(instance, "exploding_job")
        assert not result.success

        outcome, cursor = tick(alert_on_run_failure, instance, webhook, cursor)
        assert [r.error for r in outcome.dagster_run_reactions] == [None]
        assert len(receiver.requests) == 1
        payload = receiver.requests[0].json()
        assert set(payload) == {"text", "blocks"}
        raw = receiver.requests[0].body.decode()
        for text in (payload["text"], json.dumps(payload["blocks"])):
            assert "exploding_asset" in text
            assert "exploding_job" in text
            assert "ValueError: collector refused &lt;payload&gt; &amp; gave up" in text
            assert f"{DAGSTER_URL}/runs/{result.run_id}" in text
        assert PLANTED_TOKEN not in raw and PLANTED_PASSWORD not in raw
        assert "A1b2C3d4" not in raw

        # Later ticks do not alert the same run again.
        again, _ = tick(alert_on_run_failure, instance, webhook, cursor)
        assert len(receiver.requests) == 1


def test_run_retries_alert_once_on_the_last_attempt():
    overrides = {"run_retries": {"enabled": True, "max_retries": 1}}
    with dg.instance_for_test(overrides=overrides) as instance, WebhookReceiver() as receiver:
        webhook = webhook_for(receiver)
        cursor = started_sensor(alert_on_run_failure, instance, webhook)
        first = run_job(instance, "exploding_job")
        assert instance.get_run_by_id(first.run_id).tags.get("dagster/will_retry") == "true"
        outcome, cursor = tick(alert_on_run_failure, instance, webhook, cursor)
        assert "will be retried" in outcome.skip_message
        assert receiver.requests == []

        # What the retry daemon launches: a re-execution from the failure, retry number 1, none left.
        second = dg.execute_job(
            dg.reconstructable(exploding_job_def), instance=instance, raise_on_error=False,
            reexecution_options=dg.ReexecutionOptions.from_failure(first.run_id, instance),
            tags={"dagster/retry_number": "1", "dagster/parent_run_id": first.run_id, "dagster/root_run_id": first.run_id},
        )
        assert instance.get_run_by_id(second.run_id).parent_run_id == first.run_id
        assert instance.get_run_by_id(second.run_id).tags.get("dagster/will_retry") == "false"
        outcome, cursor = tick(alert_on_run_failure, instance, webhook, cursor)
        assert len(receiver.requests) == 1
        text = receiver.requests[0].json()["text"]
        assert second.run_id in text and "after 1 automatic retry" in text
        tick(alert_on_run_failure, instance, webhook, cursor)
        assert len(receiver.requests) == 1


def test_receiver_failing_once_gets_the_plain_text_retry():
    with dg.instance_for_test() as instance, WebhookReceiver(statuses=[500, 200]) as receiver:
        webhook = webhook_for(receiver)
        cursor = started_sensor(alert_on_run_failure, instance, webhook)
        result = run_job(instance, "exploding_job")
        outcome, _ = tick(alert_on_run_failure, instance, webhook, cursor)
        assert [r.error for r in outcome.dagster_run_reactions] == [None]
        assert len(receiver.requests) == 2
        rich, plain = (r.json() for r in receiver.requests)
        assert "blocks" in rich
        assert set(plain) == {"text"}
        assert "exploding_asset" in plain["text"] and f"/runs/{result.run_id}" in plain["text"]
        assert PLANTED_TOKEN not in plain["text"]


def test_receiver_always_failing_makes_the_tick_raise():
    with dg.instance_for_test() as instance, WebhookReceiver(always=500) as receiver:
        webhook = webhook_for(receiver)
        cursor = started_sensor(alert_on_run_failure, instance, webhook)
        result = run_job(instance, "exploding_job")

        # As the daemon evaluates it: the tick carries the error (and shows red).
        outcome, _ = tick(alert_on_run_failure, instance, webhook, cursor)
        [reaction] = outcome.dagster_run_reactions
        assert reaction.error is not None and "AlertDeliveryError" in reaction.error.to_string()
        assert "plain-text retry failed (HTTP 500" in reaction.error.to_string()
        assert "hook-secret-path" not in reaction.error.to_string()  # the webhook's path is a secret
        assert len(receiver.requests) == 2

        # Called directly, the sensor raises.
        run = instance.get_run_by_id(result.run_id)
        failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=run, dagster_event=failure,
            resources={"alert_webhook": webhook},
        )
        with pytest.raises(alerts.AlertDeliveryError):
            alert_on_run_failure(context.for_run_failure())


def test_without_webhook_the_sensor_skips_with_a_reason():
    with dg.instance_for_test() as instance:
        webhook = AlertWebhook()
        cursor = started_sensor(alert_on_run_failure, instance, webhook)
        run_job(instance, "exploding_job")
        outcome, _ = tick(alert_on_run_failure, instance, webhook, cursor)
        assert "SKILLSMITH_ALERT_WEBHOOK_URL is not set" in outcome.skip_message


def test_webhook_url_is_read_from_the_environment_when_the_sensor_runs(monkeypatch):
    with dg.instance_for_test() as instance, WebhookReceiver() as receiver:
        webhook = AlertWebhook()
        cursor = started_sensor(alert_on_run_failure, instance, webhook)
        result = run_job(instance, "exploding_job")
        monkeypatch.setenv(operations.WEBHOOK_ENV, receiver.url)
        monkeypatch.setenv(operations.DAGSTER_URL_ENV, DAGSTER_URL + "/")
        tick(alert_on_run_failure, instance, webhook, cursor)
        assert len(receiver.requests) == 1
        assert f"{DAGSTER_URL}/runs/{result.run_id}" in receiver.requests[0].json()["text"]


@pytest.mark.parametrize("fmt", ["teams", "json"])
def test_teams_and_generic_json_formats(fmt):
    with WebhookReceiver() as receiver:
        alert = alerts.Alert(title="Skillsmith run failed: j", job="j", assets=["a"], error=f"boom {PLANTED_TOKEN}",
                             run_url="http://x/runs/1")
        delivery = alerts.post_alert(receiver.url, alert, fmt=fmt)
        assert delivery.attempts == 1
        body = receiver.requests[0].json()
        raw = receiver.requests[0].body.decode()
        assert PLANTED_TOKEN not in raw and "http://x/runs/1" in raw
        if fmt == "teams":
            assert body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
        else:
            assert body["run_url"] == "http://x/runs/1" and body["assets"] == ["a"] and "boom" in body["error"]


# --- checks ----------------------------------------------------------------------------


def test_failing_blocking_error_check_alerts_through_its_failed_run():
    with dg.instance_for_test() as instance, WebhookReceiver() as receiver:
        webhook = webhook_for(receiver)
        cursor = started_sensor(alert_on_run_failure, instance, webhook)
        result = run_job(instance, "checked_job")
        assert not result.success
        tick(alert_on_run_failure, instance, webhook, cursor)
        assert len(receiver.requests) == 1
        text = receiver.requests[0].json()["text"]
        assert "checked_asset:rows_are_sane (ERROR, blocking) — 3 rows without fingerprint" in text
        assert "Asset: checked_asset" in text and f"/runs/{result.run_id}" in text


def _insert_error(conn, ts: datetime, fingerprint: str | None = None, error: str = "KeyError: 'partner_id'"):
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO agent_errors (ts, error, component, fingerprint) VALUES (%s, %s, 'sale', %s)",
            (ts, error, fingerprint),
        )
    conn.commit()


def test_stale_raw_errors_fail_the_freshness_check_and_alert(conn):
    now = datetime.now(timezone.utc)
    _insert_error(conn, now - timedelta(hours=30))
    today = now.date()
    range_tags = {
        "dagster/asset_partition_range_start": (today - timedelta(days=1)).isoformat(),
        "dagster/asset_partition_range_end": today.isoformat(),
    }
    with dg.instance_for_test() as instance, WebhookReceiver() as receiver:
        webhook = webhook_for(receiver)
        cursor = started_sensor(alert_on_failed_checks, instance, webhook)
        result = TEST_DEFS.resolve_job_def("raw_job").execute_in_process(
            instance=instance, tags=range_tags
        )
        assert result.success  # non-blocking: mining goes on
        [evaluation] = result.get_asset_check_evaluations()
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert evaluation.metadata["hours_since_last_error"].value > 24

        tick(alert_on_failed_checks, instance, webhook, cursor)
        assert len(receiver.requests) == 1
        text = receiver.requests[0].json()["text"]
        assert "raw_errors:raw_errors_freshness" in text and "no new error for" in text
        assert f"/runs/{result.run_id}" in text

        # Fresh errors pass; a passing run alerts nobody; the limit is configurable.
        _insert_error(conn, now - timedelta(hours=1))
        result = TEST_DEFS.resolve_job_def("raw_job").execute_in_process(
            instance=instance, partition_key=today.isoformat(),
            run_config={"ops": {"raw_errors_raw_errors_freshness": {"config": {"max_quiet_hours": 0.5}}}},
        )
        assert not result.get_asset_check_evaluations()[0].passed
        result = TEST_DEFS.resolve_job_def("raw_job").execute_in_process(
            instance=instance, partition_key=today.isoformat()
        )
        assert result.get_asset_check_evaluations()[0].passed


# --- metrics ---------------------------------------------------------------------------


def _write_skill(path: Path, sid: str, status: str, **extra):
    import yaml

    doc = {"id": sid, "name": sid, "kind": "guardrail", "status": status, "metadata": {"auto_generated": True}}
    doc.update(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")


def _seed_metrics(conn, project: Path, now: datetime):
    fp_a, fp_b = str(uuid.uuid4()), str(uuid.uuid4())
    for hours, fp in [(1, fp_a), (2, fp_a), (30, fp_b), (50, None), (24 * 8, fp_b)]:
        _insert_error(conn, now - timedelta(hours=hours), fp)
    with conn.cursor() as cur:
        rows = [("prevented", 1), ("prevented", 24 * 6), ("prevented", 24 * 9), ("fixed", 24 * 10), ("fixed", 5),
                ("fixed", 6), ("fix_failed", 7), ("dry_run_diff", 3), ("false_positive", 3), ("fixed", 24 * 40)]
        for outcome, hours in rows:
            cur.execute("INSERT INTO skill_outcomes (ts, skill_id, outcome) VALUES (%s, 'FX-00000000', %s)",
                        (now - timedelta(hours=hours), outcome))
    conn.commit()
    skills = project / "skills"
    recent = (now - timedelta(days=2)).isoformat()
    old = (now - timedelta(days=20)).isoformat()
    _write_skill(skills / "proposed" / "GR-00000001.yaml", "GR-00000001", "proposed")  # mtime: now
    _write_skill(skills / "proposed" / "GR-00000002.yaml", "GR-00000002", "proposed", proposed_at=old)
    _write_skill(skills / "GR-00000003.yaml", "GR-00000003", "approved", approved_at=recent)
    _write_skill(skills / "GR-00000004.yaml", "GR-00000004", "approved", metadata={"auto_generated": True, "generated_at": old})
    _write_skill(skills / "GR-00000005.yaml", "GR-00000005", "approved", metadata={"auto_generated": False})
    _write_skill(skills / "rejected" / "GR-00000006.yaml", "GR-00000006", "rejected",
                 rejection={"reason": "noise", "by": "ana", "at": recent})
    _write_skill(skills / "rejected" / "GR-00000007.yaml", "GR-00000007", "rejected", rejected_at=old)
    (skills / "GR-broken.yaml").write_text("{not: valid: yaml", encoding="utf-8")


EXPECTED = {
    "error_volume_7d": 4,
    "pattern_diversity_7d": 2,
    "proposals_per_week": 3.0,  # 0001 (mtime), 0003 (approved_at), 0006 (rejection.at)
    "approval_rate": 2 / 4,  # 0003, 0004 approved; 0006, 0007 rejected; 0005 hand-written
    "errors_prevented_7d": 2,
    "fix_rate_30d": 3 / 4,  # fixed 5h, 6h, 10d; failed 7h
    "skills_approved": 2,
    "skills_rejected": 2,
    "proposals_pending": 2,
    "fix_attempts_30d": 4,
}


def test_metrics_follow_their_definitions(conn, tmp_path):
    now = datetime.now(timezone.utc)
    _seed_metrics(conn, tmp_path, now)
    values = metrics.compute(conn, now=now + timedelta(minutes=1), skills_root=tmp_path / "skills")  # after the files' mtime
    assert list(values) == [*metrics.METRIC_KEYS, *metrics.SUPPORTING_KEYS]
    for key, expected in EXPECTED.items():
        assert values[key] == pytest.approx(expected), key
    empty = metrics.compute(conn, now=now - timedelta(days=400), skills_root=tmp_path / "nothing")
    assert math.isnan(empty["approval_rate"]) and math.isnan(empty["fix_rate_30d"])


def test_metrics_asset_and_stats_command(conn, tmp_path, monkeypatch, database):
    _seed_metrics(conn, tmp_path, datetime.now(timezone.utc))
    monkeypatch.setenv("SKILLSMITH_PROJECT_DIR", str(tmp_path))
    with dg.instance_for_test() as instance:
        result = dg.materialize([operations.skillsmith_metrics], instance=instance, resources={"error_store": ErrorStore()})
        [materialization] = result.asset_materializations_for_node("skillsmith_metrics")
        for key in metrics.METRIC_KEYS:
            assert isinstance(materialization.metadata[key], dg.FloatMetadataValue)
        assert materialization.metadata["error_volume_7d"].value == 4
    shown = run_cli("stats", env={"SKILLSMITH_PROJECT_DIR": str(tmp_path)})
    assert shown.returncode == 0, shown.stderr
    for key in metrics.METRIC_KEYS:
        assert key in shown.stdout
    assert "50.0%" in shown.stdout and "75.0%" in shown.stdout
    as_json = json.loads(run_cli("stats", "--json", env={"SKILLSMITH_PROJECT_DIR": str(tmp_path)}).stdout)
    assert as_json["error_volume_7d"] == 4 and as_json["proposals_per_week"] == 3


# --- production instance ---------------------------------------------------------------


def test_production_dagster_yaml_stores_runs_in_postgres(pg_admin_url, database, tmp_path, monkeypatch):
    import psycopg2

    name = "dagster_" + uuid.uuid4().hex[:10]
    admin = psycopg2.connect(pg_admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    try:
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
        url = with_database(pg_admin_url, name)
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", url.replace("postgresql://", "postgresql+psycopg2://", 1))
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
            before = sessions_of(admin, name)
            result = dg.materialize([operations.skillsmith_metrics], instance=instance,
                                    resources={"error_store": ErrorStore()})
            assert result.success
            # The run's dozen events went over the storages' kept connections (a few more where
            # threads overlapped), not a connection each (36 with `storage: postgres`).
            assert sessions_of(admin, name) - before <= 6
            # A second run finds the storages' tables and columns known: its schema probes open
            # no connection of their own.
            before = sessions_of(admin, name)
            again = dg.materialize([operations.skillsmith_metrics], instance=instance,
                                   resources={"error_store": ErrorStore()})
            assert again.success
            assert sessions_of(admin, name) - before == 0
            failed = run_job(instance, "exploding_job")
            # With the production retry policy the failed run is marked for retry: no alert yet.
            assert instance.get_run_by_id(failed.run_id).tags.get("dagster/will_retry") == "true"

        dagster_db = psycopg2.connect(url)
        try:
            with dagster_db.cursor() as cur:
                cur.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
                assert cur.fetchone() == ("SUCCESS",)
                cur.execute("SELECT status FROM runs WHERE run_id = %s", (failed.run_id,))
                assert cur.fetchone() == ("FAILURE",)
                cur.execute(
                    "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION' "
                    "AND asset_key LIKE %s",
                    (result.run_id, "%skillsmith_metrics%"),
                )
                assert cur.fetchone() == (1,)
        finally:
            dagster_db.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def test_a_schema_probe_keeps_what_it_found_and_asks_again_for_what_it_did_not():
    from skillsmith_assets.defs.instance_storage import remember_found

    catalog, asked = {"asset_event_tags": False}, []

    def has_table(name):
        asked.append(name)
        return catalog.get(name, False)

    probe = remember_found(has_table)
    assert probe("asset_event_tags") is False
    catalog["asset_event_tags"] = True  # a migration adds the table while the process runs
    assert probe("asset_event_tags") is True and probe("asset_event_tags") is True
    assert asked == ["asset_event_tags", "asset_event_tags"]


def sessions_of(admin, database: str) -> int:
    """Connections ever opened to ``database`` (the server's own count)."""
    with admin.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,))
        return cur.fetchone()[0]


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: bot, user: {token: not-a-real-token}}]
contexts: [{name: local, context: {cluster: local, user: bot}}]
current-context: local
"""


def test_kubernetes_instance_config_loads_with_its_run_launcher(empty_database, tmp_path, monkeypatch):
    import yaml

    base = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    k8s = yaml.safe_load((ROOT / "deploy" / "dagster-k8s.yaml").read_text())
    assert {k: v for k, v in k8s.items() if k != "run_launcher"} == base  # nothing else drifts
    config = k8s["run_launcher"]["config"]
    assert k8s["run_launcher"]["class"] == "K8sRunLauncher" and config["load_incluster_config"] is True
    # Outside a cluster the launcher reads a kubeconfig instead (for a server on loopback that is
    # never contacted); every other value is the file's own.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    config.update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(k8s))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", empty_database.replace("postgresql://", "postgresql+psycopg2://", 1))
    with dg.DagsterInstance.get() as instance:
        launcher = instance.run_launcher
        assert type(launcher).__name__ == "K8sRunLauncher"
        assert launcher.job_namespace == "skillsmith" and launcher.instance_config_map == "dagster-instance"
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2


# --- the code location -----------------------------------------------------------------


def test_code_location_runs_alerts_by_default_and_checks_the_real_raw_errors():
    from skillsmith_assets import definitions

    defs = definitions.defs()
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    for name in ("alert_on_run_failure", "alert_on_failed_checks"):
        sensor = repo.get_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert repo.get_schedule_def("metrics_hourly").default_status == dg.DefaultScheduleStatus.RUNNING
    freshness = dg.AssetCheckKey(dg.AssetKey("raw_errors"), "raw_errors_freshness")
    assert freshness in repo.asset_graph.asset_check_keys
    if "mining_job" in {job.name for job in repo.get_all_jobs()}:
        assert freshness in repo.get_job("mining_job").asset_layer.asset_graph.asset_check_keys
