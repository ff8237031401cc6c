-- The error store, one partition per UTC day of ts. Indexes stay the size of a day,
-- retention drops a day, a backfill rewrites one. The original columns keep their names
-- and types, so existing queries keep working; the columns after them are what
-- normalization, idempotent loading and the daily Dagster partitions need.
-- Every statement is idempotent; a store made before partitioning stays as it is (every
-- query works on both shapes) until `skillsmith db-migrate` moves it.

CREATE SEQUENCE IF NOT EXISTS agent_errors_id_seq;

CREATE TABLE IF NOT EXISTS agent_errors (
    id          bigint NOT NULL DEFAULT nextval('agent_errors_id_seq'),
    ts          timestamptz NOT NULL DEFAULT now(),
    error       text NOT NULL,
    component   text,
    tags        text[],
    norm_error  text,
    fingerprint uuid,
    kind        text,     -- the exception class name (KeyError, ValidationError, ...)
    normalizer_version integer,  -- the rules version norm_error/fingerprint were made with
    event_key   uuid,     -- the event's identity (events.Event.key): loading a file twice adds nothing
    PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);
ALTER SEQUENCE agent_errors_id_seq OWNED BY agent_errors.id;

-- A store made before these columns existed.
ALTER TABLE agent_errors ADD COLUMN IF NOT EXISTS kind text;
ALTER TABLE agent_errors ADD COLUMN IF NOT EXISTS normalizer_version integer;
ALTER TABLE agent_errors ADD COLUMN IF NOT EXISTS event_key uuid;

-- The idempotency key is partition-local: (event_key, ts), checked within one day's
-- index, never against the whole history. An event that came without a time is
-- stamped when first stored; agent_error_stamps keeps that stamp under its key, so
-- loading it again finds the same day and is recognised there.
DO $$
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'agent_errors'::regclass) = 'p' THEN
        -- Rows of a day that has no partition yet land here; making the day's partition moves them.
        CREATE TABLE IF NOT EXISTS agent_errors_default PARTITION OF agent_errors DEFAULT;
        CREATE UNIQUE INDEX IF NOT EXISTS agent_errors_event_key_ts_key ON agent_errors (event_key, ts);
    ELSE
        CREATE UNIQUE INDEX IF NOT EXISTS agent_errors_event_key_key ON agent_errors (event_key);
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS agent_errors_ts_idx ON agent_errors (ts);
CREATE INDEX IF NOT EXISTS agent_errors_fingerprint_ts_idx ON agent_errors (fingerprint, ts);

CREATE TABLE IF NOT EXISTS agent_error_stamps (
    event_key uuid PRIMARY KEY,
    ts        timestamptz NOT NULL
);

-- Makes the partition of each day that has none, in name order, moving that day's rows
-- out of the default partition first; returns how many it made (0 on an unpartitioned
-- store). Callers run it in a short transaction of its own: ATTACH needs only a lock that
-- lets reads and writes of agent_errors go on.
CREATE OR REPLACE FUNCTION skillsmith_ensure_days(days date[]) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    d date;
    part text;
    lo timestamptz;
    hi timestamptz;
    made integer := 0;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'agent_errors'::regclass) <> 'p' THEN
        RETURN 0;
    END IF;
    FOR d IN SELECT DISTINCT x FROM unnest(days) AS x WHERE x IS NOT NULL ORDER BY x LOOP
        part := 'agent_errors_' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
        PERFORM pg_advisory_xact_lock(hashtext('skillsmith-partitions'));
        CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;  -- made while we waited
        lo := d::timestamp AT TIME ZONE 'UTC';
        hi := (d + 1)::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('CREATE TABLE %I (LIKE agent_errors INCLUDING DEFAULTS)', part);
        -- The constraint lets ATTACH skip scanning the new table.
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (ts >= %L AND ts < %L)',
                       part, part || '_day', lo, hi);
        EXECUTE format('WITH moved AS (DELETE FROM agent_errors_default WHERE ts >= %L AND ts < %L RETURNING *) '
                       'INSERT INTO %I SELECT * FROM moved', lo, hi, part);
        EXECUTE format('ALTER TABLE agent_errors ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_day');
        made := made + 1;
    END LOOP;
    RETURN made;
END
$fn$;

-- Yesterday to a week ahead, so the first events of a new store have their partitions.
SELECT skillsmith_ensure_days(ARRAY(SELECT generate_series(current_date - 1, current_date + 7, interval '1 day')::date));
