/* mcfast: the chain kernels' dispatch table by instruction set, and the entries _chain calls.
 *
 * The small products (mc_chain_gemm.h), the vector blocks (mc_chain_vec.h) and one vector
 * through a large link (mc_chain_mv_body.h) are instantiated for every (dtype, level) of
 * mc_levels.h's one list (mc_chain_body.h); mc_chks_<d|f>[level] lists their tables by
 * mc_level's values, and the entries below (mc_small_gemm_double, ...) call the table of
 * the level in use: mc_level (mc_simd.h), set at import from the CPU or MCFAST_SIMD, as
 * the engine's (mc_kern.h) and the stacks' (mc_stack.h). Each entry records the level it
 * ran at, per family (mc_chk_ran), so tests can see that a forced level is the one run.
 */
#ifndef MCFAST_CHAIN_KERN_H
#define MCFAST_CHAIN_KERN_H

#include <stdint.h>
#include "mc_simd.h"
#include "mc_chain_gemm.h"
#include "mc_chain_vec.h"

#define MC_MV_TILE 512      /* columns of y = xᵀA accumulated in L1 per pass over the rows */
#define MC_MV_LANES 16      /* partial sums of a row's dot product in y = A x */

/* the names' pasting: MC_CK_NAME(mc_chk, d) is mc_chk_d */
#define MC_CK_PASTE(a, b) a##_##b
#define MC_CK_NAME(a, b) MC_CK_PASTE(a, b)

#define MC_CT double
#define MC_CTN d
#include "mc_chain_kern_type.h"
#define MC_CT float
#define MC_CTN f
#include "mc_chain_kern_type.h"

#define MC_BODY "mc_chain_body.h"
#include "mc_levels.h"
#undef MC_BODY

/* the tables by level: 0 the baseline, 1 AVX2+FMA, 2 AVX-512 (mc_level's values) */
static const mc_chk_d *const mc_chks_d[] = {
    &mc_chk_d_base,
#if MC_X86
    &mc_chk_d_avx2, &mc_chk_d_avx512,
#endif
};
static const mc_chk_f *const mc_chks_f[] = {
    &mc_chk_f_base,
#if MC_X86
    &mc_chk_f_avx2, &mc_chk_f_avx512,
#endif
};

/* the families whose level each entry records (mc_chk_ran; -1: not run since the reset) */
enum { MC_CHK_GEMM = 0, MC_CHK_VEC = 1, MC_CHK_MV = 2, MC_CHK_FAMILIES = 3 };
static int mc_chk_ran[MC_CHK_FAMILIES] = {-1, -1, -1};

#if defined(__GNUC__) || defined(__clang__)
#define MC_CHK_NOTE(fam, lvl) __atomic_store_n(&mc_chk_ran[fam], (lvl), __ATOMIC_RELAXED)
#else
#define MC_CHK_NOTE(fam, lvl) (mc_chk_ran[fam] = (lvl))
#endif

/* the level family `fam` last ran at (-1: none since mc_chk_reset) */
static int mc_chk_ran_level(int fam) { return mc_chk_ran[fam]; }
static void mc_chk_reset(void)
{
    for (int f = 0; f < MC_CHK_FAMILIES; f++)
        mc_chk_ran[f] = -1;
}

#define MC_CT double
#define MC_CTN d
#include "mc_chain_kern_entries.h"
#define MC_CT float
#define MC_CTN f
#include "mc_chain_kern_entries.h"

#endif /* MCFAST_CHAIN_KERN_H */
