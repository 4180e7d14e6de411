"""Pure-NumPy twins of every public mcfast function: same names, signatures and errors.

Written for clarity, not speed: each function is the formula of its rule. The tests hold
the compiled functions equal to these.
"""

import numpy as np

from . import _validate as v
from .gradcheck import check_grad

__all__ = [
    "grad_ax", "grad_xa", "trace_chain",
    "lstsq_grad", "lstsq_loss_grad", "LeastSquares", "check_grad",
]


def _finish(result, out, func, accumulate=False):
    """Return `result` as the function's output, honouring `out=` and `accumulate=`."""
    if accumulate and out is None:
        raise ValueError(f"{func}: accumulate=True needs out=")
    if out is None:
        return result
    v.check_out(out, result.shape, result.dtype, func)
    if accumulate:
        out += result
    else:
        out[...] = result
    return out


def grad_ax(A, G, *, out=None, accumulate=False):
    """Y = A X + B  =>  ∂z/∂X = Aᵀ G."""
    A, G, _ = v.linear_ax_args(A, G, "grad_ax")
    return _finish(A.T @ G, out, "grad_ax", accumulate)


def grad_xa(G, A, *, out=None, accumulate=False):
    """Y = X A + B  =>  ∂z/∂X = G Aᵀ; vector case y = X a + b  =>  outer(g, a)."""
    G, A, _ = v.linear_xa_args(G, A, "grad_xa")
    result = np.outer(G, A) if G.ndim == 1 else G @ A.T
    return _finish(result, out, "grad_xa", accumulate)


def trace_chain(G, dY_dX, *, out=None):
    """∂z/∂X_ij = Σ_kl G_kl ∂Y_kl/∂X_ij (the scalar-over-matrix rule by definition)."""
    G, D, _ = v.trace_chain_args(G, dY_dX, "trace_chain")
    result = np.tensordot(G, D, axes=G.ndim)
    return _finish(np.asarray(result, dtype=G.dtype), out, "trace_chain")


def lstsq_loss_grad(X, theta, y, *, out=None):
    """‖Xθ − y‖² and its gradient 2 Xᵀ(Xθ − y)."""
    X, theta, y = v.lstsq_args(X, theta, y, "lstsq_loss_grad")
    r = X @ theta - y
    loss = float(np.sum(r * r))
    return loss, _finish(2 * (X.T @ r), out, "lstsq_loss_grad")


def lstsq_grad(X, theta, y, *, out=None):
    """2 Xᵀ(Xθ − y), the gradient of ‖Xθ − y‖² with respect to θ."""
    X, theta, y = v.lstsq_args(X, theta, y, "lstsq_grad")
    return _finish(2 * (X.T @ (X @ theta - y)), out, "lstsq_grad")


class LeastSquares:
    """The (weighted, ridge) least-squares objective for ``scipy.optimize.minimize``.

    loss(θ) = Σ_i w_i ‖x_iθ − y_i‖² + l2 ‖θ‖²,  grad = 2 Xᵀ W (Xθ − y) + 2 l2 θ,
    hessp(θ, p) = 2 Xᵀ W X p + 2 l2 p.
    """

    def __init__(self, X, y, *, sample_weight=None, l2=0.0):
        self.X, self.y, self.sample_weight, self.l2, self.dtype = v.least_squares_args(
            X, y, sample_weight, l2)

    def _theta(self, theta, name="theta"):
        return v.least_squares_theta(theta, self.X.shape[1], self.y.shape, self.dtype, name)

    def __call__(self, theta):
        shape = np.shape(theta)
        t = self._theta(theta)
        r = self.X @ t - self.y
        wr = r if self.sample_weight is None else (self.sample_weight * r.T).T
        loss = float(np.sum(wr * r) + self.l2 * np.sum(t * t))
        grad = 2 * (self.X.T @ wr) + 2 * self.l2 * t
        return loss, grad.astype(self.dtype, copy=False).reshape(shape)

    def hessp(self, theta, p):
        """2 Xᵀ W X p + 2 l2 p (the Hessian does not depend on θ)."""
        self._theta(theta)
        shape = np.shape(p)
        q = self._theta(p, "p")
        xq = self.X @ q
        wxq = xq if self.sample_weight is None else (self.sample_weight * xq.T).T
        hp = 2 * (self.X.T @ wxq) + 2 * self.l2 * q
        return hp.astype(self.dtype, copy=False).reshape(shape)
