/* The inner loops of the quality filters' word statistics, compiled.
 *
 * The Gopher repetition n-grams (data_prep/steps/ngram_stats.py): datatrove's GopherRepetitionFilter builds Python strings for every n-gram and puts them in a
 * Counter or a set: that is most of its time. Here each n-gram is a position in the document's
 * token arrays; a hash table of positions answers "seen before?" and "how often?", and equal
 * hashes are confirmed by comparing the tokens (top n-grams) or the characters (duplicated
 * n-grams), so the results are exact whatever the hashes collide on.
 *
 * ngram_profile(ids, cum, codes, top, dup) -> ({n: top_chars}, {n: duplicated_chars})
 *   ids:   int64[m], equal for equal tokens
 *   cum:   int64[m + 1], token i spans characters cum[i]:cum[i + 1] of the joined tokens
 *   codes: uint32[cum[m]], the joined tokens as code points (or their UTF-32 bytes)
 *   top, dup: sequences of n; only n <= m are answered
 *
 * The token ids (data_prep/steps/text_stats.py) and the word splitter's chunk cache
 * (data_prep/steps/spacy_split.py), one dict look-up per item without a Python loop:
 * lookup_ids(tokens, table, out) -> number of tokens missing from `table`
 *   out: int64[len(tokens)], table[token] for every token, -1 where it has none
 * unseen(keys, mapping) -> the distinct keys `mapping` lacks
 * gather(keys, mapping) -> the items of the tuples mapping[key], key after key
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MULT 0x9E3779B97F4A7C15ULL /* odd: spreads the ids; golden ratio */
#define BASE 0x100000001B3ULL      /* FNV prime: the polynomial string hash */

typedef struct {
    uint64_t hash;
    int64_t pos; /* first position of this n-gram, -1: empty slot */
    int64_t count;
} Slot;

typedef struct {
    Slot *slots;
    int64_t *order; /* slot indexes in first-seen order (top n-grams: ties go to the first) */
    int64_t n_order;
    uint64_t mask;
} Table;

static inline uint64_t mix(uint64_t h) { /* splitmix64 finaliser: the slot index */
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBULL;
    return h ^ (h >> 31);
}

static int table_init(Table *t, int64_t m) {
    uint64_t cap = 16;
    while (cap < (uint64_t)m * 2) cap <<= 1;
    t->slots = PyMem_Malloc(cap * sizeof(Slot));
    t->order = PyMem_Malloc((size_t)(m + 1) * sizeof(int64_t));
    t->mask = cap - 1;
    return t->slots && t->order;
}

static void table_clear(Table *t) {
    for (uint64_t i = 0; i <= t->mask; i++) t->slots[i].pos = -1;
    t->n_order = 0;
}

static void table_free(Table *t) {
    PyMem_Free(t->slots);
    PyMem_Free(t->order);
}

/* Most frequent n-gram (token sequence): its characters joined with spaces, times its count. */
static int64_t top_chars(Table *t, const int64_t *ids, const int64_t *cum, const uint64_t *h, int64_t m,
                         int64_t n) {
    table_clear(t);
    for (int64_t i = 0; i + n <= m; i++) {
        uint64_t j = mix(h[i]) & t->mask;
        for (;; j = (j + 1) & t->mask) {
            Slot *s = &t->slots[j];
            if (s->pos < 0) {
                s->hash = h[i];
                s->pos = i;
                s->count = 1;
                t->order[t->n_order++] = (int64_t)j;
                break;
            }
            if (s->hash == h[i] && memcmp(ids + s->pos, ids + i, (size_t)n * sizeof(int64_t)) == 0) {
                s->count++;
                break;
            }
        }
    }
    int64_t best = 0, pos = 0;
    for (int64_t k = 0; k < t->n_order; k++) {
        Slot *s = &t->slots[t->order[k]];
        if (s->count > best) {
            best = s->count;
            pos = s->pos;
        }
    }
    return (cum[pos + n] - cum[pos] + n - 1) * best;
}

/* datatrove's find_all_duplicate: n-grams joined without spaces; a repeat counts its characters
 * and the scan jumps past it (the positions it jumps over are not remembered). */
static int64_t duplicated_chars(Table *t, const int64_t *cum, const uint32_t *codes, const uint64_t *h,
                                int64_t m, int64_t n) {
    table_clear(t);
    int64_t repeated = 0, i = 0;
    while (i + n <= m) {
        int64_t len = cum[i + n] - cum[i];
        uint64_t j = mix(h[i]) & t->mask;
        int found = 0;
        for (;; j = (j + 1) & t->mask) {
            Slot *s = &t->slots[j];
            if (s->pos < 0) {
                s->hash = h[i];
                s->pos = i;
                break;
            }
            if (s->hash == h[i] && cum[s->pos + n] - cum[s->pos] == len &&
                memcmp(codes + cum[s->pos], codes + cum[i], (size_t)len * sizeof(uint32_t)) == 0) {
                found = 1;
                break;
            }
        }
        if (found) {
            repeated += len;
            i += n;
        } else {
            i += 1;
        }
    }
    return repeated;
}

