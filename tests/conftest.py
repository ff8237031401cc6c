"""Real parts for every test: an embedded PostgreSQL (or SKILLSMITH_DATABASE_URL's server),
with a fresh database per test cloned from a template that has the schema applied."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEMPLATE_DB = "skillsmith_test_template"

# The compiled rule table's cache: one for the run, so tests neither read nor leave files in ~/.cache.
if "SKILLSMITH_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["SKILLSMITH_CACHE_DIR"] = tempfile.mkdtemp(prefix="skillsmith-test-cache-")
    atexit.register(shutil.rmtree, os.environ["SKILLSMITH_CACHE_DIR"], ignore_errors=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def server_dir(prefix: str) -> Path:
    """A directory the embedded server's own system user can reach.

    Not under pytest's tmp tree: each pytest session resets /tmp/pytest-of-<user> to
    mode 0700, which would lock the server out of a data directory placed there.
    """
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def pg_admin_url():
    """A server URL with rights to create databases; started once per session, deleted after."""
    url = os.environ.get("SKILLSMITH_TEST_ADMIN_URL")
    if url:
        return url
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    server = pgserver.get_server(server_dir("skillsmith-test-pg-") / "data", cleanup_mode="delete")
    return server.get_uri()


@pytest.fixture(scope="session")
def schema_template(pg_admin_url):
    import psycopg2

    from skillsmith_assets.store import db

    admin = psycopg2.connect(pg_admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        cur.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    db.apply_schema(db.DatabaseTarget(with_database(pg_admin_url, TEMPLATE_DB), "test template", "-"))
    yield TEMPLATE_DB
    admin.close()


@pytest.fixture
def database(pg_admin_url, schema_template, monkeypatch):
    """A fresh database with the schema, set as SKILLSMITH_DATABASE_URL for code and subprocesses."""
    import psycopg2

    from skillsmith_assets.store import db

    name = "t_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(pg_admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} TEMPLATE {schema_template}")
    url = with_database(pg_admin_url, name)
    monkeypatch.setenv("SKILLSMITH_DATABASE_URL", url)
    yield db.DatabaseTarget(url, "SKILLSMITH_DATABASE_URL", "test database")
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture
def empty_database(pg_admin_url):
    """The URL of a new database without Skillsmith's schema (a Dagster instance's, say), dropped after."""
    import psycopg2

    name = "e_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(pg_admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield with_database(pg_admin_url, name)
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture
def conn(database):
    from skillsmith_assets.store import db

    connection = db.connect(database)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Keep tests away from the repository's own .skillsmith/ and skills/."""
    monkeypatch.setenv("SKILLSMITH_HOME", str(tmp_path / ".skillsmith"))
    monkeypatch.delenv("SUPABASE_DB_HOST", raising=False)


def run_cli(*args, input: str | bytes | None = None, env: dict | None = None, cwd=None):
    """Run the installed console script as a user would, returning the CompletedProcess."""
    import subprocess

    exe = Path(sys.executable).with_name("skillsmith")
    text = not isinstance(input, bytes)
    return subprocess.run(
        [str(exe), *args], input=input, capture_output=True, text=text, env={**os.environ, **(env or {})},
        cwd=cwd or ROOT, timeout=600,
    )


def sql_normalized(conn, messages, component):
    """(norm_error, kind, fingerprint) of each message from the SQL functions, in order."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT normalize_error_message(m), error_kind(normalize_error_message(m)),
                      error_fingerprint(error_kind(normalize_error_message(m)), %s, m)::text
                 FROM unnest(%s::text[]) WITH ORDINALITY AS u(m, i) ORDER BY i""",
            (component, list(messages)),
        )
        return cur.fetchall()
