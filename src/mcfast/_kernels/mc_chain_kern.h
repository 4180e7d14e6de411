/* mcfast: the chain kernels' dispatch table by instruction set, and the entries _chain calls.
 *
 * The small products (mc_chain_gemm.h), the vector blocks (mc_chain_vec.h) and one vector
 * through a large link (mc_chain_mv_body.h) are instantiated for every (dtype, level) of
 * mc_levels.h's one list (mc_chain_body.h); mc_chks_<d|f>[level] lists their tables by
 * mc_level's values, and the entries below (mc_small_gemm_double, ...) call the table of
 * the level in use: mc_level (mc_simd.h), set at import from the CPU or MCFAST_SIMD, as
 * the engine's (mc_kern.h) and the stacks' (mc_stack.h). Each entry records the level it
 * ran at, per family (mc_chk_ran), so tests can see that a forced level is the one run.
 */
#ifndef MCFAST_CHAIN_KERN_H
#define MCFAST_CHAIN_KERN_H

#include <stdint.h>
#include "mc_simd.h"
#include "mc_chain_gemm.h"
#include "mc_chain_vec.h"

#define MC_MV_TILE 512      /* columns of y = xᵀA accumulated in L1 per pass over the rows */
#define MC_MV_LANES 16      /* partial sums of a row's dot product in y = A x */

#define MC_CHK_TYPE(T, TN)                                                           \
typedef struct {                                                                     \
    void (*small_gemm)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const T* a,         \
                       Py_ssize_t ars, Py_ssize_t acs, const T* b, Py_ssize_t brs,   \
                       T* c, Py_ssize_t ldc);                                        \
    void (*gemm_block)(Py_ssize_t ns, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,      \
                       const T* a, const Py_ssize_t* aoff, Py_ssize_t ald,           \
                       Py_ssize_t ars, Py_ssize_t acs, const T* b,                   \
                       const Py_ssize_t* boff, Py_ssize_t bld, Py_ssize_t brs,       \
                       Py_ssize_t ostride, T* c, Py_ssize_t cld, Py_ssize_t ldc);    \
    int (*vec_block)(int grad, Py_ssize_t ns, Py_ssize_t rows, Py_ssize_t cols,      \
                     const T* a, const Py_ssize_t* aoff, Py_ssize_t ostride,         \
                     Py_ssize_t rs, const T* x, const Py_ssize_t* xoff, Py_ssize_t xs, \
                     Py_ssize_t xld, T* y, Py_ssize_t yld);                          \
    void (*mv_grad)(Py_ssize_t rows, Py_ssize_t cols, const T* __restrict a,         \
                    const T* __restrict x, T* __restrict y, Py_ssize_t j0,           \
                    Py_ssize_t j1);                                                  \
    void (*mv_tan)(Py_ssize_t rows, Py_ssize_t cols, const T* __restrict a,          \
                   const T* __restrict x, T* __restrict y, Py_ssize_t i0,            \
                   Py_ssize_t i1);                                                   \
    int level;      /* the level its kernels were compiled for (mc_level's values) */ \
} mc_chk_##TN;
MC_CHK_TYPE(double, d)
MC_CHK_TYPE(float, f)

#define MC_BODY "mc_chain_body.h"
#include "mc_levels.h"
#undef MC_BODY

/* the tables by level: 0 the baseline, 1 AVX2+FMA, 2 AVX-512 (mc_level's values) */
static const mc_chk_d *const mc_chks_d[] = {
    &mc_chk_d_base,
#if MC_X86
    &mc_chk_d_avx2, &mc_chk_d_avx512,
#endif
};
static const mc_chk_f *const mc_chks_f[] = {
    &mc_chk_f_base,
#if MC_X86
    &mc_chk_f_avx2, &mc_chk_f_avx512,
#endif
};

/* the families whose level each entry records (mc_chk_ran; -1: not run since the reset) */
enum { MC_CHK_GEMM = 0, MC_CHK_VEC = 1, MC_CHK_MV = 2, MC_CHK_FAMILIES = 3 };
static int mc_chk_ran[MC_CHK_FAMILIES] = {-1, -1, -1};

