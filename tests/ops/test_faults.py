"""Faults a team meets in production, against real servers the tests start, stop and kill.

Recurring errors without ``ts`` or ``id`` are counted; ingest killed with
SIGKILL and re-run loses and doubles nothing; the database dying under
``mine`` fails loudly with its cause and leaves nothing half-written; passwords
in any libpq form never reach a message, a log or the run history; a role that
owns only a schema in a shared database can use Skillsmith; bad input is
reported line by line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import run_cli
from pg_cluster import SUPERUSER, SUPERUSER_PASSWORD, Cluster, wait_for

PASSWORD = "pw-Zq81-hunter"


def _events(count: int, seed: int = 5, days: int = 3) -> list[dict]:
    from skillsmith_assets.intake.sample_data import generate_events

    return list(generate_events(count, days=days, seed=seed))


def _write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e, default=str) + "\n" for e in events), encoding="utf-8")
    return path


def _count(url: str, sql: str = "SELECT count(*), count(DISTINCT event_key) FROM agent_errors"):
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()
    finally:
        conn.close()


@pytest.fixture
def cluster():
    server = Cluster()
    server.start()
    yield server
    server.close()


# --- 1. recurring errors are counted ----------------------------------------------------------

def test_five_collector_calls_store_five_rows(database):
    from skillsmith_assets.intake.collector import ingest_error

    event = {"error": "KeyError: 'partner_id'", "component": "odoo.addons.sale", "tags": ["odoo"]}
    results = [ingest_error(dict(event)) for _ in range(5)]
    assert len({r["id"] for r in results}) == 5
    assert _count(database.url, "SELECT count(*) FROM agent_errors")[0] == 5
    # an id makes a retry safe: the second call returns the first row
    first = ingest_error({**event, "id": "agent-7/req-1"})
    retry = ingest_error({**event, "id": "agent-7/req-1"})
    assert retry["id"] == first["id"] and _count(database.url, "SELECT count(*) FROM agent_errors")[0] == 6


def test_identical_lines_are_events_and_reloading_adds_nothing(database, tmp_path):
    lines = [{"error": "TimeoutError: upstream timed out", "component": "agent"}] * 4
    path = _write_jsonl(tmp_path / "errors.jsonl", lines)
    first = run_cli("ingest", str(path))
    assert first.returncode == 0 and "loaded 4, already present 0" in first.stdout
    again = run_cli("ingest", str(path))
    assert again.returncode == 0 and "loaded 0, already present 4" in again.stdout
    with path.open("a") as handle:  # the log grew: only the new line is new
        handle.write(json.dumps(lines[0]) + "\n")
    grown = run_cli("ingest", str(path))
    assert "loaded 1, already present 4" in grown.stdout


# --- 2. and 3. mine names the cause; passwords never leak -------------------------------------

def test_unreachable_store_is_one_line_without_the_password(tmp_path):
    urls = [f"postgresql://agent@127.0.0.1:1/x?password={PASSWORD}",
            f"postgresql://agent:{PASSWORD}@127.0.0.1:1/x",
            f"host=127.0.0.1 port=1 dbname=x user=agent password='{PASSWORD} with space'",
            f"host=127.0.0.1 port=1 dbname=x user=agent password={PASSWORD}"]
    path = _write_jsonl(tmp_path / "e.jsonl", [{"error": "x"}])
    for url in urls:
        env = {"SKILLSMITH_DATABASE_URL": url, "DAGSTER_HOME": str(tmp_path / "dh")}
        (tmp_path / "dh").mkdir(exist_ok=True)
        for args in (("mine",), ("ingest", str(path)), ("db-setup",)):
            result = run_cli(*args, env=env)
            out = result.stdout + result.stderr
            assert result.returncode == 2, (args, out)
            assert PASSWORD not in out, (args, out)
            assert out.strip().count("\n") == 0 and "Cannot connect" in out and "Connection refused" in out


def test_redaction_covers_every_libpq_form():
    from skillsmith_assets.store.db import DatabaseTarget

    forms = [f"postgresql://u:{PASSWORD}@h/d", f"postgres://u@h/d?password={PASSWORD}&sslmode=require",
             f"postgresql://u@h/d?sslpassword={PASSWORD}", f"host=h password={PASSWORD}",
             f"host=h password='{PASSWORD} \\' x'", f"password = {PASSWORD} host=h", f"postgresql://u:{PASSWORD}@",
             f"not a dsn {PASSWORD} ='"]
    for form in forms:
        shown = DatabaseTarget(form, "test", "-").redacted()  # never raises
        assert PASSWORD not in shown, (form, shown)
    assert DatabaseTarget("postgresql://u@h:5/d?options=-csearch_path%3Dapp", "t", "-").redacted() == \
        "postgresql://u@h:5/d?options=-csearch_path%3Dapp"


def _mine(env: dict, *args: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("skillsmith")
    return subprocess.Popen([str(exe), "mine", "--days", "4", *args], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _active(url: str, pattern: str) -> bool:
    try:
        return _count(url, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
                           f"AND backend_type = 'client backend' AND query ILIKE '{pattern}'")[0] > 0
    except Exception:
        return False


def _waiting(url: str, table: str | None = None) -> bool:
    """A client of the store is waiting for a lock (the test holds it); with ``table``, for a lock
    on that table (days re-normalized side by side also wait briefly for each other's counts lock)."""
    on_table = f"AND l.relation = '{table}'::regclass" if table else ""
    try:
        return _count(url, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                           f"WHERE NOT l.granted AND a.backend_type = 'client backend' {on_table}")[0] > 0
    except Exception:
        return False


def _proposals(project: Path) -> dict[str, str]:
    folder = project / "skills" / "proposed"
    return {p.name: p.read_text() for p in sorted(folder.glob("*"))} if folder.exists() else {}


def test_database_dies_mid_mine(cluster, tmp_path):
    cluster.sql("CREATE DATABASE faults")
    url = f"postgresql://{SUPERUSER}@127.0.0.1:{cluster.port}/faults?password={SUPERUSER_PASSWORD}"
    path = _write_jsonl(tmp_path / "events.jsonl", _events(4000))
    home = tmp_path / "home"
    project = tmp_path / "project"
    (project / "skills").mkdir(parents=True)
    env = {"SKILLSMITH_DATABASE_URL": url, "SKILLSMITH_HOME": str(home), "SKILLSMITH_PROJECT_DIR": str(project)}
    assert run_cli("ingest", str(path), env=env).returncode == 0
    cluster.sql("CREATE DATABASE clean TEMPLATE faults")  # the same data, for a clean run to compare with

    # Hold a lock on error_signatures: the run loads and counts the days, then waits in its
    # signatures step, and the server dies under it there.
    import psycopg2

    blocker = psycopg2.connect(cluster.url(database="faults"))
    with blocker.cursor() as cur:
        cur.execute("LOCK TABLE error_signatures IN ACCESS EXCLUSIVE MODE")
    proc = _mine(env)
    assert wait_for(lambda: _waiting(cluster.url(database="faults"), "error_signatures"), timeout=300), \
        "mining never reached the lock"
    cluster.stop("immediate")
    blocker.close()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    failure = [line for line in err.splitlines() if line.startswith("Mining failed in ")]
    assert failure and len(err.strip().splitlines()) <= 4, err
    cause = failure[0]
    assert cause.startswith("Mining failed in error_signatures: ")  # where it stopped
    assert "OperationalError" in cause and ("server closed" in cause or "terminating" in cause), cause
    assert "connection already closed" not in cause and "InterfaceError" not in cause
    assert not list((project / "skills").rglob("*.tmp")) and _proposals(project) == {}

    # The failure alert carries the same cause; the run history holds no password.
    import dagster as dg

    from skillsmith_assets.defs.operations import run_failure_alert

    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    try:
        instance = dg.DagsterInstance.get()
        run = instance.get_runs(limit=1)[0]
        alert = run_failure_alert(instance, run, None, "http://127.0.0.1:3000/runs/x")
        cause_text = cause.split(": ", 2)[-1]  # "Mining failed in STEP: Class: text" -> text
        assert cause_text[:60] in alert.error and "InterfaceError" not in alert.error, (cause, alert.error)
    finally:
        del os.environ["DAGSTER_HOME"]
    leaked = [p for p in home.rglob("*") if p.is_file() and SUPERUSER_PASSWORD.encode() in p.read_bytes()]
    assert leaked == [] and SUPERUSER_PASSWORD not in out + err

    # Back up: a re-run gives what a clean run gives.
    cluster.start()
    again = _mine(env)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    after_failure = _proposals(project)
    assert after_failure
    clean_project = tmp_path / "clean-project"
    (clean_project / "skills").mkdir(parents=True)
    clean_env = {**env, "SKILLSMITH_DATABASE_URL": url.replace("/faults?", "/clean?"),
                 "SKILLSMITH_HOME": str(tmp_path / "clean-home"), "SKILLSMITH_PROJECT_DIR": str(clean_project)}
    clean = _mine(clean_env)
    clean.communicate(timeout=600)
    assert clean.returncode == 0
    assert _proposals(clean_project) == after_failure


# --- 4. input errors are one line each --------------------------------------------------------

def test_ingest_reports_each_unreadable_input_and_still_counts_the_rest(database, tmp_path):
    good = _write_jsonl(tmp_path / "good.jsonl", [{"error": "KeyError: 'a'"}, {"error": "KeyError: 'b'"}])
    folder = tmp_path / "folder"
    folder.mkdir()
    result = run_cli("ingest", str(good), str(folder), str(tmp_path / "missing.jsonl"))
    assert result.returncode == 1
    assert "loaded 2, already present 0, rejected 0, unreadable inputs 2" in result.stdout
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "is a directory" in errors[0] and "no such file" in errors[1]
    assert "Traceback" not in result.stderr
    assert run_cli("ingest", str(folder)).returncode == 1


def test_bad_lines_are_reported_and_the_rest_loads(database, tmp_path):
    big = "ValueError: " + "x" * (50 * 1024 * 1024)
    path = tmp_path / "mixed.jsonl"
    with path.open("wb") as handle:
        handle.write(b'{"error": "KeyError: \'ok-1\'"}\n')
        handle.write(b'{"error": "bad \xff\xfe bytes"}\n')  # invalid UTF-8
        handle.write(json.dumps({"error": big}).encode() + b"\n")  # a 50 MB line
        handle.write(b'{"error": "KeyError: \'ok-2\'"}\n')
        handle.write(b'{"error": "trunc')  # the last line, cut off
    result = run_cli("ingest", str(path))
    assert result.returncode == 0, result.stderr
    assert "loaded 3, already present 0, rejected 2" in result.stdout
    assert f"{path}:2: rejected: not UTF-8" in result.stderr and f"{path}:5: rejected: not JSON" in result.stderr
    assert _count(database.url, "SELECT max(length(error)) FROM agent_errors")[0] == len(big)


def test_broken_proposal_yaml_is_refused_and_nothing_moves(tmp_path):
    project = tmp_path / "project"
    proposed = project / "skills" / "proposed"
    proposed.mkdir(parents=True)
    (proposed / "GR-0BADF00D.yaml").write_text("id: GR-0BADF00D\nname: [unclosed\n  kind: :\n")
    env = {"SKILLSMITH_PROJECT_DIR": str(project)}
    approve = run_cli("approve", "GR-0BADF00D", env=env)
    assert approve.returncode != 0 and "GR-0BADF00D" in approve.stderr and "Traceback" not in approve.stderr
    assert (proposed / "GR-0BADF00D.yaml").exists() and not (project / "skills" / "GR-0BADF00D.yaml").exists()
    (project / "skills" / "GR-0BADF00D.yaml").write_text("id: GR-0BADF00D\n: : :\n")
    retrain = run_cli("retrain", env=env)
    assert retrain.returncode != 0 and "GR-0BADF00D.yaml" in retrain.stderr + retrain.stdout
    assert "Traceback" not in retrain.stderr


# --- 5. a role that owns only a schema in a shared database -----------------------------------

def test_schema_owner_role_uses_its_own_search_path(cluster, tmp_path):
    cluster.sql("CREATE DATABASE shared")
    # the schema is not named after the role, so the default search_path ("$user", public) misses it
    cluster.sql("CREATE ROLE skillsmith_bot LOGIN PASSWORD 'bot-pw' NOSUPERUSER NOCREATEDB NOCREATEROLE")
    cluster.sql("CREATE SCHEMA app AUTHORIZATION skillsmith_bot", database="shared")
    cluster.sql("REVOKE ALL ON SCHEMA public FROM PUBLIC", database="shared")
    url = cluster.url("skillsmith_bot", "bot-pw", "shared", "options=-csearch_path%3Dapp")
    env = {"SKILLSMITH_DATABASE_URL": url, "SKILLSMITH_HOME": str(tmp_path / "home"),
           "SKILLSMITH_PROJECT_DIR": str(tmp_path / "project")}
    (tmp_path / "project" / "skills").mkdir(parents=True)
    setup = run_cli("db-setup", env=env)
    assert setup.returncode == 0, setup.stderr
    now = datetime.now(timezone.utc)
    events = [{"error": f"KeyError: 'partner_id' #{i}", "component": "sale", "ts": (now - timedelta(hours=i)).isoformat()}
              for i in range(6)]
    ingest = run_cli("ingest", str(_write_jsonl(tmp_path / "e.jsonl", events)), env=env)
    assert ingest.returncode == 0 and "loaded 6" in ingest.stdout, ingest.stderr
    mine = run_cli("mine", "--days", "2", env=env)
    assert mine.returncode == 0, mine.stderr
    rows = _count(cluster.url(database="shared"),
                  "SELECT (SELECT count(*) FROM app.agent_errors), (SELECT count(*) FROM app.error_signatures),"
                  " (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')")
    assert rows[0] == 6 and rows[1] >= 1 and rows[2] == 0


# --- 6. kill -9 mid-ingest; ingest while mining -----------------------------------------------

def test_kill_9_mid_ingest_then_rerun_loses_and_doubles_nothing(cluster, tmp_path):
    import psycopg2

    cluster.sql("CREATE DATABASE faults")
    url = cluster.url(database="faults")
    events = _events(60_000, seed=9)
    first = _write_jsonl(tmp_path / "a.jsonl", events[:20_000])
    second = _write_jsonl(tmp_path / "b.jsonl", events[20_000:])
    env = {"SKILLSMITH_DATABASE_URL": url, "SKILLSMITH_HOME": str(tmp_path / "home")}
    assert run_cli("ingest", str(first), env=env).returncode == 0
    # The second load sends its rows, then waits to insert them (the test holds the table):
    # killed there, its transaction is open and half its work done.
    blocker = psycopg2.connect(url)
    with blocker.cursor() as cur:
        cur.execute("LOCK TABLE agent_errors IN EXCLUSIVE MODE")
    exe = Path(sys.executable).with_name("skillsmith")
    proc = subprocess.Popen([str(exe), "ingest", str(first), str(second)], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_for(lambda: _waiting(url), timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    blocker.rollback()
    blocker.close()
    assert wait_for(lambda: not _waiting(url), timeout=30)
    assert _count(url) == (20_000, 20_000)  # the killed load left nothing
    rerun = run_cli("ingest", str(first), str(second), env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "loaded 40000, already present 20000" in rerun.stdout
    assert _count(url) == (len(events), len(events))


def test_ingest_looping_while_mining_counts_every_event_once(cluster, tmp_path):
    cluster.sql("CREATE DATABASE faults")
    url = cluster.url(database="faults")
    project = tmp_path / "project"
    (project / "skills").mkdir(parents=True)
    env = {"SKILLSMITH_DATABASE_URL": url, "SKILLSMITH_HOME": str(tmp_path / "home"),
           "SKILLSMITH_PROJECT_DIR": str(project)}
    events = _events(12_000, seed=13, days=2)
    batches = [_write_jsonl(tmp_path / f"batch-{i}.jsonl", events[i::6]) for i in range(6)]
    assert run_cli("ingest", str(batches[0]), env=env).returncode == 0
    loader_errors = []

    def loop():
        for path in batches[1:]:
            result = run_cli("ingest", str(path), env=env)
            if result.returncode != 0:
                loader_errors.append(result.stderr)

    loader = threading.Thread(target=loop)
    miner = _mine(env)
    loader.start()
    loader.join(timeout=600)
    out, err = miner.communicate(timeout=600)
    assert miner.returncode == 0 and not loader_errors, err + "".join(loader_errors)
    final = run_cli("mine", "--days", "4", env=env)
    assert final.returncode == 0, final.stderr
    rows, hits = _count(url, "SELECT (SELECT count(*) FROM agent_errors), (SELECT sum(hits_30d) FROM error_signatures)")
    assert rows == len(events) and hits == len(events)


def test_a_dropped_connection_raises_its_own_error_not_the_rollbacks(cluster):
    import psycopg2

    from skillsmith_assets.store import db

    target = db.DatabaseTarget(cluster.url(), "test", "-")
    with pytest.raises(psycopg2.OperationalError):
        with db.connection(target) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
            cluster.sql(f"SELECT pg_terminate_backend({pid})")
            cur.execute("SELECT 1")  # the server is gone: OperationalError, then the rollback fails too


def test_a_libpq_keyword_string_connects_and_is_shown_without_its_password(cluster, tmp_path):
    cluster.sql("CREATE DATABASE kv")
    dsn = f"host=127.0.0.1 port={cluster.port} dbname=kv user={SUPERUSER} password='{SUPERUSER_PASSWORD}'"
    result = run_cli("db-setup", env={"SKILLSMITH_DATABASE_URL": dsn, "SKILLSMITH_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr
    assert "Schema applied" in result.stdout and "password=***" in result.stdout
    assert SUPERUSER_PASSWORD not in result.stdout + result.stderr
