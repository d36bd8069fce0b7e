/*
 * _pdqcore: a fast PDQ hash that is bit-identical to Meta's reference (pdqhashing.cpp) as driven by
 * the `pdqhash` Python package (luma computed in float64 as numpy does, then cast to float32).
 *
 * Independent implementation. Every floating-point value is produced by the same sequence of IEEE
 * operations as the reference, in the same order, so results match to the bit. Build with
 * -ffp-contract=off and without -ffast-math: a fused multiply-add or re-association changes results.
 *
 * What differs from the reference is only the schedule:
 *   - luma is computed straight from the uint8 buffer (any strides), a few rows at a time;
 *   - the along-rows box filter runs eight rows interleaved (eight independent running sums, for
 *     instruction-level parallelism) and writes sums; the divisions are a separate vectorised loop;
 *   - the along-columns box filter keeps one running sum per column and walks the picture row by row
 *     (contiguous, vectorised), reading from a small ring of recent rows instead of a full-size copy;
 *   - the second along-rows pass computes every running sum but divides only at the 64 columns the
 *     decimation keeps, and the second along-columns pass only runs over those 64 columns and divides
 *     only at the 64 rows kept. Values the decimation discards are never computed; the kept ones are
 *     exactly the reference's.
 *
 * Box filter of window w (length n), as in the reference: h = (w + 2) / 2; output o averages inputs
 * max(0, o - (w - h)) .. min(n - 1, o + h - 1). The running sum starts at 0.0f; before output 0 the
 * inputs 0 .. h-2 are added; at output o the input o + h - 1 is added (if it exists), THEN the input
 * o - (w - h) - 1 is subtracted (if it exists), and the output is sum / (float)count.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* Same IEEE results on every clone (no FMA: avx2 alone does not enable it, and -ffp-contract=off). */
#define PDQ_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PDQ_CLONES
#endif

#define LANES 8 /* rows processed together in the along-rows passes */
#define MIN_DIM 5

static float dct16x64[16][64]; /* D[i][k] */
static float dct64x16t[64][16]; /* D transposed: Dt[k][j] = D[j][k] */

static void init_tables(void) {
    const float scale = (float)sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 64; j++) {
            double angle = (M_PI / 2.0 / 64.0) * (double)(i + 1) * (double)(2 * j + 1);
            float v = (float)((double)scale * cos(angle));
            dct16x64[i][j] = v;
            dct64x16t[j][i] = v;
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Luma. The reference (numpy in pdqhash's binding) computes (R*0.299 + G*0.587 + B*0.114) in float64,
 * left to right, and casts to float32. That equals the correctly rounded float32 of N/1000 with
 * N = 299R + 587G + 114B, for every (R, G, B): N/1000 is never a float32 rounding tie and lies at least
 * ~6e-11 (relative) from one, far beyond the float64 rounding error (~1e-15). The identity was also
 * checked exhaustively over all 2^24 triples (see tests). So luma = (float)N / 1000.0f, in integer
 * and single-precision SIMD, and grey (R=G=B=g, N=1000g) is exactly (float)g. */

static inline float luma_of(unsigned r, unsigned g, unsigned b) {
    return (float)(int)(299u * r + 587u * g + 114u * b) / 1000.0f;
}

PDQ_CLONES
static void luma_rgb_packed(const uint8_t *restrict p, float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) out[j] = luma_of(p[3 * j], p[3 * j + 1], p[3 * j + 2]);
}

PDQ_CLONES
static void luma_rgb_packed4(const uint8_t *restrict p, float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) out[j] = luma_of(p[4 * j], p[4 * j + 1], p[4 * j + 2]);
}

static void luma_rgb_strided(const uint8_t *p, Py_ssize_t cs, Py_ssize_t chs, float *out, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        const uint8_t *q = p + j * cs;
        out[j] = luma_of(q[0], q[chs], q[2 * chs]);
    }
}

