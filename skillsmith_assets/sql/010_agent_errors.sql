-- The error store. The seed's columns stay as they were, so existing queries keep working;
-- the columns after them are what normalization, idempotent loading and the daily
-- partitions need. Every statement is idempotent.

CREATE TABLE IF NOT EXISTS agent_errors (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    error       text NOT NULL,
    component   text,
    tags        text[],
    norm_error  text,
    fingerprint uuid
);

-- The exception class name (KeyError, ValidationError, ...).
ALTER TABLE agent_errors ADD COLUMN IF NOT EXISTS kind text;
-- The rules version norm_error/fingerprint were made with; older rows get re-normalized.
ALTER TABLE agent_errors ADD COLUMN IF NOT EXISTS normalizer_version integer;
-- A digest of the event (or the id its source gave it): loading a file twice adds nothing.
ALTER TABLE agent_errors ADD COLUMN IF NOT EXISTS event_key uuid;

CREATE UNIQUE INDEX IF NOT EXISTS agent_errors_event_key_key ON agent_errors (event_key);
CREATE INDEX IF NOT EXISTS agent_errors_ts_idx ON agent_errors (ts);
CREATE INDEX IF NOT EXISTS agent_errors_fingerprint_ts_idx ON agent_errors (fingerprint, ts);
