"""Every mask and secret kind, near-misses that must stay, properties, and SQL/Python parity.

Parity runs against the real embedded PostgreSQL (fixtures in conftest.py) on
generated messages built from fragments that sit on the new masks' edges.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import sql_normalized
from skillsmith_assets.normalize import rules as normalize_rules
from skillsmith_assets.normalize.message import (
    ASCII_LOWER, _python_replacement, normalize_error_message, normalize_event,
)

# (input, expected normalized message): one or more rows per mask.
MASKED = [
    ("order 3f2b8c1e-9a4d-4e0f-8b7a-2c1d0e9f8a7b not found", "order <uuid> not found"),
    ("KeyError: 123456 at 2025-11-07T10:00:00Z", "KeyError: <int> at <ts>"),
    ("at 2025-11-07 10:00:00.123+02:00 and 2005-06-03-15.42.50.675872", "at <ts> and <ts>"),
    ("mail deferred since Fri, 07 Nov 2025 10:00:00 +0000 by relay", "mail deferred since <ts> by relay"),
    ("last seen Nov  7 10:00:00 on worker", "last seen <ts> on worker"),
    ("last seen Fri Nov 17 10:00:00 2025 on worker", "last seen <ts> on worker"),
    ("snapshot 20251107T100000Z and 20251107100000 missing", "snapshot <ts> and <ts> missing"),
    ("report for 2025-11-07, 2025/11/7 and 11/07/2025 failed", "report for <date>, <date> and <date> failed"),
    ("job started 10:00:05.123 and stalled", "job started <time> and stalled"),
    ("token expired at 1762509600", "token expired at <epoch>"),
    ("connection refused by 10.0.0.12", "connection refused by <ip>"),
    ("connect to 10.0.0.12:5432 refused", "connect to <ip>:<port> refused"),
    ("no route to 2001:db8::8a2e:370:7334 or fe80::1", "no route to <ip> or <ip>"),
    ("connect to db.internal:5432 refused", "connect to db.internal:<port> refused"),
    ("GET https://api.example.com/v1/orders?page=3&sig=abc failed", "GET https://api.example.com/v1/orders?<query> failed"),
    ("tcp://broker.internal:9092 unreachable", "tcp://broker.internal:<port> unreachable"),
    ("recipient anna.42@customer.example.com refused", "recipient <email> refused"),
    ("upstream failed (traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01)",
     "upstream failed (traceparent <trace>)"),
    ("xray Root=1-5759e988-bd862e3fe1be46a994272793 lost", "xray Root=<trace> lost"),
    ("commit 9fceb02 and md5 d41d8cd98f00b204e9800998ecf8427e", "commit <hex> and md5 <hex>"),
    ("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 ok", "sha1 <hex> ok"),
    ("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 <hex>"),
    ("<sale.order object at 0x7f3a2b1c9d40> is not bound", "<sale.order object at <addr>> is not bound"),
    ("request timed out after 350ms, retried in 12.5s", "request timed out after <duration>, retried in <duration>"),
    ("waited 3 minutes then 2 days", "waited <duration> then <duration>"),
    ("Quantity 12.50 exceeds -0.5", "Quantity <float> exceeds <float>"),
    ("balance -1,234,567 below 1,000.50", "balance <num> below <num>"),
    ("offset -42 out of range", "offset <int> out of range"),
    ("block blk_-1608999687919862906 replicated", "block blk_<id> replicated"),
    ("order-8841233 and SO-2026-00123 locked", "order-<id> and SO-<id> locked"),
    ("delete blk_-1234 blk_2233,  blk_333", "delete blk_<id>"),
    ("task_12 and rdd_4_20 but not x86_64", "task_<id> and rdd_<id> but not x86_64"),
    ("step failed user=alice attempt=3 order_id=\"SO 1\"", "step failed user=<val> attempt=<val> order_id=<val>"),
    ("Loaded Servicing Stack v6.1.7601.23505", "Loaded Servicing Stack <version>"),
    ("sent 1190 bytes (1.16 KB), 12.5 MB left", "sent <size>, <size> left"),
    ('Traceback (most recent call last):\n  File "/srv/app/a.py", line 3, in f\n    x = y[1]\n'
     '  File "/srv/app/b.py", line 99, in g\n    return z\nKeyError: \'x\'', "KeyError: 'x' at a.py in f at b.py in g"),
]

# Secrets: (input, the secret that must not survive).
SECRETS = [
    ("could not connect to postgresql://odoo:hunter2@db.internal:5432/prod", "hunter2"),
    ("amqp://guest:p@ss@rabbit/vhost refused", "p@ss"),
    ("sync with Bearer abc.DEF-123_xyz failed", "abc.DEF-123_xyz"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA== rejected", "dXNlcjpwYXNzd29yZA=="),
    ("push failed with ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("token gho_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F292c6912E7710c838347Ae178B4a"),
    ("ghu_16C7e42F292c6912E7710c838347Ae178B4a ghs_16C7e42F292c6912E7710c838347Ae178B4b",
     "16C7e42F292c6912E7710c838347Ae178B4"),
    ("ghr_16C7e42F292c6912E7710c838347Ae178B4a expired", "16C7e42F292c6912E7710c838347Ae178B4a"),
    ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"),
    ("push failed: github_pat_11A3BCD7EFG0123456789_zK8mQpLxW2rT5yN9vB4cJ6", "zK8mQpLxW2rT5yN9vB4cJ6"),
    ("slack invalid_auth for xoxb-1234567890-abcdefABCDEF", "abcdefABCDEF"),
    ("POST https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX failed", "XXXXXXXXXXXX"),
    ("The AWS Access Key Id AKIAIOSFODNN7EXAMPLE does not exist", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ("Incorrect API key provided: sk-proj-abcdefghijklmnop1234", "abcdefghijklmnop1234"),
    ("stripe: sk_live_4eC39HqLyjWDarjtT1zdp7dc invalid", "4eC39HqLyjWDarjtT1zdp7dc"),
    ("could not load -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\nZm9vYmFy\n-----END RSA PRIVATE KEY-----",
     "MIIEowIBAAKCAQEA7bq"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U bad",
     "dozjgNryP4J3jVmNHl0w5N"),
    ("charge declined for card 4111 1111 1111 1111", "4111"),
    ("charge declined for card 4111-1111-1111-1111", "4111"),
    ("charge declined for 4111111111111111", "4111111111111111"),
    ("login failed: password=hunter2 user=bob", "hunter2"),
    ('config {"db_password": "s3cr3t!", "x": 1}', "s3cr3t!"),
    ("DB_PASSWORD: Tr0ub4dor&3", "Tr0ub4dor"),
    ("client_secret=abc123XYZ&grant=1", "abc123XYZ"),
    ("X-Api-Key: 0123abcdZZ rejected", "0123abcdZZ"),
    ("accessToken=qwertyuiop then", "qwertyuiop"),
    ("error for anna.smith@example.com", "anna.smith"),
]

# Near-misses: text that names the bug and must come out unchanged.
KEPT = [
    "KeyError: 'partner_id'",
    "model sale.order has no field partner_id",
    "encoding utf-8 and utf-16 and sha256 and gpt-4o",
    "psycopg2.errors.SerializationFailure: could not serialize access",
    "ValueError: invalid literal for int()",
    "ExpiredSignatureError: Signature has expired",
    "AuthenticationError: Error code",
    "ipv6 and s3 and log4j and x86_64",
    "password too short",
    "the token expired",
    "Bearer token missing",
    "sk-learn is not a key",
    "add an index on res_partner",
]


def test_mask_examples_in_the_rule_table():
    for step in normalize_rules.STEPS:
        if isinstance(step, normalize_rules.Mask):
            assert normalize_error_message(step.example) == step.expected, step.name


def test_every_mask_has_an_example():
    masks = [s for s in normalize_rules.STEPS if isinstance(s, normalize_rules.Mask)]
    assert all(m.example and m.example != m.expected for m in masks if m.name not in ("whitespace", "trim"))
    assert normalize_rules.RULES_VERSION >= 2


@pytest.mark.parametrize("message,expected", MASKED, ids=[m[:30] for m, _ in MASKED])
def test_masks(message, expected):
    assert normalize_error_message(message) == expected


@pytest.mark.parametrize("message,secret", SECRETS, ids=[s[:24] for _, s in SECRETS])
def test_secrets_never_survive(message, secret):
    norm = normalize_error_message(message)
    assert secret not in norm, norm


@pytest.mark.parametrize("message", KEPT)
def test_near_misses_stay(message):
    assert normalize_error_message(message) == message


def test_traceback_exception_line_decides_kind_and_message():
    tb = ('Traceback (most recent call last):\n  File "/opt/odoo/odoo/http.py", line 610, in dispatch\n'
          '    result = self._call_function(**self.params)\n'
          '  File "/opt/odoo/addons/sale/models/sale_order.py", line 231, in _compute_amounts\n'
          "    partner = vals['partner_id']\nKeyError: 'partner_id'\n")
    event = normalize_event(tb)
    assert event.kind == "KeyError"
    assert event.norm_error == "KeyError: 'partner_id' at http.py in dispatch at sale_order.py in _compute_amounts"
    moved = tb.replace("line 610", "line 7").replace("line 231", "line 12").replace("/opt/odoo", "/srv/odoo-17")
    assert normalize_event(moved).fingerprint == event.fingerprint
    other = tb.replace("KeyError: 'partner_id'\n", "KeyError: 'product_id'\n")
    assert normalize_event(other).fingerprint != event.fingerprint


def test_exception_first_then_traceback():
    msg = ("KeyError: 'partner_id'\nTraceback (most recent call last):\n"
           '  File "/opt/odoo/odoo/http.py", line 610, in dispatch\n    result = f()\n')
    assert normalize_event(msg).norm_error == "KeyError: 'partner_id' at http.py in dispatch"


def test_two_hosts_stay_distinct_ports_do_not():
    a = normalize_event("TimeoutError: request to https://erp.example.com:8069/jsonrpc timed out after 5000ms", "http")
    b = normalize_event("TimeoutError: request to https://erp.example.com:8070/jsonrpc timed out after 31s", "http")
    c = normalize_event("TimeoutError: request to https://pay.example.net:8069/jsonrpc timed out after 5000ms", "http")
    assert a.fingerprint == b.fingerprint != c.fingerprint


# --- properties ----------------------------------------------------------------------------

FRAGMENTS = st.sampled_from([
    "0", "7", "42", "-", "_", ".", ",", ":", "::", "/", "\\", "@", "=", "?", "#", "&", "'", '"', "(", ")", "<", ">",
    " ", "  ", "\n", "\t", "\r\n", "x", "é", "日本", "\u00a0", "T", "Z", "Nov", "Fri, ", " 7 ", "2025", "2025-11-07",
    "10:00:00", "10:00", ".123", "+0000", "GMT", "20251107T100000Z", "1762509600", "12345", "1,234", "-5", "12.5",
    "350ms", "3 minutes", "12 KB", "bytes", " (1.16 KB)", "0x7f3a2b", "deadbeef12", "9fceb02", "a" * 32,
    "3f2b8c1e-9a4d-4e0f-8b7a-2c1d0e9f8a7b", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "1-5759e988-bd862e3fe1be46a994272793", "10.0.0.1", "fe80::1", "2001:db8::1", "db.internal", ":5432",
    "https://", "postgresql://", "tcp://", "user:pw@", "host", "?a=1", "anna@example.com", "blk_", "blk_-1",
    "order-", "SO-2026-", "00123", "user=", "password=", "token: ", "api_key", "Bearer ", "ghp_", "github_pat_",
    "xoxb-", "AKIA", "IOSFODNN7EXAMPLE", "sk-", "abcdefghijklmnop1234", "eyJ", "eyJhbGciOiJIUzI1NiJ9.",
    "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "4111 1111 1111 1111", "hooks.slack.com/services/",
    "Traceback (most recent call last):", '  File "/srv/a.py", line 3, in f', "    code()", "KeyError: 'x'",
    "<int>", "<id>", "<ip>", " <ip>", "v6.1.7601", "utf-8", "sha256", "'partner_id'", "sale.order", "%", "$", "^",
    "[", "]", "{", "}", "|", "+", "*",
])
MESSAGES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=120),
    st.lists(FRAGMENTS, max_size=30).map("".join),
)
PLANTED = st.sampled_from([
    "hunter2XQ", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "AKIAIOSFODNN7EXAMPLE", "sk-proj-abcdefghijklmnop1234",
    "xoxb-1234567890-abcdefABCDEF", "4111 1111 1111 1111",
])


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_normalization_is_idempotent_and_never_raises(message):
    once = normalize_error_message(message)
    assert normalize_error_message(once) == once
    assert len(once) <= 2000


@settings(max_examples=200, deadline=None)
@given(st.lists(FRAGMENTS, max_size=10).map("".join), PLANTED, st.lists(FRAGMENTS, max_size=10).map("".join))
def test_planted_secret_never_returned(before, secret, after):
    contexts = {
        "hunter2XQ": "postgresql://u:{}@h/db",
        "4111 1111 1111 1111": " card {} ",
    }
    planted = contexts.get(secret, " {} ").format(secret)
    norm = normalize_error_message(before + planted + after)
    assert secret not in norm


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(MESSAGES, min_size=1, max_size=40))
@example(batch=[m for m, _ in MASKED] + [m for m, _ in SECRETS] + KEPT)
def test_sql_and_python_agree_on_every_mask(conn, batch):
    for message, (norm, kind, fp) in zip(batch, sql_normalized(conn, batch, "comp")):
        expected = normalize_event(message, "comp")
        assert (norm, kind, fp) == (expected.norm_error, expected.kind, expected.fingerprint), repr(message)


def _outside_classes(pattern: str) -> str:
    """The pattern with bracket expressions and escapes removed: what is left is syntax."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append("E")
            i += 2
            continue
        if char == "[":
            out.append("C")
            i += 1
            if pattern[i:i + 1] == "^":
                i += 1
            if pattern[i:i + 1] == "]":
                i += 1
            while pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


