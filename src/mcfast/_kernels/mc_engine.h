/* mcfast: one block of the one-pass engine — row source, loss hook, row source.
 *
 * The common cases go to the fused paths of mc_group.h first (dense rows with one
 * output, F order with one output, multinomial with K ≤ a vector's lanes); what follows
 * is the general block, for every other source and K.
 *
 * For the source rows i0 .. i0 + nb − 1 of a linear-model problem:
 *   z = X_b Θ (+ b)            the source's mv (and q = X_b P (+ b_p) for a Hessian product)
 *   r = w ∘ ℓ′(z, y)           the loss hook (r = w ∘ ℓ″ q for a Hessian product)
 *   Gᵀ += R_bᵀ [X_b, 1]        the source's rmv, and Σ_i r_i for the intercept
 * and it returns the block's Σ w ℓ. A block is small (tens of KiB of X), so the second
 * product reads X_b from cache: X is read from memory once per call.
 *
 * The driver (_engine.pyx) owns the threads, the parts and their ordered reduction; this
 * file owns what happens inside one block. Scratch of one thread (64-byte aligned):
 *   the hook's doubles (3·nb) | then in elements of T:
 *   z (K·nb) | q (K·nb) | r (K·nb) | y_b (ycols·nb) | w_b (nb) | g (K·mp) | (K > 1) 3·16·mp
 * (y_b, w_b hold the gathered targets and weights with rows=; g the block's gradient
 * when T is float: float32 sums are folded into the part's double `acc` after each block,
 * so their rounding error grows with the block, not with n; double adds straight into acc).
 */
#ifndef MCFAST_ENGINE_H
#define MCFAST_ENGINE_H

#include "mc_simd.h"
#include "mc_rows.h"
#include "mc_loss.h"

typedef struct {
    mc_src src;          /* the rows */
    mc_loss loss;        /* the pointwise loss */
    Py_ssize_t K;        /* outputs per row: 1, k targets (squared) or K classes */
    Py_ssize_t mp;       /* m + 1 with an intercept, else m: the rows of Θ */
    int intercept;       /* Θ's last row is the intercept b */
    int hess;            /* 1: the Hessian product in the direction P */
    const void *tt;      /* Θᵀ (K × mp), the dtype of X */
    const void *pt;      /* Pᵀ (K × mp) when hess, else NULL */
    const void *y;       /* targets (storage rows × ycols), NULL for y = 0 (squared) */
    Py_ssize_t ycols;    /* K for squared with K targets, else 1 */
    const void *w;       /* sample weights (storage rows), NULL for w = 1 */
} mc_prob;

#include "mc_group.h"

/* elements of T of one part's scratch */
static inline Py_ssize_t mc_scratch_items(Py_ssize_t K, Py_ssize_t mp, Py_ssize_t ycols,
                                          Py_ssize_t nb)
{
    /* 6·nb T ≥ 3·nb doubles; with K > 1 outputs, 3·16·mp more: the multinomial rows'
     * Θ, P and G (mc_group.h) */
    return 6 * nb + 3 * K * nb + ycols * nb + nb + K * mp + (K > 1 ? 3 * 16 * mp : 0);
}

