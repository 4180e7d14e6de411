/* mcfast: the loss hooks of mc_loss.h for the Hessian kernel (_hessian.pyx), in double.
 *
 * The Hessian kernel widens each row block to double (float32 X: float64 arithmetic), so
 * it needs only the double hooks, at the instruction-set level in use. Hessian mode with
 * q = 1 gives w ∘ ℓ″; for multinomial, q = e_k (class k's row of ones) gives column k
 * of each row's K × K Hessian block, w p_c (δ_ck − p_k). */
#ifndef MCFAST_HESS_H
#define MCFAST_HESS_H

#include "mc_loss.h"

static double mc_hess_hook(const mc_loss *L, int hess, Py_ssize_t nb, Py_ssize_t K,
                           const double *z, const double *q, const double *y,
                           const double *w, double *r, double *lv, double *tmp)
{
    return MC_DISPATCH(mc_hook_d, , L, hess, nb, K, z, q, y, w, r, lv, tmp);
}

static int mc_hess_set_level(int level) { return mc_set_level(level); }

#endif /* MCFAST_HESS_H */
