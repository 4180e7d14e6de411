/* mcfast: the loss hooks of mc_loss.h for the Hessian kernel (_hessian.pyx), in double.
 *
 * The Hessian kernel widens each row block to double (float32 X: float64 arithmetic), so
 * it needs only the double hooks, at the instruction-set level in use. Hessian mode with
 * q = 1 gives w ∘ ℓ″; for multinomial, q = e_k (class k's row of ones) gives column k
 * of each row's K × K Hessian block, w p_c (δ_ck − p_k). */
#ifndef MCFAST_HESS_H
#define MCFAST_HESS_H

/* the double hooks alone (mc_levels.h): the float ones would be compiled and never used */
#define MC_LEVELS_ONLY_D
#include "mc_loss.h"
#undef MC_LEVELS_ONLY_D
#include "mc_sandwich.h"    /* the rank-k update H += Uᵀ B by level */

/* the double hooks by level, a sibling of mc_kern.h's table (that one would bring every
   fused path into the Hessian kernel, which needs only these): 0 the baseline, 1
   AVX2+FMA, 2 AVX-512 (mc_level's values, the one switch) */
typedef double (*mc_hess_hook_fn)(const mc_loss *L, int hess, Py_ssize_t nb, Py_ssize_t K,
                                  const double *z, const double *q, const double *y,
                                  const double *w, double *r, double *lv, double *tmp);
static const mc_hess_hook_fn mc_hess_hooks[] = {
    mc_hook_d_base,
#if MC_X86
    mc_hook_d_avx2, mc_hook_d_avx512,
#endif
};

static double mc_hess_hook(const mc_loss *L, int hess, Py_ssize_t nb, Py_ssize_t K,
                           const double *z, const double *q, const double *y,
                           const double *w, double *r, double *lv, double *tmp)
{
    return mc_hess_hooks[mc_level](L, hess, nb, K, z, q, y, w, r, lv, tmp);
}

static int mc_hess_set_level(int level) { return mc_set_level(level); }

#endif /* MCFAST_HESS_H */
