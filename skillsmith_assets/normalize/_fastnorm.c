/* The compiled normalization engine: runs the rule table's programs (compiled by
 * native_normalize.py from re's own syntax tree) over UCS-4 text.
 *
 * The matcher is a backtracking machine with re's semantics: ordered
 * alternatives, greedy repeats backed off one step at a time, captures restored
 * on backtracking. A call's messages are normalized with the GIL released, on
 * threads of the call's own that take blocks of messages in turn, and only the
 * distinct results are copied back.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* memmem */
#include <Python.h>
#include <pythread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t ch;

enum { OP_CLASS = 1, OP_REPEAT, OP_SPLIT, OP_JMP, OP_SAVE, OP_BEHIND, OP_AHEAD, OP_BEGIN, OP_END, OP_MATCH };
enum { STEP_MASK = 0, STEP_CLIP, STEP_TRUNCATE, STEP_TRIM };
#define CLASS_SIZE 129
#define NUL_REPLACEMENT 0x2400
/* Bytes readable past the end of a text's byte copy: candidates are found 16 at a time. */
#define BYTES_PAD 16
/* A class of at most this many ranges of byte values is tested 16 characters at a time. */
#define MAX_RANGES 8

#if defined(__SSE2__)
#include <emmintrin.h>
#define BLOCKS 1
#else
#define BLOCKS 0
#endif

/* A class as ranges of byte values (nranges 0: too many, tested one character at a time). */
typedef struct {
    int nranges;
    uint8_t lo[MAX_RANGES][16], span[MAX_RANGES][16]; /* each byte repeated 16 times, for the vectors */
} Ranges;

typedef struct {
    int32_t *code;
    int nslots;
    int first;    /* class of the characters a match can start with */
    int anchored; /* starts with \A: only position 0 can match */
    int behind;   /* class of a leading lookbehind, -1: none */
    int behind_negative;
    uint32_t prefix[CLASS_SIZE]; /* per character, a bit for each offset 1..width-1 of a match that may hold it */
    int width;                   /* offsets the prefix covers (0: none) */
    Py_ssize_t shortest;         /* no match is shorter (counted up to the prefix's reach) */
} Prog;

typedef struct {
    int group; /* >= 0: a capture group; -1: literal text */
    ch *text;
    char *ascii;
    Py_ssize_t len;
} Part;

typedef struct {
    ch *text;
    Py_ssize_t len;
    char *ascii;      /* the same text as bytes (guards and keywords are ASCII) */
    uint64_t need[2]; /* the ASCII characters it holds, as bits */
    int letters;      /* whether it holds a letter (else case folding cannot change a match) */
} Str;

#define LEAST_KEPT 8 /* native.LEAST_COUNTS_KEPT */

typedef struct {
    int type;
    Prog prog;
    Part *parts;
    int nparts;
    Str guard;
    Str *keywords;
    int nkeywords;
    int digits;
    int narrow;  /* few characters can start a match: scanning is cheaper than searching for needles */
    int numeric; /* every match starts with a digit or '-': only those positions are tried */
    int run_class, run_min; /* every match holds run_min characters of that class in a row (-1: none) */
    int nleast;  /* characters every match holds several times: a text with fewer is skipped */
    uint8_t least_char[LEAST_KEPT];
    int least_min[LEAST_KEPT];
    Py_ssize_t a, b;
} Step;

typedef struct {
    PyObject_HEAD
    uint8_t *classes;
    Ranges *ranges; /* per class */
    Step *steps;
    int nsteps;
    Prog kind;
    Str kind_default;
} Engine;

/* ---- per-call working memory ------------------------------------------------------- */

enum { FRAME_BRANCH, FRAME_REPEAT };

#define RUNS_KEPT 4

typedef struct {
    int kind;
    int pc;
    Py_ssize_t pos, count, min, trail;
    const uint8_t *next; /* FRAME_REPEAT: the class the following character must be in, or NULL */
    int end_ok;          /* FRAME_REPEAT with next: whether the run may also stop at the end of the text */
} Frame;

typedef struct {
    int slot;
    Py_ssize_t old;
} Trail;

typedef struct {
    Frame *frames;
    Py_ssize_t nframes, capframes;
    Trail *trail;
    Py_ssize_t ntrail, captrail;
    Py_ssize_t slots[64];
    ch *text, *other;
    Py_ssize_t captext, capother;
    /* The text as bytes for substring tests (other characters become 0x80, which no needle
     * holds), as is and ASCII-lower-cased; made when first needed after the text changes. */
    char *bytes, *otherbytes, *lower;
    Py_ssize_t capbytes, capotherbytes, caplower;
    int bytes_valid, lower_valid;
    /* Positions of digits and '-', shared by the numeric masks until the text changes. */
    Py_ssize_t *numeric;
    Py_ssize_t nnumeric, capnumeric;
    int numeric_valid;
    /* How often each ASCII character occurs in the text ([128]: all others), kept up to date by
     * substitute() while counted is set: guards and keywords are checked against it. */
    int32_t counts[CLASS_SIZE];
    uint64_t present[2]; /* the ASCII characters with a non-zero count, as bits */
    int counted;
    /* The longest run of each class a mask asked about, until the text changes. */
    int run_class[RUNS_KEPT];
    Py_ssize_t run_len[RUNS_KEPT];
    int nruns;
    int failed; /* out of memory */
} Work;

static int grow(void **buf, Py_ssize_t *cap, Py_ssize_t need, size_t item) {
    if (need <= *cap) return 1;
    Py_ssize_t size = *cap ? *cap : 64;
    while (size < need) size *= 2;
    void *p = realloc(*buf, (size_t)size * item);
    if (!p) return 0;
    *buf = p;
    *cap = size;
    return 1;
}

static inline int in_class(const uint8_t *cls, ch c) { return c < 128 ? cls[c] : cls[128]; }

/* Whether a run may stop before position p: what follows it may start there. */
static inline int may_follow(const uint8_t *next, int end_ok, const ch *t, Py_ssize_t n, Py_ssize_t p) {
    return p < n ? in_class(next, t[p]) : end_ok;
}

static int push_frame(Work *w, int kind, int pc, Py_ssize_t pos, Py_ssize_t count, Py_ssize_t min,
                      const uint8_t *next, int end_ok) {
    if (!grow((void **)&w->frames, &w->capframes, w->nframes + 1, sizeof(Frame))) return 0;
    Frame *f = &w->frames[w->nframes++];
    f->kind = kind;
    f->pc = pc;
    f->pos = pos;
    f->count = count;
    f->min = min;
    f->next = next;
    f->end_ok = end_ok;
    f->trail = w->ntrail;
    return 1;
}

