"""The mining graph on real parts: embedded Postgres, a real Dagster instance, the webserver."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest
import yaml

from conftest import ROOT, run_cli
from skillsmith_assets.skills import classification, proposals
from skillsmith_assets import paths
from skillsmith_assets.defs import mining
from skillsmith_assets.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from skillsmith_assets.defs.resources import ErrorStore
from skillsmith_assets.intake.bulk import ingest_stream
from skillsmith_assets.intake.sample_data import generate_events
from skillsmith_assets.skills.schema import load_skill_file, validate_skill

TODAY = datetime.now(timezone.utc).date()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty repository for skills, proposals and rejections."""
    root = tmp_path / "repo"
    (root / "skills" / "proposed").mkdir(parents=True)
    monkeypatch.setenv("SKILLSMITH_PROJECT_DIR", str(root))
    monkeypatch.delenv("SKILLSMITH_INBOX", raising=False)
    return root


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


def load_events(target, events):
    from skillsmith_assets.store import db

    payload = io.BytesIO(b"\n".join(json.dumps(e).encode() for e in events))
    with db.connection(target) as conn:
        return ingest_stream(conn, payload, "<test>")


def materialize(instance, first_day, last_day, selection=None, **config):
    run_config = {"ops": {"error_candidates": {"config": config}}} if config else None
    return dg.materialize(
        selection or mining.MINING_ASSETS + [mining.every_row_fingerprinted, mining.proposals_are_valid],
        instance=instance,
        resources={"error_store": ErrorStore()},
        tags=mining.window_tags(str(first_day), str(last_day)),
        run_config=run_config,
    )


def proposal_docs(project):
    return {p.name: load_skill_file(p) for p in sorted((project / "skills" / "proposed").glob("*.yaml"))}


# --- classification ------------------------------------------------------------------------

def test_default_classification_follows_the_seed_heuristic(project):
    classifier = classification.load_classifier()
    assert classifier.skill_kind("ModuleNotFoundError", "agent", "No module named 'x'") == "fixer"
    assert classifier.skill_kind("KeyError", "odoo.addons.sale", "KeyError: 'partner_id'") == "fixer"
    assert classifier.skill_kind("UserError", "odoo.addons.account", "Cannot delete a posted journal entry") == "guardrail"


def test_classification_rules_file_in_the_project_overrides_the_default(project):
    (project / "classification.yaml").write_text(
        "default: fixer\nrules:\n  - kind: guardrail\n    components: [odoo.addons.account]\n")
    classifier = classification.load_classifier()
    assert classifier.skill_kind("UserError", "odoo.addons.account.move", "x") == "guardrail"
    assert classifier.skill_kind("UserError", "odoo.addons.sale", "x") == "fixer"


def test_a_broken_rules_file_is_named_in_the_error(project):
    (project / "classification.yaml").write_text("rules:\n  - kind: fixer\n    colour: red\n")
    with pytest.raises(ValueError, match=r"classification.yaml: rule 1: unknown condition\(s\) colour"):
        classification.load_classifier()


# --- rendering -----------------------------------------------------------------------------

