/* mcfast: the chain kernels of one (dtype, instruction set) instantiation and its table entry.
 *
 * Re-included by mc_levels.h (from mc_chain_kern.h) with the parameters of its list:
 * defines mc_small_gemm_<sfx>, mc_gemm_block_<sfx> (mc_chain_gemm.h), mc_vec_block_<sfx>
 * (mc_chain_vec.h), mc_mv_grad_<sfx> and mc_mv_tan_<sfx> (mc_chain_mv_body.h), compiled
 * for MC_TARGET, and mc_chk_<sfx>, the table naming them with the level they were built for.
 */
MC_GEMM_SMALL(MC_T, MC_TARGET, MC_SFX)
MC_GEMM_BLOCK(MC_T, MC_TARGET, MC_SFX)
MC_VEC_BLOCK(MC_T, MC_TARGET, MC_SFX)
#include "mc_chain_mv_body.h"

static const MC_CAT(mc_chk_, MC_TN) MC_CAT(mc_chk_, MC_SFX) = {
    .small_gemm = MC_CAT(mc_small_gemm_, MC_SFX),
    .gemm_block = MC_CAT(mc_gemm_block_, MC_SFX),
    .vec_block = MC_CAT(mc_vec_block_, MC_SFX),
    .mv_grad = MC_CAT(mc_mv_grad_, MC_SFX),
    .mv_tan = MC_CAT(mc_mv_tan_, MC_SFX),
    .level = MC_W == 64 ? 2 : MC_W == 32 ? 1 : 0,
};
