/*
 * _dwtdct: the block votes of invisible-watermark's dwtDct decoder, for cairn.signals.provenance.watermark.
 *
 * The same arithmetic as the NumPy path there, bit for bit (the tests compare both on random pictures):
 *   U = OpenCV's fixed-point COLOR_BGR2YUV U (int32, clipped to 0..255), for the "bgr" and the "rgb" reading;
 *   LL = one level of the Haar DWT's approximation band, computed as pywt does: (a*H + b*H) per row pair, then
 *        per column pair, in double, no fused multiply-add (built with -ffp-contract=off);
 *   a 4x4 LL block (an 8x8 pixel block) votes 1 when its largest |coefficient| other than the first (the first
 *   of equal ones) modulo 36 is above 18.
 * Only whole 8x8 pixel blocks are read, so a block row is 8 pixel rows and a picture's blocks are
 * (height / 8) x (width / 8), row by row: what the decoder's cut to multiples of 4 and its 4x4 blocks of LL give.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#define HAAR 0.7071067811865476
#define SCALE 36.0

static inline int32_t u_of(int32_t r, int32_t g, int32_t b) {
    int32_t luma = (r * 4899 + b * 1868 + (g * 9617 + (1 << 13))) >> 14;
    int32_t u = ((b - luma) * 8061 + (128 << 14) + (1 << 13)) >> 14;
    return u < 0 ? 0 : (u > 255 ? 255 : u);
}

/* Scratch rows of one block row (8 pixel rows) of a picture `w8` pixels wide (whole blocks only). */
typedef struct {
    int32_t *u[2];  /* 8 x w8 U values per reading: [0] "bgr" (blue is channel 2), [1] "rgb" (blue is channel 0) */
    double *rows;   /* 4 x w8: the row pairs' Haar step */
    double *ll;     /* 4 x w8 / 2: the LL band of the block row */
} scratch_t;

/* The votes of the block row whose top pixel row is `top` (strides in bytes: `stride` a row, `px` a pixel, `ch` a
 * channel; `per_row` blocks): the
 * "bgr" reading's into out0, the "rgb" reading's into out1. The steps run a whole block row at a time (loops
 * over contiguous rows the compiler vectorises); the arithmetic is that of the NumPy path, operation for
 * operation. */
static void block_row_votes(const uint8_t *top, Py_ssize_t stride, Py_ssize_t px, Py_ssize_t ch, Py_ssize_t per_row,
                            scratch_t *s, uint8_t *out0, uint8_t *out1) {
    Py_ssize_t w8 = per_row * 8, half = per_row * 4;
    for (int y = 0; y < 8; y++) {
        const uint8_t *row = top + y * stride;
        int32_t *u0 = s->u[0] + y * w8, *u1 = s->u[1] + y * w8;
        for (Py_ssize_t x = 0; x < w8; x++) {
            const uint8_t *p = row + x * px;
            int32_t c0 = p[0], c1 = p[ch], c2 = p[2 * ch];
            u0[x] = u_of(c0, c1, c2);
            u1[x] = u_of(c2, c1, c0);
        }
    }
    for (int k = 0; k < 2; k++) {
        uint8_t *out = k == 0 ? out0 : out1;
        for (int y = 0; y < 4; y++) {
            const int32_t *a = s->u[k] + (2 * y) * w8, *b = s->u[k] + (2 * y + 1) * w8;
            double *r = s->rows + y * w8;
            for (Py_ssize_t x = 0; x < w8; x++) {
                double fa = (double)a[x] * HAAR;
                double fb = (double)b[x] * HAAR;
                r[x] = fa + fb;
            }
            double *l = s->ll + y * half;
            for (Py_ssize_t x = 0; x < half; x++) {
                double fa = r[2 * x] * HAAR;
                double fb = r[2 * x + 1] * HAAR;
                l[x] = fabs(fa + fb);
            }
        }
        for (Py_ssize_t j = 0; j < per_row; j++) {
            double peak = -1.0;
            for (int y = 0; y < 4; y++) {
                const double *l = s->ll + y * half + 4 * j;
                for (int x = y == 0 ? 1 : 0; x < 4; x++)
                    if (l[x] > peak) peak = l[x];
            }
            out[j] = fmod(peak, SCALE) > 0.5 * SCALE;
        }
    }
}

