-- GENERATED from skillsmith_assets/normalize/rules.py (rules version 6).
-- Do not edit: run `python -m skillsmith_assets.normalize.sql_render > sql/020_normalize_functions.sql`.
-- These functions return exactly what skillsmith_assets/normalize/message.py returns.
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
  -- traceback_frame
  IF strpos(s, 'File "') > 0 THEN
    s := regexp_replace(s, 'File "(?:[^"\n]*[/\\])?([^"/\\\n]*)", line [0-9]+(?:, in ([^ \t\n]+))?(?:\n[ \t]{3,}[^ \t\n][^\n]*)?', 'at \1 in \2', 'g');
  END IF;
  -- traceback_exception_first
  IF strpos(s, 'Traceback (') > 0 THEN
    s := regexp_replace(s, 'Traceback [(]most recent call last[)]:((?:\n[ \t][^\n]*)*)\n([^ \t\n][^\n]*)', '\2\1', 'g');
  END IF;
  -- traceback_header
  IF strpos(s, 'Traceback') > 0 THEN
    s := regexp_replace(s, 'Traceback[ \t\n\r\f\v]+[(]most[ \t\n\r\f\v]+recent[ \t\n\r\f\v]+call[ \t\n\r\f\v]+last[)]:', '', 'g');
  END IF;
  -- private_key
  IF strpos(s, 'KEY-----') > 0 THEN
    s := regexp_replace(s, '-----BEGIN[A-Z \t\n\r\f\v]{0,40}PRIVATE[ \t\n\r\f\v]+KEY-----[^-]*(?:-----END[A-Z \t\n\r\f\v]{0,40}PRIVATE[ \t\n\r\f\v]+KEY-----)?', '<private-key>', 'g');
  END IF;
  -- url_credentials
  IF strpos(s, '://') > 0 THEN
    s := regexp_replace(s, '://[^/ \t\n\r"''<>]+@', '://<secret>@', 'g');
  END IF;
  -- jwt
  IF strpos(s, 'eyJ') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])eyJ[A-Za-z0-9_-]{4,}[.][A-Za-z0-9_-]{4,}[.][A-Za-z0-9_-]*', '<jwt>', 'g');
  END IF;
  -- bearer
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'bearer') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])([Bb][Ee][Aa][Rr][Ee][Rr])[ \t\n\r\f\v]+[A-Za-z0-9._~+/=-]{6,}', '\1 <secret>', 'g');
  END IF;
  -- basic_auth
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'basic') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])([Bb][Aa][Ss][Ii][Cc])[ \t\n\r\f\v]+[A-Za-z]*[0-9+/=][A-Za-z0-9+/=]*', '\1 <secret>', 'g');
  END IF;
  -- github_token
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'gh') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'github_pat_') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})', '<secret>', 'g');
  END IF;
  -- slack_token
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'xox') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'xapp') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])(?:xox[abposre]|xapp)-[A-Za-z0-9-]{8,}', '<secret>', 'g');
  END IF;
  -- slack_webhook
  IF strpos(s, 'hooks.slack.com') > 0 THEN
    s := regexp_replace(s, 'hooks[.]slack[.]com/services/[A-Za-z0-9/_-]+', 'hooks.slack.com/services/<secret>', 'g');
  END IF;
  -- aws_key
  IF strpos(s, 'A') > 0 THEN
    s := regexp_replace(s, '(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}(?![A-Z0-9])', '<secret>', 'g');
  END IF;
  -- api_key
  IF strpos(s, 'k') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_-])(?:sk|rk|pk)[_-][A-Za-z0-9_-]{16,}', '<secret>', 'g');
  END IF;
  -- google_api_key
  IF strpos(s, 'AIza') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{30,}', '<secret>', 'g');
  END IF;
  -- secret_value
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'passwd') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'password') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'pwd') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'secret') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'token') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'apikey') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'api_key') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'api-key') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'access_key') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'private_key') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'credentials') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'credential') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'authorization') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'signature') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'sessionid') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'cookie') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9])((?:[A-Za-z0-9]{1,40}[_.-]){0,4}(?:[a-z][a-z0-9]{0,40})?(?:[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn]|[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll][Ss]|[Pp][Rr][Ii][Vv][Aa][Tt][Ee]_[Kk][Ee][Yy]|[Aa][Cc][Cc][Ee][Ss][Ss]_[Kk][Ee][Yy]|[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll]|[Ss][Ee][Ss][Ss][Ii][Oo][Nn][Ii][Dd]|[Ss][Ii][Gg][Nn][Aa][Tt][Uu][Rr][Ee]|[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Aa][Pp][Ii]-[Kk][Ee][Yy]|[Aa][Pp][Ii]_[Kk][Ee][Yy]|[Aa][Pp][Ii][Kk][Ee][Yy]|[Cc][Oo][Oo][Kk][Ii][Ee]|[Pp][Aa][Ss][Ss][Ww][Dd]|[Ss][Ee][Cc][Rr][Ee][Tt]|[Tt][Oo][Kk][Ee][Nn]|[Pp][Ww][Dd])(?:[_.-][A-Za-z0-9]{1,40}){0,4}["'']?[ \t\n\r\f\v]*[:=][ \t\n\r\f\v]*)(?:"[^"\n]*"|''[^''\n]*''|[^ \t\n\r\f\v,;&"''<>()\[\]{}]+)', '\1<secret>', 'g');
  END IF;
  -- url_query
  IF strpos(s, '://') > 0 THEN
    s := regexp_replace(s, '(://[^ \t\n\r"''<>?#]*)[?#][^ \t\n\r"'']*', '\1?<query>', 'g');
  END IF;
  -- email
  IF strpos(s, '@') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.%+>-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:[.][A-Za-z0-9-]+)+', '<email>', 'g');
  END IF;
  -- trace_id
  IF strpos(s, '-') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])(?:[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}|1-[0-9a-f]{8}-[0-9a-f]{24})(?![A-Za-z0-9_])', '<trace>', 'g');
  END IF;
  -- uuid
  IF strpos(s, '-') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![A-Za-z0-9_])', '<uuid>', 'g');
  END IF;
  -- ts
  IF strpos(s, '-') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])[0-9]{4}-[0-9]{2}-[0-9]{2}[T -][0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?|[.][0-9]{2}[.][0-9]{2}(?:[.,][0-9]{1,9})?)(?:Z|[+-][0-9]{2}:?[0-9]{2})?(?![A-Za-z0-9_])', '<ts>', 'g');
  END IF;
  -- ts_rfc2822
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'jan') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'feb') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'mar') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'apr') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'may') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'jun') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'jul') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'aug') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'sep') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'oct') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'nov') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'dec') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?:day|sday|nesday|rsday|urday)?,? )?[0-9]{1,2}[ /-](?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)[ /-](?:[0-9]{4}(?:[ :][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?|[0-9]{2} [0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?: (?:[+-][0-9]{4}|GMT|UTC?|[ECMP][SD]T|Z))?(?![A-Za-z0-9_])', '<ts>', 'g');
  END IF;
  -- ts_month_first
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'jan') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'feb') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'mar') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'apr') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'may') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'jun') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'jul') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'aug') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'sep') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'oct') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'nov') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'dec') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?:day|sday|nesday|rsday|urday)?,? )?(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?) [ 0-9]?[0-9](?:, [0-9]{4}(?:,? [0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:[ \t\n\r\f\v]*[AaPp][Mm])?)?|(?: [0-9]{4})? [0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?(?: [0-9]{4})?(?: GMT[+-][0-9]{4}(?: [(][A-Za-z ]{1,60}[)])?)?)(?![A-Za-z0-9_])', '<ts>', 'g');
  END IF;
  -- ts_compact
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '19') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '20') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])(?:19|20)[0-9]{6}(?:[T ]?[0-9]{6}|[T ][0-9]{2}:[0-9]{2}:[0-9]{2})(?:[.][0-9]{1,9})?(?:Z|[+-][0-9]{4})?(?![A-Za-z0-9_])', '<ts>', 'g');
  END IF;
  -- date
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '-') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '/') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '.') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])[0-9](?:[0-9]{3}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]?/[0-9]{1,2}/[0-9]{4}|[0-9]?[.][0-9]{1,2}[.](?:19|20)[0-9]{2})(?![A-Za-z0-9_])', '<date>', 'g');
  END IF;
  -- time
  IF strpos(s, ':') > 0 AND (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.])[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:[.,][0-9]{1,9})?(?:[ \t\n\r\f\v]*[AaPp][Mm])?(?![A-Za-z0-9_:])', '<time>', 'g');
  END IF;
  -- ipv4
  IF strpos(s, '.') > 0 AND (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.])[0-9]{1,3}(?:[.][0-9]{1,3}){3}(?![A-Za-z0-9_])', '<ip>', 'g');
  END IF;
  -- ipv6
  IF strpos(s, ':') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_:.>])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{1,4}(?![A-Za-z0-9_:(])', '<ip>', 'g');
  END IF;
  -- port
  IF strpos(s, ':') > 0 AND (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<=[a-z0-9>]):[0-9]{1,5}(?![A-Za-z0-9_])', ':<port>', 'g');
  END IF;
  -- address
  IF strpos(s, '0') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_])0[xX][0-9A-Fa-f]+(?![A-Za-z0-9_])', '<addr>', 'g');
  END IF;
  -- variable_value
  IF strpos(s, '=') > 0 THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9])((?:[A-Za-z0-9]{1,40}[_.-]){0,4}(?:timestamp|duration|username|attempt|elapsed|latency|request|retries|session|length|offset|count|email|login|retry|trace|addr|date|file|name|path|size|span|time|user|ids|len|pid|ref|req|seq|tid|uid|ID|Id|id|ip|ts)[ \t\n\r\f\v]*=[ \t\n\r\f\v]*)(?:"[^"\n]*"|''[^''\n]*''|[^ \t\n\r\f\v,;&"''<>()\[\]{}]+)', '\1<val>', 'g');
  END IF;
  -- glued_id
  IF strpos(s, '_') > 0 AND (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_-])([A-Za-z](?:[A-Za-z0-9]*[A-Za-z])?(?:_[A-Za-z](?:[A-Za-z0-9]*[A-Za-z])?)*_)-?[0-9]+(?:[_-][0-9]+)*(?![A-Za-z0-9_])', '\1<id>', 'g');
  END IF;
  -- dashed_id
  IF strpos(s, '-') > 0 AND (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_-])([A-Za-z][A-Za-z0-9]*-)[0-9]{3,}(?:-[0-9]+)*(?![A-Za-z0-9_])', '\1<id>', 'g');
  END IF;
  -- size
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 'b') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.])[0-9]+(?:[.][0-9]+)?[ \t\n\r\f\v]*(?:bytes|byte|B|KB|kB|MB|GB|TB|KiB|MiB|GiB|TiB)(?:[ \t\n\r\f\v]+[(][0-9]+(?:[.][0-9]+)?[ \t\n\r\f\v]*(?:bytes|byte|B|KB|kB|MB|GB|TB|KiB|MiB|GiB|TiB)[)])?(?![A-Za-z0-9_])', '<size>', 'g');
  END IF;
  -- duration
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.])-?(?:[0-9]+h(?:[0-9]+m)?(?:[0-9]+(?:[.][0-9]+)?(?:ms|us|ns|s))?|[0-9]+m[0-9]+(?:[.][0-9]+)?(?:ms|us|ns|s)|[0-9]+(?:[.][0-9]+)?[ \t\n\r\f\v]*(?:milliseconds|ms|us|ns|seconds|secs|sec|s|minutes|mins|min|m|hours|hrs|hr|h|days|d))(?![A-Za-z0-9_])', '<duration>', 'g');
  END IF;
  -- epoch
  IF strpos(s, '1') > 0 THEN
    s := regexp_replace(s, '(?<![0-9A-Za-z_.])1[0-9]{9}(?:[0-9]{3})?(?![0-9A-Za-z_])', '<epoch>', 'g');
  END IF;
  -- version
  IF strpos(s, '.') > 0 AND (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.])[vV]?[0-9]+(?:[.][0-9]+){2,}(?![A-Za-z0-9_])', '<version>', 'g');
  END IF;
  -- card
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.-])[0-9]{4}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]{1,7}(?![A-Za-z0-9_])', '<card>', 'g');
  END IF;
  -- thousands
  IF strpos(s, ',') > 0 AND (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.,])-?[0-9]{1,3}(?:,[0-9]{3})+(?:[.][0-9]+)?(?![A-Za-z0-9_])', '<num>', 'g');
  END IF;
  -- float
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?<![A-Za-z0-9_.])-?[0-9]+(?:[.][0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-][0-9]+)(?![A-Za-z0-9_])', '<float>', 'g');
  END IF;
  -- int
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '0') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '1') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '2') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '3') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '4') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '5') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '6') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '7') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '8') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '9') > 0) THEN
    s := regexp_replace(s, '(?:(?<![A-Za-z0-9_.>-])-|(?<![A-Za-z0-9_.-]))[0-9]+(?:-[0-9]+)*(?![A-Za-z0-9_])', '<int>', 'g');
  END IF;
  -- glued_hex
  s := regexp_replace(s, '(?<![A-Za-z0-9])([A-Za-z]{0,7}[G-Zg-z])[0-9A-Fa-f]{16,}(?![A-Za-z0-9_])', '\1<hex>', 'g');
  -- hex
  s := regexp_replace(s, '(?<![A-Za-z0-9])[0-9A-Fa-f]{7,}(?![A-Za-z0-9_])', '<hex>', 'g');
  -- id_list
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '>,') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '> ') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ('>' || chr(9))) > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ('>' || chr(10))) > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ('>' || chr(13))) > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ('>' || chr(12))) > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ('>' || chr(11))) > 0) THEN
    s := regexp_replace(s, '(<(?:id|int|hex|uuid|ip|addr)>)(?:,?[ \t\n\r\f\v]+[A-Za-z]*_?<(?:id|int|hex|uuid|ip|addr)>)+', '\1', 'g');
  END IF;
  -- whitespace
  IF (strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '  ') > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), chr(9)) > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), chr(10)) > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), chr(13)) > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), chr(12)) > 0 OR strpos(translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), chr(11)) > 0) THEN
    s := regexp_replace(s, '[ \t\n\r\f\v]+', ' ', 'g');
  END IF;
  s := left(s, 2000);
  -- trim
  IF strpos(s, ' ') > 0 THEN
    s := regexp_replace(s, '\A | \Z', '', 'g');
  END IF;
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
           length('v6') || ':' || 'v6'
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
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$ SELECT 6 $fn$;

-- Rows to (re-)normalize: none once ingest has normalized them, so mining finds them through
-- this index, which stays empty, instead of reading the day's rows. It names the rules version
-- its predicate holds; the ones made for earlier versions go.
DO $do$
DECLARE stale record;
BEGIN
  FOR stale IN SELECT indexname FROM pg_indexes
                WHERE schemaname = current_schema() AND tablename = 'agent_errors'
                  AND indexname LIKE 'agent\_errors\_unnormalized\_v%'
                  AND indexname <> 'agent_errors_unnormalized_v6' LOOP
    EXECUTE format('DROP INDEX %I', stale.indexname);
  END LOOP;
END
$do$;
CREATE INDEX IF NOT EXISTS agent_errors_unnormalized_v6 ON agent_errors (ts)
    WHERE fingerprint IS NULL OR normalizer_version IS DISTINCT FROM 6;
