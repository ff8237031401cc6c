"""Store one error event as it happens: the call agents make from their error handlers.

    from skillsmith_assets.intake.collector import ingest_error
    result = ingest_error({"error": "KeyError: 'partner_id'", "component": "odoo.addons.sale", "tags": ["odoo"]})
    result["fingerprint"], result["norm_error"], result["kind"], result["id"], result["ts"]

The event is normalized on the spot (the per-event path), so the row is ready
for mining without waiting for the next normalization run.
"""

from __future__ import annotations

import uuid

from skillsmith_assets.store import db
from skillsmith_assets.intake.events import parse_event
from skillsmith_assets.normalize.message import normalize_event

# A retried call without a time takes the stamp of its first call, so its key (event_key, ts)
# is found within that day's partition.
_STAMP = """
INSERT INTO agent_error_stamps (event_key, ts) VALUES (%(key)s, now()) ON CONFLICT (event_key) DO NOTHING;
SELECT ts FROM agent_error_stamps WHERE event_key = %(key)s
"""
# No conflict target: the key is (event_key) on a store made before partitioning, (event_key, ts) after.
_INSERT = """
INSERT INTO agent_errors (ts, error, component, tags, norm_error, fingerprint, kind, normalizer_version, event_key)
VALUES (coalesce(%(ts)s, now()), %(error)s, %(component)s, %(tags)s, %(norm)s, %(fp)s, %(kind)s, %(version)s, %(key)s)
ON CONFLICT DO NOTHING
RETURNING id, ts
"""


def _store(conn, params: dict, retryable: bool):
    with conn.cursor() as cur:
        if retryable and params["ts"] is None:
            cur.execute(_STAMP, params)
            params = {**params, "ts": cur.fetchone()[0]}
        cur.execute(_INSERT, params)
        row = cur.fetchone()
        if row is None:  # already stored: return the stored row, add nothing
            cur.execute("SELECT id, ts FROM agent_errors WHERE event_key = %(key)s AND ts = %(ts)s", params)
            row = cur.fetchone()
        return row


def ingest_error(event: dict, conn=None) -> dict:
    """Store ``event`` and return it with ``id``, ``ts``, ``norm_error``, ``kind``, ``fingerprint``.

    Every call stores a new row: the same error logged five times is five hits.
    To make retries safe, give the event an ``id`` (or ``event_id``): a second
    call with the same id stores nothing and returns the first row.

    Raises ``events.RejectedEvent`` for an invalid event and ``db.DatabaseError``
    when the database cannot be reached. Pass ``conn`` to reuse a connection
    (the caller commits); otherwise one is opened and committed here.
    """
    parsed = parse_event(event, origin=f"call:{uuid.uuid4()}")
    normalized = normalize_event(parsed.error, parsed.component)
    params = {
        "ts": parsed.ts,
        "error": parsed.error,
        "component": parsed.component,
        "tags": parsed.tags,
        "norm": normalized.norm_error,
        "fp": normalized.fingerprint,
        "kind": normalized.kind,
        "version": normalized.normalizer_version,
        "key": parsed.key,
    }
    if conn is not None:
        row_id, ts = _store(conn, params, retryable=parsed.source_id is not None)
    else:
        ensure_schema()
        with db.connection() as own:
            row_id, ts = _store(own, params, retryable=parsed.source_id is not None)
    return {
        "id": row_id,
        "ts": ts,
        "error": parsed.error,
        "component": parsed.component,
        "tags": parsed.tags,
        "norm_error": normalized.norm_error,
        "kind": normalized.kind,
        "fingerprint": normalized.fingerprint,
    }


_schema_checked = False


def ensure_schema() -> None:
    """Apply ``sql/`` at most once per process (a no-op when the store is current)."""
    global _schema_checked
    if not _schema_checked:
        db.apply_schema()
        _schema_checked = True
