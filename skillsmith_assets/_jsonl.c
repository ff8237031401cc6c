/* Fast paths of `skillsmith group` and `skillsmith ingest`: JSON-lines scanning, de-duplication
 * and output splicing.
 *
 * scan() splits the input into lines the way Python's universal-newline text
 * reading does and recognises the common line, a *plain event*: one strictly
 * valid JSON object whose "error" is a string, whose "component" is absent,
 * null or a string, and which has none of the fields `group` adds (with --text:
 * a UTF-8 line). Anything else, or anything not certain, is reported as *slow*
 * and left to the json module, so the two paths agree by construction. Plain
 * events are reduced to distinct (message, component) pairs in C, so Python
 * sees each pair once.
 *
 * splice() assembles the output: for each line, a span of the input (the object
 * without its closing brace, or the --text line as a JSON string) and a piece
 * per pair, or a literal computed in Python.
 *
 * ingest_scan() is `skillsmith ingest`'s: see its section below.
 *
 * The byte work runs without the GIL (scan() on several threads for a large
 * input); Python objects are made afterwards.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef unsigned char uchar;

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

/* Deeper nesting is left to the json module (which has its own limit). */
#define MAX_DEPTH 64
/* Longer numbers are left to the json module: int() refuses over
 * sys.get_int_max_str_digits() digits, and 640 is the lowest that limit can be. */
#define MAX_NUMBER 640

/* ---------------------------------------------------------------- growable arrays */

typedef struct {
    int64_t *v;
    Py_ssize_t len, cap;
} vec;

/* Room for n more values; 0, or -1 when out of memory. */
static int vec_room(vec *a, Py_ssize_t n)
{
    if (a->len + n > a->cap) {
        Py_ssize_t cap = a->cap ? a->cap * 2 : 3 * 4096;
        int64_t *v = realloc(a->v, (size_t)cap * sizeof(int64_t));
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    return 0;
}

static int vec_push1(vec *a, int64_t x)
{
    if (vec_room(a, 1) < 0)
        return -1;
    a->v[a->len++] = x;
    return 0;
}

static int vec_push3(vec *a, int64_t x, int64_t y, int64_t z)
{
    if (vec_room(a, 3) < 0)
        return -1;
    a->v[a->len++] = x;
    a->v[a->len++] = y;
    a->v[a->len++] = z;
    return 0;
}

/* ---------------------------------------------------------------- arena
 * Decoded copies of escaped strings. Blocks never move, so pointers stay valid. */

typedef struct block {
    struct block *next;
    size_t used, size;
    char data[];
} block;

typedef struct {
    block *head;
} arena;

/* Room for n bytes at the top of the arena; keep them with arena_commit. */
static char *arena_reserve(arena *a, size_t n)
{
    if (!a->head || a->head->size - a->head->used < n) {
        size_t size = n > (1 << 20) ? n : (1 << 20);
        block *b = malloc(sizeof(block) + size);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->size = size;
        a->head = b;
    }
    return a->head->data + a->head->used;
}

static void arena_commit(arena *a, size_t n) { a->head->used += n; }

/* Take over the blocks of b. */
static void arena_adopt(arena *a, arena *b)
{
    block **last = &b->head;
    while (*last)
        last = &(*last)->next;
    *last = a->head;
    a->head = b->head;
    b->head = NULL;
}

static void arena_free(arena *a)
{
    while (a->head) {
        block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

/* ---------------------------------------------------------------- hashing */

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    return mix64(h);
}

/* ---------------------------------------------------------------- distinct strings and pairs
 * Strings: open addressing on 8-byte slots (a 32-bit hash tag and the item index + 1,
 * 0 is empty), so probing a slot that does not match touches no other memory.
 * Pairs: each message chains its pairs, usually one, so a pair costs no table. */

typedef struct {
    uint32_t tag, index; /* index: item index + 1 */
} slot;

typedef struct {
    const char *p;
    size_t n;
    uint64_t h;
    int64_t pair; /* the message's latest pair, -1 for none */
} str_item;

typedef struct {
    slot *slots;
    size_t mask;
    str_item *items;
    Py_ssize_t len, cap;
} strings;

typedef struct {
    int64_t message, component, count; /* component -1: None */
    int64_t next;                      /* the message's previous pair, -1 for none */
} pair_item;

typedef struct {
    pair_item *items;
    Py_ssize_t len, cap;
} pairs;

static int strings_init(strings *s)
{
    s->mask = (1 << 12) - 1;
    s->slots = calloc(s->mask + 1, sizeof(slot));
    return s->slots ? 0 : -1;
}

/* Room for one more item; items are numbered by 32-bit slots, hence the limit. */
static int grow_items(void **items, Py_ssize_t *cap, Py_ssize_t len, size_t size)
{
    if (len < *cap)
        return 0;
    Py_ssize_t n = *cap ? *cap * 2 : 1024;
    void *v = n <= UINT32_MAX ? realloc(*items, (size_t)n * size) : NULL;
    if (!v)
        return -1;
    *items = v;
    *cap = n;
    return 0;
}

/* Rehash into more slots if n items would fill half of them. */
static int strings_grow(strings *s, Py_ssize_t n)
{
    if ((size_t)n * 2 < s->mask)
        return 0;
    size_t mask = s->mask;
    while ((size_t)n * 2 >= mask)
        mask = mask * 2 + 1;
    slot *slots = calloc(mask + 1, sizeof(slot));
    if (!slots)
        return -1;
    for (Py_ssize_t i = 0; i < s->len; i++) {
        size_t k = s->items[i].h & mask;
        while (slots[k].index)
            k = (k + 1) & mask;
        slots[k] = (slot){(uint32_t)(s->items[i].h >> 32), (uint32_t)(i + 1)};
    }
    free(s->slots);
    s->slots = slots;
    s->mask = mask;
    return 0;
}

/* The first slot of hash h whose tag matches, else the empty slot ending its probe sequence. */
static inline slot *probe(const strings *s, uint64_t h)
{
    uint32_t tag = (uint32_t)(h >> 32);
    size_t k = h & s->mask;
    while (s->slots[k].index && s->slots[k].tag != tag)
        k = (k + 1) & s->mask;
    return &s->slots[k];
}

/* Index of the string p[0:n] of hash h; *added says whether it is new (the caller keeps p alive then). */
static int64_t intern(strings *s, const char *p, size_t n, uint64_t h, int *added)
{
    uint32_t tag = (uint32_t)(h >> 32);
    size_t k = h & s->mask;
    *added = 0;
    for (; s->slots[k].index; k = (k + 1) & s->mask) {
        if (s->slots[k].tag != tag)
            continue;
        str_item *it = &s->items[s->slots[k].index - 1];
        if (it->h == h && it->n == n && memcmp(it->p, p, n) == 0)
            return s->slots[k].index - 1;
    }
    if (grow_items((void **)&s->items, &s->cap, s->len, sizeof(str_item)) < 0)
        return -1;
    s->items[s->len] = (str_item){p, n, h, -1};
    s->slots[k] = (slot){tag, (uint32_t)++s->len};
    *added = 1;
    return strings_grow(s, s->len) < 0 ? -1 : s->len - 1;
}

/* Count lines of the pair (message, component); its index, or -1 when out of memory. */
static int64_t count_pair(pairs *ps, str_item *message, int64_t message_index, int64_t component, int64_t lines)
{
    for (int64_t i = message->pair; i >= 0; i = ps->items[i].next)
        if (ps->items[i].component == component) {
            ps->items[i].count += lines;
            return i;
        }
    if (grow_items((void **)&ps->items, &ps->cap, ps->len, sizeof(pair_item)) < 0)
        return -1;
    ps->items[ps->len] = (pair_item){message_index, component, lines, message->pair};
    return message->pair = ps->len++;
}

/* ---------------------------------------------------------------- JSON validation
 * Each scanner returns the position after what it read, or NULL for "not sure". */

static inline const uchar *skip_ws(const uchar *p, const uchar *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t has_zero_byte(uint64_t w) { return (w - ONES) & ~w & HIGHS; }

/* Whether any of 8 bytes is '"', '\\' or a control character: what a JSON string escapes. */
static inline uint64_t escaped8(uint64_t w)
{
    return has_zero_byte(w ^ (ONES * '"')) | has_zero_byte(w ^ (ONES * '\\')) | ((w - ONES * 0x20) & ~w & HIGHS);
}

/* The same, or non-ASCII. */
static inline uint64_t special8(uint64_t w) { return (w & HIGHS) | escaped8(w); }

/* Length of the well-formed UTF-8 sequence at p (as Python's strict decoder accepts it), or 0. */
static int utf8_length(const uchar *p, const uchar *end)
{
    uchar c = p[0], lo = 0x80, hi = 0xBF;
    ptrdiff_t left = end - p;
    if (c >= 0xC2 && c <= 0xDF)
        return left >= 2 && p[1] >= 0x80 && p[1] <= 0xBF ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED) /* surrogates */
            hi = 0x9F;
        return left >= 3 && p[1] >= lo && p[1] <= hi && p[2] >= 0x80 && p[2] <= 0xBF ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        return left >= 4 && p[1] >= lo && p[1] <= hi && p[2] >= 0x80 && p[2] <= 0xBF && p[3] >= 0x80 &&
                       p[3] <= 0xBF
                   ? 4
                   : 0;
    }
    return 0;
}

/* Whether p[0:end] is well-formed UTF-8. */
static int valid_utf8(const uchar *p, const uchar *end)
{
    while (p < end) {
        uint64_t w;
        if (end - p >= 8 && (memcpy(&w, p, 8), !(w & HIGHS))) {
            p += 8;
        } else if (*p < 0x80) {
            p++;
        } else {
            int n = utf8_length(p, end);
            if (!n)
                return 0;
            p += n;
        }
    }
    return 1;
}

static int hex4(const uchar *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        uchar c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* p is just after the opening quote; returns just after the closing one.
 * Escapes of surrogates are refused: the json module keeps them as lone code points. */
static const uchar *scan_string(const uchar *p, const uchar *end, int *escaped)
{
    for (;;) {
#if defined(__SSE2__)
        while (end - p >= 16) { /* 16 bytes at a time, straight to the first that needs a look */
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i quote_or_escape = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                   _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
            __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
            unsigned special = (unsigned)(_mm_movemask_epi8(_mm_or_si128(quote_or_escape, control)) |
                                          _mm_movemask_epi8(v)); /* and non-ASCII */
            if (special) {
                p += __builtin_ctz(special);
                break;
            }
            p += 16;
        }
#endif
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (special8(w))
                break;
            p += 8;
        }
        if (p >= end)
            return NULL;
        uchar c = *p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            *escaped = 1;
            if (end - p < 2)
                return NULL;
            c = p[1];
            if (c == 'u') {
                int v = end - p >= 6 ? hex4(p + 2) : -1;
                if (v < 0 || (v >= 0xD800 && v <= 0xDFFF))
                    return NULL;
                p += 6;
            } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
                       c == 't') {
                p += 2;
            } else {
                return NULL;
            }
        } else if (c < 0x20) {
            return NULL;
        } else if (c < 0x80) {
            p++;
        } else {
            int n = utf8_length(p, end);
            if (!n)
                return NULL;
            p += n;
        }
    }
}

