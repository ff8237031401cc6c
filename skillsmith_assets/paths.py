"""Where the project's files live: skills, proposals, rejections, autopatches, templates.

``SKILLSMITH_PROJECT_DIR`` (default: the working directory) is the repository the
skills are committed to; tests point it at a temporary copy.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_dir() -> Path:
    return Path(os.environ.get("SKILLSMITH_PROJECT_DIR") or Path.cwd()).resolve()


def skills_dir(root: Path | None = None) -> Path:
    """Approved (deployed) skills: ``skills/*.yaml`` of ``root`` (default: the project)."""
    return Path(root or project_dir()) / "skills"


def proposed_dir(root: Path | None = None) -> Path:
    """Proposals awaiting review: ``skills/proposed/*.yaml``."""
    return skills_dir(root) / "proposed"


def rejected_dir(root: Path | None = None) -> Path:
    """Rejected proposals, kept so their patterns are never proposed again."""
    return skills_dir(root) / "rejected"


def autopatches_dir() -> Path:
    return project_dir() / "autopatches"


def templates_dir() -> Path:
    """Jinja2 templates for skill files: the project's own ``templates/`` overrides the packaged ones."""
    custom = project_dir() / "templates"
    return custom if (custom / "guardrail.yaml.j2").exists() else PACKAGE_DIR / "templates"


def cache_dir() -> Path | None:
    """What is kept between processes to start faster (nothing that must be kept):
    ``SKILLSMITH_CACHE_DIR``, else ``$XDG_CACHE_HOME/skillsmith`` or ``~/.cache/skillsmith``;
    None without a home directory."""
    if os.environ.get("SKILLSMITH_CACHE_DIR"):
        return Path(os.environ["SKILLSMITH_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "skillsmith"
    try:
        return Path.home() / ".cache" / "skillsmith"
    except RuntimeError:
        return None
