"""The error store: normalization, fingerprints, SQL/Python parity, collector, ingest, normalize CLI."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_cli, sql_normalized
from skillsmith_assets.normalize import rules as normalize_rules, sql_render as sql_functions
from skillsmith_assets.intake.collector import ingest_error
from skillsmith_assets.normalize.message import error_fingerprint, normalize_error_message, normalize_event

SEED_EXAMPLE = "KeyError: 123456 at 2025-11-07T10:00:00Z"


# --- normalization logic -------------------------------------------------------------------

def test_seed_example_normalizes_exactly():
    assert normalize_error_message(SEED_EXAMPLE) == "KeyError: <int> at <ts>"


@pytest.mark.parametrize("step", [s for s in normalize_rules.STEPS if isinstance(s, normalize_rules.Mask)],
                         ids=lambda s: s.name)
def test_each_mask_rewrites_its_example(step):
    assert normalize_error_message(step.example) == step.expected


def test_kind_is_the_exception_class_name():
    assert normalize_event("odoo.exceptions.ValidationError: bad value").kind == "ValidationError"
    assert normalize_event("KeyError: 'partner_id'").kind == "KeyError"
    assert normalize_event("connection reset by peer").kind == "Error"


def test_same_error_different_values_share_a_fingerprint():
    a = normalize_event("KeyError: 123456 at 2025-11-07T10:00:00Z", "odoo.addons.sale")
    b = normalize_event("KeyError: 987654 at 2026-01-02T03:04:05Z", "odoo.addons.sale")
    assert a.fingerprint == b.fingerprint
    assert uuid.UUID(a.fingerprint)


def test_fingerprint_depends_on_kind_component_and_message():
    base = error_fingerprint("KeyError", "sale", "KeyError: 'x'")
    assert base == error_fingerprint("KeyError", "sale", "KeyError: 'x'")  # stable
    assert base != error_fingerprint("KeyError", "stock", "KeyError: 'x'")
    assert base != error_fingerprint("ValueError", "sale", "KeyError: 'x'")
    assert base != error_fingerprint("KeyError", "sale", "KeyError: 'y'")
    # length-prefixed fields: moving text between fields changes the digest
    assert error_fingerprint("a", "bc", "m") != error_fingerprint("ab", "c", "m")


def test_huge_message_is_clipped_keeping_head_and_tail():
    message = "ValueError: start " + "x " * 3_000_000 + " final line"
    norm = normalize_error_message(message)
    assert norm.startswith("ValueError: start")
    assert len(norm) <= 2000


# --- the SQL functions ---------------------------------------------------------------------

def test_generated_sql_file_is_current():
    path = sql_functions.__file__.replace("skillsmith_assets/normalize/sql_render.py", "sql/020_normalize_functions.sql")
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == sql_functions.render(), "regenerate sql/020_normalize_functions.sql"


def test_seed_example_through_sql(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT normalize_error_message(%s), error_fingerprint('KeyError', 'c', %s)",
                    (SEED_EXAMPLE, SEED_EXAMPLE))
        norm, fp = cur.fetchone()
    assert norm == "KeyError: <int> at <ts>"
    assert fp == error_fingerprint("KeyError", "c", SEED_EXAMPLE)


# Fragments that sit on the masks' edges, so generated text exercises boundaries, not just noise.
FRAGMENTS = st.sampled_from([
    "0", "7", "12345", "1762509600", "1762509600123", "-", "_", ".", ":", "T", "Z", "+", " ", "\n", "\t",
    "2025-11-07", "10:00:00", "2025-11-07T10:00:00Z", ".123", "+02:00", "3f2b8c1e-9a4d-4e0f-8b7a-2c1d0e9f8a7b",
    "abcdef", "Error", "KeyError", "odoo.exceptions.", ":", "'partner_id'", "x", "é", "日本", "\u00a0",
    "<int>", "\\", "'", '"', "%", "$", "^", "(", ")", "[", "]",
])
MESSAGES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200),
    st.lists(FRAGMENTS, max_size=25).map("".join),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(MESSAGES, min_size=1, max_size=40), component=st.one_of(st.none(), st.text(max_size=20).filter(lambda s: "\x00" not in s)))
def test_sql_and_python_agree_on_generated_inputs(conn, batch, component):
    for message, (norm, kind, fp) in zip(batch, sql_normalized(conn, batch, component)):
        expected = normalize_event(message, component)
        assert (norm, kind, fp) == (expected.norm_error, expected.kind, expected.fingerprint), repr(message)


# --- schema --------------------------------------------------------------------------------

def test_changed_schema_file_is_reapplied(database, conn, tmp_path, monkeypatch):
    from skillsmith_assets.store import db

    for path in db.schema_files():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(db, "SQL_DIR", tmp_path)
    assert db.apply_schema(database) == []
    (tmp_path / "040_extra.sql").write_text("CREATE TABLE IF NOT EXISTS extra_table (x int);")
    assert db.apply_schema(database) == ["040_extra.sql"]
    assert db.apply_schema(database) == []
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('extra_table') IS NOT NULL")
        assert cur.fetchone()[0]


def test_schema_objects_exist(conn):
    with conn.cursor() as cur:
        cur.execute("""SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'""")
        tables = {row[0] for row in cur.fetchall()}
        cur.execute("""SELECT column_name FROM information_schema.columns WHERE table_name = 'agent_errors'""")
        columns = {row[0] for row in cur.fetchall()}
    assert {"agent_errors", "error_signatures", "error_candidates", "error_daily_counts"} <= tables
    assert {"id", "ts", "error", "component", "tags", "norm_error", "fingerprint",
            "kind", "normalizer_version", "event_key"} <= columns


