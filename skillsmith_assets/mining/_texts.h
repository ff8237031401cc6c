/* What _patterns.c (pattern merging) and _signatures.c (the signature table of `skillsmith group`)
 * share: interned byte strings, and the Texts store of distinct strings. */
#ifndef SKILLSMITH_TEXTS_H
#define SKILLSMITH_TEXTS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    const char *s;
    int n;        /* 16 bytes a string: a Texts store holds hundreds of thousands */
    int variable; /* looks like a value: a placeholder, digit or path separator, and no "://" */
} Tok;

typedef struct {
    Tok *toks;
    int count, cap;
    int *slots; /* token id + 1, 0 = empty */
    size_t mask;
} Vocab;

typedef struct {
    int *items;
    int len, cap;
} IntVec;

#define WILD 0 /* token id of "<*>", interned first */

static inline int vec_push(IntVec *v, int x) {
    if (v->len == v->cap) {
        int cap = v->cap ? v->cap * 2 : 4;
        int *items = realloc(v->items, (size_t)cap * sizeof(int));
        if (!items) return -1;
        v->items = items, v->cap = cap;
    }
    v->items[v->len++] = x;
    return 0;
}

/* Eight bytes a step: normalized messages run to hundreds of bytes, and a byte-at-a-time hash
 * was most of the cost of numbering them. Only slot positions depend on it, never a number. */
static inline uint64_t hash_bytes(const char *s, Py_ssize_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n, w;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s + i, (size_t)(n - i));
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 33);
}

static inline int looks_variable(const char *s, Py_ssize_t n) {
    int any = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ':' && i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/') return 0;
        if (c == '<' || c == '/' || c == '\\' || (c >= '0' && c <= '9')) any = 1;
    }
    return any;
}

static inline int vocab_grow(Vocab *v) {
    size_t size = v->slots ? (v->mask + 1) * 2 : 1024;
    int *slots = calloc(size, sizeof(int));
    if (!slots) return -1;
    for (int id = 0; id < v->count; id++) {
        size_t at = hash_bytes(v->toks[id].s, v->toks[id].n) & (size - 1);
        while (slots[at]) at = (at + 1) & (size - 1);
        slots[at] = id + 1;
    }
    free(v->slots);
    v->slots = slots, v->mask = size - 1;
    return 0;
}

/* Failures of the vocab functions, which set no Python error (pattern merging runs them without
 * the GIL): VOCAB_MEMORY, out of memory; VOCAB_LONG, a string of 2 GB or more. */
#define VOCAB_MEMORY (-2)
#define VOCAB_LONG (-3)

/* Sets the Python error of a vocab failure; returns NULL. */
static inline PyObject *vocab_error(int code) {
    if (code == VOCAB_LONG) PyErr_SetString(PyExc_OverflowError, "a string of 2 GB or more");
    else PyErr_NoMemory();
    return NULL;
}

/* The number of a string already in v, or -1 and *slot where it would go (or VOCAB_MEMORY). */
static inline int vocab_find(Vocab *v, const char *s, Py_ssize_t n, size_t *slot) {
    if (!v->slots || (size_t)(v->count + 1) * 2 > v->mask + 1) {
        if (v->count >= INT_MAX - 1 || vocab_grow(v) < 0) return VOCAB_MEMORY;
    }
    size_t at = hash_bytes(s, n) & v->mask;
    while (v->slots[at]) {
        Tok *t = &v->toks[v->slots[at] - 1];
        if (t->n == n && memcmp(t->s, s, (size_t)n) == 0) return v->slots[at] - 1;
        at = (at + 1) & v->mask;
    }
    *slot = at;
    return -1;
}

/* Adds a string (not copied: it must outlive v) at the slot vocab_find gave; `classify` sets its
 * `variable` (tokens need it; whole texts do not, and the scan would cost a pass over them). */
