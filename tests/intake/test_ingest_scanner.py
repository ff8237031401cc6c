"""`skillsmith ingest`'s compiled scanner against the json-module path it stands in for.

For every line the two must give the same COPY row (so the same stored row and event
key) and the same rejection. Inputs are generated, adversarial ones included; the
comparison needs no database, then a real one checks what gets stored, the re-load
path (COPY in a savepoint, then staging + ON CONFLICT) and the count triggers.
"""

from __future__ import annotations

import io
import json
import random
from datetime import date, datetime, timezone

import pytest

from skillsmith_assets.intake import bulk as ingest
from skillsmith_assets.intake.events import Event

scanner = ingest._scanner()
needs_scanner = pytest.mark.skipif(scanner is None, reason="the _jsonl extension is not built")

NOW, TODAY = ingest.pg_time(datetime(2026, 12, 6, 4, 0, 0, 123456, tzinfo=timezone.utc)), date(2026, 12, 6)

ERRORS = [
    '"KeyError: \'partner_id\' in order 123456"', '"plain"', '"tab\\tnew\\nline\\r cr"', '"quote \\" back \\\\ slash \\/"',
    '"\\u00e9t\\u00e9 \\u2028 sep"', '"raw é 😀 ünïcode"', '"nul \\u0000 inside"', '"lone \\ud800 surrogate"',
    '"pair \\ud83d\\ude00 escaped"', '""', '"   "', '"\\u00a0"', '"\\t\\n"', '"\\u3000 x"', '123', 'null', '["e"]',
    '"ctl \\u0001 \\u001f \\b \\f"', '"del \x7f char"', '"\\\\N"', '"' + "x" * 5000 + '"',
]
COMPONENTS = [None, 'null', '"odoo.addons.sale"', '"comp\\twith tab"', '"é"', '7', '"nul\\u0000"', '"\\ud800"']
TAGS = [None, 'null', '[]', '["odoo", "sale"]', '["q\\"uote", "back\\\\slash", "tab\\t", "{brace,}"]', '[1]',
        '"tag"', '["nul\\u0000"]', '["é", "😀"]', '[ "spaced" , "x" ]', '["\\ud800"]']
TS = [None, 'null', '"2026-11-01T00:00:29.107698Z"', '"2026-11-01T00:00:29Z"', '"2026-11-01t00:00:29z"',
      '"2026-11-01T23:30:00+02:00"', '"2026-11-01T00:30:00-05:30"', '"2026-11-01T00:00:29"', '"2026-11-01 00:00:29"',
      '"2026-11-01T00:00:29.123"', '"2026-11-01T00:00:29.1234567"', '"2026-11-01T00:00:29.000000Z"',
      '"2026-02-30T00:00:00Z"', '"2024-02-29T00:00:00Z"', '"2026-11-01T24:00:00Z"', '"garbage"', '" 2026-11-01T00:00:00Z "',
      '"2026-11-01"', '"2026-11-01T00:00"', '"2026-11-01T00:00:00+24:00"', '"2026-11-01T00:00:00-00:00"',
      '"0001-01-01T00:00:00Z"', '"2026-11-01T00:00:00,5Z"', '"\\u0032026-11-01T00:00:00Z"',
      '1700000000', '1700000000123', '100000000000', '100000000001', '0', '-5', '-0', '1.5', '1e3', 'true', 'false',
      '99999999999999999', '4294967296000', '4294967295999', '[1]', '{}']
IDS = [None, 'null', '"req-42"', '42', '-0', '0', '"é-\\u00e9-😀"', '"q\\"\\\\\\t"', 'true', '1.5', '[]', '"nul\\u0000"',
       '"\\ud800"', '"' + "9" * 50 + '"', "1" * 30]


def event_line(rng: random.Random) -> str:
    fields = []
    for name, choices, weight in (("error", ERRORS, 0.97), ("component", COMPONENTS, 0.8), ("tags", TAGS, 0.7),
                                  ("ts", TS, 0.8), ("id", IDS, 0.3), ("event_id", IDS, 0.3)):
        value = rng.choice(choices)
        if value is not None and rng.random() < weight:
            fields.append((name, value))
    if rng.random() < 0.2:
        fields.append(("extra", rng.choice(['{"a": [1, 2.5e3, null, true]}', '"x"', 'NaN', '-Infinity', '[' * 70 + ']' * 70,
                                            '1' * 700, '"\\ud800"'])))
    if rng.random() < 0.05 and fields:
        fields.append(rng.choice(fields))  # a repeated key: the json module keeps the last
    if rng.random() < 0.03:
        fields.append(("\\u0065rror", '"escaped key"'))
    rng.shuffle(fields)
    sep = rng.choice([", ", ",", " , "])
    return "{" + sep.join(f'"{k}": {v}' for k, v in fields) + "}"


