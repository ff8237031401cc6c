-- Per-day counts, and the signatures and candidates rolled up from them.
-- A mining run adds the count changes since the last run (050_count_deltas.sql), so
-- its cost follows the new events, not the 30-day window. error_signatures and error_candidates keep the
-- original columns (fp, component, kind, norm_msg, hits_30d, hits_7d, tags, impact_score).

CREATE TABLE IF NOT EXISTS error_daily_counts (
    day        date NOT NULL,
    fp         uuid NOT NULL,
    component  text,
    kind       text,
    norm_msg   text,
    hits       bigint NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    tags       text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (day, fp)
);

CREATE TABLE IF NOT EXISTS error_signatures (
    fp           uuid PRIMARY KEY,
    component    text,
    kind         text,
    norm_msg     text,
    hits_30d     bigint NOT NULL,
    hits_7d      bigint NOT NULL,
    tags         text[] NOT NULL DEFAULT '{}',
    first_seen   timestamptz,
    last_seen    timestamptz,
    -- hits in the last 7 days over the 7-day share of the 30-day hits: > 1 rising, < 1 fading
    trend        double precision,
    -- the merged pattern this fingerprint belongs to (pattern merging), its text and size
    pattern      text,
    pattern_size integer,
    pattern_template text,
    as_of        timestamptz NOT NULL DEFAULT now()
);

-- Stores made before pattern merging.
ALTER TABLE error_signatures ADD COLUMN IF NOT EXISTS pattern_template text;

CREATE INDEX IF NOT EXISTS error_signatures_pattern_idx ON error_signatures (pattern);

-- One row per pattern: fp is its most frequent fingerprint, norm_msg its text
-- (<*> where the merged messages differ), hits the sum over its fingerprints.
CREATE TABLE IF NOT EXISTS error_candidates (
    fp           uuid PRIMARY KEY,
    component    text,
    kind         text,
    norm_msg     text,
    hits_30d     bigint NOT NULL,
    hits_7d      bigint NOT NULL,
    tags         text[] NOT NULL DEFAULT '{}',
    impact_score double precision NOT NULL,
    rank         integer NOT NULL,
    first_seen   timestamptz,
    last_seen    timestamptz,
    pattern      text,
    pattern_size integer,
    as_of        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS error_candidates_rank_idx ON error_candidates (rank);