def _schema_snapshot(conn):
    with conn.cursor() as cur:
        cur.execute("""SELECT table_name, column_name, data_type FROM information_schema.columns
                        WHERE table_schema = 'public' ORDER BY 1, 2""")
        columns = cur.fetchall()
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
        indexes = cur.fetchall()
        cur.execute("""SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
                         JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1""")
        functions = cur.fetchall()
    return columns, indexes, functions


def test_db_setup_twice_changes_nothing(database, conn):
    before = _schema_snapshot(conn)
    for _ in range(2):
        result = run_cli("db-setup")
        assert result.returncode == 0, result.stderr
        assert "SKILLSMITH_DATABASE_URL" in result.stdout and "up to date" in result.stdout
    conn.rollback()
    assert _schema_snapshot(conn) == before


def test_connection_error_names_the_source_and_hides_the_password(tmp_path):
    result = run_cli("db-setup", env={"SKILLSMITH_DATABASE_URL": "postgresql://bob:s3cret@127.0.0.1:1/nowhere"})
    assert result.returncode == 2
    assert "SKILLSMITH_DATABASE_URL" in result.stderr and "What to check" in result.stderr
    assert "s3cret" not in result.stderr


def test_supabase_variables_are_used_when_no_url(monkeypatch):
    from skillsmith_assets.store import db

    monkeypatch.delenv("SKILLSMITH_DATABASE_URL", raising=False)
    monkeypatch.setenv("SUPABASE_DB_HOST", "127.0.0.1")
    monkeypatch.setenv("SUPABASE_DB_USER", "postgres.ref")
    monkeypatch.setenv("SUPABASE_DB_PASSWORD", "p@ss:word")
    monkeypatch.setenv("SUPABASE_DB_NAME", "postgres")
    monkeypatch.setenv("SUPABASE_DB_PORT", "6543")
    target = db.resolve_target()
    assert target.source == "SUPABASE_DB_* variables"
    assert "p%40ss%3Aword" in target.url and ":6543/postgres" in target.url
    assert "p%40ss" not in target.redacted()
    monkeypatch.delenv("SUPABASE_DB_NAME")
    with pytest.raises(db.DatabaseError, match="SUPABASE_DB_NAME"):
        db.resolve_target()


def test_embedded_server_is_shared_by_processes(tmp_path):
    """Two CLI processes against the default (embedded) database, one after and during another."""
    import subprocess
    import sys

    from conftest import server_dir

    home = server_dir("skillsmith-test-home-")
    env = {"SKILLSMITH_HOME": str(home), "SKILLSMITH_DATABASE_URL": ""}
    first = run_cli("db-setup", env=env)
    assert first.returncode == 0, first.stderr
    assert "embedded PostgreSQL" in first.stdout
    exe = str(__import__("pathlib").Path(sys.executable).with_name("skillsmith"))
    import os

    procs = [subprocess.Popen([exe, "ingest", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**os.environ, **env}, text=True) for _ in range(3)]
    outs = [p.communicate(json.dumps({"error": f"E{i}", "id": i}) + "\n", timeout=120) for i, p in enumerate(procs)]
    import shutil

    shutil.rmtree(home, ignore_errors=True)  # the server stopped with its last process
    assert all(p.returncode == 0 for p in procs), outs
    assert all("loaded 1" in out for out, _ in outs), outs