PDQ_CLONES
static void luma_grey_packed(const uint8_t *restrict p, float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) out[j] = (float)p[j];
}

static void luma_grey(const uint8_t *p, Py_ssize_t cs, float *out, Py_ssize_t n) {
    if (cs == 1) {
        luma_grey_packed(p, out, n);
    } else {
        for (Py_ssize_t j = 0; j < n; j++) out[j] = (float)p[j * cs];
    }
}

typedef struct {
    const uint8_t *base;
    Py_ssize_t rows, cols;
    Py_ssize_t row_stride, col_stride, chan_stride;
    int grey;
} Pixels;

static void luma_row(const Pixels *px, Py_ssize_t r, float *out) {
    const uint8_t *p = px->base + r * px->row_stride;
    if (px->grey) {
        luma_grey(p, px->col_stride, out, px->cols);
    } else if (px->chan_stride == 1 && px->col_stride == 3) {
        luma_rgb_packed(p, out, px->cols);
    } else if (px->chan_stride == 1 && px->col_stride == 4) {
        luma_rgb_packed4(p, out, px->cols);
    } else {
        luma_rgb_strided(p, px->col_stride, px->chan_stride, out, px->cols);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Along-rows running sums of LANES rows at once. sums[k][o] receives the running sum at output o.  */

static void row_sums8(const float *const *in, float *const *sums, Py_ssize_t n, Py_ssize_t w) {
    const Py_ssize_t h = (w + 2) / 2;
    const float *i0 = in[0], *i1 = in[1], *i2 = in[2], *i3 = in[3];
    const float *i4 = in[4], *i5 = in[5], *i6 = in[6], *i7 = in[7];
    float *o0 = sums[0], *o1 = sums[1], *o2 = sums[2], *o3 = sums[3];
    float *o4 = sums[4], *o5 = sums[5], *o6 = sums[6], *o7 = sums[7];
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f, s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
#define ADD8(t)                                                                                     \
    s0 += i0[t]; s1 += i1[t]; s2 += i2[t]; s3 += i3[t];                                             \
    s4 += i4[t]; s5 += i5[t]; s6 += i6[t]; s7 += i7[t];
#define SUB8(t)                                                                                     \
    s0 -= i0[t]; s1 -= i1[t]; s2 -= i2[t]; s3 -= i3[t];                                             \
    s4 -= i4[t]; s5 -= i5[t]; s6 -= i6[t]; s7 -= i7[t];
#define PUT8(t)                                                                                     \
    o0[t] = s0; o1[t] = s1; o2[t] = s2; o3[t] = s3;                                                 \
    o4[t] = s4; o5[t] = s5; o6[t] = s6; o7[t] = s7;
    Py_ssize_t t;
    for (t = 0; t < h - 1; t++) { ADD8(t) }            /* phase 1: add only */
    for (t = 0; t <= w - h; t++) { ADD8(h - 1 + t) PUT8(t) } /* phase 2: add, write */
    const Py_ssize_t lag = w - h + 1;                   /* output o adds o + h - 1, subtracts o - lag */
    for (t = lag; t < n - h + 1; t++) { ADD8(t + h - 1) SUB8(t - lag) PUT8(t) } /* phase 3 */
    for (; t < n; t++) { SUB8(t - lag) PUT8(t) }        /* phase 4: subtract only */
#undef ADD8
#undef SUB8
#undef PUT8
}

/* count[o]: number of inputs averaged at output o (as the reference's current_window_size). */
static void box_counts(float *count, Py_ssize_t n, Py_ssize_t w) {
    const Py_ssize_t h = (w + 2) / 2;
    for (Py_ssize_t o = 0; o < n; o++) {
        Py_ssize_t hi = o + h - 1 < n - 1 ? o + h - 1 : n - 1;
        Py_ssize_t lo = o - (w - h) > 0 ? o - (w - h) : 0;
        count[o] = (float)(hi - lo + 1);
    }
}

PDQ_CLONES
static void div_row(float *restrict x, const float *restrict count, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) x[j] = x[j] / count[j];
}

PDQ_CLONES
static void col_add(float *restrict sum, const float *restrict a, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) sum[j] += a[j];
}

