"""The skill folders (``skills/``, ``skills/proposed/``, ``skills/rejected/``), read one way."""

from __future__ import annotations

from pathlib import Path

from skillsmith_assets.skills.schema import canonical_id, load_skill_file


def skill_files(directory: Path) -> list[Path]:
    """The skill files directly in ``directory`` (``*.yaml``/``*.yml``), sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def read_skill_files(directory: Path) -> list[tuple[Path, object, str | None]]:
    """Every skill file in ``directory``, parsed once: (path, document, problem).

    The one way skill folders are read. ``problem`` says why a file could not be read
    (its document is then None); a document that is not a mapping is returned as it is,
    for the caller to judge.
    """
    found = []
    for path in skill_files(directory):
        try:
            found.append((path, load_skill_file(path), None))
        except (ValueError, OSError) as exc:  # YAML, encoding (a ValueError too) or I/O
            found.append((path, None, str(exc).replace(f"{path}: ", "")))
    return found


def files_for_id(directory: Path, sid: str) -> list[Path]:
    """Files named ``<ID>*.yaml`` in ``directory`` (proposal files may carry a suffix after the id)."""
    sid = canonical_id(sid)
    return [p for p in skill_files(directory) if p.name.upper().startswith(sid)]