/* Match prog at start; on success the end is stored and w->slots hold the captures. */
static int run(const Engine *e, const Prog *p, const ch *t, Py_ssize_t n, Py_ssize_t start, Work *w,
               Py_ssize_t *end) {
    const int32_t *code = p->code;
    int pc = 0;
    Py_ssize_t pos = start;
    for (int i = 0; i < p->nslots; i++) w->slots[i] = -1;
    w->nframes = 0;
    w->ntrail = 0;
    for (;;) {
        switch (code[pc]) {
        case OP_CLASS:
            if (pos < n && in_class(e->classes + code[pc + 1] * CLASS_SIZE, t[pos])) {
                pos++;
                pc += 2;
                continue;
            }
            goto fail;
        case OP_REPEAT: {
            const uint8_t *cls = e->classes + code[pc + 1] * CLASS_SIZE;
            Py_ssize_t min = code[pc + 2], max = code[pc + 3];
            Py_ssize_t limit = (max < 0 || n - pos < max) ? n - pos : max;
            Py_ssize_t k = 0;
            while (k < limit && in_class(cls, t[pos + k])) k++;
            /* A run only stops where what follows it may start (what backing off would find). */
            const uint8_t *next = code[pc + 4] >= 0 ? e->classes + code[pc + 4] * CLASS_SIZE : NULL;
            int end_ok = code[pc + 5];
            if (next)
                while (k >= min && !may_follow(next, end_ok, t, n, pos + k)) k--;
            if (k < min) goto fail;
            if (k > min && !push_frame(w, FRAME_REPEAT, pc + 6, pos, k, min, next, end_ok)) goto oom;
            pos += k;
            pc += 6;
            continue;
        }
        case OP_SPLIT:
            if (code[code[pc + 1]] == OP_CLASS &&
                !(pos < n && in_class(e->classes + code[code[pc + 1] + 1] * CLASS_SIZE, t[pos]))) {
                pc = code[pc + 2]; /* the first way starts with a character that is not here */
                continue;
            }
            if (!push_frame(w, FRAME_BRANCH, code[pc + 2], pos, 0, 0, NULL, 0)) goto oom;
            pc = code[pc + 1];
            continue;
        case OP_JMP:
            pc = code[pc + 1];
            continue;
        case OP_SAVE: {
            int slot = code[pc + 1];
            if (!grow((void **)&w->trail, &w->captrail, w->ntrail + 1, sizeof(Trail))) goto oom;
            w->trail[w->ntrail].slot = slot;
            w->trail[w->ntrail].old = w->slots[slot];
            w->ntrail++;
            w->slots[slot] = pos;
            pc += 2;
            continue;
        }
        case OP_BEHIND: {
            int ok = pos > 0 && in_class(e->classes + code[pc + 1] * CLASS_SIZE, t[pos - 1]);
            if (ok == code[pc + 2]) goto fail; /* code[pc + 2]: negative lookbehind */
            pc += 3;
            continue;
        }
        case OP_AHEAD: {
            int ok = pos < n && in_class(e->classes + code[pc + 1] * CLASS_SIZE, t[pos]);
            if (ok == code[pc + 2]) goto fail;
            pc += 3;
            continue;
        }
        case OP_BEGIN:
            if (pos != 0) goto fail;
            pc++;
            continue;
        case OP_END:
            if (pos != n) goto fail;
            pc++;
            continue;
        case OP_MATCH:
            *end = pos;
            return 1;
        default:
            goto oom;
        }
    fail:
        if (w->nframes == 0) return 0;
        {
            Frame *f = &w->frames[w->nframes - 1];
            while (w->ntrail > f->trail) {
                w->ntrail--;
                w->slots[w->trail[w->ntrail].slot] = w->trail[w->ntrail].old;
            }
            pc = f->pc;
            if (f->kind == FRAME_BRANCH) {
                pos = f->pos;
                w->nframes--;
            } else {
                f->count--;
                if (f->next)
                    while (f->count >= f->min && !may_follow(f->next, f->end_ok, t, n, f->pos + f->count))
                        f->count--;
                if (f->count < f->min) {
                    w->nframes--;
                    goto fail;
                }
                pos = f->pos + f->count;
                if (f->count == f->min) w->nframes--;
            }
        }
    }
oom:
    w->failed = 1;
    return 0;
}

/* Leftmost match at or after `from`, like re.search(pattern, text, pos=from). */
/* Whether a match may start at s: its first character and its leading lookbehind allow it.
 * b: the text as bytes (every non-ASCII character is 0x80, the classes' last entry). */
static inline int may_start(const uint8_t *first, const uint8_t *behind, int negative, const uint8_t *b,
                            Py_ssize_t s) {
    if (!first[b[s]]) return 0;
    return !behind || (s > 0 && behind[b[s - 1]]) != negative;
}

/* Whether the characters after s may begin a match (s + p->width <= n): a cheap test that
 * spares most hopeless starts the program's run. */
static inline int prefix_ok(const Prog *p, const uint8_t *b, Py_ssize_t s) {
    for (int i = 1; i < p->width; i++)
        if (!((p->prefix[b[s + i]] >> i) & 1)) return 0;
    return 1;
}

#if BLOCKS
/* Bit i: whether b[i] (of 16) is in the class. */
static inline unsigned block_mask(const Ranges *r, __m128i bytes) {
    __m128i in = _mm_setzero_si128(), off;
#define RANGE(i)                                                                                            \
    off = _mm_sub_epi8(bytes, _mm_loadu_si128((const __m128i *)r->lo[i]));                                  \
    in = _mm_or_si128(in, _mm_cmpeq_epi8(_mm_min_epu8(off, _mm_loadu_si128((const __m128i *)r->span[i])), off))
    switch (r->nranges) { /* unrolled: falls through from the last range to the first */
    case 8: RANGE(7); /* fall through */
    case 7: RANGE(6); /* fall through */
    case 6: RANGE(5); /* fall through */
    case 5: RANGE(4); /* fall through */
    case 4: RANGE(3); /* fall through */
    case 3: RANGE(2); /* fall through */
    case 2: RANGE(1); /* fall through */
    default: RANGE(0);
    }
#undef RANGE
    return (unsigned)_mm_movemask_epi8(in);
}

/* search() for programs whose first class (and leading lookbehind's) are ranges: the
 * possible starts are found 16 at a time. b holds BYTES_PAD readable bytes past n. */
static int search_blocks(const Engine *e, const Prog *p, const ch *t, Py_ssize_t n, Py_ssize_t from, Work *w,
                         Py_ssize_t *mstart, Py_ssize_t *mend) {
    const uint8_t *b = (const uint8_t *)w->bytes;
    const Ranges *first = &e->ranges[p->first], *behind = p->behind >= 0 ? &e->ranges[p->behind] : NULL;
    const uint8_t *behind_table = behind ? e->classes + p->behind * CLASS_SIZE : NULL;
    Py_ssize_t last = n - p->shortest; /* the last start that leaves room for a match */
    /* whether the character before the block is in the lookbehind's class */
    unsigned before = behind && from > 0 && behind_table[b[from - 1]];
    for (Py_ssize_t s = from; s <= last; s += 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(b + s));
        unsigned starts = block_mask(first, bytes);
        if (behind) {
            if (!starts) { /* the lookbehind's class is only worked out where a start is possible */
                before = behind_table[b[s + 15]];
                continue;
            }
            unsigned in = block_mask(behind, bytes), prev = ((in << 1) | before) & 0xffff;
            before = in >> 15;
            starts &= p->behind_negative ? ~prev : prev;
        }
        if (last - s < 15) starts &= (1u << (last - s + 1)) - 1;
        while (starts) {
            Py_ssize_t at = s + __builtin_ctz(starts);
            starts &= starts - 1;
            if (!prefix_ok(p, b, at)) continue;
            if (run(e, p, t, n, at, w, mend)) {
                *mstart = at;
                return 1;
            }
            if (w->failed) return 0;
        }
    }
    return 0;
}
#endif

