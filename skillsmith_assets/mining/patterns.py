"""Pattern merging, stage 2 of grouping: normalized messages that differ only where values vary a lot.

Stage 1 (``normalize.py``) masks what has a recognisable shape. What still
varies (user names, host names, free words, quoted text) has no shape, only a
distribution: a *slot* whose values are many or rare is a parameter, a slot
with a few recurring values separates bugs (``KeyError: 'partner_id'`` vs
``KeyError: 'product_id'``). Two passes apply that one test, per (kind,
component):

1. *Positions*, among messages of one token count: Drain-like clusters, then a
   varying position either becomes ``<*>`` (one token) or splits the cluster.
2. *Spans*, across token counts: parts of pass 1 whose templates share a prefix
   and a suffix join when the run of tokens between them, pooled over all their
   messages, is a parameter. The run becomes ``<**>`` (any number of tokens,
   none included), so ``'eleven'`` and ``'one hundred'`` are one slot.

docs/grouping.md has the rule in full, its measured accuracy (held out, system
by system) and the reasons for each threshold.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from skillsmith_assets.normalize.rules import SPAN, WILDCARD
from skillsmith_assets.normalize.message import length_prefixed_uuid

PATTERN_VERSION = "p2"


@dataclass(frozen=True)
class MergeRules:
    """The tunables of pattern merging (chosen held out: docs/grouping.md)."""

    # A slot with this many distinct values is a parameter whatever their frequencies.
    min_variable_values: int = 12
    # A slot with at least this many values, most of them rare, is a parameter too.
    min_rare_values: int = 4
    # A value is rare when it comes from one distinct message seen at most this many times.
    rare_weight: int = 3
    # Pass 1: share of equal (non-wildcard) tokens needed to join a cluster.
    similarity: float = 0.5
    # Pass 2: the shared prefix and suffix around a slot hold at least this many literal tokens,
    span_min_anchors: int = 3
    # and at least this share of the shorter message's tokens.
    span_anchors: float = 0.5
    # Token rules, switchable so that they too are chosen held out:
    # a slot whose every value holds a digit, a placeholder or a path separator is a parameter;
    values_by_shape: bool = True
    # pass 2 runs (templates of different token counts may join around one slot).
    spans: bool = True


DEFAULT_RULES = MergeRules()


@dataclass(frozen=True)
class Pattern:
    id: str  # stable: a UUID of kind, component and the pattern's earliest-seen message
    template: str  # the normalized message, "<*>" where one token varies, "<**>" where a run does


def pattern_id(kind: str, component: str | None, anchor: str) -> str:
    """A UUID from kind, component and anchor text (length-prefixed, like the fingerprint)."""
    return length_prefixed_uuid(PATTERN_VERSION, kind or "", component or "", anchor)


_VALUE_CHARS = frozenset("<0123456789/\\")
_DELIMITERS = {"'": "'", '"': '"', "(": ")", "[": "]", "{": "}", "<": ">"}


def _looks_variable(value: str) -> bool:
    """Values with a placeholder, a digit or a path separator are values, not words.

    URLs are the exception: their host names the dependency that failed (a
    timeout to one service is not the same bug as a timeout to another), so
    they separate unless they take many values.
    """
    return "://" not in value and any(c in _VALUE_CHARS for c in value)


def _is_variable(values: dict[str, list[int]], rules: MergeRules) -> bool:
    """values: slot value -> [number of distinct messages, total weight]."""
    distinct = len(values)
    if distinct >= rules.min_variable_values:
        return True
    if rules.values_by_shape and all(_looks_variable(value) for value in values):
        return True
    if distinct < rules.min_rare_values:
        return False
    rare = sum(1 for messages, weight in values.values() if messages == 1 and weight <= rules.rare_weight)
    return rare * 2 > distinct


def _is_free_text(values: dict[str, list[int]], rules: MergeRules) -> bool:
    """A marked slot whose values differ in word count holds text, not an identifier.

    Identifiers (keys, field and model names) hold no spaces. A quoted or
    bracketed literal with a varying number of words is a sentence, a list or a
    name of a person, however few values were seen. Unquoted text (after a
    ``key=`` or the last colon) may be a short fixed phrase that names the bug
    (``connection refused`` vs ``connection reset by peer``), so it is a
    parameter only with as many values as the rare-value rule asks.
    """
    if len({value.count(" ") for value in values}) < 2:
        return False
    return _delimited(values) or len(values) >= rules.min_rare_values


def _delimited(values) -> bool:
    """Every value is one literal inside the same pair of quotes or brackets."""
    opener = next(iter(values))[:1]
    closer = _DELIMITERS.get(opener)
    if closer is None:
        return False
    for value in values:
        value = value.rstrip(",.;!")
        if len(value) < 2 or value[0] != opener or value[-1] != closer:
            return False
    return True


def _key_prefix(values) -> str:
    """The ``key=`` or ``key:`` that every value of a slot starts with, or ""."""
    head, tail = min(values), max(values)
    common = 0
    while common < min(len(head), len(tail)) and head[common] == tail[common] and head[common] != " ":
        common += 1
    cut = max(head.rfind("=", 0, common), head.rfind(":", 0, common))
    return head[: cut + 1]


def _is_path(value: str) -> bool:
    """A path, spaces in its names allowed: it starts and ends inside the path (``/srv/a b/c.csv``),
    not with words after it (``/etc/a.map: Permission denied`` is a path and an error)."""
    tokens = value.split(" ")
    return tokens[0][:1] in ("/", "\\") and all(("/" in t or "\\" in t) for t in (tokens[0], tokens[-1]))


def _has_boundary(prefix: list[str], suffix: list[str], values) -> bool:
    """A run of tokens is one value only where something marks where it starts and ends.

    Quotes or brackets around it; a ``key=`` before it, up to the next ``key=``;
    a path; or the end of the message after its last colon ("...: free text").
    Without such a mark, templates that differ by a few words are different
    events, not one event with a longer value.
    """
    if _delimited(values):
        return True
    if _key_prefix(values):
        return not any("=" in token for value in values for token in value.split(" ")[1:])
    if all(_is_path(value) for value in values):
        return True
    if suffix or not prefix or not prefix[-1].endswith(":"):
        return False
    return not any(token.endswith(":") for value in values for token in value.split(" "))


def _clusters(messages: list[tuple[str, ...]], weights: list[int], rules: MergeRules) -> list[list[int]]:
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
        need = max(1, math.ceil(rules.similarity * width))  # equal tokens needed to join
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


def _slot_values(messages, weights, members, start: int, end_from_right: int) -> dict[str, list[int]]:
    """The run of tokens between ``start`` and ``end_from_right`` of each member, counted."""
    values: dict[str, list[int]] = {}
    for i in members:
        tokens = messages[i]
        entry = values.setdefault(" ".join(tokens[start:len(tokens) - end_from_right]), [0, 0])
        entry[0] += 1
        entry[1] += weights[i]
    return values


def _positional_parts(messages: list[tuple[str, ...]], weights: list[int], members_of_bucket: list[int],
                      rules: MergeRules) -> list[tuple[list[int], list[str]]]:
    """Pass 1 over one bucket (messages of one token count): (members, template tokens) per part."""
    parts = []
    local = [messages[i] for i in members_of_bucket]
    local_weights = [weights[i] for i in members_of_bucket]
    stack = [sorted(members_of_bucket[j] for j in c) for c in _clusters(local, local_weights, rules)]
    while stack:
        members = stack.pop()
        width = len(messages[members[0]])
        split_at, split_values = -1, None
        varying = []
        for pos in range(width):
            values = _slot_values(messages, weights, members, pos, width - pos - 1)
            if len(values) == 1:
                continue
            varying.append(pos)
            if not _is_variable(values, rules) and (split_values is None or len(values) < len(split_values)):
                split_at, split_values = pos, values
        if split_values is not None:
            split: dict[str, list[int]] = defaultdict(list)
            for i in members:
                split[messages[i][split_at]].append(i)
            stack.extend(split[value] for value in sorted(split))
            continue
        tokens = list(messages[members[0]])
        for pos in varying:
            tokens[pos] = WILDCARD
        parts.append((members, tokens))
    return parts


@dataclass
class _SpanGroup:
    prefix: list[str]
    suffix: list[str]
    members: list[int]
    parts: list[int]  # indices of the pass-1 parts it holds
    shortest: int
    width: int | None  # the token count while the group is one part of pass 1, else None


def _joined_edge(a: Sequence[str], b: Sequence[str], limit: int, loose: bool) -> list[str]:
    """The common edge of two token runs (read front to back); ``loose``: ``<*>`` matches any token."""
    edge = []
    for x, y in zip(a[:limit], b[:limit]):
        if x == y:
            edge.append(x)
        elif loose and WILDCARD in (x, y):
            edge.append(WILDCARD)
        else:
            break
    return edge


def _try_join(group: _SpanGroup, members: list[int], tokens: list[str], messages, weights,
              rules: MergeRules) -> tuple[int, list[str], list[str]] | None:
    """(anchor count, prefix, suffix) if the part can join the group around one marked slot, else None.

    A ``<*>`` of one side may stand for a literal of the other inside the prefix
    or suffix; when that pushes the edge into the slot itself, the strict edges
    (equal tokens only) are tried too.
    """
    if group.width == len(tokens):
        return None  # same token count: pass 1 already decided these apart
    limit = min(len(tokens), group.shortest)  # prefix and suffix never overlap in any member
    need = max(1, rules.span_min_anchors, math.ceil(rules.span_anchors * limit))
    for loose in (True, False):
        prefix = _joined_edge(group.prefix, tokens, limit, loose)
        suffix = _joined_edge(group.suffix[::-1], tokens[::-1], limit - len(prefix), loose)[::-1]
        anchors = sum(1 for t in prefix + suffix if t != WILDCARD)
        if anchors < need:
            continue
        values = _slot_values(messages, weights, group.members + members, len(prefix), len(suffix))
        if _has_boundary(prefix, suffix, values):
            return anchors, prefix, suffix
    return None


def _span_template(prefix: list[str], suffix: list[str], values) -> str:
    """prefix <**> suffix, keeping a ``key=`` or ``key:`` that every value of the slot starts with."""
    return " ".join(prefix + [_key_prefix(values) + SPAN] + suffix)


def _span_merge(parts: list[tuple[list[int], list[str]]], messages, weights,
                rules: MergeRules) -> list[tuple[list[int], str]]:
    """Pass 2 over one (kind, component): parts of different token counts joined around one slot.

    Parts are visited shortest first, then heaviest, then in text order; each
    joins the group with which it shares the most anchor tokens around a marked
    slot. A second round offers the parts left alone to the groups that formed
    after them. A group stands only if its slot, pooled over all its messages,
    is a parameter; else it falls back into its parts (two values seen often
    are two bugs, whatever their lengths).
    """
    weight_of = [sum(map(weights.__getitem__, members)) for members, _ in parts]
    order = sorted(range(len(parts)), key=lambda k: (len(parts[k][1]), -weight_of[k], " ".join(parts[k][1])))
    groups: list[_SpanGroup] = []
    by_edge: dict[tuple[int, str], set[int]] = defaultdict(set)  # first / last token -> groups

    def best_group(k: int, spanned_only: bool):
        members, tokens = parts[k]
        if WILDCARD in (tokens[0], tokens[-1]):
            candidates = set(range(len(groups)))
        else:
            candidates = (by_edge.get((0, tokens[0]), set()) | by_edge.get((1, tokens[-1]), set())
                          | by_edge.get((0, WILDCARD), set()) | by_edge.get((1, WILDCARD), set()))
        best = None
        for g in sorted(candidates):
            if spanned_only and groups[g].width is not None:
                continue
            joined = _try_join(groups[g], members, tokens, messages, weights, rules)
            if joined and (best is None or joined[0] > best[1][0]):
                best = (g, joined)
        return best

    def join(g: int, k: int, prefix: list[str], suffix: list[str]) -> None:
        group = groups[g]
        group.prefix, group.suffix, group.width = prefix, suffix, None
        group.members.extend(parts[k][0])
        group.parts.append(k)
        group.shortest = min(group.shortest, len(parts[k][1]))
        index(g)

    def index(g: int) -> None:
        group = groups[g]
        if group.prefix:
            by_edge[(0, group.prefix[0])].add(g)
        if group.suffix:
            by_edge[(1, group.suffix[-1])].add(g)

    for k in order:
        best = best_group(k, spanned_only=False)
        if best is None:
            members, tokens = parts[k]
            groups.append(_SpanGroup(list(tokens), list(tokens), list(members), [k], len(tokens), len(tokens)))
            index(len(groups) - 1)
        else:
            join(best[0], k, *best[1][1:])
    alone = [g for g, group in enumerate(groups) if group.width is not None]
    for g in alone:
        best = best_group(groups[g].parts[0], spanned_only=True)
        if best is not None:
            join(best[0], groups[g].parts[0], *best[1][1:])
            groups[g].parts = []
    result = []
    for group in groups:
        if group.width is None:
            values = _slot_values(messages, weights, group.members, len(group.prefix), len(group.suffix))
            if _is_variable(values, rules) or _is_free_text(values, rules):
                result.append((group.members, _span_template(group.prefix, group.suffix, values)))
                continue
        result.extend((parts[k][0], " ".join(parts[k][1])) for k in group.parts)
    return result


def merge_texts(texts: Sequence[str], weights: list[int], rules: MergeRules = DEFAULT_RULES,
                native: bool = True) -> list[tuple[list[int], str]]:
    """Both passes over the distinct normalized messages of one (kind, component):
    (members, template) per pattern, members as indices into ``texts`` (a list, or the
    compiled ``Texts`` store).

    Pass 1 runs compiled when ``_patterns`` is built (and ``native``); its parts are
    the Python pass's, tested equal. The compiled pass tokenizes on its own, so the
    messages are split in Python only for the parts pass 2 looks into.
    """
    parts = _native_parts(texts, weights, rules) if native else None
    if parts is None:
        messages: Sequence[Sequence[str]] = [tuple(text.split(" ")) for text in texts]
        parts = python_parts(messages, weights, rules)
    else:
        messages = _Tokens(texts)
    if rules.spans:
        return _span_merge(parts, messages, weights, rules)
    return [(members, " ".join(tokens)) for members, tokens in parts]


def python_parts(messages: Sequence[tuple[str, ...]], weights: list[int],
                 rules: MergeRules) -> list[tuple[list[int], list[str]]]:
    """Pass 1 in Python, bucket by bucket in increasing token count (the reference)."""
    buckets: dict[int, list[int]] = defaultdict(list)
    for i, tokens in enumerate(messages):
        buckets[len(tokens)].append(i)
    parts = []
    for width in sorted(buckets):
        parts.extend(_positional_parts(messages, weights, buckets[width], rules))
    return parts


def _native_parts(texts: Sequence[str], weights: list[int], rules: MergeRules):
    """Pass 1 compiled, or None where it cannot run (not built, SKILLSMITH_PURE_PYTHON, a weight
    beyond 64 bits, a lone surrogate in a message): the Python pass then runs."""
    module = compiled_merger()
    if module is None:
        return None
    if not isinstance(texts, (list, module.Texts)):
        texts = list(texts)
    try:
        return module.positional_parts(texts, list(weights), rules.min_variable_values, rules.min_rare_values,
                                       rules.rare_weight, rules.similarity, rules.values_by_shape)
    except (UnicodeError, OverflowError, TypeError):  # e.g. a float threshold the grid might try
        return None


@lru_cache(maxsize=1)
def compiled_merger():
    """The compiled ``_patterns`` module, or None (not built, or SKILLSMITH_PURE_PYTHON set)."""
    if os.environ.get("SKILLSMITH_PURE_PYTHON"):
        return None
    try:
        from skillsmith_assets.mining import _patterns
    except ImportError:
        return None
    return _patterns


class _Tokens(Sequence):
    """Messages split into tokens on demand: pass 2 reads the members of a few parts only."""

    def __init__(self, texts: Sequence[str]):
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i):
        return self.texts[i].split(" ")


def source_patterns(kind: str, component: str, texts: Sequence[str], weights: list[int],
                    first_seen: Sequence | None, rules: MergeRules = DEFAULT_RULES) -> list[tuple[list[int], Pattern]]:
    """(members, Pattern) per pattern of one (kind, component)'s distinct normalized messages.

    The id is made of the anchor, the member seen first (ties: the smaller text; texts are
    read only for the tied members, since a compiled store makes a str per read).
    ``first_seen`` None: the texts are in the order they were first seen, so the anchor is the
    member with the lowest index (`skillsmith group`'s stores: no key function per member).
    """
    result = []
    when = None if first_seen is None else first_seen.__getitem__
    for members, template in merge_texts(texts, weights, rules):
        if when is None:
            anchor = texts[min(members)]
        else:
            first = when(min(members, key=when))
            tied = [i for i in members if when(i) == first]
            anchor = texts[tied[0]] if len(tied) == 1 else min(texts[i] for i in tied)
        result.append((members, Pattern(pattern_id(kind, component, anchor), template)))
    return result


def merge_patterns(items: Sequence[tuple[str, str | None, str]], weights: Sequence[int] | None = None,
                   first_seen: Sequence | None = None, rules: MergeRules = DEFAULT_RULES) -> list[Pattern]:
    """items: (kind, component, norm_msg) per signature; returns one Pattern per item, same order.

    ``weights`` (e.g. hits per signature) count how often each item was seen;
    repeated items are counted once as a distinct message and their weights add
    up. ``first_seen`` (any comparable values; default: input order) picks each
    pattern's anchor, the member seen first, whose text the id is made of: so a
    pattern keeps its id while later data widens its template.
    """
    if weights is None:
        weights = [1] * len(items)
    if len(weights) != len(items):
        raise ValueError("weights must have one entry per item")
    if first_seen is not None and len(first_seen) != len(items):
        raise ValueError("first_seen must have one entry per item")
    # A missing component and an empty one are the same, as in the fingerprint.
    distinct: dict[tuple[str, str, str], int] = {}
    seen: dict[tuple[str, str, str], object] = {}
    for position, (item, weight) in enumerate(zip(items, weights)):
        key = (item[0] or "", item[1] or "", item[2] or "")
        distinct[key] = distinct.get(key, 0) + weight
        when = position if first_seen is None else first_seen[position]
        if key not in seen or when < seen[key]:
            seen[key] = when
    by_source: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for key in sorted(distinct):
        by_source[(key[0], key[1])].append(key)
    patterns: dict[tuple[str, str, str], Pattern] = {}
    for (kind, component), keys in by_source.items():
        texts = [k[2] for k in keys]
        for members, pattern in source_patterns(kind, component, texts, [distinct[k] for k in keys],
                                                [seen[k] for k in keys], rules):
            for i in members:
                patterns[keys[i]] = pattern
    return [patterns[(item[0] or "", item[1] or "", item[2] or "")] for item in items]
