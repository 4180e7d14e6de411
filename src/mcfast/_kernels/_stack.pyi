"""Stub of the compiled stack kernels (mcfast._kernels._stack)."""

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["stack_chain", "fast_stack", "served", "set_simd_level", "simd_level", "ran_level", "compact_ns", "set_compact_ns",
           "set_compact_table",
           "chunk_chains", "fma_peak", "GRAD", "TANGENT", "JACOBIAN", "JACOBIAN_REVERSE", "READ",
           "READ_BLOCK", "CHUNK_ALIGN"]

GRAD: int
TANGENT: int
JACOBIAN: int
JACOBIAN_REVERSE: int
READ: int
READ_BLOCK: int
CHUNK_ALIGN: int

def served(n: int) -> bool: ...
def chunk_chains(nchains: int, chain_bytes: int, nthreads: int) -> int: ...
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
def fast_stack(
    links: object, vec: NDArray[np.floating[Any]] | None, mode: int, diagonal: type,
    dense_only: bool = ..., out: NDArray[np.floating[Any]] | None = ...,
) -> NDArray[np.floating[Any]] | None: ...
def set_simd_level(level: int) -> int: ...
def simd_level() -> tuple[int, int, str]: ...
_NS = tuple[frozenset[int], frozenset[int]]
_NsArg = Iterable[int] | tuple[Iterable[int], Iterable[int]]

def compact_ns() -> tuple[tuple[_NS, _NS], ...]: ...
def set_compact_ns(vec: _NsArg, jac: _NsArg, level: int | None = None) -> tuple[tuple[_NS, _NS], ...]: ...
def set_compact_table(table: tuple[tuple[_NS, _NS], ...]) -> None: ...
def fma_peak(nthreads: int, iters: int = ...) -> float: ...
def ran_level() -> int: ...
