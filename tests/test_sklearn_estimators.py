"""mcfast.sklearn's estimators against scikit-learn's: the same coefficients, refusals."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn.utils.validation", reason="needs scikit-learn")
from sklearn import datasets, linear_model as lm  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import mcfast as mc  # noqa: E402
from mcfast.sklearn import LogisticRegression, PoissonRegressor, Ridge  # noqa: E402

SOLVERS = ["lbfgs", "newton-cholesky"]
TIGHT = {"tol": 1e-10, "max_iter": 10_000}


def assert_same_model(ours, ref, rtol=1e-6):
    """Coefficients and intercepts equal, relative to their largest magnitude."""
    scale = max(np.max(np.abs(ref.coef_)), np.max(np.abs(ref.intercept_)), 1e-300)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=rtol * scale)
    assert np.shape(ours.coef_) == np.shape(ref.coef_)
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_)


def sk_reference(cls, **kw):
    """scikit-learn's model at its tightest: newton-cholesky (Ridge: cholesky)."""
    if cls is lm.Ridge:
        return cls(solver="cholesky", **kw)
    return cls(solver="newton-cholesky", tol=1e-12, max_iter=1000, **kw)


def _breast_cancer():
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _iris():
    return datasets.load_iris(return_X_y=True)


def _diabetes():
    return datasets.load_diabetes(return_X_y=True)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("C", [1.0, 0.05])
def test_logistic_breast_cancer(solver, C):
    X, y = _breast_cancer()
    ours = LogisticRegression(C=C, solver=solver, **TIGHT).fit(X, y)
    ref = sk_reference(lm.LogisticRegression, C=C).fit(X, y)
    assert_same_model(ours, ref)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-7)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.n_iter_.shape == (1,)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_multinomial_iris(solver, fit_intercept):
    X, y = _iris()
    ours = LogisticRegression(solver=solver, fit_intercept=fit_intercept, **TIGHT).fit(X, y)
    ref = sk_reference(lm.LogisticRegression, fit_intercept=fit_intercept).fit(X, y)
    assert_same_model(ours, ref)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-7)
    np.testing.assert_allclose(ours.predict_log_proba(X), ref.predict_log_proba(X),
                               atol=1e-6)
    assert ours.score(X, y) == ref.score(X, y)


@pytest.mark.parametrize("solver", SOLVERS)
def test_multinomial_no_penalty_is_centred(solver):
    X, y = _iris()
    X = StandardScaler().fit_transform(X)[::3]        # separable-ish: keep it small
    ours = LogisticRegression(penalty=None, solver=solver, tol=1e-8,
                              max_iter=10_000).fit(X, y[::3])
    np.testing.assert_allclose(ours.coef_.sum(axis=0), 0, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_.sum(), 0, atol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("alpha", [1.0, 1e-3])
def test_poisson_diabetes(solver, alpha):
    X, y = _diabetes()
    ours = PoissonRegressor(alpha=alpha, solver=solver, **TIGHT).fit(X, y)
    ref = sk_reference(lm.PoissonRegressor, alpha=alpha).fit(X, y)
    assert_same_model(ours, ref)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_diabetes(solver, fit_intercept):
    X, y = _diabetes()
    ours = Ridge(alpha=0.1, fit_intercept=fit_intercept, solver=solver, **TIGHT).fit(X, y)
    ref = sk_reference(lm.Ridge, alpha=0.1, fit_intercept=fit_intercept).fit(X, y)
    assert_same_model(ours, ref)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-6)