PDQ_CLONES
static void col_sub_out(float *restrict sum, const float *restrict b, float c, float *restrict out,
                        Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        float s = sum[j] - b[j];
        sum[j] = s;
        out[j] = s / c;
    }
}

PDQ_CLONES
static void col_add_out(float *restrict sum, const float *restrict a, float c, float *restrict out,
                        Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        float s = sum[j] + a[j];
        sum[j] = s;
        out[j] = s / c;
    }
}

PDQ_CLONES
static void col_add_sub_out(float *restrict sum, const float *restrict a, const float *restrict b, float c,
                            float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        float s = sum[j] + a[j];
        s = s - b[j];
        sum[j] = s;
        out[j] = s / c;
    }
}

/* ------------------------------------------------------------------------------------------------ */

typedef struct {
    float *mem;
    Py_ssize_t rows, cols, wr, wc, hc, lag_c, ring_cap;
    float *lum;        /* LANES x cols: luma rows of the current batch */
    float *ring;       /* ring_cap x cols: rows after the first along-rows pass */
    float *colsum;     /* cols */
    float *count_r;    /* cols */
    float *c1;         /* LANES x cols: rows after the first along-columns pass */
    float *s2;         /* (LANES + 1) x cols: sums of the second along-rows pass (+1 dummy row) */
    float *d;          /* rows x 64: second along-rows pass, kept columns only */
    Py_ssize_t deci[64], decj[64];
} Work;

static float *ring_row(Work *wk, Py_ssize_t r) { return wk->ring + (r % wk->ring_cap) * wk->cols; }

/* Second along-rows pass over C1 rows first..first+nr-1 (held in wk->c1), kept columns only. */
static void second_row_pass(Work *wk, Py_ssize_t first, int nr) {
    const float *in[LANES];
    float *sums[LANES];
    for (int k = 0; k < LANES; k++) {
        int kk = k < nr ? k : nr - 1;
        in[k] = wk->c1 + (Py_ssize_t)kk * wk->cols;
        sums[k] = wk->s2 + (Py_ssize_t)(k < nr ? k : LANES) * wk->cols;
    }
    row_sums8(in, sums, wk->cols, wk->wr);
    for (int k = 0; k < nr; k++) {
        float *dr = wk->d + (first + k) * 64;
        for (int m = 0; m < 64; m++) {
            Py_ssize_t j = wk->decj[m];
            dr[m] = sums[k][j] / wk->count_r[j];
        }
    }
}

/* Emit one C1 row into the batch; run the second along-rows pass when the batch is full or last. */
static void emit_c1(Work *wk, Py_ssize_t o) {
    if (o % LANES == LANES - 1 || o == wk->rows - 1) {
        Py_ssize_t first = o - (o % LANES);
        second_row_pass(wk, first, (int)(o - first + 1));
    }
}

