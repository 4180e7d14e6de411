/* mcfast: eˣ and log(1 + e) on vectors of doubles, branch-free (the fused row groups).
 *
 * The formulas of mc_loss.h's scalar mc_exp and mc_log1p01 (same range reduction, the same
 * polynomials MC_EXP_POLY and MC_LOG_SERIES, 1–2 ulp), written on GCC/Clang vector types so
 * that a loss acts on all the lanes of a group at once: selects are bit masks, 2ᵏ is built
 * in the integer lanes. Re-included by mc_group_body.h per instantiation with MC_VM(x) (the
 * names' prefix + x), MC_VML (double lanes) and TARGET defined; it defines, for MC_VML
 * double lanes:
 *   MC_VM(_dv), MC_VM(_iv)     the double and int64 vector types;
 *   MC_VM(_sel)(m, a, b)       lane-wise m ? a : b (m from a vector comparison);
 *   MC_VM(_abs)(x), MC_VM(_exp)(x), MC_VM(_log1p01)(e, inv)  with inv = 1 / (1 + e).
 */
typedef double MC_VM(_dv) __attribute__((vector_size(8 * MC_VML)));
typedef int64_t MC_VM(_iv) __attribute__((vector_size(8 * MC_VML)));
TARGET MC_INLINE MC_VM(_dv) MC_VM(_sel)(MC_VM(_iv) m, MC_VM(_dv) a, MC_VM(_dv) b)
{
    return (MC_VM(_dv))(((MC_VM(_iv))a & m) | ((MC_VM(_iv))b & ~m));
}
TARGET MC_INLINE MC_VM(_dv) MC_VM(_abs)(MC_VM(_dv) x)
{
    return (MC_VM(_dv))((MC_VM(_iv))x & (int64_t)0x7fffffffffffffffLL);
}
/* x = k ln2 + r, |r| ≤ ln2/2; eʳ by Taylor to degree 13; 2ᵏ = 2^k1 · 2^k2 */
TARGET MC_INLINE MC_VM(_dv) MC_VM(_exp)(MC_VM(_dv) x)
{
    typedef MC_VM(_dv) DV;
    typedef MC_VM(_iv) IV;
    const double shift = 6755399441055744.0;           /* 1.5 · 2⁵² */
    DV xc = MC_VM(_sel)(x > 709.8, (DV){0} + 709.8,
                       MC_VM(_sel)(x < -745.2, (DV){0} - 745.2, x));
    DV kd = xc * 1.4426950408889634 + shift, r, p;
    IV bits = (IV)kd, k, k1, k2;
    kd -= shift;
    r = (xc - kd * 0.693147180369123816490) - kd * 1.90821492927058770002e-10;
    p = MC_EXP_POLY(DV, r);
    k = (bits << 32) >> 32;                            /* the low 32 bits hold k */
    k1 = ((k + 2048) >> 1) - 1024;
    k2 = k - k1;
    k1 = (k1 + 1023) << 52;
    k2 = (k2 + 1023) << 52;
    return MC_VM(_sel)(x != x, x, p * (DV)k1 * (DV)k2);
}
/* log(1 + e) for 0 ≤ e ≤ 1: u = 1 + e = 2ʲ v, v in [√½, √2], log v = 2 atanh(s) */
TARGET MC_INLINE MC_VM(_dv) MC_VM(_log1p01)(MC_VM(_dv) e, MC_VM(_dv) inv)
{
    typedef MC_VM(_dv) DV;
    typedef MC_VM(_iv) IV;
    DV u = 1 + e;
    IV big = u > 1.4142135623730951;
    DV v = MC_VM(_sel)(big, 0.5 * u, u);
    DV s = (v - 1) / (v + 1), t = s * s;
    DV lg = 2 * s * MC_LOG_SERIES(DV, t);
    DV ln2 = (DV)(big & (IV)((DV){0} + 0.6931471805599453));
    return lg + ln2 + (e - (u - 1)) * inv;
}
