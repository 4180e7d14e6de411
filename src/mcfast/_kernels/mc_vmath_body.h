/* mcfast: eˣ and log(1 + e) on lanes of doubles or floats, branch-free, written once.
 *
 * Re-included on top of a lane type (mc_lane_vec.h: a vector of the fused paths' or the
 * hooks' lanes, double or float; mc_lane_one.h: one double, for the hooks without vector
 * extensions), with MC_VM(x) (the names' prefix + x), MC_VMF (float lanes) and TARGET
 * defined; it uses only the lane type's operations, so the fused lanes, the hooks and
 * the multinomial rows compute eˣ by the same formula (1–2 ulp of the lanes' precision):
 *   MC_VM(_exp)(x)           eˣ over the whole range (∞ above log(MAX), subnormals and 0
 *                            below the smallest normal's log);
 *   MC_VM(_expn)(x)          the same for x ≤ 0 (or NaN) alone: no overflow to handle;
 *   MC_VM(_log1p01)(e, &inv) log(1 + e) for 0 ≤ e ≤ 1, and inv = 1 / (1 + e), with one
 *                            division for both.
 * Selects are bit masks on vectors, 2ᵏ is built in the integer lanes. Double lanes take
 * the polynomials of mc_loss.h, float lanes their float32 twins (..._F) and constants.
 */
#if MC_VMF
#define MC_VM_EXP_POLY MC_EXP_POLY_F
#define MC_VM_LOG_SERIES MC_LOG_SERIES_F
#else
#define MC_VM_EXP_POLY MC_EXP_POLY
#define MC_VM_LOG_SERIES MC_LOG_SERIES
#endif
/* eˣ for x clamped to [lo, hi]: x = k ln2 + r, |r| ≤ ln2/2 (ln2 in two parts, Cody and
 * Waite); eʳ by the polynomial; 2ᵏ as two normal factors 2^k1 · 2^k2 */
TARGET MC_INLINE MC_VM(_dv) MC_VM(_exp_in)(MC_VM(_dv) xc)
{
    typedef MC_VM(_dv) DV;
    typedef MC_VM(_iv) IV;
    typedef MC_VM(_t) TY;
    const TY shift = MC_VMF ? 12582912.0f : 6755399441055744.0;  /* 1.5 · 2^mantissa */
    const TY log2e = MC_VMF ? 1.44269502f : 1.4426950408889634;
    const TY ln2hi = MC_VMF ? 0.693145751953125f : 0.693147180369123816490;
    const TY ln2lo = MC_VMF ? 1.42860677e-6f : 1.90821492927058770002e-10;
    const int mant = MC_VMF ? 23 : 52, bias = MC_VMF ? 127 : 1023;
    DV kd = xc * log2e + shift, r, p;
    IV bits = MC_VM(_bits)(kd), k, k1, k2;
    kd -= shift;
    r = (xc - kd * ln2hi) - kd * ln2lo;
    p = MC_VM_EXP_POLY(DV, r);
    k = MC_VM(_low)(bits);                            /* the low bits of kd hold k */
    k1 = ((k + 2 * (bias + 1)) >> 1) - (bias + 1);
    k2 = k - k1;
    k1 = (k1 + bias) << mant;
    k2 = (k2 + bias) << mant;
    return p * MC_VM(_dbl)(k1) * MC_VM(_dbl)(k2);
}
TARGET MC_INLINE MC_VM(_dv) MC_VM(_exp)(MC_VM(_dv) x)
{
    typedef MC_VM(_dv) DV;
    typedef MC_VM(_t) TY;
    const TY hi = MC_VMF ? 88.8f : 709.8, lo = MC_VMF ? -104.0f : -745.2;
    const TY big = MC_VMF ? 88.7228391f : 709.782712893384;     /* log(MAX) */
    DV ex = MC_VM(_exp_in)(MC_VM(_sel)(x > hi, (DV){0} + hi,
                                       MC_VM(_sel)(x < lo, (DV){0} + lo, x)));
    /* above log(MAX) the result is ∞ by a select, not by the product's overflow: a
     * caller's e − y·x would otherwise be contracted to fma(p·s1, s2, −y·x), whose exact
     * product is finite, so eˣ − y·x at x = ∞ gave −∞ instead of ∞ − ∞ = NaN */
    ex = MC_VM(_sel)(x > big, (DV){0} + (TY)INFINITY, ex);
    return MC_VM(_sel)(x != x, x, ex);
}
TARGET MC_INLINE MC_VM(_dv) MC_VM(_expn)(MC_VM(_dv) x)
{
    typedef MC_VM(_dv) DV;
    typedef MC_VM(_t) TY;
    const TY lo = MC_VMF ? -104.0f : -745.2;      /* NaN passes the clamp and stays NaN */
    return MC_VM(_exp_in)(MC_VM(_sel)(x < lo, (DV){0} + lo, x));
}
/* log(1 + e) for 0 ≤ e ≤ 1: u = 1 + e = 2ʲ v with v in [√½, √2], log v = 2 atanh(s),
 * s = (v − 1)/(v + 1) ≤ 0.172, by the series, plus the rounding error of 1 + e,
 * (e − (u − 1)) / u. One division: d = 1 / (u (v + 1)) gives both 1 / (v + 1) = u d
 * and *inv = 1 / u = (v + 1) d. */
TARGET MC_INLINE MC_VM(_dv) MC_VM(_log1p01)(MC_VM(_dv) e, MC_VM(_dv) *inv)
{
    typedef MC_VM(_dv) DV;
    typedef MC_VM(_iv) IV;
    typedef MC_VM(_t) TY;
    const TY sqrt2 = MC_VMF ? 1.41421354f : 1.4142135623730951;
    const TY ln2 = MC_VMF ? 0.693147182f : 0.6931471805599453;
    DV u = 1 + e;
    IV big = u > sqrt2;
    DV v = MC_VM(_sel)(big, (TY)0.5 * u, u), vp = v + 1;
    DV d = 1 / (u * vp);
    DV s = (v - 1) * (u * d), t = s * s;
    DV lg = 2 * s * MC_VM_LOG_SERIES(DV, t);
    *inv = vp * d;
    return lg + MC_VM(_sel)(big, (DV){0} + ln2, (DV){0}) + (e - (u - 1)) * *inv;
}
#undef MC_VM_EXP_POLY
#undef MC_VM_LOG_SERIES