static void pdq_downsample(const Pixels *px, Work *wk, float out64[64][64]) {
    const Py_ssize_t rows = wk->rows, cols = wk->cols;
    const Py_ssize_t wc = wk->wc, hc = wk->hc, lag = wk->lag_c;
    Py_ssize_t o = 0;     /* next output row of the first along-columns pass */
    Py_ssize_t added = 0; /* rows added into colsum so far (prologue) */
    memset(wk->colsum, 0, (size_t)cols * sizeof(float));

    for (Py_ssize_t r0 = 0; r0 < rows; r0 += LANES) {
        int nr = rows - r0 < LANES ? (int)(rows - r0) : LANES;
        const float *in[LANES];
        float *sums[LANES];
        for (int k = 0; k < nr; k++) luma_row(px, r0 + k, wk->lum + (Py_ssize_t)k * cols);
        for (int k = 0; k < LANES; k++) {
            int kk = k < nr ? k : nr - 1;
            in[k] = wk->lum + (Py_ssize_t)kk * cols;
            sums[k] = k < nr ? ring_row(wk, r0 + k) : wk->s2 + (Py_ssize_t)LANES * cols; /* dummy */
        }
        row_sums8(in, sums, cols, wk->wr);
        for (int k = 0; k < nr; k++) div_row(sums[k], wk->count_r, cols);
        Py_ssize_t produced = r0 + nr;

        /* Advance the first along-columns pass as far as the produced rows allow. */
        while (added < hc - 1 && added < produced) {
            col_add(wk->colsum, ring_row(wk, added), cols);
            added++;
        }
        if (added < hc - 1) continue;
        while (o < rows) {
            Py_ssize_t a = o + hc - 1; /* row added at this output, if it exists */
            if (a < rows && a >= produced) break;
            Py_ssize_t lo = o - (wc - hc) > 0 ? o - (wc - hc) : 0;
            Py_ssize_t hi = a < rows - 1 ? a : rows - 1;
            float c = (float)(hi - lo + 1);
            float *dst = wk->c1 + (o % LANES) * cols;
            Py_ssize_t s = o - lag; /* row subtracted at this output, if it exists */
            if (a < rows && s >= 0) {
                col_add_sub_out(wk->colsum, ring_row(wk, a), ring_row(wk, s), c, dst, cols);
            } else if (a < rows) {
                col_add_out(wk->colsum, ring_row(wk, a), c, dst, cols);
            } else {
                col_sub_out(wk->colsum, ring_row(wk, s), c, dst, cols);
            }
            emit_c1(wk, o);
            o++;
        }
    }

    /* Second along-columns pass over the 64 kept columns; divide only at the 64 kept rows. */
    const float *dd = wk->d;
    float sum[64];
    float cnt[64];
    for (int m = 0; m < 64; m++) sum[m] = 0.0f;
    for (Py_ssize_t r = 0; r < hc - 1; r++)
        for (int m = 0; m < 64; m++) sum[m] += dd[r * 64 + m];
    int k = 0;
    for (Py_ssize_t oo = 0; oo < rows && k < 64; oo++) {
        Py_ssize_t a = oo + hc - 1, s = oo - lag;
        if (a < rows)
            for (int m = 0; m < 64; m++) sum[m] += dd[a * 64 + m];
        if (s >= 0)
            for (int m = 0; m < 64; m++) sum[m] -= dd[s * 64 + m];
        if (wk->deci[k] != oo) continue;
        Py_ssize_t lo = oo - (wc - hc) > 0 ? oo - (wc - hc) : 0;
        Py_ssize_t hi = a < rows - 1 ? a : rows - 1;
        float c = (float)(hi - lo + 1);
        for (int m = 0; m < 64; m++) cnt[m] = sum[m] / c;
        while (k < 64 && wk->deci[k] == oo) {
            memcpy(out64[k], cnt, sizeof cnt);
            k++;
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */

static int quality_metric(float a[64][64]) {
    int gsum = 0;
    for (int i = 0; i < 63; i++)
        for (int j = 0; j < 64; j++) {
            int d = (int)(((a[i][j] - a[i + 1][j]) * 100.0f) / 255.0f);
            gsum += d < 0 ? -d : d;
        }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 63; j++) {
            int d = (int)(((a[i][j] - a[i][j + 1]) * 100.0f) / 255.0f);
            gsum += d < 0 ? -d : d;
        }
    int q = gsum / 90;
    return q > 100 ? 100 : q;
}

static void dct_64_to_16(float a[64][64], float out[16][16]) {
    float t[16][64];
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 64; j++) t[i][j] = 0.0f;
        for (int k = 0; k < 64; k++) {
            const float dk = dct16x64[i][k];
            for (int j = 0; j < 64; j++) t[i][j] += dk * a[k][j];
        }
    }
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 16; j++) out[i][j] = 0.0f;
        for (int k = 0; k < 64; k++) {
            const float tk = t[i][k];
            for (int j = 0; j < 16; j++) out[i][j] += tk * dct64x16t[k][j];
        }
    }
}