HOSTILE = [
    'x"\nstatus: approved\nkind: fixer',
    "it's a 'quote' and a \"double\"",
    "@octocat please look #123 <!-- marker --> ```",
    "regex (.*)+ [a-z]{1,9999} \\1 ^$ |",
    "tab\tand\r\nnewline and unicode \u2028 \u00e9 \U0001F600 and NUL \u2400",
    "- list: [1, 2]\n? key\n&anchor *alias !!python/object:os.system",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_yaml_values_round_trip(value):
    assert yaml.safe_load(f"v: {proposals.yaml_value(value)}\n")["v"] == value
    assert yaml.safe_load(f"v: {proposals.yaml_value([value, value])}\n")["v"] == [value, value]


def _candidate(**overrides):
    base = dict(fp="abcd1234-0000-4000-8000-000000000001", component="odoo.addons.sale", kind="KeyError",
                template="KeyError: 'partner_id'", hits_7d=10, hits_30d=25, impact_score=14.5,
                first_seen="2026-11-01T00:00:00+00:00", last_seen="2026-11-20T00:00:00+00:00",
                pattern="p1", pattern_size=1, samples=("KeyError: 'partner_id'",),
                fingerprints=("abcd1234-0000-4000-8000-000000000001",))
    base.update(overrides)
    return proposals.Candidate(**base)


def test_seed_format_exactly(project):
    report = proposals.write_proposals([_candidate()], classification.load_classifier(), {})
    doc = load_skill_file(report.files[0])
    assert report.files[0].name == "FX-ABCD1234.yaml"
    assert doc["id"] == "FX-ABCD1234" and doc["kind"] == "fixer" and doc["status"] == "proposed"
    assert doc["match"] == {"component": "odoo.addons.sale", "message_regex": "\\AKeyError: 'partner_id'\\Z",
                            "fingerprint": "abcd1234-0000-4000-8000-000000000001"}
    assert doc["action"] == {"type": "autopatch", "script": "autopatches/fx-abcd1234.py", "dry_run": True}
    assert {k: doc["metadata"][k] for k in ("hits_7d", "hits_30d", "impact_score", "auto_generated")} == \
        {"hits_7d": 10, "hits_30d": 25, "impact_score": 14.5, "auto_generated": True}


def test_hostile_template_values_stay_data(project):
    for i, text in enumerate(HOSTILE):
        fp = f"abcd12{i:02d}-0000-4000-8000-000000000001"
        cand = _candidate(fp=fp, component=text, kind="UserError", template=text, samples=(text,), fingerprints=(fp,))
        report = proposals.write_proposals([cand], classification.load_classifier(), {})
        assert not report.skipped, report.skipped
        doc = load_skill_file(report.files[0])
        assert doc["status"] == "proposed" and doc["kind"] == "guardrail"
        assert doc["match"]["component"] == text
        assert re.search(doc["match"]["message_regex"], text)
        assert validate_skill(doc, expected_status="proposed") == []


def test_customized_template_is_used_and_still_validated(project):
    templates = project / "templates"
    templates.mkdir()
    packaged = paths.PACKAGE_DIR / "templates"
    for name in ("guardrail.yaml.j2", "fixer.yaml.j2"):
        (templates / name).write_text("# Team ACME\n" + (packaged / name).read_text())
    report = proposals.write_proposals([_candidate()], classification.load_classifier(), {})
    assert report.files[0].read_text().startswith("# Team ACME")
    # a template that drops a required field is refused, and no file is left behind
    (templates / "fixer.yaml.j2").write_text((packaged / "fixer.yaml.j2").read_text().replace("  dry_run: true\n", ""))
    report = proposals.write_proposals([_candidate(fp="ffff0000-0000-4000-8000-000000000001")],
                                       classification.load_classifier(), {})
    assert report.skipped and "dry_run" in report.skipped[0][1]
    assert not (project / "skills" / "proposed" / "FX-FFFF0000.yaml").exists()


def test_regex_matches_own_samples_and_not_other_patterns(project):
    from skillsmith_assets.skills.match_regex import build_message_regex

    own = ["KeyError: 'partner_id' in sale.order", "KeyError: 'partner_id' in sale.order.line"]
    other = ["KeyError: 'product_id' in sale.order"]
    regex = build_message_regex("KeyError: 'partner_id' in <*>", own, other)
    assert all(re.search(regex, s) for s in own) and not any(re.search(regex, s) for s in other)
    with pytest.raises(ValueError):
        build_message_regex("same text", ["same text"], ["same text"])


# --- the graph -----------------------------------------------------------------------------

@pytest.fixture
def sample_store(database):
    report = load_events(database, generate_events(3000, days=30, seed=11))
    assert report.loaded == 3000
    return database


def test_whole_graph_yields_valid_proposals(sample_store, project, instance, conn):
    result = materialize(instance, TODAY - timedelta(days=30), TODAY)
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks
    docs = proposal_docs(project)
    assert len(docs) >= 5
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM error_candidates")
        assert cur.fetchone()[0] == len(docs)
        cur.execute("SELECT count(*) FROM agent_errors WHERE fingerprint IS NULL")
        assert cur.fetchone()[0] == 0
    for name, doc in docs.items():
        assert validate_skill(doc, expected_status="proposed") == [], name
        assert name == f"{doc['id']}.yaml"
        assert doc["metadata"]["hits_7d"] >= 2
        for sample in doc["metadata"]["samples"]:
            assert re.search(doc["match"]["message_regex"], sample)
    ranked = sorted(docs.values(), key=lambda d: -d["metadata"]["impact_score"])
    top = ranked[0]["metadata"]
    assert top["impact_score"] == round(top["hits_7d"] * 0.7 + top["hits_30d"] * 0.3, 2)


def test_second_run_changes_nothing(sample_store, project, instance):
    assert materialize(instance, TODAY - timedelta(days=30), TODAY).success
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (project / "skills" / "proposed").glob("*.yaml")}
    result = materialize(instance, TODAY - timedelta(days=30), TODAY)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (project / "skills" / "proposed").glob("*.yaml")}
    assert before and before == after
    mats = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    written = {m.asset_key.to_user_string(): m.metadata["written"].value for m in mats if "written" in m.metadata}
    assert written == {"skill_proposals": 0}


