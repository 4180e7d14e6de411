/* mcfast: staged blocks — float32 X under float64 arithmetic, widened block by block.
 *
 * The block path (mc_engine.h, mc_group.h) reads X, θ, y and w in one element type. When
 * X is stored in float32 and the arithmetic is float64 (θ, the gradient and the loss in
 * double), X is neither copied nor read in float32: each block is cut into sub-blocks,
 * and each sub-block is staged into the thread's scratch in double —
 *   dense C     its rows widened into a C-ordered buffer (ld = m) of ≤ MC_STAGE_C_BYTES,
 *               which stays in L1 while the fused row groups read it;
 *   dense F     its m column segments widened into an F-ordered buffer (ld = rows) of
 *               ≤ MC_STAGE_F_BYTES: long column runs from memory, the fused F path on
 *               the buffer from L2;
 *   CSR         its stored entries widened, their column indices and rebased row starts
 *               beside them (int64), ≤ MC_STAGE_ENTRIES entries or one row;
 * with rows= the sub-block's rows are gathered the same way; y and w (float32 or double
 * each) are widened or gathered beside X. Then the double block path runs on the staged
 * sub-block as a rows-free source, exactly as it runs on a float64 X: the staged values
 * are X's values, exactly, so only the sub-block boundaries (fixed by the shape, never
 * by the thread count) can make a last-bit difference against a float64 copy of X.
 *
 * A staged problem is an mc_stage whose first member, the mc_prob the driver sees, has
 * src.kind MC_SRC_STAGED; the driver's per-thread scratch starts with
 * mc_stage_items() doubles of staging buffers, then the block scratch.
 */
#ifndef MCFAST_STAGE_H
#define MCFAST_STAGE_H

#include <stdint.h>
#include "mc_engine.h"

enum { MC_SRC_STAGED = 3 };

/* bytes of staged X per sub-block (C rows: L1; F column runs: L2), CSR entries */
#define MC_STAGE_C_BYTES (16 * 1024)
#define MC_STAGE_F_BYTES (128 * 1024)
#define MC_STAGE_ENTRIES 4096

typedef struct {
    mc_prob p;               /* what the driver reads: p.src.kind = MC_SRC_STAGED */
    mc_src src;              /* X as stored, float32 (kind C, F or CSR, rows=) */
    const void *y, *w;       /* y and w as stored (NULL: none) */
    int yf32, wf32;          /* y / w stored in float32 (else double) */
    Py_ssize_t sub;          /* dense: rows per sub-block; CSR: the driver's block rows */
    Py_ssize_t ent;          /* CSR: entries per sub-block (≥ X's longest row) */
} mc_stage;

/* doubles rounded up to whole cache lines */
static inline Py_ssize_t mc_stage_lines(Py_ssize_t n) { return (n + 7) / 8 * 8; }

/* rows per dense sub-block for a block of `block` rows: MC_STAGE_*_BYTES of doubles,
 * a whole number of 8-row groups when there are that many, at least one row */
static inline Py_ssize_t mc_stage_rows(int kind, Py_ssize_t m, Py_ssize_t block)
{
    Py_ssize_t bytes = kind == MC_SRC_F ? MC_STAGE_F_BYTES : MC_STAGE_C_BYTES;
    Py_ssize_t r = bytes / (8 * (m > 0 ? m : 1));
    if (r >= 8) r = r / 8 * 8;
    if (r < 1) r = 1;
    return r < block ? r : block;
}

/* doubles of staging buffers one thread needs (0 for a problem that is not staged) */
static inline Py_ssize_t mc_stage_items(const mc_prob *p, Py_ssize_t block)
{
    const mc_stage *s = (const mc_stage *)p;
    Py_ssize_t rows, x;
    if (p->src.kind != MC_SRC_STAGED) return 0;
    if (s->src.kind == MC_SRC_CSR) {
        rows = block;
        x = 2 * mc_stage_lines(s->ent) + mc_stage_lines(rows + 1);  /* data, indices, indptr */
    } else {
        rows = s->sub < block ? s->sub : block;
        x = mc_stage_lines(rows * s->src.m);
    }
    return x + mc_stage_lines(rows * p->ycols) + mc_stage_lines(rows);
}