/* Leftmost match at or after `from`, like re.search(pattern, text, pos=from). */
static int search(const Engine *e, const Prog *p, const ch *t, Py_ssize_t n, Py_ssize_t from, Work *w,
                  Py_ssize_t *mstart, Py_ssize_t *mend) {
    if (p->anchored) {
        if (from > 0) return 0;
        *mstart = 0;
        return run(e, p, t, n, 0, w, mend);
    }
#if BLOCKS
    if (e->ranges[p->first].nranges && (p->behind < 0 || e->ranges[p->behind].nranges))
        return search_blocks(e, p, t, n, from, w, mstart, mend);
#endif
    const uint8_t *first = e->classes + p->first * CLASS_SIZE, *b = (const uint8_t *)w->bytes;
    const uint8_t *behind = p->behind >= 0 ? e->classes + p->behind * CLASS_SIZE : NULL;
    for (Py_ssize_t s = from; s <= n - p->shortest; s++) { /* programs never match the empty string */
        if (!first[b[s]]) continue;
        if (behind && (s > 0 && behind[b[s - 1]]) == p->behind_negative) continue;
        if (!prefix_ok(p, b, s)) continue;
        if (run(e, p, t, n, s, w, mend)) {
            *mstart = s;
            return 1;
        }
        if (w->failed) return 0;
    }
    return 0;
}

/* search() over the numeric positions only; *cursor: the first candidate not yet tried. */
static int search_numeric(const Engine *e, const Prog *p, const ch *t, Py_ssize_t n, Py_ssize_t from, Work *w,
                          Py_ssize_t *cursor, Py_ssize_t *mstart, Py_ssize_t *mend) {
    const uint8_t *first = e->classes + p->first * CLASS_SIZE, *b = (const uint8_t *)w->bytes;
    const uint8_t *behind = p->behind >= 0 ? e->classes + p->behind * CLASS_SIZE : NULL;
    for (Py_ssize_t i = *cursor; i < w->nnumeric; i++) {
        Py_ssize_t s = w->numeric[i];
        if (s > n - p->shortest) break;
        if (s < from || !may_start(first, behind, p->behind_negative, b, s) || !prefix_ok(p, b, s)) continue;
        if (run(e, p, t, n, s, w, mend)) {
            *mstart = s;
            *cursor = i + 1;
            return 1;
        }
        if (w->failed) return 0;
    }
    *cursor = w->nnumeric;
    return 0;
}

/* The positions of digits and '-', from the byte copy (which must be made). */
static int find_numeric(Work *w, Py_ssize_t n) {
    const uint8_t *b = (const uint8_t *)w->bytes;
    if (!grow((void **)&w->numeric, &w->capnumeric, n + 1, sizeof(Py_ssize_t))) return 0;
    Py_ssize_t found = 0, i = 0;
#if BLOCKS
    for (; i + 16 <= n; i += 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(b + i));
        __m128i off = _mm_sub_epi8(bytes, _mm_set1_epi8('0'));
        __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(off, _mm_set1_epi8(9)), off);
        unsigned hits = (unsigned)_mm_movemask_epi8(_mm_or_si128(digit, _mm_cmpeq_epi8(bytes, _mm_set1_epi8('-'))));
        for (; hits; hits &= hits - 1) w->numeric[found++] = i + __builtin_ctz(hits);
    }
#endif
    for (; i < n; i++)
        if ((b[i] >= '0' && b[i] <= '9') || b[i] == '-') w->numeric[found++] = i;
    w->nnumeric = found;
    w->numeric_valid = 1;
    return 1;
}

static inline void set_bit(uint64_t *bits, unsigned c, int on) {
    if (on) bits[c / 64] |= (uint64_t)1 << (c % 64);
    else bits[c / 64] &= ~((uint64_t)1 << (c % 64));
}

static inline void count(Work *w, ch c) {
    if (c >= 128) w->counts[128]++;
    else if (w->counts[c]++ == 0) set_bit(w->present, c, 1);
}

static inline void uncount(Work *w, ch c) {
    if (c >= 128) w->counts[128]--;
    else if (--w->counts[c] == 0) set_bit(w->present, c, 0);
}

/* 'A'..'Z' are bits 1..26 of the upper word, 'a'..'z' bits 33..58. */
#define UPPER_LETTERS ((((uint64_t)1 << 26) - 1) << 1)

static int make_lower(Work *w, Py_ssize_t n);

/* The text as bytes: ASCII as is, every other character 0x80. */
static void to_bytes(const ch *t, Py_ssize_t n, uint8_t *b) {
    Py_ssize_t i = 0;
#if BLOCKS
    const __m128i top = _mm_set1_epi8((char)0x80);
    for (; i + 16 <= n; i += 16) { /* saturating packs: 32 -> 16 -> 8 bits, then anything above 0x80 is 0x80 */
        __m128i low = _mm_packs_epi32(_mm_loadu_si128((const __m128i *)(t + i)),
                                      _mm_loadu_si128((const __m128i *)(t + i + 4)));
        __m128i high = _mm_packs_epi32(_mm_loadu_si128((const __m128i *)(t + i + 8)),
                                       _mm_loadu_si128((const __m128i *)(t + i + 12)));
        _mm_storeu_si128((__m128i *)(b + i), _mm_min_epu8(_mm_packus_epi16(low, high), top));
    }
#endif
    for (; i < n; i++) b[i] = (uint8_t)(t[i] >= 128 ? 0x80 : t[i]);
}

/* b with ASCII letters lower-cased. */
static void fold_bytes(const uint8_t *b, Py_ssize_t n, uint8_t *out) {
    Py_ssize_t i = 0;
#if BLOCKS
    for (; i + 16 <= n; i += 16) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(b + i));
        __m128i off = _mm_sub_epi8(bytes, _mm_set1_epi8('A'));
        __m128i upper = _mm_cmpeq_epi8(_mm_min_epu8(off, _mm_set1_epi8(25)), off);
        _mm_storeu_si128((__m128i *)(out + i), _mm_or_si128(bytes, _mm_and_si128(upper, _mm_set1_epi8(0x20))));
    }
#endif
    for (; i < n; i++) out[i] = (uint8_t)(b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i]);
}

/* w->bytes made for the current text: search() reads classes off it. */
static int ensure_bytes(Work *w, Py_ssize_t n) {
    if (!w->bytes_valid) {
        if (!grow((void **)&w->bytes, &w->capbytes, n + BYTES_PAD, 1)) return 0;
        to_bytes(w->text, n, (uint8_t *)w->bytes);
        w->bytes_valid = 1;
    }
    return 1;
}

/* Whether needle (m >= 2 bytes) occurs in hay[0:n], which has BYTES_PAD readable bytes past n. */
static int find(const char *hay, Py_ssize_t n, const char *needle, Py_ssize_t m) {
#if BLOCKS
    Py_ssize_t last = n - m; /* the last place it may start */
    const __m128i first = _mm_set1_epi8(needle[0]), second = _mm_set1_epi8(needle[1]);
    for (Py_ssize_t s = 0; s <= last; s += 16) { /* places where its first two bytes are, 16 at a time */
        __m128i here = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(hay + s)), first);
        __m128i next = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(hay + s + 1)), second);
        unsigned hits = (unsigned)_mm_movemask_epi8(_mm_and_si128(here, next));
        if (last - s < 15) hits &= (1u << (last - s + 1)) - 1;
        for (; hits; hits &= hits - 1)
            if (memcmp(hay + s + __builtin_ctz(hits) + 2, needle + 2, (size_t)(m - 2)) == 0) return 1;
    }
    return 0;