/* Torben Mogensen's median search, with the reference's exact comparisons and tie rules. */
static float torben_median(const float *m, int n) {
    float mn = m[0], mx = m[0];
    for (int i = 1; i < n; i++) {
        if (m[i] < mn) mn = m[i];
        if (m[i] > mx) mx = m[i];
    }
    int less, greater, equal;
    float guess, maxlt, mingt;
    for (;;) {
        guess = (mn + mx) / 2.0f;
        less = greater = equal = 0;
        maxlt = mn;
        mingt = mx;
        for (int i = 0; i < n; i++) {
            if (m[i] < guess) {
                less++;
                if (m[i] > maxlt) maxlt = m[i];
            } else if (m[i] > guess) {
                greater++;
                if (m[i] < mingt) mingt = m[i];
            } else {
                equal++;
            }
        }
        if (less <= (n + 1) / 2 && greater <= (n + 1) / 2) break;
        if (less > greater) mx = maxlt;
        else mn = mingt;
    }
    if (less >= (n + 1) / 2) return maxlt;
    if (less + equal >= (n + 1) / 2) return guess;
    return mingt;
}

/* Bits of a 16x16 DCT output: words[i] bit j = (dct[i][j] > median of the 256 values). */
static void dct_to_words(float dct[16][16], uint16_t words[16]) {
    float med = torben_median(&dct[0][0], 256);
    for (int i = 0; i < 16; i++) {
        words[i] = 0;
        for (int j = 0; j < 16; j++)
            if (dct[i][j] > med) words[i] |= (uint16_t)(1u << j);
    }
}

/* The 64x64 downsample's 16x16 DCT and quality. Returns 0 on success, 1 for a picture under MIN_DIM on a
 * side (nothing computed: the all-zero hash, quality 0), -1 on allocation failure. */
static int pdq_dct(const Pixels *px, float dct[16][16], int *quality) {
    float a[64][64];
    if (px->rows < MIN_DIM || px->cols < MIN_DIM) {
        *quality = 0;
        return 1;
    }
    if (px->rows == 64 && px->cols == 64) {
        for (int i = 0; i < 64; i++) luma_row(px, i, a[i]);
    } else {
        Work wk;
        memset(&wk, 0, sizeof wk);
        const Py_ssize_t rows = px->rows, cols = px->cols;
        wk.rows = rows;
        wk.cols = cols;
        wk.wr = (cols + 127) / 128;
        wk.wc = (rows + 127) / 128;
        wk.hc = (wk.wc + 2) / 2;
        wk.lag_c = wk.wc - wk.hc + 1;
        wk.ring_cap = wk.wc + 2 * LANES;
        size_t cols_pad = (size_t)cols;
        size_t total = cols_pad * (size_t)(LANES + wk.ring_cap + 1 + 1 + LANES + LANES + 1) +
                       (size_t)rows * 64;
        wk.mem = (float *)malloc(total * sizeof(float));
        if (wk.mem == NULL) return -1;
        float *p = wk.mem;
        wk.lum = p; p += cols_pad * LANES;
        wk.ring = p; p += cols_pad * (size_t)wk.ring_cap;
        wk.colsum = p; p += cols_pad;
        wk.count_r = p; p += cols_pad;
        wk.c1 = p; p += cols_pad * LANES;
        wk.s2 = p; p += cols_pad * (LANES + 1);
        wk.d = p;
        box_counts(wk.count_r, cols, wk.wr);
        for (int m = 0; m < 64; m++) {
            wk.deci[m] = (Py_ssize_t)(((m + 0.5) * (double)rows) / 64.0);
            wk.decj[m] = (Py_ssize_t)(((m + 0.5) * (double)cols) / 64.0);
        }
        pdq_downsample(px, &wk, a);
        free(wk.mem);
    }
    *quality = quality_metric(a);
    dct_64_to_16(a, dct);
    return 0;
}