/* ---- the staging loops: written once, compiled per instruction set below ---- */

/* X's source rows i0 … i0 + nb − 1 (dense) into xb: C (ld = m) or F (ld = nb) */
MC_INLINE void mc_stage_dense(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,
                              double *MC_RESTRICT xb)
{
    const float *x = (const float *)s->x;
    const Py_ssize_t m = s->m, ld = s->ld;
    const Py_ssize_t *rows = s->rows;
    Py_ssize_t i, j;
    if (s->kind == MC_SRC_C) {
        for (i = 0; i < nb; i++) {
            const float *MC_RESTRICT xi = x + (rows ? rows[i0 + i] : i0 + i) * ld;
            double *MC_RESTRICT bi = xb + i * m;
            for (j = 0; j < m; j++) bi[j] = (double)xi[j];
        }
    } else if (rows) {
        for (j = 0; j < m; j++) {
            const float *col = x + j * ld;
            double *MC_RESTRICT bj = xb + j * nb;
            for (i = 0; i < nb; i++) bj[i] = (double)col[rows[i0 + i]];
        }
    } else {
        for (j = 0; j < m; j++) {
            const float *MC_RESTRICT col = x + j * ld + i0;
            double *MC_RESTRICT bj = xb + j * nb;
            for (i = 0; i < nb; i++) bj[i] = (double)col[i];
        }
    }
}

/* the entries of X's CSR source rows i0 … i0 + nb − 1 into xb (values), ib (column
 * indices) and pb (nb + 1 row starts from 0), for one index type I */
#define MC_STAGE_CSR_LOOP(I) {                                                       \
    const I *ind = (const I *)s->indices, *ptr = (const I *)s->indptr;               \
    for (i = 0; i < nb; i++) {                                                       \
        const Py_ssize_t r = MC_ROW(s, i0 + i), k0 = ptr[r], k1 = ptr[r + 1];        \
        for (k = k0; k < k1; k++, e++) { xb[e] = (double)x[k]; ib[e] = ind[k]; }     \
        pb[i + 1] = e;                                                               \
    } }
MC_INLINE void mc_stage_csr(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,
                            double *MC_RESTRICT xb, int64_t *MC_RESTRICT ib,
                            int64_t *MC_RESTRICT pb)
{
    const float *x = (const float *)s->x;
    Py_ssize_t i, k, e = 0;
    pb[0] = 0;
    if (s->idx64) MC_STAGE_CSR_LOOP(int64_t) else MC_STAGE_CSR_LOOP(int32_t)
}

/* y (ycols per row) and w of the source rows into yb and wb, widened or gathered */
MC_INLINE void mc_stage_yw(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb,
                           Py_ssize_t yc, double *MC_RESTRICT yb, double *MC_RESTRICT wb)
{
    const Py_ssize_t *rows = s->src.rows;
    Py_ssize_t i, c;
    if (s->y) {
        if (s->yf32) {
            const float *y = (const float *)s->y;
            if (rows) {
                for (i = 0; i < nb; i++)
                    for (c = 0; c < yc; c++) yb[i * yc + c] = y[rows[i0 + i] * yc + c];
            } else {
                for (i = 0; i < nb * yc; i++) yb[i] = (double)y[i0 * yc + i];
            }
        } else {
            const double *y = (const double *)s->y;
            for (i = 0; i < nb; i++)
                for (c = 0; c < yc; c++) yb[i * yc + c] = y[MC_ROW(&s->src, i0 + i) * yc + c];
        }
    }
    if (s->w) {
        if (s->wf32) {
            const float *w = (const float *)s->w;
            if (rows) for (i = 0; i < nb; i++) wb[i] = w[rows[i0 + i]];
            else for (i = 0; i < nb; i++) wb[i] = (double)w[i0 + i];
        } else {
            const double *w = (const double *)s->w;
            for (i = 0; i < nb; i++) wb[i] = w[MC_ROW(&s->src, i0 + i)];
        }
    }
}