#else
    return memmem(hay, (size_t)n, needle, (size_t)m) != NULL;
#endif
}

/* Whether the text holds every character of needle (in either case for letters when folded). */
static inline int has_chars(const Work *w, const Str *needle, int folded) {
    uint64_t high = folded ? w->present[1] | ((w->present[1] & UPPER_LETTERS) << 32) : w->present[1];
    return !((needle->need[0] & ~w->present[0]) | (needle->need[1] & ~high));
}

/* Substring test of an ASCII needle; the character counts make absent or one-character
 * needles cost nothing. folded: the needle is lower-case and the text is compared folded.
 * shallow: only the counts are consulted (a "yes" may be wrong, a "no" never is). */
static int contains(Work *w, Py_ssize_t n, const Str *needle, int folded, int shallow) {
    Py_ssize_t m = needle->len;
    if (m == 0) return 1;
    if (m > n || !has_chars(w, needle, folded)) return 0;
    if (m == 1 || shallow) return 1;
    folded = folded && needle->letters;
    if (folded ? !w->lower_valid && !make_lower(w, n) : !ensure_bytes(w, n)) {
        w->failed = 1;
        return 0;
    }
    return find(folded ? w->lower : w->bytes, n, needle->ascii, m);
}

static int make_lower(Work *w, Py_ssize_t n) {
    if (!ensure_bytes(w, n) || !grow((void **)&w->lower, &w->caplower, n + BYTES_PAD, 1)) return 0;
    fold_bytes((const uint8_t *)w->bytes, n, (uint8_t *)w->lower);
    w->lower_valid = 1;
    return 1;
}

/* Replace every match of step's program in w->text[0:*n]; the result becomes w->text. */
/* Append text (and its byte copy) to the replacement being built in w->other / w->otherbytes. */
static inline void append(Work *w, Py_ssize_t *out, const ch *text, const char *bytes, Py_ssize_t len) {
    memcpy(w->other + *out, text, (size_t)len * sizeof(ch));
    memcpy(w->otherbytes + *out, bytes, (size_t)len);
    *out += len;
}

/* Replace every match of step's program in w->text[0:*n]; the result becomes w->text, and
 * its byte copy and character counts are kept up to date on the way. */
static void substitute(const Engine *e, const Step *step, Work *w, Py_ssize_t *n) {
    Py_ssize_t at = 0, out = 0, mstart, mend, len = *n, cursor = 0;
    int changed = 0;
    if (!ensure_bytes(w, len) || (step->numeric && !w->numeric_valid && !find_numeric(w, len))) {
        w->failed = 1;
        return;
    }
    while (at < len && (step->numeric ? search_numeric(e, &step->prog, w->text, len, at, w, &cursor, &mstart, &mend)
                                      : search(e, &step->prog, w->text, len, at, w, &mstart, &mend))) {
        Py_ssize_t need = out + (mstart - at);
        for (int i = 0; i < step->nparts; i++) {
            const Part *part = &step->parts[i];
            if (part->group < 0) need += part->len;
            else if (w->slots[2 * part->group] >= 0 && w->slots[2 * part->group + 1] >= 0)
                need += w->slots[2 * part->group + 1] - w->slots[2 * part->group];
        }
        if (!grow((void **)&w->other, &w->capother, need + 1, sizeof(ch)) ||
            !grow((void **)&w->otherbytes, &w->capotherbytes, need + BYTES_PAD, 1)) {
            w->failed = 1;
            return;
        }
        append(w, &out, w->text + at, w->bytes + at, mstart - at);
        Py_ssize_t inserted = out;
        for (Py_ssize_t i = mstart; i < mend; i++) uncount(w, w->text[i]);
        for (int i = 0; i < step->nparts; i++) {
            const Part *part = &step->parts[i];
            if (part->group < 0) {
                append(w, &out, part->text, part->ascii, part->len);
            } else {
                Py_ssize_t gs = w->slots[2 * part->group], ge = w->slots[2 * part->group + 1];
                if (gs >= 0 && ge >= 0) append(w, &out, w->text + gs, w->bytes + gs, ge - gs);
            }
        }
        for (Py_ssize_t i = inserted; i < out; i++) count(w, w->other[i]);
        at = mend;
        changed = 1;
    }
    if (w->failed || !changed) return;
    if (!grow((void **)&w->other, &w->capother, out + (len - at) + 1, sizeof(ch)) ||
        !grow((void **)&w->otherbytes, &w->capotherbytes, out + (len - at) + BYTES_PAD, 1)) {
        w->failed = 1;
        return;
    }
    append(w, &out, w->text + at, w->bytes + at, len - at);
    ch *swap = w->text;
    Py_ssize_t swapcap = w->captext;
    w->text = w->other;
    w->captext = w->capother;
    w->other = swap;
    w->capother = swapcap;
    char *swapbytes = w->bytes;
    swapcap = w->capbytes;
    w->bytes = w->otherbytes;
    w->capbytes = w->capotherbytes;
    w->otherbytes = swapbytes;
    w->capotherbytes = swapcap;
    *n = out;
}

/* The counts and present bits of the text, from its bytes (every non-ASCII character is 0x80). */
static void count_chars(Work *w, Py_ssize_t n) {
    const uint8_t *b = (const uint8_t *)w->bytes;
    memset(w->counts, 0, sizeof(w->counts));
    for (Py_ssize_t i = 0; i < n; i++) w->counts[b[i]]++;
    uint64_t bits[2] = {0, 0};
    int c = 0;
#if BLOCKS
    for (; c < 128; c += 4) { /* four counts at a time: one bit each for "none" */
        __m128i none = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(w->counts + c)), _mm_setzero_si128());
        bits[c / 64] |= (uint64_t)(~_mm_movemask_ps(_mm_castsi128_ps(none)) & 15) << (c % 64);
    }
#endif
    for (; c < 128; c++) bits[c / 64] |= (uint64_t)(w->counts[c] != 0) << (c % 64);
    w->present[0] = bits[0];
    w->present[1] = bits[1];
}

static int any_digit(const Work *w) { return (w->present[0] & ((uint64_t)0x3ff << '0')) != 0; }

/* The text changed: what was derived from it must be made again. */
static inline void changed(Work *w) {
    w->counted = w->bytes_valid = w->lower_valid = w->numeric_valid = w->nruns = 0;
}

/* The longest run of class k's characters in b[0:n] (b holds BYTES_PAD readable bytes past n). */
static Py_ssize_t longest_run(const Engine *e, int k, const uint8_t *b, Py_ssize_t n) {
    Py_ssize_t longest = 0, carry = 0, i = 0; /* carry: the run reaching the end of what was read */
#if BLOCKS
    const Ranges *r = &e->ranges[k];
    if (r->nranges) { /* 16 at a time */
        for (; i < n; i += 16) {
            unsigned m = block_mask(r, _mm_loadu_si128((const __m128i *)(b + i)));
            if (n - i < 16) m &= (1u << (n - i)) - 1;
            if (m == 0xFFFF) {
                carry += 16;
                continue;
            }
            Py_ssize_t head = __builtin_ctz(~m); /* the carried run ends at the first byte outside */
            if (carry + head > longest) longest = carry + head;
            if (__builtin_popcount(m) > longest) /* a longer run inside: its length, one shift a character */
                for (unsigned x = m, inner = 0; x; inner++) {
                    x &= x >> 1;
                    if (!x && (Py_ssize_t)inner + 1 > longest) longest = inner + 1;
                }
            carry = __builtin_clz(~(m << 16)); /* the run at the block's end */
        }
        return longest > carry ? longest : carry;
    }
#endif
    const uint8_t *cls = e->classes + (size_t)k * CLASS_SIZE;
    for (; i < n; i++) { /* a byte is ASCII, or 0x80 for any other character: cls[128] */
        carry = cls[b[i]] ? carry + 1 : 0;
        if (carry > longest) longest = carry;
    }
    return longest;
}

