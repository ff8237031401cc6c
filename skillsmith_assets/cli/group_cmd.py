import json
import sys

import click

ADDED = ("norm_error", "kind", "fingerprint", "pattern")


@click.command("group")
@click.option("--text", "text_mode", is_flag=True, help="Read plain lines, each one an error message.")
@click.option("--workers", type=int, default=None, help="Worker processes for large inputs (default: one per core).")
def group(text_mode, workers):
    """Like `normalize`, then merge patterns over the whole input: every output line
    also gets `pattern`, the id of its group (see docs/grouping.md). No database needed.

    Output lines keep the input's fields and order. A line that is not a valid
    event is written as {"line": N, "rejected": reason}, named on stderr, and the
    exit status is 1 once all lines are done.
    """
    from ..batch_normalize import normalize_batch
    from ..grouping import merge_patterns
    from .jsonl_io import read_events, report_rejection, write_line

    stdin = click.get_text_stream("stdin", errors="replace")
    # Whole input first (patterns are merged over all of it). Only the raw line and the
    # two fields grouping needs are kept, so a million events fit in a few hundred MB.
    rows: list[tuple[int, str | dict | None, str | None]] = []
    messages: list[str] = []
    components: list[str | None] = []
    for number, raw in enumerate(stdin, start=1):
        for _, event, reason in read_events([raw], text_mode):
            if event is None:
                rows.append((number, None, reason))
                continue
            messages.append(event["error"])
            components.append(event.get("component"))
            splice = not text_mode and not any(key in event for key in ADDED)
            rows.append((number, raw.strip() if splice else event, None))
    normalized = normalize_batch(messages, components, workers)
    patterns = merge_patterns([(n.kind, c, n.norm_error) for n, c in zip(normalized, components)])
    out = sys.stdout
    dumps = json.dumps
    results = iter(zip(normalized, patterns))
    rejected = 0
    for number, kept, reason in rows:
        if kept is None:
            rejected += 1
            write_line(report_rejection(number, reason), out)
            continue
        result, pattern = next(results)
        if isinstance(kept, str):  # the input object, its closing brace replaced by the added fields
            out.write(f'{kept[:-1].rstrip()}, "norm_error": {dumps(result.norm_error, ensure_ascii=False)}, '
                      f'"kind": {dumps(result.kind, ensure_ascii=False)}, "fingerprint": "{result.fingerprint}", '
                      f'"pattern": "{pattern.id}"}}\n')
        else:
            kept.update(norm_error=result.norm_error, kind=result.kind, fingerprint=result.fingerprint,
                        pattern=pattern.id)
            write_line(kept, out)
    out.flush()
    if rejected:
        sys.exit(1)
