"""PoissonRegressor: scikit-learn's L2-penalised Poisson GLM (log link) on mcfast."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import d2_tweedie_score
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import check_param, check_solver_params, fit_linear_loss, validate_fit_data

__all__ = ["PoissonRegressor"]


class PoissonRegressor(RegressorMixin, BaseEstimator):
    """Poisson regression with the log link and an L2 penalty, fitted by mcfast's
    one-pass loss engine; scikit-learn's parameters.

    Minimises, as `sklearn.linear_model.PoissonRegressor` does,

    .. math:: \\frac{1}{2 \\sum_i s_i} \\sum_i s_i\\, d(y_i, e^{x_i^\\top w + b})
              + \\frac{\\alpha}{2} \\|w\\|^2

    (d the Poisson deviance, s the sample weights, b unpenalised). As ½ d(y, eᶻ) =
    eᶻ − y z + const, that is mcfast's sum form ``LinearLoss(..., loss="poisson",
    l2=α Σ sᵢ / 2)`` divided by Σ sᵢ; the solvers see it so divided, and ``tol`` bounds
    its the largest absolute gradient entry, as in scikit-learn.

    Parameters
    ----------
    alpha : float, default=1.0
        Penalty strength, >= 0.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept (started at log of the weighted mean of y).
    solver : {"lbfgs", "newton-cholesky"}, default="lbfgs"
        L-BFGS on one-pass (loss, gradient), or Newton on the one-pass Hessian.
    max_iter : int, default=100
        Most iterations, >= 1.
    tol : float, default=1e-4
        Stop when the largest absolute gradient entry of the objective above is <= tol.
    warm_start : bool, default=False
        Start from the previous fit's ``coef_`` and ``intercept_``.

    Attributes
    ----------
    coef_ : ndarray, shape (n_features,)
    intercept_ : float
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Notes
    -----
    X in float32 is read in place under float64 arithmetic (no copy of X).
    ``score`` is D², the fraction of Poisson deviance explained (scikit-learn's).

    Examples
    --------
    >>> import numpy as np
    >>> from mcfast.sklearn import PoissonRegressor
    >>> X = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 4.0], [4.0, 3.0]])
    >>> y = np.array([12.0, 17.0, 22.0, 21.0])
    >>> reg = PoissonRegressor().fit(X, y)
    >>> np.round(reg.predict([[1.0, 1.0], [3.0, 4.0]]), 2)
    array([10.68, 21.88])
    """

    def __init__(self, *, alpha=1.0, fit_intercept=True, solver="lbfgs", max_iter=100,
                 tol=1e-4, warm_start=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)
            Training data (float32 is read in place, the arithmetic is float64).
        y : array-like, shape (n_samples,)
            Counts or rates, >= 0.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights.

        Returns
        -------
        self : PoissonRegressor
        """
        check_solver_params(self)
        alpha = check_param(self, "alpha", "real", low=0)
        max_iter = check_param(self, "max_iter", "int", low=1)
        X, y, w, sw_sum = validate_fit_data(self, X, y, sample_weight, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        if y.size and (np.min(y) < 0):
            raise ValueError(f"{type(self).__name__}: y must be >= 0 (Poisson); got a "
                             f"minimum of {np.min(y)}")
        m = X.shape[1]
        theta0 = np.zeros(m + int(self.fit_intercept))
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (m,):
            theta0[:m] = self.coef_
            if self.fit_intercept:
                theta0[m] = self.intercept_
        elif self.fit_intercept:
            mean = np.average(y, weights=w)
            theta0[m] = np.log(mean) if mean > 0 else np.log(np.finfo(float).tiny)
        theta = fit_linear_loss(self, X, y, loss="poisson", sample_weight=w, scale=sw_sum,
                                l2=alpha * sw_sum / 2, theta0=theta0, max_iter=max_iter)
        self.coef_ = theta[:m].copy()
        self.intercept_ = float(theta[m]) if self.fit_intercept else 0.0
        return self

    def _linear_predictor(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          reset=False)
        return safe_sparse_dot(X, self.coef_, dense_output=True) + self.intercept_

    def predict(self, X):
        """The predicted mean exp(Xw + b).

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,)
        """
        return np.exp(self._linear_predictor(X))

    def score(self, X, y, sample_weight=None):
        """D²: the fraction of the Poisson deviance explained (1 is a perfect fit).

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
        sample_weight : array-like, shape (n_samples,), optional

        Returns
        -------
        float
        """
        return float(d2_tweedie_score(y, self.predict(X), sample_weight=sample_weight,
                                      power=1))
