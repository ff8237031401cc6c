-- GENERATED from skillsmith_assets/normalize_rules.py (rules version 1).
-- Do not edit: run `python -m skillsmith_assets.sql_functions > sql/020_normalize_functions.sql`.
-- These functions return exactly what skillsmith_assets/normalize.py returns.
SET standard_conforming_strings = on;

CREATE OR REPLACE FUNCTION normalize_error_message(msg text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  s text := msg;
BEGIN
  -- keep head and tail of huge messages
  IF length(s) > 32768 THEN
    s := left(s, 16384) || E'\n' || right(s, 16384);
  END IF;
  -- uuid
  s := regexp_replace(s, '(?<![A-Za-z0-9_])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![A-Za-z0-9_])', '<uuid>', 'g');
  -- ts
  s := regexp_replace(s, '(?<![A-Za-z0-9_])[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?(?![A-Za-z0-9_])', '<ts>', 'g');
  -- epoch
  s := regexp_replace(s, '(?<![0-9A-Za-z_.])1[0-9]{9}(?:[0-9]{3})?(?![0-9A-Za-z_])', '<epoch>', 'g');
  -- int
  s := regexp_replace(s, '(?<![0-9A-Za-z_.])[0-9]{4,}(?![0-9A-Za-z_])', '<int>', 'g');
  -- whitespace
  s := regexp_replace(s, '[ \t\n\r\f\v]+', ' ', 'g');
  -- trim
  s := regexp_replace(s, '\A | \Z', '', 'g');
  s := left(s, 2000);
  RETURN s;
END
$fn$;

CREATE OR REPLACE FUNCTION error_kind(norm_msg text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT coalesce((regexp_match(coalesce(norm_msg, ''), '\A(?:[A-Za-z_][A-Za-z0-9_]*[.])*([A-Z][A-Za-z0-9_]*)(?=:)'))[1],
                  'Error')
$fn$;

CREATE OR REPLACE FUNCTION error_fingerprint_normalized(kind text, component text, norm_msg text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT substr(encode(sha256(convert_to(
           length('v1') || ':' || 'v1'
           || length(coalesce(kind, '')) || ':' || coalesce(kind, '')
           || length(coalesce(component, '')) || ':' || coalesce(component, '')
           || length(coalesce(norm_msg, '')) || ':' || coalesce(norm_msg, ''),
         'UTF8')), 'hex'), 1, 32)::uuid
$fn$;

CREATE OR REPLACE FUNCTION error_fingerprint(kind text, component text, msg text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT error_fingerprint_normalized(kind, component, normalize_error_message(coalesce(msg, '')))
$fn$;

CREATE OR REPLACE FUNCTION normalizer_version() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT 1 $fn$;