static inline int is_digit(uchar c) { return c >= '0' && c <= '9'; }

static const uchar *scan_digits(const uchar *p, const uchar *end)
{
    if (p >= end || !is_digit(*p))
        return NULL;
    while (p < end && is_digit(*p))
        p++;
    return p;
}

/* RFC 8259 numbers only (no NaN / Infinity). */
static const uchar *scan_number(const uchar *p, const uchar *end)
{
    const uchar *start = p;
    if (*p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (!(p = scan_digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = scan_digits(p + 1, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!(p = scan_digits(p, end)))
            return NULL;
    }
    return p - start > MAX_NUMBER ? NULL : p;
}

static const uchar *scan_literal(const uchar *p, const uchar *end, const char *word, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const uchar *scan_value(const uchar *p, const uchar *end, int depth);

/* p is on '{' or '['; close is the matching bracket. */
static const uchar *scan_container(const uchar *p, const uchar *end, int depth, uchar close)
{
    if (depth > MAX_DEPTH)
        return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {
            int escaped;
            if (p >= end || *p != '"' || !(p = scan_string(p + 1, end, &escaped)))
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
        }
        if (!(p = scan_value(p, end, depth)))
            return NULL;
        p = skip_ws(p, end);
        if (p >= end)
            return NULL;
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
}

static const uchar *scan_value(const uchar *p, const uchar *end, int depth)
{
    if (p >= end)
        return NULL;
    switch (*p) {
    case '"': {
        int escaped;
        return scan_string(p + 1, end, &escaped);
    }
    case '{':
        return scan_container(p, end, depth + 1, '}');
    case '[':
        return scan_container(p, end, depth + 1, ']');
    case 't':
        return scan_literal(p, end, "true", 4);
    case 'f':
        return scan_literal(p, end, "false", 5);
    case 'n':
        return scan_literal(p, end, "null", 4);
    default:
        return *p == '-' || is_digit(*p) ? scan_number(p, end) : NULL;
    }
}

/* ---------------------------------------------------------------- events */

typedef struct {
    const uchar *p; /* string content, between the quotes */
    size_t n;
    int escaped;
} field;

typedef struct {
    field error, component;
    int has_error, has_component; /* has_component: a string (absent and null are None) */
} event;

enum { KEY_OTHER, KEY_ERROR, KEY_COMPONENT, KEY_ADDED };

#define IS_KEY(k, n, name) ((n) == sizeof(name) - 1 && memcmp((k), (name), sizeof(name) - 1) == 0)

static int key_id(const uchar *k, size_t n)
{
    if (IS_KEY(k, n, "error"))
        return KEY_ERROR;
    if (IS_KEY(k, n, "component"))
        return KEY_COMPONENT;
    if (IS_KEY(k, n, "norm_error") || IS_KEY(k, n, "kind") || IS_KEY(k, n, "fingerprint") || IS_KEY(k, n, "pattern"))
        return KEY_ADDED;
    return KEY_OTHER;
}

/* A string value at p, into f; returns the position after it. */
static const uchar *scan_field(const uchar *p, const uchar *end, field *f)
{
    const uchar *q;
    if (p >= end || *p != '"')
        return NULL;
    f->escaped = 0;
    if (!(q = scan_string(p + 1, end, &f->escaped)))
        return NULL;
    f->p = p + 1;
    f->n = (size_t)(q - 1 - f->p);
    return q;
}

/* A member's key, without escapes (one could spell a name we look for), and the colon after
 * it: the position of its value, or NULL. */
static const uchar *scan_key(const uchar *p, const uchar *end, field *key)
{
    if (!(p = scan_field(p, end, key)) || key->escaped)
        return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
        return NULL;
    return skip_ws(p + 1, end);
}

/* After a member: the next one's key (*closed 0), or just after the closing brace (*closed 1); NULL else. */
static const uchar *next_member(const uchar *p, const uchar *end, int *closed)
{
    p = skip_ws(p, end);
    if (p >= end)
        return NULL;
    *closed = *p == '}';
    if (*closed)
        return p + 1;
    return *p == ',' ? skip_ws(p + 1, end) : NULL;
}

/* The top-level object at p ('{'): like scan_container, noting error and component.
 * A key with escapes could spell one of the names, so it is left to the slow path;
 * so are repeated error / component keys (the json module keeps the last one). */
static const uchar *scan_event(const uchar *p, const uchar *end, event *ev)
{
    int seen_component = 0;
    memset(ev, 0, sizeof(*ev));
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return NULL;
    for (;;) {
        field key;
        int closed;
        if (!(p = scan_key(p, end, &key)))
            return NULL;
        switch (key_id(key.p, key.n)) {
        case KEY_ERROR:
            if (ev->has_error || !(p = scan_field(p, end, &ev->error)))
                return NULL;
            ev->has_error = 1;
            break;
        case KEY_COMPONENT:
            if (seen_component)
                return NULL;
            seen_component = 1;
            ev->has_component = p >= end || *p != 'n';
            if (!(p = ev->has_component ? scan_field(p, end, &ev->component) : scan_literal(p, end, "null", 4)))
                return NULL;
            break;
        case KEY_ADDED:
            return NULL;
        default:
            if (!(p = scan_value(p, end, 1)))
                return NULL;
        }
        if (!(p = next_member(p, end, &closed)))
            return NULL;
        if (closed)
            return ev->has_error ? p : NULL;
    }
}

/* Write the decoded UTF-8 of a validated string with escapes to out; its length. */
static size_t unescape(const uchar *p, size_t n, char *out)
{
    static const char simple[128] = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
                                     ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t'};
    const uchar *end = p + n;
    char *o = out;
    while (p < end) {
        if (*p != '\\') {
            *o++ = (char)*p++;
        } else if (p[1] != 'u') {
            *o++ = simple[p[1]];
            p += 2;
        } else {
            int v = hex4(p + 2);
            if (v < 0x80) {
                *o++ = (char)v;
            } else if (v < 0x800) {
                *o++ = (char)(0xC0 | (v >> 6));
                *o++ = (char)(0x80 | (v & 0x3F));
            } else {
                *o++ = (char)(0xE0 | (v >> 12));
                *o++ = (char)(0x80 | ((v >> 6) & 0x3F));
                *o++ = (char)(0x80 | (v & 0x3F));
            }
            p += 6;
        }
    }
    return (size_t)(o - out);
}

/* ---------------------------------------------------------------- scan */

typedef struct {
    strings messages, components;
    pairs pairs;
    arena decoded;
    vec records; /* (ref, start, stop) per output line */
    vec slow;    /* (line number, start, stop) per slow line */
    char *scratch; /* decoded messages of the current batch */
    size_t scratch_used, scratch_cap;
    int64_t lines; /* lines read, blank ones included */
} scanner;

/* Index of the decoded string f in s; -1 when out of memory. */
static int64_t intern_field(strings *s, arena *a, const field *f)
{
    int added;
    if (!f->escaped)
        return intern(s, (const char *)f->p, f->n, hash_bytes((const char *)f->p, f->n), &added);
    char *buf = arena_reserve(a, f->n);
    if (!buf)
        return -1;
    size_t n = unescape(f->p, f->n, buf);
    int64_t i = intern(s, buf, n, hash_bytes(buf, n), &added);
    if (added)
        arena_commit(a, n);
    return i;
}

/* Lines are read in batches, in two passes: the first validates them and hashes their
 * messages, prefetching what the second, which counts them, will look up. Looking up
 * a million messages in a table larger than the cache is mostly waiting for memory;
 * this way a batch waits once instead of once per line. */
#define BATCH 64

typedef struct {
    int64_t number;
    const uchar *s, *e;       /* the line */
    int plain;                /* else slow */
    const uchar *start, *cut; /* plain: the span kept in the output */
    const char *message;      /* plain: the decoded error */
    size_t message_n;
    int unescaped;            /* the message is a copy in the scratch buffer, at scratch_at */
    size_t scratch_at;
    uint64_t hash;
    int64_t candidate; /* an item the message may equal, -1 for none */
    field component;
    int has_component;
} line;

/* Read the line [s, e) into the batch; 0, or -1 when out of memory. */
static int read_line(scanner *sc, line *l, const uchar *s, const uchar *e, int text)
{
    event ev;
    const uchar *obj, *close;
    l->s = s;
    l->e = e;
    l->has_component = l->unescaped = 0;
    if (text) {
        l->plain = valid_utf8(s, e); /* else the json module writes it, with its replacement characters */
        if (!l->plain)
            return 0;
        l->start = s;
        l->cut = e;
        l->message = (const char *)s;
        l->message_n = (size_t)(e - s);
    } else {
        obj = skip_ws(s, e);
        l->plain = *obj == '{' && (close = scan_event(obj, e, &ev)) && skip_ws(close, e) == e;
        if (!l->plain)
            return 0;
        l->start = obj;
        for (l->cut = close - 1; l->cut[-1] == ' ' || l->cut[-1] == '\t'; l->cut--)
            ;
        l->component = ev.component;
        l->has_component = ev.has_component;
        l->message = (const char *)ev.error.p;
        l->message_n = ev.error.n;
        if (ev.error.escaped) {
            /* Decoded into the scratch buffer, which may move until the batch is full. */
            if (sc->scratch_used + ev.error.n > sc->scratch_cap) {
                size_t cap = 2 * (sc->scratch_used + ev.error.n);
                char *scratch = realloc(sc->scratch, cap);
                if (!scratch)
                    return -1;
                sc->scratch = scratch;
                sc->scratch_cap = cap;
            }
            l->unescaped = 1;
            l->scratch_at = sc->scratch_used;
            l->message_n = unescape(ev.error.p, ev.error.n, sc->scratch + sc->scratch_used);
            sc->scratch_used += l->message_n;
        }
    }
    l->hash = hash_bytes(l->unescaped ? sc->scratch + l->scratch_at : l->message, l->message_n);
    PREFETCH(&sc->messages.slots[l->hash & sc->messages.mask]);
    return 0;
}

/* Count one plain line: message, component and pair; its pair index, or -1 when out of memory. */
static int64_t count_line(scanner *sc, const line *l)
{
    int added;
    int64_t message = intern(&sc->messages, l->message, l->message_n, l->hash, &added), component = -1;
    if (message < 0)
        return -1;
    if (added && l->unescaped) { /* the scratch buffer is reused by the next batch */
        char *copy = arena_reserve(&sc->decoded, l->message_n);
        if (!copy)
            return -1;
        memcpy(copy, l->message, l->message_n);
        arena_commit(&sc->decoded, l->message_n);
        sc->messages.items[message].p = copy;
    }
    if (l->has_component && (component = intern_field(&sc->components, &sc->decoded, &l->component)) < 0)
        return -1;
    return count_pair(&sc->pairs, &sc->messages.items[message], message, component, 1);
}

/* The second pass over a batch, after prefetching the slots, items and strings it will compare. */
static int flush_batch(scanner *sc, line *batch, int n, const uchar *base)
{
    strings *ms = &sc->messages;
    for (int i = 0; i < n; i++) {
        line *l = &batch[i];
        if (!l->plain)
            continue;
        if (l->unescaped)
            l->message = sc->scratch + l->scratch_at;
        slot *k = probe(ms, l->hash);
        l->candidate = k->index ? (int64_t)k->index - 1 : -1;
        if (l->candidate >= 0)
            PREFETCH(&ms->items[l->candidate]);
    }
    for (int i = 0; i < n; i++) {
        const str_item *it = batch[i].plain && batch[i].candidate >= 0 ? &ms->items[batch[i].candidate] : NULL;
        if (it) {
            PREFETCH(it->p);
            if (it->pair >= 0)
                PREFETCH(&sc->pairs.items[it->pair]);
        }
    }
    for (int i = 0; i < n; i++) {
        const line *l = &batch[i];
        int64_t s = l->s - base, e = l->e - base, pair;
        if (!l->plain) {
            if (vec_push3(&sc->slow, l->number, s, e) < 0 || vec_push3(&sc->records, -sc->slow.len / 3, s, e) < 0)
                return -1;
        } else if ((pair = count_line(sc, l)) < 0 ||
                   vec_push3(&sc->records, pair, l->start - base, l->cut - base) < 0) {
            return -1;
        }
    }
    sc->scratch_used = 0;
    return 0;
}

/* The lines of data[begin:end], numbered from 1. Lines end at "\n", "\r\n" or a lone "\r",
 * as in universal-newline text mode. Blank lines (JSON whitespace only) are skipped, but counted. */
static int scan_lines(scanner *sc, const uchar *data, const uchar *begin, const uchar *end, int text)
{
    const uchar *p = begin, *nl = NULL, *cr = NULL;
    int64_t number = 0;
    line batch[BATCH];
    int n = 0;
    while (p < end) {
        if (!nl || nl < p)
            if (!(nl = memchr(p, '\n', (size_t)(end - p))))
                nl = end;
        if (!cr || cr < p)
            if (!(cr = memchr(p, '\r', (size_t)(end - p))))
                cr = end;
        const uchar *e = nl < cr ? nl : cr;
        number++;
        if (text || skip_ws(p, e) != e) {
            batch[n].number = number;
            if (read_line(sc, &batch[n], p, e, text) < 0)
                return -1;
            if (++n == BATCH) {
                if (flush_batch(sc, batch, n, data) < 0)
                    return -1;
                n = 0;
            }
        }
        p = e + (e < end && *e == '\r' && e + 1 < end && e[1] == '\n' ? 2 : 1);
    }
    sc->lines = number;
    return flush_batch(sc, batch, n, data);
}

static void scanner_free(scanner *sc)
{
    free(sc->messages.slots);
    free(sc->messages.items);
    free(sc->components.slots);
    free(sc->components.items);
    free(sc->pairs.items);
    arena_free(&sc->decoded);
    free(sc->records.v);
    free(sc->slow.v);
    free(sc->scratch);
}

/* ---------------------------------------------------------------- parts
 * A large input is cut at line ends into parts scanned at the same time, one thread
 * each, then merged in input order: the merged numbering is the one a single scan
 * would give (first appearance). */

/* Parts are at least this long: below it a thread costs more than it saves. */
#define MIN_PART (4 << 20)
#define MAX_PARTS 16

typedef struct {
    scanner sc;
    const uchar *data, *begin, *end;
    int text, failed;
    PyThread_type_lock done; /* released when a thread finishes the part */
} part;

static void scan_part(void *arg)
{
    part *pt = arg;
    pt->failed = strings_init(&pt->sc.messages) < 0 || strings_init(&pt->sc.components) < 0 ||
                 scan_lines(&pt->sc, pt->data, pt->begin, pt->end, pt->text) < 0;
    if (pt->done)
        PyThread_release_lock(pt->done);
}

/* Cut data into up to `wanted` parts ending at line ends ("\n" ends a line whatever came
 * before it); returns their number, at least 1. */
static int cut_parts(part *parts, int wanted, const uchar *data, Py_ssize_t size, int text)
{
    const uchar *end = data + size, *begin = data, *stop, *nl;
    int n = 0;
    if (wanted > size / MIN_PART)
        wanted = (int)(size / MIN_PART);
    wanted = wanted < 1 ? 1 : wanted > MAX_PARTS ? MAX_PARTS : wanted;
    for (int i = 1; i <= wanted; i++) {
        stop = i < wanted ? data + size / wanted * i : end;
        if (stop < begin)
            stop = begin;
        if (stop < end)
            stop = (nl = memchr(stop, '\n', (size_t)(end - stop))) ? nl + 1 : end;
        parts[n++] = (part){.data = data, .begin = begin, .end = stop, .text = text};
        if (stop == end)
            break;
        begin = stop;
    }
    return n;
}

/* How many messages ahead merge_part prefetches the slot it will look up. */
#define AHEAD 16

/* Append part q's results to g, renumbering its messages, components and pairs. */
static int merge_part(scanner *g, scanner *q)
{
    int added;
    int64_t *messages = malloc(((size_t)q->messages.len + 1) * sizeof(int64_t));
    int64_t *components = malloc(((size_t)q->components.len + 1) * sizeof(int64_t));
    int64_t *pair_map = malloc(((size_t)q->pairs.len + 1) * sizeof(int64_t));
    int failed = !messages || !components || !pair_map ||
                 strings_grow(&g->messages, g->messages.len + q->messages.len) < 0;
    for (Py_ssize_t i = 0; !failed && i < q->messages.len; i++) {
        const str_item *it = &q->messages.items[i];
        if (i + AHEAD < q->messages.len)
            PREFETCH(&g->messages.slots[it[AHEAD].h & g->messages.mask]);
        failed = (messages[i] = intern(&g->messages, it->p, it->n, it->h, &added)) < 0;
    }
    for (Py_ssize_t i = 0; !failed && i < q->components.len; i++) {
        const str_item *it = &q->components.items[i];
        failed = (components[i] = intern(&g->components, it->p, it->n, it->h, &added)) < 0;
    }
    for (Py_ssize_t i = 0; !failed && i < q->pairs.len; i++) {
        const pair_item *it = &q->pairs.items[i];
        int64_t m = messages[it->message];
        failed = (pair_map[i] = count_pair(&g->pairs, &g->messages.items[m], m,
                                           it->component < 0 ? -1 : components[it->component], it->count)) < 0;
    }
    int64_t slow_before = g->slow.len / 3;
    for (Py_ssize_t i = 0; !failed && i < q->slow.len; i += 3)
        failed = vec_push3(&g->slow, q->slow.v[i] + g->lines, q->slow.v[i + 1], q->slow.v[i + 2]) < 0;
    for (Py_ssize_t i = 0; !failed && i < q->records.len; i += 3) {
        int64_t ref = q->records.v[i];
        failed = vec_push3(&g->records, ref >= 0 ? pair_map[ref] : ref - slow_before, q->records.v[i + 1],
                           q->records.v[i + 2]) < 0;
    }
    g->lines += q->lines;
    arena_adopt(&g->decoded, &q->decoded); /* merged strings may point into it */
    free(messages);
    free(components);
    free(pair_map);
    return failed ? -1 : 0;
}

/* Scan the parts, all but the first on threads of their own, and merge them into the first. */
static int scan_parts(part *parts, int n)
{
    int failed = 0, started[MAX_PARTS] = {0};
    for (int i = 1; i < n; i++) {
        parts[i].done = PyThread_allocate_lock();
        if (parts[i].done && PyThread_acquire_lock(parts[i].done, WAIT_LOCK) &&
            PyThread_start_new_thread(scan_part, &parts[i]) != PYTHREAD_INVALID_THREAD_ID) {
            started[i] = 1;
        } else if (parts[i].done) {
            PyThread_free_lock(parts[i].done);
            parts[i].done = NULL;
        }
    }
    scan_part(&parts[0]);
    for (int i = 1; i < n; i++) {
        if (started[i]) {
            PyThread_acquire_lock(parts[i].done, WAIT_LOCK);
            PyThread_free_lock(parts[i].done);
            parts[i].done = NULL;
        } else {
            scan_part(&parts[i]);
        }
        if (!failed)
            failed = parts[0].failed || parts[i].failed || merge_part(&parts[0].sc, &parts[i].sc) < 0;
        scanner_free(&parts[i].sc);
    }
    return failed || parts[0].failed ? -1 : 0;
}

static PyObject *decode_all(const strings *s)
{
    PyObject *list = PyList_New(s->len);
    for (Py_ssize_t i = 0; list && i < s->len; i++) {
        PyObject *str = PyUnicode_DecodeUTF8(s->items[i].p, (Py_ssize_t)s->items[i].n, NULL);
        if (!str)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, str);
    }
    return list;
}

static PyObject *int_list(const pair_item *items, Py_ssize_t n, size_t offset)
{
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list && i < n; i++) {
        PyObject *v = PyLong_FromLongLong(*(const int64_t *)((const char *)&items[i] + offset));
        if (!v)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, v);
    }
    return list;
}

