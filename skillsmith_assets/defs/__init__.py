"""Dagster wiring, kept thin: each module wires one concern of the domain code into Dagster."""
