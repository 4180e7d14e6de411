/* mcfast: matrix-vector products of a block of samples of a vector chain (_chain_exec.pxi), per width. */
#ifndef MCFAST_CHAIN_VEC_H
#define MCFAST_CHAIN_VEC_H

#include <Python.h>   /* Py_ssize_t */
#include "mc_simd.h"   /* MC_CAT, MC_CAT3 */

/* Vector chains on a block of samples: one step (one link) for every sample of the
   block, so the dispatch on the width happens once per block and the samples' short
   FMA chains overlap. A sample's matrix is at a + aoff[s * ostride]; its input vector
   at x + xoff[s * ostride] (stride xs) or, when xoff is NULL, at x + s * xld. The
   per-width kernels are inlined into the dispatcher MC_VEC_BLOCK defines for one
   instantiation of mc_levels.h (type T, target TGT, suffix SFX: mc_vec_block_d_avx2). */
#define MC_VEC_N(T, N)                                                                \
static inline __attribute__((always_inline)) void mc_vgrad_##T##_##N(                 \
        Py_ssize_t ns, Py_ssize_t rows, const T* a, const Py_ssize_t* aoff,           \
        Py_ssize_t ostride, Py_ssize_t rs, const T* x, const Py_ssize_t* xoff,        \
        Py_ssize_t xs, Py_ssize_t xld, T* y, Py_ssize_t yld) {                         \
    for (Py_ssize_t s = 0; s < ns; s++) {      /* y_s = A_sᵀ x_s = x_sᵀ A_s */        \
        const T* as = a + aoff[s * ostride];                                          \
        const T* xv = xoff ? x + xoff[s * ostride] : x + s * xld;                     \
        T acc[N], acc2[N];                                                            \
        Py_ssize_t p = 0;                                                             \
        for (int j = 0; j < N; j++) { acc[j] = 0; acc2[j] = 0; }                      \
        for (; p + 1 < rows; p += 2) {                                                \
            const T x0 = xv[p * xs], x1 = xv[(p + 1) * xs];                           \
            const T* a0 = as + p * rs;                                                \
            const T* a1 = a0 + rs;                                                    \
            for (int j = 0; j < N; j++) { acc[j] += x0 * a0[j]; acc2[j] += x1 * a1[j]; } \
        }                                                                             \
        if (p < rows) {                                                               \
            const T x0 = xv[p * xs];                                                  \
            const T* a0 = as + p * rs;                                                \
            for (int j = 0; j < N; j++) acc[j] += x0 * a0[j];                         \
        }                                                                             \
        for (int j = 0; j < N; j++) y[s * yld + j] = acc[j] + acc2[j];                \
    }                                                                                 \
}                                                                                     \
static inline __attribute__((always_inline)) void mc_vtan_##T##_##N(                  \
        Py_ssize_t ns, Py_ssize_t rows, const T* a, const Py_ssize_t* aoff,           \
        Py_ssize_t ostride, Py_ssize_t rs, const T* x, const Py_ssize_t* xoff,        \
        Py_ssize_t xs, Py_ssize_t xld, T* y, Py_ssize_t yld) {                         \
    for (Py_ssize_t s = 0; s < ns; s++) {      /* y_s = A_s x_s */                    \
        const T* as = a + aoff[s * ostride];                                          \
        const T* xv = xoff ? x + xoff[s * ostride] : x + s * xld;                     \
        T xr[N];                                                                      \
        for (int j = 0; j < N; j++) xr[j] = xv[j * xs];                               \
        for (Py_ssize_t i = 0; i < rows; i++) {                                       \
            const T* ai = as + i * rs;                                                \
            T acc = 0;                                                                \
            for (int j = 0; j < N; j++) acc += ai[j] * xr[j];                         \
            y[s * yld + i] = acc;                                                     \
        }                                                                             \
    }                                                                                 \
}
#define MC_VEC_CASE(T, N) case N:                                                     \
    if (grad)                                                                         \
        MC_CAT3(mc_vgrad_, T, MC_CAT(_, N))(ns, rows, a, aoff, ostride, rs, x, xoff,  \
                                            xs, xld, y, yld);                         \
    else                                                                              \
        MC_CAT3(mc_vtan_, T, MC_CAT(_, N))(ns, rows, a, aoff, ostride, rs, x, xoff,   \
                                           xs, xld, y, yld);                          \
    return 1;
#define MC_VEC_ALL(T)                                                                 \
MC_VEC_N(T, 1) MC_VEC_N(T, 2) MC_VEC_N(T, 3) MC_VEC_N(T, 4) MC_VEC_N(T, 5)            \
MC_VEC_N(T, 6) MC_VEC_N(T, 7) MC_VEC_N(T, 8) MC_VEC_N(T, 9) MC_VEC_N(T, 10)           \
MC_VEC_N(T, 11) MC_VEC_N(T, 12) MC_VEC_N(T, 13) MC_VEC_N(T, 14) MC_VEC_N(T, 15)       \
MC_VEC_N(T, 16)
/* 1 when done; 0 when the width (cols) is not 1..16: the caller loops per sample */
#define MC_VEC_BLOCK(T, TGT, SFX)                                                     \
TGT static int MC_CAT(mc_vec_block_, SFX)(int grad, Py_ssize_t ns, Py_ssize_t rows,       \
        Py_ssize_t cols, const T* a, const Py_ssize_t* aoff, Py_ssize_t ostride,      \
        Py_ssize_t rs, const T* x, const Py_ssize_t* xoff, Py_ssize_t xs,             \
        Py_ssize_t xld, T* y, Py_ssize_t yld) {                                       \
    switch (cols) {                                                                   \
    MC_VEC_CASE(T, 1) MC_VEC_CASE(T, 2) MC_VEC_CASE(T, 3) MC_VEC_CASE(T, 4)           \
    MC_VEC_CASE(T, 5) MC_VEC_CASE(T, 6) MC_VEC_CASE(T, 7) MC_VEC_CASE(T, 8)           \
    MC_VEC_CASE(T, 9) MC_VEC_CASE(T, 10) MC_VEC_CASE(T, 11) MC_VEC_CASE(T, 12)        \
    MC_VEC_CASE(T, 13) MC_VEC_CASE(T, 14) MC_VEC_CASE(T, 15) MC_VEC_CASE(T, 16)       \
    }                                                                                 \
    return 0;                                                                         \
}
MC_VEC_ALL(double)
MC_VEC_ALL(float)

#endif
