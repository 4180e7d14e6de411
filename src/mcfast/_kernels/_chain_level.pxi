# The instruction-set level of the chain kernels (set_simd_level, simd_level: _level.pxi), and the level each family of mc_chain_kern.h ran at (included by _chain.pyx)

include "_level.pxi"

cdef extern from "mc_chain_kern.h":
    enum:
        MC_CHK_GEMM
        MC_CHK_VEC
        MC_CHK_MV
    int mc_chk_ran_level(int fam) noexcept nogil
    void mc_chk_reset() noexcept nogil


def ran_levels():
    """The level each kernel family last ran at since `reset_ran_levels` (-1: not run).

    Returns
    -------
    dict
        ``{"gemm": ..., "vec": ..., "mv": ...}``: the small products (mc_chain_gemm.h),
        the vector blocks (mc_chain_vec.h) and one vector through a large dense link
        (mc_chain_mv_body.h), each 0 (baseline), 1 (AVX2+FMA) or 2 (AVX-512) as compiled.
    """
    return {"gemm": mc_chk_ran_level(MC_CHK_GEMM), "vec": mc_chk_ran_level(MC_CHK_VEC),
            "mv": mc_chk_ran_level(MC_CHK_MV)}


def reset_ran_levels():
    """Forget the levels `ran_levels` reports (each family back to -1)."""
    mc_chk_reset()
