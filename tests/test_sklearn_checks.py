"""scikit-learn's own estimator checks on mcfast.sklearn's estimators."""

import pytest

pytest.importorskip("sklearn.utils.validation", reason="needs scikit-learn")
estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")

from mcfast.sklearn import LogisticRegression, PoissonRegressor, Ridge  # noqa: E402

ESTIMATORS = [LogisticRegression(), LogisticRegression(solver="newton-cholesky"),
              PoissonRegressor(), PoissonRegressor(solver="newton-cholesky"),
              Ridge(), Ridge(solver="newton-cholesky")]


@estimator_checks.parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