static PyObject *pair_components(const pairs *ps, PyObject *components)
{
    PyObject *list = PyList_New(ps->len);
    for (Py_ssize_t i = 0; list && i < ps->len; i++) {
        int64_t c = ps->items[i].component;
        PyObject *v = c < 0 ? Py_None : PyList_GET_ITEM(components, c);
        Py_INCREF(v);
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

static PyObject *slow_list(const vec *slow)
{
    PyObject *list = PyList_New(slow->len / 3);
    for (Py_ssize_t i = 0; list && i < slow->len / 3; i++) {
        const int64_t *v = slow->v + 3 * i;
        PyObject *t = Py_BuildValue("(LLL)", (long long)v[0], (long long)v[1], (long long)v[2]);
        if (!t)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, t);
    }
    return list;
}

/* scan()'s result: (messages, pair_message, pair_component, pair_count, records, slow). */
static PyObject *scan_result(const scanner *sc)
{
    PyObject *result = NULL;
    PyObject *messages = decode_all(&sc->messages);
    PyObject *components = decode_all(&sc->components);
    PyObject *pair_message = int_list(sc->pairs.items, sc->pairs.len, offsetof(pair_item, message));
    PyObject *pair_count = int_list(sc->pairs.items, sc->pairs.len, offsetof(pair_item, count));
    PyObject *pair_component = components ? pair_components(&sc->pairs, components) : NULL;
    PyObject *records = PyBytes_FromStringAndSize((const char *)sc->records.v,
                                                  sc->records.len * (Py_ssize_t)sizeof(int64_t));
    PyObject *slow = slow_list(&sc->slow);
    if (messages && pair_message && pair_component && pair_count && records && slow)
        result = PyTuple_Pack(6, messages, pair_message, pair_component, pair_count, records, slow);
    Py_XDECREF(messages);
    Py_XDECREF(components);
    Py_XDECREF(pair_message);
    Py_XDECREF(pair_component);
    Py_XDECREF(pair_count);
    Py_XDECREF(records);
    Py_XDECREF(slow);
    return result;
}

static PyObject *scan(PyObject *Py_UNUSED(self), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "text", "threads", NULL};
    Py_buffer data;
    int text = 0, threads = 1, n, failed;
    part parts[MAX_PARTS];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|pi:scan", keywords, &data, &text, &threads))
        return NULL;
    n = cut_parts(parts, threads, data.buf, data.len, text);
    Py_BEGIN_ALLOW_THREADS
    failed = scan_parts(parts, n);
    Py_END_ALLOW_THREADS
    scanner sc = parts[0].sc;
    PyObject *result = failed ? PyErr_NoMemory() : scan_result(&sc);
    scanner_free(&sc);
    PyBuffer_Release(&data);
    return result;
}

