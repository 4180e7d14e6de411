"""Stub of mcfast._kernels._buildinfo: how the kernels were compiled."""

from typing import TypedDict

class _BuildInfo(TypedDict):
    compiler: str            # MCFAST_COMPILER_NAME + __VERSION__ (C macros)
    cflags: str              # MCFAST_BUILD_CFLAGS
    openmp: int              # _OPENMP (yyyymm), 0 when built without OpenMP
    cython: str              # Cython.__version__ at build time
    numpy: str               # numpy.__version__ at build time
    blas_int_max: int        # sizes past it take the BLAS shims' loops (MCFAST_BLAS_INT_MAX)

def build_info() -> _BuildInfo: ...
