/*
 * _pdqindex: the query kernel of cairn.matching.pdq_index (exact PDQ near-match by multi-index hashing).
 *
 * Layout (built by pdq_index.py, read here through the buffer protocol, typically memory-mapped):
 *   hashes  : n x 32 bytes, each distinct stored hash once;
 *   dirs    : M x (2^p + 1) uint32 offsets; substring s's entries whose key prefix is v are
 *             entries[s][dirs[s][v] .. dirs[s][v+1]);
 *   entries : M x n uint32, (hash index << sh) | residual, residual = the key's low (width - p) bits.
 * Substring s covers bits [start_s, start_s + width_s) of the hash, bit 0 = the most significant bit of byte 0.
 *
 * Query with threshold t: r = t / M, a = t % M; substrings 0..a are probed at radius r, the others at r - 1
 * (skipped when negative). If the full distance is <= t, at least one substring is within its radius
 * (pigeonhole), so every match is a candidate. A candidate found through substring s is reported only if no
 * earlier substring j < s is within its radius: every match is reported exactly once, without a hash set.
 * Probes are software-pipelined with prefetch (directory, then bucket, then hash) so that cache misses overlap. With linear set (the caller decides: tiny index, huge threshold) every hash is compared.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define M 11
#ifndef DIST
#define DIST 8
#endif

static const int WIDTH[M] = {24, 24, 24, 23, 23, 23, 23, 23, 23, 23, 23};
static int START[M];

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define HOT __attribute__((target_clones("popcnt", "default")))
#else
#define HOT
#endif

static inline uint32_t key_of(const uint8_t *h, int s) {
    int start = START[s], w = WIDTH[s];
    int b0 = start >> 3, off = start & 7, nb = (off + w + 7) >> 3;
    uint64_t v = 0;
    for (int i = 0; i < nb; i++) v = (v << 8) | h[b0 + i];
    v >>= (nb * 8 - off - w);
    return (uint32_t)(v & ((1u << w) - 1u));
}

static inline int dist256(const uint8_t *a, const uint8_t *b) {
    uint64_t x[4], y[4];
    memcpy(x, a, 32);
    memcpy(y, b, 32);
    return __builtin_popcountll(x[0] ^ y[0]) + __builtin_popcountll(x[1] ^ y[1]) +
           __builtin_popcountll(x[2] ^ y[2]) + __builtin_popcountll(x[3] ^ y[3]);
}

typedef struct {
    int64_t *q;
    uint32_t *idx;
    uint8_t *dist;
    size_t len, cap;
} Out;

static int out_push(Out *o, int64_t q, uint32_t idx, int d) {
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 1024;
        int64_t *nq = realloc(o->q, cap * sizeof(int64_t));
        if (!nq) return -1;
        o->q = nq;
        uint32_t *ni = realloc(o->idx, cap * sizeof(uint32_t));
        if (!ni) return -1;
        o->idx = ni;
        uint8_t *nd = realloc(o->dist, cap);
        if (!nd) return -1;
        o->dist = nd;
        o->cap = cap;
    }
    o->q[o->len] = q;
    o->idx[o->len] = idx;
    o->dist[o->len] = (uint8_t)d;
    o->len++;
    return 0;
}

typedef struct {
    const uint8_t *hashes;
    const uint32_t *dirs;
    const uint32_t *entries;
    size_t n;
    int p, sh, t;
    int radius[M];
    const uint32_t *masks; /* prefix flip masks, by increasing weight */
    const uint8_t *weights;
    size_t nmasks[M]; /* how many masks substring s uses (weight <= radius[s]) */
} Ctx;

typedef struct {
    uint32_t lo, hi;
    uint8_t s, rem;
} Probe;

typedef struct {
    uint32_t idx;
    uint8_t s;
} Cand;

/* Verify the candidates of one block and report the matches. */
static inline __attribute__((always_inline)) int flush_cands(const Ctx *c, const uint8_t *q, const uint32_t *qkeys, int64_t qi, const Cand *cand,
                              size_t nc, Out *o) {
    for (size_t k = 0; k < nc; k++) {
        const uint8_t *h = c->hashes + (size_t)cand[k].idx * 32;
        int d = dist256(h, q);
        if (d > c->t) continue;
        int first = 1;
        for (int j = 0; j < cand[k].s; j++) {
            if (c->radius[j] < 0) continue;
            if (__builtin_popcount(key_of(h, j) ^ qkeys[j]) <= c->radius[j]) {
                first = 0;
                break;
            }
        }
        if (first && out_push(o, qi, cand[k].idx, d) != 0) return -1;
    }
    return 0;
}

