"""Approve, reject, retrain, match, fix and learn: the second half of the skill lifecycle.

Each test works in its own project directory (SKILLSMITH_PROJECT_DIR) holding the
shipped autopatch, its fixture repositories and tests/test_autopatches.py, so
approving a fixer runs the real autopatch tests in a pytest subprocess.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_cli
from skillsmith_assets.skills import confidence, registry
from skillsmith_assets.skills.decisions import LifecycleError, approve, reject
from skillsmith_assets.normalize.message import normalize_event
from skillsmith_assets.skills.runtime import Runtime
from skillsmith_assets.intake.sample_data import TB_SALE
from skillsmith_assets.skills.schema import dump_skill, skill_id

# The shipped examples, found by kind: their ids follow the fingerprint, which follows the normalizer.
SHIPPED_GR_FILE = next((ROOT / "skills").glob("GR-*.yaml"))
SHIPPED_FX_FILE = next((ROOT / "skills").glob("FX-*.yaml"))
SHIPPED_GR, SHIPPED_FX = SHIPPED_GR_FILE.stem, SHIPPED_FX_FILE.stem
SHIPPED_FIXER = SHIPPED_FX.lower()  # its autopatch's name
ACCOUNT_ERROR = "odoo.exceptions.UserError: Cannot delete a posted journal entry (move id {n}) at 2026-11-2{d}T09:14:03Z"
SALE_ERROR = "KeyError: 'partner_id'\n" + TB_SALE
FIXTURES = ROOT / "tests" / "fixtures" / "autopatches"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project with the shipped autopatch, its fixtures and its tests, and no skills yet."""
    root = tmp_path / "project"
    (root / "skills" / "proposed").mkdir(parents=True)
    (root / "autopatches").mkdir()
    (root / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "test_autopatches.py", root / "tests")
    shutil.copytree(FIXTURES / SHIPPED_FIXER, root / "tests" / "fixtures" / "autopatches" / SHIPPED_FIXER)
    shutil.copy(ROOT / "autopatches" / f"{SHIPPED_FIXER}.py", root / "autopatches")
    monkeypatch.setenv("SKILLSMITH_PROJECT_DIR", str(root))
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def skill_doc(kind: str, message: str, component: str | None, status: str = "proposed", regex: str | None = None,
              fingerprint: str | None = None) -> dict:
    fp = fingerprint or normalize_event(message, component).fingerprint
    sid = skill_id(kind, fp)
    action = ({"type": "block", "message": f"Prevented: {message.splitlines()[0][:60]}"} if kind == "guardrail"
              else {"type": "autopatch", "script": f"autopatches/fx-{sid[3:].lower()}.py", "dry_run": True})
    return {
        "id": sid,
        "name": message.splitlines()[0][:60],
        "kind": kind,
        "status": status,
        "match": {"component": component, "message_regex": regex or re.escape(message.splitlines()[0][:40]),
                  "fingerprint": fp},
        "action": action,
        "metadata": {"hits_7d": 12, "hits_30d": 30, "impact_score": 17.4, "auto_generated": True,
                     "pattern": f"p-{fp[:8]}", "fingerprints": [fp]},
    }


def write(root: Path, doc: dict, folder: str = "skills/proposed", comment: str = "# Proposed by Skillsmith.\n") -> Path:
    path = root / folder / f"{doc['id']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comment + dump_skill(doc), encoding="utf-8")
    return path


def guardrail(status="proposed"):
    return skill_doc("guardrail", ACCOUNT_ERROR.format(n=482913, d=0), "odoo.addons.account", status,
                     regex="UserError: Cannot delete a posted journal entry")


def shipped_fixer(status="proposed"):
    """The proposal the shipped fixer was approved from: its id names the shipped autopatch."""
    doc = yaml.safe_load(SHIPPED_FX_FILE.read_text())
    doc["status"] = status
    return doc


