"""`skillsmith group` with the compiled JSON-lines scanner prints exactly what the line-by-line
json-module path prints, byte for byte, on every kind of line."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_cli
from skillsmith_assets.intake import scanner
from skillsmith_assets.cli.group_cmd import group

try:
    from skillsmith_assets import _jsonl
except ImportError:
    pytest.fail("the compiled scanner is not built: run `make install` (it needs a C compiler)", pytrace=False)

NASTY = [
    b'{"error": "KeyError: \'partner_id\'", "component": "sale"}',
    b'   {"error": "padded", "component": null}   ',
    b'\t{"error":"tabs"}\t',
    b'{"error": "x" \t }',
    b'{ "error" : "spaced" , "component" : "c" , "z" : { } }',
    b'{"error": "esc \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u20AC \\u0000 end"}',
    b'{"error": "pair \\ud83d\\ude00 of surrogates"}',
    b'{"error": "x", "other": "lone \\ud800 surrogate elsewhere"}',
    '{"error": "caf\u00e9 \u2028 \U0001F600 \u00a0", "component": "\u00fc"}'.encode(),
    b'{"error": "bad utf8 \xff\xfe here"}',
    b'{"error": "overlong \xc0\xaf"}',
    b'{"error": "surrogate bytes \xed\xa0\x80"}',
    b'{"error": "cut \xe2\x82"}',
    b'{"error": "x"',
    b'{"error": "x",}',
    b"[1, 2, 3]",
    b"42",
    b'"just a string"',
    b"null",
    b"{}",
    b'{"component": "no error"}',
    b'{"error": 5}',
    b'{"error": null}',
    b'{"error": "x", "component": 5}',
    b'{"error": "x", "component": ["a"]}',
    b'{"error": "x", "component": "a", "component": "b"}',
    b'{"error": "first", "error": "second"}',
    b'{"error": 1, "error": "last one wins"}',
    b'{"error": "x", "pattern": "old"}',
    b'{"error": "x", "kind": "K", "norm_error": "n", "fingerprint": "f", "ts": 1}',
    b'{"error": "x", "tags": [1, 2.5, -3e10, 0.5E+2, true, false, null, {"a": {"b": [[]]}}], "n": -0.0}',
    b'{"error": "x", "v": NaN}',
    b'{"error": "x", "v": Infinity, "w": -Infinity}',
    b'{"error": "x", "v": 01}',
    b'{"error": "x", "v": 1.}',
    b'{"error": "x", "v": .5}',
    b'{"error": "x", "v": 1e}',
    b'{"error": "x", "v": tru}',
    b'{"error": "x"} trailing',
    b'{"error": "x"}{"error": "y"}',
    b'\xef\xbb\xbf{"error": "byte order mark"}',
    '\u00a0{"error": "no-break space before"}'.encode(),
    '{"error": "no-break space after"}\u00a0'.encode(),
    b'\x0c{"error": "form feed"}',
    b"\x0b",
    b"\x1c\x1d",
    "\u2003\u3000".encode(),
    b"   ",
    b"\t\t",
    b"",
    b'{"error": "control \x01 in a string"}',
    b'{"error": "raw \t tab"}',
    b'{"\\u0065rror": "escaped key"}',
    b'{"error": "x", "\\u0065rror": "the escaped key is the last error"}',
    b'{"error": "x", "p\\u0061ttern": "an escaped added field"}',
    b'{"error": "x", "caf\\u00e9": 1}',
    b'{"error": "deep", "v": ' + b"[" * 70 + b"]" * 70 + b"}",
    b'{"error": "shallow enough", "v": ' + b"[" * 60 + b"]" * 60 + b"}",
    b'{"error": "too deep for json", "v": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"error": "long number", "v": ' + b"7" * 700 + b"}",
    b'{"error": "' + b"huge message with 12345 and user_" * 3000 + b'"}',
    b'{"error": "", "component": ""}',
    b'{"error": "xA"}',
    b'{"error": "x\\u0041"}',
    b'{"error": "x", "s": "\\x"}',
    b'{"error": "x", "s": "\\u12"}',
    b'{"error": "x", "s": "\\uZZZZ"}',
    b'{"error": "x", "k": "\x7f delete"}',
    b'{"error": "Traceback (most recent call last):\\n  File \\"/srv/app.py\\", line 12\\nKeyError: 42"}',
]


def _group(payload: bytes, *args: str, fast: bool) -> tuple[int, bytes, bytes]:
    """(exit status, stdout, stderr) of `group` run in-process, with or without the scanner."""
    with pytest.MonkeyPatch.context() as patch:
        if not fast:
            patch.setattr(scanner, "load_scanner", lambda: None)
        result = CliRunner().invoke(group, list(args), input=payload, catch_exceptions=False)
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def assert_same_output(payload: bytes, *args: str) -> tuple[int, bytes, bytes]:
    fast = _group(payload, *args, fast=True)
    assert fast == _group(payload, *args, fast=False)
    return fast


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_nasty_lines_print_the_same(ending):
    code, out, err = assert_same_output(ending.join(NASTY) + ending)
    assert code == 1 and out.count(b"\n") == len(NASTY) - 6  # the six lines of only whitespace are skipped
    assert b"line 14: rejected: not JSON" in err
    assert b'"p\\u0061ttern": "an escaped added field"' not in out


def test_mixed_line_endings_and_no_final_newline():
    payload = b'{"error": "a"}\r\n\r{"error": "b"}\n\n\r\r\n{"error": "c"}\r{"error": "a"}'
    code, out, err = assert_same_output(payload)
    assert code == 0 and err == b""
    assert [json.loads(line)["error"] for line in out.splitlines()] == ["a", "b", "c", "a"]


def test_text_mode_prints_the_same():
    payload = b"\n".join(NASTY) + b"\r\nKeyError: 123\rKeyError: 456\r\n\n"
    code, out, _ = assert_same_output(payload, "--text")
    assert code == 0 and out.count(b"\n") == len(NASTY) + 3


def test_empty_and_blank_inputs():
    assert assert_same_output(b"") == (0, b"", b"")
    assert assert_same_output(b"\n \n\t\r\n\r") == (0, b"", b"")
    assert assert_same_output(b"", "--text") == (0, b"", b"")


# --- generated corpora --------------------------------------------------------------------

# Text without lone surrogates: an error message holding one cannot be fingerprinted.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
MESSAGE = st.one_of(TEXT, st.sampled_from([
    "KeyError: 'partner_id'", "KeyError: 'product_id'", "timeout after 30s to db1.internal",
    "ValidationError: No user found with login 'bob'", "login failed password=hunter2",
]))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FIELD_NAMES = st.sampled_from(["tags", "ts", "event_id", "error", "component", "pattern", "kind", "x\u00e9"])


@st.composite
def event_lines(draw) -> bytes:
    """An event as some producer would write it: any key order, escaping and spacing."""
    event = draw(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=3))
    if draw(st.booleans()):
        event["error"] = draw(MESSAGE)
    if draw(st.booleans()):
        event["component"] = draw(st.one_of(st.none(), st.sampled_from(["", "sale", "caf\u00e9"]), TEXT))
    text = json.dumps(event, ensure_ascii=draw(st.booleans()),
                      separators=draw(st.sampled_from([(", ", ": "), (",", ":"), (" , ", " : ")])))
    pad = st.sampled_from(["", " ", "\t", " \t ", "\u00a0", "\x0c"])
    return (draw(pad) + text + draw(pad)).encode("utf-8", "surrogatepass")


LINES = st.one_of(event_lines(), event_lines(), event_lines(), st.binary(max_size=20),
                  TEXT.map(lambda t: t.encode()), st.sampled_from(NASTY))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(LINES, st.sampled_from([b"\n", b"\r\n", b"\r"])), max_size=25), st.booleans())
def test_generated_corpora_print_the_same(lines, final_newline):
    payload = b"".join(line + ending for line, ending in lines)
    if not final_newline and payload:
        payload = payload[:-1]
    assert_same_output(payload)
    assert_same_output(payload, "--text")


# --- the real command --------------------------------------------------------------------

def _events(count: int) -> bytes:
    users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"]
    return "".join(json.dumps({"error": f"ValidationError: No user found with login '{users[i % 12]}'",
                               "component": "auth", "ts": i}) + "\n" for i in range(count)).encode()


def test_cli_rejections_keep_their_place_and_set_the_exit_status():
    # four names, each seen once: a parameter (four rare values), so one pattern
    payload = _events(4) + b"\n[1]\n" + b'{"error": "x", "component": 7}\r\n' + _events(1)
    result = run_cli("group", input=payload)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1
    assert lines[4] == {"line": 6, "rejected": "expected a JSON object, got list"}
    assert lines[5] == {"line": 7, "rejected": "'component' must be a string"}
    assert result.stderr.decode().splitlines() == [
        "line 6: rejected: expected a JSON object, got list", "line 7: rejected: 'component' must be a string"]
    assert len({line["pattern"] for line in lines if "pattern" in line}) == 1


def test_cli_keeps_each_input_object_as_written():
    payload = b'{ "error" : "caf\\u00e9 KeyError: 42",\t"ts": 1.50 \t}\n'
    out = run_cli("group", input=payload).stdout
    assert out.startswith(b'{ "error" : "caf\\u00e9 KeyError: 42",\t"ts": 1.50, "norm_error": ')
    assert json.loads(out)["error"] == "caf\u00e9 KeyError: 42"


def test_cli_reads_a_file_from_its_current_position(tmp_path):
    """A regular file on stdin is mapped, not read: what was consumed before still counts."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"error": "consumed before"}\n' + _events(4))
    with path.open("rb") as stdin:
        stdin.seek(len(b'{"error": "consumed before"}\n'))
        result = subprocess.run([str(Path(sys.executable).with_name("skillsmith")), "group"], stdin=stdin,
                                capture_output=True, cwd=ROOT)
    assert result.returncode == 0
    assert [json.loads(line)["ts"] for line in result.stdout.splitlines()] == [0, 1, 2, 3]


