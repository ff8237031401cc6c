"""Sentry's volatile types against our normalizer: does every type we mask group?

Sentry's grouping parameterization (``src/sentry/grouping/parameterization.py``)
masks a known list of value types: email, url, hostname, ip, traceparent, uuid,
sha1, md5, date, duration, swift_txn_id, hex, git_sha, float, int, quoted_str and
bool. For each type (and each date format) this benchmark puts pairs of two
different values of the type into the same surrounding message and checks that
both messages normalize to the same text (``normalize_event(...).norm_error``).
The examples are ours, written after the kinds of values Sentry's tests use.

Three types are kept on purpose (hostname, quoted_str, bool): their values name
the bug, so their pairs must stay *distinct*; pattern merging (stage 2) merges
them when one position takes many values.

    python -m benchmarks.sentry_types            # markdown table
    python -m benchmarks.sentry_types --json     # the rows as JSON
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass

from skillsmith_assets.normalize.message import normalize_event

COMPONENT = "billing"


@dataclass(frozen=True)
class SentryType:
    name: str  # Sentry's type name, with the format for dates
    template: str  # the surrounding message; {v} is the value
    pairs: tuple[tuple[str, str], ...]  # two different values of the type each
    hides: str  # what the mask hides; for kept types, why they are kept
    kept: bool = False  # deliberately not masked: the pair must stay distinct


def _digest(kind: str, seed: str) -> str:
    return hashlib.new(kind, seed.encode()).hexdigest()


TYPES: tuple[SentryType, ...] = (
    SentryType("email", "SMTPRecipientsRefused: {v} refused by relay",
               (("anna.42@customer.example.com", "j.doe+billing@shop.example.org"),
                ("ops@erp.example.net", "x_y-z@mail.example.co.uk")),
               "which address: two mailboxes failing for different reasons look alike"),
    SentryType("url", "GET {v} failed: 503 Service Unavailable",
               (("https://api.example.com/v1/orders/8841?page=2", "https://api.example.com/v1/orders/17?page=9&sig=ab12"),
                ("postgresql://odoo:hunter2@db.example.com:5432/prod", "postgresql://svc:Xy9z@db.example.com:6432/prod"),
                ("http://10.0.3.7:8069/web#action=12", "http://10.0.9.12:8070/web#action=40")),
               "credentials, query and fragment, ports, IPs and numeric ids in the path; scheme, host and path "
               "words are kept (Sentry masks the whole URL)"),
    SentryType("hostname", "TimeoutError: connect to {v} timed out",
               (("erp.example.com", "payments.example.net"),),
               "a host names the dependency that fails: a timeout to the ERP and one to the payment provider "
               "are two bugs", kept=True),
    SentryType("ip", "ConnectionRefusedError: connect to {v} refused",
               (("10.0.0.12", "192.168.31.4"), ("2001:db8::8a2e:370:7334", "fe80::1ff:fe23:4567:890a"),
                ("::ffff:10.0.0.12", "::ffff:172.16.5.4"),
                ("1121:0c03:1231:130d:0000:16da:0908:da07", "2a00:1450:4001:0829:0000:0000:0000:200e")),
               "which machine: the same service moves between addresses; a network prefix ending in `::` "
               "(`fd00::/8`) is not masked"),
    SentryType("traceparent", "upstream call failed (trace {v})",
               (("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                 "00-9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f-1a2b3c4d5e6f7a8b-00"),
                ("1-5759e988-bd862e3fe1be46a994272793", "1-6553f2a1-0c4d2e9b7a8f1e3d5c6b7a89")),
               "the request's trace id (W3C traceparent, AWS X-Ray)"),
    SentryType("uuid", "MissingError: record {v} does not exist",
               (("3f2b8c1e-9a4d-4e0f-8b7a-2c1d0e9f8a7b", "0c9e7d1a-55aa-4f1b-9e0d-7a6b5c4d3e2f"),
                ("3F2B8C1E-9A4D-4E0F-8B7A-2C1D0E9F8A7B", "0C9E7D1A-55AA-4F1B-9E0D-7A6B5C4D3E2F")),
               "which record"),
    SentryType("sha1", "checksum mismatch: expected {v}",
               ((_digest("sha1", "invoice-1"), _digest("sha1", "invoice-2")),),
               "which content; the algorithm's name (`sha1`, `sha256`) stays"),
    SentryType("md5", "checksum mismatch: expected {v}",
               ((_digest("md5", "invoice-1"), _digest("md5", "invoice-2")),
                (_digest("md5", "a").upper(), _digest("md5", "b").upper())),
               "which content"),
    SentryType("date (ISO 8601)", "RateLimitError: retry after {v} for order",
               (("2025-11-07T10:00:00Z", "2026-01-19T23:04:51Z"),
                ("2025-11-07T10:00:00.123456+01:00", "2026-01-19T23:04:51.5-05:00"),
                ("2025-11-07 10:00:00", "2026-01-19 23:04:51"),
                ("2025-11-07 10:00:00,123", "2026-01-19 23:04:51,987"),
                ("2025-11-07T10:00", "2026-01-19T23:04"),
                ("2025-11-07 10:00:00+0000", "2026-01-19 23:04:51-0800")),
               "when; with or without `T`, seconds, fraction (`.` or `,`) and zone"),
    SentryType("date (RFC 2822, RFC 1123)", "mail deferred since {v} by relay",
               (("Fri, 07 Nov 2025 10:00:00 +0000", "Mon, 19 Jan 2026 23:04:51 -0500"),
                ("Tue, 3 Feb 2026 14:01:00 GMT", "Sat, 28 Feb 2026 09:30:59 EST"),
                ("Fri, 07 Nov 25 10:00 PST", "Sun, 11 Jan 26 23:59 PDT")),
               "when"),
    SentryType("date (RFC 850)", "cookie expired on {v} for session",
               (("Friday, 07-Nov-25 10:00:00 GMT", "Wednesday, 21-Jan-26 18:45:12 GMT"),),
               "when"),
    SentryType("date (JavaScript Date)", "sync failed at {v} for order",
               (("Fri Nov 07 2025 10:00:00 GMT+0100 (Central European Standard Time)",
                 "Tue Jan 20 2026 08:05:09 GMT+0100 (Central European Standard Time)"),
                ("Fri Nov 07 2025 10:00:00 GMT+0000", "Tue Jan 20 2026 08:05:09 GMT-0800")),
               "when, and the zone's name in parentheses"),
    SentryType("date (syslog, ctime)", "worker lost at {v} during import",
               (("Nov  7 10:00:00", "Jan 19 23:04:51"), ("Fri Nov  7 10:00:00 2025", "Mon Jan 19 23:04:51 2026")),
               "when"),
    SentryType("date (Jan 18, 2019)", "invoice due {v} was not paid",
               (("Nov 7, 2025", "January 19, 2026"), ("Mon Nov 10, 2025", "Wed Jan 21, 2026"),
                ("Nov 7, 2025 10:00:00 AM", "Jan 19, 2026 11:04 PM")),
               "when; month names short or long"),
    SentryType("date (7 Nov 2025, Apache)", "request logged {v} was rejected",
               (("7 Nov 2025", "19 January 2026"),
                ("07/Nov/2025:10:00:00 +0000", "19/Jan/2026:23:04:51 -0800")),
               "when"),
    SentryType("date (compact)", "snapshot {v} missing",
               (("20251107T100000Z", "20260119T230451Z"), ("20251107 100000", "20260119 230451"),
                ("20251107T100000+0100", "20260119T230451-0500"),
                ("20251107 10:00:00.123456", "20260119 23:04:51.5")),
               "when"),
    SentryType("date (plain date)", "report for {v} failed",
               (("2025-11-07", "2026-01-19"), ("2025/11/7", "2026/1/19"), ("11/07/2025", "1/19/2026"),
                ("07.11.2025", "19.01.2026")),
               "which day"),
    SentryType("date (time of day)", "job started {v} and stalled",
               (("10:00:05", "23:04:51.123"), ("9:05 AM", "11:59 PM"), ("10:00pm", "7:30am"), ("10:00", "23:04")),
               "what time; 12- and 24-hour clocks"),
    SentryType("date (Python datetime repr)", "cannot serialize {v} in payload",
               (("datetime.datetime(2025, 11, 7, 10, 0)", "datetime.datetime(2026, 1, 19, 23, 4, 51, 447640)"),),
               "the date's fields (as a list of numbers)"),
    SentryType("duration", "request timed out after {v} waiting for lock",
               (("350ms", "12ms"), ("1.5s", "0.250s"), ("3 hours", "45 minutes"), ("1h2m3.5s", "2m30s"),
                ("250us", "1200ns")),
               "how long: 350ms and 45 minutes are the same timeout; the unit goes too"),
    SentryType("swift_txn_id", "object PUT failed, transaction {v}",
               (("tx9f3c1a7b2e4d6f8a0b1c2d3-00650a1b2c", "tx0a1b2c3d4e5f60718293a4b-0065b3f9e1"),),
               "any long hex run glued to a word (`tx<hex>`, `sess<hex>`): the word stays; no rule names "
               "Swift"),
    SentryType("hex", "segfault reading {v} in worker",
               (("0x7f3a2b1c9d40", "0x1e2d3c4b"), ("9af8c3be3a1231fe", "00c0ffee12345678"),
                ("DEADBEEF0042", "0A1B2C3D4E5F")),
               "addresses and ids; 4 to 6 hex digits without `0x` stay (`cafe`, `a1b2`), and a 7+ letter "
               "word made of hex letters is masked (`defaced`, `ed25519`)"),
    SentryType("git_sha", "deploy of commit {v} failed",
               (("9fceb02", "c4d2a91"), ("3e1f0b7", "a93c7d2")),
               "which commit: a bug introduced by one commit is grouped with the same message for any other"),
    SentryType("float", "Quantity {v} exceeds stock for order",
               (("12.50", "-0.75"), ("1e-05", "2.5e+08"), ("1.5E10", "3.25E-4")),
               "the amount: a limit (0.0 vs 100.0) that decides the bug goes too"),
    SentryType("int", "KeyError: {v} in invoice lines",
               (("42", "8841233"), ("-1", "-42"), ("1,234,567", "12,000")),
               "every integer, HTTP status and errno included: their text (`Not Found`, `Connection refused`) "
               "stays and names the bug"),
    SentryType("quoted_str", "ValidationError: field={v} is required",
               (("'partner_id'", "'product_id'"),),
               "a quoted key names the field the bug is about ('partner_id' vs 'product_id')", kept=True),
    SentryType("bool", "sync refused with sync_enabled={v}",
               (("true", "false"), ("True", "False")),
               "a flag's value says which branch failed; two values cannot make a volatile position",
               kept=True),
)


def check(kind: SentryType) -> dict:
    """One row: every pair normalized; masked types must group, kept types must stay distinct."""
    failures = []
    for a, b in kind.pairs:
        na = normalize_event(kind.template.format(v=a), COMPONENT).norm_error
        nb = normalize_event(kind.template.format(v=b), COMPONENT).norm_error
        if (na == nb) == kind.kept:
            failures.append({"values": [a, b], "normalized": [na, nb]})
    first = kind.pairs[0][0]
    return {
        "type": kind.name,
        "examples": len(kind.pairs),
        "kept": kind.kept,
        "groups": None if kind.kept else not failures,
        "ok": not failures,
        "example": kind.template.format(v=first),
        "output": normalize_event(kind.template.format(v=first), COMPONENT).norm_error,
        "hides": kind.hides,
        "failures": failures,
    }


def run(types: tuple[SentryType, ...] = TYPES) -> list[dict]:
    """Every type's row (see ``check``)."""
    return [check(kind) for kind in types]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def table(rows: list[dict]) -> str:
    """The markdown table for docs/grouping.md."""
    lines = ["| Sentry type | pairs | groups | our output (first example) | what it hides |",
             "|---|---|---|---|---|"]
    for row in rows:
        if row["kept"]:
            verdict = "kept on purpose" if row["ok"] else "**masked, meant to be kept**"
            note = "kept: " + row["hides"]
        else:
            verdict = "yes" if row["ok"] else f"**no ({len(row['failures'])} of {row['examples']} split)**"
            note = row["hides"]
        lines.append(f"| {row['type']} | {row['examples']} | {verdict} | {_cell(_code(row['output']))} | "
                     f"{_cell(note)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentry_types", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    args = parser.parse_args(argv)
    rows = run()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(table(rows))
        for row in rows:
            for failure in row["failures"]:
                print(f"\n{row['type']}: {failure['values'][0]!r} / {failure['values'][1]!r} -> "
                      f"{failure['normalized'][0]!r} / {failure['normalized'][1]!r}", file=sys.stderr)
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