/* Whether the text holds `min` characters of class `k` in a row; the longest run of the class
 * is kept until the text changes (hex and glued_hex ask about the same class in turn). */
static int has_run(const Engine *e, Work *w, Py_ssize_t n, int k, int min) {
    for (int i = 0; i < w->nruns; i++)
        if (w->run_class[i] == k) return w->run_len[i] >= min;
    Py_ssize_t longest = longest_run(e, k, (const uint8_t *)w->bytes, n);
    if (w->nruns < RUNS_KEPT) {
        w->run_class[w->nruns] = k;
        w->run_len[w->nruns++] = longest;
    }
    return longest >= min;
}

/* Whether the text holds one of the step's keywords (in either case). */
static int any_keyword(const Step *step, Work *w, Py_ssize_t len) {
    for (int k = 0; k < step->nkeywords; k++) /* most keywords miss a character: that test is inline */
        if (has_chars(w, &step->keywords[k], 1) && contains(w, len, &step->keywords[k], 1, step->narrow)) return 1;
    return 0;
}

/* Whether a mask's least counts, guard, keywords and run allow a match (all exact: a skipped
 * mask cannot match). */
static int may_match(const Engine *e, const Step *step, Work *w, Py_ssize_t len) {
    if (!w->counted) {
        if (!ensure_bytes(w, len)) {
            w->failed = 1;
            return 0;
        }
        count_chars(w, len);
        w->counted = 1;
    }
    for (int i = 0; i < step->nleast; i++)
        if (w->counts[step->least_char[i]] < step->least_min[i]) return 0;
    if (step->guard.len && !contains(w, len, &step->guard, 0, step->narrow)) return 0;
    if (step->digits ? !any_digit(w) : step->nkeywords && !any_keyword(step, w, len)) return 0;
    return step->run_class < 0 || has_run(e, w, len, step->run_class, step->run_min);
}

/* Normalize w->text[0:*n] in place (w->text may be swapped); mirrors normalize_error_message. */
static void normalize_text(const Engine *e, Work *w, Py_ssize_t *n) {
    Py_ssize_t len = *n, i = 0;
    changed(w);
#if BLOCKS
    for (; i + 4 <= len; i += 4) /* most texts hold no NUL: looked for four characters at a time */
        if (_mm_movemask_epi8(_mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(w->text + i)), _mm_setzero_si128())))
            break;
#endif
    for (; i < len; i++)
        if (w->text[i] == 0) w->text[i] = NUL_REPLACEMENT;
    for (int s = 0; s < e->nsteps && !w->failed; s++) {
        const Step *step = &e->steps[s];
        switch (step->type) {
        case STEP_CLIP:
            if (len > step->a + step->b) {
                w->text[step->a] = '\n';
                memmove(w->text + step->a + 1, w->text + len - step->b, (size_t)step->b * sizeof(ch));
                len = step->a + 1 + step->b;
                changed(w);
            }
            break;
        case STEP_TRUNCATE:
            if (len > step->a) {
                len = step->a;
                changed(w);
            }
            break;
        case STEP_TRIM:
            if (len > 0 && w->text[0] == ' ') {
                memmove(w->text, w->text + 1, (size_t)(len - 1) * sizeof(ch));
                len--;
            }
            if (len > 0 && w->text[len - 1] == ' ') len--;
            changed(w);
            break;
        default: {
            if (!may_match(e, step, w, len)) break;
            Py_ssize_t before = len;
            ch *before_text = w->text;
            substitute(e, step, w, &len);
            if (w->text != before_text || len != before) /* the counts and bytes follow the text */
                w->lower_valid = w->numeric_valid = w->nruns = 0;
        }
        }
    }
    *n = len;
}

/* ---- construction ---------------------------------------------------------------------- */

static int to_str(PyObject *obj, Str *out) {
    if (!PyUnicode_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "expected str");
        return 0;
    }
    out->len = PyUnicode_GET_LENGTH(obj);
    out->text = PyMem_Malloc((size_t)(out->len + 1) * sizeof(ch));
    if (!out->text) {
        PyErr_NoMemory();
        return 0;
    }
    if (out->len && !PyUnicode_AsUCS4(obj, out->text, out->len, 0)) return 0;
    out->ascii = PyMem_Malloc((size_t)out->len + 1);
    if (!out->ascii) {
        PyErr_NoMemory();
        return 0;
    }
    out->need[0] = out->need[1] = 0;
    out->letters = 0;
    for (Py_ssize_t i = 0; i < out->len; i++) {
        if (out->text[i] >= 128) {
            PyErr_SetString(PyExc_ValueError, "guards and keywords are ASCII");
            return 0;
        }
        out->ascii[i] = (char)out->text[i];
        set_bit(out->need, out->text[i], 1);
        out->letters |= (out->text[i] | 0x20) >= 'a' && (out->text[i] | 0x20) <= 'z';
    }
    return 1;
}

