"""Stub of the compiled linear-map kernels (mcfast._kernels._linear).

The ``floating`` arrays are float32 or float64 (one dtype per call), C-contiguous.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

def grad_xa_vector(
    g: NDArray[np.floating[Any]],        # const floating[::1] not None
    a: NDArray[np.floating[Any]],        # const floating[::1] not None
    accumulate: bool,                    # bint
    out: NDArray[np.floating[Any]],      # floating[:, ::1] not None
) -> None: ...
def grad_ax_fast(
    A: object,                           # object: C-contiguous 2-D float array or other
    G: object,                           # object
    out: object,                         # object: None or the result array
) -> NDArray[np.floating[Any]] | None: ...
def grad_xa_fast(
    G: object,                           # object
    A: object,                           # object
    out: object,                         # object
) -> NDArray[np.floating[Any]] | None: ...
def set_simd_level(level: int) -> int: ...
def simd_level() -> tuple[int, int, str]: ...
def ran_levels() -> dict[str, int]: ...
def reset_ran_levels() -> None: ...
