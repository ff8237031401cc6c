/* The signature table of `skillsmith group`, compiled: signatures.Signatures' numbering and
 * output endings without a Python object per signature.
 *
 * Why: on an input where a third of the events stay distinct after normalization, numbering
 * each chunk's (message, component) pairs by signature and making each signature's output
 * ending (fingerprint, JSON text) were most of the main thread's time, spent in per-pair
 * tuples, dictionaries and string formatting. Here a pair costs a few hash-table probes and
 * an ending a few copies; its fingerprint (SHA-256 by hashlib, so OpenSSL's) is made by
 * fingerprint(), on a thread of its own while patterns merge. Numbers, weights and endings are
 * those of signatures.Signatures, which stays the reference and the fallback; tests compare
 * the two.
 *
 * A signature is (norm_error, kind, component); the texts of each (kind, component), its
 * *source*, are kept in a Texts store (_texts.h), which pattern merging reads directly.
 */
#include "_texts.h"
#include "_siphash.h"

/* uint64 keys (0 = empty slot) to intptr values, open addressing. */
typedef struct {
    uint64_t *keys;
    intptr_t *values;
    size_t mask, used;
} Map;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33, x *= 0xff51afd7ed558ccdULL, x ^= x >> 33, x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static int map_init(Map *m, size_t expected) {
    size_t size = 16;
    while (size < expected * 2) size *= 2;
    m->keys = calloc(size, sizeof(uint64_t));
    m->values = malloc(size * sizeof(intptr_t));
    m->mask = size - 1, m->used = 0;
    if (m->keys && m->values) return 0;
    free(m->keys), free(m->values);
    m->keys = NULL, m->values = NULL;
    return -1;
}

static void map_free(Map *m) {
    free(m->keys), free(m->values);
    m->keys = NULL, m->values = NULL;
}

/* The slot of key (nonzero): where it is, or where it would go. */
static size_t map_slot(const Map *m, uint64_t key) {
    size_t at = mix64(key) & m->mask;
    while (m->keys[at] && m->keys[at] != key) at = (at + 1) & m->mask;
    return at;
}

/* Sets key to value at the slot map_slot gave (key absent); 0, or -1 out of memory. */
static int map_put(Map *m, size_t at, uint64_t key, intptr_t value) {
    m->keys[at] = key, m->values[at] = value, m->used++;
    if (m->used * 2 <= m->mask + 1) return 0;
    Map grown;
    if (map_init(&grown, m->used * 2) < 0) return -1;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->keys[i]) {
            size_t to = map_slot(&grown, m->keys[i]);
            grown.keys[to] = m->keys[i], grown.values[to] = m->values[i], grown.used++;
        }
    map_free(m);
    *m = grown;
    return 0;
}

typedef struct {
    PyObject_HEAD
    PyObject *sources;    /* list: per source, (kind, component) */
    PyObject *texts;      /* list: per source, its Texts */
    IntVec *numbers;      /* per source: the signature number of each of its texts */
    PyObject *kinds;      /* dict: kind -> its number */
    PyObject *components; /* dict: component -> its number ("" is 0; None is read as "") */
    PyObject *component_list;
    Map source_of_key;    /* kind << 32 | component, + 1 -> source */
    /* per signature */
    long long *weight;
    int *source_of, *local_of, *pattern_of;
    Py_ssize_t count, cap, patterned; /* patterned: pattern_of's length */
    /* output endings, once patterns are merged */
    PyObject *pattern_ids; /* list of bytes */
    PyObject *heads;       /* list: per source, (fingerprint head, JSON kind) as bytes, or None */
    unsigned char *digest; /* per signature below `digested`: its fingerprint's 16 bytes */
    Py_ssize_t digested, digest_cap;
    Map kept;              /* signature + 1 -> its ending (a bytes reference) */
    Py_ssize_t kept_size;
    /* pairs numbered in earlier chunks, by hash (see "pairs seen before") */
    struct Seen *seen;
    size_t seen_mask, seen_used, seen_limit;
    uint64_t seen_key[2];
    unsigned char *scratch;
    size_t scratch_cap;
} TableObject;

static int table_grow(TableObject *t) {
    Py_ssize_t cap = t->cap ? t->cap * 2 : 4096;
    if (cap > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "more than 2**31 signatures");
        return -1;
    }
    long long *weight = realloc(t->weight, (size_t)cap * sizeof(long long));
    if (weight) t->weight = weight;
    int *source_of = realloc(t->source_of, (size_t)cap * sizeof(int));
    if (source_of) t->source_of = source_of;
    int *local_of = realloc(t->local_of, (size_t)cap * sizeof(int));
    if (local_of) t->local_of = local_of;
    if (!weight || !source_of || !local_of) {
        PyErr_NoMemory();
        return -1;
    }
    t->cap = cap;
    return 0;
}

/* The number of key in dict (a str, or None as ""), a new one getting the next; -1 on error. */
static int number_in(PyObject *dict, PyObject *list, PyObject *key) {
    if (key == Py_None) return 0;
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "kinds and components are str");
        return -1;
    }
    PyObject *found = PyDict_GetItemWithError(dict, key);
    if (found) return (int)PyLong_AsLong(found);
    if (PyErr_Occurred()) return -1;
    Py_ssize_t n = PyDict_GET_SIZE(dict);
    if (n >= INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many kinds or components");
        return -1;
    }
    PyObject *number = PyLong_FromSsize_t(n);
    int rc = number ? PyDict_SetItem(dict, key, number) : -1;
    Py_XDECREF(number);
    if (rc < 0 || (list && PyList_Append(list, key) < 0)) return -1;
    return (int)n;
}