typedef struct {
    Probe *pr;
    size_t prcap;
    Cand *cand;
    size_t ccap;
} Work;

static int grow(void **buf, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 0;
    size_t ncap = need * 2;
    void *nb = realloc(*buf, ncap * item);
    if (!nb) return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

/* Software-pipelined probes: at step k, prefetch the directory slot of probe k, read the directory of probe
 * k - D and prefetch its bucket, scan the bucket of probe k - 2D (prefetching candidate hashes); then verify. */
static HOT int query_one(const Ctx *c, const uint8_t *q, int64_t qi, Out *o, Work *w) {
    uint32_t qkeys[M];
    for (int s = 0; s < M; s++) qkeys[s] = key_of(q, s);
    const size_t dirlen = ((size_t)1 << c->p) + 1;
    const uint32_t resmask = (1u << c->sh) - 1u;
    size_t np = 0;
    for (int s = 0; s < M; s++) np += c->nmasks[s];
    if (grow((void **)&w->pr, &w->prcap, np + 1, sizeof(Probe)) != 0) return -1;
    Probe *pr = w->pr;
    np = 0;
    for (int s = 0; s < M; s++) {
        if (c->radius[s] < 0) continue;
        const uint32_t qp = qkeys[s] >> (WIDTH[s] - c->p);
        for (size_t mi = 0; mi < c->nmasks[s]; mi++) {
            pr[np].lo = qp ^ c->masks[mi];
            pr[np].s = (uint8_t)s;
            pr[np].rem = (uint8_t)(c->radius[s] - c->weights[mi]);
            np++;
        }
    }
    size_t nc = 0;
    for (size_t k = 0; k < np + 2 * DIST; k++) {
        if (k < np) __builtin_prefetch(c->dirs + (size_t)pr[k].s * dirlen + pr[k].lo);
        if (k >= DIST && k - DIST < np) {
            Probe *p = pr + (k - DIST);
            const uint32_t *d = c->dirs + (size_t)p->s * dirlen + p->lo;
            /* Clamped so that a damaged index (not a valid save) can give wrong hits but never read out of
             * bounds; the cache verifies checksums before use, so this costs two compares per probe. */
            uint32_t hi = d[1] < c->n ? d[1] : (uint32_t)c->n;
            p->lo = d[0] < hi ? d[0] : hi;
            p->hi = hi;
            __builtin_prefetch(c->entries + (size_t)p->s * c->n + p->lo);
        }
        if (k >= 2 * DIST && k - 2 * DIST < np) {
            const Probe *p = pr + (k - 2 * DIST);
            const int ss = p->s;
            const uint32_t qr = qkeys[ss] & ((1u << (WIDTH[ss] - c->p)) - 1u);
            const uint32_t *e = c->entries + (size_t)ss * c->n;
            if (grow((void **)&w->cand, &w->ccap, nc + (p->hi - p->lo), sizeof(Cand)) != 0) return -1;
            for (uint32_t i = p->lo; i < p->hi; i++) {
                uint32_t ev = e[i];
                if (__builtin_popcount((ev & resmask) ^ qr) <= p->rem) {
                    uint32_t idx = ev >> c->sh;
                    if (idx >= c->n) continue;
                    __builtin_prefetch(c->hashes + (size_t)idx * 32);
                    w->cand[nc].idx = idx;
                    w->cand[nc].s = (uint8_t)ss;
                    nc++;
                }
            }
        }
    }
    return flush_cands(c, q, qkeys, qi, w->cand, nc, o);
}

static HOT int scan_one(const Ctx *c, const uint8_t *q, int64_t qi, Out *o) {
    for (size_t i = 0; i < c->n; i++) {
        int d = dist256(c->hashes + i * 32, q);
        if (d <= c->t && out_push(o, qi, (uint32_t)i, d) != 0) return -1;
    }
    return 0;
}

static size_t binom_sum(int n, int r) {
    size_t total = 0, term = 1;
    for (int k = 0; k <= r && k <= n; k++) {
        if (k > 0) term = term * (size_t)(n - k + 1) / (size_t)k;
        total += term;
    }
    return total;
}

/* All p-bit masks of weight <= r, by increasing weight (Gosper's hack per weight). */
static int make_masks(int p, int r, uint32_t **masks, uint8_t **weights, size_t *count) {
    size_t total = binom_sum(p, r);
    *masks = malloc(total * sizeof(uint32_t) + 1);
    *weights = malloc(total + 1);
    if (!*masks || !*weights) return -1;
    size_t k = 0;
    for (int w = 0; w <= r && w <= p; w++) {
        if (w == 0) {
            (*masks)[k] = 0;
            (*weights)[k++] = 0;
            continue;
        }
        uint64_t v = (1ull << w) - 1ull, limit = 1ull << p;
        while (v < limit) {
            (*masks)[k] = (uint32_t)v;
            (*weights)[k++] = (uint8_t)w;
            uint64_t cbit = v & (~v + 1ull), rr = v + cbit;
            v = (((rr ^ v) >> 2) / cbit) | rr;
        }
    }
    *count = k;
    return 0;
}

static int get_buf(PyObject *obj, Py_buffer *view, size_t need, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) != 0) return -1;
    if ((size_t)view->len < need) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%s buffer too small", what);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(query_doc,
             "query(hashes, dirs, entries, n, p, sh, queries, nq, threshold, linear) -> (qidx bytes int64, "
             "idx bytes uint32, dist bytes uint8)\n\nEvery stored hash within threshold of each query, in "
             "query order (unsorted within a query). Releases the GIL.");

