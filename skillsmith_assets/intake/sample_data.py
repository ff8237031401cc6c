"""Realistic agent errors for the demo, tests and benchmarks.

Errors as automated agents running an Odoo business suite log them: a few bugs
that recur (some rising this week), a long tail of one-offs, tracebacks, ids,
hosts, timestamps and durations that vary between occurrences of the same bug.
Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

# (weight, component, tags, template). Fields in braces are filled per event.
RECURRING = [
    (30, "odoo.addons.sale", ["odoo", "sale"], "KeyError: 'partner_id'\n{tb_sale}"),
    (18, "odoo.addons.sale", ["odoo", "sale"], "KeyError: 'product_id' while computing order SO{year}-{int5} lines"),
    (22, "odoo.addons.account", ["odoo", "account"],
     "odoo.exceptions.UserError: Cannot delete a posted journal entry (move id {int6}) at {iso}"),
    (9, "odoo.addons.account", ["odoo", "account"],
     "odoo.exceptions.UserError: Cannot cancel a posted journal entry (move id {int6})"),
    (16, "odoo.addons.stock", ["odoo", "stock"],
     "odoo.exceptions.ValidationError: Quantity {float} exceeds available stock for product {uuid}"),
    (14, "agent.http", ["agent", "network"],
     "TimeoutError: request to https://erp.internal.example.com:8069/jsonrpc timed out after {ms}ms (request {uuid})"),
    (6, "agent.http", ["agent", "network"],
     "TimeoutError: request to https://payments.example.net/v2/charge timed out after {ms}ms (request {uuid})"),
    (12, "odoo.sql_db", ["odoo", "db"],
     "psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update at {iso}"),
    (10, "agent.llm", ["agent", "llm"],
     "RateLimitError: rate limit exceeded for model gpt-4o, retry after {int2}s (request {uuid})"),
    (8, "odoo.addons.mail", ["odoo", "mail"],
     "smtplib.SMTPRecipientsRefused: recipient {email} refused by mail.example.org at {epoch}"),
    (7, "agent.runner", ["agent"],
     "AttributeError: 'NoneType' object has no attribute 'id'\n{tb_runner}"),
    (5, "odoo.addons.purchase", ["odoo", "purchase"],
     "odoo.exceptions.AccessError: You are not allowed to access 'purchase.order' records (user {int4})"),
]

TAIL_WORDS = ["invoice", "picking", "lead", "payslip", "ticket", "quotation", "webhook", "cron", "report", "export"]

TB_SALE = (
    "Traceback (most recent call last):\n"
    '  File "/opt/odoo/odoo/http.py", line {n1}, in dispatch\n'
    "    result = self._call_function(**self.params)\n"
    '  File "/opt/odoo/addons/sale/models/sale_order.py", line {n2}, in _compute_amounts\n'
    "    partner = vals['partner_id']\n"
)
TB_RUNNER = (
    "Traceback (most recent call last):\n"
    '  File "/srv/agent/runner.py", line {n1}, in run_step\n'
    "    record = self.env.lookup(step.ref)\n"
    '  File "/srv/agent/steps.py", line {n2}, in resolve\n'
    "    return record.id\n"
)


def _fill(template: str, rng: random.Random, ts: datetime) -> str:
    values = {
        "int2": rng.randint(2, 60),
        "int4": rng.randint(1000, 9999),
        "int5": rng.randint(10000, 99999),
        "int6": rng.randint(100000, 999999),
        "year": ts.year,
        "float": f"{rng.uniform(1, 500):.2f}",
        "uuid": uuid.UUID(int=rng.getrandbits(128), version=4),
        "iso": (ts - timedelta(seconds=rng.randint(0, 30))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "epoch": int(ts.timestamp()),
        "ms": rng.choice([5000, 10000, 30000]) + rng.randint(0, 999),
        "email": f"{rng.choice(['anna', 'bob', 'chen', 'dara', 'eli'])}.{rng.randint(10, 99)}@customer.example.com",
        "tb_sale": TB_SALE.format(n1=rng.randint(600, 700), n2=rng.randint(200, 260)),
        "tb_runner": TB_RUNNER.format(n1=rng.randint(80, 120), n2=rng.randint(30, 60)),
    }
    return template.format(**values)


def generate_events(count: int = 5000, days: int = 30, seed: int = 7, now: datetime | None = None) -> Iterator[dict]:
    """Yield ``count`` events spread over the last ``days`` days, oldest first, a tenth of them one-offs."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    weights = [w for w, *_ in RECURRING]
    stamps = sorted(now - timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(count))
    for i, ts in enumerate(stamps):
        recent = (now - ts) < timedelta(days=7)
        if rng.random() < 0.1:
            word = rng.choice(TAIL_WORDS)
            event = {
                "error": f"RuntimeError: unexpected state '{word}-{rng.choice(['draft', 'locked', 'orphan'])}' "
                f"in step {rng.choice(TAIL_WORDS)} #{rng.randint(1, 40)}",
                "component": "agent.runner",
                "tags": ["agent", "tail"],
            }
        else:
            # The sale KeyError is rising: more frequent in the last week.
            bias = [w * (3 if recent and j == 0 else 1) for j, w in enumerate(weights)]
            _, component, tags, template = rng.choices(RECURRING, weights=bias)[0]
            event = {"error": _fill(template, rng, ts), "component": component, "tags": list(tags)}
        event["ts"] = ts.isoformat()
        event["event_id"] = f"sample-{seed}-{i}"
        yield event


def write_jsonl(path, events) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
            count += 1
    return count
