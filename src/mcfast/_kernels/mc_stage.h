/* mcfast: float32 X under float64 arithmetic — read in place by the mixed row groups, or
 * staged block by block through a per-thread C-ordered buffer.
 *
 * The common case, a float32 X in C rows (strided or rows= too) with one output per row
 * (squared, logistic, Poisson, Huber; gradient or Hessian product), is not staged: the
 * mixed row groups of mc_group.h (mc_grp_x_<level>) read X, y and w in place and widen
 * each vector to double lanes in registers as they load it (mc_stage_direct), so X is
 * read once, at the float32 speed. What follows is the staging of the other sources.
 *
 * (The staging also serves an F-ordered X of one dtype, df32 for float32; the driver does
 * not use that today: transposing measured slower there than mc_group.h's column runs
 * read in place, 2.8–3.4× the C floor against 1.9–2.0×, bench/bench_mixed.py.)
 *
 * The block path (mc_engine.h, mc_group.h) is fastest on C-ordered rows of X in the
 * arithmetic's element type. Sources the mixed row groups do not take — F order, CSR,
 * K > 1 (multinomial, squared with k targets) — are not copied either: each block is
 * cut into sub-blocks, and each sub-block is staged into the thread's scratch —
 *   dense (F, rows= or not; C for K > 1)  its rows, as a C-ordered buffer (ld = m) of at
 *                 most MC_STAGE_C_BYTES (C rows widened: the buffer stays in L1) or
 *                 MC_STAGE_F_BYTES (F column runs transposed and widened: long runs from
 *                 memory, the buffer in L2), rows= gathered;
 *   CSR (float32 under float64 only)  its stored entries widened, their column indices
 *                 and rebased row starts beside them (int64), ≤ `ent` entries (at least
 *                 X's longest row);
 * y and w (float32 or double each) are widened or gathered beside them. Then the block
 * path runs on the staged sub-block as a rows-free C (or CSR) source, exactly as on a C
 * copy of X in the arithmetic's type: the staged values are X's values, exactly, so only
 * the sub-block boundaries (fixed by the shape, never by the thread count) can make a
 * last-bit difference against the block path on such a copy. The mixed row groups do
 * the double row groups' arithmetic on the same values, so they agree with the double
 * path on a float64 copy of X bitwise, except where that copy takes another row walk
 * (its rows start at other vector offsets: the aligned walk, mc_group.h).
 *
 * A staged problem is an mc_stage whose first member, the mc_prob the driver sees, has
 * src.kind MC_SRC_STAGED; the driver's per-thread scratch starts with mc_stage_items()
 * doubles of staging buffers, followed by the block scratch of mc_engine.h.
 */
#ifndef MCFAST_STAGE_H
#define MCFAST_STAGE_H

#include <stdint.h>
#include "mc_engine.h"
#include "mc_limits.h"  /* MC_STAGE_C_BYTES, MC_STAGE_F_BYTES, MC_STAGE_ENTRIES */

enum { MC_SRC_STAGED = 3 };

/* F order: rows transposed per tile (a column run read as one vector's worth) */
#define MC_STAGE_TILE 8

typedef struct {
    mc_prob p;               /* what the driver reads: p.src.kind = MC_SRC_STAGED */
    mc_src src;              /* X as stored: kind C, F or CSR, rows= */
    int xf32;                /* X stored in float32 (else double) */
    int df32;                /* the arithmetic is float32 (then X is too: F order only) */
    const void *y, *w;       /* y and w as stored (NULL: none) */
    int yf32, wf32;          /* y / w stored in float32 (else double) */
    Py_ssize_t sub;          /* dense: rows per sub-block; CSR: the driver's block rows */
    Py_ssize_t ent;          /* CSR: entries per sub-block (≥ X's longest row) */
} mc_stage;

/* doubles rounded up to whole cache lines */
static inline Py_ssize_t mc_stage_lines(Py_ssize_t n) { return (n + 7) / 8 * 8; }

/* rows per dense sub-block of a source of `kind`: MC_STAGE_*_BYTES of elements of `size`
 * bytes, a whole number of 16-row groups when there are that many, at least one row, at
 * most the driver's block */
static inline Py_ssize_t mc_stage_rows(int kind, Py_ssize_t m, Py_ssize_t size,
                                       Py_ssize_t block)
{
    Py_ssize_t bytes = kind == MC_SRC_F ? MC_STAGE_F_BYTES : MC_STAGE_C_BYTES;
    Py_ssize_t r = bytes / (size * (m > 0 ? m : 1));
    if (r >= 16) r = r / 16 * 16;
    if (r < 1) r = 1;
    return r < block ? r : block;
}