def test_cli_without_the_compiled_scanner_prints_the_same():
    code = ("import sys; sys.modules['skillsmith_assets._jsonl'] = None\n"
            "from skillsmith_assets.cli import main\n"
            "from skillsmith_assets.intake.scanner import load_scanner\n"
            "assert load_scanner() is None\n"
            "main(['group'])\n")
    payload = _events(30) + b"\n".join(NASTY[:30]) + b"\n"
    fallback = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, cwd=ROOT)
    fast = run_cli("group", input=payload)
    assert fallback.returncode == fast.returncode == 1
    assert fallback.stdout == fast.stdout and fallback.stderr == fast.stderr


# --- the scanner itself -------------------------------------------------------------------

def test_scanner_reduces_plain_lines_to_distinct_pairs():
    data = (b'{"error": "a", "component": "c"}\n\n  \r\n{"error": "a", "component": "c", "ts": 1}\r'
            b'{"error": "a"}\n[1]\n{"error": "\\u0061", "component": null}\n{"error": "b", "pattern": "p"}')
    messages, pair_message, pair_component, pair_count, records, slow = _jsonl.scan(data)
    assert messages == ["a"]
    assert list(zip(pair_message, pair_component, pair_count)) == [(0, "c", 2), (0, None, 2)]
    array, last = data.index(b"[1]"), data.index(b'{"error": "b"')
    assert slow == [(6, array, array + 3), (8, last, len(data))]
    triples = list(struct.iter_unpack("=qqq", records))
    assert [ref for ref, _, _ in triples] == [0, 0, 1, -1, 1, -2]
    assert data[triples[0][1]:triples[0][2]] == b'{"error": "a", "component": "c"'