/* one sub-block staged: X (dense or CSR), y and w */
MC_INLINE void mc_stage_sub(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb, double *xb,
                            int64_t *ib, int64_t *pb, double *yb, double *wb)
{
    if (s->src.kind == MC_SRC_CSR)
        mc_stage_csr(&s->src, i0, nb, xb, ib, pb);
    else
        mc_stage_dense(&s->src, i0, nb, xb);
    mc_stage_yw(s, i0, nb, s->p.ycols, yb, wb);
}

static void mc_stage_base(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb, double *xb,
                          int64_t *ib, int64_t *pb, double *yb, double *wb)
{
    mc_stage_sub(s, i0, nb, xb, ib, pb, yb, wb);
}
#if MC_X86
MC_T_AVX2 static void mc_stage_avx2(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb,
                                    double *xb, int64_t *ib, int64_t *pb, double *yb,
                                    double *wb)
{
    mc_stage_sub(s, i0, nb, xb, ib, pb, yb, wb);
}
MC_T_AVX512 static void mc_stage_avx512(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb,
                                        double *xb, int64_t *ib, int64_t *pb, double *yb,
                                        double *wb)
{
    mc_stage_sub(s, i0, nb, xb, ib, pb, yb, wb);
}
#endif

/* CSR: the source rows from i0 (< i1) whose entries fit in `ent` together (one row at
 * least, however long: `ent` is at least the longest row) */
static Py_ssize_t mc_stage_csr_rows(const mc_src *s, Py_ssize_t i0, Py_ssize_t i1,
                                    Py_ssize_t ent)
{
    Py_ssize_t i = i0, e = 0;
    while (i < i1) {
        const Py_ssize_t r = MC_ROW(s, i);
        const Py_ssize_t len = MC_IDX(s->indptr, r + 1, s->idx64)
                               - MC_IDX(s->indptr, r, s->idx64);
        if (i > i0 && e + len > ent) break;
        e += len;
        i++;
    }
    return i - i0;
}

/* The block of source rows i0 … i0 + nb − 1 of a staged problem: each sub-block staged
 * into scr, then the double block path on it (scr: mc_stage_items doubles of staging
 * buffers, then the block scratch of mc_engine.h). Returns the block's Σ w ℓ. */
static double mc_stage_block_d(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb,
                               double *scr, double *acc, Py_ssize_t *bad)
{
    const int csr = s->src.kind == MC_SRC_CSR;
    const Py_ssize_t m = s->src.m, yc = s->p.ycols;
    const Py_ssize_t rows = csr ? nb : (s->sub < nb ? s->sub : nb);
    double *xb = scr;
    int64_t *ib = (int64_t *)(xb + (csr ? mc_stage_lines(s->ent) : mc_stage_lines(rows * m)));
    int64_t *pb = ib + (csr ? mc_stage_lines(s->ent) : 0);
    double *yb = (double *)pb + (csr ? mc_stage_lines(rows + 1) : 0);
    double *wb = yb + mc_stage_lines(rows * yc);
    double *blk = wb + mc_stage_lines(rows);
    mc_prob q = s->p;
    double loss = 0;
    Py_ssize_t b, sn;
    q.src = s->src;
    q.src.rows = NULL;
    q.src.x = xb;
    q.y = s->y ? yb : NULL;
    q.w = s->w ? wb : NULL;
    if (csr) {
        q.src.indices = ib;
        q.src.indptr = pb;
        q.src.idx64 = 1;
    }
    for (b = 0; b < nb; b += sn) {
        sn = csr ? mc_stage_csr_rows(&s->src, i0 + b, i0 + nb, s->ent)
                 : (nb - b < rows ? nb - b : rows);
        MC_DISPATCH(mc_stage, , s, i0 + b, sn, xb, ib, pb, yb, wb);
        q.src.n = q.src.nstore = sn;
        q.src.ld = s->src.kind == MC_SRC_C ? m : (s->src.kind == MC_SRC_F ? sn : 0);
        loss += mc_block_d(&q, 0, sn, blk, acc, bad);
    }
    return loss;
}

#endif /* MCFAST_STAGE_H */
