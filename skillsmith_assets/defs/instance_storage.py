"""Dagster's Postgres storage (runs, event log, schedules) keeping its connections open.

dagster-postgres connects anew for every read and write: a mining run stores about 36
events and opened about 100 connections, 2-3 ms each on a local socket (a third of the
tick's time) and more over TLS to a managed server. Here each of the three storages keeps
one connection for the life of the process, as Dagster's webserver already does, and opens
more only while several threads use it at once. A process holds three connections: the
daemon, the webserver and each run worker (and each step process of a multiprocess run).
"""

from __future__ import annotations

from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

# A connection older than this is replaced when next taken (server-side idle timeouts).
POOL_RECYCLE_SECONDS = 3600
# Connections beyond the kept one, opened and closed while threads of one process overlap.
MAX_OVERFLOW = 10
# No limit of our own on a statement's time (the webserver sets one for its queries).
NO_STATEMENT_TIMEOUT = 0


class PooledPostgresStorage(DagsterPostgresStorage):
    """``storage: postgres`` with pooled connections; configured exactly like it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for storage in (self.run_storage, self.event_log_storage, self.schedule_storage):
            storage.optimize_for_webserver(NO_STATEMENT_TIMEOUT, POOL_RECYCLE_SECONDS, MAX_OVERFLOW)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
