/* mcfast: the small dense products of the chain kernels (_chain_exec.pxi), per width, instantiated per instruction set. */
#ifndef MCFAST_CHAIN_GEMM_H
#define MCFAST_CHAIN_GEMM_H

#include <Python.h>   /* Py_ssize_t */
#include "mc_simd.h"  /* MC_CAT, MC_CAT3 */
/* Small products C (m x n) = A (m x k) @ B (k x n), B and C with unit column stride.
   One kernel per width n = 1..16 keeps a row of C in registers (the compiler unrolls
   the fixed-width loops); wider rows take the generic loop. The per-width kernels are
   inlined into the dispatchers, which MC_GEMM_SMALL and MC_GEMM_BLOCK define for one
   instantiation of mc_levels.h (element type T, target TGT, names' suffix SFX:
   mc_small_gemm_d_avx2, ...); mc_chain_kern.h lists them by level. */
#define MC_GEMM_N(T, N)                                                               \
static inline __attribute__((always_inline)) void mc_gemm_##T##_##N(                  \
        Py_ssize_t m, Py_ssize_t k, const T* __restrict a, Py_ssize_t ars,            \
        Py_ssize_t acs, const T* __restrict b, Py_ssize_t brs, T* __restrict c,       \
        Py_ssize_t ldc) {                                                             \
    for (Py_ssize_t i = 0; i < m; i++) {                                              \
        T acc[N], acc2[N];        /* two accumulators: half the FMA latency chain */  \
        const T* ai = a + i * ars;                                                    \
        Py_ssize_t p = 0;                                                             \
        for (int j = 0; j < N; j++) { acc[j] = 0; acc2[j] = 0; }                      \
        for (; p + 1 < k; p += 2) {                                                   \
            const T a0 = ai[p * acs], a1 = ai[(p + 1) * acs];                         \
            const T* b0 = b + p * brs;                                                \
            const T* b1 = b0 + brs;                                                   \
            for (int j = 0; j < N; j++) { acc[j] += a0 * b0[j]; acc2[j] += a1 * b1[j]; } \
        }                                                                             \
        if (p < k) {                                                                  \
            const T a0 = ai[p * acs];                                                 \
            const T* b0 = b + p * brs;                                                \
            for (int j = 0; j < N; j++) acc[j] += a0 * b0[j];                         \
        }                                                                             \
        for (int j = 0; j < N; j++) c[i * ldc + j] = acc[j] + acc2[j];                \
    }                                                                                 \
}
#define MC_GEMM_ALL(T)                                                                \
MC_GEMM_N(T, 1) MC_GEMM_N(T, 2) MC_GEMM_N(T, 3) MC_GEMM_N(T, 4) MC_GEMM_N(T, 5)       \
MC_GEMM_N(T, 6) MC_GEMM_N(T, 7) MC_GEMM_N(T, 8) MC_GEMM_N(T, 9) MC_GEMM_N(T, 10)      \
MC_GEMM_N(T, 11) MC_GEMM_N(T, 12) MC_GEMM_N(T, 13) MC_GEMM_N(T, 14) MC_GEMM_N(T, 15)  \
MC_GEMM_N(T, 16)
#define MC_GEMM_SMALL(T, TGT, SFX)                                                    \
TGT static void MC_CAT(mc_small_gemm_, SFX)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, \
        const T* a, Py_ssize_t ars, Py_ssize_t acs, const T* b, Py_ssize_t brs,       \
        T* c, Py_ssize_t ldc) {                                                       \
    switch (n) {                                                                      \
    case 1: MC_CAT3(mc_gemm_, T, _1)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 2: MC_CAT3(mc_gemm_, T, _2)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 3: MC_CAT3(mc_gemm_, T, _3)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 4: MC_CAT3(mc_gemm_, T, _4)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 5: MC_CAT3(mc_gemm_, T, _5)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 6: MC_CAT3(mc_gemm_, T, _6)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 7: MC_CAT3(mc_gemm_, T, _7)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 8: MC_CAT3(mc_gemm_, T, _8)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 9: MC_CAT3(mc_gemm_, T, _9)(m, k, a, ars, acs, b, brs, c, ldc); return;               \
    case 10: MC_CAT3(mc_gemm_, T, _10)(m, k, a, ars, acs, b, brs, c, ldc); return;             \
    case 11: MC_CAT3(mc_gemm_, T, _11)(m, k, a, ars, acs, b, brs, c, ldc); return;             \
    case 12: MC_CAT3(mc_gemm_, T, _12)(m, k, a, ars, acs, b, brs, c, ldc); return;             \
    case 13: MC_CAT3(mc_gemm_, T, _13)(m, k, a, ars, acs, b, brs, c, ldc); return;             \
    case 14: MC_CAT3(mc_gemm_, T, _14)(m, k, a, ars, acs, b, brs, c, ldc); return;             \
    case 15: MC_CAT3(mc_gemm_, T, _15)(m, k, a, ars, acs, b, brs, c, ldc); return;             \
    case 16: MC_CAT3(mc_gemm_, T, _16)(m, k, a, ars, acs, b, brs, c, ldc); return;             \
    }                                                                                 \
    for (Py_ssize_t i = 0; i < m; i++) {                                              \
        T* ci = c + i * ldc;                                                          \
        for (Py_ssize_t j = 0; j < n; j++) ci[j] = 0;                                 \
        for (Py_ssize_t p = 0; p < k; p++) {                                          \
            const T aip = a[i * ars + p * acs];                                       \
            const T* bp = b + p * brs;                                                \
            for (Py_ssize_t j = 0; j < n; j++) ci[j] += aip * bp[j];                  \
        }                                                                             \
    }                                                                                 \
}
/* The same product for a block of samples: sample s reads A at a + aoff[s * ostride]
   (or a + s * ald when aoff is NULL), B likewise, and writes C at c + s * cld. The
   width dispatch happens once per block. */
