"""The compiled rule table kept between processes: read back only when it is whole and made
of the same rules, compiler and Python; anything else is compiled again."""

from __future__ import annotations

from pathlib import Path

from skillsmith_assets.normalize import native, table_cache
from tests.conftest import run_cli


class Compiler:
    """compile_table, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return native.compile_table()


def test_a_second_process_reads_the_table_the_first_one_compiled(tmp_path):
    compiler = Compiler()
    first = table_cache.cached_table("k" * 64, compiler, tmp_path)
    second = table_cache.cached_table("k" * 64, compiler, tmp_path)
    assert compiler.calls == 1
    assert first == second == native.compile_table()
    assert [p.name for p in tmp_path.iterdir()] == ["rule-table-" + "k" * 32 + ".bin"]


def test_a_damaged_or_torn_file_is_compiled_again_and_rewritten(tmp_path):
    compiler = Compiler()
    table_cache.cached_table("k" * 64, compiler, tmp_path)
    stored = next(tmp_path.iterdir())
    whole = stored.read_bytes()
    damaged = bytearray(whole)
    damaged[-100] ^= 0x01  # one bit of the table itself: still parses as marshal data
    for bad in (bytes(damaged), whole[:len(whole) // 2], b"", b"not a table"):
        stored.write_bytes(bad)
        assert table_cache.cached_table("k" * 64, compiler, tmp_path) == native.compile_table()
        assert stored.read_bytes() == whole
    assert compiler.calls == 5


def test_the_key_changes_with_the_rules_the_compiler_and_nothing_else(tmp_path):
    source = tmp_path / "compiler.py"
    source.write_text("x = 1\n")
    inputs = (native.rules.STEPS, native.rules.KIND_PATTERN)
    key = table_cache.table_key([source], inputs)
    assert table_cache.table_key([source], inputs) == key
    assert table_cache.table_key([source], (native.rules.STEPS[:-1], native.rules.KIND_PATTERN)) != key
    source.write_text("x = 2\n")
    assert table_cache.table_key([source], inputs) != key


def test_a_directory_that_cannot_be_written_still_gives_the_table(tmp_path):
    blocked = tmp_path / "a file"
    blocked.write_text("")
    assert table_cache.cached_table("k" * 64, Compiler(), blocked / "cache") == native.compile_table()


def test_commands_give_the_same_output_compiled_cached_and_after_damage(tmp_path):
    """The installed command, as a user runs it: first run compiles and stores, the second reads
    the file, the third finds it damaged; all three normalize alike."""
    env = {"SKILLSMITH_CACHE_DIR": str(tmp_path)}
    lines = "KeyError: 'partner_id' at 0x7f3a9c\nTimeout after 30s talking to 10.0.0.7:5432\n"
    outputs = [run_cli("group", "--text", input=lines, env=env)]
    stored = next(Path(tmp_path).iterdir())
    outputs.append(run_cli("group", "--text", input=lines, env=env))
    stored.write_bytes(stored.read_bytes()[:-10])
    outputs.append(run_cli("group", "--text", input=lines, env=env))
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    assert outputs[0].stdout == outputs[1].stdout == outputs[2].stdout
    assert "<" in outputs[0].stdout  # normalized: the address and numbers were masked


def test_without_the_compiler_source_the_table_is_compiled(tmp_path, monkeypatch):
    """An install that ships no .py source has nothing to name the table by: it compiles."""
    monkeypatch.setenv("SKILLSMITH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "__file__", str(tmp_path / "absent" / "native.py"))
    assert native.stored_table() == native.compile_table()
    assert list(tmp_path.iterdir()) == []
