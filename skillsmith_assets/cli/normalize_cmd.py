import sys

import click


@click.command("normalize")
@click.option("--text", "text_mode", is_flag=True, help="Read plain lines, each one an error message.")
def normalize(text_mode):
    """Read events on stdin (one JSON object a line: error, optional component, tags, ts);
    write each one back, in order, with norm_error, kind and fingerprint. No database needed.

    A line that is not a valid event is written as {"line": N, "rejected": reason},
    named on stderr, and the exit status is 1 once all lines are done.
    """
    from skillsmith_assets.normalize.message import normalize_event
    from skillsmith_assets.cli.jsonl_io import read_events, report_rejection, write_line

    stdin = click.get_text_stream("stdin", errors="replace")
    rejected = 0
    for number, event, reason in read_events(stdin, text_mode):
        if event is None:
            rejected += 1
            write_line(report_rejection(number, reason))
            continue
        result = normalize_event(event["error"], event.get("component"))
        event.update(norm_error=result.norm_error, kind=result.kind, fingerprint=result.fingerprint)
        write_line(event)
    sys.stdout.flush()
    if rejected:
        sys.exit(1)