/* Returns 0 on success, -1 on allocation failure. words[i] bit j = (dct[i][j] > median). */
static int pdq_compute(const Pixels *px, uint16_t words[16], int *quality) {
    float dct[16][16];
    int rc = pdq_dct(px, dct, quality);
    if (rc != 0) {
        memset(words, 0, 16 * sizeof(uint16_t));
        return rc < 0 ? -1 : 0;
    }
    dct_to_words(dct, words);
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* The dihedral variants (Meta's pdqDihedralHash256esFromFloatLuma): the hash of the picture rotated or
 * flipped is computed from the original's 16x16 DCT output. A flip of the 64x64 picture along one axis
 * leaves the coefficients of one parity of index along that axis as they are and negates the others (our
 * index i is the frequency i + 1, so an even index is an odd frequency); a transpose swaps the two axes.
 * Each variant is then thresholded at ITS OWN median. Negation is exact, so the bits are the reference's.
 *
 * Variant t (1..7, in the reference's order rot90, rot180, rot270, flipx, flipy, flipplus, flipminus):
 * B = (transpose ? A^T : A) with A[i][j] negated when NEGATE(t, i, j), as the reference defines them:
 *   rot90:     B[j][i] =  A[i][j] for odd j, -A[i][j] for even j
 *   rot180:    B[i][j] = -A[i][j] for odd i + j, A[i][j] otherwise
 *   rot270:    B[j][i] =  A[i][j] for odd i, -A[i][j] for even i
 *   flipx:     B[i][j] =  A[i][j] for odd i, -A[i][j] for even i
 *   flipy:     B[i][j] =  A[i][j] for odd j, -A[i][j] for even j
 *   flipplus:  B[j][i] =  A[i][j]
 *   flipminus: B[j][i] = -A[i][j] for odd i + j, A[i][j] otherwise */

#define N_VARIANTS 8

static int negated(int t, int i, int j) {
    switch (t) {
    case 1: return !(j & 1);
    case 2: return (i + j) & 1;
    case 3: return !(i & 1);
    case 4: return !(i & 1);
    case 5: return !(j & 1);
    case 6: return 0;
    case 7: return (i + j) & 1;
    default: return 0;
    }
}

static const int transposed[N_VARIANTS] = {0, 1, 0, 1, 0, 0, 1, 1};

static void dihedral_dct(float a[16][16], int t, float b[16][16]) {
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 16; j++) {
            float v = negated(t, i, j) ? -a[i][j] : a[i][j];
            if (transposed[t]) b[j][i] = v;
            else b[i][j] = v;
        }
    }
}

/* The eight variants' words (original first). Returns 0 on success, -1 on allocation failure. */
static int pdq_compute_dihedral(const Pixels *px, uint16_t words[N_VARIANTS][16], int *quality) {
    float dct[16][16], b[16][16];
    int rc = pdq_dct(px, dct, quality);
    if (rc != 0) {
        memset(words, 0, N_VARIANTS * 16 * sizeof(uint16_t));
        return rc < 0 ? -1 : 0;
    }
    dct_to_words(dct, words[0]);
    for (int t = 1; t < N_VARIANTS; t++) {
        dihedral_dct(dct, t, b);
        dct_to_words(b, words[t]);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */

/* Fill px from a buffer of shape (H, W) grey or (H, W, C>=3); on error set a Python exception and return 0. */
static int read_pixels(Py_buffer *view, Pixels *px, const char *who) {
    if (view->itemsize != 1 || (view->format != NULL && strcmp(view->format, "B") != 0)) {
        PyErr_Format(PyExc_TypeError, "%s needs a uint8 buffer", who);
        return 0;
    }
    if (view->ndim == 2) {
        px->grey = 1;
        px->chan_stride = 0;
    } else if (view->ndim == 3 && view->shape[2] >= 3) {
        px->grey = 0;
        px->chan_stride = view->strides[2];
    } else {
        PyErr_Format(PyExc_ValueError, "%s needs shape (H, W) or (H, W, 3+)", who);
        return 0;
    }
    px->rows = view->shape[0];
    px->cols = view->shape[1];
    px->row_stride = view->strides[0];
    px->col_stride = view->strides[1];
    px->base = (const uint8_t *)view->buf;
    if (px->rows > INT32_MAX / 4 || px->cols > INT32_MAX / 4) {
        PyErr_SetString(PyExc_ValueError, "image too large for PDQ");
        return 0;
    }
    return 1;
}

/* 64 lowercase hex digits, bit 255 first (as threatexchange prints it). */
static void words_to_hex(const uint16_t words[16], char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        uint16_t w = words[15 - i];
        for (int q = 0; q < 4; q++) hex[4 * i + q] = digits[(w >> (12 - 4 * q)) & 0xF];
    }
    hex[64] = '\0';
}

PyDoc_STRVAR(pdq_hash_doc,
             "pdq_hash(pixels) -> (hex, quality)\n\n"
             "PDQ of a uint8 buffer shaped (H, W) grey or (H, W, C>=3) RGB(+extra channels ignored), any "
             "strides.\nhex is 64 lowercase hex digits (bit 255 first, as threatexchange prints it); "
             "quality is 0..100.\nImages under 5 px on a side give the all-zero hash and quality 0.");

static PyObject *pdq_hash(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_STRIDES | PyBUF_FORMAT) != 0) return NULL;
    Pixels px;
    if (!read_pixels(&view, &px, "pdq_hash")) {
        PyBuffer_Release(&view);
        return NULL;
    }
    uint16_t words[16];
    int quality = 0, rc;
    Py_BEGIN_ALLOW_THREADS
    rc = pdq_compute(&px, words, &quality);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (rc != 0) return PyErr_NoMemory();
    char hex[65];
    words_to_hex(words, hex);
    return Py_BuildValue("(si)", hex, quality);
}

