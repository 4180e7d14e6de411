"""LogisticRegression: scikit-learn's L2-penalised binary and multinomial model on mcfast."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._base import check_param, check_solver_params, fit_linear_loss, validate_fit_data

__all__ = ["LogisticRegression"]


def _encode(y):
    """The sorted classes of y and each sample's class index (intp), y checked to hold
    classes (scikit-learn's test, run on the classes: the same verdict for a 1-D y, at
    the cost of K values instead of a second sort of y)."""
    classes = np.unique(y)
    check_classification_targets(classes)
    if len(classes) == 2:
        return classes, (y == classes[1]).astype(np.intp)
    return classes, np.searchsorted(classes, y)


def _intercept_start(labels, w, K):
    """The intercept-only optimum without penalty, as glum starts: the logit of the
    weighted share of class 1 (binary) or the centred log shares of the K classes,
    each share kept in [1e-10, 1 − 1e-10]."""
    share = np.bincount(labels, weights=w, minlength=K)
    share = np.clip(share / share.sum(), 1e-10, 1 - 1e-10)
    if K == 2:
        return np.log(share[1] / share[0])
    return np.log(share) - np.log(share).mean()


class LogisticRegression(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression (binary, or multinomial for 3 or more classes) with an L2
    penalty, fitted by mcfast's one-pass loss engine; scikit-learn's parameters.

    Minimises, as `sklearn.linear_model.LogisticRegression` does,

    .. math:: C \\sum_i s_i\\, \\ell(x_i^\\top w + b, y_i) + \\tfrac12 \\|w\\|^2

    (ℓ the binomial or multinomial log-loss, s the sample weights, b unpenalised): in
    mcfast's sum form ``LinearLoss(..., l2=1 / (2 C))``. The solvers work on that
    objective divided by C Σ sᵢ, scikit-learn's scaling, so ``tol`` means what it means
    there: the bound on the largest absolute gradient entry of the mean-scaled objective.

    Parameters
    ----------
    penalty : {"l2", None}, default="l2"
        "l2", or None for no penalty (as ``C=np.inf``). "l1" and "elasticnet" are refused.
    C : float, default=1.0
        Inverse of the penalty's strength, > 0 (``np.inf``: no penalty).
    l1_ratio : float, default=0.0
        Only 0 (or None) is supported: an L1 part is refused, never dropped.
    tol : float, default=1e-4
        Stop when the largest absolute gradient entry of the mean-scaled objective is <= tol (lbfgs: L-BFGS-B's
        ``gtol``; newton-cholesky: also ½ of the Newton decrement <= tol).
    fit_intercept : bool, default=True
        Fit unpenalised intercepts.
    solver : {"lbfgs", "newton-cholesky"}, default="lbfgs"
        L-BFGS (L-BFGS-B's tests) on (loss, gradient) in one pass over X per
        evaluation, started at the intercept-only optimum, or Newton's
        method on the Hessian formed in one pass (memory (m K)², for m up to a few
        thousand).
    max_iter : int, default=100
        Most iterations of the solver.
    warm_start : bool, default=False
        Start from the previous fit's ``coef_`` and ``intercept_`` (when they fit).

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        The labels.
    coef_ : ndarray, shape (1, n_features) (binary) or (n_classes, n_features)
        Coefficients.
    intercept_ : ndarray, shape (1,) or (n_classes,)
        Intercepts (zeros without ``fit_intercept``); multinomial ones sum to 0.
    n_iter_ : ndarray, shape (1,)
        Iterations the solver ran.
    n_features_in_ : int
        Columns of X seen in ``fit``.
    feature_names_in_ : ndarray of str
        X's column names, when X had them.

    Notes
    -----
    X in float32 is read in place under float64 arithmetic (no copy of X).
    Multinomial coefficients follow scikit-learn's symmetric convention: the
    intercepts, and without a penalty the coefficients too, are centred over classes.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from mcfast.sklearn import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=1000).fit(X, y)
    >>> clf.coef_.shape, round(clf.score(X, y), 2)
    ((3, 4), 0.97)
    """

    _n_iter_array = True

    def __init__(self, penalty="l2", *, C=1.0, l1_ratio=0.0, tol=1e-4, fit_intercept=True,
                 solver="lbfgs", max_iter=100, warm_start=False):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.warm_start = warm_start

    def _l2(self):
        """mcfast's l2 from ``penalty``, ``C`` and ``l1_ratio``, refusing what is not L2."""
        name = type(self).__name__
        if self.penalty not in ("l2", None):
            raise ValueError(f"{name}: penalty={self.penalty!r} is not supported (only "
                             "'l2' and None); use sklearn.linear_model.LogisticRegression "
                             "with solver='saga' for L1 or elastic-net penalties")
        if self.l1_ratio not in (0, None):
            raise ValueError(f"{name}: l1_ratio={self.l1_ratio!r} is not supported (only 0: "
                             "an L2 penalty)")
        C = check_param(self, "C", "real", low=0, low_open=True)
        return 0.0 if self.penalty is None or np.isinf(C) else 1.0 / (2.0 * C)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)
            Training data (dense or sparse; float32 is read in place, the arithmetic is float64).
        y : array-like, shape (n_samples,)
            Class labels.
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights of the samples.

        Returns
        -------
        self : LogisticRegression
        """
        check_solver_params(self)
        max_iter = check_param(self, "max_iter", "int", low=0)
        l2 = self._l2()
        X, y, w, sw_sum = validate_fit_data(self, X, y, sample_weight, y_numeric=False)
        self.classes_, labels = _encode(y)
        K = len(self.classes_)
        if K < 2:
            raise ValueError(f"{type(self).__name__}: needs samples of at least 2 classes in "
                             f"the data, but the data contain only one class: "
                             f"{self.classes_[0]!r}")
        m, rows = X.shape[1], X.shape[1] + int(self.fit_intercept)
        shape = (rows,) if K == 2 else (rows, K)
        theta0 = np.zeros(shape)
        if self.warm_start and hasattr(self, "coef_"):
            old = np.vstack([self.coef_.T, self.intercept_[None, :]])[:rows]
            if old.size == theta0.size:
                theta0 = old.reshape(shape).astype(np.float64)
        elif self.fit_intercept:
            theta0[m] = _intercept_start(labels, w, K)
        # C Σ s ℓ + ½‖w‖² = C (Σ s ℓ + l2‖w‖²): the solvers see it divided by C Σ s
        theta = fit_linear_loss(self, X, labels.astype(np.float64),
                                loss="logistic" if K == 2 else "multinomial",
                                sample_weight=w, scale=sw_sum, l2=l2, theta0=theta0,
                                max_iter=max_iter)
        if K == 2:
            theta = theta[:, None]
        elif l2 == 0:
            theta = theta - theta.mean(axis=1, keepdims=True)
        elif self.fit_intercept:
            theta[m] -= theta[m].mean()
        self.coef_ = np.ascontiguousarray(theta[:m].T)
        self.intercept_ = theta[m].copy() if self.fit_intercept else np.zeros(theta.shape[1])
        return self

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        d = self.decision_function(X)
        if d.ndim == 1:
            p = expit(d)
            return np.column_stack([1 - p, p])
        return softmax(d, axis=1)

    def predict_log_proba(self, X):
        """Logarithms of the class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        d = self.decision_function(X)
        if d.ndim == 1:
            d = np.column_stack([np.zeros_like(d), d])
        return log_softmax(d, axis=1)
