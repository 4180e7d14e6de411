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

#include "mc_kern.h"

/* elements of T of one part's scratch */
static inline Py_ssize_t mc_scratch_items(Py_ssize_t K, Py_ssize_t mp, Py_ssize_t ycols,
                                          Py_ssize_t nb)
{
    /* 6·nb T ≥ 3·nb doubles; with K > 1 outputs, 3·16·mp more: the multinomial rows'
     * Θ, P and G (mc_group.h) */
    return 6 * nb + 3 * K * nb + ycols * nb + nb + K * mp + (K > 1 ? 3 * 16 * mp : 0);
}

/* the blocks of float64 and float32 (mc_block_body.h) */
#define MC_T double
#define MC_TN d
#define MC_DIRECT 1
#include "mc_block_body.h"
#undef MC_T
#undef MC_TN
#undef MC_DIRECT
#define MC_T float
#define MC_TN f
#define MC_DIRECT 0
#include "mc_block_body.h"
#undef MC_T
#undef MC_TN
#undef MC_DIRECT

#endif /* MCFAST_ENGINE_H */
