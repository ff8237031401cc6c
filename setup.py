"""Compiled accelerators for the database-free batch paths (metadata lives in pyproject.toml).

The extensions are optional: without a C compiler the package still installs
and the same results come from the pure-Python engines, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("skillsmith_assets.normalize._fastnorm", ["skillsmith_assets/normalize/_fastnorm.c"], optional=True,
                  extra_compile_args=["-O2"]),
        Extension("skillsmith_assets._jsonl", ["skillsmith_assets/_jsonl.c"], optional=True,
                  extra_compile_args=["-O2"]),
        Extension("skillsmith_assets.mining._patterns",
                  ["skillsmith_assets/mining/_patterns.c", "skillsmith_assets/mining/_signatures.c"],
                  depends=["skillsmith_assets/mining/_texts.h", "skillsmith_assets/mining/_siphash.h"], optional=True,
                  extra_compile_args=["-O2"]),
    ],
)
