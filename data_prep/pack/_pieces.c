/* The pre-tokenizer split of `llm-train tokenizer`'s tokenizers, in C (data_prep/pack/pieces.py).
 *
 * It is `regex.findall(SPLIT_PATTERN, text)` for the one pattern data_prep/tokenizer/model.py uses:
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 *
 * Each alternative is matched by hand, in order, at each position, with the backtracking the regex
 * engine would do. What a character is (\p{L}, \p{N}, \s, and which characters `(?i:s)` and the
 * like accept) comes from a table the Python side builds with the `regex` module itself, so this
 * file holds no Unicode data and agrees with the engine it replaces (tests/test_pack_pieces.py
 * fuzzes the two against each other).
 *
 * split(text, table) -> list of str
 *   table: uint16[0x110000] of the bits below
 *
 * The piece-cache loop (data_prep/pack/encoder.py), most of the rest of pack's time:
 * flatten(pieces, cache, fill) -> (int64 ids of all pieces as bytes, [ids so far at each "" piece])
 *   cache: piece -> tuple of ids; "" marks the end of a text (its ids are the end-of-document id)
 *   fill: called once, with the distinct pieces the cache lacks (first-seen order), to add them;
 *         it may also empty the cache first: the values already looked up are held.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

enum {
    LETTER = 1,   /* \p{L} */
    NUMBER = 2,   /* \p{N} */
    SPACE = 4,    /* \s */
    CI_S = 8,     /* what (?i:s) accepts; the next ones likewise */
    CI_T = 16,
    CI_R = 32,
    CI_E = 64,
    CI_V = 128,
    CI_M = 256,
    CI_L = 512,
    CI_D = 1024,
};

#define N_CODEPOINTS 0x110000

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t n;
    const uint16_t *table;
} Text;

static inline uint16_t bits(const Text *t, Py_ssize_t i) {
    Py_UCS4 c = PyUnicode_READ(t->kind, t->data, i);
    return c < N_CODEPOINTS ? t->table[c] : 0;
}

static inline Py_UCS4 at(const Text *t, Py_ssize_t i) { return PyUnicode_READ(t->kind, t->data, i); }

static inline int has(const Text *t, Py_ssize_t i, uint16_t mask) { return i < t->n && (bits(t, i) & mask); }

static inline int newline(Py_UCS4 c) { return c == '\r' || c == '\n'; }

/* (?i:'s|'t|'re|'ve|'m|'ll|'d): the end of the match at i, 0 if none */
static Py_ssize_t contraction(const Text *t, Py_ssize_t i) {
    if (at(t, i) != '\'' || i + 1 >= t->n) return 0;
    if (has(t, i + 1, CI_S) || has(t, i + 1, CI_T)) return i + 2;
    if ((has(t, i + 1, CI_R) || has(t, i + 1, CI_V)) && has(t, i + 2, CI_E)) return i + 3;
    if (has(t, i + 1, CI_M)) return i + 2;
    if (has(t, i + 1, CI_L) && has(t, i + 2, CI_L)) return i + 3;
    if (has(t, i + 1, CI_D)) return i + 2;
    return 0;
}

static inline Py_ssize_t run(const Text *t, Py_ssize_t i, uint16_t mask) {
    while (i < t->n && (bits(t, i) & mask)) i++;
    return i;
}

/* The end of the piece starting at i (always > i: every character is matched by an alternative). */
static Py_ssize_t piece_end(const Text *t, Py_ssize_t i) {
    Py_ssize_t end = contraction(t, i);
    if (end) return end;
    uint16_t b = bits(t, i);
    Py_UCS4 c = at(t, i);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (b & LETTER) return run(t, i + 1, LETTER);
    if (!(b & NUMBER) && !newline(c) && has(t, i + 1, LETTER)) return run(t, i + 2, LETTER);
    /* \p{N}{1,3} */
    if (b & NUMBER) {
        end = i + 1;
        while (end < i + 3 && has(t, end, NUMBER)) end++;
        return end;
    }
    /* " ?[^\s\p{L}\p{N}]+[\r\n]*" */
    const uint16_t word = LETTER | NUMBER | SPACE;
    Py_ssize_t start = -1;
    if (c == ' ' && i + 1 < t->n && !(bits(t, i + 1) & word))
        start = i + 1;
    else if (!(b & word))
        start = i;
    if (start >= 0) {
        end = start;
        while (end < t->n && !(bits(t, end) & word)) end++;
        while (end < t->n && newline(at(t, end))) end++;
        return end;
    }
    /* whitespace from here on: the run of it ends at r */
    Py_ssize_t r = run(t, i, SPACE);
    /* \s*[\r\n]+ : \s* gives back until a newline follows; the last newline of the run ends it */
    for (Py_ssize_t k = r - 1; k >= i; k--)
        if (newline(at(t, k))) return k + 1;
    /* \s+(?!\S) : the whole run at the end of the text, else all of it but the last character */
    if (r == t->n) return r;
    if (r - i >= 2) return r - 1;
    /* \s+ */
    return r;
}

