"""The rule table run by the compiled engine (``_fastnorm.c``): same results, several times faster.

Python's ``re`` costs about 1.5 µs per call before it scans a character, and a
message meets a dozen masks. The C engine runs the whole table per message
without leaving C, on both cores (it releases the GIL).

Its programs are compiled here from the syntax tree that ``re``'s own parser
makes of each pattern, so the engine executes exactly what ``re`` executes:
ordered alternatives, greedy backtracking repeats, the same captures. Anything
outside the portable dialect raises ``UnsupportedPattern``, and the engine is
then not used. Equality with ``normalize.py`` is tested on generated inputs.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from typing import Sequence

from re import _constants as sre
from re import _parser as sre_parse

from skillsmith_assets.normalize import rules as rules
from skillsmith_assets.normalize.message import TRIM_PATTERN

# Opcodes and step types: keep in step with _fastnorm.c.
OP_CLASS, OP_REPEAT, OP_SPLIT, OP_JMP, OP_SAVE, OP_BEHIND, OP_AHEAD, OP_BEGIN, OP_END, OP_MATCH = range(1, 11)
STEP_MASK, STEP_CLIP, STEP_TRUNCATE, STEP_TRIM = range(4)
UNBOUNDED = -1
# Group repeats are unrolled: a bound above this would make programs large.
MAX_UNROLL = 64
# A mask whose matches start with at most this many characters, none of them a space, is
# "narrow" (see _narrow).
NARROW_FIRST = 16
# The characters numeric masks start with; keep in step with find_numeric() in _fastnorm.c.
NUMERIC_START = "0123456789-"
# Messages per call into the engine: the engine holds a call's distinct results (one byte a
# character, most of them) until it returns: about 4 MB for this many 120-character messages.
CHUNK = 32_768


class UnsupportedPattern(ValueError):
    """The pattern uses syntax the compiled engine does not implement."""


class _Classes:
    """Character classes as 129 bytes: one per ASCII character, one for every non-ASCII one."""

    def __init__(self):
        self.table: list[bytes] = []
        self.index: dict[bytes, int] = {}

    def add(self, members: bytes) -> int:
        if members not in self.index:
            self.index[members] = len(self.table)
            self.table.append(members)
        return self.index[members]


def _class_members(op, av) -> bytes:
    """The 129-byte membership of a single-character atom (LITERAL, NOT_LITERAL or IN)."""
    members = bytearray(129)
    negate = False
    items = [(op, av)] if op in (sre.LITERAL, sre.NOT_LITERAL) else av
    for item_op, item in items:
        if item_op is sre.NEGATE:
            negate = True
        elif item_op in (sre.LITERAL, sre.NOT_LITERAL):
            if item >= 128:
                raise UnsupportedPattern(f"non-ASCII character {item:#x} in a pattern")
            members[item] = 1
            negate = negate or item_op is sre.NOT_LITERAL
        elif item_op is sre.RANGE:
            low, high = item
            if high >= 128:
                raise UnsupportedPattern("non-ASCII range in a pattern")
            for code in range(low, high + 1):
                members[code] = 1
        else:
            raise UnsupportedPattern(f"class item {item_op}")
    if negate:
        members = bytearray(1 - b for b in members)
    return bytes(members)


def _is_char(op) -> bool:
    return op in (sre.LITERAL, sre.NOT_LITERAL, sre.IN)


def _nullable(pattern) -> bool:
    """Whether the (sub)pattern can match the empty string."""
    for op, av in pattern:
        if _is_char(op):
            return False
        if op is sre.MAX_REPEAT:
            if av[0] > 0 and not _nullable(av[2]):
                return False
        elif op is sre.SUBPATTERN:
            if not _nullable(av[3]):
                return False
        elif op is sre.BRANCH:
            if not any(_nullable(alt) for alt in av[1]):
                return False
    return True


def _first(pattern) -> bytes | None:
    """Membership of the characters a match can start with; None when any could."""
    members, _ = _first_and_nullable(pattern)
    return members


def _first_and_nullable(pattern) -> tuple[bytes | None, bool]:
    """(first characters, whether the (sub)pattern can match the empty string): the first
    characters of a nullable sequence are completed by whatever follows it."""
    members = bytearray(129)
    for op, av in pattern:
        if _is_char(op):
            return bytes(a | b for a, b in zip(members, _class_members(op, av))), False
        if op in (sre.ASSERT, sre.ASSERT_NOT, sre.AT):
            continue  # zero-width: the first character comes after it
        if op is sre.MAX_REPEAT:
            parts = [av[2]]
        elif op is sre.SUBPATTERN:
            parts = [av[3]]
        elif op is sre.BRANCH:
            parts = av[1]
        else:
            return None, False
        nullable = op is sre.MAX_REPEAT and av[0] == 0
        for part in parts:
            first, part_nullable = _first_and_nullable(part)
            if first is None:
                return None, False
            members = bytearray(a | b for a, b in zip(members, first))
            nullable = nullable or part_nullable
        if not nullable:
            return bytes(members), False
    return bytes(members), True


# What may follow a point of a pattern: (characters as a 129-bit set, whether the text may end there).
ANY = ((1 << 129) - 1, True)
# Offsets of a match checked up front (before the program runs) at a candidate start: one bit each.
PREFIX_MAX = 32


@lru_cache(maxsize=None)
def _bits(members: bytes) -> int:
    return int(members[::-1].hex()[1::2], 2)


@lru_cache(maxsize=None)
def _members(bits: int) -> bytes:
    return bytes.fromhex("".join("0" + digit for digit in format(bits, "0129b")[::-1]))


def _union(a: tuple[int, bool], b: tuple[int, bool]) -> tuple[int, bool]:
    return a[0] | b[0], a[1] or b[1]


def _start(op, av, follow: tuple[int, bool]) -> tuple[int, bool]:
    """What may stand where the node starts, given what may follow it (a superset)."""
    if _is_char(op):
        return _bits(_class_members(op, av)), False
    if op is sre.AT:
        return (0, True) if av is sre.AT_END_STRING else follow
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        direction, body = av
        if direction < 0 or len(body) != 1 or not _is_char(body[0][0]):
            return follow
        members = _bits(_class_members(*body[0]))
        return (follow[0] & members, False) if op is sre.ASSERT else (follow[0] & ~members, follow[1])
    if op is sre.SUBPATTERN:
        return _sequence_start(av[3], follow)
    if op is sre.BRANCH:
        result = (0, False)
        for alternative in av[1]:
            result = _union(result, _sequence_start(alternative, follow))
        return result
    if op is sre.MAX_REPEAT:
        body = _sequence_start(av[2], ANY)
        return body if av[0] > 0 else _union(body, follow)
    return ANY


def _sequence_start(pattern, follow: tuple[int, bool]) -> tuple[int, bool]:
    for op, av in reversed(list(pattern)):
        follow = _start(op, av, follow)
    return follow


def _follows(pattern, follow: tuple[int, bool]) -> list[tuple[int, bool]]:
    """Per item of a sequence, what may follow it."""
    items = list(pattern)
    result = [follow] * len(items)
    for i in range(len(items) - 1, 0, -1):
        result[i - 1] = _start(*items[i], result[i])
    return result


def _offsets(pattern, width: int) -> tuple[int, list[int]]:
    """(the lengths a match can have, capped at width, as bits; per offset below width, the
    characters a match can hold there, as bit sets): a superset, for the prefilter at starts."""
    lengths, classes = 1, [0] * width
    for op, av in pattern:
        lengths, classes = _concat(lengths, classes, *_node_offsets(op, av, width), width)
    return lengths, classes


def _lengths(bits: int):
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def _concat(lengths_a: int, classes_a, lengths_b: int, classes_b, width: int):
    classes = list(classes_a)
    lengths = 0
    for length in _lengths(lengths_a):
        lengths |= lengths_b << length
        for i in range(length, width):
            classes[i] |= classes_b[i - length]
    capped = lengths & ((1 << width) - 1)
    return capped | (1 << width if lengths >> width else 0), classes


def _node_offsets(op, av, width):
    if _is_char(op):
        return 2, [_bits(_class_members(op, av))] + [0] * (width - 1)
    if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
        return 1, [0] * width
    if op is sre.SUBPATTERN:
        return _offsets(av[3], width)
    if op is sre.BRANCH:
        lengths, classes = 0, [0] * width
        for alternative in av[1]:
            alt_lengths, alt_classes = _offsets(alternative, width)
            lengths |= alt_lengths
            classes = [a | b for a, b in zip(classes, alt_classes)]
        return lengths, classes
    if op is sre.MAX_REPEAT:
        return _repeat_offsets(*av, width)
    raise UnsupportedPattern(f"regex operator {op}")


def _repeat_offsets(low: int, high: int, body, width: int):
    unbounded = high is sre.MAXREPEAT or high == sre.MAXREPEAT
    if len(body) == 1 and _is_char(body[0][0]):  # a run of one class: its offsets directly
        top = width if unbounded else min(high, width)
        lengths = sum(1 << k for k in range(min(low, width), top + 1))
        members = _bits(_class_members(*body[0]))
        return lengths, [members] * top + [0] * (width - top)
    body_lengths, body_classes = _offsets(body, width)
    lengths, classes = 1, [0] * width
    for _ in range(low):
        lengths, classes = _concat(lengths, classes, body_lengths, body_classes, width)
    all_lengths, all_classes = lengths, list(classes)
    more = width + 1 if unbounded else min(high - low, width + 1)
    for _ in range(more):  # after width + 1 more, nothing new can show below width
        if lengths == 1 << width:  # every match so far reaches past width: more add nothing below it
            break
        lengths, classes = _concat(lengths, classes, body_lengths, body_classes, width)
        all_lengths |= lengths
        all_classes = [a | b for a, b in zip(all_classes, classes)]
    return all_lengths, all_classes


def _prefix(tree) -> tuple[bytes, int, int]:
    """Per character (129 entries, native uint32), a bit for each offset 1.. of a match that may
    hold it, up to the last offset that excludes anything and within the shortest match: a start
    whose next characters miss their bit cannot match, and is skipped without running the program."""
    lengths, classes = _offsets(tree, PREFIX_MAX)
    width = shortest = next(_lengths(lengths))
    while width > 1 and classes[width - 1] == ANY[0]:
        width -= 1
    table = [0] * 129
    for offset in range(1, width):
        members = _members(classes[offset])
        for code in range(129):
            if members[code]:
                table[code] |= 1 << offset
    import array

    return array.array("I", table).tobytes(), width, shortest


class _Compiler:
    def __init__(self, classes: _Classes):
        self.classes = classes
        self.code: list[int] = []
        self.groups = 0

    def emit(self, *words: int) -> int:
        self.code.extend(words)
        return len(self.code) - len(words)

    def sequence(self, pattern, follow: tuple[int, bool]) -> None:
        for (op, av), after in zip(pattern, _follows(pattern, follow)):
            self.node(op, av, after)

    def node(self, op, av, follow: tuple[int, bool]) -> None:
        if _is_char(op):
            self.emit(OP_CLASS, self.classes.add(_class_members(op, av)))
        elif op is sre.AT:
            if av is sre.AT_BEGINNING_STRING:
                self.emit(OP_BEGIN)
            elif av is sre.AT_END_STRING:
                self.emit(OP_END)
            else:
                raise UnsupportedPattern(f"anchor {av}")
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            direction, body = av
            if len(body) != 1 or not _is_char(body[0][0]):
                raise UnsupportedPattern("a lookaround must hold one character class")
            self.emit(OP_BEHIND if direction < 0 else OP_AHEAD,
                      self.classes.add(_class_members(*body[0])), int(op is sre.ASSERT_NOT))
        elif op is sre.SUBPATTERN:
            group, add_flags, del_flags, body = av
            if add_flags or del_flags:
                raise UnsupportedPattern("inline flags")
            if group is None:
                self.sequence(body, follow)
            else:
                self.groups = max(self.groups, group)
                self.emit(OP_SAVE, 2 * group)
                self.sequence(body, follow)
                self.emit(OP_SAVE, 2 * group + 1)
        elif op is sre.BRANCH:
            self.branch(av[1], follow)
        elif op is sre.MAX_REPEAT:
            self.repeat(*av, follow)
        else:
            raise UnsupportedPattern(f"regex operator {op}")

    def branch(self, alternatives, follow: tuple[int, bool]) -> None:
        jumps = []
        for alternative in alternatives[:-1]:
            split = self.emit(OP_SPLIT, 0, 0)
            self.code[split + 1] = len(self.code)
            self.sequence(alternative, follow)
            jumps.append(self.emit(OP_JMP, 0))
            self.code[split + 2] = len(self.code)
        self.sequence(alternatives[-1], follow)
        for jump in jumps:
            self.code[jump + 1] = len(self.code)

    def repeat(self, low: int, high: int, body, follow: tuple[int, bool]) -> None:
        unbounded = high is sre.MAXREPEAT or high == sre.MAXREPEAT
        if len(body) == 1 and _is_char(body[0][0]):  # one class: a greedy run, backed off one by one
            # ... only to where what follows it may start
            after = -1 if follow == ANY else self.classes.add(_members(follow[0]))
            self.emit(OP_REPEAT, self.classes.add(_class_members(*body[0])), low, UNBOUNDED if unbounded else high,
                      after, int(follow[1]))
            return
        # after one pass over the body: another pass, or what follows the repeat
        follow = follow if high == 1 else _union(_sequence_start(body, ANY), follow)
        if _nullable(body):
            raise UnsupportedPattern("a repeated group that can match the empty string")
        if low > MAX_UNROLL or (not unbounded and high > MAX_UNROLL):
            raise UnsupportedPattern(f"group repeat bound above {MAX_UNROLL}")
        for _ in range(low):
            self.sequence(body, follow)
        if unbounded:  # loop: try one more, else go on
            loop = self.emit(OP_SPLIT, 0, 0)
            self.code[loop + 1] = len(self.code)
            self.sequence(body, follow)
            self.emit(OP_JMP, loop)
            self.code[loop + 2] = len(self.code)
            return
        exits = []
        for _ in range(high - low):  # nested optionals: (?:X(?:X)?)?
            split = self.emit(OP_SPLIT, 0, 0)
            self.code[split + 1] = len(self.code)
            exits.append(split)
            self.sequence(body, follow)
        for split in exits:
            self.code[split + 2] = len(self.code)


# Characters per mask whose least count the engine checks (the rules need at most eight).
LEAST_COUNTS_KEPT = 8


def compile_pattern(pattern: str, classes: _Classes) -> tuple:
    """(code, capture slots, first-character class, anchored at the start,
    leading lookbehind's class or -1, whether that lookbehind is negative,
    the prefilter of the next characters and how many it covers, the shortest match's length)."""
    tree = sre_parse.parse(pattern)
    if tree.state.flags & ~(sre.SRE_FLAG_UNICODE):
        raise UnsupportedPattern("flags")
    if _nullable(tree):
        raise UnsupportedPattern("a pattern that can match the empty string")
    compiler = _Compiler(classes)
    compiler.sequence(tree, ANY)
    compiler.emit(OP_MATCH)
    first = _first(tree)
    if first is None:  # any character may start a match
        first = bytes([1]) * 129
    anchored = bool(tree) and tree[0] == (sre.AT, sre.AT_BEGINNING_STRING)
    behind, negative = -1, 0
    if tree and tree[0][0] in (sre.ASSERT, sre.ASSERT_NOT) and tree[0][1][0] < 0:  # checked before run()
        behind = classes.add(_class_members(*tree[0][1][1][0]))
        negative = int(tree[0][0] is sre.ASSERT_NOT)
    prefix, width, shortest = _prefix(tree)
    return (_words(compiler.code), 2 * (compiler.groups + 1), classes.add(first), int(anchored), behind, negative,
            prefix, width, shortest)


def least_counts(pattern: str) -> tuple[tuple[int, int], ...]:
    """(ASCII code, n) for each character that every match of pattern holds n >= 2 times, most
    first (at most LEAST_COUNTS_KEPT): the engine skips the mask for a text holding fewer, from
    the character counts it keeps anyway. A guard says "at least once"; an IPv6 address needs
    two colons, which most messages ("KeyError: ...") lack, a UUID four dashes."""
    tree = sre_parse.parse(pattern)
    counts = _least(list(tree), bool(tree.state.flags & sre.SRE_FLAG_IGNORECASE))
    kept = sorted(((ord(c), n) for c, n in counts.items() if n >= 2 and ord(c) < 128), key=lambda cn: (-cn[1], cn[0]))
    return tuple(kept[:LEAST_COUNTS_KEPT])


def mandatory_run(pattern: str) -> tuple[bytes, int] | None:
    """(class members, n): every match holds n characters of one class in a row, the longest
    such run the pattern spells out outside any alternative or optional part; None when it
    has none of two or more. The engine skips the mask for a text without such a run: a
    message rarely holds seven hex digits in a row once ids are masked, so `hex` and
    `glued_hex` (sixteen) are skipped for most."""
    tree = sre_parse.parse(pattern)
    if tree.state.flags & sre.SRE_FLAG_IGNORECASE:
        return None
    best = None
    for op, arg in _mandatory_items(list(tree)):
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and arg[0] >= 2 and len(arg[2]) == 1 \
                and _is_char(arg[2][0][0]) and (best is None or arg[0] > best[1]):
            best = (_class_members(*arg[2][0]), arg[0])
    return best


def _mandatory_items(sequence):
    """The items of a parsed sequence every match goes through: its own, and those of the
    groups among them (without scoped flags, which could fold case)."""
    for op, arg in sequence:
        if op is sre.SUBPATTERN and not arg[1] and not arg[2]:
            yield from _mandatory_items(arg[3])
        else:
            yield op, arg


def _least(sequence, folded: bool) -> dict[str, int]:
    """How many times each character occurs at least in any match of the parsed sequence (a
    lower bound: what the walk cannot be sure of counts 0, never more)."""
    total: dict[str, int] = {}
    for op, arg in sequence:
        for char, n in _least_node(op, arg, folded).items():
            total[char] = total.get(char, 0) + n
    return total


def _least_node(op, arg, folded: bool) -> dict[str, int]:
    if op is sre.IN and len(arg) == 1:
        op, arg = arg[0]
    if op is sre.LITERAL:
        char = chr(arg)
        return {} if folded and char.lower() != char.upper() else {char: 1}
    if op is sre.SUBPATTERN:
        _, add, remove, body = arg
        return _least(body, (folded or bool(add & sre.SRE_FLAG_IGNORECASE)) and not remove & sre.SRE_FLAG_IGNORECASE)
    if op is sre.ATOMIC_GROUP:
        return _least(arg, folded)
    if op is sre.BRANCH:
        branches = [_least(branch, folded) for branch in arg[1]]
        return {c: min(b[c] for b in branches) for c in branches[0] if all(c in b for b in branches)}
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, _, body = arg
        return {c: n * low for c, n in _least(body, folded).items()} if low else {}
    return {}  # lookarounds, classes, anchors, back references: nothing certain


def _words(code: list[int]) -> bytes:
    import array

    return array.array("i", code).tobytes()


def _replacement(template: str) -> tuple:
    """The portable replacement (literal text, ``\\1``..``\\9``) as literals and group numbers."""
    parts: list[str | int] = []
    text = ""
    i = 0
    while i < len(template):
        char = template[i]
        if char == "\\":
            following = template[i + 1:i + 2]
            if not following.isdigit() or following == "0":
                raise UnsupportedPattern(f"replacement escape \\{following}")
            if text:
                parts.append(text)
                text = ""
            parts.append(int(following))
            i += 2
            continue
        text += char
        i += 1
    if text:
        parts.append(text)
    return tuple(parts)


def _narrow(classes: _Classes, first: int) -> bool:
    """Whether few characters can start a match: then scanning for them costs less than
    searching for the mask's guard and keywords, which the engine only pre-checks by character."""
    members = classes.table[first]
    return not members[128] and not members[ord(" ")] and sum(members) <= NARROW_FIRST


def _numeric(classes: _Classes, program: tuple) -> bool:
    """Whether every match starts with a digit or '-' (the engine then tries only those positions)."""
    first, anchored = program[2], program[3]
    if anchored:
        return False
    return all(not member or chr(code) in NUMERIC_START for code, member in enumerate(classes.table[first]))


def compile_table() -> tuple:
    """The rule table as the engine's constructor arguments."""
    classes = _Classes()
    steps = []
    for step in rules.STEPS:
        if isinstance(step, rules.Clip):
            steps.append((STEP_CLIP, step.head, step.tail))
        elif isinstance(step, rules.Truncate):
            steps.append((STEP_TRUNCATE, step.length, 0))
        elif step.pattern == TRIM_PATTERN and step.replacement == "":
            steps.append((STEP_TRIM, 0, 0))
        else:
            digits_only = bool(step.keywords) and set("".join(step.keywords)) == set(rules.DIGITS) and \
                all(k.isdigit() for k in step.keywords)
            keywords = () if digits_only else tuple(step.keywords)
            program = compile_pattern(step.pattern, classes)
            # Only a mask nothing else filters runs the check: behind a guard or keywords it cost
            # about what it saved (measured on the distinct corpus).
            run = None if step.guard or step.keywords else mandatory_run(step.pattern)
            steps.append((STEP_MASK, program, _replacement(step.replacement), step.guard, keywords, int(digits_only),
                          int(_narrow(classes, program[2])), int(_numeric(classes, program)),
                          least_counts(step.pattern), (classes.add(run[0]), run[1]) if run else (-1, 0)))
    kind = compile_pattern(rules.KIND_PATTERN, classes)
    return b"".join(classes.table), tuple(steps), kind, rules.KIND_DEFAULT


def stored_table() -> tuple:
    """compile_table(), kept between processes (table_cache.py) where a cache directory can be written."""
    from pathlib import Path

    from skillsmith_assets.normalize import table_cache
    from skillsmith_assets.paths import cache_dir

    directory = cache_dir()
    if directory is None:
        return compile_table()
    inputs = (rules.STEPS, rules.KIND_PATTERN, rules.KIND_DEFAULT, rules.DIGITS, TRIM_PATTERN)
    try:
        key = table_cache.table_key([Path(__file__)], inputs)
    except OSError:  # installed without its source: nothing to name the table by
        return compile_table()
    return table_cache.cached_table(key, compile_table, directory)


@lru_cache(maxsize=1)
def engine():
    """The compiled engine, or None when the extension is not built or the table is not supported."""
    if os.environ.get("SKILLSMITH_PURE_PYTHON"):
        return None
    try:
        from skillsmith_assets.normalize import _fastnorm
    except ImportError:
        return None
    try:
        return _fastnorm.Engine(*stored_table())
    except UnsupportedPattern as exc:  # a rule outside the dialect: the Python engine still runs it
        warnings.warn(f"compiled normalizer not used: {exc}", RuntimeWarning, stacklevel=2)
        return None


def normalize_indexed(messages: Sequence[str], workers: int) -> tuple[list[int], list[tuple[str, str]]]:
    """(per message the index of its (norm_error, kind) result, the distinct results), on
    ``workers`` threads: a million messages come to a few thousand results. One call into
    the engine per CHUNK messages; only their results are merged here."""
    native = engine()
    messages = messages if isinstance(messages, list) else list(messages)
    if len(messages) <= CHUNK:
        index, table = native.normalize_indexed(messages, workers)
        return memoryview(index).cast("i").tolist(), table
    index: list[int] = []
    table: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for start in range(0, len(messages), CHUNK):
        local_index, local_table = native.normalize_indexed(messages[start:start + CHUNK], workers)
        remap = []
        for result in local_table:
            at = seen.get(result)
            if at is None:
                at = seen[result] = len(table)
                table.append(result)
            remap.append(at)
        index.extend(map(remap.__getitem__, memoryview(local_index).cast("i")))
    return index, table