static PyObject *query(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ho, *dobj, *eo, *qo;
    Py_ssize_t n, nq;
    int p, sh, t, linear;
    if (!PyArg_ParseTuple(args, "OOOniiOnip", &ho, &dobj, &eo, &n, &p, &sh, &qo, &nq, &t, &linear)) return NULL;
    if (n < 0 || nq < 0 || p < 1 || p > 23 || sh < 0 || sh > 31 || t < 0 || t > 256 ||
        (uint64_t)n > (1ull << (32 - sh))) {
        PyErr_SetString(PyExc_ValueError, "bad index parameters");
        return NULL;
    }
    Py_buffer hv, dv, ev, qv;
    size_t dirlen = ((size_t)1 << p) + 1;
    if (get_buf(ho, &hv, (size_t)n * 32, "hashes") != 0) return NULL;
    if (get_buf(dobj, &dv, (size_t)M * dirlen * 4, "dirs") != 0) {
        PyBuffer_Release(&hv);
        return NULL;
    }
    if (get_buf(eo, &ev, (size_t)M * (size_t)n * 4, "entries") != 0) {
        PyBuffer_Release(&hv);
        PyBuffer_Release(&dv);
        return NULL;
    }
    if (get_buf(qo, &qv, (size_t)nq * 32, "queries") != 0) {
        PyBuffer_Release(&hv);
        PyBuffer_Release(&dv);
        PyBuffer_Release(&ev);
        return NULL;
    }
    Ctx c;
    c.hashes = hv.buf;
    c.dirs = dv.buf;
    c.entries = ev.buf;
    c.n = (size_t)n;
    c.p = p;
    c.sh = sh;
    c.t = t;
    int r = t / M, a = t % M;
    for (int s = 0; s < M; s++) {
        c.radius[s] = s <= a ? r : r - 1;
        c.nmasks[s] = c.radius[s] < 0 ? 0 : binom_sum(p, c.radius[s]);
    }
    uint32_t *masks = NULL;
    uint8_t *weights = NULL;
    size_t nm = 0;
    Out o = {0};
    Work w = {0};
    int rc = 0;
    Py_BEGIN_ALLOW_THREADS
    if (!linear) rc = make_masks(p, r, &masks, &weights, &nm);
    c.masks = masks;
    c.weights = weights;
    for (Py_ssize_t i = 0; rc == 0 && i < nq; i++) {
        const uint8_t *q = (const uint8_t *)qv.buf + (size_t)i * 32;
        rc = linear ? scan_one(&c, q, i, &o) : query_one(&c, q, i, &o, &w);
    }
    Py_END_ALLOW_THREADS
    free(masks);
    free(weights);
    free(w.pr);
    free(w.cand);
    PyBuffer_Release(&hv);
    PyBuffer_Release(&dv);
    PyBuffer_Release(&ev);
    PyBuffer_Release(&qv);
    PyObject *res = NULL;
    if (rc != 0) {
        PyErr_NoMemory();
    } else {
        static const char empty[1] = {0};
        res = Py_BuildValue("(y#y#y#)", o.len ? (const char *)o.q : empty, (Py_ssize_t)(o.len * sizeof(int64_t)),
                            o.len ? (const char *)o.idx : empty, (Py_ssize_t)(o.len * sizeof(uint32_t)),
                            o.len ? (const char *)o.dist : empty, (Py_ssize_t)o.len);
    }
    free(o.q);
    free(o.idx);
    free(o.dist);
    return res;
}

static PyMethodDef methods[] = {
    {"query", query, METH_VARARGS, query_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pdqindex", "Exact PDQ multi-index hashing query kernel (C).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pdqindex(void) {
    int s0 = 0;
    for (int s = 0; s < M; s++) {
        START[s] = s0;
        s0 += WIDTH[s];
    }
    return PyModule_Create(&module);
}
