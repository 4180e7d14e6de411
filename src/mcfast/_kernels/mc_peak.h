/* mcfast: a compiled FMA loop per instruction set, the peak that benchmarks compare against.
 *
 * Twelve independent vector accumulators (more than an FMA's latency × its throughput on
 * current x86 cores), `iters` rounds of acc = acc * m + a each; returns Σ acc so the loop
 * is not removed. Flops: 2 × 12 × lanes × iters.
 */
#ifndef MCFAST_PEAK_H
#define MCFAST_PEAK_H

#include "mc_simd.h"

#if MC_X86
typedef double mc_pk8 __attribute__((vector_size(64)));
typedef double mc_pk4 __attribute__((vector_size(32)));

MC_T_AVX512 static double mc_fma_loop_avx512(Py_ssize_t iters, double m, double a)
{
    mc_pk8 acc[12], vm = m - (mc_pk8){0}, va = a - (mc_pk8){0};
    for (int j = 0; j < 12; j++)
        acc[j] = (mc_pk8){0} + j;
    for (Py_ssize_t i = 0; i < iters; i++)
        for (int j = 0; j < 12; j++)
            acc[j] = acc[j] * vm + va;
    for (int j = 1; j < 12; j++)
        acc[0] += acc[j];
    return acc[0][0] + acc[0][7];
}

MC_T_AVX2 static double mc_fma_loop_avx2(Py_ssize_t iters, double m, double a)
{
    mc_pk4 acc[12], vm = m - (mc_pk4){0}, va = a - (mc_pk4){0};
    for (int j = 0; j < 12; j++)
        acc[j] = (mc_pk4){0} + j;
    for (Py_ssize_t i = 0; i < iters; i++)
        for (int j = 0; j < 12; j++)
            acc[j] = acc[j] * vm + va;
    for (int j = 1; j < 12; j++)
        acc[0] += acc[j];
    return acc[0][0] + acc[0][3];
}
#endif

/* lanes of double of the FMA loop at the level in use (0: no FMA loop at that level) */
static int mc_fma_lanes(void)
{
    return mc_level == 2 ? 8 : mc_level == 1 ? 4 : 0;
}

static double mc_fma_loop(Py_ssize_t iters, double m, double a)
{
#if MC_X86
    if (mc_level == 2)
        return mc_fma_loop_avx512(iters, m, a);
    if (mc_level == 1)
        return mc_fma_loop_avx2(iters, m, a);
#endif
    (void)iters; (void)m; (void)a;
    return 0;
}

#endif /* MCFAST_PEAK_H */