/* The source of (kind, component number), made when new; -1 on error. */
static int source_of(TableObject *t, PyObject *kind, int component) {
    int k = number_in(t->kinds, NULL, kind);
    if (k < 0) return -1;
    uint64_t key = ((uint64_t)(uint32_t)k << 32 | (uint32_t)component) + 1;
    size_t at = map_slot(&t->source_of_key, key);
    if (t->source_of_key.keys[at]) return (int)t->source_of_key.values[at];
    Py_ssize_t source = PyList_GET_SIZE(t->sources);
    if (source >= INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many sources");
        return -1;
    }
    IntVec *numbers = realloc(t->numbers, ((size_t)source + 1) * sizeof(IntVec));
    if (!numbers) {
        PyErr_NoMemory();
        return -1;
    }
    t->numbers = numbers;
    numbers[source] = (IntVec){0};
    PyObject *pair = PyTuple_Pack(2, kind, PyList_GET_ITEM(t->component_list, component));
    PyObject *texts = PyObject_CallNoArgs((PyObject *)&skillsmith_TextsType);
    int rc = pair && texts ? PyList_Append(t->texts, texts) : -1;
    if (rc == 0 && PyList_Append(t->sources, pair) < 0) {
        PyList_SetSlice(t->texts, source, source + 1, NULL);
        rc = -1;
    }
    Py_XDECREF(pair), Py_XDECREF(texts);
    if (rc < 0) return -1;
    if (map_put(&t->source_of_key, at, key, source) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return (int)source;
}

/* The signature number of (norm, kind, component number), numbered after all before when new;
 * -1 on error. */
static int signature_of(TableObject *t, PyObject *norm, PyObject *kind, int component) {
    int source = source_of(t, kind, component);
    if (source < 0) return -1;
    Py_ssize_t n;
    PyObject *owner;
    const char *s = utf8_of(norm, &n, &owner);
    if (!s) return -1;
    TextsObject *texts = (TextsObject *)PyList_GET_ITEM(t->texts, source);
    int local = texts_add_utf8(texts, s, n);
    Py_XDECREF(owner);
    if (local < 0) return -1;
    IntVec *numbers = &t->numbers[source];
    if (local < numbers->len) return numbers->items[local];
    if (t->count == t->cap && table_grow(t) < 0) return -1;
    if (vec_push(numbers, (int)t->count) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    t->weight[t->count] = 0, t->source_of[t->count] = source, t->local_of[t->count] = local;
    return (int)t->count++;
}

static Py_ssize_t index_in(PyObject *list, Py_ssize_t i, Py_ssize_t bound) {
    Py_ssize_t v = PyLong_AsSsize_t(PyList_GET_ITEM(list, i));
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0 || v >= bound) {
        PyErr_SetString(PyExc_IndexError, "an index out of range");
        return -1;
    }
    return v;
}

/* The number of a pair's component. A chunk's pairs share a few component objects: their
 * numbers are kept by address in `by_address` (the caller's list holds the objects), so the
 * components dict is read once per object, not once per pair. -1 on error. */
static int component_number(TableObject *t, Map *by_address, PyObject *c) {
    uint64_t address = (uint64_t)(uintptr_t)c;
    size_t at = map_slot(by_address, address);
    if (by_address->keys[at]) return (int)by_address->values[at];
    int component = number_in(t->components, t->component_list, c);
    if (component < 0) return -1;
    if (map_put(by_address, at, address, component) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return component;
}

/* --- pairs seen before -------------------------------------------------------------------------
 * On an input of distinct messages most of a chunk's (message, component) pairs are new, but
 * about a fifth were met in an earlier chunk, and normalizing their messages again cost that
 * share of `group`'s largest step. The table remembers the signature of each pair it numbers
 * under a 96-bit SipHash of the pair, keyed with 16 random bytes drawn per table: no input can
 * aim at a collision, and one by chance, in a run of a million pairs, is about as likely as
 * 1 in 2**56. unseen() says which messages of a chunk still need normalizing. At most
 * SEEN_REMEMBERED pairs are remembered (Table(remember=...) for fewer), the first ones
 * numbered, 16 bytes each at three quarters full: memory stays flat however long the input. */
#define SEEN_REMEMBERED (3 << 18) /* in 1 << 20 slots, 16 MB */
#define SEEN_FIRST_SLOTS (1 << 12)
#define SEEN_AHEAD 8 /* probes prefetched ahead */

typedef struct Seen {
    uint64_t a;
    uint32_t b; /* a == 0 and b == 0: an empty slot */
    int32_t sig;
} Seen;

typedef struct {
    uint64_t a;
    uint32_t b;
    int32_t sig; /* remembered when unseen() looked, or -1 */
} PairHash;      /* what unseen() hands number_pairs for each pair */

/* Slots come from the system directly, where it can: from the C heap, each smaller table
 * freed as the next grew stayed resident behind the chunks allocated since, and `group`'s
 * peak was 12 MB higher. */
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
static Seen *seen_alloc(size_t slots) {
    void *p = mmap(NULL, slots * sizeof(Seen), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL; /* zero-filled */
#ifdef MADV_HUGEPAGE
    /* a probe lands anywhere in the table: with 4 kB pages most also missed the TLB */
    if (slots * sizeof(Seen) >= (2u << 20)) madvise(p, slots * sizeof(Seen), MADV_HUGEPAGE);
#endif
    return p;
}
static void seen_free(Seen *slots, size_t count) {
    if (slots) munmap(slots, count * sizeof(Seen));
}
#else
static Seen *seen_alloc(size_t slots) { return calloc(slots, sizeof(Seen)); }
static void seen_free(Seen *slots, size_t count) { (void)count, free(slots); }
#endif

static int seen_init(TableObject *t) {
    PyObject *os = PyImport_ImportModule("os");
    PyObject *key = os ? PyObject_CallMethod(os, "urandom", "i", 16) : NULL;
    Py_XDECREF(os);
    if (!key) return -1;
    if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != 16) {
        Py_DECREF(key);
        PyErr_SetString(PyExc_RuntimeError, "os.urandom(16) gave no 16 bytes");
        return -1;
    }
    memcpy(t->seen_key, PyBytes_AS_STRING(key), 16);
    Py_DECREF(key);
    t->seen = seen_alloc(SEEN_FIRST_SLOTS);
    if (!t->seen) {
        PyErr_NoMemory();
        return -1;
    }
    t->seen_mask = SEEN_FIRST_SLOTS - 1, t->seen_used = 0;
    return 0;
}

static inline size_t seen_home(size_t mask, PairHash h) { return (size_t)(h.a ^ h.b) & mask; }

static size_t seen_slot(const Seen *slots, size_t mask, PairHash h) {
    size_t at = seen_home(mask, h);
    while ((slots[at].a || slots[at].b) && (slots[at].a != h.a || slots[at].b != h.b)) at = (at + 1) & mask;
    return at;
}

/* The remembered signature of the pair, or -1. */
static int seen_get(const TableObject *t, PairHash h) {
    const Seen *slot = &t->seen[seen_slot(t->seen, t->seen_mask, h)];
    return slot->a || slot->b ? slot->sig : -1;
}

/* Remembers the pair's signature while there is room; -1 out of memory. */
static int seen_put(TableObject *t, PairHash h, int sig) {
    size_t at = seen_slot(t->seen, t->seen_mask, h);
    if (t->seen[at].a || t->seen[at].b) return 0;
    if (t->seen_used >= t->seen_limit) return 0; /* full: the pairs remembered so far stay */
    size_t slots = t->seen_mask + 1;
    if ((t->seen_used + 1) * 4 > slots * 3) {
        Seen *grown = seen_alloc(slots * 2);
        if (!grown) return -1;
        for (size_t i = 0; i < slots; i++)
            if (t->seen[i].a || t->seen[i].b) {
                PairHash old = {t->seen[i].a, t->seen[i].b, -1};
                grown[seen_slot(grown, slots * 2 - 1, old)] = t->seen[i];
            }
        seen_free(t->seen, slots);
        t->seen = grown, t->seen_mask = slots * 2 - 1;
        at = seen_slot(t->seen, t->seen_mask, h);
    }
    t->seen[at] = (Seen){h.a, h.b, sig};
    t->seen_used++;
    return 0;
}

/* The hash of (message, component number): SipHash of the str's characters as CPython holds
 * them (a str is always held in the narrowest width its characters fit, so equal texts give
 * equal bytes), then its length, width and the component. -1 on error (not a str). */
static int pair_hash(TableObject *t, PyObject *message, int component, PairHash *out) {
    if (!PyUnicode_Check(message)) {
        PyErr_SetString(PyExc_TypeError, "messages are str");
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(message) < 0) return -1;
#endif
    size_t width = (size_t)PyUnicode_KIND(message), n = (size_t)PyUnicode_GET_LENGTH(message) * width;
    size_t need = n + 16;
    if (need > t->scratch_cap) {
        unsigned char *grown = realloc(t->scratch, need * 2);
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        t->scratch = grown, t->scratch_cap = need * 2;
    }
    uint64_t length = n;
    uint32_t tail[2] = {(uint32_t)width, (uint32_t)component};
    memcpy(t->scratch, PyUnicode_DATA(message), n);
    memcpy(t->scratch + n, &length, 8);
    memcpy(t->scratch + n + 8, tail, 8);
    uint64_t h[2];
    siphash13_128(t->seen_key[0], t->seen_key[1], t->scratch, need, h);
    out->a = h[0], out->b = (uint32_t)h[1], out->sig = -1;
    if (!out->a && !out->b) out->b = 1; /* never an empty slot's */
    return 0;
}

static void forget_pairs(TableObject *t) {
    seen_free(t->seen, t->seen ? t->seen_mask + 1 : 0), free(t->scratch);
    t->seen = NULL, t->scratch = NULL;
    t->seen_mask = t->seen_used = t->scratch_cap = 0;
}

static PyObject *table_forget_pairs(TableObject *t, PyObject *Py_UNUSED(ignored)) {
    forget_pairs(t);
    Py_RETURN_NONE;
}

static PyObject *table_unseen(TableObject *t, PyObject *args) {
    PyObject *messages, *pair_message, *pair_component, *forced;
    if (!PyArg_ParseTuple(args, "O!O!O!O!:unseen", &PyList_Type, &messages, &PyList_Type, &pair_message,
                          &PyList_Type, &pair_component, &PyList_Type, &forced))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(pair_message), count = PyList_GET_SIZE(messages);
    if (PyList_GET_SIZE(pair_component) != n) {
        PyErr_SetString(PyExc_ValueError, "one component per pair");
        return NULL;
    }
    if (!t->seen && seen_init(t) < 0) return NULL;
    PyObject *hashes = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(PairHash)), *result = NULL;
    PyObject *todo = NULL, *batch = NULL;
    unsigned char *need = calloc((size_t)count + 1, 1);
    int32_t *message_of = malloc(((size_t)n + 1) * sizeof(int32_t));
    Map components = {0};
    if (!hashes || !need || !message_of || map_init(&components, 64) < 0) {
        if (hashes) PyErr_NoMemory();
        goto done;
    }
    PairHash *h = (PairHash *)PyBytes_AS_STRING(hashes);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t m = index_in(pair_message, i, count);
        int component = m < 0 ? -1 : component_number(t, &components, PyList_GET_ITEM(pair_component, i));
        if (component < 0 || pair_hash(t, PyList_GET_ITEM(messages, m), component, &h[i]) < 0) goto done;
        message_of[i] = (int32_t)m;
    }
    /* the probes miss the cache: each slot is asked for a few probes ahead */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + SEEN_AHEAD < n) __builtin_prefetch(&t->seen[seen_home(t->seen_mask, h[i + SEEN_AHEAD])]);
        h[i].sig = seen_get(t, h[i]);
        if (h[i].sig < 0) need[message_of[i]] = 1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(forced); i++) {
        Py_ssize_t m = index_in(forced, i, count);
        if (m < 0) goto done;
        need[m] = 1;
    }
    Py_ssize_t todo_count = 0;
    for (Py_ssize_t m = 0; m < count; m++) todo_count += need[m];
    if (!(todo = PyBytes_FromStringAndSize(NULL, todo_count * (Py_ssize_t)sizeof(int32_t))) ||
        !(batch = PyList_New(todo_count)))
        goto done;
    int32_t *indices = (int32_t *)PyBytes_AS_STRING(todo);
    for (Py_ssize_t m = 0, j = 0; m < count; m++)
        if (need[m]) {
            indices[j] = (int32_t)m;
            PyList_SET_ITEM(batch, j++, Py_NewRef(PyList_GET_ITEM(messages, m)));
        }
    result = Py_BuildValue("(O(OOn))", batch, todo, hashes, count);