def fixer_with_script(root: Path, hex8: str, script: str | None, with_fixtures: bool = True) -> dict:
    """A fixer proposal fx-<hex8> whose autopatch has the given source, on the shipped fixtures."""
    doc = shipped_fixer()
    doc["match"]["fingerprint"] = hex8 + doc["match"]["fingerprint"][8:]
    doc["id"] = "FX-" + hex8.upper()
    doc["action"]["script"] = f"autopatches/fx-{hex8}.py"
    if script is not None:
        (root / "autopatches" / f"fx-{hex8}.py").write_text(script)
    if with_fixtures:
        shutil.copytree(FIXTURES / SHIPPED_FIXER, root / "tests" / "fixtures" / "autopatches" / f"fx-{hex8}")
    return doc


# ---------------------------------------------------------------- approve


def test_approve_guardrail_deploys_it_and_keeps_the_reviewed_text(project):
    doc = guardrail()
    source = write(project, doc)
    decision = approve(doc["id"].lower())
    target = project / "skills" / f"{doc['id']}.yaml"
    assert decision.path == target and not source.exists()
    text = target.read_text()
    assert text.startswith("# Proposed by Skillsmith.\n"), "the file the reviewer saw is kept, only status changes"
    assert yaml.safe_load(text) == {**doc, "status": "approved"}
    deployed = registry.load()
    assert [s["id"] for s in deployed["skills"]] == [doc["id"]]
    assert "registry rebuilt" in decision.registry_note


def test_approve_fixer_runs_its_tests_and_stays_dry_run(project):
    doc = shipped_fixer()
    write(project, doc)
    done = run_cli("approve", doc["id"], cwd=project)
    assert done.returncode == 0, done.stderr
    assert "dry run" in done.stdout
    approved = yaml.safe_load((project / "skills" / f"{doc['id']}.yaml").read_text())
    assert approved["status"] == "approved" and approved["action"]["dry_run"] is True
    assert not list((project / "skills" / "proposed").iterdir())


def test_approve_live_turns_dry_run_off(project):
    doc = shipped_fixer()
    write(project, doc)
    decision = approve(doc["id"], live=True)
    assert decision.dry_run is False
    assert yaml.safe_load(decision.path.read_text())["action"]["dry_run"] is False
    assert registry.load()["skills"][0]["action"]["dry_run"] is False


def _unknown(root):
    write(root, guardrail())
    return "GR-00000000", "no proposal GR-00000000"


def _invalid_yaml(root):
    doc = guardrail()
    (root / "skills" / "proposed" / f"{doc['id']}.yaml").write_text("id: GR-1\nname: [unclosed\n  kind: :\n")
    return doc["id"], "not valid YAML"


def _invalid_schema(root):
    doc = guardrail()
    doc["match"]["message_regex"] = "(a+)+$"
    write(root, doc)
    return doc["id"], "catastrophic backtracking"


def _regex_misses_its_samples(root):
    doc = guardrail()
    doc["metadata"]["samples"] = ["odoo.exceptions.UserError: Cannot delete a posted journal entry (move id <int>) at <ts>"]
    doc["match"]["message_regex"] = "move id 482913"  # raw text: the regex is searched in the normalized message
    write(root, doc)
    return doc["id"], "does not match its own sample"


def _missing_autopatch(root):
    doc = fixer_with_script(root, "0a0a0a0a", None, with_fixtures=False)
    write(root, doc)
    return doc["id"], "does not exist"


def _autopatch_does_not_import(root):
    doc = fixer_with_script(root, "0b0b0b0b", "import a_module_that_is_not_there\n\ndef apply(repo_dir):\n    return False\n")
    write(root, doc)
    return doc["id"], "does not import"


def _failing_tests(root):
    # Claims a repair but changes nothing: test_applies_the_repair fails.
    doc = fixer_with_script(root, "0c0c0c0c", "def apply(repo_dir):\n    return True\n")
    write(root, doc)
    return doc["id"], "tests of fx-0c0c0c0c fail"


