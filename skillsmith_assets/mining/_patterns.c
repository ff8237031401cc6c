/* Pass 1 of pattern merging (positions), compiled: the same parts as grouping._positional_parts.
 *
 * Why: `skillsmith group` on an input where a third of the events stay distinct after
 * normalization merges hundreds of thousands of signatures, and the Python pass spends
 * most of its time in per-token dictionary and tuple work. Here tokens are interned to
 * ints once, a template is an int array, and the (position, token) index is a hash table
 * of cluster lists. The algorithm and every ordering are those of grouping.py, which
 * stays the reference (and the fallback); tests compare the two on generated inputs.
 *
 * positional_parts(messages, weights, min_variable_values, min_rare_values, rare_weight,
 *                  similarity, values_by_shape) -> [(members, template tokens), ...]
 * over all token counts in increasing order, as merge_patterns concatenates them; messages
 * are a list of str or a Texts (below), the compact store `skillsmith group` keeps them in.
 */
#include "_texts.h"
#include <math.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* Code point order of two tokens (UTF-8 byte order is code point order), as Python compares str. */
static int tok_cmp(const Vocab *v, int a, int b) {
    if (a == b) return 0;
    const Tok *x = &v->toks[a], *y = &v->toks[b];
    Py_ssize_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, (size_t)n);
    if (c) return c;
    return x->n < y->n ? -1 : (x->n > y->n);
}

/* Token ranks a bucket's sort copies out at most (4 bytes each): a larger bucket is sorted
 * reading its ranks through the token ids, so merging never holds its tokens twice over. */
#define SORT_ROWS ((Py_ssize_t)1 << 22)

typedef struct {
    Vocab vocab;
    int *flat;             /* every message's token ids */
    Py_ssize_t *start;     /* where message i's tokens begin in flat */
    int *width;
    long long *weight;
    Py_ssize_t n;
    /* rules */
    int min_variable, min_rare, values_by_shape;
    long long rare_weight;
    double similarity;
    /* scratch per token id, for counting a slot's values */
    int *stamp, *count;
    long long *wsum;
    int mark;
    int *rank; /* per token id: its place in code point order, so sorts compare ints, not texts */
    Py_ssize_t sort_rows; /* the most token ranks a bucket's sort copies out */
} Ctx;

/* qsort has no context argument; the sorts run without the GIL, so one per thread */
#if defined(_MSC_VER)
static __declspec(thread) Ctx *sort_ctx;
#else
static _Thread_local Ctx *sort_ctx;
#endif

/* What a bucket's sort compares, per bucket position: weight, message number, and the token
 * ranks, copied out in rows of `width` (ranks NULL: read through c's tokens, for a bucket too
 * large to copy). */
typedef struct {
    const long long *weight;
    const int *number, *ranks;
    int width;
    const Ctx *c;
} SortKeys;

/* Whether bucket position a goes before b: heavier first, then by token ranks (code point
 * order of the texts), then by message number. */
static inline int goes_before(const SortKeys *s, int a, int b) {
    if (s->weight[a] != s->weight[b]) return s->weight[a] > s->weight[b];
    if (s->ranks) {
        const int *x = s->ranks + (size_t)a * s->width, *y = s->ranks + (size_t)b * s->width;
        for (int k = 0; k < s->width; k++)
            if (x[k] != y[k]) return x[k] < y[k];
    } else {
        const int *x = s->c->flat + s->c->start[s->number[a]], *y = s->c->flat + s->c->start[s->number[b]];
        for (int k = 0; k < s->width; k++)
            if (x[k] != y[k]) return s->c->rank[x[k]] < s->c->rank[y[k]];
    }
    return s->number[a] < s->number[b];
}

/* Sorts pos[0..n) (bucket positions) with goes_before: a merge sort, small runs by insertion. */
static void sort_positions(int *pos, int *tmp, int n, const SortKeys *s) {
    if (n <= 16) {
        for (int i = 1; i < n; i++) {
            int p = pos[i], j = i;
            for (; j > 0 && goes_before(s, p, pos[j - 1]); j--) pos[j] = pos[j - 1];
            pos[j] = p;
        }
        return;
    }
    int half = n / 2;
    sort_positions(pos, tmp, half, s);
    sort_positions(pos + half, tmp, n - half, s);
    if (!goes_before(s, pos[half], pos[half - 1])) return; /* already in order */
    memcpy(tmp, pos, (size_t)half * sizeof(int));
    int i = 0, j = half, k = 0;
    while (i < half && j < n) pos[k++] = goes_before(s, pos[j], tmp[i]) ? pos[j++] : tmp[i++];
    while (i < half) pos[k++] = tmp[i++];
}