/* the block is not staged: the mixed row groups read it in place (float32 X in C rows,
 * strided or rows=, under double arithmetic, one output: mc_group.h's mc_grp_x_<level>,
 * which widen each vector of X in registers as they load it) */
static inline int mc_stage_direct(const mc_stage *s)
{
    return MC_HAVE_GROUP && s->xf32 && !s->df32 && s->src.kind == MC_SRC_C
           && s->p.K == 1 && s->src.m > 0 && s->p.loss.kind != MC_MULTINOMIAL;
}

/* doubles of staging buffers one thread needs (0 for a problem that is not staged) */
static inline Py_ssize_t mc_stage_items(const mc_prob *p, Py_ssize_t block)
{
    const mc_stage *s = (const mc_stage *)p;
    Py_ssize_t rows, x;
    if (p->src.kind != MC_SRC_STAGED || mc_stage_direct(s)) return 0;
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

/* dense rows of a source into a C-ordered buffer, per (stored, staged) element type:
 * mc_stage_dense_ff (float32 F order under float32), _fd (float32 under double), _dd */
#define MC_SS float
#define MC_SD float
#define MC_SN ff
#include "mc_stage_copy.h"
#define MC_SS float
#define MC_SD double
#define MC_SN fd
#include "mc_stage_copy.h"
#define MC_SS double
#define MC_SD double
#define MC_SN dd
#include "mc_stage_copy.h"

MC_INLINE void mc_stage_dense(const mc_src *s, int xf32, int df32, Py_ssize_t i0,
                              Py_ssize_t nb, void *xb)
{
    if (df32) mc_stage_dense_ff(s, i0, nb, xb);
    else if (xf32) mc_stage_dense_fd(s, i0, nb, xb);
    else mc_stage_dense_dd(s, i0, nb, xb);
}

/* the entries of float32 CSR source rows i0 … i0 + nb − 1 into xb (values), ib (column
 * indices) and pb (nb + 1 row starts from 0); a row's entries are a loop of their own
 * per index width */
MC_INLINE void mc_stage_csr(const mc_src *s, Py_ssize_t i0, Py_ssize_t nb,
                            double *MC_RESTRICT xb, int64_t *MC_RESTRICT ib,
                            int64_t *MC_RESTRICT pb)
{
    const float *x = (const float *)s->x;
    const int32_t *i32 = (const int32_t *)s->indices;
    const int64_t *i64 = (const int64_t *)s->indices;
    Py_ssize_t i, k, e = 0;
    pb[0] = 0;
    for (i = 0; i < nb; i++) {
        const Py_ssize_t r = MC_ROW(s, i0 + i);
        const Py_ssize_t k0 = MC_IDX(s->indptr, r, s->idx64);
        const Py_ssize_t k1 = MC_IDX(s->indptr, r + 1, s->idx64);
        for (k = k0; k < k1; k++) xb[e + k - k0] = (double)x[k];
        if (s->idx64)
            for (k = k0; k < k1; k++) ib[e + k - k0] = i64[k];
        else
            for (k = k0; k < k1; k++) ib[e + k - k0] = i32[k];
        e += k1 - k0;
        pb[i + 1] = e;
    }
}

/* entries j·stride + c (c < cols) of rows i0 … i0 + nb − 1 of a float or double array
 * a (row r at a + r·cols) into b, as float (df32) or double */
MC_INLINE void mc_stage_vec(const void *a, int af32, int df32, const Py_ssize_t *rows,
                            Py_ssize_t i0, Py_ssize_t nb, Py_ssize_t cols, void *b)
{
    Py_ssize_t i, c;
    for (i = 0; i < nb; i++) {
        const Py_ssize_t r = rows ? rows[i0 + i] : i0 + i;
        for (c = 0; c < cols; c++) {
            if (df32)
                ((float *)b)[i * cols + c] = ((const float *)a)[r * cols + c];
            else if (af32)
                ((double *)b)[i * cols + c] = ((const float *)a)[r * cols + c];
            else
                ((double *)b)[i * cols + c] = ((const double *)a)[r * cols + c];
        }
    }
}

/* one sub-block staged: X (dense or CSR), y and w */
MC_INLINE void mc_stage_sub(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb, void *xb,
                            int64_t *ib, int64_t *pb, void *yb, void *wb)
{
    if (s->src.kind == MC_SRC_CSR)
        mc_stage_csr(&s->src, i0, nb, (double *)xb, ib, pb);
    else
        mc_stage_dense(&s->src, s->xf32, s->df32, i0, nb, xb);
    if (s->y) mc_stage_vec(s->y, s->yf32, s->df32, s->src.rows, i0, nb, s->p.ycols, yb);
    if (s->w) mc_stage_vec(s->w, s->wf32, s->df32, s->src.rows, i0, nb, 1, wb);
}

static void mc_stage_base(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb, void *xb,
                          int64_t *ib, int64_t *pb, void *yb, void *wb)
{
    mc_stage_sub(s, i0, nb, xb, ib, pb, yb, wb);
}
#if MC_X86
MC_T_AVX2 static void mc_stage_avx2(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb,
                                    void *xb, int64_t *ib, int64_t *pb, void *yb, void *wb)
{
    mc_stage_sub(s, i0, nb, xb, ib, pb, yb, wb);
}
MC_T_AVX512 static void mc_stage_avx512(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb,
                                        void *xb, int64_t *ib, int64_t *pb, void *yb,
                                        void *wb)
{
    mc_stage_sub(s, i0, nb, xb, ib, pb, yb, wb);
}
#endif

/* the staging loops and the mixed row groups by level (mc_level's values, as the tables
 * of mc_kern.h): 0 the baseline, 1 AVX2+FMA, 2 AVX-512 */
typedef void (*mc_stage_fn)(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb, void *xb,
                            int64_t *ib, int64_t *pb, void *yb, void *wb);
static const mc_stage_fn mc_stages[] = {
    mc_stage_base,
#if MC_X86
    mc_stage_avx2, mc_stage_avx512,
#endif
};
#if MC_HAVE_GROUP
typedef double (*mc_grp_x_fn)(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb, double *g);
static const mc_grp_x_fn mc_grps_x[] = {
    mc_grp_x_base,
#if MC_X86
    mc_grp_x_avx2, mc_grp_x_avx512,
#endif
};
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

/* the block of source rows i0 … i0 + nb − 1 through the mixed row groups of the level in
 * use, X, y and w read in place; adds the gradient (or Hessian product) to acc and
 * returns the block's Σ w ℓ */
static double mc_stage_lanes(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb, double *acc)
{
#if MC_HAVE_GROUP
    mc_xprob xp;
    xp.p = s->p;
    xp.p.src = s->src;
    xp.p.y = s->y;
    xp.p.w = s->w;
    xp.yf32 = s->yf32;
    xp.wf32 = s->wf32;
    return mc_grps_x[mc_level](&xp.p, i0, nb, acc);
#else
    (void)s; (void)i0; (void)nb; (void)acc;
    return 0;                                   /* never called: mc_stage_direct */
#endif
}

/* The block of source rows i0 … i0 + nb − 1 of a staged problem: each sub-block staged
 * into scr, then the block path of the arithmetic's type on it (scr: mc_stage_items
 * doubles of staging buffers, then the block scratch of mc_engine.h; `blk` set to the
 * latter). Returns the block's Σ w ℓ; f32: the float32 block path, else the double. */
static double mc_stage_block(const mc_stage *s, Py_ssize_t i0, Py_ssize_t nb, double *scr,
                             double *acc, Py_ssize_t *bad)
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
    if (mc_stage_direct(s)) return mc_stage_lanes(s, i0, nb, acc);
    q.src = s->src;
    q.src.rows = NULL;
    q.src.x = xb;
    q.y = s->y ? (const void *)yb : NULL;
    q.w = s->w ? (const void *)wb : NULL;
    if (csr) {
        q.src.indices = ib;
        q.src.indptr = pb;
        q.src.idx64 = 1;
    } else {
        q.src.kind = MC_SRC_C;
        q.src.ld = m;
    }
    for (b = 0; b < nb; b += sn) {
        sn = csr ? mc_stage_csr_rows(&s->src, i0 + b, i0 + nb, s->ent)
                 : (nb - b < rows ? nb - b : rows);
        mc_stages[mc_level](s, i0 + b, sn, xb, ib, pb, yb, wb);
        q.src.n = q.src.nstore = sn;
        loss += s->df32 ? mc_block_f(&q, 0, sn, (float *)blk, acc, bad)
                        : mc_block_d(&q, 0, sn, blk, acc, bad);
    }
    return loss;
}

#endif /* MCFAST_STAGE_H */
