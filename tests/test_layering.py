"""The packages form layers: each imports only from the ones before it in README's table, so
the walk of an event from intake to a proposal file goes one way."""

from __future__ import annotations

import ast

from conftest import ROOT

PACKAGE = ROOT / "skillsmith_assets"
# README's order ("The code, stage by stage"); the leaf modules at the top are layer 0.
LAYERS = ["paths", "secrets", "normalize", "store", "intake", "skills", "mining", "github", "ops", "defs", "cli"]
# Kept where agents import them from: each points to its home lower down.
ALIASES = {"collector", "runtime", "definitions", "__init__"}


def _layer_of(path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_layers(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "skillsmith_assets" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_every_package_imports_only_from_the_layers_before_it():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer_of(path)
        if layer in ALIASES:
            continue
        assert layer in LAYERS, f"{path.relative_to(ROOT)}: a package README's map does not name"
        for used in _imported_layers(path):
            if LAYERS.index(used) > LAYERS.index(layer):
                wrong.append(f"{path.relative_to(ROOT)} ({layer}) imports {used}")
    assert not wrong, "\n".join(wrong)