def _synthetic(kind, seed=0):
    """Small twins of the benchmark cases (bench/bench_fits.py)."""
    rng = np.random.default_rng(seed)
    if kind == "logistic":
        X = rng.standard_normal((3000, 32))
        z = X @ rng.standard_normal(32) * 0.3
        return X, (rng.random(3000) < 1 / (1 + np.exp(-z))).astype(int)
    if kind == "sparse":
        n, m, per_row = 2000, 150, 10
        cols = rng.integers(0, m, (n, per_row))
        X = sp.csr_matrix((rng.standard_normal(n * per_row), cols.ravel(),
                           np.arange(0, n * per_row + 1, per_row)), shape=(n, m))
        z = X @ rng.standard_normal(m)
        return X, (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    if kind == "multinomial":
        X = rng.standard_normal((1000, 16))
        Z = X @ rng.standard_normal((16, 8)) * 0.3
        return X, np.argmax(Z + rng.gumbel(size=Z.shape), axis=1)
    if kind == "poisson":
        X = rng.standard_normal((3000, 32)) * 0.2
        return X, rng.poisson(np.exp(X @ rng.standard_normal(32) * 0.5 + 0.5))
    if kind == "onehot":
        n, levels = 3000, [20, 10, 5]
        codes = [rng.integers(0, k, n) for k in levels]
        offsets = np.cumsum([0] + levels[:-1])
        cols = np.column_stack([c + o for c, o in zip(codes, offsets)])
        X = sp.csr_matrix((np.ones(cols.size), cols.ravel(),
                           np.arange(0, cols.size + 1, len(levels))), shape=(n, sum(levels)))
        return X, rng.poisson(np.exp(X @ rng.standard_normal(sum(levels)) * 0.3))
    raise ValueError(kind)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", ["logistic", "sparse", "multinomial", "poisson", "onehot"])
def test_synthetic_cases(kind, solver):
    X, y = _synthetic(kind)
    if kind in ("poisson", "onehot"):
        ours = PoissonRegressor(alpha=1e-4, solver=solver, **TIGHT).fit(X, y)
        ref = sk_reference(lm.PoissonRegressor, alpha=1e-4).fit(X, y)
    else:
        ours = LogisticRegression(solver=solver, **TIGHT).fit(X, y)
        ref = sk_reference(lm.LogisticRegression).fit(X, y)
    assert_same_model(ours, ref)


@pytest.mark.parametrize("make", [
    lambda: (LogisticRegression, lm.LogisticRegression, _breast_cancer()),
    lambda: (LogisticRegression, lm.LogisticRegression, _iris()),
    lambda: (PoissonRegressor, lm.PoissonRegressor, _diabetes()),
    lambda: (Ridge, lm.Ridge, _diabetes()),
], ids=["binary", "multinomial", "poisson", "ridge"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_sample_weight(make, solver):
    ours_cls, ref_cls, (X, y) = make()
    w = np.random.default_rng(1).uniform(0.1, 3.0, len(y))
    ours = ours_cls(solver=solver, **TIGHT).fit(X, y, sample_weight=w)
    ref = sk_reference(ref_cls).fit(X, y, sample_weight=w)
    assert_same_model(ours, ref)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("cls", [LogisticRegression, PoissonRegressor, Ridge])
def test_sparse_and_float32_give_the_dense_model(cls, solver):
    X, y = _iris() if cls is LogisticRegression else _diabetes()
    dense = cls(solver=solver, **TIGHT).fit(X, y)
    for X2 in (sp.csr_matrix(X), sp.csc_matrix(X)):
        assert_same_model(cls(solver=solver, **TIGHT).fit(X2, y), dense)
        np.testing.assert_allclose(dense.predict(X), cls(solver=solver, **TIGHT)
                                   .fit(X2, y).predict(X2), rtol=1e-6)
    X32 = X.astype(np.float32)
    ref32 = cls(solver=solver, **TIGHT).fit(X32.astype(np.float64), y)
    ours32 = cls(solver=solver, **TIGHT).fit(X32, y)
    # read in place (its own order of sums), not copied: the same optimum, not the same bits
    assert_same_model(ours32, ref32)
    assert ours32.coef_.dtype == np.float64


@pytest.mark.parametrize("cls", [LogisticRegression, PoissonRegressor, Ridge])
@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start(cls, solver):
    X, y = _iris() if cls is LogisticRegression else _diabetes()
    est = cls(solver=solver, warm_start=True, **TIGHT).fit(X, y)
    coef, first = est.coef_.copy(), np.ravel(est.n_iter_)[0]
    with warnings.catch_warnings():   # tol=1e-10 can lie below the objective's rounding
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert np.ravel(est.n_iter_)[0] <= max(2, first // 4)
    # the same optimum to the suite's 1e-6 (the diabetes Poisson fit is flat enough that
    # a restart at tol=1e-10 may step ~3e-7 along it)
    np.testing.assert_allclose(est.coef_, coef, rtol=0, atol=1e-6 * np.abs(coef).max())


@pytest.mark.parametrize("solver", SOLVERS)
def test_convergence_warning(solver):
    X, y = _breast_cancer()
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        LogisticRegression(solver=solver, max_iter=1).fit(X, y)


@pytest.mark.parametrize("make, match", [
    (lambda: LogisticRegression(penalty="l1"), "penalty='l1'"),
    (lambda: LogisticRegression(penalty="elasticnet"), "penalty='elasticnet'"),
    (lambda: LogisticRegression(l1_ratio=0.5), "l1_ratio=0.5"),
    (lambda: LogisticRegression(C=0.0), "'C'"),
    (lambda: LogisticRegression(C=-1.0), "'C'"),
    (lambda: LogisticRegression(solver="saga"), "solver='saga'"),
    (lambda: LogisticRegression(solver="liblinear"), "solver='liblinear'"),
    (lambda: LogisticRegression(tol=-1.0), "'tol'"),
    (lambda: LogisticRegression(max_iter=-1), "'max_iter'"),
    (lambda: LogisticRegression(max_iter=2.5), "'max_iter'"),
    (lambda: LogisticRegression(fit_intercept="yes"), "'fit_intercept'"),
    (lambda: LogisticRegression(warm_start=None), "'warm_start'"),
    (lambda: PoissonRegressor(alpha=-0.1), "'alpha'"),
    (lambda: PoissonRegressor(alpha="1"), "'alpha'"),
    (lambda: PoissonRegressor(solver="newton-cg"), "solver='newton-cg'"),
    (lambda: PoissonRegressor(max_iter=0), "'max_iter'"),
    (lambda: Ridge(alpha=np.nan), "'alpha'"),
    (lambda: Ridge(solver="auto"), "solver='auto'"),
])
def test_bad_parameters_refused(make, match):
    X, y = _iris()
    with pytest.raises(ValueError, match=match):
        make().fit(X, (y > 0).astype(float) if not isinstance(make(), LogisticRegression)
                   else y)


@pytest.mark.parametrize("cls, kw", [(LogisticRegression, "class_weight"),
                                     (LogisticRegression, "dual"),
                                     (PoissonRegressor, "verbose"),
                                     (Ridge, "positive")])
def test_unsupported_options_are_not_silently_accepted(cls, kw):
    with pytest.raises(TypeError, match=kw):
        cls(**{kw: True})


def test_bad_data_refused():
    X, y = _diabetes()
    with pytest.raises(ValueError, match="y must be >= 0"):
        PoissonRegressor().fit(X, y - 200)
    with pytest.raises(ValueError, match="1d|1-D|column"):
        Ridge().fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(X, np.ones(len(y)))
    with pytest.raises(ValueError, match="[Nn]egative"):
        Ridge().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        LogisticRegression().fit(X, y + 0.5)


def test_import_mcfast_does_not_import_sklearn():
    code = "import sys, mcfast; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_x_is_not_copied(solver):
    """A float32 X is fitted in place under float64 arithmetic: the fit allocates far less
    than the float64 copy of X scikit-learn's solvers make (tracemalloc)."""
    import tracemalloc
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40_000, 64)).astype(np.float32)
    y = (X[:, 0] + rng.standard_normal(40_000) > 0).astype(np.float64)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        est = LogisticRegression(solver=solver).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert est.coef_.dtype == np.float64
    assert peak < 0.25 * X.size * 8, (peak, X.size * 8)


def test_newton_solve_holds_blas_to_one_thread_and_restores_it(monkeypatch):
    """newton-cholesky factorises small systems on one BLAS thread (a multi-threaded
    321² Cholesky took 300-500 ms beside a busy core) and gives the count back."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy.linalg

    from mcfast.sklearn import _solvers
    if not threadpoolctl.threadpool_info():
        pytest.skip("threadpoolctl sees no BLAS")
    seen = []
    factor = scipy.linalg.cho_factor

    def spy(*args, **kwargs):
        seen.append(max(i["num_threads"] for i in threadpoolctl.threadpool_info()
                        if i["user_api"] == "blas"))
        return factor(*args, **kwargs)

    monkeypatch.setattr(_solvers.scipy.linalg, "cho_factor", spy)
    before = threadpoolctl.threadpool_info()
    X, y = _breast_cancer()
    ours = LogisticRegression(solver="newton-cholesky", **TIGHT).fit(X, y)
    assert seen and set(seen) == {1}
    assert threadpoolctl.threadpool_info() == before
    assert_same_model(ours, sk_reference(lm.LogisticRegression).fit(X, y))


def test_newton_forms_no_hessian_where_the_run_ends(monkeypatch):
    """newton-cholesky evaluates a trial point whose step passes the decrement test by
    (loss, gradient) alone: on a fit that ends there, the Hessian is formed once per
    step taken before the last (the start included), and the model is scikit-learn's."""
    X, y = _diabetes()
    calls = {"grad_hess": 0, "hessian": 0}
    for name in calls:
        orig = getattr(mc.LinearLoss, name)

        def counted(self, *a, orig=orig, name=name, **k):
            calls[name] += 1
            return orig(self, *a, **k)
        monkeypatch.setattr(mc.LinearLoss, name, counted)
    ours = PoissonRegressor(solver="newton-cholesky", alpha=1e-3, **TIGHT).fit(X, y)
    assert calls["grad_hess"] + calls["hessian"] <= ours.n_iter_
    ref = sk_reference(lm.PoissonRegressor, alpha=1e-3).fit(X, y)
    assert_same_model(ours, ref)