# --- collector -----------------------------------------------------------------------------

def test_collector_stores_and_returns_the_normalized_event(database, conn):
    result = ingest_error({"error": "KeyError: 'partner_id' in order 123456",
                           "component": "odoo.addons.sale", "tags": ["odoo", "sale"]})
    assert result["norm_error"] == "KeyError: 'partner_id' in order <int>"
    assert result["kind"] == "KeyError"
    assert uuid.UUID(result["fingerprint"])
    assert isinstance(result["id"], int) and result["ts"].tzinfo is not None
    with conn.cursor() as cur:
        cur.execute("SELECT error, component, tags, norm_error, fingerprint::text, kind, normalizer_version "
                    "FROM agent_errors WHERE id = %s", (result["id"],))
        row = cur.fetchone()
    assert row == ("KeyError: 'partner_id' in order 123456", "odoo.addons.sale", ["odoo", "sale"],
                   result["norm_error"], result["fingerprint"], "KeyError", normalize_rules.RULES_VERSION)


def test_collector_stores_every_call_and_dedupes_by_id(database, conn):
    event = {"error": "ValueError: x", "ts": "2026-01-01T00:00:00Z", "component": "c"}
    first, second = ingest_error(event), ingest_error(event)  # the same error, reported twice
    assert first["id"] != second["id"]
    retried = [ingest_error({**event, "id": "req-42"}) for _ in range(2)]  # one event, sent twice
    assert retried[0]["id"] == retried[1]["id"]
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM agent_errors")
        assert cur.fetchone()[0] == 3


def test_collector_rejects_an_invalid_event(database):
    from skillsmith_assets.intake.events import RejectedEvent

    with pytest.raises(RejectedEvent, match="'error'"):
        ingest_error({"component": "c"})


# --- ingest --------------------------------------------------------------------------------