def test_thresholds_come_from_run_config(sample_store, project, instance, conn):
    assert materialize(instance, TODAY - timedelta(days=30), TODAY, min_hits=20, top_n=3).success
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), min(hits_7d) FROM error_candidates")
        count, min_hits = cur.fetchone()
    assert count == 3 and min_hits >= 20  # the 3 most impactful patterns, none covered yet
    assert len(proposal_docs(project)) == 3


def test_patterns_covered_by_skills_are_not_proposed_again(sample_store, project, instance, conn):
    assert materialize(instance, TODAY - timedelta(days=30), TODAY, top_n=4).success
    first = proposal_docs(project)
    assert len(first) == 4
    # one approved, one rejected, two still proposed: nothing of the top 4 is proposed again
    names = sorted(first)
    (project / "skills" / names[0]).write_text(
        (project / "skills" / "proposed" / names[0]).read_text().replace("status: proposed", "status: approved"))
    (project / "skills" / "proposed" / names[0]).unlink()
    (project / "skills" / "rejected").mkdir()
    (project / "skills" / "proposed" / names[1]).rename(project / "skills" / "rejected" / names[1])
    result = materialize(instance, TODAY - timedelta(days=30), TODAY, top_n=4)
    assert result.success
    assert set(proposal_docs(project)) == set(names[2:])
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM error_candidates")
        assert cur.fetchone()[0] == 0
    # a wider window reaches patterns no skill covers yet
    assert materialize(instance, TODAY - timedelta(days=30), TODAY, top_n=6).success
    assert len(set(proposal_docs(project)) - set(names)) == 2


def test_a_skill_from_an_older_rules_version_still_covers_its_bug(sample_store, project, instance):
    """A new normalizer version changes every fingerprint; the skill's match rule still fires."""
    assert materialize(instance, TODAY - timedelta(days=30), TODAY, top_n=2).success
    first = proposal_docs(project)
    top = max(first.values(), key=lambda d: d["metadata"]["impact_score"])
    stale = dict(top, status="approved", match=dict(top["match"], fingerprint="00000000-0000-0000-0000-000000000000"),
                 metadata={k: v for k, v in top["metadata"].items() if k not in ("pattern", "fingerprints")})
    for path in (project / "skills" / "proposed").glob("*.yaml"):
        path.unlink()
    (project / "skills" / "GR-00000000.yaml").write_text(yaml.safe_dump(dict(stale, id="GR-00000000")))
    assert materialize(instance, TODAY - timedelta(days=30), TODAY, top_n=2).success
    again = proposal_docs(project)
    assert len(again) == 1 and top["id"] not in again and f"{top['id']}.yaml" not in again


def test_unreadable_skill_file_does_not_stop_mining(sample_store, project, instance):
    (project / "skills" / "broken.yaml").write_text("id: [unclosed\n")
    result = materialize(instance, TODAY - timedelta(days=30), TODAY)
    assert result.success and proposal_docs(project)


def test_backfill_loads_archived_days_from_the_inbox(database, project, instance, tmp_path, monkeypatch, conn):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("SKILLSMITH_INBOX", str(inbox))
    days = [TODAY - timedelta(days=d) for d in (5, 4, 3)]
    for day in days:
        events = [{"error": f"ValueError: bad amount {i * 1000 + 1234}", "component": "odoo.addons.account",
                   "ts": f"{day}T{i % 24:02d}:00:00Z"} for i in range(20)]
        (inbox / f"errors-{day}.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\nnot json\n")
    (inbox / "no-date.jsonl").write_text(json.dumps({"error": "never loaded by partitions"}) + "\n")

    daily = [mining.raw_errors, mining.normalized_errors, mining.every_row_fingerprinted]
    result = materialize(instance, days[0], days[-1], selection=daily)
    assert result.success
    partitions = {e.event_specific_data.materialization.partition for e in result.get_asset_materialization_events()}
    assert partitions == {str(d) for d in days}
    with conn.cursor() as cur:
        cur.execute("SELECT day, sum(hits) FROM error_daily_counts GROUP BY day ORDER BY day")
        assert cur.fetchall() == [(d, 20) for d in days]
        cur.execute("SELECT count(*) FROM agent_errors")
        assert cur.fetchone()[0] == 60
    # a second backfill of the same range loads nothing twice
    assert materialize(instance, days[0], days[-1], selection=daily).success
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT fingerprint) FROM agent_errors")
        assert cur.fetchone() == (60, 1)


