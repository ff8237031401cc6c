"""An installed wheel works on its own: it carries the schema, and sets up a database from it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_a_built_wheel_carries_and_applies_the_schema(empty_database, tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                            str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("skillsmith-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    shipped = sorted(n for n in names if n.startswith("skillsmith_assets/store/sql/"))
    assert shipped == sorted(f"skillsmith_assets/store/sql/{p.name}" for p in (ROOT / "sql").glob("*.sql"))
    # The extracted wheel, away from the repository, applies its own schema to a fresh database.
    code = ("from skillsmith_assets.store import db; import sys; "
            "assert db.SQL_DIR.is_relative_to(sys.argv[1]), db.SQL_DIR; "
            "print(db.apply_schema(db.resolve_target()))")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "SKILLSMITH_DATABASE_URL": empty_database}
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == repr([n.rsplit("/", 1)[1] for n in shipped])  # every file, applied