static inline int vocab_insert(Vocab *v, size_t slot, const char *s, Py_ssize_t n, int classify) {
    if (n > INT_MAX) return VOCAB_LONG;
    if (v->count == v->cap) {
        int cap = v->cap ? v->cap * 2 : 1024;
        Tok *toks = realloc(v->toks, (size_t)cap * sizeof(Tok));
        if (!toks) return VOCAB_MEMORY;
        v->toks = toks, v->cap = cap;
    }
    v->toks[v->count] = (Tok){s, (int)n, classify && looks_variable(s, n)};
    v->slots[slot] = v->count + 1;
    return v->count++;
}

static inline int intern(Vocab *v, const char *s, Py_ssize_t n) {
    size_t slot;
    int id = vocab_find(v, s, n, &slot);
    return id == -1 ? vocab_insert(v, slot, s, n, 1) : id;
}

/* --- Texts: distinct strings numbered in order of first appearance, stored as UTF-8 ---------
 *
 * Why: `skillsmith group` keeps every distinct normalized message of its input until the
 * patterns are merged; hundreds of thousands of str objects in dicts cost about 250 bytes
 * each beyond their text, and their small blocks, interleaved with each chunk's, keep
 * memory from being returned. Here a text costs its UTF-8 bytes, an offset and a hash slot.
 * Lone surrogates are kept (surrogatepass), so any str comes back as it went in.
 */
typedef struct {
    PyObject_HEAD
    Vocab vocab; /* text number -> its bytes, and the hash table */
    char **blocks; /* the texts' bytes, in blocks that never move (growing one block by copying
                      would hold the old and the new copy at once) */
    Py_ssize_t nblocks, blocks_cap;
    size_t block_used, block_cap; /* of the last block */
} TextsObject;

#define TEXT_BLOCK (1 << 20)

static inline const char *texts_at(const TextsObject *t, Py_ssize_t i, Py_ssize_t *n) {
    *n = t->vocab.toks[i].n;
    return t->vocab.toks[i].s;
}

/* Room for n more bytes; where they go. */
static inline char *texts_room(TextsObject *t, size_t n) {
    if (t->nblocks && t->block_used + n <= t->block_cap) return t->blocks[t->nblocks - 1] + t->block_used;
    if (t->nblocks == t->blocks_cap) {
        Py_ssize_t cap = t->blocks_cap ? t->blocks_cap * 2 : 64;
        char **blocks = realloc(t->blocks, (size_t)cap * sizeof(char *));
        if (!blocks) return NULL;
        t->blocks = blocks, t->blocks_cap = cap;
    }
    size_t size = n > TEXT_BLOCK ? n : TEXT_BLOCK;
    char *block = malloc(size ? size : 1);
    if (!block) return NULL;
    t->blocks[t->nblocks++] = block;
    t->block_used = 0, t->block_cap = size;
    return block;
}

/* The UTF-8 of a str (surrogatepass); *owner holds a bytes object to release, or NULL. */
static inline const char *utf8_of(PyObject *text, Py_ssize_t *n, PyObject **owner) {
    *owner = NULL;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "texts are str");
        return NULL;
    }
    const char *s = PyUnicode_AsUTF8AndSize(text, n);
    if (s || !PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return s;
    PyErr_Clear();
    *owner = PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
    if (!*owner) return NULL;
    *n = PyBytes_GET_SIZE(*owner);
    return PyBytes_AS_STRING(*owner);
}

/* Adds UTF-8 text (copied) to t: its number, a new text getting the next one; -2 with an error set. */
static inline int texts_add_utf8(TextsObject *t, const char *s, Py_ssize_t n) {
    size_t slot;
    int id = vocab_find(&t->vocab, s, n, &slot);
    if (id == -1) {
        char *room = texts_room(t, (size_t)n);
        if (!room) {
            PyErr_NoMemory();
            return -2;
        }
        memcpy(room, s, (size_t)n);
        id = vocab_insert(&t->vocab, slot, room, n, 0);
        if (id >= 0) t->block_used += (size_t)n;
    }
    if (id >= 0) return id;
    vocab_error(id);
    return -2;
}

extern PyTypeObject skillsmith_TextsType;

/* _signatures.c: adds the Table type to the module. */
int skillsmith_add_table_type(PyObject *module);

#endif
