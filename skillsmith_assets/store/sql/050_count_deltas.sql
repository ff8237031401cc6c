-- What changed in agent_errors since the last mining run, as per-day count deltas.
-- Statement triggers write one row per (day, fingerprint) of each INSERT, UPDATE or DELETE,
-- in the same transaction as the change, so a delta is visible exactly when its rows are.
-- A mining run deletes the deltas it sees and adds them into error_daily_counts in one
-- statement: its cost follows the new events, not the history, and nothing is counted
-- twice or missed (late events land in their own day, re-runs find nothing to add).

CREATE TABLE IF NOT EXISTS error_count_deltas (
    day        date NOT NULL,
    fp         uuid NOT NULL,
    component  text,
    kind       text,
    norm_msg   text,
    hits       bigint NOT NULL,  -- negative for rows deleted or moved to another fingerprint
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    tags       text[] NOT NULL DEFAULT '{}'
);

CREATE OR REPLACE FUNCTION skillsmith_count_changes() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO error_count_deltas (day, fp, component, kind, norm_msg, hits, first_seen, last_seen)
    SELECT (ts AT TIME ZONE 'UTC')::date, fingerprint, min(component), min(kind), min(norm_error),
           -count(*), min(ts), max(ts)
      FROM old_rows WHERE fingerprint IS NOT NULL
     GROUP BY 1, 2;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO error_count_deltas (day, fp, component, kind, norm_msg, hits, first_seen, last_seen, tags)
    WITH g AS (
        SELECT (ts AT TIME ZONE 'UTC')::date AS day, fingerprint, tags, count(*) AS n,
               min(component) AS component, min(kind) AS kind, min(norm_error) AS norm_error,
               min(ts) AS first_seen, max(ts) AS last_seen
          FROM new_rows WHERE fingerprint IS NOT NULL
         GROUP BY 1, 2, 3
    ),
    -- tags from the few (day, fingerprint, tags) groups, joined: a lookup per fingerprint over
    -- every group grew with the square of the statement's fingerprints
    tagged AS (
        SELECT day, fingerprint, array_agg(DISTINCT t ORDER BY t) AS tags
          FROM g, unnest(g.tags) AS t GROUP BY day, fingerprint
    )
    SELECT s.*, coalesce(tagged.tags, '{}')
      FROM (SELECT day, fingerprint, min(component), min(kind), min(norm_error), sum(n), min(first_seen),
                   max(last_seen)
              FROM g GROUP BY day, fingerprint) s
      LEFT JOIN tagged USING (day, fingerprint);
  END IF;
  RETURN NULL;
END
$fn$;

-- A trigger with transition tables fires for one event only: three of them.
CREATE OR REPLACE TRIGGER agent_errors_count_inserts AFTER INSERT ON agent_errors
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION skillsmith_count_changes();
CREATE OR REPLACE TRIGGER agent_errors_count_updates AFTER UPDATE ON agent_errors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION skillsmith_count_changes();
CREATE OR REPLACE TRIGGER agent_errors_count_deletes AFTER DELETE ON agent_errors
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION skillsmith_count_changes();

-- Counts made before these triggers existed are rebuilt once, here, while creating the
-- triggers holds off every writer of agent_errors: from now on, the daily counts plus the
-- pending deltas are exactly the rows.
DELETE FROM error_count_deltas;
DELETE FROM error_daily_counts;
INSERT INTO error_daily_counts (day, fp, component, kind, norm_msg, hits, first_seen, last_seen, tags)
WITH g AS (
    SELECT (ts AT TIME ZONE 'UTC')::date AS day, fingerprint, tags, count(*) AS n,
           min(component) AS component, min(kind) AS kind, min(norm_error) AS norm_error,
           min(ts) AS first_seen, max(ts) AS last_seen
      FROM agent_errors WHERE fingerprint IS NOT NULL
     GROUP BY 1, 2, 3
),
tagged AS (
    SELECT day, fingerprint, array_agg(DISTINCT t ORDER BY t) AS tags
      FROM g, unnest(g.tags) AS t GROUP BY day, fingerprint
)
SELECT s.*, coalesce(tagged.tags, '{}')
  FROM (SELECT day, fingerprint, min(component), min(kind), min(norm_error), sum(n), min(first_seen), max(last_seen)
          FROM g GROUP BY day, fingerprint) s
  LEFT JOIN tagged USING (day, fingerprint);
