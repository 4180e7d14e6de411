"""Stub of the compiled Jacobian-chain kernels (mcfast._kernels._chain)."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["chain_program", "chain_product", "vector_chain", "fast_chain", "fast_chain_plan", "fast_vector",
           "fast_kron_vector", "dense_csr_product", "plan_dense",
           "vector_link", "set_simd_level", "simd_level", "ran_levels", "reset_ran_levels"]

BATCH_BLOCK: int
PLAN_MAX_LINKS: int
DP_MAX: int
BLOCK: int
SMALL_MM: int
SMALL_MV: int
LAYOUT_ROWS: int
LAYOUT_COLS: int
LAYOUT_FLAGS: int
LAYOUT_DST: int
LAYOUT_COLUMNS: int
LAYOUT_DIAG: int
META_RS: int
META_CS: int
META_DIAG: int
META_SMALL: int
META_COLUMNS: int

def chain_program(
    dims: NDArray[np.intp],        # const Py_ssize_t[::1]
    diag: NDArray[np.uint8],       # const unsigned char[::1]
    steps: NDArray[np.intp],       # const Py_ssize_t[:, ::1]
) -> tuple[NDArray[np.intp], int, bool, bool]: ...
def chain_product(
    arrays: list[NDArray[np.floating[Any]]],
    meta: NDArray[np.intp],        # const Py_ssize_t[:, ::1]
    bshape: NDArray[np.intp],      # const Py_ssize_t[::1]
    bstr: NDArray[np.intp],        # const Py_ssize_t[:, ::1]
    program: NDArray[np.intp],     # const Py_ssize_t[::1]
    sample_scratch: int,           # Py_ssize_t
    blocked: bool,                 # bint
    scratch: NDArray[np.floating[Any]],  # floating[:, ::1]
    out: NDArray[np.floating[Any]],      # floating[::1]
    out_size: int,                 # Py_ssize_t
    nthreads: int,                 # int
) -> None: ...
def vector_chain(
    arrays: list[NDArray[np.floating[Any]]],
    meta: NDArray[np.intp],        # const Py_ssize_t[:, ::1]
    bshape: NDArray[np.intp],      # const Py_ssize_t[::1]
    bstr: NDArray[np.intp],        # const Py_ssize_t[:, ::1]
    dims: NDArray[np.intp],        # const Py_ssize_t[::1]
    grad: bool,                    # bint
    scratch: NDArray[np.floating[Any]],  # floating[:, ::1]
    out: NDArray[np.floating[Any]],      # floating[::1]
    nthreads: int,                 # int
) -> None: ...
def fast_chain(
    links: object, order: object, expect: tuple[int, ...] | None = None
) -> NDArray[np.floating[Any]] | None: ...
def fast_chain_plan(
    dims: tuple[int, ...], order: str
) -> tuple[int, int, int]: ...
def fast_vector(
    links: object, vector: object, grad: bool, diagonal: type
) -> NDArray[np.floating[Any]] | None: ...
def fast_kron_vector(
    links: object, vector: object, grad: bool, kronecker: type
) -> NDArray[np.floating[Any]] | None: ...
def dense_csr_product(
    X: NDArray[np.floating[Any]],        # const floating[:, ::1]
    indptr: NDArray[np.integer[Any]],    # const sp_index[::1] (int32 or int64)
    indices: NDArray[np.integer[Any]],   # const sp_index[::1]
    data: NDArray[np.floating[Any]],     # const floating[::1]
    out: NDArray[np.floating[Any]],      # floating[:, ::1]
    nthreads: int,                       # int
) -> None: ...
def plan_dense(
    dims: NDArray[np.intp],        # const Py_ssize_t[::1]
    diag: NDArray[np.uint8],       # const unsigned char[::1]
    order: str,
) -> tuple[int, NDArray[np.intp]] | None: ...
def vector_link(
    a: object, x: object, grad: bool, nthreads: int,
) -> NDArray[np.floating[Any]] | None: ...

def set_simd_level(level: int) -> int: ...
def simd_level() -> tuple[int, int, str]: ...
def ran_levels() -> dict[str, int]: ...
def reset_ran_levels() -> None: ...
