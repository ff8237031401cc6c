"""Kept where agents import it from; the module is ``skillsmith_assets.skills.runtime``."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("skillsmith_assets.skills.runtime")