static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return 0;
    /* itemsize 4 also takes bytes (UTF-32 from str.encode) of a length that is a multiple of 4 */
    if (view->itemsize != itemsize && !(itemsize == 4 && view->itemsize == 1 && view->len % 4 == 0)) {
        PyErr_Format(PyExc_TypeError, "%s: expected items of %zd bytes, got %zd", name, itemsize,
                     view->itemsize);
        PyBuffer_Release(view);
        return 0;
    }
    return 1;
}

/* A sequence of n as a C array; n < 1 is refused (it has no n-grams). */
static int64_t *ns_of(PyObject *seq, Py_ssize_t *count) {
    PyObject *fast = PySequence_Fast(seq, "top and dup must be sequences of integers");
    if (!fast) return NULL;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(fast);
    int64_t *out = PyMem_Malloc((size_t)(k + 1) * sizeof(int64_t));
    if (!out) PyErr_NoMemory();
    for (Py_ssize_t i = 0; out && i < k; i++) {
        out[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, i));
        if (out[i] < 1) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "n-gram sizes must be >= 1");
            PyMem_Free(out);
            out = NULL;
        }
    }
    Py_DECREF(fast);
    *count = k;
    return out;
}

static int put(PyObject *dict, int64_t n, int64_t value) {
    PyObject *key = PyLong_FromLongLong(n), *val = PyLong_FromLongLong(value);
    int rc = (key && val) ? PyDict_SetItem(dict, key, val) : -1;
    Py_XDECREF(key);
    Py_XDECREF(val);
    return rc;
}

static PyObject *ngram_profile(PyObject *self, PyObject *args) {
    PyObject *ids_obj, *cum_obj, *codes_obj, *top_obj, *dup_obj;
    if (!PyArg_ParseTuple(args, "OOOOO", &ids_obj, &cum_obj, &codes_obj, &top_obj, &dup_obj)) return NULL;
    Py_buffer ids_v, cum_v, codes_v;
    if (!get_buffer(ids_obj, &ids_v, 8, "ids")) return NULL;
    if (!get_buffer(cum_obj, &cum_v, 8, "cum")) {
        PyBuffer_Release(&ids_v);
        return NULL;
    }
    if (!get_buffer(codes_obj, &codes_v, 4, "codes")) {
        PyBuffer_Release(&ids_v);
        PyBuffer_Release(&cum_v);
        return NULL;
    }
    PyObject *tops = NULL, *dups = NULL, *result = NULL;
    int64_t *top = NULL, *dup = NULL;
    uint64_t *h = NULL, *tok_hash = NULL, *tok_pow = NULL;
    Table table = {0};
    Py_ssize_t n_top = 0, n_dup = 0;
    int64_t built = 0;
    const int64_t *ids = ids_v.buf, *cum = cum_v.buf;
    const uint32_t *codes = codes_v.buf;
    int64_t m = ids_v.len / 8;

    top = ns_of(top_obj, &n_top);
    dup = top ? ns_of(dup_obj, &n_dup) : NULL;
    tops = PyDict_New();
    dups = PyDict_New();
    if (!top || !dup || !tops || !dups) goto done;
    if (cum_v.len / 8 != m + 1 || cum[0] != 0 || (n_dup && codes_v.len / 4 != cum[m])) {
        PyErr_SetString(PyExc_ValueError, "cum must have len(ids) + 1 entries from 0 to len(codes)");
        goto done;
    }
    if (m == 0) goto build;

    h = PyMem_Malloc((size_t)m * sizeof(uint64_t));
    tok_hash = PyMem_Malloc((size_t)m * sizeof(uint64_t));
    tok_pow = PyMem_Malloc((size_t)m * sizeof(uint64_t));
    if (!h || !tok_hash || !tok_pow || !table_init(&table, m)) {
        PyErr_NoMemory();
        goto done;
    }
    /* hash of the token sequence ids[i:i+n]: grown from n - 1 in place */
    built = 0;
    for (Py_ssize_t k = 0; k < n_top; k++) {
        int64_t n = top[k];
        if (n > m) continue;
        if (n < built || built == 0) { /* first size, or sizes out of order: start over */
            for (int64_t i = 0; i < m; i++) h[i] = (uint64_t)ids[i];
            built = 1;
        }
        for (; built < n; built++)
            for (int64_t i = 0; i + built < m; i++) h[i] = h[i] * MULT + (uint64_t)ids[i + built];
        if (put(tops, n, top_chars(&table, ids, cum, h, m, n)) < 0) goto done;
    }

    if (n_dup) {
        /* hash of the joined n-gram: H(a + b) = H(a) * BASE**len(b) + H(b), exact polynomial mod 2**64 */
        for (int64_t i = 0; i < m; i++) {
            uint64_t hh = 0, pw = 1;
            for (int64_t c = cum[i]; c < cum[i + 1]; c++) {
                hh = hh * BASE + (uint64_t)codes[c] + 1;
                pw *= BASE;
            }
            tok_hash[i] = hh;
            tok_pow[i] = pw;
        }
        built = 0;
        for (Py_ssize_t k = 0; k < n_dup; k++) {
            int64_t n = dup[k];
            if (n > m) continue;
            if (n < built || built == 0) {
                for (int64_t i = 0; i < m; i++) h[i] = tok_hash[i];
                built = 1;
            }
            for (; built < n; built++)
                for (int64_t i = 0; i + built < m; i++) h[i] = h[i] * tok_pow[i + built] + tok_hash[i + built];
            if (put(dups, n, duplicated_chars(&table, cum, codes, h, m, n)) < 0) goto done;
        }
    }
build:
    result = PyTuple_Pack(2, tops, dups);
done:
    Py_XDECREF(tops);
    Py_XDECREF(dups);
    PyMem_Free(top);
    PyMem_Free(dup);
    PyMem_Free(h);
    PyMem_Free(tok_hash);
    PyMem_Free(tok_pow);
    table_free(&table);
    PyBuffer_Release(&ids_v);
    PyBuffer_Release(&cum_v);
    PyBuffer_Release(&codes_v);
    return result;
}

