/* mcfast: the engine's one dispatch table: its kernels by name, per (dtype, level).
 *
 * mc_kern_d and mc_kern_f (mc_kern_type.h) name the kernels of one instantiation: the
 * fused paths (mc_group.h), the row products (mc_rows.h), the loss hook (mc_loss.h).
 * mc_kern_<dtype>_<level> is the table of each instantiation of mc_levels.h
 * (mc_kern_body.h); mc_kerns_<dtype>[level] lists them by level, and MC_KERN(d) or
 * MC_KERN(f) is the one of the level in use: mc_level (mc_simd.h), the one switch, set at
 * import from the CPU or MCFAST_SIMD (MCFAST_NO_DISPATCH builds the baseline alone).
 *
 * Included by mc_engine.h after mc_prob.
 */
#ifndef MCFAST_KERN_H
#define MCFAST_KERN_H

#include "mc_simd.h"
#include "mc_rows.h"
#include "mc_loss.h"
#include "mc_group.h"

#define MC_T double
#define MC_TN d
#include "mc_kern_type.h"
#undef MC_T
#undef MC_TN
#define MC_T float
#define MC_TN f
#include "mc_kern_type.h"
#undef MC_T
#undef MC_TN

#define MC_BODY "mc_kern_body.h"
#include "mc_levels.h"
#undef MC_BODY

/* the tables by level: 0 the baseline, 1 AVX2+FMA, 2 AVX-512 (mc_level's values) */
static const mc_kern_d *const mc_kerns_d[] = {
    &mc_kern_d_base,
#if MC_X86
    &mc_kern_d_avx2, &mc_kern_d_avx512,
#endif
};
static const mc_kern_f *const mc_kerns_f[] = {
    &mc_kern_f_base,
#if MC_X86
    &mc_kern_f_avx2, &mc_kern_f_avx512,
#endif
};

/* the table of dtype TN (d or f) at the level in use */
#define MC_KERN(TN) (MC_CAT(mc_kerns_, TN)[mc_level])

/* Σ x[0:n] at the level in use: the memory read floor of the benchmarks */
static double mc_sum_d(const double *x, Py_ssize_t n) { return MC_KERN(d)->sum(x, n); }
static double mc_sum_f(const float *x, Py_ssize_t n) { return MC_KERN(f)->sum(x, n); }

#endif /* MCFAST_KERN_H */