@pytest.mark.parametrize("line", [
    b'{"error": "x", "v": NaN}', b'{"error": "x", "v": ' + b"7" * 5000 + b"}", b'{"error": "\\udc80"}',
    b'{"error": "x", "v": ' + b"[" * 100 + b"]" * 100 + b"}", b'{"error": "x", "\\u0065rror": "y"}',
    b'{"error": "\xc0\xaf"}', b'{"error": "a", "error": "b"}', b'{"error": "x", "kind": "k"}',
    b'\xc2\xa0{"error": "x"}', b'{"error": "x"} x',
])
def test_scanner_leaves_uncertain_lines_to_the_json_module(line):
    *_, records, slow = _jsonl.scan(line)
    assert slow == [(1, 0, len(line))] and struct.unpack("=q", records[:8]) == (-1,)


def test_threads_give_the_same_scan():
    """A large input is cut into parts scanned on threads; the result is the single scan's."""
    rng = random.Random(3)
    lines = [rng.choice(NASTY[:20]) if rng.random() < 0.05 else
             json.dumps({"error": f"KeyError: {rng.randrange(3000)}\u00e9\n", "component": rng.choice(["a", "b", None]),
                         "pad": "x" * rng.randrange(600)}, ensure_ascii=rng.random() < 0.5).encode()
             for _ in range(70_000)]
    data = b"".join(line + rng.choice([b"\n", b"\r\n", b"\r", b"\n\n"]) for line in lines)
    assert len(data) > 5 * (4 << 20)  # parts are 4 MiB or more
    single = _jsonl.scan(data)
    assert _jsonl.scan(data, threads=5) == single and _jsonl.scan(data, threads=64) == single
    assert _jsonl.scan(data, text=True, threads=5) == _jsonl.scan(data, text=True)
    assert len(single[0]) > 3000 and single[-1]  # some of the messages, and slow lines