done:
    free(need), free(message_of), map_free(&components);
    Py_XDECREF(todo), Py_XDECREF(batch), Py_XDECREF(hashes);
    return result;
}

/* What number_pairs reads from unseen()'s result: per message the position of its result in
 * result_of (-1: not normalized, every pair of it remembered), and per pair its hash. */
static int *seen_positions(TableObject *t, PyObject *seen, Py_ssize_t pairs, Py_ssize_t results_len,
                           Py_ssize_t *count, const PairHash **hashes) {
    PyObject *todo, *bytes;
    if (!PyArg_ParseTuple(seen, "O!O!n:number_pairs' seen", &PyBytes_Type, &todo, &PyBytes_Type, &bytes, count))
        return NULL;
    if (PyBytes_GET_SIZE(bytes) != pairs * (Py_ssize_t)sizeof(PairHash) || *count < 0 || !t->seen ||
        PyBytes_GET_SIZE(todo) % (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "seen: what unseen() gave for these pairs");
        return NULL;
    }
    Py_ssize_t normalized = PyBytes_GET_SIZE(todo) / (Py_ssize_t)sizeof(int32_t);
    if (normalized != results_len) {
        PyErr_SetString(PyExc_ValueError, "one result per message unseen() named");
        return NULL;
    }
    int *position = malloc(((size_t)*count + 1) * sizeof(int));
    if (!position) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t m = 0; m < *count; m++) position[m] = -1;
    const int32_t *indices = (const int32_t *)PyBytes_AS_STRING(todo);
    for (Py_ssize_t j = 0; j < normalized; j++) {
        if (indices[j] < 0 || indices[j] >= *count) {
            free(position);
            PyErr_SetString(PyExc_IndexError, "an index out of range");
            return NULL;
        }
        position[indices[j]] = (int)j;
    }
    *hashes = (const PairHash *)PyBytes_AS_STRING(bytes);
    return position;
}

