/* mcfast: the pointwise loss hooks of the one-pass engine.
 *
 * Between the engine's two products (Z_b = X_b Θ, then Gᵀ += R_bᵀ X_b) a hook turns the
 * block's linear predictions z into the pointwise factors r the second product needs:
 *   gradient mode:  r = w ∘ ℓ′(z, y), and it returns Σ w ℓ(z, y);
 *   Hessian mode:   r = w ∘ ℓ″(z, y) q  with q = X_b p (the Hessian-vector product);
 * ℓ′ and ℓ″ are taken with respect to z (for multinomial: the gradient vector and the
 * Hessian block of the row's K predictions). Arrays are K × nb (entry c·nb + i), y is
 * (nb,) — or (nb, K) row-major for squared with K targets — and may be NULL for squared
 * (y = 0); w is (nb,) or NULL (w = 1).
 *
 * Every loss is computed in double whatever T is, written so that nothing overflows for
 * |z| up to 700 (log(1 + eᶻ) and the sigmoid through e^−|z|, logsumexp with the row's
 * maximum taken out):
 *   squared      (z − y)²                    ℓ′ = 2(z − y)         ℓ″ = 2
 *   logistic     log(1 + eᶻ) − y z           ℓ′ = σ(z) − y         ℓ″ = σ(z)(1 − σ(z))
 *   poisson      eᶻ − y z                    ℓ′ = eᶻ − y           ℓ″ = eᶻ
 *   huber(δ)     ½ r² (|r| ≤ δ), δ(|r| − ½δ)  ℓ′ = clip(r, −δ, δ)   ℓ″ = [|r| ≤ δ]
 *   multinomial  logsumexp(z_i) − z_i,y_i    ℓ′ = p − e_y          ℓ″ q = p ∘ q − p (pᵀq)
 * with r = z − y for huber and p = softmax(z_i). A label outside 0 … K−1 (the Python
 * layer refuses them first) gives a NaN loss, never an out-of-bounds read.
 */
#ifndef MCFAST_LOSS_H
#define MCFAST_LOSS_H

#include <math.h>

enum { MC_SQUARED = 0, MC_LOGISTIC = 1, MC_POISSON = 2, MC_HUBER = 3, MC_MULTINOMIAL = 4 };

typedef struct {
    int kind;        /* MC_SQUARED ... MC_MULTINOMIAL */
    double delta;    /* huber's δ */
} mc_loss;