static int get_buffer(PyObject *obj, Py_buffer *view, int writable) {
    return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0));
}

/* votes(pixels, rows, out): pixels is a height x width x 3 uint8 array (any strides: a view of RGBA memory or a
 * flipped view is read in place); rows an int64 buffer of
 * block rows to read (None: all, height / 8); out a writable uint8 buffer of 2 x (len(rows) * (width / 8)): the
 * "bgr" votes, then the "rgb" votes, each block row after row. */
static PyObject *votes(PyObject *self, PyObject *args) {
    PyObject *po, *ro, *oo;
    if (!PyArg_ParseTuple(args, "OOO", &po, &ro, &oo)) return NULL;
    Py_buffer pv, rv, ov;
    if (PyObject_GetBuffer(po, &pv, PyBUF_STRIDES | PyBUF_FORMAT) != 0) return NULL;
    if (pv.ndim != 3 || pv.shape[2] != 3 || pv.itemsize != 1 || (pv.format && strcmp(pv.format, "B") != 0)) {
        PyBuffer_Release(&pv);
        PyErr_SetString(PyExc_ValueError, "pixels must be a height x width x 3 uint8 array");
        return NULL;
    }
    Py_ssize_t height = pv.shape[0], width = pv.shape[1];
    int all = ro == Py_None;
    const int64_t *rows = NULL;
    Py_ssize_t nrows = height / 8, per_row = width / 8;
    if (!all) {
        if (get_buffer(ro, &rv, 0) != 0) {
            PyBuffer_Release(&pv);
            return NULL;
        }
        rows = (const int64_t *)rv.buf;
        Py_ssize_t count = rv.len / (Py_ssize_t)sizeof(int64_t);
        for (Py_ssize_t i = 0; i < count; i++)
            if (rows[i] < 0 || rows[i] >= nrows) {
                PyBuffer_Release(&rv);
                PyBuffer_Release(&pv);
                PyErr_SetString(PyExc_ValueError, "block row outside the picture");
                return NULL;
            }
        nrows = count;
    }
    if (get_buffer(oo, &ov, 1) != 0) {
        if (!all) PyBuffer_Release(&rv);
        PyBuffer_Release(&pv);
        return NULL;
    }
    Py_ssize_t nblocks = nrows * per_row;
    if (ov.len < 2 * nblocks) {
        PyBuffer_Release(&ov);
        if (!all) PyBuffer_Release(&rv);
        PyBuffer_Release(&pv);
        PyErr_SetString(PyExc_ValueError, "output buffer smaller than 2 x blocks");
        return NULL;
    }
    const uint8_t *pix = (const uint8_t *)pv.buf;
    uint8_t *out = (uint8_t *)ov.buf;
    Py_ssize_t stride = pv.strides[0], px = pv.strides[1], ch = pv.strides[2], w8 = per_row * 8;
    scratch_t s;
    void *mem = per_row > 0 ? PyMem_RawMalloc((size_t)w8 * (16 * sizeof(int32_t) + 6 * sizeof(double))) : NULL;
    if (per_row > 0 && mem == NULL) {
        PyBuffer_Release(&ov);
        if (!all) PyBuffer_Release(&rv);
        PyBuffer_Release(&pv);
        return PyErr_NoMemory();
    }
    if (mem != NULL) {
        s.rows = (double *)mem;
        s.ll = s.rows + 4 * w8;
        s.u[0] = (int32_t *)(s.ll + 2 * w8);
        s.u[1] = s.u[0] + 8 * w8;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < nrows; i++) {
            Py_ssize_t row = all ? i : (Py_ssize_t)rows[i];
            block_row_votes(pix + row * 8 * stride, stride, px, ch, per_row, &s, out + i * per_row,
                            out + nblocks + i * per_row);
        }
        Py_END_ALLOW_THREADS
        PyMem_RawFree(mem);
    }
    PyBuffer_Release(&ov);
    if (!all) PyBuffer_Release(&rv);
    PyBuffer_Release(&pv);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"votes", votes, METH_VARARGS, "The dwtDct block votes of both channel readings (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_dwtdct", "invisible-watermark dwtDct block votes (C).", -1, methods,
};

PyMODINIT_FUNC PyInit__dwtdct(void) { return PyModule_Create(&module); }
