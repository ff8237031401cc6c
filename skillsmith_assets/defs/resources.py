"""The error store as a Dagster resource: the same resolution as the CLI (db.resolve_target)."""

from __future__ import annotations

from contextlib import contextmanager

import dagster as dg

from skillsmith_assets.store import db


class ErrorStore(dg.ConfigurableResource):
    """Postgres holding agent_errors. Empty ``database_url``: SKILLSMITH_DATABASE_URL, Supabase, or embedded."""

    database_url: str = ""

    def target(self) -> db.DatabaseTarget:
        if self.database_url:
            return db.DatabaseTarget(self.database_url, "the error_store resource's database_url", "check the URL")
        return db.resolve_target()

    @contextmanager
    def connection(self):
        """A connection with the schema applied; commits on success."""
        target = self.target()
        with db.connection(target) as conn:
            if not db.schema_is_current(conn):
                conn.rollback()  # no transaction of ours stays open while the schema changes
                db.apply_schema(target)
            yield conn


defs = dg.Definitions(resources={"error_store": ErrorStore()})
