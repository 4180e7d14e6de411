"""The two solvers behind mcfast.sklearn: L-BFGS-B and Newton with a Cholesky solve."""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np
import scipy.linalg

from ._lbfgs import minimize_lbfgs

__all__ = ["lbfgs", "newton_cholesky", "fixed_indices"]

# Armijo backtracking, as scikit-learn's NewtonSolver: halve the step until the
# objective falls by at least SIGMA · t · gᵀs.
_SIGMA, _MAX_HALVINGS = 2.0 ** -11, 40
# Newton systems up to this size are factorised on one BLAS thread: a 321² Cholesky
# takes ~1 ms on one Zen 4 core, and 300-500 ms on two OpenBLAS threads when another
# program keeps a core busy (its threads wait on each other at every panel)
_SERIAL_SOLVE_MAX = 1024


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's view of the BLAS libraries loaded (found once: ~1 ms), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:      # pragma: no cover - scikit-learn requires threadpoolctl
        return None
    return ThreadpoolController()


def _one_blas_thread(size):
    """A context that holds the BLAS to one thread for a system of `size` unknowns up to
    _SERIAL_SOLVE_MAX (a no-op above it, or without threadpoolctl)."""
    controller = _blas_controller() if size <= _SERIAL_SOLVE_MAX else None
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def lbfgs(obj, theta0, *, scale, tol, max_iter):
    """Minimise ``obj(θ)[0] / scale`` with L-BFGS, the tests of scikit-learn's L-BFGS-B.

    Parameters
    ----------
    obj : mcfast.LinearLoss
        The objective in mcfast's sum form: ``obj(θ)`` returns (loss, gradient).
    theta0 : ndarray
        Start, θ's shape ((m(+1),) or (m(+1), K)).
    scale : float
        The objective is divided by it (Σ wᵢ): scikit-learn's mean-scaled objective,
        whose gradient ``tol`` bounds (scipy's ``gtol``: max |projected gradient|).
    tol : float
        ``gtol`` of L-BFGS-B. ``ftol`` (the relative decrease of the objective that
        stops it too) is 64 ε, as in scikit-learn, or tol² when smaller, so that tight
        tolerances are reached rather than cut short by the decrease test.
    max_iter : int
        Most iterations.

    Returns
    -------
    theta : ndarray, θ0's shape
    n_iter : int
    converged : bool
    """
    shape = theta0.shape

    def fun(theta):
        loss, grad = obj(theta.reshape(shape))
        return loss / scale, grad.ravel() / scale

    x, n_iter, ok = minimize_lbfgs(fun, np.ravel(theta0).astype(np.float64), gtol=tol,
                                   ftol=min(64 * np.finfo(float).eps, tol ** 2),
                                   max_iter=max_iter)
    return x.reshape(shape), n_iter, ok


def fixed_indices(shape, fit_intercept, l2):
    """Flat indices of θ held at 0 in Newton steps: multinomial's last class where a row
    of Θ is unpenalised (the loss does not change when a constant is added to a row).

    Parameters
    ----------
    shape : tuple
        θ's shape: (m(+1),) or (m(+1), K).
    fit_intercept : bool
        Whether θ's last row is the (unpenalised) intercept.
    l2 : float
        The ridge penalty; with 0 every row is unpenalised.

    Returns
    -------
    ndarray of intp
        Indices into θ flattened in C order (empty for a 1-D θ).
    """
    if len(shape) == 1:
        return np.zeros(0, np.intp)
    rows, K = shape
    unpenalised = range(rows) if l2 == 0 else ([rows - 1] if fit_intercept else [])
    return np.array([j * K + K - 1 for j in unpenalised], np.intp)