static int to_prog(PyObject *tuple, Prog *prog) {
    PyObject *code;
    Py_buffer view, prefix;
    if (!PyArg_ParseTuple(tuple, "Oiiiiiy*in", &code, &prog->nslots, &prog->first, &prog->anchored, &prog->behind,
                          &prog->behind_negative, &prefix, &prog->width, &prog->shortest))
        return 0;
    int prefix_fits = prefix.len == (Py_ssize_t)sizeof(prog->prefix);
    if (prefix_fits) memcpy(prog->prefix, prefix.buf, sizeof(prog->prefix));
    PyBuffer_Release(&prefix);
    if (!prefix_fits || prog->width < 0 || prog->width > 32 || prog->shortest < prog->width) {
        PyErr_SetString(PyExc_ValueError, "prefix table");
        return 0;
    }
    if (prog->nslots > 64) {
        PyErr_SetString(PyExc_ValueError, "too many capture groups");
        return 0;
    }
    if (PyObject_GetBuffer(code, &view, PyBUF_SIMPLE) < 0) return 0;
    prog->code = PyMem_Malloc((size_t)view.len + sizeof(int32_t));
    if (!prog->code) {
        PyBuffer_Release(&view);
        PyErr_NoMemory();
        return 0;
    }
    memcpy(prog->code, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return 1;
}

static int to_step(PyObject *tuple, Step *step) {
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) < 3) {
        PyErr_SetString(PyExc_TypeError, "a step is a tuple");
        return 0;
    }
    step->type = (int)PyLong_AsLong(PyTuple_GET_ITEM(tuple, 0));
    if (step->type != STEP_MASK) {
        step->a = PyLong_AsSsize_t(PyTuple_GET_ITEM(tuple, 1));
        step->b = PyLong_AsSsize_t(PyTuple_GET_ITEM(tuple, 2));
        return !PyErr_Occurred();
    }
    PyObject *prog, *parts, *guard, *keywords, *least;
    int type;
    if (!PyArg_ParseTuple(tuple, "iOO!UO!iiiO!(ii)", &type, &prog, &PyTuple_Type, &parts, &guard, &PyTuple_Type,
                          &keywords, &step->digits, &step->narrow, &step->numeric, &PyTuple_Type, &least,
                          &step->run_class, &step->run_min))
        return 0;
    if (PyTuple_GET_SIZE(least) > LEAST_KEPT) {
        PyErr_SetString(PyExc_ValueError, "more least counts than a step keeps");
        return 0;
    }
    step->nleast = (int)PyTuple_GET_SIZE(least);
    for (int i = 0; i < step->nleast; i++) {
        int c;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(least, i), "ii", &c, &step->least_min[i])) return 0;
        if (c < 0 || c >= 128) {
            PyErr_SetString(PyExc_ValueError, "a least count's character is ASCII");
            return 0;
        }
        step->least_char[i] = (uint8_t)c;
    }
    if (!to_prog(prog, &step->prog) || !to_str(guard, &step->guard)) return 0;
    step->nparts = (int)PyTuple_GET_SIZE(parts);
    step->parts = PyMem_Calloc((size_t)step->nparts + 1, sizeof(Part));
    step->nkeywords = (int)PyTuple_GET_SIZE(keywords);
    step->keywords = PyMem_Calloc((size_t)step->nkeywords + 1, sizeof(Str));
    if (!step->parts || !step->keywords) {
        PyErr_NoMemory();
        return 0;
    }
    for (int i = 0; i < step->nparts; i++) {
        PyObject *part = PyTuple_GET_ITEM(parts, i);
        if (PyLong_Check(part)) {
            step->parts[i].group = (int)PyLong_AsLong(part);
            if (2 * step->parts[i].group + 1 >= step->prog.nslots) {
                PyErr_SetString(PyExc_ValueError, "replacement refers to a missing group");
                return 0;
            }
        } else {
            step->parts[i].group = -1;
            Str s;
            if (!to_str(part, &s)) return 0;
            step->parts[i].text = s.text;
            step->parts[i].ascii = s.ascii;
            step->parts[i].len = s.len;
        }
    }
    for (int i = 0; i < step->nkeywords; i++)
        if (!to_str(PyTuple_GET_ITEM(keywords, i), &step->keywords[i])) return 0;
    return 1;
}

static void Engine_dealloc(Engine *self) {
    for (int s = 0; s < self->nsteps; s++) {
        Step *step = &self->steps[s];
        PyMem_Free(step->prog.code);
        PyMem_Free(step->guard.text);
        PyMem_Free(step->guard.ascii);
        for (int i = 0; step->parts && i < step->nparts; i++) {
            PyMem_Free(step->parts[i].text);
            PyMem_Free(step->parts[i].ascii);
        }
        PyMem_Free(step->parts);
        for (int i = 0; step->keywords && i < step->nkeywords; i++) {
            PyMem_Free(step->keywords[i].text);
            PyMem_Free(step->keywords[i].ascii);
        }
        PyMem_Free(step->keywords);
    }
    PyMem_Free(self->steps);
    PyMem_Free(self->classes);
    PyMem_Free(self->ranges);
    PyMem_Free(self->kind.code);
    PyMem_Free(self->kind_default.text);
    PyMem_Free(self->kind_default.ascii);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Each class as ranges of byte values, where it has few enough. */
static int make_ranges(Engine *self, Py_ssize_t nclasses) {
    self->ranges = PyMem_Calloc((size_t)nclasses + 1, sizeof(Ranges));
    if (!self->ranges) {
        PyErr_NoMemory();
        return 0;
    }
    for (Py_ssize_t k = 0; k < nclasses; k++) {
        const uint8_t *members = self->classes + k * CLASS_SIZE;
        Ranges *r = &self->ranges[k];
        for (int c = 0; c < CLASS_SIZE; c++) {
            if (!members[c] || (c > 0 && members[c - 1])) continue;
            int end = c;
            while (end + 1 < CLASS_SIZE && members[end + 1]) end++;
            if (r->nranges == MAX_RANGES) {
                r->nranges = 0;
                break;
            }
            memset(r->lo[r->nranges], c, 16);
            memset(r->span[r->nranges], end - c, 16);
            r->nranges++;
        }
    }
    return 1;
}

static int Engine_init(Engine *self, PyObject *args, PyObject *Py_UNUSED(kwds)) {
    Py_buffer classes;
    PyObject *steps, *kind, *kind_default;
    if (self->steps) {
        PyErr_SetString(PyExc_RuntimeError, "an Engine is initialised once");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "y*O!O!U", &classes, &PyTuple_Type, &steps, &PyTuple_Type, &kind, &kind_default))
        return -1;
    if (classes.len % CLASS_SIZE) {
        PyBuffer_Release(&classes);
        PyErr_SetString(PyExc_ValueError, "class table size");
        return -1;
    }
    self->classes = PyMem_Malloc((size_t)classes.len + 1);
    if (!self->classes) {
        PyBuffer_Release(&classes);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(self->classes, classes.buf, (size_t)classes.len);
    PyBuffer_Release(&classes);
    if (!make_ranges(self, classes.len / CLASS_SIZE)) return -1;
    self->nsteps = (int)PyTuple_GET_SIZE(steps);
    self->steps = PyMem_Calloc((size_t)self->nsteps + 1, sizeof(Step));
    if (!self->steps) {
        PyErr_NoMemory();
        return -1;
    }
    for (int s = 0; s < self->nsteps; s++) {
        if (!to_step(PyTuple_GET_ITEM(steps, s), &self->steps[s])) return -1;
        const Step *step = &self->steps[s];
        if (step->type == STEP_MASK && (step->run_class < -1 || step->run_class >= classes.len / CLASS_SIZE)) {
            PyErr_SetString(PyExc_ValueError, "a run's class is not in the class table");
            return -1;
        }
    }
    if (!to_prog(kind, &self->kind) || !to_str(kind_default, &self->kind_default)) return -1;
    return 0;
}

/* ---- normalize(messages) -> [(norm_error, kind), ...] ----------------------------------- */

typedef struct {
    Py_ssize_t start, len;           /* the normalized text: its byte offset in the arena, its characters */
    int wide;                        /* stored as UCS-4; else one byte a character (all below 256) */
    Py_ssize_t kind_start, kind_len; /* kind_start < 0: the default kind */
    uint64_t hash;
} Result;

/* One worker's distinct results: many messages normalize to the same text. */
typedef struct {
    Result *results;
    Py_ssize_t nresults, capresults;
    int32_t *slots; /* open addressing: result index + 1, 0 = empty */
    Py_ssize_t nslots;
    uint8_t *arena; /* the results' texts, most of them one byte a character */
    Py_ssize_t arena_len, arena_cap;
} Batch;

/* FNV-1a over pairs of characters, then mixed: the table's slots take the low bits. */
static uint64_t hash_text(const ch *t, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)n;
    Py_ssize_t i = 0;
    for (; i + 2 <= n; i += 2) h = (h ^ (t[i] | (uint64_t)t[i + 1] << 32)) * 1099511628211ULL;
    if (i < n) h = (h ^ t[i]) * 1099511628211ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static int rehash(Batch *b) {
    Py_ssize_t nslots = b->nslots ? b->nslots * 2 : 1024;
    int32_t *slots = calloc((size_t)nslots, sizeof(int32_t));
    if (!slots) return 0;
    for (Py_ssize_t r = 0; r < b->nresults; r++) {
        Py_ssize_t at = (Py_ssize_t)(b->results[r].hash & (uint64_t)(nslots - 1));
        while (slots[at]) at = (at + 1) & (nslots - 1);
        slots[at] = (int32_t)(r + 1);
    }
    free(b->slots);
    b->slots = slots;
    b->nslots = nslots;
    return 1;
}

/* Whether a stored text is t[0:n] (the lengths are equal). A text stored one byte a
 * character differs from any t holding a wider character, so t's width is not needed. */
static int stored_is(const Batch *b, const Result *r, const ch *t, Py_ssize_t n) {
    if (r->wide) return memcmp(b->arena + r->start, t, (size_t)n * sizeof(ch)) == 0;
    const uint8_t *p = b->arena + r->start;
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] != t[i]) return 0;
    return 1;
}

