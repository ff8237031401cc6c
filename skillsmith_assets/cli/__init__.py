"""The ``skillsmith`` command line: a stable contract that outside checks call.

Each command lives in its own module and is imported only when it runs, so
``normalize`` and ``group`` start without importing Dagster, pandas or psycopg2.
"""

from __future__ import annotations

import importlib
import sys

import click

# command name -> "module:function" (modules under skillsmith_assets.cli)
COMMANDS = {
    "db-setup": "db_setup:db_setup",
    "db-migrate": "store_cmd:db_migrate",
    "db-prune": "store_cmd:db_prune",
    "normalize": "normalize_cmd:normalize",
    "group": "group_cmd:group",
    "ingest": "ingest_cmd:ingest",
    "mine": "mine_cmd:mine",
    "demo": "demo_cmd:demo",
    "approve": "lifecycle_cmd:approve",
    "reject": "lifecycle_cmd:reject",
    "retrain": "lifecycle_cmd:retrain",
    "check": "lifecycle_cmd:check",
    "pr": "pr_cmd:pr",
    "stats": "stats_cmd:stats",
}

SHORT_HELP = {
    "db-setup": "Apply sql/ to the configured database, idempotently.",
    "db-migrate": "Move an unpartitioned agent_errors into day partitions, keeping every row.",
    "db-prune": "Drop the day partitions before a date, with their counts.",
    "normalize": "JSON lines in, the same lines with norm_error, kind, fingerprint out.",
    "group": "Like normalize, then merge patterns over the input; adds pattern.",
    "ingest": "Load JSON-lines events (FILE... or -) into agent_errors.",
    "mine": "Materialize the asset graph and write skill proposals.",
    "demo": "Load 30 days of sample errors into the embedded database, then mine.",
    "approve": "Deploy a proposed skill into skills/.",
    "reject": "Reject a proposed skill so it is never proposed again.",
    "retrain": "Validate skills/*.yaml and rebuild the compiled registry.",
    "check": "Match one JSON event (stdin) against the approved skills.",
    "pr": "Open or update the pull request for the current proposals.",
    "stats": "Print the monitoring metrics.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._available(name)]

    def _available(self, name):
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(f"{__name__}.{module}") is not None

    def get_command(self, ctx, name):
        if name == "--min_hits":
            return None
        target = COMMANDS.get(name)
        if target is None or not self._available(name):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """Skillsmith: mine recurring production errors into guardrail and fixer skills."""


def main(argv=None):
    import warnings

    from skillsmith_assets.store.db import DatabaseError

    # Dagster flags parameters that are beta or preview; they say nothing to the user of a command.
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")

    try:
        cli.main(args=argv, prog_name="skillsmith", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except DatabaseError as exc:
        click.echo(f"skillsmith: {exc}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(141)
