"""The Python side of the Hessian kernel: a linear-model loss's Hessian, one pass over X."""

import numpy as np

__all__ = ["hessian"]


def hessian(prep, theta, rows, grad, max_threads):
    """(loss, Hessian of θ.ravel()) of the problem `prep` (a _onepass.Problem) at the
    checked θ; with `grad` (θ's shape, the working dtype) the gradient is written there
    and the loss returned, else the loss is None."""
    from .reference import _linear_hessian, _linear_loss_grad
    d = prep.d
    value = None
    if grad is not None:
        value, g = _linear_loss_grad(d, theta, rows)
        grad[...] = g
    return value, _linear_hessian(d, theta, rows)
