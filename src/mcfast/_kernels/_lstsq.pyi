"""Stubs of mcfast._kernels._lstsq: least-squares loss and gradient in one pass over X."""

from typing import Protocol

import numpy as np
import numpy.typing as npt

_Float = np.float32 | np.float64

class _LossGrad(Protocol):
    """A fused (float32/float64) kernel; index it with "float" or "double"."""

    def __call__(
        self,
        X: npt.NDArray[_Float],      # const floating[:, ::1], (n, m)
        theta: npt.NDArray[_Float],  # const floating[::1] (m,) or [:, ::1] (m, k)
        y: npt.NDArray[_Float],      # const floating[::1] (n,) or [:, ::1] (n, k)
        has_y: bool,                 # bint
        w: npt.NDArray[_Float],      # const floating[::1], (n,)
        has_w: bool,                 # bint
        l2: float,                   # double
        grad: npt.NDArray[_Float],   # floating[::1] or [:, ::1], theta's shape (OUT)
        block: int,                  # Py_ssize_t
        nthreads: int,               # int
    ) -> float: ...
    def __getitem__(self, dtype: str) -> _LossGrad: ...

class _RowSum(Protocol):
    def __call__(self, X: npt.NDArray[_Float], nthreads: int) -> float: ...
    def __getitem__(self, dtype: str) -> _RowSum: ...

vec_loss_grad: _LossGrad
mat_loss_grad: _LossGrad
row_sum: _RowSum

def set_simd_level(level: int) -> int: ...
def simd_level() -> tuple[int, int, str]: ...

class _Repeat(Protocol):
    def __call__(
        self,
        X: npt.NDArray[_Float],      # const floating[:, ::1], (n, m)
        theta: npt.NDArray[_Float],  # const floating[::1], (m,)
        y: npt.NDArray[_Float],      # const floating[::1], (n,)
        grad: npt.NDArray[_Float],   # floating[::1], (m,) (OUT)
        block: int,                  # Py_ssize_t
        repeats: int,                # Py_ssize_t
    ) -> float: ...
    def __getitem__(self, dtype: str) -> _Repeat: ...

repeat_vec_loss_grad: _Repeat

def plan(n: int, m: int, k: int, itemsize: int, max_threads: int) -> tuple[int, int]: ...
def loss_grad_fast(
    X: object,
    theta: object,
    y: object,
    w: object,
    l2: float,
    out: object,
    max_threads: int,
) -> tuple[float, npt.NDArray[_Float]] | None: ...
