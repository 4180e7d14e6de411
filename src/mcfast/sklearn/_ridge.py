"""Ridge: scikit-learn's L2-penalised least squares on mcfast (1-D targets)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import check_param, check_solver_params, fit_linear_loss, validate_fit_data

__all__ = ["Ridge"]


class Ridge(RegressorMixin, BaseEstimator):
    """Least squares with an L2 penalty, fitted by mcfast's one-pass loss engine;
    scikit-learn's parameters.

    Minimises, as `sklearn.linear_model.Ridge` does,

    .. math:: \\sum_i s_i (y_i - x_i^\\top w - b)^2 + \\alpha \\|w\\|^2

    (s the sample weights, b unpenalised): mcfast's ``LinearLoss(..., loss="squared",
    l2=alpha)``. The solvers see it divided by Σ sᵢ, and ``tol`` bounds the largest
    absolute gradient entry of that mean-scaled objective.

    Parameters
    ----------
    alpha : float, default=1.0
        Penalty strength, >= 0 (a single target: a scalar).
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    tol : float, default=1e-4
        Stop when the largest absolute gradient entry of the mean-scaled objective is <= tol.
    max_iter : int or None, default=None
        Most iterations (None: 15000 for lbfgs, 100 for newton-cholesky).
    solver : {"lbfgs", "newton-cholesky"}, default="lbfgs"
        L-BFGS on one-pass (loss, gradient), or Newton on the one-pass Hessian (one
        step: the objective is quadratic).
    warm_start : bool, default=False
        Start from the previous fit's ``coef_`` and ``intercept_``.

    Attributes
    ----------
    coef_ : ndarray, shape (n_features,)
    intercept_ : float
    n_iter_ : ndarray, shape (1,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    X in float32 is read in place under float64 arithmetic (no copy of X).
    Only 1-D y is supported; a 2-D y is refused.

    Examples
    --------
    >>> import numpy as np
    >>> from mcfast.sklearn import Ridge
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> reg = Ridge(alpha=0.5, solver="newton-cholesky").fit(X, y)
    >>> np.round(reg.coef_, 4), round(reg.intercept_, 4)
    (array([0.9286, 0.6429]), 0.3214)
    """

    _n_iter_array = True

    def __init__(self, alpha=1.0, *, fit_intercept=True, tol=1e-4, max_iter=None,
                 solver="lbfgs", warm_start=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)
            Training data (float32 is read in place, the arithmetic is float64).
        y : array-like, shape (n_samples,)
            Targets.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights.

        Returns
        -------
        self : Ridge
        """
        check_solver_params(self)
        alpha = check_param(self, "alpha", "real", low=0)
        max_iter = check_param(self, "max_iter", "int", low=1, allow_none=True)
        if max_iter is None:
            max_iter = 15000 if self.solver == "lbfgs" else 100
        X, y, w, sw_sum = validate_fit_data(self, X, y, sample_weight, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        m = X.shape[1]
        theta0 = np.zeros(m + int(self.fit_intercept))
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (m,):
            theta0[:m] = self.coef_
            if self.fit_intercept:
                theta0[m] = self.intercept_
        elif self.fit_intercept and y.size:
            theta0[m] = np.average(y, weights=w)
        theta = fit_linear_loss(self, X, y, loss="squared", sample_weight=w, scale=sw_sum,
                                l2=alpha, theta0=theta0, max_iter=max_iter)
        self.coef_ = theta[:m].copy()
        self.intercept_ = float(theta[m]) if self.fit_intercept else 0.0
        return self

    def predict(self, X):
        """The predictions Xw + b.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          reset=False)
        return safe_sparse_dot(X, self.coef_, dense_output=True) + self.intercept_
