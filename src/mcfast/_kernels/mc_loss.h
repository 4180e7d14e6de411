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
 *
 * Speed. The hooks run between two reads of X from cache, so eᶻ must cost about what
 * reading a row does: mc_exp and mc_log1p01 below are branch-free (ternaries, bit
 * operations), so the compiler vectorises each hook loop at the instantiation's width
 * (the hooks are compiled per SIMD level, like the row sources). Per-row losses go to a
 * scratch array and are summed after the loop on four accumulators in a fixed order,
 * so results do not depend on the vector width chosen.
 */
#ifndef MCFAST_LOSS_H
#define MCFAST_LOSS_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "mc_simd.h"

enum { MC_SQUARED = 0, MC_LOGISTIC = 1, MC_POISSON = 2, MC_HUBER = 3, MC_MULTINOMIAL = 4 };

typedef struct {
    int kind;        /* MC_SQUARED ... MC_MULTINOMIAL */
    double delta;    /* huber's δ */
} mc_loss;

/* The two polynomials of the losses, for a scalar or vector type TY (mc_vmath_body.h uses them
 * on vectors), in Estrin's form: a tree of depth 4–5 multiply-adds instead of Horner's
 * chain of 12–13, so the lanes' latency stays below the time their rows take to read.
 *   MC_EXP_POLY(TY, r)    Σ_{k ≤ 13} rᵏ / k!       (eʳ for |r| ≤ ln2/2, truncation < 2⁻⁵⁷)
 *   MC_LOG_SERIES(TY, t)  Σ_{k ≤ 11} tᵏ / (2k + 1)  (atanh(s) / s with t = s², s ≤ 0.172) */
#define MC_EXP_POLY(TY, r) ({                                                        \
    TY r2_ = (r) * (r), r4_ = r2_ * r2_, r8_ = r4_ * r4_;                            \
    TY q0_ = (1 + (r)) + (1 / 2. + (r) * (1 / 6.)) * r2_;                            \
    TY q1_ = (1 / 24. + (r) * (1 / 120.)) + (1 / 720. + (r) * (1 / 5040.)) * r2_;    \
    TY q2_ = (1 / 40320. + (r) * (1 / 362880.))                                      \
             + (1 / 3628800. + (r) * (1 / 39916800.)) * r2_;                         \
    TY q3_ = 1 / 479001600. + (r) * (1 / 6227020800.);                               \
    (q0_ + q1_ * r4_) + (q2_ + q3_ * r4_) * r8_; })
#define MC_LOG_SERIES(TY, t) ({                                                      \
    TY t2_ = (t) * (t), t4_ = t2_ * t2_, t8_ = t4_ * t4_;                            \
    TY f0_ = (1 + (t) * (1 / 3.)) + (1 / 5. + (t) * (1 / 7.)) * t2_;                 \
    TY f1_ = (1 / 9. + (t) * (1 / 11.)) + (1 / 13. + (t) * (1 / 15.)) * t2_;         \
    TY f2_ = (1 / 17. + (t) * (1 / 19.)) + (1 / 21. + (t) * (1 / 23.)) * t2_;        \
    (f0_ + f1_ * t4_) + f2_ * t8_; })

/* eˣ within 1-2 ulp over the whole double range (inf above 709.78, subnormals and 0
 * below −708), branch-free: x = k ln2 + r, |r| ≤ ln2/2; eʳ by MC_EXP_POLY; 2ᵏ as two
 * normal factors 2^k1 · 2^k2. */
MC_INLINE double mc_exp(double x)
{
    const double shift = 6755399441055744.0;          /* 1.5 · 2⁵², rounds to an integer */
    double xc = x > 709.8 ? 709.8 : (x < -745.2 ? -745.2 : x);
    double kd = xc * 1.4426950408889634 + shift, r, p, s1, s2;
    int64_t bits, k, k1, k2;
    memcpy(&bits, &kd, 8);
    kd -= shift;
    r = (xc - kd * 0.693147180369123816490) - kd * 1.90821492927058770002e-10;
    p = MC_EXP_POLY(double, r);
    k = (int64_t)(int32_t)bits;                       /* the low bits of kd hold k */
    k1 = ((k + 2048) >> 1) - 1024;
    k2 = k - k1;
    k1 = (k1 + 1023) << 52;
    k2 = (k2 + 1023) << 52;
    memcpy(&s1, &k1, 8);
    memcpy(&s2, &k2, 8);
    /* above log(DBL_MAX) the result is ∞ by a select, not by the product's overflow: a
     * caller's e − y·x would otherwise be contracted to fma(p·s1, s2, −y·x), whose exact
     * product is finite, so eˣ − y·x at x = ∞ gave −∞ instead of ∞ − ∞ = NaN */
    return x != x ? x : (x > 709.782712893384 ? (double)INFINITY : p * s1 * s2);
}

/* log(1 + e) for 0 ≤ e ≤ 1, branch-free: u = 1 + e = 2ʲ v with v in [√½, √2],
 * log v = 2 atanh(s), s = (v − 1)/(v + 1) ≤ 0.172, by MC_LOG_SERIES, plus the
 * rounding error of 1 + e, (e − (u − 1)) / u, with inv = 1 / u given (the caller has it). */
MC_INLINE double mc_log1p01(double e, double inv)
{
    double u = 1 + e;
    int big = u > 1.4142135623730951;
    double v = big ? 0.5 * u : u;
    double s = (v - 1) / (v + 1), t = s * s;
    double lg = 2 * s * MC_LOG_SERIES(double, t);
    return lg + (big ? 0.6931471805599453 : 0.0) + (e - (u - 1)) * inv;
}

/* Σ lv[0:n] on four accumulators, in a fixed order */
static inline double mc_sum4(const double *lv, Py_ssize_t n)
{
    double a = 0, b = 0, c = 0, d = 0;
    Py_ssize_t i;
    for (i = 0; i + 4 <= n; i += 4) { a += lv[i]; b += lv[i + 1]; c += lv[i + 2]; d += lv[i + 3]; }
    for (; i < n; i++) a += lv[i];
    return (a + b) + (c + d);
}

/* weight of row i */
#define MC_WI(i) (w ? (double)w[i] : 1.0)

/* A hook's last step for one output: r = w ∘ lv (cast to T), and, in gradient mode,
 * the loss Σ w ∘ tmp (per-row losses in tmp). Each loop is simple enough to vectorise. */
#define MC_FINISH(T, R) ({                                                              \
    T *R_ = (R); double l_ = 0;                                                      \
    if (w) {                                                                         \
        for (i = 0; i < nb; i++) R_[i] = (T)((double)w[i] * lv[i]);                  \
        if (!hess) { for (i = 0; i < nb; i++) tmp[i] *= (double)w[i];                \
                     l_ = mc_sum4(tmp, nb); }                                        \
    } else {                                                                         \
        for (i = 0; i < nb; i++) R_[i] = (T)lv[i];                                   \
        if (!hess) l_ = mc_sum4(tmp, nb);                                            \
    }                                                                                \
    l_; })

/* the hooks of every instantiation: mc_hook_<dtype>_<level> (mc_hook_body.h) */
#define MC_BODY "mc_hook_body.h"
#include "mc_levels.h"
#undef MC_BODY

#endif /* MCFAST_LOSS_H */