def test_scanner_text_mode_takes_every_utf8_line_as_a_message():
    messages, pair_message, _, pair_count, _, slow = _jsonl.scan(b"x\n\nx\r\xff y\r\n", text=True)
    assert messages == ["x", ""] and pair_count == [2, 1] and slow == [(4, 5, 8)]


def test_count_lines_counts_universal_newline_ends():
    from skillsmith_assets.cli.jsonl_io import line_counter

    rng = random.Random(11)
    assert line_counter() is _jsonl.count_lines
    for _ in range(5000):
        data = bytes(rng.choice(b"\r\nab") for _ in range(rng.randint(0, 40)))
        expected = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
        assert _jsonl.count_lines(data) == _jsonl.count_lines(bytearray(data)) == expected
        assert _jsonl.count_lines(memoryview(data)[1:]) == len(data[1:].splitlines(keepends=True)) - (
            not data[1:].endswith((b"\n", b"\r")) and len(data) > 1)
    with pytest.raises(TypeError):
        _jsonl.count_lines("text")


def test_splice_assembles_records_in_chunks():
    data = b'{"error": "a"}{"error": "b"}'
    records = struct.pack("=9q", 0, 0, 13, -1, 0, 0, 1, 14, 27)
    chunks = list(_jsonl.splice(data, records, [b", A}\n", b", B}\n"], [b"literal\n"], size=1))
    assert chunks == [b'{"error": "a", A}\n', b"literal\n", b'{"error": "b", B}\n']
    with pytest.raises(ValueError):
        _jsonl.splice(data, struct.pack("=3q", 2, 0, 1), [b""], [])
    with pytest.raises(ValueError):
        _jsonl.splice(data, struct.pack("=3q", 0, 0, 99), [b""], [])


def test_splice_quotes_text_lines_as_json_does():
    text = "tab\t quote\" back\\ nul\x00 \x1f del\x7f caf\u00e9 \u2028 \U0001F600 " * 3
    data = text.encode()
    chunks = _jsonl.splice(data, struct.pack("=3q", 0, 0, len(data)), [b"}\n"], [], prefix=b'{"error": ', quote=True)
    assert b"".join(chunks) == b'{"error": ' + json.dumps(text, ensure_ascii=False).encode() + b"}\n"


# --- streaming: chunks, pipes, truncated and closed streams ---------------------------------