/* log(1 + eᶻ) without overflow */
static inline double mc_log1pexp(double z)
{
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* σ(z) = 1 / (1 + e⁻ᶻ) without overflow */
static inline double mc_sigmoid(double z)
{
    double e = exp(-fabs(z));
    return z >= 0 ? 1 / (1 + e) : e / (1 + e);
}

#define MC_DEFINE_HOOK(T, NAME)                                                      \
static double NAME(const mc_loss *L, int hess, Py_ssize_t nb, Py_ssize_t K,          \
                   const T *z, const T *q, const T *y, const T *w, T *r)             \
{                                                                                    \
    double loss = 0, zi, yi, wi, e, g, h;                                            \
    Py_ssize_t i, c;                                                                 \
    switch (L->kind) {                                                               \
    case MC_SQUARED:                                                                 \
        for (c = 0; c < K; c++)                                                      \
            for (i = 0; i < nb; i++) {                                               \
                wi = w ? (double)w[i] : 1.0;                                         \
                if (hess) { r[c * nb + i] = (T)(2 * wi * q[c * nb + i]); continue; } \
                e = (double)z[c * nb + i] - (y ? (double)y[i * K + c] : 0.0);        \
                loss += wi * e * e;                                                  \
                r[c * nb + i] = (T)(2 * wi * e);                                     \
            }                                                                        \
        break;                                                                       \
    case MC_LOGISTIC:                                                                \
        for (i = 0; i < nb; i++) {                                                   \
            zi = z[i]; wi = w ? (double)w[i] : 1.0;                                  \
            g = mc_sigmoid(zi);                                                      \
            if (hess) { r[i] = (T)(wi * g * (1 - g) * q[i]); continue; }             \
            yi = y[i];                                                               \
            loss += wi * (mc_log1pexp(zi) - yi * zi);                                \
            r[i] = (T)(wi * (g - yi));                                               \
        }                                                                            \
        break;                                                                       \
    case MC_POISSON:                                                                 \
        for (i = 0; i < nb; i++) {                                                   \
            zi = z[i]; wi = w ? (double)w[i] : 1.0;                                  \
            e = exp(zi);                                                             \
            if (hess) { r[i] = (T)(wi * e * q[i]); continue; }                       \
            yi = y[i];                                                               \
            loss += wi * (e - yi * zi);                                              \
            r[i] = (T)(wi * (e - yi));                                               \
        }                                                                            \
        break;                                                                       \
    case MC_HUBER:                                                                   \
        for (i = 0; i < nb; i++) {                                                   \
            wi = w ? (double)w[i] : 1.0;                                             \
            e = (double)z[i] - (double)y[i];                                         \
            if (fabs(e) <= L->delta) { g = e; h = 1; loss += wi * 0.5 * e * e; }     \
            else {                                                                   \
                g = e > 0 ? L->delta : -L->delta; h = 0;                             \
                loss += wi * L->delta * (fabs(e) - 0.5 * L->delta);                  \
                if (e != e) g = e;                       /* NaN propagates */        \
            }                                                                        \
            r[i] = (T)(hess ? wi * h * q[i] : wi * g);                               \
        }                                                                            \
        break;                                                                       \
    case MC_MULTINOMIAL:                                                             \
        for (i = 0; i < nb; i++) {                                                   \
            double zmax = -INFINITY, s = 0, pq = 0;                                  \
            Py_ssize_t label = -1;                                                   \
            wi = w ? (double)w[i] : 1.0;                                             \
            for (c = 0; c < K; c++) if (z[c * nb + i] > zmax) zmax = z[c * nb + i];  \
            if (!(zmax > -INFINITY && zmax < INFINITY))                              \
                zmax = zmax != zmax ? zmax : 0;   /* all −inf, or an inf / NaN */    \
            for (c = 0; c < K; c++) s += exp((double)z[c * nb + i] - zmax);          \
            if (hess) {                                                              \
                for (c = 0; c < K; c++)                                              \
                    pq += exp((double)z[c * nb + i] - zmax) / s * q[c * nb + i];     \
                for (c = 0; c < K; c++) {                                            \
                    double p = exp((double)z[c * nb + i] - zmax) / s;                \
                    r[c * nb + i] = (T)(wi * p * (q[c * nb + i] - pq));              \
                }                                                                    \
                continue;                                                            \
            }                                                                        \
            yi = y[i];                                                               \
            if (yi >= 0 && yi < (double)K) label = (Py_ssize_t)yi;                   \
            if (label < 0 || (double)label != yi) {                                  \
                loss += NAN;                                                         \
                for (c = 0; c < K; c++) r[c * nb + i] = (T)NAN;                      \
                continue;                                                            \
            }                                                                        \
            loss += wi * (zmax + log(s) - (double)z[label * nb + i]);                \
            for (c = 0; c < K; c++)                                                  \
                r[c * nb + i] = (T)(wi * (exp((double)z[c * nb + i] - zmax) / s      \
                                          - (c == label)));                          \
        }                                                                            \
        break;                                                                       \
    default:                                                                         \
        loss = NAN;                                                                  \
        for (i = 0; i < K * nb; i++) r[i] = (T)NAN;                                  \
    }                                                                                \
    return loss;                                                                     \
}

MC_DEFINE_HOOK(double, mc_hook_d)
MC_DEFINE_HOOK(float, mc_hook_f)

#endif /* MCFAST_LOSS_H */
