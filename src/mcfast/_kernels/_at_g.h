/* out (m x n) = A^T G for small row-major A (p x m) and G (p x n), out row-major (m x n),
 * none overlapping: the hand loop of mcfast.grad_ax's fast entry (used from _linear.pyx).
 *
 * A tile of 4 rows x 16 columns of out stays in registers (8 AVX-512 vectors of doubles:
 * eight independent FMA chains, enough to keep two FMA units busy) while p runs: each step
 * loads G[p, j:j+16] once and broadcasts A[p, i:i+4]; the last columns take 4 x 8 and
 * 4 x 4 tiles. It fills out[:m4, :n4] (whole multiples of 4); the caller the last rows
 * and columns. Cloned for AVX-512 / AVX2 / baseline (GCC
 * target_clones), so the default build stays portable and still gets wide vectors.
 */
#ifndef MCFAST_AT_G_H
#define MCFAST_AT_G_H

#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && defined(__linux__) && !defined(MCFAST_NO_CLONES)
#define MC_ATG_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MC_ATG_CLONES
#endif

#define MC_ATG_R 4
#define MC_ATG_C 16

#define MC_AT_G_TILE(T, W)                                                                \
static inline __attribute__((always_inline)) void mc_at_g_tile_##T##_##W(                \
        Py_ssize_t p, Py_ssize_t m, Py_ssize_t n, const T* __restrict a,                \
        const T* __restrict g, T* __restrict out, Py_ssize_t i, Py_ssize_t j)           \
{                                                                                         \
    T acc[MC_ATG_R][W];                                                                   \
    for (int r = 0; r < MC_ATG_R; r++)                                                    \
        for (int c = 0; c < W; c++) acc[r][c] = 0;                                        \
    for (Py_ssize_t k = 0; k < p; k++) {                                                  \
        const T* gk = g + k * n + j;                                                      \
        const T* ak = a + k * m + i;                                                      \
        _Pragma("GCC unroll 4")                                                           \
        for (int r = 0; r < MC_ATG_R; r++) {                                              \
            const T ar = ak[r];                                                           \
            _Pragma("GCC unroll 16")                                                      \
            for (int c = 0; c < W; c++) acc[r][c] += ar * gk[c];                          \
        }                                                                                 \
    }                                                                                     \
    for (int r = 0; r < MC_ATG_R; r++)                                                    \
        for (int c = 0; c < W; c++) out[(i + r) * n + j + c] = acc[r][c];                 \
}

#define MC_AT_G(T)                                                                        \
MC_AT_G_TILE(T, 16)                                                                       \
MC_AT_G_TILE(T, 8)                                                                        \
MC_AT_G_TILE(T, 4)                                                                        \
MC_ATG_CLONES static void mc_at_g_##T(Py_ssize_t p, Py_ssize_t m, Py_ssize_t n,          \
                                      Py_ssize_t m4, Py_ssize_t n4,                      \
                                      const T* a, const T* g, T* out)                    \
{                                                                                         \
    /* out[:m4, :n4] only: m4, n4 multiples of 4 (the caller does the rest) */            \
    Py_ssize_t j = 0, i;                                                                  \
    for (; j + 16 <= n4; j += 16)                                                         \
        for (i = 0; i < m4; i += MC_ATG_R)                                                \
            mc_at_g_tile_##T##_16(p, m, n, a, g, out, i, j);                              \
    if (j + 8 <= n4) {                                                                    \
        for (i = 0; i < m4; i += MC_ATG_R)                                                \
            mc_at_g_tile_##T##_8(p, m, n, a, g, out, i, j);                               \
        j += 8;                                                                           \
    }                                                                                     \
    if (j + 4 <= n4)                                                                      \
        for (i = 0; i < m4; i += MC_ATG_R)                                                \
            mc_at_g_tile_##T##_4(p, m, n, a, g, out, i, j);                               \
}

MC_AT_G(double)
MC_AT_G(float)

#endif