def test_chunked_pipe_and_file_inputs_give_the_same_output(tmp_path):
    from skillsmith_assets.intake.sample_data import generate_events

    path = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in generate_events(3000, seed=3)]
    lines[1234] = "{not json"  # a rejection deep inside a later chunk keeps its line number
    path.write_text("\n".join(lines) + "\n")
    exe = str(Path(sys.executable).with_name("skillsmith"))
    with path.open("rb") as stdin:
        whole = subprocess.run([exe, "group"], stdin=stdin, capture_output=True, cwd=ROOT)
    small = {**os.environ, "SKILLSMITH_CHUNK_BYTES": "20000"}  # dozens of chunks
    with path.open("rb") as stdin:
        chunked = subprocess.run([exe, "group"], stdin=stdin, capture_output=True, cwd=ROOT, env=small)
    piped = subprocess.run(f"cat {path} | {exe} group", shell=True, capture_output=True, cwd=ROOT, env=small)
    assert whole.returncode == chunked.returncode == piped.returncode == 1
    assert whole.stdout == chunked.stdout == piped.stdout
    assert b"line 1235: rejected" in chunked.stderr and b"line 1235: rejected" in piped.stderr
    assert json.loads(whole.stdout.splitlines()[1234]) == {"line": 1235, "rejected": json.loads(
        whole.stdout.splitlines()[1234])["rejected"]}


