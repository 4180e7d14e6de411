/* mcfast: eˣ and log(1 + e) on vectors of doubles, branch-free (the fused row groups).
 *
 * The formulas of mc_loss.h's scalar mc_exp and mc_log1p01 (same range reduction, the same
 * polynomials MC_EXP_POLY and MC_LOG_SERIES, 1–2 ulp), written on GCC/Clang vector types so that a loss acts on all the
 * lanes of a group at once: selects are bit masks, 2ᵏ is built in the integer lanes.
 * MC_DEFINE_VMATH(NAME, VL, TARGET) defines, for VL double lanes:
 *   NAME_dv, NAME_iv       the double and int64 vector types;
 *   NAME_sel(m, a, b)      lane-wise m ? a : b (m from a vector comparison);
 *   NAME_abs(x), NAME_exp(x), NAME_log1p01(e, inv)  with inv = 1 / (1 + e).
 */
#ifndef MCFAST_VMATH_H
#define MCFAST_VMATH_H

#include <stdint.h>
#include "mc_simd.h"
#include "mc_loss.h"

#if MC_VEC
#define MC_DEFINE_VMATH(NAME, VL, TARGET)                                            \
typedef double NAME##_dv __attribute__((vector_size(8 * VL)));                       \
typedef int64_t NAME##_iv __attribute__((vector_size(8 * VL)));                      \
TARGET MC_INLINE NAME##_dv NAME##_sel(NAME##_iv m, NAME##_dv a, NAME##_dv b)         \
{                                                                                    \
    return (NAME##_dv)(((NAME##_iv)a & m) | ((NAME##_iv)b & ~m));                    \
}                                                                                    \
TARGET MC_INLINE NAME##_dv NAME##_abs(NAME##_dv x)                                   \
{                                                                                    \
    return (NAME##_dv)((NAME##_iv)x & (int64_t)0x7fffffffffffffffLL);                \
}                                                                                    \
/* x = k ln2 + r, |r| ≤ ln2/2; eʳ by Taylor to degree 13; 2ᵏ = 2^k1 · 2^k2 */      \
TARGET MC_INLINE NAME##_dv NAME##_exp(NAME##_dv x)                                   \
{                                                                                    \
    typedef NAME##_dv DV;                                                            \
    typedef NAME##_iv IV;                                                            \
    const double shift = 6755399441055744.0;           /* 1.5 · 2⁵² */               \
    DV xc = NAME##_sel(x > 709.8, (DV){0} + 709.8,                                   \
                       NAME##_sel(x < -745.2, (DV){0} - 745.2, x));                  \
    DV kd = xc * 1.4426950408889634 + shift, r, p;                                   \
    IV bits = (IV)kd, k, k1, k2;                                                     \
    kd -= shift;                                                                     \
    r = (xc - kd * 0.693147180369123816490) - kd * 1.90821492927058770002e-10;       \
    p = MC_EXP_POLY(DV, r);                                                          \
    k = (bits << 32) >> 32;                            /* the low 32 bits hold k */  \
    k1 = ((k + 2048) >> 1) - 1024;                                                   \
    k2 = k - k1;                                                                     \
    k1 = (k1 + 1023) << 52;                                                          \
    k2 = (k2 + 1023) << 52;                                                          \
    return NAME##_sel(x != x, x, p * (DV)k1 * (DV)k2);                               \
}                                                                                    \
/* log(1 + e) for 0 ≤ e ≤ 1: u = 1 + e = 2ʲ v, v in [√½, √2], log v = 2 atanh(s) */ \
TARGET MC_INLINE NAME##_dv NAME##_log1p01(NAME##_dv e, NAME##_dv inv)                \
{                                                                                    \
    typedef NAME##_dv DV;                                                            \
    typedef NAME##_iv IV;                                                            \
    DV u = 1 + e;                                                                    \
    IV big = u > 1.4142135623730951;                                                 \
    DV v = NAME##_sel(big, 0.5 * u, u);                                              \
    DV s = (v - 1) / (v + 1), t = s * s;                                             \
    DV lg = 2 * s * MC_LOG_SERIES(DV, t);                                            \
    DV ln2 = (DV)(big & (IV)((DV){0} + 0.6931471805599453));                        \
    return lg + ln2 + (e - (u - 1)) * inv;                                           \
}
#endif /* MC_VEC */

#endif /* MCFAST_VMATH_H */