/* The signature of (result r, component c), numbered when new; `local` keeps a chunk's
 * (result, component) pairs, so each is looked up in the table once. -1 on error. */
static int pair_signature(TableObject *t, Map *local, Map *components, PyObject *results, Py_ssize_t r,
                          PyObject *c) {
    int component = component_number(t, components, c);
    if (component < 0) return -1;
    uint64_t key = ((uint64_t)r << 32 | (uint32_t)component) + 1;
    size_t at = map_slot(local, key);
    if (local->keys[at]) return (int)local->values[at];
    PyObject *result = PyList_GET_ITEM(results, r);
    if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 2) {
        PyErr_SetString(PyExc_TypeError, "results are (norm_error, kind) tuples");
        return -1;
    }
    int sig = signature_of(t, PyTuple_GET_ITEM(result, 0), PyTuple_GET_ITEM(result, 1), component);
    if (sig >= 0 && map_put(local, at, key, sig) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return sig;
}

static PyObject *table_number_pairs(TableObject *t, PyObject *args) {
    PyObject *result_of, *results, *pair_message, *pair_component, *pair_count, *seen = Py_None;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!|O:number_pairs", &PyList_Type, &result_of, &PyList_Type, &results,
                          &PyList_Type, &pair_message, &PyList_Type, &pair_component, &PyList_Type, &pair_count,
                          &seen))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(pair_message);
    if (PyList_GET_SIZE(pair_component) != n || PyList_GET_SIZE(pair_count) != n) {
        PyErr_SetString(PyExc_ValueError, "one component and one count per pair");
        return NULL;
    }
    /* with unseen()'s result, result_of has an entry per message it named, in its order */
    const PairHash *hashes = NULL;
    Py_ssize_t messages = PyList_GET_SIZE(result_of);
    int *position = NULL;
    if (seen != Py_None && !(position = seen_positions(t, seen, n, messages, &messages, &hashes))) return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int32_t));
    if (!out) {
        free(position);
        return NULL;
    }
    int32_t *sigs = (int32_t *)PyBytes_AS_STRING(out);
    Map local, components = {0};
    if (map_init(&local, (size_t)n) < 0 || map_init(&components, 64) < 0) {
        map_free(&local);
        free(position);
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t m = index_in(pair_message, i, messages);
        if (m < 0) goto fail;
        int sig;
        if (position && position[m] < 0) { /* a pair remembered from an earlier chunk */
            sig = hashes[i].sig;
            if (sig < 0 || sig >= t->count) {
                PyErr_SetString(PyExc_ValueError, "a pair unseen() did not name is not remembered");
                goto fail;
            }
        } else {
            Py_ssize_t r = index_in(result_of, position ? position[m] : m, PyList_GET_SIZE(results));
            if (r < 0 || (sig = pair_signature(t, &local, &components, results, r,
                                               PyList_GET_ITEM(pair_component, i))) < 0)
                goto fail;
            if (hashes && hashes[i].sig < 0 && seen_put(t, hashes[i], sig) < 0) {
                PyErr_NoMemory();
                goto fail;
            }
        }
        long long count = PyLong_AsLongLong(PyList_GET_ITEM(pair_count, i));
        if (count == -1 && PyErr_Occurred()) goto fail;
        t->weight[sig] += count;
        sigs[i] = sig;
    }
    map_free(&local), map_free(&components);
    free(position);
    return out;
fail:
    map_free(&local), map_free(&components);
    free(position);
    Py_DECREF(out);
    return NULL;
}

static PyObject *table_numbers(TableObject *t, PyObject *items) {
    PyObject *seq = PySequence_Fast(items, "numbers() takes (norm, kind, component) items");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i), *number = NULL;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
            PyErr_SetString(PyExc_TypeError, "numbers() takes (norm, kind, component) tuples");
        } else {
            int component = number_in(t->components, t->component_list, PyTuple_GET_ITEM(item, 2));
            int sig = component < 0 ? -1 : signature_of(t, PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1), component);
            number = sig < 0 ? NULL : PyLong_FromLong(sig);
        }
        if (!number) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, number);
    }
    Py_DECREF(seq);
    return out;
}