/* order := the bucket's messages `ids` heaviest first, then in text order (token ranks), then by
 * number. The weights, and the ranks of a bucket of at most c->sort_rows tokens, are copied out
 * per position first, so a comparison reads short rows and no function pointer (qsort's calls
 * and lookups were a third of merging). -1 out of memory. */
static int sort_bucket(const Ctx *c, const int *ids, int n, int width, int *order) {
    int copy = (Py_ssize_t)n * width <= c->sort_rows;
    int *ranks = copy ? malloc(((size_t)n * width + 1) * sizeof(int)) : NULL, *pos = malloc((size_t)n * sizeof(int));
    int *tmp = malloc((size_t)(n / 2 + 1) * sizeof(int));
    long long *weight = malloc((size_t)n * sizeof(long long));
    if ((copy && !ranks) || !pos || !tmp || !weight) {
        free(ranks), free(pos), free(tmp), free(weight);
        return -1;
    }
    for (int p = 0; p < n; p++) {
        const int *t = c->flat + c->start[ids[p]];
        for (int k = 0; copy && k < width; k++) ranks[(size_t)p * width + k] = c->rank[t[k]];
        weight[p] = c->weight[ids[p]];
        pos[p] = p;
    }
    SortKeys keys = {weight, ids, ranks, width, c};
    sort_positions(pos, tmp, n, &keys);
    for (int p = 0; p < n; p++) order[p] = ids[pos[p]];
    free(ranks), free(pos), free(tmp), free(weight);
    return 0;
}

static int by_int(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a > b) - (a < b);
}

static int by_token_text(const void *pa, const void *pb) {
    return tok_cmp(&sort_ctx->vocab, *(const int *)pa, *(const int *)pb);
}

static int by_token_rank(const void *pa, const void *pb) {
    int a = sort_ctx->rank[*(const int *)pa], b = sort_ctx->rank[*(const int *)pb];
    return (a > b) - (a < b);
}

/* c->rank of every token interned (sort_ctx must be c): a few hundred distinct tokens are
 * compared millions of times when the messages of a width are sorted. */
static int rank_tokens(Ctx *c) {
    int n = c->vocab.count, *order = malloc(((size_t)n + 1) * sizeof(int));
    c->rank = malloc(((size_t)n + 1) * sizeof(int));
    if (!order || !c->rank) {
        free(order);
        return -1;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    qsort(order, (size_t)n, sizeof(int), by_token_text);
    for (int i = 0; i < n; i++) c->rank[order[i]] = i;
    free(order);
    return 0;
}

/* (position, token) -> clusters whose template held that token there when they were made.
 * Entries are never removed: a reader skips a cluster whose template has since turned into
 * the wildcard there (a template position never turns back). */
typedef struct {
    uint64_t *keys; /* pos << 32 | token, + 1; 0 = empty */
    IntVec *lists;
    size_t mask, used;
} Index;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33, x *= 0xff51afd7ed558ccdULL, x ^= x >> 33;
    return x;
}

static int index_grow(Index *ix) {
    size_t size = ix->keys ? (ix->mask + 1) * 2 : 1024;
    uint64_t *keys = calloc(size, sizeof(uint64_t));
    IntVec *lists = calloc(size, sizeof(IntVec));
    if (!keys || !lists) {
        free(keys), free(lists);
        return -1;
    }
    if (ix->keys) {
        for (size_t i = 0; i <= ix->mask; i++) {
            if (!ix->keys[i]) continue;
            size_t at = mix(ix->keys[i]) & (size - 1);
            while (keys[at]) at = (at + 1) & (size - 1);
            keys[at] = ix->keys[i], lists[at] = ix->lists[i];
        }
    }
    free(ix->keys), free(ix->lists);
    ix->keys = keys, ix->lists = lists, ix->mask = size - 1;
    return 0;
}