def _no_tests(root):
    doc = fixer_with_script(root, "0d0d0d0d", "def apply(repo_dir):\n    return False\n", with_fixtures=False)
    write(root, doc)
    return doc["id"], "tests of fx-0d0d0d0d fail"


def _fingerprint_already_deployed(root):
    doc = guardrail()
    write(root, {**doc, "status": "approved"}, folder="skills")
    other = {**doc, "name": "the same error, proposed again"}
    write(root, other)
    return doc["id"], "already"


@pytest.mark.parametrize("case", [_unknown, _invalid_yaml, _invalid_schema, _regex_misses_its_samples, _missing_autopatch,
                                  _autopatch_does_not_import, _failing_tests, _no_tests,
                                  _fingerprint_already_deployed])
def test_approve_refusals_change_nothing(project, case):
    sid, reason = case(project)
    before = snapshot(project)
    with pytest.raises(LifecycleError, match=re.escape(reason)):
        approve(sid)
    assert snapshot(project) == before


def test_approve_refusal_on_the_command_line(project):
    _missing_autopatch(project)
    before = snapshot(project)
    done = run_cli("approve", "FX-0A0A0A0A", cwd=project)
    assert done.returncode == 1
    assert "fx-0a0a0a0a.py does not exist" in done.stderr and "Nothing was changed" in done.stderr
    assert snapshot(project) == before


# ---------------------------------------------------------------- reject


def test_reject_records_who_why_when_and_the_pattern(project):
    doc = guardrail()
    write(project, doc)
    done = run_cli("reject", doc["id"], "--reason", "Deleting is right for drafts; the message misleads",
                   "--by", "maria", cwd=project)
    assert done.returncode == 0, done.stderr
    assert not (project / "skills" / "proposed" / f"{doc['id']}.yaml").exists()
    record = yaml.safe_load((project / "skills" / "rejected" / f"{doc['id']}.yaml").read_text())
    assert record["status"] == "rejected"
    assert record["match"]["fingerprint"] == doc["match"]["fingerprint"]
    assert record["metadata"]["pattern"] == doc["metadata"]["pattern"]
    assert record["metadata"]["fingerprints"] == doc["metadata"]["fingerprints"]
    assert record["rejection"]["reason"] == "Deleting is right for drafts; the message misleads"
    assert record["rejection"]["by"] == "maria"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["rejection"]["at"])
    with pytest.raises(LifecycleError, match="was rejected"):
        approve(doc["id"])


@pytest.mark.parametrize("sid_reason", [("GR-00000000", "not needed"), (None, "   ")])
def test_reject_refusals_change_nothing(project, sid_reason):
    doc = guardrail()
    write(project, doc)
    sid, reason = sid_reason
    before = snapshot(project)
    with pytest.raises(LifecycleError):
        reject(sid or doc["id"], reason)
    assert snapshot(project) == before


def test_reject_refuses_invalid_yaml(project):
    sid, _ = _invalid_yaml(project)
    before = snapshot(project)
    done = run_cli("reject", sid, "--reason", "noise", cwd=project)
    assert done.returncode == 1 and "not valid YAML" in done.stderr
    assert snapshot(project) == before


# ---------------------------------------------------------------- retrain


def test_manual_mv_and_sed_route_still_deploys(project):
    doc = guardrail()
    source = write(project, doc)
    target = project / "skills" / source.name
    shutil.move(source, target)  # mv skills/proposed/X.yaml skills/
    target.write_text(target.read_text().replace("status: proposed", "status: approved"))  # sed -i
    done = run_cli("retrain", cwd=project)
    assert done.returncode == 0, done.stderr
    assert [s["id"] for s in registry.load()["skills"]] == [doc["id"]]
    event = {"error": ACCOUNT_ERROR.format(n=700001, d=3), "component": "odoo.addons.account"}
    found = run_cli("check", input=json.dumps(event), cwd=project)
    assert found.returncode == 0 and json.loads(found.stdout)["id"] == doc["id"]


def _bad(root, doc, text=None, name=None):
    path = root / "skills" / (name or f"{doc['id']}.yaml")
    path.write_text(text if text is not None else dump_skill(doc))
    return path.name


