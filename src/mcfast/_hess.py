"""The Python side of the Hessian kernel: a linear-model loss's Hessian, one pass over X."""

import numpy as np

from ._kernels import _hessian as _h

__all__ = ["hessian"]


def hessian(prep, theta, rows, grad, max_threads):
    """(loss, Hessian of θ.ravel()) of the problem `prep` (a _onepass.Problem) at the
    checked, native C-contiguous θ; with `grad` (θ's shape, the working dtype) the
    gradient is written there and the loss returned, else the loss is None."""
    d = prep.d
    data, ind, ptr, _ = prep.src
    H = np.empty((theta.size, theta.size), d["dtype"])
    value = _h.hessian(data, ind, ptr, (d["n"], d["m"]), rows, theta, prep.y,
                       prep.w, d["loss"].code, d["loss"].delta, d["fit_intercept"],
                       d["l2"], grad, H, max_threads)
    return (value if grad is not None else None), H
