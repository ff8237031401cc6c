"""FX-3919924C: ``KeyError: 'partner_id'`` in sale order code that reads ``vals['partner_id']``.

Odoo passes ``create``/``write`` and compute helpers a ``vals`` dict holding only
the fields being set: a ``write`` that does not change the customer has no
``partner_id`` key, so ``vals['partner_id']`` raises ``KeyError``. The repair reads
it with ``vals.get('partner_id')`` (``None`` when absent, which ``browse`` and
truth tests already handle) in every Python file of the repository's addons.

Left alone, because they are correct: assignments and ``del`` (``vals['partner_id'] = …``),
reads guarded by ``if 'partner_id' in vals`` (or ``'partner_id' in vals and …``), and
anything inside strings or comments (the code is located with ``ast``, not text search).
Idempotent: once every read is a ``.get``, there is nothing left to change and
``apply`` returns False. Standard library only; touches only files under ``repo_dir``.
"""

from __future__ import annotations

import ast
import os
import shutil

KEY = "partner_id"
DICT_NAME = "vals"
SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__"}


def _guards_key(test: ast.AST) -> bool:
    """True for a test such as ``'partner_id' in vals`` (possibly inside ``and``)."""
    for node in ast.walk(test):
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Constant)
            and node.left.value == KEY
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In)
            and isinstance(node.comparators[0], ast.Name)
            and node.comparators[0].id == DICT_NAME
        ):
            return True
    return False


def _unguarded_reads(tree: ast.AST) -> list[ast.Subscript]:
    """Every ``vals['partner_id']`` read that is not under an ``if 'partner_id' in vals``."""
    found: list[ast.Subscript] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            visit(node.test, guarded)
            inner = guarded or _guards_key(node.test)
            for child in node.body if isinstance(node.body, list) else [node.body]:
                visit(child, inner)
            for child in node.orelse if isinstance(node.orelse, list) else [node.orelse]:
                visit(child, guarded)
            return
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            # 'partner_id' in vals and vals['partner_id']: operands after the guard are safe
            inner = guarded
            for value in node.values:
                visit(value, inner)
                inner = inner or _guards_key(value)
            return
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
            and node.value.id == DICT_NAME
            and isinstance(node.slice, ast.Constant)
            and node.slice.value == KEY
            and not guarded
        ):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return found


def _offset(lines: list[str], lineno: int, col_bytes: int) -> int:
    """A character offset into the source from the ``ast`` position (1-based line, UTF-8 byte column)."""
    before = sum(len(line) for line in lines[: lineno - 1])
    return before + len(lines[lineno - 1].encode("utf-8")[:col_bytes].decode("utf-8"))


def patch_source(source: str) -> str:
    """``source`` with each unguarded ``vals['partner_id']`` read turned into ``vals.get('partner_id')``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source  # not ours to judge; a file that does not parse is left as it is
    lines = source.splitlines(keepends=True)
    edits = []
    for node in _unguarded_reads(tree):
        start = _offset(lines, node.lineno, node.col_offset)
        end = _offset(lines, node.end_lineno, node.end_col_offset)
        key = ast.get_source_segment(source, node.slice) or repr(KEY)
        edits.append((start, end, f"{DICT_NAME}.get({key})"))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def apply(repo_dir: str) -> bool:
    """Patch every Python file under ``repo_dir``; True when at least one file changed."""
    changed = False
    for dirpath, dirnames, filenames in os.walk(repo_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            with open(path, encoding="utf-8", newline="") as handle:
                source = handle.read()
            if f"{DICT_NAME}[" not in source:
                continue
            patched = patch_source(source)
            if patched == source:
                continue
            compile(patched, path, "exec")  # never write a file that would not import
            tmp = path + ".fx-3919924c.tmp"
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                handle.write(patched)
            shutil.copymode(path, tmp)
            os.replace(tmp, path)
            changed = True
    return changed
