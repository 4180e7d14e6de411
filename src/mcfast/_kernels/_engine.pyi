"""Stubs of mcfast._kernels._engine: the one-pass engine of every linear-model loss."""

import numpy as np
import numpy.typing as npt

_Float = np.float32 | np.float64

LOSS_CODES: dict[str, int]     # loss name -> the engine's code (mc_loss.h)
SOURCE_KINDS: dict[str, int]   # "C", "F", "CSR" -> plan()'s kind (mc_rows.h)
THRESHOLDS: dict[str, int]     # name -> a cut-off that sizes a block or picks a path (mc_limits.h)

def plan(
    kind: int,        # int: 0 C, 1 F, 2 CSR
    n: int,           # Py_ssize_t
    m: int,           # Py_ssize_t
    K: int,           # Py_ssize_t
    itemsize: int,    # Py_ssize_t
    elements: int,    # Py_ssize_t
    max_threads: int, # int
) -> tuple[int, int]: ...
def dense_kind(X: npt.NDArray[np.generic]) -> int: ...
def loss_grad(
    X: npt.NDArray[_Float],                 # dense (n, m), or CSR data (nnz,)
    indices: npt.NDArray[np.integer] | None,
    indptr: npt.NDArray[np.integer] | None,
    shape: tuple[int, int],
    kind: int,                              # int: SOURCE_KINDS (dense: dense_kind(X))
    rows: npt.NDArray[np.intp] | None,
    theta: npt.NDArray[_Float],             # (mp,) or (mp, K)
    p: npt.NDArray[_Float] | None,          # theta's shape: the Hessian product
    y: npt.NDArray[_Float] | None,
    w: npt.NDArray[_Float] | None,
    loss: int,                              # int
    delta: float,                           # double
    intercept: bool,                        # bint
    l2: float,                              # double
    grad: npt.NDArray[_Float],              # theta's shape (OUT)
    block: int,                             # Py_ssize_t
    nthreads: int,                          # int
) -> float: ...
def row_sum(X: npt.NDArray[_Float], nthreads: int) -> float: ...
def index_extremes(rows: npt.NDArray[np.intp]) -> tuple[int, int]: ...
def value_extremes(y: object) -> tuple[float, float] | None: ...
def take_extremes(y: npt.NDArray[_Float], rows: npt.NDArray[np.intp]) -> tuple[float, float]: ...
def set_simd_level(level: int) -> int: ...
def simd_level() -> tuple[int, int, str]: ...