def _r_yaml(root):
    return _bad(root, guardrail("approved"), text="id: GR-ABCD1234\nmatch: {component: [\n")


def _r_schema(root):
    doc = guardrail("approved")
    del doc["action"]["message"]
    return _bad(root, doc)


def _r_unsafe_regex(root):
    doc = guardrail("approved")
    doc["match"]["message_regex"] = r"(\w+\s?)*posted"
    return _bad(root, doc)


def _r_regex_does_not_compile(root):
    doc = guardrail("approved")
    doc["match"]["message_regex"] = "Cannot delete (a posted"
    return _bad(root, doc)


def _r_duplicate_fingerprint(root):
    # a guardrail for the very error the approved fixer already handles
    doc = skill_doc("guardrail", "KeyError: 'partner_id'", "odoo.addons.sale", "approved",
                    fingerprint=shipped_fixer()["match"]["fingerprint"])
    return _bad(root, doc)


def _r_missing_script(root):
    doc = skill_doc("fixer", "ValueError: bad sequence in ir.sequence", "odoo.base", "approved")
    return _bad(root, doc)


def _r_still_proposed(root):
    return _bad(root, guardrail("proposed"))


def _r_wrong_file_name(root):
    return _bad(root, guardrail("approved"), name="journal-guardrail.yaml")


@pytest.mark.parametrize("case,problem", [
    (_r_yaml, "not valid YAML"),
    (_r_schema, "action.message"),
    (_r_unsafe_regex, "nests a repeat"),
    (_r_regex_does_not_compile, "does not compile"),
    (_r_duplicate_fingerprint, "already handled by approved skill FX-"),
    (_r_missing_script, "does not exist"),
    (_r_still_proposed, "status is proposed"),
    (_r_wrong_file_name, "file name must start with"),
])
def test_retrain_catches_each_invalid_skill_and_keeps_the_deployed_registry(project, case, problem):
    write(project, shipped_fixer("approved"), folder="skills")
    assert registry.retrain().ok
    deployed = registry.registry_path().read_bytes()
    name = case(project)
    result = registry.retrain()
    assert not result.ok and not result.written
    assert any(p.startswith(f"skills/{name}:") and problem in p for p in result.problems), result.problems
    assert registry.registry_path().read_bytes() == deployed
    done = run_cli("retrain", cwd=project)
    assert done.returncode == 1 and name in done.stderr


def test_shipped_skills_are_valid_and_match_realistic_errors(monkeypatch):
    monkeypatch.setenv("SKILLSMITH_PROJECT_DIR", str(ROOT))
    built = registry.build()
    assert built.ok, built.problems
    assert {s["id"]: s["kind"] for s in built.skills} == {SHIPPED_GR: "guardrail", SHIPPED_FX: "fixer"}
    runtime = Runtime(built.registry, record_outcomes=False)
    account = runtime.match({"error": ACCOUNT_ERROR.format(n=918273, d=5), "component": "odoo.addons.account"})
    sale = runtime.match({"error": SALE_ERROR.format(n1=611, n2=247), "component": "odoo.addons.sale"})
    assert account.skill_id == SHIPPED_GR and account.message.startswith("Prevented:")
    assert sale.skill_id == SHIPPED_FX and sale.action["script"] == f"autopatches/{SHIPPED_FIXER}.py"


# ---------------------------------------------------------------- runtime


@pytest.fixture
def deployed(project):
    """The project with the guardrail and the shipped fixer approved and compiled."""
    write(project, guardrail("approved"), folder="skills")
    write(project, shipped_fixer("approved"), folder="skills")
    assert registry.retrain().ok
    return project