/* ---------------------------------------------------------------- splice
 * An iterator of output chunks of about `size` bytes, so the output is never whole
 * in memory and each chunk is written while still in cache. */

typedef struct {
    const char *p;
    Py_ssize_t n;
} chunk;

typedef struct {
    PyObject_HEAD
    Py_buffer data, records, prefix;
    PyObject *pieces, *literals; /* tuples of bytes, so they cannot change under us */
    chunk *piece_chunks, *literal_chunks;
    Py_ssize_t next, count, size;
    int quote; /* write the spans as JSON strings */
} Splice;

/* The JSON string escapes json.dumps(..., ensure_ascii=False) writes: '"', '\\' and
 * control characters, nothing else. quoted[c]: 0 for none, else the escaping letter
 * ('u' for \u00XX). */
static const char quoted[256] = {
    ['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u', [0x06] = 'u',
    [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u', [0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u',
    [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u', [0x19] = 'u',
    [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u',
};

/* Whether the 8 bytes at p need no escape. */
static inline int plain8(const uchar *p, const uchar *end)
{
    uint64_t w;
    return end - p >= 8 && (memcpy(&w, p, 8), !escaped8(w));
}

static Py_ssize_t quoted_size(const uchar *p, const uchar *end)
{
    Py_ssize_t n = 2;
    while (p < end) {
        if (plain8(p, end)) {
            n += 8;
            p += 8;
        } else {
            n += !quoted[*p] ? 1 : quoted[*p] == 'u' ? 6 : 2;
            p++;
        }
    }
    return n;
}

static char *quote_into(char *out, const uchar *p, const uchar *end)
{
    *out++ = '"';
    for (; p < end; p++) {
        char q = quoted[*p];
        if (plain8(p, end)) {
            memcpy(out, p, 8);
            out += 8;
            p += 7;
        } else if (!q) {
            *out++ = (char)*p;
        } else if (q != 'u') {
            *out++ = '\\';
            *out++ = q;
        } else {
            memcpy(out, "\\u00", 4);
            out[4] = "0123456789abcdef"[*p >> 4];
            out[5] = "0123456789abcdef"[*p & 15];
            out += 6;
        }
    }
    *out++ = '"';
    return out;
}

/* The bytes objects of a tuple as (pointer, length). */
static chunk *chunks_of(PyObject *tuple, const char *what)
{
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    chunk *c = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(chunk));
    if (!c)
        return (chunk *)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = PyTuple_GET_ITEM(tuple, i);
        if (!PyBytes_Check(b)) {
            PyErr_Format(PyExc_TypeError, "%s must hold bytes", what);
            PyMem_Free(c);
            return NULL;
        }
        c[i] = (chunk){PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b)};
    }
    return c;
}

/* Check every record's reference and span up front, so iterating cannot fail half-way. */
static int check_records(Splice *sp)
{
    const int64_t *rec = sp->records.buf;
    for (Py_ssize_t i = 0; i < sp->count; i++, rec += 3) {
        int64_t ref = rec[0], start = rec[1], stop = rec[2];
        if (ref >= 0 ? ref >= PyTuple_GET_SIZE(sp->pieces) || start < 0 || start > stop || stop > sp->data.len
                     : -1 - ref >= PyTuple_GET_SIZE(sp->literals)) {
            PyErr_Format(PyExc_ValueError, "record %zd is out of range", i);
            return -1;
        }
    }
    return 0;
}

static inline Py_ssize_t line_size(const Splice *sp, const int64_t *rec)
{
    const uchar *data = sp->data.buf;
    if (rec[0] < 0)
        return sp->literal_chunks[-1 - rec[0]].n;
    return sp->prefix.len + sp->piece_chunks[rec[0]].n +
           (sp->quote ? quoted_size(data + rec[1], data + rec[2]) : (Py_ssize_t)(rec[2] - rec[1]));
}

static void copy_lines(const Splice *sp, char *out, const int64_t *rec, Py_ssize_t n)
{
    const uchar *data = sp->data.buf;
    for (Py_ssize_t i = 0; i < n; i++, rec += 3) {
        const chunk *c;
        if (rec[0] >= 0) {
            if (sp->prefix.len) {
                memcpy(out, sp->prefix.buf, (size_t)sp->prefix.len);
                out += sp->prefix.len;
            }
            if (sp->quote) {
                out = quote_into(out, data + rec[1], data + rec[2]);
            } else {
                memcpy(out, data + rec[1], (size_t)(rec[2] - rec[1]));
                out += rec[2] - rec[1];
            }
            c = &sp->piece_chunks[rec[0]];
        } else {
            c = &sp->literal_chunks[-1 - rec[0]];
        }
        memcpy(out, c->p, (size_t)c->n);
        out += c->n;
    }
}

static PyObject *Splice_next(Splice *sp)
{
    const int64_t *first = (const int64_t *)sp->records.buf + 3 * sp->next;
    Py_ssize_t n = 0, size = 0;
    while (sp->next + n < sp->count && (n == 0 || size < sp->size)) {
        Py_ssize_t add = line_size(sp, first + 3 * n);
        if (add > PY_SSIZE_T_MAX - size)
            break;
        size += add;
        n++;
    }
    if (n == 0)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (!out)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    copy_lines(sp, PyBytes_AS_STRING(out), first, n);
    Py_END_ALLOW_THREADS
    sp->next += n;
    return out;
}

static void Splice_dealloc(Splice *sp)
{
    PyBuffer_Release(&sp->data);
    PyBuffer_Release(&sp->records);
    PyBuffer_Release(&sp->prefix);
    Py_XDECREF(sp->pieces);
    Py_XDECREF(sp->literals);
    PyMem_Free(sp->piece_chunks);
    PyMem_Free(sp->literal_chunks);
    Py_TYPE(sp)->tp_free((PyObject *)sp);
}

static PyTypeObject SpliceType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "skillsmith_assets._jsonl.Splice",
    .tp_basicsize = sizeof(Splice),
    .tp_dealloc = (destructor)Splice_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Output chunks of splice().",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Splice_next,
};