def test_a_file_truncated_between_the_passes_is_an_error_not_a_crash(tmp_path):
    from skillsmith_assets.cli.jsonl_io import InputChanged, LineChunks

    path = tmp_path / "events.jsonl"
    path.write_bytes(_events(2000))
    with path.open("rb") as stream, LineChunks(stream, size=4096) as source:
        kept = [source.keep(chunk) for chunk in source]
        assert len(kept) > 10
        with open(path, "r+b") as writer:
            writer.truncate(path.stat().st_size // 2)
        assert source.read_back(kept[0])  # what is still there reads back
        with pytest.raises(InputChanged, match="shorter"):
            for where in kept:
                source.read_back(where)


def test_a_truncated_last_line_is_rejected_and_the_rest_is_grouped():
    payload = _events(5) + b'{"error": "KeyError: \'cut'
    result = run_cli("group", input=payload)
    lines = result.stdout.splitlines()
    assert result.returncode == 1 and len(lines) == 6
    assert json.loads(lines[5])["line"] == 6 and "not JSON" in json.loads(lines[5])["rejected"]
    assert all("pattern" in json.loads(line) for line in lines[:5])


def test_closed_stdin_and_a_closed_output_pipe_are_one_line_each(tmp_path):
    exe = str(Path(sys.executable).with_name("skillsmith"))
    closed = subprocess.run(f"{exe} group <&-", shell=True, capture_output=True, text=True, cwd=ROOT)
    assert closed.returncode != 0 and "standard input is closed" in closed.stderr
    assert "Traceback" not in closed.stderr
    path = tmp_path / "events.jsonl"
    path.write_bytes(_events(50_000))
    early = subprocess.run(f"{exe} group < {path} | head -c 100 > /dev/null; echo ${{PIPESTATUS[0]}}",
                           shell=True, executable="/bin/bash", capture_output=True, text=True, cwd=ROOT)
    assert early.stdout.strip() == "141" and "Traceback" not in early.stderr


@pytest.mark.parametrize("compiled", [True, False])
def test_line_chunks_cover_the_input_whatever_the_line_lengths(tmp_path, monkeypatch, compiled):
    """Chunks are views of one reused buffer: every byte comes once, in order, each chunk whole
    lines with its first line's number and offset, lines longer than the buffer included (lines
    counted in C, or in Python without the scanner)."""
    from skillsmith_assets.cli.jsonl_io import LineChunks

    if not compiled:
        monkeypatch.setenv("SKILLSMITH_PURE_PYTHON", "1")

    rng = random.Random(7)
    lines = [b"x" * rng.choice([0, 1, 5, 15, 16, 17, 40, 100]) + rng.choice([b"\n", b"\r\n", b"\r\r\n"])
             for _ in range(400)]
    data = b"".join(lines) + b"tail without a newline"
    path = tmp_path / "lines"
    path.write_bytes(data)
    with path.open("rb") as stream, LineChunks(stream, size=16) as source:
        seen, kept = [], []
        for chunk in source:
            assert chunk.offset == len(b"".join(seen))
            before = b"".join(seen)
            assert chunk.first_line == 1 + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")
            seen.append(bytes(chunk.data))
            kept.append(source.keep(chunk))
        assert [bytes(source.read_back(where)) for where in kept] == seen  # the second pass
    assert b"".join(seen) == data


def test_chunks_normalized_in_turn_without_the_compiled_engine(monkeypatch):
    """A chunk is normalized on a thread beside the numbering of the one before only with the
    compiled engine; without it (the Python engine may fork) in turn, with the same output."""
    import io

    from skillsmith_assets.normalize import native as native_normalize
    from skillsmith_assets.cli import group_cmd

    payload = _events(300) + b"[1]\n" + _events(50)

    def run():
        out = io.BytesIO()
        return group_cmd._group_scanned(_jsonl, io.BytesIO(payload), out, False, 1), out.getvalue()

    monkeypatch.setenv("SKILLSMITH_CHUNK_BYTES", "2000")  # many chunks
    beside = run()
    monkeypatch.setattr(native_normalize, "engine", lambda: None)
    assert type(group_cmd._normalizer()).__name__ == "InTurn"
    assert run() == beside and beside[0] == 1


def test_string_specials_at_every_offset():
    """The scanner reads strings 16 bytes at a time: a quote, an escape, a control byte, a
    non-ASCII character or a broken UTF-8 sequence at each offset of a value and of a key."""
    specials = [b'\\"', b"\\\\", b"\\n", b"\\u00e9", b"\x01", b"\x1f", b" ", b"\x7f", "\u00e9".encode(),
                "\u20ac".encode(), "\U0001F600".encode(), b"\xc3", b"\xed\xa0\x80", b"\xff"]
    lines = []
    for offset in range(0, 40):
        for special in specials:
            text = b"a" * offset + special + b"z" * (offset % 7)
            lines.append(b'{"error": "' + text + b'", "component": "c' + text + b'"}')
            lines.append(b'{"error": "x", "' + text + b'": 1}')
    code, out, _ = assert_same_output(b"\n".join(lines) + b"\n")
    assert code == 1 and out.count(b"\n") == len(lines)


@pytest.mark.parametrize("errors", ["strict", "surrogateescape"])
def test_endings_made_in_bulk_are_added_fields_encoded(errors):
    from skillsmith_assets.mining.signatures import added_fields, added_fields_encoded

    norms = ["plain", 'quote " back \\ slash', "ctrl \x00\x1f\n\t", "café \u2028 😀", ""]
    prints = [f"fp{i}" for i in range(len(norms))]
    patterns = [f"p{i}" for i in range(len(norms))]
    for kind in ["KeyError", 'K"ind\u00e9']:
        assert added_fields_encoded(norms, kind, prints, patterns, errors) == [
            added_fields(n, kind, f, p).encode("utf-8", errors) for n, f, p in zip(norms, prints, patterns)]


def test_slow_lines_among_messages_remembered_from_earlier_chunks(monkeypatch):
    """Lines the scanner leaves to the json module (a duplicate key here) carry messages that
    earlier chunks numbered, and new ones: in many small chunks they print what the
    line-by-line path prints."""
    monkeypatch.setenv("SKILLSMITH_CHUNK_BYTES", "700")
    lines = []
    for i in range(120):
        message = f"KeyError: missing field f{i % 9} in order {i % 4}"
        if i % 7 == 3:  # the json module reads it: the last "component" wins
            lines.append('{"error": %s, "component": "x", "component": "c%d"}' % (json.dumps(message), i % 2))
        else:
            lines.append(json.dumps({"error": message, "component": f"c{i % 2}"}))
        if i % 11 == 5:
            lines.append(json.dumps({"error": f"ValueError: new text {i}", "component": None}) + '  ')
    status, out, _ = assert_same_output(("\n".join(lines) + "\n").encode())
    assert status == 0 and len(out.splitlines()) == len(lines)