def _count(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM agent_errors")
        return cur.fetchone()[0]


def test_ingest_file_with_bad_lines_duplicates_nul_and_huge_message(database, conn, tmp_path):
    huge = "MemoryError: " + ("0123456789abcdef" * 330_000)  # ~5 MB
    good = [
        {"error": "KeyError: 'partner_id'", "component": "odoo.addons.sale", "tags": ["a", 'q"uote', "back\\slash"],
         "ts": "2026-11-01T10:00:00Z"},
        {"error": "line one\nline\ttwo\r\nthree \\ end", "ts": 1762509600},
        {"error": "NUL here:\x00:end", "component": "nul\x00comp"},
        {"error": huge, "ts": "2026-11-02T00:00:00+02:00"},
    ]
    lines = [json.dumps(e) for e in good]
    lines.insert(1, "{not json")
    lines.insert(2, json.dumps({"component": "no error field"}))
    lines.insert(3, json.dumps({"error": 42}))
    lines.insert(4, json.dumps({"error": "x", "tags": "not-a-list"}))
    lines.insert(5, '{"error": "half a pair \\ud800 of surrogates"}')  # valid JSON, not valid Unicode
    lines.insert(6, '{"error": "x", "n": ' + "9" * 5000 + "}")  # json.loads refuses with a ValueError
    lines.append(json.dumps(good[0]))  # the same error again, on its own line: a second event
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_cli("ingest", str(path))
    assert result.returncode == 0, result.stderr
    assert "loaded 5, already present 0, rejected 6" in result.stdout
    for number in (2, 3, 4, 5, 6, 7):
        assert f"events.jsonl:{number}: rejected" in result.stderr
    assert "lone surrogate" in result.stderr and "4300 digits" in result.stderr
    with conn.cursor() as cur:
        cur.execute("SELECT error, component, tags, ts FROM agent_errors ORDER BY id")
        rows = cur.fetchall()
    assert [r[0] for r in rows] == [good[0]["error"], good[1]["error"], "NUL here:\u2400:end", huge, good[0]["error"]]
    assert rows[0][2] == ["a", 'q"uote', "back\\slash"]
    assert rows[2][1] == "nul\u2400comp"
    assert rows[1][3] == datetime.fromtimestamp(1762509600, tz=timezone.utc)
    assert rows[3][3] == datetime(2026, 11, 1, 22, 0, tzinfo=timezone.utc)

    again = run_cli("ingest", str(path))
    assert "loaded 0, already present 5, rejected 6" in again.stdout
    conn.rollback()
    assert _count(conn) == 5


def test_ingest_from_stdin_and_missing_file(database, conn):
    result = run_cli("ingest", "-", input=json.dumps({"error": "E1"}) + "\n" + json.dumps({"error": "E2"}) + "\n")
    assert "loaded 2, already present 0, rejected 0" in result.stdout
    missing = run_cli("ingest", "/nonexistent/file.jsonl")
    assert missing.returncode != 0 and "no such file" in missing.stderr


# --- normalize CLI -------------------------------------------------------------------------

def test_normalize_cli_contract():
    lines = [
        {"error": SEED_EXAMPLE, "component": "odoo.addons.sale", "tags": ["t"], "ts": "2026-01-01T00:00:00Z"},
        {"error": "odoo.exceptions.ValidationError: bad"},
    ]
    payload = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n"
    result = run_cli("normalize", input=payload, env={"SKILLSMITH_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[0]["norm_error"] == "KeyError: <int> at <ts>"
    assert out[0]["kind"] == "KeyError"
    assert out[0]["fingerprint"] == normalize_event(SEED_EXAMPLE, "odoo.addons.sale").fingerprint
    assert out[0]["tags"] == ["t"] and out[0]["ts"] == "2026-01-01T00:00:00Z"  # input fields kept
    assert out[1]["kind"] == "ValidationError"
    assert out[2] == {"line": 3, "rejected": "not JSON: Expecting value"}
    assert "line 3" in result.stderr and result.returncode == 1


@pytest.mark.parametrize("command", ["normalize", "group"])
def test_lines_json_reads_but_that_are_not_events_are_rejected_and_the_rest_goes_on(command):
    payload = ('{"error": "half a pair \\ud800 of surrogates"}\n{"error": "KeyError: 7"}\n'
               '{"error": "x", "n": ' + "9" * 5000 + "}\n")
    result = run_cli(command, input=payload)
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1
    assert out[0] == {"line": 1, "rejected": "'error' or 'component' holds a lone surrogate escape: not valid Unicode"}
    assert out[1]["norm_error"] == "KeyError: <int>"
    assert out[2]["line"] == 3 and out[2]["rejected"].startswith("not JSON: Exceeds the limit (4300 digits)")
    assert "line 1: rejected" in result.stderr and "line 3: rejected" in result.stderr


def test_normalize_cli_text_mode():
    result = run_cli("normalize", "--text", input="KeyError: 123456 at 2025-11-07T10:00:00Z\nplain words\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0
    assert [o["norm_error"] for o in out] == ["KeyError: <int> at <ts>", "plain words"]


def test_normalize_does_not_import_database_or_dagster():
    import subprocess
    import sys

    code = ("import sys, io; sys.stdin = io.TextIOWrapper(io.BytesIO(b'{\"error\": \"x\"}\\n'));"
            "from skillsmith_assets.cli import main\n"
            "try:\n    main(['normalize'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('dagster', 'psycopg2', 'pandas') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "HEAVY []" in out


# --- sample data ---------------------------------------------------------------------------

def test_sample_data_is_ranked_into_candidates(database, conn):
    from skillsmith_assets.mining import steps as mining, rollup
    from skillsmith_assets.intake.sample_data import generate_events
    from skillsmith_assets.store import db

    now = datetime.now(timezone.utc)
    events = list(generate_events(2000, days=30, seed=3, now=now))
    assert min(datetime.fromisoformat(e["ts"]) for e in events) >= now - timedelta(days=30)
    assert len({e["component"] for e in events}) >= 5
    assert any("Traceback" in e["error"] for e in events)
    for event in events[-600:]:  # the newest: the 7-day window
        ingest_error(event, conn=conn)
    conn.commit()
    mining.normalize_window(lambda: db.connection(database), now - timedelta(days=31), now + timedelta(days=1))
    rollup.refresh_signatures(conn, now)
    rollup.refresh_candidates(conn, rollup.CandidateRules(min_hits=2, top_n=10))
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), bool_and(impact_score = round((hits_7d*0.7 + hits_30d*0.3)::numeric, 2)), "
                    "min(hits_7d) FROM error_candidates")
        count, impact_ok, min_hits = cur.fetchone()
    assert 0 < count <= 10 and impact_ok and min_hits >= 2