def test_match_picks_the_right_skill_and_none_for_unrelated_errors(deployed):
    runtime = Runtime(record_outcomes=False)
    exact = runtime.match({"error": ACCOUNT_ERROR.format(n=482913, d=0), "component": "odoo.addons.account"})
    assert (exact.skill_id, exact.kind, exact.matched_by) == (guardrail()["id"], "guardrail", "fingerprint")
    other_move = runtime.match({"error": ACCOUNT_ERROR.format(n=5550001, d=7) + " by agent 7",
                                "component": "odoo.addons.account"})
    assert (other_move.skill_id, other_move.matched_by) == (guardrail()["id"], "regex")
    fixer = runtime.match({"error": SALE_ERROR.format(n1=633, n2=207), "component": "odoo.addons.sale"})
    assert (fixer.skill_id, fixer.kind, fixer.dry_run) == (SHIPPED_FX, "fixer", True)
    assert runtime.match({"error": "KeyError: 'product_id' while computing order SO2026-10442 lines",
                          "component": "odoo.addons.sale"}) is None
    assert runtime.match({"error": "TimeoutError: request to https://erp.example.com:8069/jsonrpc timed out",
                          "component": "agent.http"}) is None
    # the right message from another component is not this skill's error
    assert runtime.match({"error": ACCOUNT_ERROR.format(n=1, d=1), "component": "odoo.addons.stock"}) is None


def test_a_damaged_or_missing_registry_falls_back_to_the_skill_files(deployed):
    event = {"error": ACCOUNT_ERROR.format(n=31337, d=2), "component": "odoo.addons.account"}
    registry.registry_path().write_text('{"format": 1, "skills": [')
    assert Runtime(record_outcomes=False).match(event).skill_id == guardrail()["id"]
    registry.registry_path().unlink()
    assert Runtime(record_outcomes=False).match(event).skill_id == guardrail()["id"]


def test_component_bound_skill_wins_over_a_catch_all(deployed):
    catch_all = skill_doc("guardrail", "KeyError: 'partner_id' anywhere", None, "approved", regex="KeyError")
    write(deployed, catch_all, folder="skills")
    assert registry.retrain().ok
    runtime = Runtime(record_outcomes=False)
    assert runtime.match({"error": SALE_ERROR.format(n1=1, n2=2), "component": "odoo.addons.sale"}).skill_id == SHIPPED_FX
    assert runtime.match({"error": "KeyError: 'x'", "component": "agent.runner"}).skill_id == catch_all["id"]


def test_fixer_dry_run_reports_the_diff_and_live_run_repairs(deployed, tmp_path):
    runtime = Runtime(record_outcomes=False)
    hit = runtime.match({"error": SALE_ERROR.format(n1=640, n2=230), "component": "odoo.addons.sale"})
    repo = tmp_path / "acme-addons"
    shutil.copytree(FIXTURES / SHIPPED_FIXER / "before", repo)
    original = snapshot(repo)

    dry = runtime.fix(hit, repo)
    assert dry.outcome == "dry_run_diff" and dry.dry_run
    assert "-        partner = self.env[\"res.partner\"].browse(vals['partner_id'])" in dry.diff
    assert "+        partner = self.env[\"res.partner\"].browse(vals.get('partner_id'))" in dry.diff
    assert dry.changed_files == ["addons/sale_agent_sync/models/sale_order.py"]
    assert snapshot(repo) == original

    live = runtime.fix(hit, repo, dry_run=False)
    assert (live.outcome, live.changed_files) == ("fixed", ["addons/sale_agent_sync/models/sale_order.py"])
    assert snapshot(repo) == snapshot(FIXTURES / SHIPPED_FIXER / "after")
    again = runtime.fix(hit, repo, dry_run=False)
    assert again.outcome == "fix_failed" and "nothing to change" in again.error


