"""Skillsmith: recurring production errors in, reviewed guardrails and fixers out.

Importing the package is cheap on purpose: commands that need no database or
Dagster (``skillsmith normalize``, ``skillsmith group``) never load them.
"""