static PyObject *splice(PyObject *Py_UNUSED(self), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "records", "pieces", "literals", "prefix", "quote", "size", NULL};
    PyObject *pieces, *literals;
    Py_ssize_t size = 1 << 22;
    Splice *sp = PyObject_New(Splice, &SpliceType);
    if (!sp)
        return NULL;
    sp->pieces = sp->literals = NULL;
    sp->piece_chunks = sp->literal_chunks = NULL;
    sp->data.obj = sp->records.obj = sp->prefix.obj = NULL;
    sp->prefix.len = sp->quote = 0; /* no prefix unless given */
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*y*OO|$y*pn:splice", keywords, &sp->data, &sp->records, &pieces,
                                     &literals, &sp->prefix, &sp->quote, &size))
        goto fail;
    sp->next = 0;
    sp->count = sp->records.len / (3 * (Py_ssize_t)sizeof(int64_t));
    sp->size = size;
    if (sp->records.len % (3 * (Py_ssize_t)sizeof(int64_t))) {
        PyErr_SetString(PyExc_ValueError, "records must be int64 triples");
        goto fail;
    }
    if (!(sp->pieces = PySequence_Tuple(pieces)) || !(sp->literals = PySequence_Tuple(literals)) ||
        !(sp->piece_chunks = chunks_of(sp->pieces, "pieces")) ||
        !(sp->literal_chunks = chunks_of(sp->literals, "literals")) || check_records(sp) < 0)
        goto fail;
    return (PyObject *)sp;
fail:
    Py_DECREF(sp);
    return NULL;
}

/* ---------------------------------------------------------------- ingest
 * Fast path of `skillsmith ingest`: each line of a chunk becomes the start of its COPY
 * row, "ts \t error \t tags \t event key \t", and a pair (message, component) whose
 * normalization Python adds once per pair (splice() joins the two). A line is taken
 * only when it is certainly what events.parse_line accepts and the row and key come
 * out byte for byte as the Python path makes them; anything else (a rejection, NUL,
 * a surrogate or other escapes of doubt, a float or out-of-range ts, a ts format
 * other than the strict ISO one, a repeated field) is slow: events.parse_line reads it.
 * Lines end at "\n" only, as iterating a binary file splits them. */

/* SHA-256 (FIPS 180-4), for the event keys: normalize.uuid_of. */
typedef struct {
    uint32_t h[8];
    uint64_t n;
    uchar buf[64];
    size_t used;
} sha256;

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t *h, const uchar *p)
{
    uint32_t w[64], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void sha256_init(sha256 *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof(h0));
    s->n = 0;
    s->used = 0;
}

static void sha256_update(sha256 *s, const uchar *p, size_t n)
{
    s->n += n;
    if (s->used) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->buf + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used < 64)
            return;
        sha256_block(s->h, s->buf);
        s->used = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        sha256_block(s->h, p);
    memcpy(s->buf, p, n);
    s->used = n;
}

/* The first 16 bytes of the digest: the bytes of the UUID normalize.uuid_of names. */
static void sha256_uuid(sha256 *s, uchar *out)
{
    uint64_t bits = s->n * 8;
    uchar pad = 0x80, zero[64] = {0}, len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uchar)(bits >> (56 - 8 * i));
    sha256_update(s, &pad, 1);
    sha256_update(s, zero, s->used <= 56 ? 56 - s->used : 120 - s->used);
    sha256_update(s, len, 8);
    for (int i = 0; i < 16; i++)
        out[i] = (uchar)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} buffer;