#if defined(__GNUC__) || defined(__clang__)
#define MC_CHK_NOTE(fam, lvl) __atomic_store_n(&mc_chk_ran[fam], (lvl), __ATOMIC_RELAXED)
#else
#define MC_CHK_NOTE(fam, lvl) (mc_chk_ran[fam] = (lvl))
#endif

/* the level family `fam` last ran at (-1: none since mc_chk_reset) */
static int mc_chk_ran_level(int fam) { return mc_chk_ran[fam]; }
static void mc_chk_reset(void)
{
    for (int f = 0; f < MC_CHK_FAMILIES; f++)
        mc_chk_ran[f] = -1;
}

/* The entries _chain calls, per element type (names as _chain_exec.pxi and _chain_mv.pxi
   declare them): the table of the level in use, noted, then its kernel. */
#define MC_CHK_ENTRIES(T, TN)                                                        \
static void mc_small_gemm_##T(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const T* a,  \
        Py_ssize_t ars, Py_ssize_t acs, const T* b, Py_ssize_t brs, T* c,            \
        Py_ssize_t ldc) {                                                            \
    const mc_chk_##TN *t = mc_chks_##TN[mc_level];                                   \
    MC_CHK_NOTE(MC_CHK_GEMM, t->level);                                              \
    t->small_gemm(m, n, k, a, ars, acs, b, brs, c, ldc);                             \
}                                                                                    \
static void mc_gemm_block_##T(Py_ssize_t ns, Py_ssize_t m, Py_ssize_t n,             \
        Py_ssize_t k, const T* a, const Py_ssize_t* aoff, Py_ssize_t ald,            \
        Py_ssize_t ars, Py_ssize_t acs, const T* b, const Py_ssize_t* boff,          \
        Py_ssize_t bld, Py_ssize_t brs, Py_ssize_t ostride, T* c, Py_ssize_t cld,    \
        Py_ssize_t ldc) {                                                            \
    const mc_chk_##TN *t = mc_chks_##TN[mc_level];                                   \
    MC_CHK_NOTE(MC_CHK_GEMM, t->level);                                              \
    t->gemm_block(ns, m, n, k, a, aoff, ald, ars, acs, b, boff, bld, brs, ostride,   \
                  c, cld, ldc);                                                      \
}                                                                                    \
static int mc_vec_block_##T(int grad, Py_ssize_t ns, Py_ssize_t rows,                \
        Py_ssize_t cols, const T* a, const Py_ssize_t* aoff, Py_ssize_t ostride,     \
        Py_ssize_t rs, const T* x, const Py_ssize_t* xoff, Py_ssize_t xs,            \
        Py_ssize_t xld, T* y, Py_ssize_t yld) {                                      \
    const mc_chk_##TN *t = mc_chks_##TN[mc_level];                                   \
    MC_CHK_NOTE(MC_CHK_VEC, t->level);                                               \
    return t->vec_block(grad, ns, rows, cols, a, aoff, ostride, rs, x, xoff, xs,     \
                        xld, y, yld);                                                \
}                                                                                    \
MC_CHK_MV_ENTRY(T, TN, mv_grad) MC_CHK_MV_ENTRY(T, TN, mv_tan)
/* mc_mv_grad_<T> (y[i0:i1] of xᵀA) and mc_mv_tan_<T> (of A x): one entry each */
#define MC_CHK_MV_ENTRY(T, TN, FIELD)                                                \
static void mc_##FIELD##_##T(Py_ssize_t rows, Py_ssize_t cols, const T* a,           \
        const T* x, T* y, Py_ssize_t i0, Py_ssize_t i1) {                            \
    const mc_chk_##TN *t = mc_chks_##TN[mc_level];                                   \
    MC_CHK_NOTE(MC_CHK_MV, t->level);                                                \
    t->FIELD(rows, cols, a, x, y, i0, i1);                                           \
}
MC_CHK_ENTRIES(double, d)
MC_CHK_ENTRIES(float, f)

#endif /* MCFAST_CHAIN_KERN_H */