/* Whether two stored texts (of the same length) are equal. */
static int same_stored(const Batch *a, const Result *ra, const Batch *b, const Result *rb) {
    return ra->wide == rb->wide &&
           memcmp(a->arena + ra->start, b->arena + rb->start, (size_t)ra->len * (ra->wide ? sizeof(ch) : 1)) == 0;
}

/* The index of the result for text t (normalized), adding it when new; -1: out of memory. */
static Py_ssize_t intern_result(const Engine *e, Batch *b, Work *w, const ch *t, Py_ssize_t n) {
    uint64_t h = hash_text(t, n);
    if ((b->nresults + 1) * 2 > b->nslots && !rehash(b)) return -1;
    Py_ssize_t at = (Py_ssize_t)(h & (uint64_t)(b->nslots - 1));
    while (b->slots[at]) {
        const Result *r = &b->results[b->slots[at] - 1];
        if (r->hash == h && r->len == n && stored_is(b, r, t, n))
            return b->slots[at] - 1;
        at = (at + 1) & (b->nslots - 1);
    }
    ch widest = 0; /* a new result: stored one byte a character unless a character needs more */
    for (Py_ssize_t i = 0; i < n; i++) widest |= t[i];
    int wide = widest >= 256;
    if (!grow((void **)&b->results, &b->capresults, b->nresults + 1, sizeof(Result)) ||
        !grow((void **)&b->arena, &b->arena_cap, b->arena_len + (n + 1) * (Py_ssize_t)sizeof(ch), 1) ||
        !ensure_bytes(w, n))
        return -1;
    Result *r = &b->results[b->nresults];
    Py_ssize_t kstart, kend;
    r->kind_start = -1;
    r->kind_len = 0;
    if (search(e, &e->kind, t, n, 0, w, &kstart, &kend) && w->slots[2] >= 0 && w->slots[3] >= 0) {
        r->kind_start = w->slots[2];
        r->kind_len = w->slots[3] - w->slots[2];
    }
    if (wide) {
        b->arena_len = (b->arena_len + sizeof(ch) - 1) / sizeof(ch) * sizeof(ch); /* aligned */
        memcpy(b->arena + b->arena_len, t, (size_t)n * sizeof(ch));
    } else {
        for (Py_ssize_t i = 0; i < n; i++) b->arena[b->arena_len + i] = (uint8_t)t[i];
    }
    r->start = b->arena_len;
    r->len = n;
    r->hash = h;
    r->wide = wide;
    b->arena_len += wide ? n * (Py_ssize_t)sizeof(ch) : n;
    b->slots[at] = (int32_t)(b->nresults + 1);
    return b->nresults++;
}

static void free_batch(Batch *b) {
    free(b->results);
    free(b->slots);
    free(b->arena);
}

static void free_work(Work *w) {
    free(w->frames);
    free(w->trail);
    free(w->text);
    free(w->other);
    free(w->bytes);
    free(w->otherbytes);
    free(w->numeric);
    free(w->lower);
}

/* Messages a thread takes at a time: threads take blocks in turn, so a run of long messages
 * does not leave the others idle, and results stay in order of first use (merge_workers). */
#define BLOCK 64
#define MAX_THREADS 16

typedef struct Shared Shared;

/* One thread's share of a call: its own working memory and its own distinct results. */
typedef struct {
    Shared *shared;
    int id;
    Batch batch;
    Work w;
    PyThread_type_lock done; /* released when the thread has no block left to take */
} Worker;

struct Shared {
    const Engine *e;
    PyObject **messages; /* the list's str objects: immutable, and the list keeps them alive */
    Py_ssize_t count;
    Py_ssize_t next;  /* the next block to take, taken atomically */
    int32_t *local;   /* per message: its result in its worker's batch */
    uint8_t *owner;   /* per block: the worker that normalized it */
};

/* The characters of a str as UCS-4; reads only the object's immutable data (no GIL needed). */
static void copy_text(PyObject *m, ch *out, Py_ssize_t len) {
    const void *data = PyUnicode_DATA(m);
    switch (PyUnicode_KIND(m)) {
    case PyUnicode_1BYTE_KIND:
        for (Py_ssize_t i = 0; i < len; i++) out[i] = ((const Py_UCS1 *)data)[i];
        break;
    case PyUnicode_2BYTE_KIND:
        for (Py_ssize_t i = 0; i < len; i++) out[i] = ((const Py_UCS2 *)data)[i];
        break;
    default:
        memcpy(out, data, (size_t)len * sizeof(ch));
    }
}

static void normalize_blocks(void *arg) {
    Worker *k = arg;
    Shared *s = k->shared;
    Work *w = &k->w;
    for (;;) {
        Py_ssize_t block = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED), first = block * BLOCK;
        if (first >= s->count || w->failed) break;
        Py_ssize_t last = first + BLOCK < s->count ? first + BLOCK : s->count;
        s->owner[block] = (uint8_t)k->id;
        for (Py_ssize_t i = first; i < last && !w->failed; i++) {
            Py_ssize_t len = PyUnicode_GET_LENGTH(s->messages[i]);
            if (!grow((void **)&w->text, &w->captext, len + 1, sizeof(ch))) {
                w->failed = 1;
                break;
            }
            copy_text(s->messages[i], w->text, len);
            normalize_text(s->e, w, &len);
            Py_ssize_t result = w->failed ? -1 : intern_result(s->e, &k->batch, w, w->text, len);
            if (result < 0) w->failed = 1;
            else s->local[i] = (int32_t)result;
        }
    }
    if (k->done) PyThread_release_lock(k->done);
}

/* A result of one worker's batch, in the merged table. */
typedef struct {
    const Batch *batch;
    const Result *result;
} Ref;

typedef struct {
    Ref *refs;
    Py_ssize_t n;
    int32_t *index; /* per message: its row in refs */
} Merged;

/* The workers' results as one table in order of first use, as a single thread would make it
 * (whichever thread took which block), a text that several workers met counted once. */