static int signature_arg(TableObject *t, PyObject *arg, Py_ssize_t *number) {
    *number = PyLong_AsSsize_t(arg);
    if (*number == -1 && PyErr_Occurred()) return -1;
    if (*number < 0 || *number >= t->count) {
        PyErr_SetString(PyExc_IndexError, "no such signature");
        return -1;
    }
    return 0;
}

static PyObject *table_count(TableObject *t, PyObject *numbers) {
    PyObject *seq = PySequence_Fast(numbers, "count() takes signature numbers");
    if (!seq) return NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        Py_ssize_t number;
        if (signature_arg(t, PySequence_Fast_GET_ITEM(seq, i), &number) < 0) {
            Py_DECREF(seq);
            return NULL;
        }
        t->weight[number]++;
    }
    Py_DECREF(seq);
    Py_RETURN_NONE;
}

static PyObject *table_signature(TableObject *t, PyObject *arg) {
    Py_ssize_t number;
    if (signature_arg(t, arg, &number) < 0) return NULL;
    return Py_BuildValue("(iiLi)", t->source_of[number], t->local_of[number], t->weight[number],
                         number < t->patterned ? t->pattern_of[number] : -1);
}

static int source_arg(TableObject *t, PyObject *args, const char *format, Py_ssize_t *source, PyObject **extra,
                      int *pattern) {
    if (extra ? !PyArg_ParseTuple(args, format, source, &PyList_Type, extra, pattern)
              : !PyArg_ParseTuple(args, format, source))
        return -1;
    if (*source < 0 || *source >= PyList_GET_SIZE(t->sources)) {
        PyErr_SetString(PyExc_IndexError, "no such source");
        return -1;
    }
    return 0;
}

static PyObject *table_source(TableObject *t, PyObject *args) {
    Py_ssize_t source;
    if (source_arg(t, args, "n:source", &source, NULL, NULL) < 0) return NULL;
    const IntVec *numbers = &t->numbers[source];
    PyObject *ids = PyList_New(numbers->len), *weights = PyList_New(numbers->len);
    for (int i = 0; ids && weights && i < numbers->len; i++) {
        PyObject *id = PyLong_FromLong(numbers->items[i]), *w = PyLong_FromLongLong(t->weight[numbers->items[i]]);
        if (!id || !w) {
            Py_XDECREF(id), Py_XDECREF(w);
            Py_CLEAR(ids);
            break;
        }
        PyList_SET_ITEM(ids, i, id);
        PyList_SET_ITEM(weights, i, w);
    }
    PyObject *result = ids && weights ? PyTuple_Pack(3, PyList_GET_ITEM(t->texts, source), ids, weights) : NULL;
    Py_XDECREF(ids), Py_XDECREF(weights);
    return result;
}

static PyObject *table_set_pattern(TableObject *t, PyObject *args) {
    Py_ssize_t source;
    PyObject *members;
    int pattern;
    if (source_arg(t, args, "nO!i:set_pattern", &source, &members, &pattern) < 0) return NULL;
    if (t->patterned < t->count) {
        int *pattern_of = realloc(t->pattern_of, ((size_t)t->count + 1) * sizeof(int));
        if (!pattern_of) return PyErr_NoMemory();
        memset(pattern_of + t->patterned, 0, (size_t)(t->count - t->patterned) * sizeof(int));
        t->pattern_of = pattern_of, t->patterned = t->count;
    }
    const IntVec *numbers = &t->numbers[source];
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(members); i++) {
        Py_ssize_t local = index_in(members, i, numbers->len);
        if (local < 0) return NULL;
        t->pattern_of[numbers->items[local]] = pattern;
    }
    Py_RETURN_NONE;
}

static PyObject *table_set_heads(TableObject *t, PyObject *heads) {
    if (!PyList_Check(heads) || PyList_GET_SIZE(heads) != PyList_GET_SIZE(t->sources)) {
        PyErr_SetString(PyExc_ValueError, "a list of one head per source");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(heads); i++) {
        PyObject *h = PyList_GET_ITEM(heads, i);
        if (h != Py_None && !(PyTuple_Check(h) && PyTuple_GET_SIZE(h) == 2 && PyBytes_Check(PyTuple_GET_ITEM(h, 0)) &&
                              PyBytes_Check(PyTuple_GET_ITEM(h, 1)))) {
            PyErr_SetString(PyExc_TypeError, "a head is None or (bytes, bytes)");
            return NULL;
        }
    }
    Py_INCREF(heads);
    Py_XSETREF(t->heads, heads);
    free(t->digest);
    t->digest = NULL, t->digested = t->digest_cap = 0;
    Py_RETURN_NONE;
}

static PyObject *table_finish(TableObject *t, PyObject *pattern_ids) {
    if (!PyList_Check(pattern_ids)) {
        PyErr_SetString(PyExc_TypeError, "pattern ids: a list of bytes");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pattern_ids); i++)
        if (!PyBytes_Check(PyList_GET_ITEM(pattern_ids, i))) {
            PyErr_SetString(PyExc_TypeError, "pattern ids are bytes");
            return NULL;
        }
    if (!t->heads) {
        PyErr_SetString(PyExc_ValueError, "set_heads() first");
        return NULL;
    }
    if (t->patterned != t->count) {
        PyErr_SetString(PyExc_ValueError, "patterns are not set for every signature");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < t->count; i++)
        if (t->pattern_of[i] < 0 || t->pattern_of[i] >= PyList_GET_SIZE(pattern_ids)) {
            PyErr_SetString(PyExc_IndexError, "a pattern number out of range");
            return NULL;
        }
    Py_INCREF(pattern_ids);
    Py_XSETREF(t->pattern_ids, pattern_ids);
    Py_RETURN_NONE;
}

/* --- output endings ------------------------------------------------------------------------ */

/* JSON string escapes as json.dumps(..., ensure_ascii=False) writes them: '"', '\\' and control
 * characters; quoted[c] is 0 for none, else the escaping letter ('u' for \u00XX). */