def _newton_step(H, g, fixed):
    """Solve H s = −g on the free indices (s = 0 on ``fixed``): Cholesky, or least
    squares when H is not positive definite there."""
    free = np.setdiff1d(np.arange(g.size), fixed)
    Hf, gf = H[np.ix_(free, free)], g[free]
    step = np.zeros_like(g)
    with _one_blas_thread(free.size):
        try:
            step[free] = scipy.linalg.cho_solve(scipy.linalg.cho_factor(Hf), -gf)
        except np.linalg.LinAlgError:
            step[free] = scipy.linalg.lstsq(Hf, -gf, cond=None)[0]
    if not np.all(np.isfinite(step)) or g @ step >= 0:   # no descent: a gradient step
        step = -g
        step[fixed] = 0
    return step


def newton_cholesky(obj, theta0, *, scale, tol, max_iter, fixed=()):
    """Newton's method with the Hessian from ``obj.grad_hess`` (one pass over X per
    iteration), Armijo backtracking and scikit-learn's convergence test.

    Converged when max |∇| ≤ tol and half the Newton decrement ½ sᵀHs ≤ tol, both of
    the objective divided by ``scale`` (as scikit-learn's NewtonCholeskySolver). A step
    whose decrement already passes may be the last: its trial point is evaluated
    without the Hessian (``obj(θ)``: loss and gradient, a fraction of the Hessian's
    cost), and the Hessian is formed there only if the gradient test fails.

    Parameters
    ----------
    obj : mcfast.LinearLoss
        The objective; ``obj.grad_hess(θ)`` returns (loss, gradient, H) with H of
        size θ.size² (C-order flattening of θ), ``obj(θ)`` (loss, gradient) and
        ``obj.hessian(θ)`` H.
    theta0 : ndarray
        Start.
    scale : float
        Divisor of the objective (Σ wᵢ).
    tol : float
        Bound on max |gradient| and on ½ sᵀHs.
    max_iter : int
        Most Newton iterations.
    fixed : array_like of int, optional
        Flat indices kept at their start value (see `fixed_indices`).

    Returns
    -------
    theta : ndarray, θ0's shape
    n_iter : int
    converged : bool
    """
    shape = theta0.shape
    fixed = np.asarray(fixed, np.intp)
    theta = np.ravel(theta0).astype(np.float64)
    size = theta.size

    def hessian(t):
        return np.asarray(obj.hessian(t.reshape(shape))).reshape(size, size) / scale

    def evaluate(t, hess=True):
        """(f, ∇f, H or None) of the scaled objective at t, ∇f zero on ``fixed``."""
        if hess:
            loss, grad, H = obj.grad_hess(t.reshape(shape))
            H = np.asarray(H).reshape(size, size) / scale
        else:
            (loss, grad), H = obj(t.reshape(shape)), None
        grad = np.ravel(grad) / scale
        grad[fixed] = 0
        return loss / scale, grad, H

    f, g, H = evaluate(theta)
    for it in range(1, max_iter + 1):
        if not np.isfinite(f):
            raise ValueError("newton-cholesky: the objective is not finite; the data "
                             "or the start overflow the loss")
        step = _newton_step(H, g, fixed)
        slope = g @ step
        decrement = -slope        # sᵀHs, as Hs = −g on the free indices
        may_end = 0.5 * decrement <= tol
        t = 1.0
        for _ in range(_MAX_HALVINGS):
            f_new, g_new, H_new = evaluate(theta + t * step, hess=not may_end)
            if f_new <= f + _SIGMA * t * slope:
                break
            # at the precision of the objective: accept when the gradient shrinks
            if (abs(f_new - f) <= 16 * np.finfo(float).eps * abs(f)
                    and np.abs(g_new).sum() < np.abs(g).sum()):
                break
            t *= 0.5
        else:
            warnings.warn("newton-cholesky: the line search found no decrease; stopped "
                          f"at iteration {it}", RuntimeWarning, stacklevel=3)
            return theta.reshape(shape), it, False
        theta = theta + t * step
        f, g = f_new, g_new
        if np.max(np.abs(g), initial=0.0) <= tol and may_end:
            return theta.reshape(shape), it, True
        H = H_new if H_new is not None else hessian(theta)
    return theta.reshape(shape), max_iter, max_iter == 0 and np.max(np.abs(g), initial=0.0) <= tol
