/* mcfast: each loss's ℓ, ℓ′ and ℓ″, written once, on lanes of doubles or floats.
 *
 * Re-included after mc_vmath_body.h on the same lane type (mc_lane_vec.h: the lanes of
 * the fused paths, float lanes where the arithmetic is float32, and the hooks' double
 * lanes; mc_lane_one.h: one double, for the hooks without vector extensions), with
 * MC_VM(x) and TARGET defined.
 * MC_VM(_loss)(KIND, HESS, z, q, y, δ, &l), KIND and HESS literals at every call (one
 * loop per loss and mode):
 *   gradient (HESS 0):  returns ℓ′(z, y) and sets l = ℓ(z, y);
 *   Hessian (HESS 1):   returns ℓ″(z, y) q (l untouched).
 * squared    ℓ = (z − y)²                         ℓ′ = 2(z − y)       ℓ″ = 2
 * logistic   ℓ = log(1 + eᶻ) − y z                ℓ′ = σ(z) − y       ℓ″ = σ(z)(1 − σ(z))
 * Poisson    ℓ = eᶻ − y z                         ℓ′ = eᶻ − y         ℓ″ = eᶻ
 * Huber      ℓ = ½e² (|e| ≤ δ), δ(|e| − ½δ)       ℓ′ = clip(e, ±δ)    ℓ″ = [|e| ≤ δ]
 * (logistic stable for large |z|: e = e^−|z| ≤ 1, log(1 + eᶻ) = max(z, 0) + log(1 + e),
 * with max(z, 0) − y z taken first: exact where the two cancel, y ∈ {0, 1}; one
 * division gives both σ's 1 / (1 + e) and the log's).
 * The multinomial loss couples a row's classes; its softmax is written once, as the
 * scalar steps of mc_loss.h (mc_mn_max, mc_mn_shift, mc_mn_label_ok, mc_mn_loss) and
 * the two lane steps below, which mc_hook_body.h (lanes: one class of W / 8 rows, any
 * K) and mc_group_body.h (lanes: a row's classes, K ≤ 8) compose on their layouts:
 *   MC_VM(_mn_e)(z, zmax)                  e = e^(z − zmax), zmax the row's shift;
 *   MC_VM(_mn_r)(HESS, p, q, pq, hit, w)   with p = e / Σ_c e_c:
 *       gradient (HESS 0):  r = w (p − hit), hit = [c = y];
 *       Hessian (HESS 1):   r = w p (q − pq), pq = pᵀq.
 */
TARGET MC_INLINE MC_VM(_dv) MC_VM(_loss)(const int KIND, const int HESS, MC_VM(_dv) z,
                                         MC_VM(_dv) q, MC_VM(_dv) y, MC_VM(_t) delta,
                                         MC_VM(_dv) *l)
{
    typedef MC_VM(_dv) DV;
    const DV zero = {0};
    const MC_VM(_t) half = 0.5;
    DV e, inv, a;
    MC_VM(_iv) in;
    switch (KIND) {
    case MC_SQUARED:
        e = z - y;
        *l = MC_SQ_LOSS(e);
        return HESS ? MC_SQ_HESSP(q) : MC_SQ_GRAD(e);
    case MC_LOGISTIC:
        e = MC_VM(_expn)(-MC_VM(_abs)(z));
        if (HESS) {
            inv = 1 / (1 + e);
            return e * inv * inv * q;
        }
        a = MC_VM(_log1p01)(e, &inv);
        *l = (MC_VM(_sel)(z > 0, z, zero) - y * z) + a;
        return MC_VM(_sel)(z >= 0, inv, e * inv) - y;
    case MC_POISSON:
        e = MC_VM(_exp)(z);
        *l = e - y * z;
        return HESS ? e * q : e - y;
    default:                                                  /* MC_HUBER */
        e = z - y;
        a = MC_VM(_abs)(e);
        in = a <= delta;
        *l = MC_VM(_sel)(in, half * e * e, delta * (a - half * delta));
        if (HESS) return MC_VM(_sel)(in, q, zero);
        return MC_VM(_sel)(in, e, MC_VM(_sel)(e > 0, zero + delta,
                                              MC_VM(_sel)(e < 0, zero - delta, e)));
    }
}

/* the multinomial's lane steps (above) */
TARGET MC_INLINE MC_VM(_dv) MC_VM(_mn_e)(MC_VM(_dv) z, MC_VM(_dv) zmax)
{
    return MC_VM(_exp)(z - zmax);
}
TARGET MC_INLINE MC_VM(_dv) MC_VM(_mn_r)(const int HESS, MC_VM(_dv) p, MC_VM(_dv) q,
                                         MC_VM(_dv) pq, MC_VM(_dv) hit, MC_VM(_dv) w)
{
    return HESS ? w * p * (q - pq) : w * (p - hit);
}
