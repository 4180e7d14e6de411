/* mcfast: out = Aᵀ G for small row-major A and G in register tiles, by instruction-set level.
 *
 * The hand loop of mcfast.grad_ax's fast entry (_linear.pyx), for products too small for
 * BLAS to pay off. A tile of 4 rows × 16 columns of out stays in registers (8 AVX-512
 * vectors of doubles: eight independent FMA chains, enough to keep two FMA units busy)
 * while p runs: each step loads G[k, j:j+16] once and broadcasts A[k, i:i+4]; the last
 * columns take 4 × 8 and 4 × 4 tiles. It fills out[:m4, :n4] (whole multiples of 4); the
 * caller the last rows and columns.
 *
 * Written once (mc_at_g_body.h) and instantiated for every (dtype, level) of mc_levels.h's
 * one list; mc_atg_kerns[level] names them by mc_level's values, and mc_atg_kern_now()
 * picks the table of the level in use: mc_level (mc_simd.h), set at import from the CPU or
 * MCFAST_SIMD (mcfast._simd), as in every other extension. MCFAST_NO_DISPATCH (or a
 * non-x86-64 target) leaves the baseline alone.
 */
#ifndef MCFAST_AT_G_H
#define MCFAST_AT_G_H

#include <Python.h>   /* Py_ssize_t */
#include "mc_simd.h"

#define MC_ATG_R 4    /* rows of out in a tile */
#define MC_ATG_C 16   /* columns of out in the widest tile */

#define MC_BODY "mc_at_g_body.h"
#include "mc_levels.h"
#undef MC_BODY

/* one level's kernels, both dtypes, and the level they were compiled for */
typedef struct {
    void (*run_d)(Py_ssize_t p, Py_ssize_t m, Py_ssize_t n, Py_ssize_t m4, Py_ssize_t n4,
                  const double* a, const double* g, double* out);
    void (*run_f)(Py_ssize_t p, Py_ssize_t m, Py_ssize_t n, Py_ssize_t m4, Py_ssize_t n4,
                  const float* a, const float* g, float* out);
    int level;
} mc_atg_kern;

/* by mc_level's values: 0 the baseline, 1 AVX2+FMA, 2 AVX-512 */
static const mc_atg_kern mc_atg_kerns[] = {
    {mc_at_g_d_base, mc_at_g_f_base, 0},
#if MC_X86
    {mc_at_g_d_avx2, mc_at_g_f_avx2, 1},
    {mc_at_g_d_avx512, mc_at_g_f_avx512, 2},
#endif
};

static const mc_atg_kern *mc_atg_kern_now(void) { return &mc_atg_kerns[mc_level]; }

#endif /* MCFAST_AT_G_H */
