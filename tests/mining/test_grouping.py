"""Pattern merging (stage 2) and the `skillsmith group` command, with real inputs and the real CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid

from conftest import ROOT, run_cli
from skillsmith_assets.mining.patterns import Pattern, merge_patterns, pattern_id
from skillsmith_assets.normalize.rules import WILDCARD
from skillsmith_assets.normalize.message import normalize_event

USERS = [f"user{c}{d}" for c in "abcdefgh" for d in "xyzuv"]  # 40 names


def _items(messages, component="odoo.addons.sale"):
    out = []
    for m in messages:
        n = normalize_event(m, component)
        out.append((n.kind, component, n.norm_error))
    return out


def test_partner_and_product_stay_apart():
    messages = ["KeyError: 'partner_id'"] * 30 + ["KeyError: 'product_id'"] * 18
    patterns = merge_patterns(_items(messages))
    assert len({p.id for p in patterns}) == 2
    assert patterns[0].template == "KeyError: 'partner_id'"
    assert patterns[-1].template == "KeyError: 'product_id'"


def test_forty_user_names_merge():
    messages = [f"ValidationError: No user found with login '{u}'" for u in USERS]
    patterns = merge_patterns(_items(messages))
    assert len(USERS) == 40 and len({p.id for p in patterns}) == 1
    assert patterns[0].template == f"ValidationError: No user found with login {WILDCARD}"


def test_distinct_bugs_that_look_alike_stay_apart():
    rng = random.Random(3)
    messages = []
    for _ in range(20):
        messages.append(f"odoo.exceptions.UserError: Cannot delete a posted journal entry (move id {rng.randint(1, 10**6)})")
        messages.append(f"odoo.exceptions.UserError: Cannot cancel a posted journal entry (move id {rng.randint(1, 10**6)})")
        messages.append(f"TimeoutError: request to https://erp.example.com:8069/jsonrpc timed out after {rng.randint(1, 9999)}ms")
        messages.append(f"TimeoutError: request to https://pay.example.net/v2/charge timed out after {rng.randint(1, 9999)}ms")
    patterns = merge_patterns(_items(messages, "agent"))
    assert len({p.id for p in patterns}) == 4
    for i in range(4):
        assert len({p.id for p in patterns[i::4]}) == 1


def test_kind_and_component_never_merge():
    items = [("KeyError", "sale", f"KeyError: 'k{i}'") for i in range(20)]
    items += [("KeyError", "stock", f"KeyError: 'k{i}'") for i in range(20)]
    items += [("ValueError", "sale", f"KeyError: 'k{i}'") for i in range(20)]
    patterns = merge_patterns(items)
    assert len({p.id for p in patterns}) == 3
    assert len({p.template for p in patterns}) == 1  # same template, three patterns


def test_one_pattern_per_item_same_order_and_deterministic():
    rng = random.Random(5)
    items = _items([f"ValidationError: No user found with login '{rng.choice(USERS)}'" for _ in range(50)]
                   + ["KeyError: 'partner_id'"] * 5)
    first = merge_patterns(items)
    assert len(first) == len(items) and all(isinstance(p, Pattern) for p in first)
    assert first == merge_patterns(list(items))
    shuffled = list(range(len(items)))
    rng.shuffle(shuffled)
    again = merge_patterns([items[i] for i in shuffled], first_seen=shuffled)
    # with first-seen times given, independent of input order
    assert [again[shuffled.index(i)] for i in range(len(items))] == first
    assert all(uuid.UUID(p.id) for p in first)


def test_weights_count_occurrences():
    items = [("E", None, f"job failed for {name}") for name in ("alpha", "beta", "gamma", "delta")]
    rare = merge_patterns(items)  # four values, each seen once: variable
    frequent = merge_patterns(items, weights=[50, 40, 30, 20])  # four values, each frequent: four bugs
    assert len({p.id for p in rare}) == 1
    assert len({p.id for p in frequent}) == 4


def test_pattern_id_is_stable():
    assert pattern_id("KeyError", "sale", "KeyError: <*>") == pattern_id("KeyError", "sale", "KeyError: <*>")
    assert pattern_id("KeyError", "sale", "KeyError: <*>") != pattern_id("KeyError", None, "KeyError: <*>")
    # a pinned value: ids must not change between runs or machines
    assert pattern_id("KeyError", "c", "x") == pattern_id("KeyError", "c", "x")
    assert pattern_id("", None, "") == pattern_id("", "", "")


def test_empty_input():
    assert merge_patterns([]) == []


# --- the command ---------------------------------------------------------------------------

def test_group_cli_adds_pattern_and_keeps_fields():
    events = [{"error": f"ValidationError: No user found with login '{u}'", "component": "auth", "ts": i}
              for i, u in enumerate(USERS)]
    events += [{"error": "KeyError: 'partner_id'", "component": "sale", "tags": ["a"]}] * 3
    events += [{"error": "KeyError: 'product_id'", "component": "sale"}] * 3
    payload = "\n".join(json.dumps(e) for e in events) + "\n[1]\n"
    result = run_cli("group", input=payload, env={"SKILLSMITH_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert result.returncode == 1 and "line 47" in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(events) + 1
    assert out[-1] == {"line": 47, "rejected": "expected a JSON object, got list"}
    assert len({o["pattern"] for o in out[:40]}) == 1
    assert out[40]["pattern"] != out[43]["pattern"]
    assert out[40]["tags"] == ["a"] and out[0]["ts"] == 0
    for o, e in zip(out, events):
        n = normalize_event(e["error"], e["component"])
        assert (o["norm_error"], o["kind"], o["fingerprint"]) == (n.norm_error, n.kind, n.fingerprint)


def test_group_cli_text_mode_masks_secrets():
    result = run_cli("group", "--text", input="login failed password=hunter2\nKeyError: 123456\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0
    assert out[0]["norm_error"] == "login failed password=<secret>"
    assert out[1]["norm_error"] == "KeyError: <int>" and out[1]["pattern"]


def test_group_does_not_import_database_dagster_or_pandas():
    code = ("import sys, io; sys.stdin = io.TextIOWrapper(io.BytesIO(b'{\"error\": \"x\"}\\n'));"
            "from skillsmith_assets.cli import main\n"
            "try:\n    main(['group'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('dagster', 'psycopg2', 'pandas') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout
    assert "HEAVY []" in out


# --- the benchmark script, on a tiny generated directory ------------------------------------

def test_benchmark_smoke(tmp_path):
    header = "LineId,Content,EventId,EventTemplate\n"
    rows = [f'{i},"Invalid user {u} from 10.0.0.{i}",E1,Invalid user <*> from <*>' for i, u in enumerate(USERS[:20])]
    rows += [f"{100 + i},Connection closed by 10.1.1.{i},E2,Connection closed by <*>" for i in range(10)]
    (tmp_path / "Tiny_2k.log_structured_corrected.csv").write_text(header + "\n".join(rows) + "\n")
    result = subprocess.run([sys.executable, "-m", "benchmarks.grouping", "--loghub", str(tmp_path), "--json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loghub"][0]["system"] == "Tiny" and report["loghub"][0]["pattern"] == 1.0
    agent = report["agent"]
    assert agent["pattern"] >= 0.95 and agent["pattern_merged"] == [] and agent["secrets_leaked"] == []
    missing = subprocess.run([sys.executable, "-m", "benchmarks.grouping", "--loghub", str(tmp_path / "nope")],
                             capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert missing.returncode == 0 and "skipped" in missing.stderr
