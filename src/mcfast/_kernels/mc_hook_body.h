/* mcfast: the loss hook of one (dtype, instruction set) instantiation (mc_loss.h).
 *
 * Re-included by mc_levels.h for each (dtype, level) it lists, with MC_T, MC_TARGET and
 * MC_SFX defined; no include guard. Defines mc_hook_<dtype>_<level>: r = w ∘ ℓ′(z, y)
 * (Hessian: w ∘ ℓ″ q) for a block of nb rows and K outputs, returning Σ w ℓ; lv: nb
 * doubles of scratch, tmp: 2·nb more. The pointwise losses are mc_loss_lanes.h's, on one
 * double at a time (mc_one_loss), and the multinomial's softmax steps (mc_one_mn_e,
 * mc_one_mn_r).
 */
#define T MC_T
#define TARGET MC_TARGET
#define MC_HK(x) MC_CAT3(mc_hook_, MC_SFX, x)

/* a hook's last step for one output: r = w ∘ lv (cast to T), and, in gradient mode, the
 * loss Σ w ∘ tmp (per-row losses in tmp). Each loop is simple enough to vectorise. */
TARGET MC_INLINE double MC_HK(_finish)(int hess, Py_ssize_t nb, const T *MC_RESTRICT w,
                                       const double *MC_RESTRICT lv,
                                       double *MC_RESTRICT tmp, T *MC_RESTRICT r)
{
    Py_ssize_t i;
    if (w) {
        for (i = 0; i < nb; i++) r[i] = (T)((double)w[i] * lv[i]);
        if (hess) return 0;
        for (i = 0; i < nb; i++) tmp[i] *= (double)w[i];
    } else {
        for (i = 0; i < nb; i++) r[i] = (T)lv[i];
        if (hess) return 0;
    }
    return mc_sum4(tmp, nb);
}

/* one output of the loss KIND in mode HESS (literals): lv = ℓ′ and tmp = ℓ (Hessian:
 * lv = ℓ″ q), row i's target at y[i·ys] (y NULL: y = 0) */
TARGET MC_INLINE void MC_HK(_rows)(const int KIND, const int HESS, Py_ssize_t nb,
                                   const T *MC_RESTRICT z, const T *MC_RESTRICT q,
                                   const T *MC_RESTRICT y, Py_ssize_t ys, double delta,
                                   double *MC_RESTRICT lv, double *MC_RESTRICT tmp)
{
    const int NEEDZ = !(HESS && KIND == MC_SQUARED);   /* ℓ″ of squared is 2 */
    Py_ssize_t i;
    for (i = 0; i < nb; i++) {
        double l = 0;
        lv[i] = mc_one_loss(KIND, HESS, NEEDZ ? (double)z[i] : 0.0,
                            HESS ? (double)q[i] : 0.0, y ? (double)y[i * ys] : 0.0,
                            delta, &l);
        if (!HESS) tmp[i] = l;
    }
}
TARGET MC_INLINE void MC_HK(_modes)(const int KIND, int hess, Py_ssize_t nb,
                                    const T *MC_RESTRICT z, const T *MC_RESTRICT q,
                                    const T *MC_RESTRICT y, Py_ssize_t ys, double delta,
                                    double *MC_RESTRICT lv, double *MC_RESTRICT tmp)
{
    if (hess) MC_HK(_rows)(KIND, 1, nb, z, q, y, ys, delta, lv, tmp);
    else MC_HK(_rows)(KIND, 0, nb, z, q, y, ys, delta, lv, tmp);
}

TARGET MC_AUTOVEC static double MC_HK()(
        const mc_loss *L, int hess, Py_ssize_t nb, Py_ssize_t K, const T *MC_RESTRICT z,
        const T *MC_RESTRICT q, const T *MC_RESTRICT y, const T *MC_RESTRICT w,
        T *MC_RESTRICT r, double *MC_RESTRICT lv, double *MC_RESTRICT tmp)
{
    Py_ssize_t i, c;
    const double delta = L->delta;
    double loss = 0;
    switch (L->kind) {
    case MC_SQUARED:                   /* K outputs, y of K columns (NULL: y = 0) */
        for (c = 0; c < K; c++) {
            MC_HK(_modes)(MC_SQUARED, hess, nb, z + c * nb, q + c * nb, y ? y + c : NULL,
                          K, delta, lv, tmp);
            loss += MC_HK(_finish)(hess, nb, w, lv, tmp, r + c * nb);
        }
        return loss;
    case MC_LOGISTIC:
        MC_HK(_modes)(MC_LOGISTIC, hess, nb, z, q, y, 1, delta, lv, tmp);
        return MC_HK(_finish)(hess, nb, w, lv, tmp, r);
    case MC_POISSON:
        MC_HK(_modes)(MC_POISSON, hess, nb, z, q, y, 1, delta, lv, tmp);
        return MC_HK(_finish)(hess, nb, w, lv, tmp, r);
    case MC_HUBER:
        MC_HK(_modes)(MC_HUBER, hess, nb, z, q, y, 1, delta, lv, tmp);
        return MC_HK(_finish)(hess, nb, w, lv, tmp, r);
    case MC_MULTINOMIAL: {
        /* the softmax of mc_loss_lanes.h, one class of a row at a time: per row zmax,
           s = Σ_c e_c, then p_c = e_c / s (e recomputed: no room for K × nb of them);
           vectorised across rows, one class at a time */
        double *zmax = tmp, *sum = tmp + nb;
        for (i = 0; i < nb; i++) { zmax[i] = -INFINITY; sum[i] = 0; lv[i] = 0; }
        for (c = 0; c < K; c++)
            for (i = 0; i < nb; i++) zmax[i] = mc_mn_max(zmax[i], (double)z[c * nb + i]);
        for (i = 0; i < nb; i++) zmax[i] = mc_mn_shift(zmax[i]);
        for (c = 0; c < K; c++)
            for (i = 0; i < nb; i++) sum[i] += mc_one_mn_e((double)z[c * nb + i], zmax[i]);
        if (hess) {
            for (c = 0; c < K; c++)             /* lv = pᵀq */
                for (i = 0; i < nb; i++)
                    lv[i] += mc_one_mn_e((double)z[c * nb + i], zmax[i]) / sum[i]
                             * q[c * nb + i];
            for (c = 0; c < K; c++)
                for (i = 0; i < nb; i++) {
                    double p = mc_one_mn_e((double)z[c * nb + i], zmax[i]) / sum[i];
                    r[c * nb + i] = (T)mc_one_mn_r(1, p, q[c * nb + i], lv[i], 0, MC_WI(i));
                }
            return 0;
        }
        for (c = 0; c < K; c++)
            for (i = 0; i < nb; i++) {
                double p = mc_one_mn_e((double)z[c * nb + i], zmax[i]) / sum[i];
                int hit = y[i] == (double)c;
                r[c * nb + i] = (T)mc_one_mn_r(0, p, 0, 0, hit, MC_WI(i));
                lv[i] += hit ? (double)z[c * nb + i] : 0.0;
            }
        for (i = 0; i < nb; i++) {
            const int ok = mc_mn_label_ok(y[i], K);
            lv[i] = ok ? MC_WI(i) * mc_mn_loss(zmax[i], sum[i], lv[i]) : NAN;
            if (!ok) for (c = 0; c < K; c++) r[c * nb + i] = (T)NAN;
        }
        return mc_sum4(lv, nb);
    }
    default:
        for (i = 0; i < K * nb; i++) r[i] = (T)NAN;
        return NAN;
    }
}

#undef MC_HK
#undef T
#undef TARGET
