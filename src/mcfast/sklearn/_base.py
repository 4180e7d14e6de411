"""What mcfast's scikit-learn estimators share: parameter checks, data checks, the fit."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import _check_sample_weight, validate_data

from ..linear_loss import LinearLoss
from ._solvers import fixed_indices, lbfgs, newton_cholesky

__all__ = ["check_param", "check_solver_params", "validate_fit_data", "fit_linear_loss"]

SOLVERS = ("lbfgs", "newton-cholesky")


def check_param(est, name, kind, low=None, low_open=False, allow_none=False):
    """Refuse a bad value of the estimator's parameter ``name``, naming it.

    Parameters
    ----------
    est : estimator
        Whose attribute ``name`` is checked.
    name : str
        The parameter.
    kind : {"real", "int", "bool"}
        Its type.
    low : float, optional
        Lower bound (inclusive unless ``low_open``).
    low_open : bool, optional
        Whether the bound is exclusive.
    allow_none : bool, optional
        Whether None is allowed.

    Returns
    -------
    The value.
    """
    value = getattr(est, name)
    cls = type(est).__name__
    if value is None and allow_none:
        return value
    types = {"real": numbers.Real, "int": numbers.Integral, "bool": (bool, np.bool_)}[kind]
    if isinstance(value, (bool, np.bool_)) and kind != "bool" or not isinstance(value, types):
        raise ValueError(f"{cls}: the {name!r} parameter must be "
                         f"{'a real number' if kind == 'real' else 'an int' if kind == 'int' else 'a bool'}"
                         f"{' or None' if allow_none else ''}; got {value!r}")
    if kind == "real" and np.isnan(value) or (
            low is not None and (value <= low if low_open else value < low)):
        raise ValueError(f"{cls}: the {name!r} parameter must be "
                         f"{'>' if low_open else '>='} {low}; got {value!r}")
    return value


def check_solver_params(est):
    """Check ``solver``, ``tol``, ``fit_intercept`` and ``warm_start`` of an estimator
    (``max_iter`` is each estimator's own)."""
    if est.solver not in SOLVERS:
        raise ValueError(f"{type(est).__name__}: solver={est.solver!r} is not supported; "
                         f"mcfast.sklearn offers {', '.join(map(repr, SOLVERS))}")
    check_param(est, "tol", "real", low=0)
    check_param(est, "fit_intercept", "bool")
    check_param(est, "warm_start", "bool")


def validate_fit_data(est, X, y, sample_weight, *, y_numeric):
    """X as float64 or float32 (dense, or CSR), y 1-D, the weights (positive sum) and
    their sum.

    X in float32 is kept: the fit reads it in place under float64 arithmetic
    (``LinearLoss(..., dtype=np.float64)``), where scikit-learn copies it to float64.

    Returns
    -------
    X, y, sample_weight, sw_sum
    """
    X, y = validate_data(est, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                         y_numeric=y_numeric, multi_output=False)
    if sp.issparse(X):
        X = X.tocsr()
    if sample_weight is None:
        return X, y, None, float(X.shape[0])
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    return X, y, w, float(np.sum(w))


def fit_linear_loss(est, X, y, *, loss, sample_weight, scale, l2, theta0, max_iter):
    """Minimise LinearLoss(X, y, loss, sample_weight, l2, fit_intercept)/scale with the
    estimator's solver from ``theta0``; sets ``n_iter_``, warns when not converged.

    Returns
    -------
    theta : ndarray, θ0's shape
    """
    obj = LinearLoss(X, y, loss=loss, sample_weight=sample_weight, l2=l2,
                     fit_intercept=est.fit_intercept, dtype=np.float64)
    if est.solver == "lbfgs":
        theta, n_iter, ok = lbfgs(obj, theta0, scale=scale, tol=est.tol, max_iter=max_iter)
    else:
        fixed = fixed_indices(theta0.shape, est.fit_intercept, l2)
        theta, n_iter, ok = newton_cholesky(obj, theta0, scale=scale, tol=est.tol,
                                            max_iter=max_iter, fixed=fixed)
    est.n_iter_ = np.array([n_iter], dtype=np.int32) if getattr(est, "_n_iter_array", False) \
        else n_iter
    if not ok:
        warnings.warn(f"{type(est).__name__}: solver={est.solver!r} did not converge in "
                      f"max_iter={max_iter} iterations (tol={est.tol}); increase max_iter, "
                      "or scale the data", ConvergenceWarning, stacklevel=3)
    return theta

