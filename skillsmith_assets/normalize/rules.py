"""The ordered rule table behind normalization, shared by Python and SQL.

One table feeds both engines (``normalize.py`` and the generated
``sql/020_normalize_functions.sql``), so the SQL functions return exactly what
the Python code returns. Patterns are written in the *portable dialect*: the
part of regex syntax that Python ``re`` and PostgreSQL ARE read the same way.

Portable dialect (checked by ``tests/normalize/test_normalize_masks.py``):
- character classes are spelled out (``[0-9]``, ``[A-Za-z0-9_]``, ``[ \\t\\n]``):
  no ``\\d \\w \\s \\b`` (locale and Unicode dependent, and ``\\b`` is a backspace in ARE);
- anchors are ``\\A`` and ``\\Z``; no ``^ $`` (Python's ``$`` also matches before a
  final newline) and no ``.`` (ARE's ``.`` matches newlines);
- lookarounds hold a single character class; lookbehinds have a fixed width;
- greedy quantifiers only, bounds at most 255 (ARE's limit);
- alternatives never match different lengths at the same position
  (Python takes the first alternative, ARE the longest);
- replacements are literal text, ``\\1``..``\\9`` refer to groups.

Each mask may carry a ``guard``: a literal that every match contains, and
``keywords``: literals one of which every match contains, compared after ASCII
lower-casing (``str.translate`` / SQL ``translate``, both locale-free). Both
engines skip the mask when they are absent (``in`` / ``strpos``): exact by
construction, and it saves most regex passes on ordinary messages.

Order matters and is part of the contract: tracebacks are rewritten first
(their line numbers and paths must go before the number masks see them), then
secrets (before anything could split them into harmless-looking pieces), then
structured values (URLs, emails, timestamps, addresses), then plain numbers and
hex, and last whitespace.

Bump ``RULES_VERSION`` whenever a rule changes (and say what changed in
``RULES_CHANGES``): the fingerprint carries it, and rows made with an older
version are re-normalized by the daily partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from skillsmith_assets.secrets import SHAPE

RULES_VERSION = 6

# What each version changed, one line each (the fingerprint of every event changes with it).
RULES_CHANGES = (
    (1, "the first four masks: <uuid>, <epoch>, <int>, <ts>"),
    (2, "secrets, URLs, emails, hosts and ports, hashes, dates, durations, glued ids, tracebacks"),
    (3, "exact guards for github_pat_ tokens and Traceback headers with other spacing"),
    (4, "Sentry's volatile types: dates in RFC 822/850, JavaScript, 'Jan 18, 2019', Apache and compact "
        "forms, full month and weekday names, ISO without seconds, 12-hour times, D.M.YYYY dates; Go "
        "durations (1h2m3.5s); exponent floats (1e-05, 1.5E10); hex runs glued to a word (tx274a...); "
        "Class::method() is no longer an IPv6 address"),
    (5, "Google API keys (AIza...) and Slack app tokens (xapp-...) masked as secrets; the token shapes come "
        "from the one list in secrets.py"),
    (6, "a private key whose header has tabs or several spaces is masked; sizes, durations and 12-hour "
        "times allow any whitespace before their unit; IPv6 addresses and emails right after a placeholder "
        "are left alone, as they were before it replaced its token (normalizing twice gives the same text)"),
)

# A word character, for boundaries: what sits next to a token decides whether it is one.
W = "A-Za-z0-9_"
HEX = "0-9A-Fa-f"
SPACE = " \\t\\n\\r\\f\\v"


@dataclass(frozen=True)
class Mask:
    """Replace every match of ``pattern`` with ``replacement``; skipped when ``guard`` is absent."""

    name: str
    pattern: str
    replacement: str
    example: str  # an input the rule rewrites
    expected: str  # what normalization as a whole makes of ``example``
    guard: str = ""  # a literal every match contains ("" = always run)
    # ASCII-case-insensitive literals, one of which every match contains (() = no condition)
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clip:
    """Keep the head and tail of a huge message: bounds time and memory, keeps the exception line."""

    head: int
    tail: int


@dataclass(frozen=True)
class Truncate:
    """Cap the normalized message's length (characters)."""

    length: int


