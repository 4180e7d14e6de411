"""Stub of the compiled stack kernels (mcfast._kernels._stack)."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["stack_chain", "served", "set_simd_level", "simd_level", "ran_level", "set_compact_max",
           "fma_peak", "GRAD", "TANGENT", "JACOBIAN", "JACOBIAN_REVERSE", "CHUNK_ALIGN"]

GRAD: int
TANGENT: int
JACOBIAN: int
JACOBIAN_REVERSE: int
CHUNK_ALIGN: int

def served(n: int) -> bool: ...
def stack_chain(
    links: list[NDArray[np.floating[Any]]],
    diag: tuple[bool, ...],
    bstride: tuple[int, ...],
    vec: NDArray[np.floating[Any]] | None,
    vstride: int,
    out: NDArray[np.floating[Any]],
    n: int,
    nchains: int,
    mode: int,
) -> bool: ...
def set_simd_level(level: int) -> int: ...
def simd_level() -> tuple[int, int, str]: ...
def set_compact_max(vec: int, jac: int) -> tuple[int, int]: ...
def fma_peak(nthreads: int, iters: int = ...) -> float: ...
def ran_level() -> int: ...