@pytest.mark.parametrize("step", [s for s in normalize_rules.STEPS if isinstance(s, normalize_rules.Mask)],
                         ids=lambda s: s.name)
def test_rule_table_is_in_the_portable_dialect(step):
    import re

    syntax = _outside_classes(step.pattern)
    assert "." not in syntax and "^" not in syntax and "$" not in syntax
    assert not re.search(r"\\[dDwWsSb]", step.pattern)
    assert all(int(n) <= 255 for n in re.findall(r"\{([0-9]+)", step.pattern))
    assert all(int(n) <= 255 for n in re.findall(r",([0-9]+)\}", step.pattern))
    assert "*?" not in syntax and "+?" not in syntax and "??" not in syntax
    assert all(step.guard in m.group(0) for m in re.finditer(step.pattern, step.example))


GUARD_CASES = [
    "github_pat_11A3BCD7EFG0123456789_zK8mQpLxW2rT5yN9vB4cJ6", "Traceback\n  (most recent call last):",
    "Traceback  (most recent call last):\nValueError: x",
]


@settings(max_examples=300, deadline=None)
@given(st.one_of(MESSAGES, st.sampled_from(GUARD_CASES)))
@example(message=" ".join(GUARD_CASES))
def test_masks_skipped_for_a_missing_guard_or_keyword_would_change_nothing(message):
    """Every engine skips a mask whose guard or keywords are absent: right only if the mask
    would have left the text as it is."""
    import re

    folded = message.translate(ASCII_LOWER)
    for step in normalize_rules.STEPS:
        if not isinstance(step, normalize_rules.Mask):
            continue
        if step.guard not in message or (step.keywords and not any(k in folded for k in step.keywords)):
            assert re.sub(step.pattern, _python_replacement(step.replacement), message) == message, step.name