PyDoc_STRVAR(pdq_hash_dihedral_doc,
             "pdq_hash_dihedral(pixels) -> (hexes, quality)\n\n"
             "The PDQ of the picture and of its seven rotations and flips, from one DCT (as Meta's\n"
             "pdqDihedralHash256esFromFloatLuma): hexes is a tuple of 8 hex strings in the order original,\n"
             "rot90, rot180, rot270, flipx, flipy, flipplus, flipminus; the first equals pdq_hash's.");

static PyObject *pdq_hash_dihedral(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_STRIDES | PyBUF_FORMAT) != 0) return NULL;
    Pixels px;
    if (!read_pixels(&view, &px, "pdq_hash_dihedral")) {
        PyBuffer_Release(&view);
        return NULL;
    }
    uint16_t words[N_VARIANTS][16];
    int quality = 0, rc;
    Py_BEGIN_ALLOW_THREADS
    rc = pdq_compute_dihedral(&px, words, &quality);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (rc != 0) return PyErr_NoMemory();
    char hex[N_VARIANTS][65];
    for (int t = 0; t < N_VARIANTS; t++) words_to_hex(words[t], hex[t]);
    return Py_BuildValue("((ssssssss)i)", hex[0], hex[1], hex[2], hex[3], hex[4], hex[5], hex[6], hex[7],
                         quality);
}

static PyMethodDef methods[] = {
    {"pdq_hash", pdq_hash, METH_O, pdq_hash_doc},
    {"pdq_hash_dihedral", pdq_hash_dihedral, METH_O, pdq_hash_dihedral_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pdqcore", "Fast, reference-exact PDQ hashing (C).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pdqcore(void) {
    init_tables();
    return PyModule_Create(&module);
}