@pytest.mark.parametrize("body,expected", [
    ("    open(os.path.join(repo_dir, 'half.txt'), 'w').write('x')\n    raise RuntimeError('boom')\n", "RuntimeError: boom"),
    ("    os._exit(3)\n", "exited with status 3"),
    ("    while True:\n        time.sleep(0.05)\n", "timed out"),
    ("    return 'yes'\n", "not True or False"),
])
def test_a_misbehaving_autopatch_is_contained(deployed, tmp_path, body, expected):
    (deployed / "autopatches" / f"{SHIPPED_FIXER}.py").write_text(f"import os, time\n\ndef apply(repo_dir):\n{body}")
    runtime = Runtime(record_outcomes=False)
    hit = runtime.match({"error": SALE_ERROR.format(n1=640, n2=230), "component": "odoo.addons.sale"})
    repo = tmp_path / "acme-addons"
    shutil.copytree(FIXTURES / SHIPPED_FIXER / "before", repo)
    original = snapshot(repo)
    result = runtime.fix(hit, repo, dry_run=False, timeout=1)
    assert result.outcome == "fix_failed" and expected in result.error
    assert snapshot(repo) == original, "a failed patch leaves the repository as it was"


# ---------------------------------------------------------------- learning


def test_wilson_lower_bound_is_cautious_with_few_outcomes():
    assert confidence.wilson_lower_bound(0, 0) == 0.0
    assert confidence.wilson_lower_bound(3, 3) == pytest.approx(0.4385, abs=1e-4)
    assert confidence.wilson_lower_bound(30, 30) > confidence.wilson_lower_bound(3, 3)
    assert confidence.wilson_lower_bound(27, 30) < confidence.wilson_lower_bound(30, 30)


def test_confidence_moves_as_outcomes_are_recorded(deployed, database, conn, tmp_path):
    runtime = Runtime()  # the database fixture sets SKILLSMITH_DATABASE_URL, so outcomes are recorded
    gr_event = {"error": ACCOUNT_ERROR.format(n=482913, d=0), "component": "odoo.addons.account"}
    gr_id = guardrail()["id"]

    def gr_confidence():
        conn.rollback()
        return {c.skill_id: c for c in confidence.skill_confidences(conn, [gr_id])}[gr_id]

    assert gr_confidence().confidence == 0.0
    for _ in range(3):
        assert runtime.guard(runtime.match(gr_event)).startswith("Prevented:")
    three = gr_confidence()
    assert three.successes == 3 and 0.4 < three.confidence < 0.5
    for _ in range(7):
        runtime.guard(runtime.match(gr_event))
    ten = gr_confidence()
    assert ten.confidence > three.confidence and not ten.flagged
    runtime.report_false_positive(gr_id, None, "blocked a draft entry")
    assert gr_confidence().confidence < ten.confidence
    for _ in range(12):
        runtime.report_false_positive(gr_id, None, "blocked a draft entry")
    assert gr_confidence().flagged

    hit = runtime.match({"error": SALE_ERROR.format(n1=640, n2=230), "component": "odoo.addons.sale"})
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / SHIPPED_FIXER / "before", repo)
    assert runtime.fix(hit, repo).outcome == "dry_run_diff"
    assert runtime.fix(hit, repo, dry_run=False).outcome == "fixed"
    assert runtime.fix(hit, repo, dry_run=False).outcome == "fix_failed"
    runtime.close()
    conn.rollback()
    metrics = confidence.outcome_metrics(conn)
    assert (metrics["errors_prevented"], metrics["fixes_applied"], metrics["fixes_failed"]) == (10, 1, 1)
    assert metrics["fix_rate"] == 0.5 and metrics["dry_run_diffs"] == 1
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM skill_outcomes WHERE outcome = 'dry_run_diff' AND detail LIKE '%%vals.get%%'")
        assert cur.fetchone()[0] == 1