static IntVec *index_get(Index *ix, int pos, int tok, int create) {
    if (!ix->keys) {
        if (!create) return NULL;
        if (index_grow(ix) < 0) return NULL;
    }
    uint64_t key = (((uint64_t)pos << 32) | (uint32_t)tok) + 1;
    size_t at = mix(key) & ix->mask;
    while (ix->keys[at]) {
        if (ix->keys[at] == key) return &ix->lists[at];
        at = (at + 1) & ix->mask;
    }
    if (!create) return NULL;
    if ((ix->used + 1) * 2 > ix->mask + 1) {
        if (index_grow(ix) < 0) return NULL;
        return index_get(ix, pos, tok, create);
    }
    ix->keys[at] = key, ix->used++;
    return &ix->lists[at];
}

static void index_free(Index *ix) {
    if (ix->keys)
        for (size_t i = 0; i <= ix->mask; i++) free(ix->lists[i].items);
    free(ix->keys), free(ix->lists);
}

typedef struct {
    int len, pos;
} Probe;

static int by_probe(const void *pa, const void *pb) {
    const Probe *a = pa, *b = pb;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* grouping._clusters over one bucket: each message, heaviest first then in text order, joins
 * the cluster (lowest number among equals) whose template shares the most positions with it,
 * if at least `need`. Fills `members` (one IntVec per cluster, made in order); -1 out of memory. */
static int clusters(Ctx *c, int *ids, int n, IntVec **out_members, int *out_count) {
    int width = c->width[ids[0]];
    int *order = malloc((size_t)n * sizeof(int));
    Probe *probes = malloc((size_t)width * sizeof(Probe));
    IntVec templates = {0};
    IntVec *members = NULL;
    int count = 0, cap = 0, *seen = NULL, rc = -1;
    Index ix = {0};
    if (!order || !probes || sort_bucket(c, ids, n, width, order) < 0) goto done;
    int need = (int)ceil(c->similarity * width);
    if (need < 1) need = 1;
    for (int o = 0; o < n; o++) {
        int m = order[o];
        const int *t = c->flat + c->start[m];
        for (int p = 0; p < width; p++) {
            IntVec *list = index_get(&ix, p, t[p], 0);
            probes[p] = (Probe){list ? list->len : 0, p};
        }
        if (width <= 32) { /* a few probes: sorted in place, not through qsort's calls */
            for (int i = 1; i < width; i++) {
                Probe x = probes[i];
                int j = i;
                for (; j > 0 && (probes[j - 1].len > x.len || (probes[j - 1].len == x.len && probes[j - 1].pos > x.pos));
                     j--)
                    probes[j] = probes[j - 1];
                probes[j] = x;
            }
        } else {
            qsort(probes, (size_t)width, sizeof(Probe), by_probe);
        }
        int best = -1, best_same = need - 1;
        for (int k = 0; k < width - need + 1; k++) {
            int p = probes[k].pos;
            if (t[p] == WILD) continue;
            IntVec *list = index_get(&ix, p, t[p], 0);
            if (!list) continue;
            for (int j = 0; j < list->len; j++) {
                int cl = list->items[j];
                const int *tmpl = templates.items + (size_t)cl * width;
                if (tmpl[p] != t[p] || seen[cl] == o + 1) continue;
                seen[cl] = o + 1;
                int same = 0;
                for (int q = 0; q < width; q++) same += (tmpl[q] == t[q] && tmpl[q] != WILD);
                if (same > best_same || (best >= 0 && same == best_same && cl < best)) best = cl, best_same = same;
            }
        }
        if (best < 0) {
            if (count == cap) {
                cap = cap ? cap * 2 : 16;
                IntVec *grown = realloc(members, (size_t)cap * sizeof(IntVec));
                int *grown_seen = realloc(seen, (size_t)cap * sizeof(int));
                if (grown) members = grown;
                if (grown_seen) seen = grown_seen;
                if (!grown || !grown_seen) goto done;
            }
            members[count] = (IntVec){0};
            seen[count] = 0;
            if (vec_push(&members[count], m) < 0) goto done;
            count++;
            for (int p = 0; p < width; p++) {
                if (vec_push(&templates, t[p]) < 0) goto done;
                if (t[p] == WILD) continue;
                IntVec *list = index_get(&ix, p, t[p], 1);
                if (!list || vec_push(list, count - 1) < 0) goto done;
            }
            continue;
        }
        if (vec_push(&members[best], m) < 0) goto done;
        int *tmpl = templates.items + (size_t)best * width;
        for (int p = 0; p < width; p++)
            if (tmpl[p] != t[p]) tmpl[p] = WILD;
    }
    rc = 0;
done:
    if (rc < 0) {
        for (int k = 0; k < count; k++) free(members[k].items);
        free(members);
        members = NULL;
    }
    *out_members = members, *out_count = count;
    free(order), free(probes), free(templates.items), free(seen);
    index_free(&ix);
    return rc;
}

/* The distinct tokens at `pos` over `members`, counted into c->count / c->wsum. */
static int slot_values(Ctx *c, const IntVec *members, int pos, IntVec *values) {
    c->mark++;
    values->len = 0;
    for (int k = 0; k < members->len; k++) {
        int m = members->items[k], tok = c->flat[c->start[m] + pos];
        if (c->stamp[tok] != c->mark) {
            c->stamp[tok] = c->mark, c->count[tok] = 0, c->wsum[tok] = 0;
            if (vec_push(values, tok) < 0) return -1;
        }
        c->count[tok]++;
        c->wsum[tok] += c->weight[m];
    }
    return 0;
}

/* grouping._is_variable for a one-token slot. */
static int is_variable(const Ctx *c, const IntVec *values) {
    int distinct = values->len;
    if (distinct >= c->min_variable) return 1;
    if (c->values_by_shape) {
        int all = 1;
        for (int k = 0; k < distinct && all; k++) all = c->vocab.toks[values->items[k]].variable;
        if (all) return 1;
    }
    if (distinct < c->min_rare) return 0;
    int rare = 0;
    for (int k = 0; k < distinct; k++) {
        int tok = values->items[k];
        rare += c->count[tok] == 1 && c->wsum[tok] <= c->rare_weight;
    }
    return rare * 2 > distinct;
}

static PyObject *token_str(Ctx *c, PyObject **cache, int tok) {
    if (!cache[tok]) cache[tok] = PyUnicode_DecodeUTF8(c->vocab.toks[tok].s, c->vocab.toks[tok].n, "surrogatepass");
    Py_XINCREF(cache[tok]);
    return cache[tok];
}

/* A part made without the GIL, made a Python object after: its members and its template's
 * token ids (WILD where the members vary). */
typedef struct {
    IntVec members;
    int *tokens;
    int width;
} Part;

typedef struct {
    Part *items;
    Py_ssize_t len, cap;
} Parts;

static int parts_add(Parts *parts, const Ctx *c, IntVec members, const char *varying, int width) {
    if (parts->len == parts->cap) {
        Py_ssize_t cap = parts->cap ? parts->cap * 2 : 64;
        Part *items = realloc(parts->items, (size_t)cap * sizeof(Part));
        if (!items) return -1;
        parts->items = items, parts->cap = cap;
    }
    int *tokens = malloc(((size_t)width + 1) * sizeof(int));
    if (!tokens) return -1;
    const int *t = c->flat + c->start[members.items[0]];
    for (int p = 0; p < width; p++) tokens[p] = varying[p] ? WILD : t[p];
    parts->items[parts->len++] = (Part){members, tokens, width};
    return 0;
}

static void parts_free(Parts *parts) {
    for (Py_ssize_t i = 0; i < parts->len; i++) free(parts->items[i].members.items), free(parts->items[i].tokens);
    free(parts->items);
}

static PyObject *emit(Ctx *c, PyObject **cache, const Part *part) {
    PyObject *ids = PyList_New(part->members.len), *tokens = PyList_New(part->width);
    if (!ids || !tokens) goto fail;
    for (int k = 0; k < part->members.len; k++) {
        PyObject *i = PyLong_FromLong(part->members.items[k]);
        if (!i) goto fail;
        PyList_SET_ITEM(ids, k, i);
    }
    for (int p = 0; p < part->width; p++) {
        PyObject *s = token_str(c, cache, part->tokens[p]);
        if (!s) goto fail;
        PyList_SET_ITEM(tokens, p, s);
    }
    PyObject *made = PyTuple_Pack(2, ids, tokens);
    Py_DECREF(ids), Py_DECREF(tokens);
    return made;
fail:
    Py_XDECREF(ids), Py_XDECREF(tokens);
    return NULL;
}

/* grouping._positional_parts over one bucket; adds its parts to `out`. -1 out of memory (no
 * Python error set: this runs without the GIL). */
static int bucket_parts(Ctx *c, int *ids, int n, Parts *out) {
    IntVec *members = NULL, values = {0};
    int count = 0, rc = -1, width = c->width[ids[0]];
    if (clusters(c, ids, n, &members, &count) < 0) return -1;
    IntVec *stack = NULL;
    int depth = 0, cap = count > 16 ? count : 16;
    char *varying = malloc((size_t)width + 1);
    stack = malloc((size_t)cap * sizeof(IntVec));
    if (!stack || !varying) goto done;
    for (int k = 0; k < count; k++) {
        qsort(members[k].items, (size_t)members[k].len, sizeof(int), by_int);
        stack[depth++] = members[k];
        members[k] = (IntVec){0};
    }
    while (depth) {
        IntVec part = stack[--depth];
        int split_at = -1, split_count = 0;
        for (int p = 0; p < width; p++) {
            varying[p] = 0;
            if (slot_values(c, &part, p, &values) < 0) {
                free(part.items);
                goto done;
            }
            if (values.len == 1) continue;
            varying[p] = 1;
            if (!is_variable(c, &values) && (split_at < 0 || values.len < split_count))
                split_at = p, split_count = values.len;
        }
        if (split_at >= 0) {
            if (slot_values(c, &part, split_at, &values) < 0) {
                free(part.items);
                goto done;
            }
            sort_ctx = c;
            qsort(values.items, (size_t)values.len, sizeof(int), by_token_rank);
            if (depth + values.len > cap) {
                cap = (depth + values.len) * 2;
                IntVec *grown = realloc(stack, (size_t)cap * sizeof(IntVec));
                if (!grown) {
                    free(part.items);
                    goto done;
                }
                stack = grown;
            }
            /* c->count[tok] := the child's slot on the stack, for one pass over the members */
            for (int k = 0; k < values.len; k++) {
                stack[depth + k] = (IntVec){0};
                c->count[values.items[k]] = depth + k;
            }
            int failed = 0;
            for (int k = 0; k < part.len && !failed; k++) {
                int m = part.items[k];
                failed = vec_push(&stack[c->count[c->flat[c->start[m] + split_at]]], m) < 0;
            }
            depth += values.len;
            free(part.items);
            if (failed) goto done;
            continue;
        }
        if (parts_add(out, c, part, varying, width) < 0) {
            free(part.items);
            goto done;
        }
    }
    rc = 0;
done:
    while (depth) free(stack[--depth].items);
    for (int k = 0; k < count; k++) free(members[k].items);
    free(members), free(stack), free(varying), free(values.items);
    return rc;
}

static PyObject *texts_add(TextsObject *t, PyObject *text) {
    Py_ssize_t n;
    PyObject *owner;
    const char *s = utf8_of(text, &n, &owner);
    if (!s) return NULL;
    int id = texts_add_utf8(t, s, n);
    Py_XDECREF(owner);
    return id < 0 ? NULL : PyLong_FromLong(id);
}

static Py_ssize_t texts_len(TextsObject *t) { return t->vocab.count; }

static PyObject *texts_item(TextsObject *t, Py_ssize_t i) {
    if (i < 0 || i >= t->vocab.count) {
        PyErr_SetString(PyExc_IndexError, "text number out of range");
        return NULL;
    }
    Py_ssize_t n;
    const char *s = texts_at(t, i, &n);
    return PyUnicode_DecodeUTF8(s, n, "surrogatepass");
}

static void texts_dealloc(TextsObject *t) {
    for (Py_ssize_t k = 0; k < t->nblocks; k++) free(t->blocks[k]);
    free(t->blocks), free(t->vocab.toks), free(t->vocab.slots);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyMethodDef texts_methods[] = {
    {"add", (PyCFunction)texts_add, METH_O, "add(text) -> its number (a new text gets the next one)"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods texts_as_sequence = {
    .sq_length = (lenfunc)texts_len,
    .sq_item = (ssizeargfunc)texts_item,
};

PyTypeObject skillsmith_TextsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "skillsmith_assets.mining._patterns.Texts",
    .tp_basicsize = sizeof(TextsObject),
    .tp_dealloc = (destructor)texts_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Distinct strings numbered in order of first appearance, kept as UTF-8 in large blocks.",
    .tp_methods = texts_methods,
    .tp_as_sequence = &texts_as_sequence,
    .tp_new = PyType_GenericNew,
};

/* ids := every message by token count, then by number (a counting sort). 0, or -1. */
static int by_width(const Ctx *c, int *ids) {
    int widest = 0;
    for (Py_ssize_t i = 0; i < c->n; i++)
        if (c->width[i] > widest) widest = c->width[i];
    Py_ssize_t *at = calloc((size_t)widest + 2, sizeof(Py_ssize_t));
    if (!at) return -1;
    for (Py_ssize_t i = 0; i < c->n; i++) at[c->width[i] + 1]++;
    for (int w = 1; w <= widest + 1; w++) at[w] += at[w - 1];
    for (Py_ssize_t i = 0; i < c->n; i++) ids[at[c->width[i]]++] = (int)i;
    free(at);
    return 0;
}

/* Pass 1 over every bucket, from the messages' UTF-8 (text[i], size[i]): no Python object is
 * touched, so it runs without the GIL (`skillsmith group` makes fingerprints on another thread
 * meanwhile). 0, or VOCAB_MEMORY / VOCAB_LONG. */
static int compute_parts(Ctx *c, const char *const *text, const Py_ssize_t *size, int *ids, Parts *out) {
    IntVec flat = {0};
    int rc = VOCAB_MEMORY;
    if (intern(&c->vocab, "<*>", 3) != WILD) goto done;
    for (Py_ssize_t i = 0; i < c->n; i++) {
        c->start[i] = flat.len;
        /* tokens split at every space, as str.split(" "): memchr finds them */
        for (const char *from = text[i], *end = from + size[i];;) {
            const char *space = memchr(from, ' ', (size_t)(end - from));
            int tok = intern(&c->vocab, from, (space ? space : end) - from);
            if (tok < 0) {
                rc = tok;
                goto done;
            }
            if (vec_push(&flat, tok) < 0) goto done;
            if (!space) break;
            from = space + 1;
        }
        c->width[i] = (int)(flat.len - c->start[i]);
    }
    c->flat = flat.items;
    flat.items = NULL;
    c->stamp = calloc((size_t)c->vocab.count, sizeof(int));
    c->count = calloc((size_t)c->vocab.count, sizeof(int));
    c->wsum = calloc((size_t)c->vocab.count, sizeof(long long));
    sort_ctx = c;
    if (!c->stamp || !c->count || !c->wsum || rank_tokens(c) < 0 || by_width(c, ids) < 0) goto done;
    for (Py_ssize_t from = 0, to; from < c->n; from = to) {
        for (to = from + 1; to < c->n && c->width[ids[to]] == c->width[ids[from]];) to++;
        if (bucket_parts(c, ids + from, (int)(to - from), out) < 0) goto done;
    }
    rc = 0;
done:
    free(flat.items);
    return rc;
}

static PyObject *positional_parts(PyObject *self, PyObject *args) {
    PyObject *messages, *weights, *held = NULL, *out = NULL, **cache = NULL;
    Ctx c = {0};
    Parts parts = {0};
    int *ids = NULL, rc = 0;
    const char **text = NULL;
    Py_ssize_t *size = NULL;
    c.sort_rows = SORT_ROWS;
    if (!PyArg_ParseTuple(args, "OO!iiLdp|n", &messages, &PyList_Type, &weights, &c.min_variable, &c.min_rare,
                          &c.rare_weight, &c.similarity, &c.values_by_shape, &c.sort_rows))
        return NULL;
    TextsObject *texts = PyObject_TypeCheck(messages, &skillsmith_TextsType) ? (TextsObject *)messages : NULL;
    if (!texts && !PyList_Check(messages)) {
        PyErr_SetString(PyExc_TypeError, "messages: a list of str or a Texts");
        return NULL;
    }
    /* what the work without the GIL reads stays alive: the Texts' blocks never move, and a
     * list's str are held by a tuple of its own */
    held = texts ? Py_NewRef(messages) : PyList_AsTuple(messages);
    if (!held) return NULL;
    c.n = texts ? texts->vocab.count : PyTuple_GET_SIZE(held);
    if (PyList_GET_SIZE(weights) != c.n) {
        PyErr_SetString(PyExc_ValueError, "weights must have one entry per message");
        goto done;
    }
    c.start = malloc(((size_t)c.n + 1) * sizeof(Py_ssize_t));
    c.width = malloc(((size_t)c.n + 1) * sizeof(int));
    c.weight = malloc(((size_t)c.n + 1) * sizeof(long long));
    ids = malloc(((size_t)c.n + 1) * sizeof(int));
    text = malloc(((size_t)c.n + 1) * sizeof(char *));
    size = malloc(((size_t)c.n + 1) * sizeof(Py_ssize_t));
    if (!c.start || !c.width || !c.weight || !ids || !text || !size) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < c.n; i++) {
        text[i] = texts ? texts_at(texts, i, &size[i]) : PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(held, i), &size[i]);
        if (!text[i]) goto done; /* not a str, or a lone surrogate: the caller falls back */
        c.weight[i] = PyLong_AsLongLong(PyList_GET_ITEM(weights, i));
        if (c.weight[i] == -1 && PyErr_Occurred()) goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = compute_parts(&c, text, size, ids, &parts);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        vocab_error(rc);
        goto done;
    }
    cache = calloc((size_t)c.vocab.count, sizeof(PyObject *));
    out = cache ? PyList_New(parts.len) : PyErr_NoMemory();
    for (Py_ssize_t i = 0; out && i < parts.len; i++) {
        PyObject *part = emit(&c, cache, &parts.items[i]);
        if (!part) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, part);
    }
done:
    if (cache)
        for (int k = 0; k < c.vocab.count; k++) Py_XDECREF(cache[k]);
    free(cache), free(c.stamp), free(c.count), free(c.wsum), free(c.rank), free(c.flat);
    free(c.start), free(c.width), free(c.weight), free(ids), free(text), free(size);
    free(c.vocab.toks), free(c.vocab.slots);
    parts_free(&parts);
    Py_DECREF(held);
    return out;
}

