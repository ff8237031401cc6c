"""Dagster's Postgres storage (runs, event log, schedules) keeping its connections open.

dagster-postgres connects anew for every read and write: a mining run stores about 36
events and opened about 100 connections, 2-3 ms each on a local socket (a third of the
tick's time) and more over TLS to a managed server. Here each of the three storages keeps
one connection for the life of the process, as Dagster's webserver already does, and opens
more only while several threads use it at once. A process holds three connections: the
daemon, the webserver and each run worker (and each step process of a multiprocess run).

The storages also ask the catalog, again and again, whether a table or column exists
(``has_table`` on a second connection inside a transaction of the first): a mining run
made about 25 such probes and 7 connections for them. A probe that found its table or
column is answered from memory after that; one that did not is asked again, so a
migration that adds it is seen at once.
"""

from __future__ import annotations

import functools

from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

# A connection older than this is replaced when next taken (server-side idle timeouts).
POOL_RECYCLE_SECONDS = 3600
# Connections beyond the kept one, opened and closed while threads of one process overlap.
MAX_OVERFLOW = 10
# No limit of our own on a statement's time (the webserver sets one for its queries).
NO_STATEMENT_TIMEOUT = 0


# The storages' schema probes whose True answers are kept (a table or column, once there, stays).
RUN_SCHEMA_PROBES = ("has_backfill_id_column", "has_run_stats_index_cols")
EVENT_LOG_SCHEMA_PROBES = ("has_table", "has_asset_key_col")


def remember_found(probe):
    """``probe`` answering True from memory for arguments it once answered True for."""
    found = set()

    @functools.wraps(probe)
    def remembered(*args):
        if args in found:
            return True
        answer = probe(*args)
        if answer:
            found.add(args)
        return answer

    return remembered


class PooledPostgresStorage(DagsterPostgresStorage):
    """``storage: postgres`` with pooled connections; configured exactly like it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for storage in (self.run_storage, self.event_log_storage, self.schedule_storage):
            storage.optimize_for_webserver(NO_STATEMENT_TIMEOUT, POOL_RECYCLE_SECONDS, MAX_OVERFLOW)
        for storage, probes in ((self.run_storage, RUN_SCHEMA_PROBES), (self.event_log_storage, EVENT_LOG_SCHEMA_PROBES)):
            for name in probes:
                setattr(storage, name, remember_found(getattr(storage, name)))

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