static const char quoted[256] = {
    ['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u', [0x06] = 'u',
    [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u', [0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u',
    [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u', [0x19] = 'u',
    [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u',
};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t has_zero_byte(uint64_t w) { return (w - ONES) & ~w & HIGHS; }

/* Whether any of 8 bytes is one a JSON string escapes: '"', '\\' or a control character. Texts
 * are read 8 bytes at a time: most hold none, and a byte at a time was most of an ending's cost. */
static inline uint64_t escaped8(uint64_t w) {
    return has_zero_byte(w ^ (ONES * '"')) | has_zero_byte(w ^ (ONES * '\\')) | ((w - ONES * 0x20) & ~w & HIGHS);
}

/* The same, or 0xED, the first byte of a (lone) surrogate's encoding. */
static inline uint64_t look8(uint64_t w) { return escaped8(w) | has_zero_byte(w ^ (ONES * 0xED)); }

/* Bytes of s JSON-quoted (the quotes included); -1 when s holds a lone surrogate, which the
 * caller leaves to Python (a str with one does not encode to UTF-8 strictly). */
static Py_ssize_t quoted_size(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t size = n + 2, i = 0;
    while (i < n) {
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, s + i, 8), !look8(w))) {
            i += 8;
            continue;
        }
        unsigned char c = s[i];
        if (c < 0x20 || c == '"' || c == '\\') size += quoted[c] == 'u' ? 5 : 1;
        else if (c == 0xED && i + 1 < n && s[i + 1] >= 0xA0) return -1;
        i++;
    }
    return size;
}

static char *quote_into(char *out, const unsigned char *s, Py_ssize_t n) {
    *out++ = '"';
    Py_ssize_t i = 0;
    while (i < n) {
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, s + i, 8), !escaped8(w))) {
            memcpy(out, s + i, 8);
            out += 8, i += 8;
            continue;
        }
        unsigned char c = s[i++];
        char q = quoted[c];
        if (!q) {
            *out++ = (char)c;
        } else if (q != 'u') {
            *out++ = '\\', *out++ = q;
        } else {
            memcpy(out, "\\u00", 4);
            out[4] = "0123456789abcdef"[c >> 4], out[5] = "0123456789abcdef"[c & 15];
            out += 6;
        }
    }
    *out++ = '"';
    return out;
}

static Py_ssize_t code_points(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t count = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (!(w & HIGHS)) {
            count += 8; /* ASCII */
            continue;
        }
        for (int k = 0; k < 8; k++) count += (s[i + k] & 0xC0) != 0x80;
    }
    for (; i < n; i++) count += (s[i] & 0xC0) != 0x80;
    return count;
}

#define NORM_KEY ", \"norm_error\": "
#define KIND_KEY ", \"kind\": "
#define PRINT_KEY ", \"fingerprint\": \""
#define PATTERN_KEY "\", \"pattern\": \""
#define END "\"}\n"
#define LIT(s) s, sizeof(s) - 1

/* The norm of a signature whose ending C makes (NULL: the fallback makes it): its source has a
 * head and its text no lone surrogate. *quoted: its size JSON-quoted. */
static const unsigned char *norm_of(TableObject *t, int sig, Py_ssize_t *n, Py_ssize_t *quoted) {
    if (PyList_GET_ITEM(t->heads, t->source_of[sig]) == Py_None) return NULL;
    TextsObject *texts = (TextsObject *)PyList_GET_ITEM(t->texts, t->source_of[sig]);
    const unsigned char *norm = (const unsigned char *)texts_at(texts, t->local_of[sig], n);
    *quoted = quoted_size(norm, *n);
    return *quoted < 0 ? NULL : norm;
}

/* The fingerprint's first 16 bytes into out: SHA-256 (sha256, hashlib's) of the source's head,
 * the norm's length in code points, ":" and the norm. 0, or -1 with an error set. */
static int digest_into(TableObject *t, int sig, const unsigned char *norm, Py_ssize_t n, PyObject *sha256,
                       PyObject *digest_name, unsigned char *out) {
    PyObject *prefix = PyTuple_GET_ITEM(PyList_GET_ITEM(t->heads, t->source_of[sig]), 0);
    char length[32];
    int length_size = snprintf(length, sizeof length, "%zd:", code_points(norm, n));
    PyObject *material = PyBytes_FromStringAndSize(NULL, PyBytes_GET_SIZE(prefix) + length_size + n);
    if (!material) return -1;
    char *m = PyBytes_AS_STRING(material);
    memcpy(m, PyBytes_AS_STRING(prefix), (size_t)PyBytes_GET_SIZE(prefix));
    m += PyBytes_GET_SIZE(prefix);
    memcpy(m, length, (size_t)length_size);
    memcpy(m + length_size, norm, (size_t)n);
    PyObject *hash = PyObject_CallOneArg(sha256, material);
    Py_DECREF(material);
    PyObject *digest = hash ? PyObject_CallMethodNoArgs(hash, digest_name) : NULL;
    Py_XDECREF(hash);
    if (!digest) return -1;
    if (!PyBytes_Check(digest) || PyBytes_GET_SIZE(digest) < 16) {
        Py_DECREF(digest);
        PyErr_SetString(PyExc_ValueError, "sha256 gave no 16-byte digest");
        return -1;
    }
    memcpy(out, PyBytes_AS_STRING(digest), 16);
    Py_DECREF(digest);
    return 0;
}