def adversarial_bytes(seed: int, lines: int) -> bytes:
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        r = rng.random()
        if r < 0.80:
            line = event_line(rng).encode("utf-8")
        elif r < 0.85:
            line = rng.choice([b"", b"   ", b"\t", b"\x0b\x0c", b"\r"])
        elif r < 0.90:
            line = rng.choice([b'{"error": "bad \xff byte"}', b'{"error": "cut \xe2\x82"}', b"\xef\xbb\xbf{\"error\": \"bom\"}",
                               b'{"error": "x"} trailing', b'[1, 2]', b'"just a string"', b'42', b'{"error": "x"',
                               b'{"error": "lone\rcr"}', b'\x0c{"error": "ff"}', b'{"error":\r"cr ws"}',
                               b'{"error": "\xed\xa0\x80 raw surrogate"}', b'{"error": "ok", "ts": "2026\xff"}'])
        elif r < 0.93:
            line = json.dumps({"error": "huge " + "y" * rng.randint(10_000, 300_000), "id": rng.randint(0, 9)}).encode()
        else:
            line = json.dumps({"error": f"E{rng.randint(0, 5)}", "component": rng.choice([None, "c"]),
                               "tags": ["a"], "ts": rng.randint(1_600_000_000, 1_800_000_000)}).encode()
        out.append(line + rng.choice([b"\n", b"\n", b"\r\n"]))
    data = b"".join(out)
    return data[:-1] if seed % 2 else data + b'{"error": "truncated last li'


def chunks_text(chunks) -> tuple[bytes, int, set]:
    text, rows, days = [], 0, set()
    for chunk in chunks:
        data = b"".join(chunk.parts())
        assert data.startswith(ingest._HEADER) and data.endswith(ingest._TRAILER)
        text.append(data[len(ingest._HEADER):-len(ingest._TRAILER)])  # chunks may be cut differently
        rows += chunk.rows
        days |= chunk.days
    return b"".join(text), rows, days


def both_paths(data: bytes, origin: str = "/data/errors.jsonl"):
    results = []
    for fast in (True, False):
        report = ingest.IngestReport()
        stream = io.BytesIO(data)
        chunks = (ingest._scanned_chunks(stream, "src", origin, NOW, TODAY, report, scanner) if fast
                  else ingest._python_chunks(stream, "src", origin, NOW, TODAY, report))
        results.append((*chunks_text(chunks), [(r.line, r.reason) for r in report.rejected]))
    return results