static char *buffer_room(buffer *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : n > (1 << 16) ? n : 1 << 16; /* a first reservation is exact */
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return NULL;
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

/* A JSON value of the event: absent, null, a string (decoded later), a number, or anything else. */
enum { V_ABSENT, V_NULL, V_STRING, V_INT, V_OTHER };

#define MAX_TAGS 64

typedef struct {
    int kind;
    field s;              /* V_STRING: the content; V_INT: the token */
    const uchar *dec;     /* the decoded string */
    size_t dec_n;
} value;

typedef struct {
    value error, component, ts, id, event_id, tags;
    int ntags;
    value tag[MAX_TAGS];
} ievent;

enum { IK_OTHER, IK_ERROR, IK_COMPONENT, IK_TAGS, IK_TS, IK_ID, IK_EVENT_ID };

static int ikey(const uchar *k, size_t n)
{
    if (IS_KEY(k, n, "error"))
        return IK_ERROR;
    if (IS_KEY(k, n, "component"))
        return IK_COMPONENT;
    if (IS_KEY(k, n, "tags"))
        return IK_TAGS;
    if (IS_KEY(k, n, "ts"))
        return IK_TS;
    if (IS_KEY(k, n, "id"))
        return IK_ID;
    if (IS_KEY(k, n, "event_id"))
        return IK_EVENT_ID;
    return IK_OTHER;
}

/* A value we read: null, string or integer noted, anything else validated and marked other. */
static const uchar *scan_ivalue(const uchar *p, const uchar *end, value *v)
{
    const uchar *q;
    if (p >= end)
        return NULL;
    if (*p == '"') {
        v->kind = V_STRING;
        return scan_field(p, end, &v->s);
    }
    if (*p == 'n') {
        v->kind = V_NULL;
        return scan_literal(p, end, "null", 4);
    }
    if (*p == '-' || is_digit(*p)) {
        if (!(q = scan_number(p, end)))
            return NULL;
        v->kind = V_INT;
        for (const uchar *c = p; c < q; c++)
            if (*c == '.' || *c == 'e' || *c == 'E')
                v->kind = V_OTHER;
        v->s.p = p;
        v->s.n = (size_t)(q - p);
        v->s.escaped = 0;
        return q;
    }
    v->kind = V_OTHER;
    return scan_value(p, end, 1);
}

/* The object at p ('{'); NULL unless it is strictly valid JSON whose keys have no escapes
 * and name each field we read at most once. */
static const uchar *scan_ievent(const uchar *p, const uchar *end, ievent *ev)
{
    ev->error.kind = ev->component.kind = ev->ts.kind = ev->id.kind = ev->event_id.kind = ev->tags.kind = V_ABSENT;
    ev->ntags = 0;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        field key;
        value *v = NULL;
        int closed;
        if (!(p = scan_key(p, end, &key)))
            return NULL;
        switch (ikey(key.p, key.n)) {
        case IK_ERROR: v = &ev->error; break;
        case IK_COMPONENT: v = &ev->component; break;
        case IK_TS: v = &ev->ts; break;
        case IK_ID: v = &ev->id; break;
        case IK_EVENT_ID: v = &ev->event_id; break;
        case IK_TAGS:
            if (ev->tags.kind != V_ABSENT || p >= end)
                return NULL;
            if (*p == '[') {
                ev->tags.kind = V_STRING; /* a list of strings */
                p = skip_ws(p + 1, end);
                if (p < end && *p == ']') {
                    p++;
                    break;
                }
                for (;;) {
                    if (ev->ntags == MAX_TAGS || p >= end || *p != '"')
                        return NULL;
                    value *t = &ev->tag[ev->ntags++];
                    t->kind = V_STRING;
                    if (!(p = scan_field(p, end, &t->s)))
                        return NULL;
                    p = skip_ws(p, end);
                    if (p < end && *p == ']') {
                        p++;
                        break;
                    }
                    if (p >= end || *p != ',')
                        return NULL;
                    p = skip_ws(p + 1, end);
                }
            } else if (!(p = scan_ivalue(p, end, &ev->tags))) {
                return NULL;
            } else if (ev->tags.kind != V_NULL) {
                ev->tags.kind = V_OTHER; /* not a list */
            }
            break;
        default:
            if (!(p = scan_value(p, end, 1)))
                return NULL;
        }
        if (v && (v->kind != V_ABSENT || !(p = scan_ivalue(p, end, v))))
            return NULL;
        if (!(p = next_member(p, end, &closed)))
            return NULL;
        if (closed)
            return p;
    }
}