def test_outcomes_never_break_the_agent_when_the_database_is_down(deployed, monkeypatch):
    monkeypatch.setenv("SKILLSMITH_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    runtime = Runtime()
    hit = runtime.match({"error": ACCOUNT_ERROR.format(n=1, d=1), "component": "odoo.addons.account"})
    assert runtime.guard(hit).startswith("Prevented:")
    assert runtime.record(hit.skill_id, hit.fingerprint, "prevented") is False


def test_registry_and_confidence_assets(deployed, database, conn):
    import dagster as dg

    from skillsmith_assets.defs.lifecycle import skill_confidence, skill_registry
    from skillsmith_assets.defs.resources import ErrorStore

    with conn.cursor() as cur:
        cur.executemany("INSERT INTO skill_outcomes (skill_id, outcome) VALUES (%s, %s)",
                        [(guardrail()["id"], "prevented")] * 8 + [(SHIPPED_FX, "fix_failed")] * 6)
    conn.commit()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([skill_registry, skill_confidence], instance=instance,
                                resources={"error_store": ErrorStore()})
        assert result.success
        reg = result.asset_materializations_for_node("skill_registry")[0].metadata
        conf = result.asset_materializations_for_node("skill_confidence")[0].metadata
        checks = result.get_asset_check_evaluations()
    assert (reg["approved_skills"].value, reg["guardrails"].value, reg["fixers"].value) == (2, 1, 1)
    assert guardrail()["id"] in reg["preview"].value
    assert conf["errors_prevented"].value == 8 and conf["fix_rate"].value == 0.0
    assert conf["skills_flagged"].value == 1 and SHIPPED_FX in conf["preview"].value
    assert [c.passed for c in checks] == [False]


def test_registry_asset_fails_on_an_invalid_skill(deployed):
    import dagster as dg

    from skillsmith_assets.defs.lifecycle import skill_registry

    _r_unsafe_regex(deployed)
    deployed_text = registry.registry_path().read_bytes()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([skill_registry], instance=instance, raise_on_error=False)
    assert not result.success
    assert registry.registry_path().read_bytes() == deployed_text


# ---------------------------------------------------------------- skillsmith check


def test_check_exit_codes(deployed):
    hit = run_cli("check", input=json.dumps({"error": SALE_ERROR.format(n1=650, n2=222),
                                               "component": "odoo.addons.sale"}), cwd=deployed)
    assert hit.returncode == 0, hit.stderr
    found = json.loads(hit.stdout)
    assert found["id"] == SHIPPED_FX and found["action"] == {
        "type": "autopatch", "script": f"autopatches/{SHIPPED_FIXER}.py", "dry_run": True}
    miss = run_cli("check", input=json.dumps({"error": "ZeroDivisionError: division by zero"}), cwd=deployed)
    assert miss.returncode == 1 and miss.stdout == ""
    bad = run_cli("check", input="not json", cwd=deployed)
    assert bad.returncode == 2


# ---------------------------------------------------------------- with the miner


def test_a_rejected_pattern_is_not_proposed_again_by_the_miner(project, database, tmp_path):
    from skillsmith_assets.intake.sample_data import generate_events

    env = {"DAGSTER_HOME": str(tmp_path / "dagster_home")}
    (tmp_path / "dagster_home").mkdir()
    events = "\n".join(json.dumps(e) for e in generate_events(900, days=10, seed=5)) + "\n"
    assert run_cli("ingest", "-", input=events, env=env, cwd=project).returncode == 0

    def mine(top=3):
        done = run_cli("mine", "--top", str(top), "--days", "10", env=env, cwd=project)
        assert done.returncode == 0, done.stderr
        return {p.stem: yaml.safe_load(p.read_text()) for p in (project / "skills" / "proposed").glob("*.yaml")}

    first = mine()
    assert len(first) == 3
    rejected_id, rejected = sorted(first.items())[0]
    done = run_cli("reject", rejected_id, "--reason", "expected during month-end closing", env=env, cwd=project)
    assert done.returncode == 0, done.stderr
    second = mine()
    assert rejected_id not in second
    assert set(second) == set(first) - {rejected_id}  # the top 3 again: nothing new, the rejected one gone
    second = mine(top=6)  # a wider window reaches new patterns, never the rejected one
    assert rejected_id not in second and len(second) == 5
    fingerprints = {d["match"]["fingerprint"] for d in second.values()}
    assert rejected["match"]["fingerprint"] not in fingerprints
    assert (project / "skills" / "rejected" / f"{rejected_id}.yaml").is_file()
