/* mcfast: eˣ and log(1 + e) on lanes of doubles, branch-free, written once.
 *
 * Re-included on top of a lane type (mc_lane_vec.h: a vector of the fused paths' lanes;
 * mc_lane_one.h: one double, for the hooks), with MC_VM(x) (the names' prefix + x) and
 * TARGET defined; it uses only the lane type's operations, so the vector lanes, the
 * scalar hooks and the multinomial rows compute eˣ by the same formula (1–2 ulp):
 *   MC_VM(_exp)(x)           eˣ over the whole double range (∞ above 709.78, subnormals
 *                            and 0 below −708);
 *   MC_VM(_log1p01)(e, inv)  log(1 + e) for 0 ≤ e ≤ 1, with inv = 1 / (1 + e) given.
 * Selects are bit masks on vectors, 2ᵏ is built in the integer lanes.
 */
/* x = k ln2 + r, |r| ≤ ln2/2; eʳ by MC_EXP_POLY; 2ᵏ as two normal factors 2^k1 · 2^k2 */
TARGET MC_INLINE MC_VM(_dv) MC_VM(_exp)(MC_VM(_dv) x)
{
    typedef MC_VM(_dv) DV;
    typedef MC_VM(_iv) IV;
    const double shift = 6755399441055744.0;          /* 1.5 · 2⁵², rounds to an integer */
    DV xc = MC_VM(_sel)(x > 709.8, (DV){0} + 709.8,
                        MC_VM(_sel)(x < -745.2, (DV){0} - 745.2, x));
    DV kd = xc * 1.4426950408889634 + shift, r, p, ex;
    IV bits = MC_VM(_bits)(kd), k, k1, k2;
    kd -= shift;
    r = (xc - kd * 0.693147180369123816490) - kd * 1.90821492927058770002e-10;
    p = MC_EXP_POLY(DV, r);
    k = MC_VM(_lo32)(bits);                           /* the low bits of kd hold k */
    k1 = ((k + 2048) >> 1) - 1024;
    k2 = k - k1;
    k1 = (k1 + 1023) << 52;
    k2 = (k2 + 1023) << 52;
    ex = p * MC_VM(_dbl)(k1) * MC_VM(_dbl)(k2);
    /* above log(DBL_MAX) the result is ∞ by a select, not by the product's overflow: a
     * caller's e − y·x would otherwise be contracted to fma(p·s1, s2, −y·x), whose exact
     * product is finite, so eˣ − y·x at x = ∞ gave −∞ instead of ∞ − ∞ = NaN */
    ex = MC_VM(_sel)(x > 709.782712893384, (DV){0} + (double)INFINITY, ex);
    return MC_VM(_sel)(x != x, x, ex);
}
/* log(1 + e) for 0 ≤ e ≤ 1: u = 1 + e = 2ʲ v with v in [√½, √2], log v = 2 atanh(s),
 * s = (v − 1)/(v + 1) ≤ 0.172, by MC_LOG_SERIES, plus the rounding error of 1 + e,
 * (e − (u − 1)) / u, with inv = 1 / u given (the caller has it) */
TARGET MC_INLINE MC_VM(_dv) MC_VM(_log1p01)(MC_VM(_dv) e, MC_VM(_dv) inv)
{
    typedef MC_VM(_dv) DV;
    typedef MC_VM(_iv) IV;
    DV u = 1 + e;
    IV big = u > 1.4142135623730951;
    DV v = MC_VM(_sel)(big, 0.5 * u, u);
    DV s = (v - 1) / (v + 1), t = s * s;
    DV lg = 2 * s * MC_LOG_SERIES(DV, t);
    return lg + MC_VM(_sel)(big, (DV){0} + 0.6931471805599453, (DV){0}) + (e - (u - 1)) * inv;
}
