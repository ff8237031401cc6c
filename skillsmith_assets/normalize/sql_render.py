"""Renders the rule table as the SQL functions in ``sql/020_normalize_functions.sql``.

The file is generated so the SQL and Python engines cannot drift apart; a test
fails when the committed file differs from what this module renders. Regenerate
with ``python -m skillsmith_assets.normalize.sql_render > sql/020_normalize_functions.sql``.
"""

from __future__ import annotations

from skillsmith_assets.normalize import rules as rules


def sql_literal(text: str) -> str:
    """A standard-conforming SQL string literal (backslashes are literal).

    Control characters are spelled ``chr(n)`` so the generated file holds no raw
    CR, form feed or vertical tab (which text-mode readers would rewrite).
    """
    parts, plain = [], []
    for char in text:
        if char < " " or char == "\x7f":
            if plain:
                parts.append("'" + "".join(plain).replace("'", "''") + "'")
                plain = []
            parts.append(f"chr({ord(char)})")
        else:
            plain.append(char)
    if plain or not parts:
        parts.append("'" + "".join(plain).replace("'", "''") + "'")
    return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"


def _step_sql(step) -> str:
    if isinstance(step, rules.Mask):
        replace = f"regexp_replace(s, {sql_literal(step.pattern)}, {sql_literal(step.replacement)}, 'g')"
        # guard and keywords: literals every match contains, so skipping without them changes nothing
        conditions = []
        if step.guard:
            conditions.append(f"strpos(s, {sql_literal(step.guard)}) > 0")
        if step.keywords:
            folded = "translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
            conditions.append("(" + " OR ".join(f"strpos({folded}, {sql_literal(k)}) > 0" for k in step.keywords) + ")")
        if not conditions:
            return f"  -- {step.name}\n  s := {replace};"
        return f"  -- {step.name}\n  IF {' AND '.join(conditions)} THEN\n    s := {replace};\n  END IF;"
    if isinstance(step, rules.Clip):
        return (
            f"  -- keep head and tail of huge messages\n"
            f"  IF length(s) > {step.head + step.tail} THEN\n"
            f"    s := left(s, {step.head}) || E'\\n' || right(s, {step.tail});\n"
            f"  END IF;"
        )
    return f"  s := left(s, {step.length});"


def render() -> str:
    body = "\n".join(_step_sql(step) for step in rules.STEPS)
    return f"""-- GENERATED from skillsmith_assets/normalize/rules.py (rules version {rules.RULES_VERSION}).
-- Do not edit: run `python -m skillsmith_assets.normalize.sql_render > sql/020_normalize_functions.sql`.
-- These functions return exactly what skillsmith_assets/normalize/message.py returns.
SET standard_conforming_strings = on;

CREATE OR REPLACE FUNCTION normalize_error_message(msg text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  s text := msg;
BEGIN
{body}
  RETURN s;
END
$fn$;

CREATE OR REPLACE FUNCTION error_kind(norm_msg text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT coalesce((regexp_match(coalesce(norm_msg, ''), {sql_literal(rules.KIND_PATTERN)}))[1],
                  {sql_literal(rules.KIND_DEFAULT)})
$fn$;

CREATE OR REPLACE FUNCTION error_fingerprint_normalized(kind text, component text, norm_msg text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT substr(encode(sha256(convert_to(
           length('v{rules.RULES_VERSION}') || ':' || 'v{rules.RULES_VERSION}'
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
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT {rules.RULES_VERSION} $fn$;

-- Rows to (re-)normalize: none once ingest has normalized them, so mining finds them through
-- this index, which stays empty, instead of reading the day's rows. It names the rules version
-- its predicate holds; the ones made for earlier versions go.
DO $do$
DECLARE stale record;
BEGIN
  FOR stale IN SELECT indexname FROM pg_indexes
                WHERE schemaname = current_schema() AND tablename = 'agent_errors'
                  AND indexname LIKE 'agent\\_errors\\_unnormalized\\_v%'
                  AND indexname <> 'agent_errors_unnormalized_v{rules.RULES_VERSION}' LOOP
    EXECUTE format('DROP INDEX %I', stale.indexname);
  END LOOP;
END
$do$;
CREATE INDEX IF NOT EXISTS agent_errors_unnormalized_v{rules.RULES_VERSION} ON agent_errors (ts)
    WHERE fingerprint IS NULL OR normalizer_version IS DISTINCT FROM {rules.RULES_VERSION};
"""


if __name__ == "__main__":
    print(render(), end="")
