"""The Python side of the Hessian kernel: a linear-model loss's Hessian, one pass over X."""

import numpy as np

from ._kernels import _hessian as _h

__all__ = ["hessian"]


def hessian(prep, theta, rows, grad, max_threads):
    """(loss, Hessian of θ.ravel()) of the problem `prep` (a _onepass.Problem) at the
    checked, native C-contiguous θ; with `grad` (θ's shape, the working dtype) the
    gradient is written there and the loss returned, else the loss is None."""
    H = np.empty((theta.size, theta.size), prep.dtype)
    value = _h.hessian(prep.data, prep.indices, prep.indptr, prep.shape, prep.kind, rows, theta,
                       prep.y, prep.w, prep.loss.code, prep.loss.delta, prep.fit_intercept, prep.l2,
                       grad, H, max_threads)
    return (value if grad is not None else None), H
