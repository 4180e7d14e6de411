# The instruction-set level of one extension's kernels: mc_simd.h's mc_level, which each extension has its own copy of (included by _chain.pyx and _linear.pyx; mcfast._simd sets it at import)

cdef extern from "mc_simd.h":
    int mc_set_level(int level) noexcept nogil
    int mc_get_level() noexcept nogil
    int mc_cpu_level() noexcept nogil

_LEVEL_NAMES = ("baseline", "avx2", "avx512")

mc_set_level(-1)   # the best instruction set this CPU has (mcfast._simd applies MCFAST_SIMD)


def set_simd_level(int level):
    """Use SIMD level `level` in this extension's kernels (0 baseline, 1 AVX2+FMA, 2
    AVX-512; -1 the best there is), clipped to what the CPU has. Returns the previous level.
    For tests and benchmarks: not thread-safe against concurrent kernel calls."""
    return mc_set_level(level)


def simd_level():
    """(level in use, best level of this CPU, name of the level in use)."""
    cdef int level = mc_get_level()
    return level, mc_cpu_level(), _LEVEL_NAMES[level]
