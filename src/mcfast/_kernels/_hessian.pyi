"""Stubs of mcfast._kernels._hessian: a linear-model loss's Hessian, X read once."""

import numpy as np
import numpy.typing as npt

_Float = np.float32 | np.float64

def hessian(
    X: npt.NDArray[_Float],                 # dense (n, m), or CSR data (nnz,)
    indices: npt.NDArray[np.integer] | None,
    indptr: npt.NDArray[np.integer] | None,
    shape: tuple[int, int],
    kind: int,                              # int: SOURCE_KINDS (dense: dense_kind(X))
    rows: npt.NDArray[np.intp] | None,
    theta: npt.NDArray[_Float],             # (mp,) or (mp, K)
    y: npt.NDArray[_Float] | None,
    w: npt.NDArray[_Float] | None,
    loss: int,                              # int
    delta: float,                           # double
    intercept: bool,                        # bint
    l2: float,                              # double
    grad: npt.NDArray[_Float] | None,       # theta's shape (OUT)
    H: npt.NDArray[_Float],                 # (theta.size, theta.size) (OUT)
    max_threads: int,                       # int
) -> float: ...
def set_simd_level(level: int) -> int: ...
def simd_level() -> int: ...
