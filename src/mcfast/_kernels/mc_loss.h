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
 * reading a row does: eˣ and log(1 + e) (mc_vmath_body.h) are branch-free (selects, bit
 * operations), and each hook runs them on vectors of the instantiation's W / 8 double
 * lanes, a few rows at a time (the hooks are compiled per SIMD level, like the row
 * sources). Each loss's ℓ, ℓ′, ℓ″ is written once, in mc_loss_lanes.h, and serves the
 * hooks here and the fused paths of mc_group.h alike. Per-row losses go to a scratch
 * array and are summed after the loop on four accumulators in a fixed order, so results
 * do not depend on the vector width chosen.
 */
#ifndef MCFAST_LOSS_H
#define MCFAST_LOSS_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "mc_simd.h"
#include "mc_codes.h"    /* MC_SQUARED ... MC_MULTINOMIAL */

typedef struct {
    int kind;        /* MC_SQUARED ... MC_MULTINOMIAL */
    double delta;    /* huber's δ */
} mc_loss;

/* The two polynomials of the losses, for a scalar or vector type TY (mc_vmath_body.h uses them
 * on vectors), in Estrin's form: a tree of depth 4–5 multiply-adds instead of Horner's
 * chain of 12–13, so the lanes' latency stays below the time their rows take to read.
 *   MC_EXP_POLY(TY, r)    Σ_{k ≤ 13} rᵏ / k!       (eʳ for |r| ≤ ln2/2, truncation < 2⁻⁵⁷)
 *   MC_LOG_SERIES(TY, t)  Σ_{k ≤ 11} tᵏ / (2k + 1)  (atanh(s) / s with t = s², s ≤ 0.172)
 * and their float32 twins for float lanes (float constants; truncation < 2⁻²⁷):
 *   MC_EXP_POLY_F(TY, r)  Σ_{k ≤ 7} rᵏ / k!
 *   MC_LOG_SERIES_F(TY, t)  Σ_{k ≤ 4} tᵏ / (2k + 1) */
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
#define MC_EXP_POLY_F(TY, r) ({                                                      \
    TY r2_ = (r) * (r), r4_ = r2_ * r2_;                                             \
    TY q0_ = (1 + (r)) + (1 / 2.f + (r) * (1 / 6.f)) * r2_;                          \
    TY q1_ = (1 / 24.f + (r) * (1 / 120.f)) + (1 / 720.f + (r) * (1 / 5040.f)) * r2_;\
    q0_ + q1_ * r4_; })
#define MC_LOG_SERIES_F(TY, t) ({                                                    \
    TY t2_ = (t) * (t);                                                              \
    ((1 + (t) * (1 / 3.f)) + (1 / 5.f + (t) * (1 / 7.f)) * t2_) + (1 / 9.f) * (t2_ * t2_); })

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

/* the squared loss of e = z − y (Hessian: in the direction q), on any arithmetic type:
 * mc_loss_lanes.h's on double lanes, and the fused paths' on the lanes of T */
#define MC_SQ_LOSS(e) ((e) * (e))
#define MC_SQ_GRAD(e) ((e) + (e))
#define MC_SQ_HESSP(q) ((q) + (q))

/* the multinomial softmax's scalar steps, shared by the hooks (any K) and the fused rows
 * (the classes as lanes): the running maximum (NaN sticks), the shift taken out (0 when
 * the row is all −∞ or holds an ∞), the label check, and the row's loss
 * logsumexp(z) − z_y = zmax + log Σ e^(z − zmax) − z_y */
static inline double mc_mn_max(double zmax, double zc)
{
    return zc > zmax ? zc : (zc != zc ? zc : zmax);
}
static inline double mc_mn_shift(double zmax)
{
    return !(zmax > -INFINITY && zmax < INFINITY) && zmax == zmax ? 0 : zmax;
}
static inline int mc_mn_label_ok(double y, Py_ssize_t K)
{
    return y >= 0 && y < (double)K && y == floor(y);
}
static inline double mc_mn_loss(double zmax, double sum, double zy)
{
    return zmax + log(sum) - zy;
}

/* the hooks of every instantiation: mc_hook_<dtype>_<level> (mc_hook_body.h) */
#define MC_BODY "mc_hook_body.h"
#include "mc_levels.h"
#undef MC_BODY

#endif /* MCFAST_LOSS_H */