#define MC_GEMM_BLOCK_CASE(T, N) case N:                                              \
    if (N <= 4 && m == N && k == N) {  /* tiny square links: every loop unrolled */   \
        for (Py_ssize_t s = 0; s < ns; s++)                                           \
            MC_CAT3(mc_gemm_, T, MC_CAT(_, N))(N, N, a + (aoff ? aoff[s * ostride] : s * ald), ars,    \
                              acs, b + (boff ? boff[s * ostride] : s * bld), brs,     \
                              c + s * cld, ldc);                                      \
        return;                                                                       \
    }                                                                                 \
    for (Py_ssize_t s = 0; s < ns; s++)                                               \
        MC_CAT3(mc_gemm_, T, MC_CAT(_, N))(m, k, a + (aoff ? aoff[s * ostride] : s * ald), ars, acs,   \
                          b + (boff ? boff[s * ostride] : s * bld), brs,              \
                          c + s * cld, ldc);                                          \
    return;
#define MC_GEMM_BLOCK(T, TGT, SFX)                                                    \
TGT static void MC_CAT(mc_gemm_block_, SFX)(Py_ssize_t ns, Py_ssize_t m, Py_ssize_t n,    \
        Py_ssize_t k, const T* a, const Py_ssize_t* aoff, Py_ssize_t ald,             \
        Py_ssize_t ars, Py_ssize_t acs, const T* b, const Py_ssize_t* boff,           \
        Py_ssize_t bld, Py_ssize_t brs, Py_ssize_t ostride, T* c, Py_ssize_t cld,     \
        Py_ssize_t ldc) {                                                             \
    switch (n) {                                                                      \
    MC_GEMM_BLOCK_CASE(T, 1) MC_GEMM_BLOCK_CASE(T, 2) MC_GEMM_BLOCK_CASE(T, 3)        \
    MC_GEMM_BLOCK_CASE(T, 4) MC_GEMM_BLOCK_CASE(T, 5) MC_GEMM_BLOCK_CASE(T, 6)        \
    MC_GEMM_BLOCK_CASE(T, 7) MC_GEMM_BLOCK_CASE(T, 8) MC_GEMM_BLOCK_CASE(T, 9)        \
    MC_GEMM_BLOCK_CASE(T, 10) MC_GEMM_BLOCK_CASE(T, 11) MC_GEMM_BLOCK_CASE(T, 12)     \
    MC_GEMM_BLOCK_CASE(T, 13) MC_GEMM_BLOCK_CASE(T, 14) MC_GEMM_BLOCK_CASE(T, 15)     \
    MC_GEMM_BLOCK_CASE(T, 16)                                                         \
    }                                                                                 \
    for (Py_ssize_t s = 0; s < ns; s++)                                               \
        MC_CAT(mc_small_gemm_, SFX)(m, n, k, a + (aoff ? aoff[s * ostride] : s * ald), ars, acs, \
                          b + (boff ? boff[s * ostride] : s * bld), brs,              \
                          c + s * cld, ldc);                                          \
}
MC_GEMM_ALL(double)
MC_GEMM_ALL(float)

#endif
