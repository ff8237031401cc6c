"""Plain-text tables for the terminal."""

from __future__ import annotations


def shorten(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: list[dict], columns: list[tuple[str, str, int]]) -> str:
    """columns: (key, heading, max width); numbers right-aligned."""
    widths = []
    for key, heading, limit in columns:
        cells = [shorten(r[key], limit) for r in rows]
        widths.append(max([len(heading)] + [len(c) for c in cells]))
    lines = ["  ".join(h.ljust(w) for (_, h, _), w in zip(columns, widths))]
    for r in rows:
        cells = []
        for (key, _, limit), w in zip(columns, widths):
            value = r[key]
            cell = shorten(value, limit)
            cells.append(cell.rjust(w) if isinstance(value, (int, float)) else cell.ljust(w))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


CANDIDATE_COLUMNS = [
    ("rank", "#", 3),
    ("kind", "kind", 22),
    ("component", "component", 22),
    ("norm_msg", "normalized message", 70),
    ("hits_7d", "7d", 6),
    ("hits_30d", "30d", 6),
    ("impact_score", "impact", 8),
]