/* Heap memory freed by merging (its token tables and parts, tens of MB in blocks of every size)
 * stays resident under glibc until the top of the heap is free; `skillsmith group` writes its
 * output after merging, so it returns that memory to the system first. */
static PyObject *release_memory(PyObject *self, PyObject *Py_UNUSED(ignored)) {
#if defined(__GLIBC__)
    int released;
    Py_BEGIN_ALLOW_THREADS
    released = malloc_trim(0);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(released);
#else
    Py_RETURN_FALSE;
#endif
}

static PyMethodDef methods[] = {
    {"release_memory", release_memory, METH_NOARGS,
     "release_memory() -> whether freed heap memory went back to the system (glibc's malloc_trim)"},
    {"positional_parts", positional_parts, METH_VARARGS,
     "positional_parts(messages, weights, min_variable_values, min_rare_values, rare_weight, similarity, "
     "values_by_shape[, sort_rows]): pass 1 of pattern merging, the parts grouping._positional_parts makes, all "
     "token counts in increasing order (sort_rows: the most token ranks a bucket's sort copies out)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_patterns",
                                    "Pass 1 of pattern merging, compiled (see grouping.py).", -1, methods};

PyMODINIT_FUNC PyInit__patterns(void) {
    if (PyType_Ready(&skillsmith_TextsType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&skillsmith_TextsType);
    if (PyModule_AddObject(m, "Texts", (PyObject *)&skillsmith_TextsType) < 0) {
        Py_DECREF(&skillsmith_TextsType);
        Py_DECREF(m);
        return NULL;
    }
    if (skillsmith_add_table_type(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