@settings(max_examples=300, deadline=None)
@given(st.one_of(MESSAGES, st.lists(st.sampled_from([":", "::", "-", ".", "/", "<", ">", " ", "a", "f", "1", "ff:", "1.2",
                                                     "e", "-4e0f", "KEY-----"]), max_size=24).map("".join)))
@example(message="fe80:1")  # one colon short of an IPv6 address
@example(message="3f2b8c1e-9a4d-4e0f8b7a2c1d0e9f8a7b")  # three dashes: no UUID
@example(message="10.0.0")  # two dots: no IPv4 address
def test_masks_skipped_for_too_few_of_a_character_would_change_nothing(message):
    """The compiled engine also skips a mask when the text holds a character fewer times than
    every match does (native.least_counts): right only if the mask would have left it as it is."""
    import re

    from skillsmith_assets.normalize.native import least_counts

    for step in normalize_rules.STEPS:
        if isinstance(step, normalize_rules.Mask) and any(message.count(chr(c)) < n
                                                           for c, n in least_counts(step.pattern)):
            assert re.sub(step.pattern, _python_replacement(step.replacement), message) == message, step.name


def _longest_run(members: bytes, text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if members[min(ord(char), 128)] else 0
        longest = max(longest, run)
    return longest


@settings(max_examples=300, deadline=None)
@given(st.one_of(MESSAGES, st.lists(st.sampled_from(["a", "f", "0", "9", "g", "z", "x", "-", " ", "deadbeef", "7f3a",
                                                     "é"]), max_size=30).map("".join)))
@example(message="id deadbeef123 is 7f3a2b1")  # runs of 11 and 7
@example(message="id deadbee is 7f3a2b")  # six: one short of hex's seven
def test_masks_skipped_for_lacking_a_run_would_change_nothing(message):
    """The compiled engine skips a mask when the text lacks a run of characters every match
    holds (native.mandatory_run): right only if the mask would have left it as it is."""
    import re

    from skillsmith_assets.normalize.native import mandatory_run

    for step in normalize_rules.STEPS:
        run = isinstance(step, normalize_rules.Mask) and mandatory_run(step.pattern)
        if run and _longest_run(run[0], message) < run[1]:
            assert re.sub(step.pattern, _python_replacement(step.replacement), message) == message, step.name


@pytest.mark.parametrize("pattern, members, n", [
    ("(?<![A-Za-z0-9])[0-9A-Fa-f]{7,}(?![A-Za-z0-9_])", "0123456789ABCDEFabcdef", 7),
    ("x([a-z]{3})[0-9]{2}", "abcdefghijklmnopqrstuvwxyz", 3),  # a group every match goes through
    ("(?:[0-9]{5})?x", None, 0),  # optional
    ("a|[0-9]{4}", None, 0),  # one alternative
    ("(?i:[a-z]{5})", None, 0),  # case folded in a scoped group
    ("x{1,}", None, 0),  # a run of one is what a guard says
    ("[^ ]{3}", "".join(chr(c) for c in range(128) if c != 32), 3),
])
def test_mandatory_runs_are_what_every_match_holds(pattern, members, n):
    from skillsmith_assets.normalize.native import mandatory_run

    run = mandatory_run(pattern)
    if members is None:
        assert run is None
    else:
        assert "".join(chr(c) for c in range(128) if run[0][c]) == members and run[1] == n


@pytest.mark.parametrize("pattern, counts", [
    ("a:b:c", ((ord(":"), 2),)),
    ("(?:x-){2,}", ((ord("-"), 2), (ord("x"), 2))),
    ("(?:x-){0,5}y", ()),
    ("--|-", ()),  # one branch holds a single dash
    ("(?:--|[-][-])-", ((ord("-"), 3),)),
    ("(?i:aa)bb", ((ord("b"), 2),)),  # letters matched in either case are not counted
    ("(?=::)x", ()),  # a lookahead holds what the match need not
    ("é{3}", ()),  # the engine counts ASCII characters only
    ("(?>ab)+ab", ((ord("a"), 2), (ord("b"), 2))),
])
def test_least_counts_are_what_every_match_holds(pattern, counts):
    import re

    from skillsmith_assets.normalize.native import least_counts

    assert least_counts(pattern) == counts
    for text in ("a:b:c", "x-x-x-", "x-y", "--", "---", "-", "AAbb", "aabb", "::x", "ééé", "ababab"):
        for match in re.finditer(pattern, text):
            assert all(match.group(0).count(chr(c)) >= n for c, n in counts)


@pytest.mark.parametrize("message", [
    "a_" * 16000 + "passwordX", "a." * 16000 + "token", "a_" * 16000 + "user", "ab " * 10000 + "token",
    "<" * 30000 + 'File "', "Traceback (most recent call last):\n" + "  x\n" * 8000, "a@" * 16000,
    "-----BEGIN RSA PRIVATE KEY-----" + "a" * 30000, "1-" * 16000, "a:" * 16000, "0." * 16000,
], ids=lambda m: repr(m[:10]))
def test_long_adversarial_inputs_complete(message):
    """Runs of short words near a keyword once made the key masks quadratic; bounded keys keep them linear."""
    once = normalize_error_message(message)
    assert len(once) <= 2000 and normalize_error_message(once) == once


@pytest.mark.parametrize("message", [
    "key: -----BEGIN\tRSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA  PRIVATE\tKEY-----",
    "key: -----BEGIN RSA  PRIVATE   KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
])
def test_a_private_key_with_other_spacing_is_masked(message):
    assert normalize_error_message(message) == "key: <private-key>"


@pytest.mark.parametrize("message", [
    "A-0  byte", "x-12\t\tKB", "sk--5 \nbytes", "utf-8\ns", "order-10\r\n ms", "at 7:42 \t PM",
    "1190 bytes  (1.16 KB) sent",  # the whitespace step runs last: masks must not wait for it
    "^1762509600::db.internal", "user:pw@abcdefghijklmnop123412.5blk_anna@example.com",
])
def test_normalizing_twice_gives_the_same_text(message):
    once = normalize_error_message(message)
    assert normalize_error_message(once) == once