@needs_scanner
@pytest.mark.parametrize("seed", range(6))
def test_scanner_rows_and_rejections_equal_the_json_module_path(seed, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK_BYTES", [1 << 22, 4096, 1 << 16][seed % 3])  # lines across block edges
    data = adversarial_bytes(seed, 3000)
    fast, slow = both_paths(data)
    assert fast[3] == slow[3]  # rejections: line numbers and reasons
    assert fast[1] == slow[1] and fast[2] == slow[2]
    assert fast[0] == slow[0]
    assert slow[1] > 500 and len(slow[3]) > 100  # the inputs hold both kinds


@needs_scanner
def test_scanner_takes_the_common_line_itself(monkeypatch):
    """The fast path is not the slow path in disguise: well-formed events never reach json."""
    calls = []
    monkeypatch.setattr(ingest, "parse_line", lambda *a: calls.append(a) or Event("x", None, None, None, "x"))
    lines = [json.dumps({"ts": f"2026-11-0{i % 9 + 1}T00:00:{i % 60:02d}.5Z", "error": f"KeyError: {i}\n\t\"x\"\\ é",
                         "component": "c" if i % 2 else None, "tags": ["a", 'b"\\'], "event_id": f"ev-{i}"},
                        ensure_ascii=bool(i % 3)) for i in range(500)]
    lines += [json.dumps({"error": "no id", "ts": 1700000000 + i}) for i in range(100)]
    chunks = list(ingest._scanned_chunks(io.BytesIO("\n".join(lines).encode()), "s", "o", NOW, TODAY,
                                         ingest.IngestReport(), scanner))
    assert not calls and sum(c.rows for c in chunks) == 600


def test_event_key_is_unchanged():
    """Keys of rows already stored: a different key would load a file's events twice."""
    assert Event("E", None, None, None, "req-42").key == "7ab11a72-dcf7-30d9-f457-5c9313ba4e99"
    event = Event("KeyError: x", "c", ["a", "é"], datetime(2026, 11, 1, tzinfo=timezone.utc), None, "/f.jsonl:3")
    assert event.key == "cc697015-4a0d-5ab9-537b-9df7ced2d04d"


# --- against the database -------------------------------------------------------------------

ROW = """SELECT ts, error, component, tags, event_key, norm_error, kind, fingerprint, normalizer_version
           FROM agent_errors ORDER BY id"""


def _load(conn, data: bytes, origin: str = "/data/errors.jsonl"):
    report = ingest.ingest_stream(conn, io.BytesIO(data), "src", origin=origin)
    conn.commit()
    return report


def _rows(conn):
    with conn.cursor() as cur:
        cur.execute(ROW)
        return cur.fetchall()


@needs_scanner
def test_stored_rows_equal_the_json_module_path_and_reloading_adds_nothing(conn, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK_BYTES", 1 << 16)
    data = adversarial_bytes(7, 2000)
    monkeypatch.setenv("SKILLSMITH_PURE_PYTHON", "1")
    slow = _load(conn, data)
    slow_rows = _rows(conn)
    with conn.cursor() as cur:
        cur.execute("TRUNCATE agent_errors, error_count_deltas")
    conn.commit()
    monkeypatch.delenv("SKILLSMITH_PURE_PYTHON")
    fast = _load(conn, data)
    fast_rows = _rows(conn)
    assert (fast.loaded, fast.duplicates) == (slow.loaded, slow.duplicates) and fast.loaded > 300 and fast.duplicates > 0
    assert [(r.line, r.reason) for r in fast.rejected] == [(r.line, r.reason) for r in slow.rejected]
    # events without ts are stamped with the transaction's now(): equal but for that
    assert [r[1:] for r in fast_rows] == [r[1:] for r in slow_rows]
    assert [r[0] for r in fast_rows if r[0].year < 2026 or r[0].month < 12] == \
           [r[0] for r in slow_rows if r[0].year < 2026 or r[0].month < 12]
    # and what they hold is what the Python objects say (the binary rows render them right)
    from skillsmith_assets.intake.events import RejectedEvent, parse_line
    from skillsmith_assets.normalize.message import normalize_event

    expected = {}
    for number, line in enumerate(io.BytesIO(data), start=1):
        try:
            event = parse_line(line, f"/data/errors.jsonl:{number}") if line.strip() else None
        except RejectedEvent:
            continue
        if event is not None:  # the key holds within a time: one row per (key, ts); no ts is one time
            expected.setdefault((event.key, event.ts), event)
    assert len(expected) == len(fast_rows)
    for ts, error, component, tags, key, norm, kind, fp, version in fast_rows:
        event = expected.get((str(key), ts)) or expected[(str(key), None)]
        assert (error, component, tags) == (event.error, event.component, event.tags)
        assert event.ts is None or ts == event.ts
        n = normalize_event(error, component)
        assert (norm, kind, str(fp), version) == (n.norm_error, n.kind, n.fingerprint, n.normalizer_version)
    again = _load(conn, data)  # COPY meets a stored key: rolled back, staged, nothing doubled
    assert (again.loaded, again.duplicates) == (0, fast.loaded + fast.duplicates)
    grown = _load(conn, data + b'\n{"error": "one more", "id": "new-1"}\n')
    assert (grown.loaded, grown.duplicates) == (1, fast.loaded + fast.duplicates)
    with conn.cursor() as cur:  # the statement triggers saw every row, whichever way it went in
        cur.execute("SELECT (SELECT coalesce(sum(hits), 0) FROM error_count_deltas), (SELECT count(*) FROM agent_errors)")
        assert cur.fetchone() == (fast.loaded + 1, fast.loaded + 1)


def test_duplicate_ids_within_a_file_and_days_at_flush(conn, monkeypatch):
    seen = []
    real = ingest._Store.store
    monkeypatch.setattr(ingest._Store, "store", lambda self, chunk: (seen.append(chunk.days), real(self, chunk))[1])
    # an id names one event at one time: the same id and ts again is a retry; without ts, its own time
    lines = [{"error": "E", "id": "same", "ts": "2026-11-01T23:59:59-01:00"},
             {"error": "E", "id": "same", "ts": "2026-11-01T23:59:59-01:00"}, {"error": "E", "id": "same"},
             {"error": "F", "ts": 1700000000}, {"error": "G"}]
    report = _load(conn, "\n".join(json.dumps(x) for x in lines).encode())
    assert (report.loaded, report.duplicates) == (4, 1)
    with conn.cursor() as cur:
        cur.execute("SELECT now()::date")
        today = cur.fetchone()[0]
    assert set().union(*seen) == {date(2026, 11, 2), date(2023, 11, 14), today}
