"""The compiled JSON-lines scanner (``_jsonl.c``), shared by ingest and ``skillsmith group``."""

from __future__ import annotations

import os


def load_scanner():
    """The compiled JSON-lines scanner, or None when the package was installed without a
    compiler or SKILLSMITH_PURE_PYTHON is set."""
    if os.environ.get("SKILLSMITH_PURE_PYTHON"):
        return None
    try:
        from skillsmith_assets import _jsonl
    except ImportError:
        return None
    return _jsonl