/* ---- timestamps: the strict ISO 8601 form and integer epochs, rendered as datetime.isoformat() */

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int digits(const uchar *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

typedef struct {
    int y, mo, d, h, mi, s, us, off; /* off: minutes east of UTC */
    int64_t day;                      /* the UTC date, days since 1970-01-01 */
    int64_t pg;                       /* microseconds since 2000-01-01 UTC: timestamptz's binary form */
} stamp;

#define PG_EPOCH 946684800LL /* 2000-01-01 in Unix seconds */

/* "YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}][Z|z|+HH:MM|-HH:MM]" (no zone: UTC); 0 when not of that form. */
static int parse_iso(const uchar *p, size_t n, stamp *t)
{
    const uchar *e = p + n, *q;
    if (n < 19 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ') || p[13] != ':' || p[16] != ':')
        return 0;
    t->y = digits(p, 4), t->mo = digits(p + 5, 2), t->d = digits(p + 8, 2);
    t->h = digits(p + 11, 2), t->mi = digits(p + 14, 2), t->s = digits(p + 17, 2);
    if (t->y < 1000 || t->y > 9998 || t->mo < 1 || t->mo > 12 || t->d < 1 || t->d > days_in_month(t->y, t->mo) ||
        t->h < 0 || t->h > 23 || t->mi < 0 || t->mi > 59 || t->s < 0 || t->s > 59)
        return 0;
    q = p + 19;
    t->us = 0;
    if (q < e && *q == '.') {
        int k = 0;
        for (q++; q < e && is_digit(*q) && k < 6; q++, k++)
            t->us = t->us * 10 + (*q - '0');
        if (k == 0 || (q < e && is_digit(*q)))
            return 0;
        for (; k < 6; k++)
            t->us *= 10;
    }
    t->off = 0;
    if (q < e && (*q == 'Z' || *q == 'z')) {
        q++;
    } else if (q < e && (*q == '+' || *q == '-')) {
        int oh, om;
        if (e - q != 6 || q[3] != ':' || (oh = digits(q + 1, 2)) < 0 || (om = digits(q + 4, 2)) < 0 || oh > 23 ||
            om > 59)
            return 0;
        t->off = (*q == '-' ? -1 : 1) * (oh * 60 + om);
        q += 6;
    }
    if (q != e)
        return 0;
    int64_t minutes = (days_from_civil(t->y, t->mo, t->d) * 24 + t->h) * 60 + t->mi - t->off;
    t->day = minutes >= 0 ? minutes / 1440 : -((-minutes + 1439) / 1440);
    t->pg = ((minutes * 60 + t->s) - PG_EPOCH) * 1000000 + t->us;
    return 1;
}

/* An integer epoch: seconds, or milliseconds when over 1e11 (events.parse_ts). Only what
 * cannot round differently from datetime.fromtimestamp(float): 0 .. 2^32 seconds. */
static int parse_epoch(const uchar *p, size_t n, stamp *t)
{
    int64_t v = 0, seconds, us;
    if (n == 0 || n > 15 || *p == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    if (v > 100000000000LL) {
        seconds = v / 1000;
        us = v % 1000 * 1000;
    } else {
        seconds = v;
        us = 0;
    }
    if (seconds >= (1LL << 32))
        return 0;
    t->day = seconds / 86400;
    civil_from_days(t->day, &t->y, &t->mo, &t->d);
    t->h = (int)(seconds % 86400 / 3600), t->mi = (int)(seconds % 3600 / 60), t->s = (int)(seconds % 60);
    t->us = (int)us;
    t->off = 0;
    t->pg = (seconds - PG_EPOCH) * 1000000 + us;
    return 1;
}

static char *put_digits(char *out, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
    return out + n;
}

/* datetime.isoformat() of an aware datetime; the number of bytes written (at most 32). */
static int format_stamp(const stamp *t, char *out)
{
    char *o = out;
    int off = t->off < 0 ? -t->off : t->off;
    o = put_digits(o, t->y, 4);
    *o++ = '-';
    o = put_digits(o, t->mo, 2);
    *o++ = '-';
    o = put_digits(o, t->d, 2);
    *o++ = 'T';
    o = put_digits(o, t->h, 2);
    *o++ = ':';
    o = put_digits(o, t->mi, 2);
    *o++ = ':';
    o = put_digits(o, t->s, 2);
    if (t->us) {
        *o++ = '.';
        o = put_digits(o, t->us, 6);
    }
    *o++ = t->off < 0 ? '-' : '+';
    o = put_digits(o, off / 60, 2);
    *o++ = ':';
    o = put_digits(o, off % 60, 2);
    return (int)(o - out);
}

/* ---- rendering */

/* Bytes Python's str.isspace() holds among ASCII. */
static inline int py_space(uchar c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

/* COPY's binary format is big-endian. */
static char *put32(char *out, int64_t v)
{
    for (int i = 3; i >= 0; i--)
        *out++ = (char)((uint64_t)v >> (8 * i));
    return out;
}

static char *put64(char *out, int64_t v)
{
    for (int i = 7; i >= 0; i--)
        *out++ = (char)((uint64_t)v >> (8 * i));
    return out;
}

/* A text field: its length, then its bytes. */
static char *put_text(char *out, const uchar *p, size_t n)
{
    out = put32(out, (int64_t)n);
    memcpy(out, p, n);
    return out + n;
}

#define TEXT_OID 25

/* json.encoder.encode_basestring_ascii of UTF-8 text (which holds no surrogates). */
static char *json_ascii(char *out, const uchar *p, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    const uchar *e = p + n;
    *out++ = '"';
    while (p < e) {
        uint32_t c = *p;
        int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (len == 2)
            c = (c & 0x1F) << 6 | (p[1] & 0x3F);
        else if (len == 3)
            c = (c & 0x0F) << 12 | (p[1] & 0x3F) << 6 | (p[2] & 0x3F);
        else if (len == 4)
            c = (c & 0x07) << 18 | (p[1] & 0x3F) << 12 | (p[2] & 0x3F) << 6 | (p[3] & 0x3F);
        p += len;
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c >= 0x20 && c < 0x7F) {
            *out++ = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
            *out++ = '\\';
            *out++ = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f';
        } else {
            uint32_t units[2];
            int k = 0;
            if (c >= 0x10000) {
                c -= 0x10000;
                units[k++] = 0xD800 | (c >> 10);
                units[k++] = 0xDC00 | (c & 0x3FF);
            } else {
                units[k++] = c;
            }
            for (int i = 0; i < k; i++) {
                *out++ = '\\';
                *out++ = 'u';
                for (int shift = 12; shift >= 0; shift -= 4)
                    *out++ = hexd[(units[i] >> shift) & 15];
            }
        }
    }
    *out++ = '"';
    return out;
}

typedef struct {
    scanner sc;      /* distinct messages, components and pairs; records, slow lines, lines read */
    buffer rows;     /* the rendered row starts */
    buffer scratch;  /* the current line's decoded strings */
    buffer material; /* the current line's key material */
    vec days;        /* UTC days of the rows with a ts, each run of equal days once */
    int stamped;     /* some row has no ts (stamped `now`) */
} ingester;

static void ingester_free(ingester *g)
{
    scanner_free(&g->sc);
    free(g->rows.p);
    free(g->scratch.p);
    free(g->material.p);
    free(g->days.v);
}

/* Decode a string value into the scratch buffer (room reserved by the caller); 0 when it
 * holds a NUL, which the Python path replaces (strip_nul): left to it. */
static int decode_value(ingester *g, value *v)
{
    if (!v->s.escaped) {
        v->dec = v->s.p;
        v->dec_n = v->s.n;
        return 1; /* an unescaped JSON string holds no control character, so no NUL */
    }
    char *out = g->scratch.p + g->scratch.len;
    v->dec_n = unescape(v->s.p, v->s.n, out);
    v->dec = (const uchar *)out;
    g->scratch.len += v->dec_n;
    return memchr(out, 0, v->dec_n) == NULL;
}

/* Index of the decoded string v in s, kept in the arena when new and decoded. */
static int64_t intern_value(ingester *g, strings *s, const value *v)
{
    int added;
    uint64_t h = hash_bytes((const char *)v->dec, v->dec_n);
    int64_t i = intern(s, (const char *)v->dec, v->dec_n, h, &added);
    if (i >= 0 && added && v->s.escaped) {
        char *copy = arena_reserve(&g->sc.decoded, v->dec_n ? v->dec_n : 1);
        if (!copy)
            return -1;
        memcpy(copy, v->dec, v->dec_n);
        arena_commit(&g->sc.decoded, v->dec_n);
        s->items[i].p = copy;
    }
    return i;
}

/* One line: 1 taken (rendered), 0 slow, -1 out of memory. */
static int ingest_line(ingester *g, const uchar *s, const uchar *e, int64_t number, const uchar *origin,
                       size_t origin_n, int64_t now_pg)
{
    ievent ev;
    stamp t = {0};
    char ts[40];
    size_t ts_n;
    const uchar *obj = skip_ws(s, e), *close;
    if (obj >= e || *obj != '{' || !(close = scan_ievent(obj, e, &ev)) || skip_ws(close, e) != e)
        return 0;
    if (ev.error.kind != V_STRING || (ev.component.kind != V_STRING && ev.component.kind > V_NULL) ||
        (ev.tags.kind != V_STRING && ev.tags.kind > V_NULL))
        return 0;
    value *id = ev.event_id.kind != V_ABSENT ? &ev.event_id : &ev.id;
    if (id->kind > V_INT)
        return 0;
    /* the strings, decoded */
    size_t room = ev.error.s.n + (ev.component.kind == V_STRING ? ev.component.s.n : 0) +
                  (id->kind == V_STRING ? id->s.n : 0);
    for (int i = 0; i < ev.ntags; i++)
        room += ev.tag[i].s.n;
    g->scratch.len = 0;
    if (!buffer_room(&g->scratch, room + 1))
        return -1;
    if (!decode_value(g, &ev.error) || (ev.component.kind == V_STRING && !decode_value(g, &ev.component)) ||
        (id->kind == V_STRING && !decode_value(g, id)))
        return 0;
    for (int i = 0; i < ev.ntags; i++)
        if (!decode_value(g, &ev.tag[i]))
            return 0;
    int visible = 0; /* 'error' is not empty after strip(): sure when an ASCII character is not space */
    for (size_t i = 0; !visible && i < ev.error.dec_n; i++)
        visible = ev.error.dec[i] < 0x80 && !py_space(ev.error.dec[i]);
    if (!visible)
        return 0;
    /* ts */
    if (ev.ts.kind == V_STRING) {
        if (ev.ts.s.escaped || !parse_iso(ev.ts.s.p, ev.ts.s.n, &t))
            return 0;
    } else if (ev.ts.kind == V_INT) {
        if (!parse_epoch(ev.ts.s.p, ev.ts.s.n, &t))
            return 0;
    } else if (ev.ts.kind > V_NULL) {
        return 0;
    }
    int has_ts = ev.ts.kind == V_STRING || ev.ts.kind == V_INT;
    ts_n = has_ts ? (size_t)format_stamp(&t, ts) : 0;
    /* the key */
    sha256 sh;
    uchar key[16];
    g->material.len = 0;
    if (id->kind == V_STRING || id->kind == V_INT) {
        const uchar *ip = id->kind == V_STRING ? id->dec : id->s.p;
        size_t in = id->kind == V_STRING ? id->dec_n : id->s.n;
        if (id->kind == V_INT && in == 2 && ip[0] == '-' && ip[1] == '0') /* str(int("-0")) */
            ip++, in--;
        char *m = buffer_room(&g->material, 8 + 12 * in + 1);
        if (!m)
            return -1;
        memcpy(m, "[\"id\", ", 7);
        m = json_ascii(m + 7, ip, in);
        *m++ = ']';
        g->material.len = (size_t)(m - g->material.p);
    } else {
        /* json.dumps([origin:number, ts, component, error, tags], ensure_ascii=False) */
        size_t need = origin_n + 32 + ts_n + 16 + 6 * room + 8 * (size_t)ev.ntags + 16;
        char *m = buffer_room(&g->material, need), *m0 = m;
        if (!m)
            return -1;
        *m++ = '[';
        memcpy(m, origin, origin_n);
        m += origin_n;
        m += sprintf(m, ":%lld\", ", (long long)number); /* only for events without an id */
        if (has_ts) {
            *m++ = '"';
            memcpy(m, ts, ts_n);
            m += ts_n;
            *m++ = '"';
        } else {
            memcpy(m, "null", 4);
            m += 4;
        }
        memcpy(m, ", ", 2);
        m += 2;
        if (ev.component.kind == V_STRING) {
            m = quote_into(m, ev.component.dec, ev.component.dec + ev.component.dec_n);
        } else {
            memcpy(m, "null", 4);
            m += 4;
        }
        memcpy(m, ", ", 2);
        m = quote_into(m + 2, ev.error.dec, ev.error.dec + ev.error.dec_n);
        memcpy(m, ", ", 2);
        m += 2;
        if (ev.tags.kind == V_STRING) {
            *m++ = '[';
            for (int i = 0; i < ev.ntags; i++) {
                if (i) {
                    memcpy(m, ", ", 2);
                    m += 2;
                }
                m = quote_into(m, ev.tag[i].dec, ev.tag[i].dec + ev.tag[i].dec_n);
            }
            *m++ = ']';
        } else {
            memcpy(m, "null", 4);
            m += 4;
        }
        *m++ = ']';
        g->material.len = (size_t)(m - m0);
    }
    sha256_init(&sh);
    sha256_update(&sh, (const uchar *)g->material.p, g->material.len);
    sha256_uuid(&sh, key);
    /* the row's start in COPY's binary format: field count, ts, error, tags, event key */
    size_t tags_n = 20;
    for (int i = 0; i < ev.ntags; i++)
        tags_n += 4 + ev.tag[i].dec_n;
    char *r = buffer_room(&g->rows, 2 + 12 + 4 + ev.error.dec_n + 4 + tags_n + 20);
    if (!r)
        return -1;
    char *r0 = r;
    *r++ = 0;
    *r++ = 9;
    r = put64(put32(r, 8), has_ts ? t.pg : now_pg);
    r = put_text(r, ev.error.dec, ev.error.dec_n);
    if (ev.tags.kind == V_STRING) { /* array_send: dimensions, no-nulls flag, element type, (size, lower bound) */
        r = put32(r, (int64_t)(tags_n - (ev.ntags ? 0 : 8)));
        r = put32(put32(put32(r, ev.ntags ? 1 : 0), 0), TEXT_OID);
        if (ev.ntags)
            r = put32(put32(r, ev.ntags), 1);
        for (int i = 0; i < ev.ntags; i++)
            r = put_text(r, ev.tag[i].dec, ev.tag[i].dec_n);
    } else {
        r = put32(r, -1);
    }
    r = put_text(r, key, 16);
    /* the pair */
    int64_t message = intern_value(g, &g->sc.messages, &ev.error), component = -1, pair;
    if (message < 0 || (ev.component.kind == V_STRING && (component = intern_value(g, &g->sc.components, &ev.component)) < 0))
        return -1;
    if ((pair = count_pair(&g->sc.pairs, &g->sc.messages.items[message], message, component, 1)) < 0)
        return -1;
    size_t start = g->rows.len;
    g->rows.len += (size_t)(r - r0);
    if (vec_push3(&g->sc.records, pair, (int64_t)start, (int64_t)g->rows.len) < 0)
        return -1;
    if (has_ts) {
        if ((!g->days.len || g->days.v[g->days.len - 1] != t.day) && vec_push1(&g->days, t.day) < 0)
            return -1;
    } else {
        g->stamped = 1;
    }
    return 1;
}

/* Bytes bytes.strip() removes. */
static inline int bytes_space(uchar c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static PyObject *int64_list(const vec *v)
{
    PyObject *list = PyList_New(v->len);
    for (Py_ssize_t i = 0; list && i < v->len; i++) {
        PyObject *x = PyLong_FromLongLong(v->v[i]);
        if (!x)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, x);
    }
    return list;
}

static PyObject *ingest_scan(PyObject *Py_UNUSED(self), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"data", "origin", "now", "first_line", NULL};
    Py_buffer data, origin;
    long long now = 0;
    long long first = 1;
    int failed = 0;
    ingester g;
    memset(&g, 0, sizeof(g));
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*y*L|L:ingest_scan", keywords, &data, &origin, &now, &first))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    /* rows come to about the size of their JSON: room for it up front, so the buffer is not
     * doubled past it (which a chunk's peak memory would show) */
    failed = strings_init(&g.sc.messages) < 0 || strings_init(&g.sc.components) < 0 ||
             !buffer_room(&g.rows, (size_t)data.len + 4096);
    const uchar *base = data.buf, *p = base, *end = base + data.len;
    int64_t number = first - 1;
    while (!failed && p < end) {
        const uchar *nl = memchr(p, '\n', (size_t)(end - p));
        const uchar *e = nl ? nl : end, *next = nl ? nl + 1 : end, *q = p;
        number++;
        while (q < e && bytes_space(*q))
            q++;
        if (q < e) {
            int r = ingest_line(&g, p, e, number, origin.buf, (size_t)origin.len, now);
            if (r < 0)
                failed = 1;
            else if (r == 0)
                failed = vec_push3(&g.sc.slow, number, p - base, next - base) < 0 ||
                         vec_push3(&g.sc.records, -g.sc.slow.len / 3, 0, 0) < 0;
        }
        p = next;
    }
    g.sc.lines = number - (first - 1);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL, *scanned = failed ? PyErr_NoMemory() : scan_result(&g.sc);
    PyObject *rows = scanned ? PyBytes_FromStringAndSize(g.rows.p ? g.rows.p : "", (Py_ssize_t)g.rows.len) : NULL;
    PyObject *days = rows ? int64_list(&g.days) : NULL;
    if (days)
        result = Py_BuildValue("(OOOOOOOOOL)", PyTuple_GET_ITEM(scanned, 0), PyTuple_GET_ITEM(scanned, 1),
                               PyTuple_GET_ITEM(scanned, 2), PyTuple_GET_ITEM(scanned, 3), PyTuple_GET_ITEM(scanned, 4),
                               PyTuple_GET_ITEM(scanned, 5), rows, days, g.stamped ? Py_True : Py_False,
                               (long long)g.sc.lines);
    Py_XDECREF(scanned);
    Py_XDECREF(rows);
    Py_XDECREF(days);
    ingester_free(&g);
    PyBuffer_Release(&data);
    PyBuffer_Release(&origin);
    return result;
}

/* ---------------------------------------------------------------- module */

PyDoc_STRVAR(scan_doc,
"scan(data, text=False, threads=1) -> (messages, pair_message, pair_component, pair_count, records, slow)\n\n"
"Split data into lines (\\n, \\r\\n or \\r) and reduce the plain events to distinct\n"
"(message, component) pairs, on up to `threads` threads for a large input (the result\n"
"is the same). With text=True every line is a message, plain when it is UTF-8.\n\n"
"messages: the distinct error strings. Per pair: pair_message (index into messages),\n"
"pair_component (str or None) and pair_count (lines). records: native int64 triples\n"
"(ref, start, stop), one per output line in order; ref >= 0 is a pair, data[start:stop]\n"
"the object without its closing brace and the whitespace before it (text=True: the\n"
"line); ref < 0 is slow[-1 - ref]. slow: (line number, start, stop) of each line the\n"
"json module must read. Blank lines have neither.");

PyDoc_STRVAR(splice_doc,
"splice(data, records, pieces, literals, *, prefix=b'', quote=False, size=4 MiB) -> iterator of bytes\n\n"
"The output of the records, in chunks of whole lines of about size bytes: for each\n"
"record (ref, start, stop), prefix + data[start:stop] + pieces[ref] when ref >= 0,\n"
"else literals[-1 - ref]. pieces and literals hold bytes. quote=True writes the span\n"
"as json.dumps(span.decode(), ensure_ascii=False) does (the span must be UTF-8).");

PyDoc_STRVAR(ingest_scan_doc,
"ingest_scan(data, origin, now, first_line=1) -> (messages, pair_message, pair_component, pair_count,\n"
"                                                records, slow, rows, days, stamped, lines)\n\n"
"The lines of data (split at \\n, numbered from first_line) as `skillsmith ingest` stores them.\n"
"origin: the JSON text of the events' origin without its closing quote (the key of an event\n"
"without an id); now: the ts of events without one, in microseconds since 2000-01-01 UTC.\n"
"The first six are scan()'s: messages, the distinct errors; per pair (message, component)\n"
"pair_message, pair_component, pair_count; records: native int64 triples (ref, start, stop)\n"
"for splice(), one per non-blank line in order, ref >= 0 a pair, ref < 0 slow[-1 - ref]; slow:\n"
"(line number, start, stop) of each line events.parse_line must read, its line end included.\n"
"rows: the start of each taken line's row in COPY's binary format (the field count, then ts,\n"
"error, tags, event_key). days: UTC days (since 1970-01-01) of the taken rows' ts, each run\n"
"once; stamped: whether a taken row had no ts; lines: the lines read, blank ones included.");

/* ---------------------------------------------------------------- count_lines
 * The line ends of a chunk, as universal-newline reading splits lines: `skillsmith group` numbers
 * each chunk's lines from the ends before it. memchr finds them many bytes at a time (bytes.count
 * took 0.1 s over a 270 MB input). */

static PyObject *count_lines(PyObject *Py_UNUSED(self), PyObject *arg)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *p = data.buf, *end = p + data.len, *at;
    Py_ssize_t lines = 0;
    Py_BEGIN_ALLOW_THREADS
    for (at = p; at < end && (at = memchr(at, '\n', (size_t)(end - at))) != NULL; at++)
        lines++;
    for (at = p; at < end && (at = memchr(at, '\r', (size_t)(end - at))) != NULL; at++)
        lines += at + 1 == end || at[1] != '\n'; /* \r\n is one end, counted at its \n */
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(lines);
}

static PyMethodDef methods[] = {
    {"count_lines", count_lines, METH_O,
     "count_lines(data) -> the line ends in data: \\n, \\r\\n and a lone \\r each end a line, as in "
     "universal-newline reading"},
    {"ingest_scan", (PyCFunction)(void (*)(void))ingest_scan, METH_VARARGS | METH_KEYWORDS, ingest_scan_doc},
    {"scan", (PyCFunction)(void (*)(void))scan, METH_VARARGS | METH_KEYWORDS, scan_doc},
    {"splice", (PyCFunction)(void (*)(void))splice, METH_VARARGS | METH_KEYWORDS, splice_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_jsonl",
    .m_doc = "JSON-lines scanning and output splicing for `skillsmith group` and `skillsmith ingest`.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__jsonl(void)
{
    if (PyType_Ready(&SpliceType) < 0)
        return NULL;
    return PyModule_Create(&module);
}
