/* mcfast: the loss hook of one (dtype, instruction set) instantiation (mc_loss.h).
 *
 * Re-included by mc_levels.h for each (dtype, level) it lists, with MC_T, MC_TARGET and
 * MC_SFX defined; no include guard. Defines mc_hook_<dtype>_<level>: r = w ∘ ℓ′(z, y)
 * (Hessian: w ∘ ℓ″ q) for a block of nb rows and K outputs, returning Σ w ℓ; lv: nb
 * doubles of scratch, tmp: 2·nb more.
 */
#define T MC_T
#define TARGET MC_TARGET

TARGET static double MC_CAT(mc_hook_, MC_SFX)(
        const mc_loss *L, int hess, Py_ssize_t nb, Py_ssize_t K, const T *MC_RESTRICT z,
        const T *MC_RESTRICT q, const T *MC_RESTRICT y, const T *MC_RESTRICT w,
        T *MC_RESTRICT r, double *MC_RESTRICT lv, double *MC_RESTRICT tmp)
{
    Py_ssize_t i, c;
    const double delta = L->delta;
    double loss = 0;
    switch (L->kind) {
    case MC_SQUARED:
        for (c = 0; c < K; c++) {
            const T *zc = z + c * nb, *qc = q + c * nb;
            T *rc = r + c * nb;
            if (hess) {
                for (i = 0; i < nb; i++) lv[i] = 2 * (double)qc[i];
            } else if (y && K == 1) {
                for (i = 0; i < nb; i++) tmp[i] = (double)zc[i] - (double)y[i];
                for (i = 0; i < nb; i++) { lv[i] = 2 * tmp[i]; tmp[i] *= tmp[i]; }
            } else if (y) {
                for (i = 0; i < nb; i++) tmp[i] = (double)zc[i] - (double)y[i * K + c];
                for (i = 0; i < nb; i++) { lv[i] = 2 * tmp[i]; tmp[i] *= tmp[i]; }
            } else {
                for (i = 0; i < nb; i++) { tmp[i] = zc[i]; lv[i] = 2 * tmp[i]; tmp[i] *= tmp[i]; }
            }
            loss += MC_FINISH(T, rc);
        }
        return loss;
    case MC_LOGISTIC:
        if (hess)
            for (i = 0; i < nb; i++) {
                double zi = z[i], e = mc_exp(-fabs(zi)), inv = 1 / (1 + e);
                lv[i] = e * inv * inv * (double)q[i];
            }
        else
            for (i = 0; i < nb; i++) {
                double zi = z[i], yi = y[i], e = mc_exp(-fabs(zi)), inv = 1 / (1 + e);
                lv[i] = (zi >= 0 ? inv : e * inv) - yi;
                tmp[i] = (zi > 0 ? zi : 0.0) + mc_log1p01(e, inv) - yi * zi;
            }
        return MC_FINISH(T, r);
    case MC_POISSON:
        if (hess)
            for (i = 0; i < nb; i++) lv[i] = mc_exp((double)z[i]) * (double)q[i];
        else
            for (i = 0; i < nb; i++) {
                double zi = z[i], yi = y[i], e = mc_exp(zi);
                lv[i] = e - yi;
                tmp[i] = e - yi * zi;
            }
        return MC_FINISH(T, r);
    case MC_HUBER:
        for (i = 0; i < nb; i++) {
            double e = (double)z[i] - (double)y[i], a = fabs(e);
            int in = a <= delta;
            double g = in ? e : (e > 0 ? delta : (e < 0 ? -delta : e));
            lv[i] = hess ? (in ? (double)q[i] : 0.0) : g;
            tmp[i] = in ? 0.5 * e * e : delta * (a - 0.5 * delta);
        }
        return MC_FINISH(T, r);
    case MC_MULTINOMIAL: {
        /* per row: zmax, s = Σ_c e^(z_c − zmax); p_c = e^(z_c − zmax) / s; vectorised
           across rows, one class at a time */
        double *zmax = tmp, *sum = tmp + nb;
        for (i = 0; i < nb; i++) { zmax[i] = -INFINITY; sum[i] = 0; lv[i] = 0; }
        for (c = 0; c < K; c++)
            for (i = 0; i < nb; i++) {
                double zc = z[c * nb + i];
                zmax[i] = zc > zmax[i] ? zc : (zc != zc ? zc : zmax[i]);
            }
        for (i = 0; i < nb; i++)
            if (!(zmax[i] > -INFINITY && zmax[i] < INFINITY) && zmax[i] == zmax[i])
                zmax[i] = 0;                       /* all −inf, or an inf */
        for (c = 0; c < K; c++)
            for (i = 0; i < nb; i++) sum[i] += mc_exp((double)z[c * nb + i] - zmax[i]);
        if (hess) {
            for (c = 0; c < K; c++)
                for (i = 0; i < nb; i++)
                    lv[i] += mc_exp((double)z[c * nb + i] - zmax[i]) / sum[i]
                             * q[c * nb + i];
            for (c = 0; c < K; c++)
                for (i = 0; i < nb; i++) {
                    double p = mc_exp((double)z[c * nb + i] - zmax[i]) / sum[i];
                    r[c * nb + i] = (T)(MC_WI(i) * p * (q[c * nb + i] - lv[i]));
                }
            return 0;
        }
        for (c = 0; c < K; c++)
            for (i = 0; i < nb; i++) {
                double yi = y[i], p = mc_exp((double)z[c * nb + i] - zmax[i]) / sum[i];
                int hit = yi == (double)c;
                r[c * nb + i] = (T)(MC_WI(i) * (p - hit));
                lv[i] += hit ? (double)z[c * nb + i] : 0.0;
            }
        for (i = 0; i < nb; i++) {
            double yi = y[i];
            int ok = yi >= 0 && yi < (double)K && yi == floor(yi);
            /* loss_i = logsumexp(z_i) − z_i,y_i; a bad label: NaN */
            lv[i] = ok ? MC_WI(i) * (zmax[i] + log(sum[i]) - lv[i]) : NAN;
            if (!ok) for (c = 0; c < K; c++) r[c * nb + i] = (T)NAN;
        }
        return mc_sum4(lv, nb);
    }
    default:
        for (i = 0; i < K * nb; i++) r[i] = (T)NAN;
        return NAN;
    }
}

#undef T
#undef TARGET
