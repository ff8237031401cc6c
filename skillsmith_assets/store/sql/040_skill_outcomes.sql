-- What happened each time a deployed skill was used: the runtime writes a row per use,
-- the skill_confidence asset and the metrics read them.
CREATE TABLE IF NOT EXISTS skill_outcomes (
    id          bigserial PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    skill_id    text NOT NULL,
    fingerprint uuid,
    outcome     text NOT NULL CHECK (outcome IN ('prevented', 'fixed', 'fix_failed', 'dry_run_diff', 'false_positive')),
    detail      text
);

CREATE INDEX IF NOT EXISTS skill_outcomes_skill_ts_idx ON skill_outcomes (skill_id, ts);