/* The ending of a signature whose texts hold no lone surrogate, else NULL with no error set. */
static PyObject *ending_of(TableObject *t, int sig, PyObject *sha256, PyObject *digest_name) {
    Py_ssize_t n, quoted_norm;
    const unsigned char *norm = norm_of(t, sig, &n, &quoted_norm);
    if (!norm) return NULL;
    PyObject *head = PyList_GET_ITEM(t->heads, t->source_of[sig]), *kind = PyTuple_GET_ITEM(head, 1);
    PyObject *pattern = PyList_GET_ITEM(t->pattern_ids, t->pattern_of[sig]);
    unsigned char made[16];
    const unsigned char *d = made;
    if (sig < t->digested) d = t->digest + (size_t)sig * 16;
    else if (digest_into(t, sig, norm, n, sha256, digest_name, made) < 0) return NULL;
    Py_ssize_t size = sizeof(NORM_KEY) - 1 + quoted_norm + sizeof(KIND_KEY) - 1 + PyBytes_GET_SIZE(kind) +
                      sizeof(PRINT_KEY) - 1 + 36 + sizeof(PATTERN_KEY) - 1 + PyBytes_GET_SIZE(pattern) + sizeof(END) - 1;
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (!out) return NULL;
    char *o = PyBytes_AS_STRING(out);
    memcpy(o, LIT(NORM_KEY)), o += sizeof(NORM_KEY) - 1;
    if (quoted_norm == n + 2) { /* nothing to escape: one copy */
        *o++ = '"';
        memcpy(o, norm, (size_t)n), o += n;
        *o++ = '"';
    } else {
        o = quote_into(o, norm, n);
    }
    memcpy(o, LIT(KIND_KEY)), o += sizeof(KIND_KEY) - 1;
    memcpy(o, PyBytes_AS_STRING(kind), (size_t)PyBytes_GET_SIZE(kind)), o += PyBytes_GET_SIZE(kind);
    memcpy(o, LIT(PRINT_KEY)), o += sizeof(PRINT_KEY) - 1;
    for (int i = 0; i < 16; i++) { /* the UUID text of the first 128 bits: 8-4-4-4-12 hex digits */
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = "0123456789abcdef"[d[i] >> 4], *o++ = "0123456789abcdef"[d[i] & 15];
    }
    memcpy(o, LIT(PATTERN_KEY)), o += sizeof(PATTERN_KEY) - 1;
    memcpy(o, PyBytes_AS_STRING(pattern), (size_t)PyBytes_GET_SIZE(pattern)), o += PyBytes_GET_SIZE(pattern);
    memcpy(o, LIT(END));
    return out;
}

static PyObject *table_fingerprint(TableObject *t, PyObject *args) {
    Py_ssize_t stop;
    PyObject *sha256;
    if (!PyArg_ParseTuple(args, "nO:fingerprint", &stop, &sha256)) return NULL;
    if (!t->heads) {
        PyErr_SetString(PyExc_ValueError, "set_heads() first");
        return NULL;
    }
    if (stop > t->count) stop = t->count;
    if (!t->digest && t->count) {
        t->digest = malloc((size_t)t->count * 16);
        if (!t->digest) return PyErr_NoMemory();
        t->digest_cap = t->count;
    }
    if (stop > t->digest_cap) {
        PyErr_SetString(PyExc_ValueError, "signatures were added after the first fingerprint()");
        return NULL;
    }
    PyObject *digest_name = PyUnicode_InternFromString("digest");
    if (!digest_name) return NULL;
    for (; t->digested < stop; t->digested++) {
        int sig = (int)t->digested;
        Py_ssize_t n, quoted;
        const unsigned char *norm = norm_of(t, sig, &n, &quoted);
        if (!norm) continue; /* made by the fallback */
        if (digest_into(t, sig, norm, n, sha256, digest_name, t->digest + (size_t)sig * 16) < 0) {
            Py_DECREF(digest_name);
            return NULL;
        }
    }
    Py_DECREF(digest_name);
    return PyLong_FromSsize_t(t->digested);
}

static PyObject *table_endings(TableObject *t, PyObject *args) {
    Py_buffer numbers;
    PyObject *sha256, *fallback, *digest_name = NULL, *out = NULL;
    Py_ssize_t keep;
    if (!PyArg_ParseTuple(args, "y*OOn:endings", &numbers, &sha256, &fallback, &keep)) return NULL;
    Map chunk = {0};
    Py_ssize_t n = numbers.len / (Py_ssize_t)sizeof(int32_t);
    const int32_t *sigs = numbers.buf;
    if (!t->heads || !t->pattern_ids) {
        PyErr_SetString(PyExc_ValueError, "finish() first");
        goto done;
    }
    if (numbers.len % (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "numbers are int32");
        goto done;
    }
    if (map_init(&chunk, (size_t)n) < 0 || (!t->kept.keys && map_init(&t->kept, 1024) < 0)) {
        PyErr_NoMemory();
        goto done;
    }
    if (!(digest_name = PyUnicode_InternFromString("digest")) || !(out = PyList_New(n))) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        int sig = sigs[i];
        if (sig < 0 || sig >= t->count) {
            PyErr_SetString(PyExc_IndexError, "no such signature");
            goto fail;
        }
        uint64_t key = (uint64_t)sig + 1;
        size_t at = map_slot(&chunk, key);
        PyObject *ending;
        if (chunk.keys[at]) {
            ending = (PyObject *)chunk.values[at];
        } else {
            size_t kept_at = map_slot(&t->kept, key);
            if (t->kept.keys[kept_at]) {
                ending = (PyObject *)t->kept.values[kept_at];
                Py_INCREF(ending);
            } else {
                ending = ending_of(t, sig, sha256, digest_name);
                if (!ending && !PyErr_Occurred()) {
                    PyObject *number = PyLong_FromLong(sig);
                    ending = number ? PyObject_CallOneArg(fallback, number) : NULL;
                    Py_XDECREF(number);
                    if (ending && !PyBytes_Check(ending)) {
                        Py_CLEAR(ending);
                        PyErr_SetString(PyExc_TypeError, "an ending is bytes");
                    }
                }
                if (!ending) goto fail;
                /* keep the endings of signatures of several lines (written again in later chunks) */
                if (t->weight[sig] > 1 && t->kept_size + PyBytes_GET_SIZE(ending) <= keep) {
                    if (map_put(&t->kept, kept_at, key, (intptr_t)ending) < 0) {
                        Py_DECREF(ending);
                        PyErr_NoMemory();
                        goto fail;
                    }
                    Py_INCREF(ending);
                    t->kept_size += PyBytes_GET_SIZE(ending);
                }
            }
            /* chunk holds the list's reference: the list item set below */
            if (map_put(&chunk, at, key, (intptr_t)ending) < 0) {
                Py_DECREF(ending);
                PyErr_NoMemory();
                goto fail;
            }
            PyList_SET_ITEM(out, i, ending);
            continue;
        }
        Py_INCREF(ending);
        PyList_SET_ITEM(out, i, ending);
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(digest_name);
    map_free(&chunk);
    PyBuffer_Release(&numbers);
    return out;
}

