"""Pattern merging, stage 2 of grouping: normalized messages that differ only where values vary a lot.

Stage 1 (``normalize.py``) masks what has a recognisable shape: numbers, ids,
dates, addresses, secrets. What is left that still varies (user names, host
names, free words in quotes) has no shape, only a distribution. Over a batch
of normalized messages this module finds the token positions whose values are
*many*, and turns them into the wildcard ``<*>``; positions with *few* values
stay literal, because few values that recur are different bugs
(``KeyError: 'partner_id'`` vs ``KeyError: 'product_id'``, a timeout to one
host vs another).

The rule, per (kind, component, number of tokens) bucket (docs/grouping.md has
the measured accuracy and the reasons for the thresholds):

1. Cluster: distinct messages, heaviest first then in text order, join the
   cluster whose template has the largest share (at least ``SIMILARITY``) of
   equal tokens with them; positions where members disagree become ``<*>``.
   This untangles buckets that mix several templates of the same length.
2. In each cluster, a varying position is *variable* when it has at least
   ``MIN_VARIABLE_VALUES`` distinct values, or every value looks like a value
   (a placeholder, a digit or a path separator; URLs excepted), or it has at
   least ``MIN_RARE_VALUES`` values, most of them rare (seen in one distinct
   message, at most ``RARE_WEIGHT`` times). Otherwise it *separates*: the
   cluster is split on the separating position with the fewest values (lowest
   index on ties) and each part is examined again.
3. When nothing separates, the part is one pattern: its tokens with every
   varying position replaced by ``<*>`` (always exactly one space-free token).

Messages of different kind or component never share a pattern; a pattern's id
is derived from kind, component and template, so it is stable across runs and
independent of input order.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

WILDCARD = "<*>"
# A position with this many distinct values is variable whatever their frequencies.
MIN_VARIABLE_VALUES = 12
# A position with at least this many values, most of them rare, is variable too.
MIN_RARE_VALUES = 3
# A value is rare when it comes from one distinct message seen at most this many times.
RARE_WEIGHT = 3
# Drain-like first pass: share of equal (non-wildcard) tokens needed to join a cluster.
SIMILARITY = 0.5
PATTERN_VERSION = "p1"


@dataclass(frozen=True)
class Pattern:
    id: str  # stable: a UUID derived from kind, component and template
    template: str  # the normalized message with merged token positions replaced by "<*>"


def pattern_id(kind: str, component: str | None, template: str) -> str:
    """A UUID from kind, component and template (length-prefixed, like the fingerprint)."""
    parts = (PATTERN_VERSION, kind or "", component or "", template)
    payload = "".join(f"{len(p)}:{p}" for p in parts)
    return str(uuid.UUID(hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]))


def _looks_variable(token: str) -> bool:
    """Tokens with a placeholder, a digit or a path separator are values, not words.

    URLs are the exception: their host names the dependency that failed (a
    timeout to one service is not the same bug as a timeout to another), so
    they separate unless they take many values.
    """
    return "://" not in token and any(c in _VALUE_CHARS for c in token)


_VALUE_CHARS = frozenset("<0123456789/\\")


def _is_variable(values: dict[str, list[int]]) -> bool:
    """values: token -> [number of distinct messages, total weight]."""
    distinct = len(values)
    if distinct >= MIN_VARIABLE_VALUES:
        return True
    if all(_looks_variable(token) for token in values):
        return True
    if distinct < MIN_RARE_VALUES:
        return False
    rare = sum(1 for messages, weight in values.values() if messages == 1 and weight <= RARE_WEIGHT)
    return rare * 2 > distinct


def _clusters(messages: list[tuple[str, ...]], weights: list[int]) -> list[list[int]]:
    """Drain-like first pass: join a message to the most similar cluster of its bucket.

    Messages are visited heaviest first, then in text order, so the result does
    not depend on input order. Similarity is the share of positions where the
    cluster's template holds the message's own token; a template position turns
    into the wildcard once two members disagree there. An index from
    (position, token) to the clusters whose template holds it makes the search
    cost what the shared tokens cost, not what the number of clusters costs.
    """
    order = sorted(range(len(messages)), key=lambda i: (-weights[i], messages[i]))
    templates: list[list[str]] = []
    members: list[list[int]] = []
    index: dict[tuple[int, str], set[int]] = defaultdict(set)
    for i in order:
        tokens = messages[i]
        width = len(tokens)
        need = max(1, math.ceil(SIMILARITY * width))  # equal tokens needed to join
        # A cluster with `need` equal positions shares one of any `width - need + 1`
        # positions (pigeonhole): probe only the rarest ones, then compare in full.
        postings = sorted((len(index.get((pos, token), ())), pos) for pos, token in enumerate(tokens))
        candidates: set[int] = set()
        for _, pos in postings[: width - need + 1]:
            candidates.update(index.get((pos, tokens[pos]), ()))
        best, best_same = -1, need - 1
        for cluster in sorted(candidates):
            template = templates[cluster]
            same = sum(1 for a, b in zip(template, tokens) if a == b and a != WILDCARD)
            if same > best_same:
                best, best_same = cluster, same
        if best < 0:
            templates.append(list(tokens))
            members.append([i])
            for pos, token in enumerate(tokens):
                if token != WILDCARD:
                    index[(pos, token)].add(len(templates) - 1)
            continue
        members[best].append(i)
        template = templates[best]
        for pos, token in enumerate(tokens):
            if template[pos] != token and template[pos] != WILDCARD:
                index[(pos, template[pos])].discard(best)
                template[pos] = WILDCARD
    return members


def _templates(messages: list[tuple[str, ...]], weights: list[int]) -> list[str]:
    """One template per message of a bucket (all of the same length), same order."""
    result: list[str] = [""] * len(messages)
    stack = [sorted(c) for c in _clusters(messages, weights)]
    while stack:
        members = stack.pop()
        width = len(messages[members[0]])
        split_at, split_values = -1, None
        varying = []
        for pos in range(width):
            values: dict[str, list[int]] = {}
            for i in members:
                entry = values.setdefault(messages[i][pos], [0, 0])
                entry[0] += 1
                entry[1] += weights[i]
            if len(values) == 1:
                continue
            varying.append(pos)
            if not _is_variable(values) and (split_values is None or len(values) < len(split_values)):
                split_at, split_values = pos, values
        if split_values is not None:
            parts: dict[str, list[int]] = defaultdict(list)
            for i in members:
                parts[messages[i][split_at]].append(i)
            stack.extend(parts[value] for value in sorted(parts))
            continue
        tokens = list(messages[members[0]])
        for pos in varying:
            tokens[pos] = WILDCARD
        template = " ".join(tokens)
        for i in members:
            result[i] = template
    return result


def merge_patterns(items: Sequence[tuple[str, str | None, str]],
                   weights: Sequence[int] | None = None) -> list[Pattern]:
    """items: (kind, component, norm_msg) per signature; returns one Pattern per item, same order.

    ``weights`` (e.g. hits per signature) count how often each item was seen;
    repeated items are counted once as a distinct message and their weights add up.
    """
    if weights is None:
        weights = [1] * len(items)
    if len(weights) != len(items):
        raise ValueError("weights must have one entry per item")
    # A missing component and an empty one are the same, as in the fingerprint.
    distinct: dict[tuple[str, str, str], int] = {}
    for item, weight in zip(items, weights):
        key = (item[0] or "", item[1] or "", item[2] or "")
        distinct[key] = distinct.get(key, 0) + weight
    buckets: dict[tuple, list[tuple[str, str, str]]] = defaultdict(list)
    for key in sorted(distinct):
        tokens = key[2].split(" ")
        buckets[(key[0], key[1], len(tokens))].append(key)
    patterns: dict[tuple[str, str, str], Pattern] = {}
    for (kind, component, _), keys in buckets.items():
        templates = _templates([tuple(k[2].split(" ")) for k in keys], [distinct[k] for k in keys])
        for key, template in zip(keys, templates):
            patterns[key] = Pattern(pattern_id(kind, component, template), template)
    return [patterns[(item[0] or "", item[1] or "", item[2] or "")] for item in items]