static PyObject *split(PyObject *self, PyObject *args) {
    PyObject *text;
    Py_buffer table;
    if (!PyArg_ParseTuple(args, "Uy*", &text, &table)) return NULL;
    if (table.len != N_CODEPOINTS * (Py_ssize_t)sizeof(uint16_t)) {
        PyBuffer_Release(&table);
        PyErr_SetString(PyExc_ValueError, "table must hold 0x110000 uint16 entries");
        return NULL;
    }
    Text t = {PyUnicode_KIND(text), PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), table.buf};
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < t.n;) {
        Py_ssize_t end = piece_end(&t, i);
        PyObject *piece = PyUnicode_Substring(text, i, end);
        if (!piece || PyList_Append(out, piece) < 0) Py_CLEAR(out);
        Py_XDECREF(piece);
        i = end;
    }
    PyBuffer_Release(&table);
    return out;
}

/* The distinct pieces at the NULL entries of vals, in first-seen order. */
static PyObject *unseen(PyObject *pieces, PyObject **vals) {
    PyObject *out = PyList_New(0), *seen = PySet_New(NULL);
    for (Py_ssize_t i = 0; out && seen && i < PyList_GET_SIZE(pieces); i++) {
        if (vals[i]) continue;
        PyObject *piece = PyList_GET_ITEM(pieces, i);
        int dup = PySet_Contains(seen, piece);
        if (dup < 0 || (!dup && (PySet_Add(seen, piece) < 0 || PyList_Append(out, piece) < 0))) Py_CLEAR(out);
    }
    if (!seen) Py_CLEAR(out);
    Py_XDECREF(seen);
    return out;
}

static PyObject *flatten(PyObject *self, PyObject *args) {
    PyObject *pieces, *cache, *fill;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &pieces, &PyDict_Type, &cache, &fill)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(pieces), cap = 2 * n + 16, size = 0, n_missing = 0;
    /* strong references: `fill` may clear the cache (its memory bound) while we hold its values */
    PyObject **vals = PyMem_Calloc((size_t)n + 1, sizeof(PyObject *));
    int64_t *ids = PyMem_Malloc((size_t)cap * sizeof(int64_t));
    PyObject *ends = PyList_New(0), *result = NULL;
    if (!vals || !ids || !ends) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        vals[i] = PyDict_GetItemWithError(cache, PyList_GET_ITEM(pieces, i));
        if (vals[i]) Py_INCREF(vals[i]);
        else if (PyErr_Occurred()) goto done;
        else n_missing++;
    }
    if (n_missing) {
        PyObject *todo = unseen(pieces, vals);
        PyObject *filled = todo ? PyObject_CallOneArg(fill, todo) : NULL;
        Py_XDECREF(todo);
        if (!filled) goto done;
        Py_DECREF(filled);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (vals[i]) continue;
            PyObject *piece = PyList_GET_ITEM(pieces, i);
            vals[i] = PyDict_GetItemWithError(cache, piece);
            if (!vals[i]) {
                if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, piece);
                goto done;
            }
            Py_INCREF(vals[i]);
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = vals[i];
        if (!PyTuple_Check(value)) {
            PyErr_SetString(PyExc_TypeError, "cache values must be tuples of ids");
            goto done;
        }
        Py_ssize_t k = PyTuple_GET_SIZE(value);
        if (size + k > cap) {
            cap = 2 * (size + k);
            int64_t *grown = PyMem_Realloc(ids, (size_t)cap * sizeof(int64_t));
            if (!grown) {
                PyErr_NoMemory();
                goto done;
            }
            ids = grown;
        }
        for (Py_ssize_t j = 0; j < k; j++) {
            ids[size] = PyLong_AsLongLong(PyTuple_GET_ITEM(value, j));
            if (ids[size++] == -1 && PyErr_Occurred()) goto done;
        }
        if (PyUnicode_GET_LENGTH(PyList_GET_ITEM(pieces, i)) == 0) {
            PyObject *end = PyLong_FromSsize_t(size);
            int rc = end ? PyList_Append(ends, end) : -1;
            Py_XDECREF(end);
            if (rc < 0) goto done;
        }
    }
    PyObject *flat = PyBytes_FromStringAndSize((const char *)ids, size * (Py_ssize_t)sizeof(int64_t));
    if (flat) {
        result = PyTuple_Pack(2, flat, ends);
        Py_DECREF(flat);
    }
done:
    for (Py_ssize_t i = 0; vals && i < n; i++) Py_XDECREF(vals[i]);
    PyMem_Free(vals);
    PyMem_Free(ids);
    Py_XDECREF(ends);
    return result;
}

static PyMethodDef methods[] = {
    {"split", split, METH_VARARGS, "split(text, table) -> the pre-tokenizer pieces of text"},
    {"flatten", flatten, METH_VARARGS, "flatten(pieces, cache, fill) -> (int64 ids as bytes, ends)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_pieces", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__pieces(void) { return PyModule_Create(&module); }