static Py_ssize_t table_len(TableObject *t) { return t->count; }

static PyObject *table_sources(TableObject *t, PyObject *Py_UNUSED(ignored)) {
    return PyList_GetSlice(t->sources, 0, PyList_GET_SIZE(t->sources));
}

static PyObject *table_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"remember", NULL};
    Py_ssize_t remember = SEEN_REMEMBERED;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$n:Table", keywords, &remember)) return NULL;
    if (remember < 0 || remember > SEEN_REMEMBERED) {
        PyErr_Format(PyExc_ValueError, "remember: 0 to %d pairs", SEEN_REMEMBERED);
        return NULL;
    }
    TableObject *t = (TableObject *)type->tp_alloc(type, 0);
    if (!t) return NULL;
    t->seen_limit = (size_t)remember;
    t->sources = PyList_New(0), t->texts = PyList_New(0);
    t->kinds = PyDict_New(), t->components = PyDict_New(), t->component_list = PyList_New(0);
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    int first = !empty || !t->sources || !t->texts || !t->kinds || !t->components || !t->component_list
                    ? -1 : number_in(t->components, t->component_list, empty);
    Py_XDECREF(empty);
    if (first != 0) {
        Py_DECREF(t);
        return NULL;
    }
    if (map_init(&t->source_of_key, 16) < 0) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    return (PyObject *)t;
}

static void table_dealloc(TableObject *t) {
    if (t->kept.keys)
        for (size_t i = 0; i <= t->kept.mask; i++)
            if (t->kept.keys[i]) Py_DECREF((PyObject *)t->kept.values[i]);
    map_free(&t->kept);
    map_free(&t->source_of_key);
    forget_pairs(t);
    if (t->numbers && t->sources)
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(t->sources); i++) free(t->numbers[i].items);
    free(t->numbers), free(t->weight), free(t->source_of), free(t->local_of), free(t->pattern_of), free(t->digest);
    Py_XDECREF(t->sources), Py_XDECREF(t->texts), Py_XDECREF(t->kinds), Py_XDECREF(t->components);
    Py_XDECREF(t->component_list), Py_XDECREF(t->pattern_ids), Py_XDECREF(t->heads);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyMethodDef table_methods[] = {
    {"number_pairs", (PyCFunction)table_number_pairs, METH_VARARGS,
     "number_pairs(result_of, results, pair_message, pair_component, pair_count[, seen]) -> int32 bytes: the "
     "signature of each of a chunk's pairs (message i's signature is (*results[result_of[i]], component)), its "
     "count added to the signature's weight; with seen, from unseen(), result_of follows its todo, the other "
     "pairs' signatures are the remembered ones, and the new ones are remembered"},
    {"unseen", (PyCFunction)table_unseen, METH_VARARGS,
     "unseen(messages, pair_message, pair_component, forced) -> (batch, seen): the messages to normalize (those "
     "with a pair not numbered before, and `forced`), in order; give number_pairs `seen` and a result per message "
     "of the batch"},
    {"forget_pairs", (PyCFunction)table_forget_pairs, METH_NOARGS,
     "forget_pairs(): frees the pairs remembered (all chunks are numbered); unseen() starts again"},
    {"numbers", (PyCFunction)table_numbers, METH_O,
     "numbers([(norm, kind, component), ...]) -> the number of each signature, a new one numbered after all before"},
    {"count", (PyCFunction)table_count, METH_O, "count(numbers): one more line for each signature"},
    {"signature", (PyCFunction)table_signature, METH_O, "signature(number) -> (source, text number, weight, pattern number or -1)"},
    {"sources", (PyCFunction)table_sources, METH_NOARGS, "sources() -> [(kind, component), ...]"},
    {"source", (PyCFunction)table_source, METH_VARARGS,
     "source(i) -> (its Texts, the signature number of each text, the weight of each)"},
    {"set_pattern", (PyCFunction)table_set_pattern, METH_VARARGS,
     "set_pattern(source, members, pattern): the pattern number of the source's texts `members`"},
    {"set_heads", (PyCFunction)table_set_heads, METH_O,
     "set_heads(heads): per source (fingerprint head, JSON kind) as UTF-8, or None to leave its endings to the "
     "fallback"},
    {"fingerprint", (PyCFunction)table_fingerprint, METH_VARARGS,
     "fingerprint(stop, sha256) -> how many signatures have theirs: the fingerprints of the signatures up to "
     "`stop` made and kept (endings make the others as they go); a thread can make them while patterns merge"},
    {"finish", (PyCFunction)table_finish, METH_O, "finish(pattern_ids): the pattern ids, as bytes; endings can be made"},
    {"endings", (PyCFunction)table_endings, METH_VARARGS,
     "endings(numbers, sha256, fallback, keep) -> the output ending of each signature of the int32 `numbers`; "
     "fallback(number) makes those whose texts it cannot; those of signatures of several lines are kept while "
     "`keep` bytes allow"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods table_as_sequence = {.sq_length = (lenfunc)table_len};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "skillsmith_assets.mining._patterns.Table",
    .tp_basicsize = sizeof(TableObject),
    .tp_dealloc = (destructor)table_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The signatures of `skillsmith group`: numbered, counted, their texts per source, their endings.",
    .tp_methods = table_methods,
    .tp_as_sequence = &table_as_sequence,
    .tp_new = table_new,
};

int skillsmith_add_table_type(PyObject *module) {
    if (PyType_Ready(&TableType) < 0) return -1;
    Py_INCREF(&TableType);
    if (PyModule_AddObject(module, "Table", (PyObject *)&TableType) < 0) {
        Py_DECREF(&TableType);
        return -1;
    }
    return 0;
}