def ci(word: str) -> str:
    """A case-insensitive spelling of ``word`` in the portable dialect (``[Pp][Aa]…``)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


NOT_WORD_BEFORE = f"(?<![{W}])"
NOT_WORD_AFTER = f"(?![{W}])"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Abbreviated or full month and weekday names (the suffixes start with different letters,
# so no two alternatives can match at the same place).
MONTH = ("(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
         "|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
WEEKDAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?:day|sday|nesday|rsday|urday)?"
# Time zones after a date: numeric offsets, and the names RFC 822 allows.
ZONE = "(?:[+-][0-9]{4}|GMT|UTC?|[ECMP][SD]T|Z)"
# Clock times inside dates: seconds and a fraction optional; 12-hour clocks with AM/PM.
HMS = "[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]{1,9})?"
HM_S = "[0-9]{2}:[0-9]{2}(?::[0-9]{2})?"
CLOCK12 = f"[0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}})?(?:[{SPACE}]*[AaPp][Mm])?"
# Keys whose value is a secret: the key may carry a prefix or suffix (DB_PASSWORD, access_token).
SECRET_WORDS = (
    "passwd", "password", "pwd", "secret", "token", "apikey", "api_key", "api-key", "access_key",
    "private_key", "credentials", "credential", "authorization", "signature", "sessionid", "cookie",
)
# Longest first: where one word is a prefix of another, Python and ARE then agree trivially.
SECRET_WORD = "(?:" + "|".join(ci(w) for w in sorted(SECRET_WORDS, key=lambda w: (-len(w), w))) + ")"
# Every secret key contains one of the words (in any case): the mask's keywords.
SECRET_KEYWORDS = SECRET_WORDS
# Keys that say their value varies between occurrences (user=alice, order_id=42, elapsed=3).
VARIABLE_KEY = "(?:" + "|".join(sorted((
    "id", "ids", "Id", "ID", "uid", "pid", "tid", "user", "username", "login", "email", "session",
    "request", "req", "trace", "span", "ip", "addr", "path", "file", "count",
    "size", "len", "length", "offset", "attempt", "retry", "retries", "elapsed", "duration",
    "latency", "time", "ts", "timestamp", "date", "seq", "ref", "name",
), key=lambda w: (-len(w), w))) + ")"
# Every match of a number-shaped mask holds a digit: once the digits are masked, skip them.
DIGITS = tuple("0123456789")
# A word that may carry digits inside but ends with a letter (``blk``, ``rdd``, not ``x86``).
WORD_PART = "[A-Za-z](?:[A-Za-z0-9]*[A-Za-z])?"
# A placeholder that may come in lists of any length ("blk_<id> blk_<id> ..."), collapsed to one.
PLACEHOLDER = "<(?:id|int|hex|uuid|ip|addr)>"
LISTED = "[A-Za-z]*_?" + PLACEHOLDER
SIZE_UNIT = "(?:bytes|byte|B|KB|kB|MB|GB|TB|KiB|MiB|GiB|TiB)"
# A key's other parts (``aws_`` + secret + ``_access_key``): bounded, so a long run of
# short words cannot make the search quadratic.
KEY_PREFIX = "(?:[A-Za-z0-9]{1,40}[_.-]){0,4}"
KEY_SUFFIX = "(?:[_.-][A-Za-z0-9]{1,40}){0,4}"
VALUE = "(?:\"[^\"\\n]*\"|'[^'\\n]*'|[^ \\t\\n\\r\\f\\v,;&\"'<>()\\[\\]{}]+)"

STEPS: tuple[Mask | Clip | Truncate, ...] = (
    Clip(head=16384, tail=16384),
    # --- tracebacks: frames keep module and function, the exception line comes first ---------
    Mask(
        "traceback_frame",
        "File \"(?:[^\"\\n]*[/\\\\])?([^\"/\\\\\\n]*)\", line [0-9]+(?:, in ([^ \\t\\n]+))?(?:\\n[ \\t]{3,}[^ \\t\\n][^\\n]*)?",
        "at \\1 in \\2",
        "  File \"/opt/odoo/addons/sale/models/sale_order.py\", line 231, in _compute_amounts\n    partner = vals['partner_id']",
        "at sale_order.py in _compute_amounts",
        guard="File \"",
    ),
    Mask(
        "traceback_exception_first",
        "Traceback [(]most recent call last[)]:((?:\\n[ \\t][^\\n]*)*)\\n([^ \\t\\n][^\\n]*)",
        "\\2\\1",
        "Traceback (most recent call last):\n  File \"/srv/a.py\", line 3, in f\nKeyError: 'x'",
        "KeyError: 'x' at a.py in f",
        guard="Traceback (",
    ),
    Mask(
        "traceback_header",
        f"Traceback[{SPACE}]+[(]most[{SPACE}]+recent[{SPACE}]+call[{SPACE}]+last[)]:",
        "",
        "KeyError: 'x'\nTraceback (most recent call last):\n  File \"/srv/a.py\", line 3, in f",
        "KeyError: 'x' at a.py in f",
        guard="Traceback",
    ),
    # --- secrets ------------------------------------------------------------------------------
    Mask(
        "private_key",
        f"-----BEGIN[A-Z{SPACE}]{{0,40}}PRIVATE[{SPACE}]+KEY-----[^-]*"
        f"(?:-----END[A-Z{SPACE}]{{0,40}}PRIVATE[{SPACE}]+KEY-----)?",
        "<private-key>",
        "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
        "key: <private-key>",
        guard="KEY-----",
    ),
    Mask(
        "url_credentials",
        "://[^/ \\t\\n\\r\"'<>]+@",
        "://<secret>@",
        "could not connect to postgresql://odoo:hun@ter2@db.internal:5432/prod",
        "could not connect to postgresql://<secret>@db.internal:<port>/prod",
        guard="://",
    ),
    Mask(
        "jwt",
        f"{NOT_WORD_BEFORE}eyJ[A-Za-z0-9_-]{{4,}}[.][A-Za-z0-9_-]{{4,}}[.][A-Za-z0-9_-]*",
        "<jwt>",
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U rejected",
        "token <jwt> rejected",
        guard="eyJ",
    ),
    Mask(
        "bearer",
        f"{NOT_WORD_BEFORE}({ci('bearer')})[{SPACE}]+[A-Za-z0-9._~+/=-]{{6,}}",
        "\\1 <secret>",
        "sync with Bearer abc.DEF-123_xyz failed",
        "sync with Bearer <secret> failed",
        keywords=("bearer",),
    ),
    Mask(
        "basic_auth",
        f"{NOT_WORD_BEFORE}({ci('basic')})[{SPACE}]+[A-Za-z]*[0-9+/=][A-Za-z0-9+/=]*",
        "\\1 <secret>",
        "proxy sent Basic dXNlcjpwYXNzd29yZA== back",
        "proxy sent Basic <secret> back",
        keywords=("basic",),
    ),
    Mask(
        "github_token",
        f"{NOT_WORD_BEFORE}{SHAPE['a GitHub token']}",
        "<secret>",
        "push failed with ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "push failed with <secret>",
        keywords=("gh", "github_pat_"),
    ),
    Mask(
        "slack_token",
        f"{NOT_WORD_BEFORE}{SHAPE['a Slack token']}",
        "<secret>",
        "slack said invalid_auth for xoxb-1234567890-abcdefABCDEF",
        "slack said invalid_auth for <secret>",
        keywords=("xox", "xapp"),
    ),
    Mask(
        "slack_webhook",
        "hooks[.]slack[.]com/services/[A-Za-z0-9/_-]+",
        "hooks.slack.com/services/<secret>",
        "POST https://hooks.slack.com/services/T000/B000/XXXXXXXX failed",
        "POST https://hooks.slack.com/services/<secret> failed",
        guard="hooks.slack.com",
    ),
    Mask(
        "aws_key",
        f"(?<![A-Z0-9]){SHAPE['an AWS access key id']}(?![A-Z0-9])",
        "<secret>",
        "InvalidClientTokenId: AKIAIOSFODNN7EXAMPLE",
        "InvalidClientTokenId: <secret>",
        guard="A",
    ),
    Mask(
        "api_key",
        f"(?<![{W}-]){SHAPE['an API key']}",
        "<secret>",
        "openai: incorrect API key sk-proj-abcdefghijklmnop1234 provided",
        "openai: incorrect API key <secret> provided",
        guard="k",
    ),
    Mask(
        "google_api_key",
        f"(?<![{W}-]){SHAPE['a Google API key']}",
        "<secret>",
        "maps: API key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY is invalid",
        "maps: API key <secret> is invalid",
        guard="AIza",
    ),
    Mask(
        "secret_value",
        f"(?<![A-Za-z0-9])({KEY_PREFIX}(?:[a-z][a-z0-9]{{0,40}})?{SECRET_WORD}{KEY_SUFFIX}[\"']?[{SPACE}]*[:=][{SPACE}]*){VALUE}",
        "\\1<secret>",
        "login failed: password=hunter2 user=bob",
        "login failed: password=<secret> user=<val>",
        keywords=SECRET_KEYWORDS,
    ),
    # --- URLs, emails, ids with a known shape ------------------------------------------------
    Mask(
        "url_query",
        "(://[^ \\t\\n\\r\"'<>?#]*)[?#][^ \\t\\n\\r\"']*",
        "\\1?<query>",
        "GET https://api.example.com/v1/orders?page=3&sig=abc failed",
        "GET https://api.example.com/v1/orders?<query> failed",
        guard="://",
    ),
    Mask(
        "email",
        f"(?<![{W}.%+>-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:[.][A-Za-z0-9-]+)+",
        "<email>",
        "recipient anna.42@customer.example.com refused",
        "recipient <email> refused",
        guard="@",
    ),
    Mask(
        "trace_id",
        f"{NOT_WORD_BEFORE}(?:[0-9a-f]{{2}}-[0-9a-f]{{32}}-[0-9a-f]{{16}}-[0-9a-f]{{2}}|1-[0-9a-f]{{8}}-[0-9a-f]{{24}}){NOT_WORD_AFTER}",
        "<trace>",
        "upstream failed (traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01)",
        "upstream failed (traceparent <trace>)",
        guard="-",
    ),
    Mask(
        "uuid",
        f"{NOT_WORD_BEFORE}[{HEX}]{{8}}-[{HEX}]{{4}}-[{HEX}]{{4}}-[{HEX}]{{4}}-[{HEX}]{{12}}{NOT_WORD_AFTER}",
        "<uuid>",
        "order 3f2b8c1e-9a4d-4e0f-8b7a-2c1d0e9f8a7b not found",
        "order <uuid> not found",
        guard="-",
    ),
    # --- dates and times ----------------------------------------------------------------------
    Mask(
        "ts",
        f"{NOT_WORD_BEFORE}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T -][0-9]{{2}}"
        f"(?::[0-9]{{2}}(?::[0-9]{{2}}(?:[.,][0-9]{{1,9}})?)?|[.][0-9]{{2}}[.][0-9]{{2}}(?:[.,][0-9]{{1,9}})?)"
        f"(?:Z|[+-][0-9]{{2}}:?[0-9]{{2}})?(?![{W}])",
        "<ts>",
        "KeyError: 123456 at 2025-11-07T10:00:00Z",
        "KeyError: <int> at <ts>",
        guard="-",
    ),
    # Day first: RFC 822/1123 (``Fri, 07 Nov 2025 10:00:00 +0000``, two-digit years only with a
    # time), RFC 850 (``Friday, 07-Nov-25 10:00:00 GMT``), Apache (``07/Nov/2025:10:00:00 +0000``),
    # and a bare ``7 Nov 2025``.
    Mask(
        "ts_rfc2822",
        f"{NOT_WORD_BEFORE}(?:{WEEKDAY},? )?[0-9]{{1,2}}[ /-]{MONTH}[ /-]"
        f"(?:[0-9]{{4}}(?:[ :]{HM_S})?|[0-9]{{2}} {HM_S})(?: {ZONE})?{NOT_WORD_AFTER}",
        "<ts>",
        "mail deferred since Fri, 07 Nov 2025 10:00:00 +0000 by relay",
        "mail deferred since <ts> by relay",
        keywords=MONTHS,
    ),
    # Month first: ``Jan 18, 2019`` (a time optional, 12-hour clocks too), syslog
    # (``Nov  7 10:00:00``), ctime (``Fri Nov  7 10:00:00 2025``) and JavaScript's
    # ``Date.toString()`` (``Fri Nov 07 2025 10:00:00 GMT+0100 (Central European Standard Time)``).
    Mask(
        "ts_month_first",
        f"{NOT_WORD_BEFORE}(?:{WEEKDAY},? )?{MONTH} [ 0-9]?[0-9]"
        f"(?:, [0-9]{{4}}(?:,? {CLOCK12})?"
        f"|(?: [0-9]{{4}})? {HMS}(?: [0-9]{{4}})?(?: GMT[+-][0-9]{{4}}(?: [(][A-Za-z ]{{1,60}}[)])?)?)"
        f"{NOT_WORD_AFTER}",
        "<ts>",
        "last seen Nov  7 10:00:00 on worker, due since Nov 1, 2025",
        "last seen <ts> on worker, due since <ts>",
        keywords=MONTHS,
    ),
    Mask(
        "ts_compact",
        f"{NOT_WORD_BEFORE}(?:19|20)[0-9]{{6}}(?:[T ]?[0-9]{{6}}|[T ][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}})"
        f"(?:[.][0-9]{{1,9}})?(?:Z|[+-][0-9]{{4}})?{NOT_WORD_AFTER}",
        "<ts>",
        "snapshot 20251107T100000Z missing",
        "snapshot <ts> missing",
        keywords=("19", "20"),
    ),
    Mask(
        "date",
        f"{NOT_WORD_BEFORE}[0-9](?:[0-9]{{3}}[-/.][0-9]{{1,2}}[-/.][0-9]{{1,2}}|[0-9]?/[0-9]{{1,2}}/[0-9]{{4}}"
        f"|[0-9]?[.][0-9]{{1,2}}[.](?:19|20)[0-9]{{2}}){NOT_WORD_AFTER}",
        "<date>",
        "report for 2025-11-07 failed",
        "report for <date> failed",
        keywords=("-", "/", "."),
    ),
    Mask(
        "time",
        f"(?<![{W}.])[0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}})?(?:[.,][0-9]{{1,9}})?(?:[{SPACE}]*[AaPp][Mm])?(?![{W}:])",
        "<time>",
        "job started 10:00:05.123 and stalled at 7:42 PM",
        "job started <time> and stalled at <time>",
        guard=":",
        keywords=DIGITS,
    ),
    # --- addresses ----------------------------------------------------------------------------
    Mask(
        "ipv4",
        f"(?<![{W}.])[0-9]{{1,3}}(?:[.][0-9]{{1,3}}){{3}}{NOT_WORD_AFTER}",
        "<ip>",
        "connection refused by 10.0.0.12",
        "connection refused by <ip>",
        guard=".",
        keywords=DIGITS,
    ),
    Mask(
        "ipv6",
        f"(?<![{W}:.>])(?:[{HEX}]{{0,4}}:){{2,7}}[{HEX}]{{1,4}}(?![{W}:(])",
        "<ip>",
        "no route to 2001:db8::8a2e:370:7334",
        "no route to <ip>",
        guard=":",
    ),
    Mask(
        "port",
        "(?<=[a-z0-9>]):[0-9]{1,5}(?![" + W + "])",
        ":<port>",
        "connect to db.internal:5432 refused",
        "connect to db.internal:<port> refused",
        guard=":",
        keywords=DIGITS,
    ),
    Mask(
        "address",
        f"{NOT_WORD_BEFORE}0[xX][{HEX}]+{NOT_WORD_AFTER}",
        "<addr>",
        "<sale.order object at 0x7f3a2b1c9d40> is not bound",
        "<sale.order object at <addr>> is not bound",
        guard="0",
    ),
    # --- values named by their key, ids glued to a word --------------------------------------
    Mask(
        "variable_value",
        f"(?<![A-Za-z0-9])({KEY_PREFIX}{VARIABLE_KEY}[{SPACE}]*=[{SPACE}]*){VALUE}",
        "\\1<val>",
        "step failed user=alice attempt=3",
        "step failed user=<val> attempt=<val>",
        guard="=",
    ),
    Mask(
        "glued_id",
        f"(?<![{W}-])({WORD_PART}(?:_{WORD_PART})*_)-?[0-9]+(?:[_-][0-9]+)*{NOT_WORD_AFTER}",
        "\\1<id>",
        "block blk_-1608999687919862906 replicated",
        "block blk_<id> replicated",
        guard="_",
        keywords=DIGITS,
    ),
    Mask(
        "dashed_id",
        f"(?<![{W}-])([A-Za-z][A-Za-z0-9]*-)[0-9]{{3,}}(?:-[0-9]+)*{NOT_WORD_AFTER}",
        "\\1<id>",
        "sale order SO-2026-00123 locked",
        "sale order SO-<id> locked",
        guard="-",
        keywords=DIGITS,
    ),
    # --- numbers ------------------------------------------------------------------------------
    Mask(
        "size",
        f"(?<![{W}.])[0-9]+(?:[.][0-9]+)?[{SPACE}]*{SIZE_UNIT}"
        f"(?:[{SPACE}]+[(][0-9]+(?:[.][0-9]+)?[{SPACE}]*{SIZE_UNIT}[)])?{NOT_WORD_AFTER}",
        "<size>",
        "chrome.exe close, 1190 bytes (1.16 KB) sent, 12.5 MB received",
        "chrome.exe close, <size> sent, <size> received",
        keywords=("b",),
    ),
    Mask(
        "duration",
        f"(?<![{W}.])-?(?:[0-9]+h(?:[0-9]+m)?(?:[0-9]+(?:[.][0-9]+)?(?:ms|us|ns|s))?"  # Go: 1h2m3.5s
        f"|[0-9]+m[0-9]+(?:[.][0-9]+)?(?:ms|us|ns|s)"  # Go: 2m30s
        f"|[0-9]+(?:[.][0-9]+)?[{SPACE}]*(?:milliseconds|ms|us|ns|seconds|secs|sec|s|minutes|mins|min|m"
        f"|hours|hrs|hr|h|days|d)){NOT_WORD_AFTER}",
        "<duration>",
        "request timed out after 350ms, retried in 12.5s, gave up after 1h2m3.5s",
        "request timed out after <duration>, retried in <duration>, gave up after <duration>",
        keywords=DIGITS,
    ),
    Mask(
        "epoch",
        "(?<![0-9A-Za-z_.])1[0-9]{9}(?:[0-9]{3})?(?![0-9A-Za-z_])",
        "<epoch>",
        "token expired at 1762509600",
        "token expired at <epoch>",
        guard="1",
    ),
    Mask(
        "version",
        f"(?<![{W}.])[vV]?[0-9]+(?:[.][0-9]+){{2,}}{NOT_WORD_AFTER}",
        "<version>",
        "Loaded Servicing Stack v6.1.7601.23505",
        "Loaded Servicing Stack <version>",
        guard=".",
        keywords=DIGITS,
    ),
    Mask(
        "card",
        f"(?<![{W}.-])[0-9]{{4}}(?:[ -]?[0-9]{{4}}){{2}}[ -]?[0-9]{{1,7}}{NOT_WORD_AFTER}",
        "<card>",
        "charge declined for card 4111 1111 1111 1111",
        "charge declined for card <card>",
        keywords=DIGITS,
    ),
    Mask(
        "thousands",
        f"(?<![{W}.,])-?[0-9]{{1,3}}(?:,[0-9]{{3}})+(?:[.][0-9]+)?{NOT_WORD_AFTER}",
        "<num>",
        "balance 1,234,567.50 exceeded",
        "balance <num> exceeded",
        guard=",",
        keywords=DIGITS,
    ),
    Mask(
        "float",
        # an exponent needs a sign without a fraction (1e-05, as Python, JS and Go print it):
        # 12e4567 is as likely a short hex digest
        f"(?<![{W}.])-?[0-9]+(?:[.][0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-][0-9]+){NOT_WORD_AFTER}",
        "<float>",
        "Quantity 12.50 exceeds -0.5, loss 1e-05",
        "Quantity <float> exceeds <float>, loss <float>",
        keywords=DIGITS,
    ),
    Mask(
        "int",
        f"(?:(?<![{W}.>-])-|(?<![{W}.-]))[0-9]+(?:-[0-9]+)*{NOT_WORD_AFTER}",
        "<int>",
        "KeyError: 123456",
        "KeyError: <int>",
        keywords=DIGITS,
    ),
    # A long hex run glued to a word (``tx274a77a8975c4a66aeb24``): the word stays. The word ends
    # with a letter that is not a hex digit, so where it ends is unambiguous.
    Mask(
        "glued_hex",
        f"(?<![A-Za-z0-9])([A-Za-z]{{0,7}}[G-Zg-z])[{HEX}]{{16,}}{NOT_WORD_AFTER}",
        "\\1<hex>",
        "swift transaction tx274a77a8975c4a66aeb24-0052d95365 failed",
        "swift transaction tx<hex>-<hex> failed",
    ),
    Mask(
        "hex",
        f"(?<![A-Za-z0-9])[{HEX}]{{7,}}{NOT_WORD_AFTER}",
        "<hex>",
        "commit 9fceb02 and sha256 e3b0c44298fc1c149afbf4c8996fb924 differ (req_5f3a9c2e71)",
        "commit <hex> and sha256 <hex> differ (req_<hex>)",
    ),
    Mask(
        "id_list",
        f"({PLACEHOLDER})(?:,?[{SPACE}]+{LISTED})+",
        "\\1",
        "BLOCK* ask 10.250.14.224:50010 to delete blk_-1608999687919862906 blk_7503483334202473044",
        "BLOCK* ask <ip>:<port> to delete blk_<id>",
        keywords=(">,", "> ", ">\t", ">\n", ">\r", ">\f", ">\v"),
    ),
    # --- layout -------------------------------------------------------------------------------
    # A lone space is already what this mask makes of it: only runs and other blanks need it.
    Mask("whitespace", f"[{SPACE}]+", " ", "a\n\t  b", "a b", keywords=("  ", "\t", "\n", "\r", "\f", "\v")),
    Truncate(length=2000),
    Mask("trim", "\\A | \\Z", "", "  padded  ", "padded", guard=" "),
)

# The exception type: an optional dotted module path, then the class name, then ':'.
# ``odoo.exceptions.ValidationError: ...`` gives ``ValidationError``.
KIND_PATTERN = "\\A(?:[A-Za-z_][A-Za-z0-9_]*[.])*([A-Z][A-Za-z0-9_]*)(?=:)"
# Messages that name no exception type.
KIND_DEFAULT = "Error"

# The tokens pattern merging (mining/patterns.py) writes into templates, where one
# token or a run of tokens varies; skill regexes are built from those templates.
WILDCARD = "<*>"  # exactly one space-free token
SPAN = "<**>"  # any run of tokens, possibly empty
