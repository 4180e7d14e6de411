/* mcfast: the Hessian's dense block products, one kernel per instruction set.
 *
 *   mc_sandwich(nb, m, d, alpha, B, ldb, Ubuf, intercept, H, ldh, next, next_bytes):
 *     H[k, j] += alpha Σ_{i < nb} d_i B[i, k] B[i, j]   for 0 ≤ k ≤ j < m,
 *     and with `intercept` H[k, m] += alpha Σ_i d_i B[i, k] (the column of ones' row);
 *     d NULL: every d_i = 1 (so alpha = c gives c BᵀB, the squared loss unweighted);
 *     row i of B at B + i·ldb, entry (k, j) of H at H + k·ldh + j; Ubuf: scratch of
 *     mc_sandwich_ubuf(m) doubles (U = d ∘ B, a sub-block of rows at a time, in L1);
 *     next (or NULL): the next block's bytes, prefetched towards L2 as it goes, so
 *     that the next block's first pass (z) reads them from cache, not memory.
 *   mc_hess_gt(nb, m, K, r, B, ldb, g, ldg):
 *     g[c·ldg + j] += Σ_i r[c·nb + i] B[i, j] for j < m, the gradient's Rᵀ B.
 *   mc_hess_z(nb, m, K, B, ldb, th, ldt, bias, z):
 *     z[c·nb + i] = Σ_{j < m} B[i, j] th[c·ldt + j] (+ bias[c]), the block's predictions.
 * It is the Hessian's Bᵀ diag(d) B, the "sandwich", in one pass over the block for
 * any sign of d (no square roots, no split into d⁺ and d⁻). Entries (k, j < k) near
 * the diagonal are written too (tiles), so H's lower triangle holds no meaning; nothing
 * at columns ≥ m other than the intercept's is written.
 * Reads: B's rows and th's up to column round_up(m, 8) − 1, so the caller pads them
 * with zeros to a multiple of 8 or has m % 8 = 0; what is read past m is never stored.
 *
 * Why not BLAS syrk: on 32 columns and a 256-row block, OpenBLAS's dsyrk spends more time
 * packing its operands (otcopy, incopy, itcopy) than in its kernel (perf, Zen 3), and it
 * needs d ≥ 0 rows (sqrt(d) ∘ B) twice for d of either sign. Here the operands are read
 * where they lie, from L1 (mc_sandwich_body.h's tiles).
 */
#ifndef MCFAST_SANDWICH_H
#define MCFAST_SANDWICH_H

#include <string.h>
#include "mc_simd.h"
#if MC_X86
#include <immintrin.h>   /* the broadcasts from memory of mc_sandwich_body.h */
#endif

/* a sub-block's rows: their U and B within half of a 32 KiB L1 (H's tiles the rest),
   at most MC_SW_SUB_ROWS (Ubuf's size) */
#define MC_SW_SUB_BYTES (16 * 1024)
#define MC_SW_SUB_ROWS 256

#define MC_LEVELS_ONLY_D
#define MC_BODY "mc_sandwich_body.h"
#include "mc_levels.h"
#undef MC_BODY
#undef MC_LEVELS_ONLY_D

typedef void (*mc_sandwich_fn)(Py_ssize_t nb, Py_ssize_t m, const double *d, double alpha,
                               const double *B, Py_ssize_t ldb, double *Ubuf, int intercept,
                               double *H, Py_ssize_t ldh, const char *next,
                               Py_ssize_t next_bytes);
typedef void (*mc_hess_gt_fn)(Py_ssize_t nb, Py_ssize_t m, Py_ssize_t K, const double *r,
                              const double *B, Py_ssize_t ldb, double *g, Py_ssize_t ldg);
typedef void (*mc_hess_z_fn)(Py_ssize_t nb, Py_ssize_t m, Py_ssize_t K, const double *B,
                             Py_ssize_t ldb, const double *th, Py_ssize_t ldt,
                             const double *bias, double *z);
/* by mc_level: 0 the baseline, 1 AVX2+FMA, 2 AVX-512 */
static const mc_sandwich_fn mc_sandwich_fns[] = {
    mc_sw_d_base,
#if MC_X86
    mc_sw_d_avx2, mc_sw_d_avx512,
#endif
};
static const mc_hess_gt_fn mc_hess_gt_fns[] = {
    mc_sw_d_base_gt,
#if MC_X86
    mc_sw_d_avx2_gt, mc_sw_d_avx512_gt,
#endif
};
static const mc_hess_z_fn mc_hess_z_fns[] = {
    mc_sw_d_base_z,
#if MC_X86
    mc_sw_d_avx2_z, mc_sw_d_avx512_z,
#endif
};

/* doubles of mc_sandwich's Ubuf for m columns */
static Py_ssize_t mc_sandwich_ubuf(Py_ssize_t m) { return MC_SW_SUB_ROWS * ((m + 7) / 8 * 8); }

static void mc_sandwich(Py_ssize_t nb, Py_ssize_t m, const double *d, double alpha,
                        const double *B, Py_ssize_t ldb, double *Ubuf, int intercept,
                        double *H, Py_ssize_t ldh, const char *next, Py_ssize_t next_bytes)
{
    mc_sandwich_fns[mc_level](nb, m, d, alpha, B, ldb, Ubuf, intercept, H, ldh, next,
                              next_bytes);
}

static void mc_hess_gt(Py_ssize_t nb, Py_ssize_t m, Py_ssize_t K, const double *r,
                       const double *B, Py_ssize_t ldb, double *g, Py_ssize_t ldg)
{
    mc_hess_gt_fns[mc_level](nb, m, K, r, B, ldb, g, ldg);
}

static void mc_hess_z(Py_ssize_t nb, Py_ssize_t m, Py_ssize_t K, const double *B,
                      Py_ssize_t ldb, const double *th, Py_ssize_t ldt, const double *bias,
                      double *z)
{
    mc_hess_z_fns[mc_level](nb, m, K, B, ldb, th, ldt, bias, z);
}

#endif /* MCFAST_SANDWICH_H */