static int merge_workers(Worker *workers, int nworkers, const Shared *s, Merged *out) {
    Py_ssize_t total = 0, nslots = 1024;
    for (int t = 0; t < nworkers; t++) total += workers[t].batch.nresults;
    while (nslots < 2 * total) nslots *= 2;
    int32_t *slots = calloc((size_t)nslots, sizeof(int32_t)); /* row + 1, 0 = empty */
    int32_t *maps[MAX_THREADS] = {0};
    out->refs = malloc((size_t)(total + 1) * sizeof(Ref));
    out->index = malloc((size_t)(s->count + 1) * sizeof(int32_t));
    int ok = slots && out->refs && out->index;
    for (int t = 0; ok && t < nworkers; t++) {
        maps[t] = malloc((size_t)(workers[t].batch.nresults + 1) * sizeof(int32_t));
        if (!maps[t]) ok = 0;
        else memset(maps[t], 0xff, (size_t)workers[t].batch.nresults * sizeof(int32_t));
    }
    out->n = 0;
    for (Py_ssize_t i = 0; ok && i < s->count; i++) {
        int t = s->owner[i / BLOCK];
        int32_t r = s->local[i], row = maps[t][r];
        if (row < 0) {
            const Batch *b = &workers[t].batch;
            const Result *res = &b->results[r];
            Py_ssize_t at = (Py_ssize_t)(res->hash & (uint64_t)(nslots - 1));
            for (; slots[at]; at = (at + 1) & (nslots - 1)) {
                const Ref *o = &out->refs[slots[at] - 1];
                if (o->result->hash == res->hash && o->result->len == res->len && same_stored(o->batch, o->result, b, res))
                    break;
            }
            if (!slots[at]) {
                out->refs[out->n] = (Ref){b, res};
                slots[at] = (int32_t)(++out->n);
            }
            row = maps[t][r] = slots[at] - 1;
        }
        out->index[i] = row;
    }
    free(slots);
    for (int t = 0; t < nworkers; t++) free(maps[t]);
    return ok;
}

/* Normalize every message of a list on up to `threads` threads (the caller's among them),
 * the GIL released while the rules run. */
static int normalize_batch(Engine *self, PyObject *messages, int threads, Worker *workers, int *nworkers,
                           Merged *merged) {
    if (!PyList_Check(messages)) {
        PyErr_SetString(PyExc_TypeError, "expected a list of str");
        return 0;
    }
    Py_ssize_t count = PyList_GET_SIZE(messages);
    if (count > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many messages in one call");
        return 0;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *m = PyList_GET_ITEM(messages, i);
        if (!PyUnicode_Check(m)) {
            PyErr_Format(PyExc_TypeError, "message %zd is not a str", i);
            return 0;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(m) < 0) return 0;
#endif
    }
    Py_ssize_t nblocks = (count + BLOCK - 1) / BLOCK;
    if (threads > nblocks) threads = (int)nblocks;
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    Shared shared = {.e = self, .messages = ((PyListObject *)messages)->ob_item, .count = count,
                     .local = malloc((size_t)(count + 1) * sizeof(int32_t)), .owner = malloc((size_t)nblocks + 1)};
    int ok = 0, failed = !shared.local || !shared.owner;
    *nworkers = threads;
    for (int t = 0; t < threads; t++) workers[t] = (Worker){.shared = &shared, .id = t};
    if (!failed) {
        Py_BEGIN_ALLOW_THREADS
        int started[MAX_THREADS] = {0};
        for (int t = 1; t < threads; t++) { /* a thread that cannot start leaves its blocks to the others */
            workers[t].done = PyThread_allocate_lock();
            if (workers[t].done && PyThread_acquire_lock(workers[t].done, WAIT_LOCK) &&
                PyThread_start_new_thread(normalize_blocks, &workers[t]) != PYTHREAD_INVALID_THREAD_ID) {
                started[t] = 1;
            } else if (workers[t].done) {
                PyThread_free_lock(workers[t].done);
                workers[t].done = NULL;
            }
        }
        normalize_blocks(&workers[0]);
        for (int t = 1; t < threads; t++) {
            if (!started[t]) continue;
            PyThread_acquire_lock(workers[t].done, WAIT_LOCK);
            PyThread_free_lock(workers[t].done);
            workers[t].done = NULL;
        }
        for (int t = 0; t < threads; t++) failed |= workers[t].w.failed;
        failed = failed || !merge_workers(workers, threads, &shared, merged);
        Py_END_ALLOW_THREADS
    }
    if (failed) PyErr_NoMemory();
    else ok = 1;
    for (int t = 0; t < threads; t++) free_work(&workers[t].w);
    free(shared.local);
    free(shared.owner);
    return ok;
}

/* [(norm_error, kind), ...] for the distinct results. */
static PyObject *result_table(Engine *self, const Merged *m) {
    PyObject *table = PyList_New(m->n);
    if (!table) return NULL;
    for (Py_ssize_t i = 0; i < m->n; i++) {
        const Result *r = m->refs[i].result;
        const uint8_t *text = m->refs[i].batch->arena + r->start;
        int kind_of_text = r->wide ? PyUnicode_4BYTE_KIND : PyUnicode_1BYTE_KIND;
        PyObject *norm = PyUnicode_FromKindAndData(kind_of_text, text, r->len);
        PyObject *kind = r->kind_start < 0
                             ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, self->kind_default.text,
                                                         self->kind_default.len)
                             : PyUnicode_FromKindAndData(kind_of_text, text + r->kind_start * (r->wide ? sizeof(ch) : 1),
                                                         r->kind_len);
        PyObject *pair = (norm && kind) ? PyTuple_Pack(2, norm, kind) : NULL;
        Py_XDECREF(norm);
        Py_XDECREF(kind);
        if (!pair) {
            Py_DECREF(table);
            return NULL;
        }
        PyList_SET_ITEM(table, i, pair);
    }
    return table;
}

static PyObject *Engine_normalize_indexed(Engine *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"messages", "threads", NULL};
    PyObject *messages, *table = NULL, *out = NULL;
    int threads = 1, nworkers = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|i:normalize_indexed", keywords, &messages, &threads))
        return NULL;
    Worker workers[MAX_THREADS];
    Merged merged = {0};
    if (normalize_batch(self, messages, threads, workers, &nworkers, &merged) &&
        (table = result_table(self, &merged))) {
        PyObject *index = PyBytes_FromStringAndSize((const char *)merged.index,
                                                    (Py_ssize_t)sizeof(int32_t) * PyList_GET_SIZE(messages));
        if (index) out = PyTuple_Pack(2, index, table);
        Py_XDECREF(index);
    }
    Py_XDECREF(table);
    for (int t = 0; t < nworkers; t++) free_batch(&workers[t].batch);
    free(merged.refs);
    free(merged.index);
    return out;
}

static PyMethodDef Engine_methods[] = {
    {"normalize_indexed", (PyCFunction)(void (*)(void))Engine_normalize_indexed, METH_VARARGS | METH_KEYWORDS,
     "normalize_indexed(messages: list[str], threads=1) -> (bytes, list[tuple[str, str]]): the distinct "
     "(norm_error, kind) results in order of first use, and per message the index of its result as native "
     "int32s; on up to `threads` threads."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "skillsmith_assets.normalize._fastnorm.Engine",
    .tp_basicsize = sizeof(Engine),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Engine(classes, steps, kind, kind_default): the rule table compiled by native_normalize.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Engine_init,
    .tp_dealloc = (destructor)Engine_dealloc,
    .tp_methods = Engine_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_fastnorm", .m_doc = "The compiled normalization engine.", .m_size = -1};

PyMODINIT_FUNC PyInit__fastnorm(void) {
    if (PyType_Ready(&EngineType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&EngineType);
    if (PyModule_AddObject(m, "Engine", (PyObject *)&EngineType) < 0) {
        Py_DECREF(&EngineType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