def test_rows_made_by_an_older_normalizer_are_renormalized(database, project, instance, conn):
    load_events(database, [{"error": "KeyError: 123456", "ts": f"{TODAY}T01:00:00Z"}])
    with conn.cursor() as cur:
        cur.execute("UPDATE agent_errors SET norm_error = 'stale', fingerprint = gen_random_uuid(), "
                    "normalizer_version = 0")
    conn.commit()
    assert materialize(instance, TODAY, TODAY, selection=[mining.raw_errors, mining.normalized_errors]).success
    with conn.cursor() as cur:
        cur.execute("SELECT norm_error, normalizer_version = normalizer_version() FROM agent_errors")
        norm, current = cur.fetchone()
    assert norm != "stale" and current


def test_schedule_tick_requests_yesterday_and_today_and_the_run_proposes(sample_store, project, instance):
    when = datetime.combine(TODAY, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=12)
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    request = mining.mining_every_6_hours(context)
    assert request.tags[RANGE_START_TAG] == str(TODAY - timedelta(days=1))
    assert request.tags[RANGE_END_TAG] == str(TODAY)
    assert mining.mining_every_6_hours.cron_schedule == "0 */6 * * *"
    assert mining.mining_every_6_hours.default_status == dg.DefaultScheduleStatus.RUNNING
    from skillsmith_assets.definitions import defs as code_location

    job = code_location().resolve_job_def("mining_job")
    result = job.execute_in_process(instance=instance, tags=request.tags,
                                    resources={"error_store": ErrorStore()})
    assert result.success
    partitions = {e.event_specific_data.materialization.partition for e in result.get_asset_materialization_events()
                  if e.event_specific_data.materialization.asset_key.to_user_string() == "raw_errors"}
    assert partitions == {str(TODAY - timedelta(days=1)), str(TODAY)}
    assert proposal_docs(project)


def test_hostile_messages_become_safe_proposals(database, project, instance):
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    hostile = [
        'KeyError: "x"\nstatus: approved\nkind: fixer',
        "ValueError: ping @octocat about #123 <script>alert(1)</script> ```",
        "ValueError: regex (.*)+[a-z]{1,99999}\\1 ^$ |",
        f"PermissionError: token {secret} rejected",
        "MemoryError: " + "y" * 200_000,
    ]
    events = [{"error": msg, "component": "agent.hostile", "ts": f"{TODAY}T{h:02d}:00:00Z", "id": f"{i}-{h}"}
              for i, msg in enumerate(hostile) for h in range(3)]
    load_events(database, events)
    assert materialize(instance, TODAY, TODAY).success
    docs = proposal_docs(project)
    assert len(docs) == len(hostile)
    for path in (project / "skills" / "proposed").glob("*.yaml"):
        text = path.read_text()
        assert secret not in text
        doc = yaml.safe_load(text)
        assert doc["status"] == "proposed" and validate_skill(doc, expected_status="proposed") == []


# --- command line and UI -------------------------------------------------------------------

def test_mine_command_prints_and_writes_proposals(sample_store, project, tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path / "dh"), "SKILLSMITH_PROJECT_DIR": str(project)}
    (tmp_path / "dh").mkdir()
    result = run_cli("mine", "--min_hits", "3", "--top", "4", env=env)
    assert result.returncode == 0, result.stderr
    assert "New candidates by impact" in result.stdout and "4 written" in result.stdout
    assert len(proposal_docs(project)) == 4
    again = run_cli("mine", "--min-hits", "3", "--top", "4", env=env)
    assert again.returncode == 0 and "0 written" in again.stdout


def test_definitions_validate(tmp_path):
    dg_cli = Path(sys.executable).with_name("dg")
    result = subprocess.run([str(dg_cli), "check", "defs"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "DAGSTER_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webserver_serves_the_lineage(tmp_path):
    port = _free_port()
    home = tmp_path / "dh"
    home.mkdir()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen([str(webserver), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"], cwd=ROOT,
                            env={**os.environ, "DAGSTER_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    query = {"query": "{ assetNodes { assetKey { path } dependencyKeys { path } } }"}
    try:
        deadline = time.monotonic() + 120
        nodes = None
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", json.dumps(query).encode(),
                                                 {"Content-Type": "application/json"})
                payload = json.loads(urllib.request.urlopen(request, timeout=10).read())
                nodes = payload["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert nodes, "the webserver did not answer"
    deps = {n["assetKey"]["path"][-1]: {d["path"][-1] for d in n["dependencyKeys"]} for n in nodes}
    chain = ["raw_errors", "normalized_errors", "error_signatures", "error_candidates", "skill_proposals"]
    for upstream, downstream in zip(chain, chain[1:]):
        assert upstream in deps[downstream], (upstream, downstream, deps.get(downstream))
