"""mcfast.sklearn's L-BFGS against scipy's L-BFGS-B and known minima."""

import numpy as np
import pytest
from scipy.optimize import minimize, rosen, rosen_der

from mcfast.sklearn._lbfgs import minimize_lbfgs


def test_rosenbrock_minimum():
    x, n_iter, ok = minimize_lbfgs(lambda x: (rosen(x), rosen_der(x)), np.full(6, -1.2),
                                   gtol=1e-10, ftol=0.0, max_iter=1000)
    assert ok and 0 < n_iter < 1000
    np.testing.assert_allclose(x, np.ones(6), rtol=1e-7)


@pytest.mark.parametrize("n", [3, 50, 2000])
def test_quadratic_as_scipy(n):
    rng = np.random.default_rng(n)
    A = rng.standard_normal((n + 5, n))
    H, b = A.T @ A / n + np.eye(n), rng.standard_normal(n)

    def fun(x):
        return 0.5 * x @ H @ x - b @ x, H @ x - b

    x, _, ok = minimize_lbfgs(fun, np.zeros(n), gtol=1e-7, ftol=0.0, max_iter=10_000)
    ref = minimize(fun, np.zeros(n), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-7, "ftol": 0.0, "maxiter": 10_000}).x
    assert ok
    np.testing.assert_allclose(x, np.linalg.solve(H, b), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x, ref, rtol=1e-6, atol=1e-6)


def test_start_at_optimum_and_max_iter():
    fun = lambda x: (0.5 * x @ x, x.copy())     # noqa: E731
    x, n_iter, ok = minimize_lbfgs(fun, np.zeros(3), gtol=1e-8, ftol=0.0, max_iter=5)
    assert ok and n_iter == 0
    x, n_iter, ok = minimize_lbfgs(lambda x: (rosen(x), rosen_der(x)), np.full(6, -1.2),
                                   gtol=1e-10, ftol=0.0, max_iter=2)
    assert not ok and n_iter == 2
