"""Kept where agents import it from; the module is ``skillsmith_assets.intake.collector``."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("skillsmith_assets.intake.collector")