#define MC_DEFINE_BLOCK(T, SUF, DIRECT)                                              \
static double mc_block_##SUF(const mc_prob *p, Py_ssize_t i0, Py_ssize_t nb,         \
                             T *scr, double *acc, Py_ssize_t *bad)                   \
{                                                                                    \
    const Py_ssize_t K = p->K, mp = p->mp, m = p->src.m, yc = p->ycols;              \
    double *lv = (double *)scr;                                                      \
    T *z = scr + 6 * nb, *q = z + K * nb, *r = q + K * nb, *yb = r + K * nb;         \
    T *wb = yb + yc * nb, *g = wb + nb, *gt;                                         \
    const T *tt = (const T *)p->tt, *pt = (const T *)p->pt;                          \
    const T *y = (const T *)p->y, *w = (const T *)p->w;                              \
    Py_ssize_t i, c, j;                                                              \
    double loss, s;                                                                  \
    if (MC_HAVE_GROUP && p->loss.kind == MC_MULTINOMIAL && p->src.kind == MC_SRC_C      \
            && m > 0 && K > 1 && K <= MC_DISPATCH(mc_grp_##SUF, _vl, )) {            \
        /* multinomial rows, the classes as vector lanes (mc_group.h); K > 1 only:   \
           mc_scratch_items gives their 3·16·mp elements to K > 1 alone, and K = 1   \
           (loss 0, ℓ′ = 0) is the general block's */                                \
        gt = DIRECT ? (T *)acc : g;                                                  \
        if (!DIRECT) memset(g, 0, (size_t)(K * mp) * sizeof(T));                     \
        loss = MC_DISPATCH(mc_grp_##SUF, _mn, p, i0, nb, gt, g + K * mp);            \
        if (!DIRECT)                                                                 \
            for (j = 0; j < K * mp; j++) acc[j] += g[j];                             \
        return loss;                                                                 \
    }                                                                                \
    if (MC_HAVE_GROUP && K == 1 && m > 0 && p->loss.kind != MC_MULTINOMIAL            \
            && (p->src.kind == MC_SRC_C || (p->src.kind == MC_SRC_F && !p->src.rows))) { \
        /* dense, one output: fused row groups, or F-order sub-blocks (mc_group.h) */ \
        gt = DIRECT ? (T *)acc : g;                                                  \
        if (!DIRECT) memset(g, 0, (size_t)mp * sizeof(T));                           \
        loss = p->src.kind == MC_SRC_C ? MC_DISPATCH(mc_grp_##SUF, , p, i0, nb, gt)  \
                                       : MC_DISPATCH(mc_grp_##SUF, _f, p, i0, nb, gt); \
        if (!DIRECT)                                                                 \
            for (j = 0; j < mp; j++) acc[j] += g[j];                                 \
        return loss;                                                                 \
    }                                                                                \
    /* z = X_b Θ + b (not needed for the Hessian of the squared loss) */             \
    if (!(p->hess && p->loss.kind == MC_SQUARED)) {                                  \
        *bad += MC_DISPATCH(mc_rows_##SUF, _mv, &p->src, i0, nb, tt, mp, K, z);      \
        if (p->intercept)                                                            \
            for (c = 0; c < K; c++)                                                  \
                for (i = 0; i < nb; i++) z[c * nb + i] += tt[c * mp + m];            \
    }                                                                                \
    /* q = X_b P + b_p */                                                            \
    if (p->hess) {                                                                   \
        *bad += MC_DISPATCH(mc_rows_##SUF, _mv, &p->src, i0, nb, pt, mp, K, q);      \
        if (p->intercept)                                                            \
            for (c = 0; c < K; c++)                                                  \
                for (i = 0; i < nb; i++) q[c * nb + i] += pt[c * mp + m];            \
    }                                                                                \
    /* the block's y and w: gathered with rows=, else slices */                      \
    if (p->src.rows) {                                                               \
        const Py_ssize_t *rows = p->src.rows + i0;                                   \
        if (y) {                                                                     \
            for (i = 0; i < nb; i++)                                                 \
                for (c = 0; c < yc; c++) yb[i * yc + c] = y[rows[i] * yc + c];       \
            y = yb;                                                                  \
        }                                                                            \
        if (w) {                                                                     \
            for (i = 0; i < nb; i++) wb[i] = w[rows[i]];                             \
            w = wb;                                                                  \
        }                                                                            \
    } else {                                                                         \
        if (y) y += i0 * yc;                                                         \
        if (w) w += i0;                                                              \
    }                                                                                \
    /* r = w ∘ ℓ′(z, y)  (or w ∘ ℓ″ q) */                                             \
    loss = MC_DISPATCH(mc_hook_##SUF, , &p->loss, p->hess, nb, K, z, q, y, w, r, lv,  \
                       lv + nb);                                                     \
    /* Gᵀ += R_bᵀ X_b; the intercept's gradient is Σ_i r_i */                        \
    gt = DIRECT ? (T *)acc : g;                                                      \
    if (!DIRECT) memset(g, 0, (size_t)(K * mp) * sizeof(T));                         \
    if (p->intercept)                                                                \
        for (c = 0; c < K; c++) {                                                    \
            s = 0;                                                                   \
            for (i = 0; i < nb; i++) s += r[c * nb + i];                             \
            gt[c * mp + m] += (T)s;                                                  \
        }                                                                            \
    MC_DISPATCH(mc_rows_##SUF, _rmv, &p->src, i0, nb, r, K, gt, mp);                 \
    if (!DIRECT)                                                                     \
        for (j = 0; j < K * mp; j++) acc[j] += g[j];                                 \
    return loss;                                                                     \
}

MC_DEFINE_BLOCK(double, d, 1)
MC_DEFINE_BLOCK(float, f, 0)

#endif /* MCFAST_ENGINE_H */