static PyObject *lookup_ids(PyObject *self, PyObject *args) {
    PyObject *tokens, *table, *out_obj;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &tokens, &PyDict_Type, &table, &out_obj)) return NULL;
    Py_buffer out_v;
    if (!get_buffer(out_obj, &out_v, 8, "out")) return NULL;
    Py_ssize_t m = PyList_GET_SIZE(tokens), missing = 0;
    if (out_v.readonly || out_v.len / 8 != m) {
        PyErr_SetString(PyExc_ValueError, "out must be a writable int64 array of len(tokens)");
        PyBuffer_Release(&out_v);
        return NULL;
    }
    int64_t *out = out_v.buf;
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *v = PyDict_GetItemWithError(table, PyList_GET_ITEM(tokens, i)); /* borrowed */
        if (v) {
            out[i] = PyLong_AsLongLong(v);
            if (out[i] == -1 && PyErr_Occurred()) break;
        } else if (PyErr_Occurred()) {
            break;
        } else {
            out[i] = -1;
            missing++;
        }
    }
    PyBuffer_Release(&out_v);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromSsize_t(missing);
}

/* the distinct keys `mapping` lacks, in first-seen order */
static PyObject *unseen(PyObject *self, PyObject *args) {
    PyObject *keys, *mapping;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &keys, &PyDict_Type, &mapping)) return NULL;
    PyObject *out = PyList_New(0), *seen = PySet_New(NULL);
    for (Py_ssize_t i = 0; out && seen && i < PyList_GET_SIZE(keys); i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        int in = PyDict_Contains(mapping, key);
        int dup = in == 0 ? PySet_Contains(seen, key) : 0;
        if (in < 0 || dup < 0 || (in == 0 && !dup && (PySet_Add(seen, key) < 0 || PyList_Append(out, key) < 0)))
            Py_CLEAR(out);
    }
    if (!seen) Py_CLEAR(out);
    Py_XDECREF(seen);
    return out;
}

/* the items of the tuples mapping[key], key after key, in one list */
static PyObject *gather(PyObject *self, PyObject *args) {
    PyObject *keys, *mapping;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &keys, &PyDict_Type, &mapping)) return NULL;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(keys); i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        PyObject *value = PyDict_GetItemWithError(mapping, key); /* borrowed */
        if (!value || !PyTuple_Check(value)) {
            if (!PyErr_Occurred()) PyErr_SetObject(value ? PyExc_TypeError : PyExc_KeyError, key);
            Py_CLEAR(out);
            break;
        }
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(value); j++)
            if (PyList_Append(out, PyTuple_GET_ITEM(value, j)) < 0) {
                Py_CLEAR(out);
                break;
            }
    }
    return out;
}

static PyMethodDef methods[] = {
    {"ngram_profile", ngram_profile, METH_VARARGS,
     "ngram_profile(ids, cum, codes, top, dup) -> ({n: top_chars}, {n: duplicated_chars})"},
    {"unseen", unseen, METH_VARARGS, "unseen(keys, mapping) -> distinct keys not in mapping"},
    {"gather", gather, METH_VARARGS, "gather(keys, mapping) -> the items of mapping[key] for every key"},
    {"lookup_ids", lookup_ids, METH_VARARGS,
     "lookup_ids(tokens, table, out) -> how many tokens `table` lacks (their out[i] is -1)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_native", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
