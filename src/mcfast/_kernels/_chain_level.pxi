# The instruction-set level of the chain kernels (mc_chain_kern.h), and the level each family ran at (included by _chain.pyx)

cdef extern from "mc_chain_kern.h":
    enum:
        MC_CHK_GEMM
        MC_CHK_VEC
        MC_CHK_MV
    int mc_set_level(int level) noexcept nogil
    int mc_get_level() noexcept nogil
    int mc_cpu_level() noexcept nogil
    int mc_chk_ran_level(int fam) noexcept nogil
    void mc_chk_reset() noexcept nogil

_LEVEL_NAMES = ("baseline", "avx2", "avx512")

mc_set_level(-1)   # the best instruction set this CPU has (mcfast._simd applies MCFAST_SIMD)


def set_simd_level(int level):
    """Use SIMD level `level` in the chain kernels (0 baseline, 1 AVX2+FMA, 2 AVX-512; -1
    the best there is), clipped to what the CPU has. Returns the previous level. For tests
    and benchmarks: not thread-safe against concurrent kernel calls."""
    return mc_set_level(level)


def simd_level():
    """(level in use, best level of this CPU, name of the level in use)."""
    cdef int level = mc_get_level()
    return level, mc_cpu_level(), _LEVEL_NAMES[level]


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
