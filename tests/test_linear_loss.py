"""linear_loss_grad, LinearLoss and mcfast.losses: reference, finite differences,
scikit-learn, a LogisticRegression fit, float32 accuracy, layouts, rows=, bad input."""

import threading
import tracemalloc

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

import mcfast as mc
import mcfast.lstsq as lstsq_mod
from mcfast import losses
from mcfast._kernels import _engine
from conftest import Snapshot, rtol_for

ref = mc.reference

# (loss name, k): k = None for a 1-D θ; k for squared with Y (n, k) / K classes
LOSSES = [("squared", None), ("logistic", None), ("poisson", None), ("huber", None),
          ("multinomial", 4), ("squared", 3)]
LAYOUTS = ["C", "F", "strided", "csr"]


def _targets(rng, loss, n, k=None):
    if loss == "logistic":
        return rng.integers(0, 2, n).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, n).astype(float)
    if loss == "multinomial":
        return rng.integers(0, k, n)
    shape = (n,) if k is None else (n, k)
    return 2 * rng.standard_normal(shape)


def _design(rng, n, m, layout, dtype, density=1.0):
    """X (n, m) in `layout`, and its plain float64 values."""
    X = rng.standard_normal((n, m))
    if density < 1 or layout == "csr":
        X[rng.random((n, m)) > max(density, 0.3)] = 0
    X = X.astype(dtype)
    if layout == "C":
        return X, X
    if layout == "F":
        return np.asfortranarray(X), X
    if layout == "strided":      # every other column of a wider C array: read in place
        big = np.zeros((n, 2 * m), dtype)
        big[:, ::2] = X
        return big[:, ::2], X
    return sp.csr_matrix(X), X


def _problem(rng, loss, k, n, m, intercept, dtype=np.float64):
    y = _targets(rng, loss, n, k)
    shape = (m + intercept,) if k is None else (m + intercept, k)
    theta = (0.3 * rng.standard_normal(shape)).astype(dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    if loss != "multinomial":
        y = y.astype(dtype)
    return theta, y, w


def _tol(expected, dtype, factor=1.0):
    rtol = rtol_for(dtype) * factor
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
    return dict(rtol=rtol, atol=rtol * max(scale, 1.0))


def _simd_levels():
    """Set each instruction-set level the CPU has in turn; the level in use is restored
    after (also when a check fails)."""
    level, best, _ = _engine.simd_level()
    try:
        for lvl in range(best + 1):
            _engine.set_simd_level(lvl)
            yield lvl
    finally:
        _engine.set_simd_level(level)


def _assert_objective_matches(obj, obj_ref, theta, p, rows, dtype):
    """obj and obj_ref (LinearLoss) agree on the loss, gradient and Hessian product, over
    all rows and over `rows`."""
    for r in (None, rows):
        (a, ga), (b, gb) = obj(theta, rows=r), obj_ref(theta, rows=r)
        np.testing.assert_allclose(a, b, rtol=rtol_for(dtype))
        np.testing.assert_allclose(ga, gb, **_tol(gb, dtype))
        h, h_ref = obj.hessp(theta, p, rows=r), obj_ref.hessp(theta, p, rows=r)
        np.testing.assert_allclose(h, h_ref, **_tol(h_ref, dtype))


# --- against the reference ---------------------------------------------------------------

@pytest.mark.parametrize("loss, k", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("intercept", [False, True])
def test_matches_reference(rng, loss, k, dtype, layout, intercept):
    """Every loss × dtype × layout × intercept, each with and without weights, l2, rows."""
    n, m = 613, 11
    X, _ = _design(rng, n, m, layout, dtype)
    theta, y, w = _problem(rng, loss, k, n, m, intercept, dtype)
    rows = rng.integers(-n, n, 200)
    snap = Snapshot(theta, y, w, rows, *(() if layout == "csr" else (X,)))
    for weights, l2, r in [(None, 0.0, None), (w, 0.7, None), (None, 0.0, rows),
                           (w, 0.3, rows)]:
        kw = dict(loss=loss, sample_weight=weights, l2=l2, fit_intercept=intercept, rows=r)
        got_loss, got = mc.linear_loss_grad(X, theta, y, **kw)
        want_loss, want = ref.linear_loss_grad(X, theta, y, **kw)
        assert got.dtype == dtype and got.shape == theta.shape and type(got_loss) is float
        np.testing.assert_allclose(got_loss, want_loss, rtol=rtol_for(dtype) * 5)
        np.testing.assert_allclose(got, want, **_tol(want, dtype, 5))
    snap.assert_unchanged()


@pytest.mark.parametrize("loss, k", LOSSES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_linear_loss_object_and_hessp_match_reference(rng, loss, k, layout):
    n, m = 407, 9
    X, _ = _design(rng, n, m, layout, np.float64)
    theta, y, w = _problem(rng, loss, k, n, m, True)
    p = rng.standard_normal(theta.shape)
    rows = rng.integers(0, n, 77)
    kw = dict(loss=loss, sample_weight=w, l2=0.4, fit_intercept=True)
    obj, obj_ref = mc.LinearLoss(X, y, **kw), ref.LinearLoss(X, y, **kw)
    _assert_objective_matches(obj, obj_ref, theta, p, rows, np.float64)
    # flat θ and p, as scipy.optimize passes them
    h = obj.hessp(theta.ravel(), p.ravel())
    assert h.shape == (theta.size,)
    np.testing.assert_allclose(h, obj_ref.hessp(theta, p).ravel(), **_tol(h, np.float64))


@pytest.mark.parametrize("loss, k", LOSSES)
def test_every_simd_level_and_thread_count(rng, monkeypatch, loss, k):
    """C and F sources on every instruction-set path, widths around the vector lengths,
    1 to 3 threads; threaded results are bitwise reproducible."""
    n = 30_011
    for m in (3, 8, 17, 33):
        X = rng.standard_normal((n, m))
        theta, y, w = _problem(rng, loss, k, n, m, True)
        want = ref.linear_loss_grad(X, theta, y, loss=loss, sample_weight=w,
                                    fit_intercept=True)
        for _ in _simd_levels():
            for threads in (1, 3):
                monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", threads)
                for Xl in (X, np.asfortranarray(X)):
                    got = mc.linear_loss_grad(Xl, theta, y, loss=loss, sample_weight=w,
                                              fit_intercept=True)
                    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
                    np.testing.assert_allclose(got[1], want[1], **_tol(want[1], np.float64))
                    again = mc.linear_loss_grad(Xl, theta, y, loss=loss, sample_weight=w,
                                                fit_intercept=True)
                    assert again[0] == got[0]
                    np.testing.assert_array_equal(again[1], got[1])


@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson", "huber"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_groups_never_read_past_a_row(rng, loss, dtype):
    """Row slices X = B[:, :m] whose other columns hold NaN and inf, F-ordered
    X = BF[:n, :m] with NaN and inf below and beside it, and contiguous rows (narrow ones:
    several rows to a vector); widths around every vector length
    (the fused row groups load whole vectors and mask what is past the row), short last
    groups, rows=, intercept, weights, Hessian products, every SIMD level: equal to the
    reference on the clean copy. Every whole number of vectors up to four (m = 4 … 64:
    the loops whose row offsets are constants) is among the widths."""
    for m in (1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 40, 48, 64):
        n = 203
        B = np.full((n, m + 5), np.nan, dtype)
        B[:, m + 1::2] = np.inf
        B[:, :m] = rng.standard_normal((n, m))
        # the same rows in F order, inside a taller column-major array
        BF = np.asfortranarray(np.full((n + 9, m + 2), np.nan, dtype))
        BF[n:, :] = np.inf
        BF[:n, :m] = B[:, :m]
        clean = B[:, :m].astype(np.float64)
        theta, y, w = _problem(rng, loss, None, n, m, True, dtype)
        p = rng.standard_normal(theta.shape).astype(dtype)
        rows = rng.integers(0, n, 37)
        kw = dict(loss=loss, sample_weight=w, l2=0.1, fit_intercept=True)
        obj_ref = ref.LinearLoss(clean, y, **kw)
        for X in (B[:, :m], BF[:n, :m], np.ascontiguousarray(B[:, :m])):
            obj = mc.LinearLoss(X, y, **kw)
            for _ in _simd_levels():
                _assert_objective_matches(obj, obj_ref, theta, p, rows, dtype)
        assert np.isnan(B[:, m]).all() and np.isinf(BF[n:]).all()   # inputs untouched


@pytest.mark.parametrize("loss", ["logistic", "poisson"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_runs_of_row_groups(rng, loss, dtype):
    """The costly losses go through the row groups in runs (mc_group.h: a run's products,
    then its losses, then its updates of G; up to 8 groups a run, fewer for wider rows):
    widths giving each run length (8, 4, 2, 1 groups) on the row groups and the packed
    narrow rows, and n from 1 past two runs of 8 groups, so that every length of the
    last run and of its last, short group occurs; rows=, intercept, weights, Hessian
    products, every SIMD level: equal to the reference."""
    vl = 32 // np.dtype(dtype).itemsize                 # rows a group at AVX2
    for m in (1, 4, 8, 16, 32, 64):
        for n in range(1, 2 * 8 * vl + vl + 2, 3):
            X = rng.standard_normal((n, m)).astype(dtype)
            theta, y, w = _problem(rng, loss, None, n, m, True, dtype)
            p = rng.standard_normal(theta.shape).astype(dtype)
            rows = rng.integers(0, n, 2 * n + 1)
            kw = dict(loss=loss, sample_weight=w, l2=0.1, fit_intercept=True)
            obj, obj_ref = mc.LinearLoss(X, y, **kw), ref.LinearLoss(X.astype(np.float64),
                                                                    y, **kw)
            for _ in _simd_levels():
                _assert_objective_matches(obj, obj_ref, theta, p, rows, dtype)


def _view_at(buf, lane, shape, ld):
    """Rows of `shape` with leading dimension ld inside `buf`, starting `lane` elements
    past a 64-byte boundary (NumPy's large arrays start 16 bytes past one)."""
    start = (-(buf.ctypes.data // buf.itemsize) % (64 // buf.itemsize)) + lane
    return np.lib.stride_tricks.as_strided(buf[start:], shape, (ld * buf.itemsize,
                                                                  buf.itemsize))


@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson", "huber"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_off_a_vector_boundary(rng, loss, dtype):
    """Wide rows that all start the same number of lanes past a vector boundary (walked in
    aligned vectors, the lanes outside the row masked), inside a buffer of NaN and inf:
    every lane offset, packed rows and row slices, rows=, intercept, weights, Hessian
    products, every SIMD level: equal to the reference on the clean copy, buffer
    untouched. Also rows too wide for the aligned walk (its fallback)."""
    per_vec = 64 // np.dtype(dtype).itemsize
    n = 45
    wide = _engine.THRESHOLDS["aligned_max"] + 76       # past the aligned walk's widest
    for m, ld in ((40, 40), (64, 64), (72, 80), (130, 144), (256, 256), (wide, wide + 4)):
        clean = rng.standard_normal((n, m)).astype(dtype).astype(np.float64)
        theta, y, w = _problem(rng, loss, None, n, m, True, dtype)
        p = rng.standard_normal(theta.shape).astype(dtype)
        rows = rng.integers(0, n, 19)
        kw = dict(loss=loss, sample_weight=w, l2=0.1, fit_intercept=True)
        obj_ref = ref.LinearLoss(clean, y, **kw)
        for lane in range(per_vec) if m <= 72 else (0, 1, per_vec // 2, per_vec - 1):
            buf = np.full(n * ld + 2 * per_vec + ld, np.inf, dtype)
            buf[1::3] = np.nan
            X = _view_at(buf, lane, (n, m), ld)
            X[...] = clean
            before = buf.copy()
            obj = mc.LinearLoss(X, y, **kw)
            for _ in _simd_levels():
                _assert_objective_matches(obj, obj_ref, theta, p, rows, dtype)
            np.testing.assert_array_equal(buf, before)


def test_thresholds_are_the_engines():
    """THRESHOLDS (mc_limits.h) are the numbers plan() sizes blocks by: the fewest and the
    most rows of a one-output C block, and F order's."""
    t, kinds = _engine.THRESHOLDS, _engine.SOURCE_KINDS
    assert t["narrow_vectors"] >= 1 and t["aligned_max"] > 0
    wide, narrow = t["block_bytes_c"], 1            # 8-byte rows of m = 1, rows of ≥ wide
    assert _engine.plan(kinds["C"], 10**6, wide, 1, 8, 0, 1)[0] == t["group_rows"]
    assert _engine.plan(kinds["C"], 10**6, narrow, 1, 8, 0, 1)[0] == min(
        t["block_rows"], t["block_bytes_c"] // 8)
    assert _engine.plan(kinds["F"], 10**6, narrow, 1, 8, 0, 1)[0] == min(
        t["block_rows_f"], t["block_bytes_f"] // 8)
    assert _engine.plan(kinds["F"], 10**6, 10**6, 1, 8, 0, 1)[0] == t["block_rows_f_min"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multinomial_classes_as_lanes(rng, dtype):
    """Multinomial with K below, at and above every vector length (K ≤ W / 8: the classes
    are one vector's lanes; K ≤ 8: the lanes of two or four vectors below AVX-512; more:
    the block path), C rows with NaN past each row, rows=, intercept, weights, Hessian
    products, every SIMD level: equal to the reference."""
    for K in (2, 3, 4, 5, 7, 8, 9, 16, 17):
        n, m = 157, 13
        B = np.full((n, m + 3), np.nan, dtype)
        B[:, :m] = rng.standard_normal((n, m))
        X, clean = B[:, :m], B[:, :m].astype(np.float64)
        theta, y, w = _problem(rng, "multinomial", K, n, m, True, dtype)
        p = rng.standard_normal(theta.shape).astype(dtype)
        rows = rng.integers(0, n, 41)
        kw = dict(loss="multinomial", sample_weight=w, l2=0.2, fit_intercept=True)
        obj, obj_ref = mc.LinearLoss(X, y, **kw), ref.LinearLoss(clean, y, **kw)
        for _ in _simd_levels():
            _assert_objective_matches(obj, obj_ref, theta, p, rows, dtype)


def test_threaded_result_is_reproducible_under_load(rng, monkeypatch):
    monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", 2)
    X = rng.standard_normal((80_001, 16))
    theta, y, _ = _problem(rng, "logistic", None, 80_001, 16, True)
    first = mc.linear_loss_grad(X, theta, y, loss="logistic", fit_intercept=True)
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            np.abs(X[:2000]).sum()
    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(5):
            loss, grad = mc.linear_loss_grad(X, theta, y, loss="logistic", fit_intercept=True)
            assert loss == first[0]
            np.testing.assert_array_equal(grad, first[1])
    finally:
        stop.set()
        t.join()


# --- the derivative's definition ------------------------------------------------------------

@pytest.mark.parametrize("loss, k", LOSSES)
@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_and_hessp_by_finite_differences(rng, loss, k, sparse):
    """grad against central differences of the loss, hessp against central differences
    of the gradient (huber away from its kinks)."""
    n, m = 60, 5
    X, _ = _design(rng, n, m, "csr" if sparse else "C", np.float64)
    theta, y, w = _problem(rng, loss, k, n, m, True)
    obj = mc.LinearLoss(X, y, loss=loss, sample_weight=w, l2=0.3, fit_intercept=True)
    flat = theta.ravel()
    err = mc.check_grad(lambda t: obj(t)[0], lambda t: obj(t)[1], flat)
    assert err < 1e-6, err
    p = rng.standard_normal(flat.size)
    eps = 1e-5
    fd = (obj(flat + eps * p)[1] - obj(flat - eps * p)[1]) / (2 * eps)
    np.testing.assert_allclose(obj.hessp(flat, p), fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


def test_losses_match_their_definitions():
    """The NumPy formulas of mcfast.losses against the textbook expressions."""
    z = np.linspace(-5, 5, 11)
    y = np.linspace(0, 1, 11)
    np.testing.assert_allclose(losses.Logistic().loss(z, y), np.log1p(np.exp(z)) - y * z)
    np.testing.assert_allclose(losses.Logistic().gradient(z, y), 1 / (1 + np.exp(-z)) - y)
    np.testing.assert_allclose(losses.Poisson().loss(z, 3 * y), np.exp(z) - 3 * y * z)
    r = z - y
    hub = np.where(np.abs(r) <= 2, 0.5 * r * r, 2 * (np.abs(r) - 1))
    np.testing.assert_allclose(losses.Huber(delta=2).loss(z, y), hub)
    Z = np.stack([z, -z, 0 * z], axis=1)
    lab = np.arange(11) % 3
    want = np.log(np.exp(Z).sum(1)) - Z[np.arange(11), lab]
    np.testing.assert_allclose(losses.Multinomial().loss(Z, lab), want)


# --- scikit-learn ---------------------------------------------------------------------------

def _sklearn_loss(name, K):
    sk = pytest.importorskip("sklearn._loss.loss")
    return {"squared": (sk.HalfSquaredError(), 2.0), "logistic": (sk.HalfBinomialLoss(), 1.0),
            "poisson": (sk.HalfPoissonLoss(), 1.0),
            "huber": (sk.HuberLoss(delta=1.0), 1.0),
            "multinomial": (sk.HalfMultinomialLoss(n_classes=K or 3), 1.0)}[name]


@pytest.mark.parametrize("loss, k", LOSSES[:5])
@pytest.mark.parametrize("sparse", [False, True])
def test_equals_scikit_learn_linear_model_loss(rng, loss, k, sparse):
    """scikit-learn averages (Σ w ℓ / Σ w + ½ α‖θ‖²) and halves the squared error;
    mcfast sums: scaled, the two agree."""
    lin = pytest.importorskip("sklearn.linear_model._linear_loss")
    base, factor = _sklearn_loss(loss, k)
    n, m = 300, 7
    X, Xd = _design(rng, n, m, "csr" if sparse else "C", np.float64)
    theta, y, w = _problem(rng, loss, k, n, m, True)
    l2 = 0.8
    sw = w.sum()
    got_loss, got = mc.linear_loss_grad(X, theta, y, loss=loss, sample_weight=w, l2=l2,
                                        fit_intercept=True)
    model = lin.LinearModelLoss(base_loss=base, fit_intercept=True)
    coef = theta.T.copy() if loss == "multinomial" else theta
    # ours / (factor · Σw) = theirs, with their α = 2 l2 / (factor · Σw)
    alpha = 2 * l2 / (factor * sw)
    sk_loss, sk_grad = model.loss_gradient(coef, X, y.astype(np.float64), sample_weight=w,
                                           l2_reg_strength=alpha)
    sk_grad = sk_grad.T if loss == "multinomial" else sk_grad
    np.testing.assert_allclose(got_loss / (factor * sw), sk_loss, rtol=1e-10)
    np.testing.assert_allclose(got / (factor * sw), sk_grad, rtol=1e-9, atol=1e-12)


def test_fit_reproduces_scikit_learn_logistic_regression():
    """A scipy.optimize fit of LinearLoss(loss="logistic") on the breast-cancer data:
    LogisticRegression minimises C Σ ℓ + ½‖w‖², i.e. l2 = 1 / (2C)."""
    datasets = pytest.importorskip("sklearn.datasets")
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = datasets.load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    C = 0.5
    clf = linear_model.LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    obj = mc.LinearLoss(X, y.astype(float), loss="logistic", l2=1 / (2 * C),
                        fit_intercept=True)
    x0 = np.zeros(X.shape[1] + 1)
    for method, extra in [("L-BFGS-B", {}), ("trust-ncg", {"hessp": obj.hessp}),
                          ("Newton-CG", {"hessp": obj.hessp})]:
        res = scipy.optimize.minimize(obj, x0, jac=True, method=method, tol=1e-12, **extra)
        np.testing.assert_allclose(res.x[:-1], clf.coef_[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(res.x[-1], clf.intercept_[0], rtol=1e-4, atol=1e-5)


# --- float32 accuracy, large |z|, IEEE -------------------------------------------------------

@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson"])
def test_float32_accuracy_no_worse_than_numpy(rng, loss):
    """The float32 result's error (against float64) is at most NumPy float32's own."""
    n, m = 200_000, 16
    X = rng.standard_normal((n, m)).astype(np.float32)
    theta, y, _ = _problem(rng, loss, None, n, m, False, np.float32)
    theta *= 0.5
    truth = ref.linear_loss_grad(X.astype(np.float64), theta.astype(np.float64),
                                 y.astype(np.float64), loss=loss)[1]
    got = mc.linear_loss_grad(X, theta, y, loss=loss)[1]
    L = losses.get_loss(loss)
    z = X @ theta                                     # NumPy in float32 throughout
    numpy32 = X.T @ L.gradient(z, y).astype(np.float32)
    err = np.abs(got - truth).max()
    err_np = np.abs(numpy32 - truth).max()
    assert err <= max(err_np, 1e-6 * np.abs(truth).max()), (err, err_np)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stable_for_large_linear_predictions(dtype):
    """|z| up to 700: no overflow in eᶻ, log(1 + eᶻ) or the softmax."""
    X = np.array([[700.0], [-700.0], [1.0]], dtype)
    y = np.array([1.0, 0.0, 1.0], dtype)
    with np.errstate(all="raise"):
        for loss in ("logistic", "huber", "squared"):
            value, grad = mc.linear_loss_grad(X, np.ones(1, dtype), y, loss=loss)
            assert np.isfinite(value) and np.all(np.isfinite(grad)), loss
        value, grad = mc.linear_loss_grad(X, np.ones(1, dtype), y, loss="logistic")
        np.testing.assert_allclose(value, np.log1p(np.exp(-1.0)), rtol=1e-6)
        Xm = np.array([[700.0], [-700.0]], dtype)
        value, grad = mc.linear_loss_grad(Xm, np.array([[1.0, -1.0, 0.0]], dtype),
                                          np.array([0, 2]), loss="multinomial")
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        np.testing.assert_allclose(value, 700.0, rtol=1e-6)
    value, grad = mc.linear_loss_grad(X[:2].astype(np.float64), np.ones(1), y[:2],
                                      loss="poisson")
    np.testing.assert_allclose(value, np.exp(700.0) - 700.0 + np.exp(-700.0), rtol=1e-12)


def test_ieee_ridge_and_empty_sums():
    """l2 = 0 adds no l2·θ (inf stays inf, not NaN); an empty sum is 0 even at θ = inf."""
    loss, grad = mc.lstsq_loss_grad([[1.0]], [np.inf], [0.0])
    assert grad[0] == np.inf and loss == np.inf
    loss, grad = mc.linear_loss_grad(np.zeros((0, 2)), np.array([np.inf, 1.0]), np.zeros(0))
    assert loss == 0.0 and np.array_equal(grad, [0.0, 0.0])
    loss, grad = mc.linear_loss_grad(np.ones((3, 2)), np.array([np.inf, 1.0]), np.zeros(3),
                                     loss="logistic", rows=[])
    assert loss == 0.0 and np.array_equal(grad, [0.0, 0.0])
    loss, grad = mc.linear_loss_grad(np.ones((2, 1)), [np.nan], [1.0, 0.0], loss="logistic")
    assert np.isnan(loss) and np.isnan(grad[0])


# --- layouts, memory, rows ----------------------------------------------------------------

def test_fortran_and_csr_x_are_read_in_place(rng):
    """F-ordered X and CSR X: a call allocates at most 1 % of X (no copy)."""
    X = np.asfortranarray(rng.standard_normal((200_000, 20)))       # 32 MB
    theta, y, _ = _problem(rng, "logistic", None, 200_000, 20, True)
    Xs = sp.random(200_000, 200, density=0.05, format="csr", random_state=1)
    ts = np.zeros(201)
    for args in ((X, theta), (Xs, ts)):
        mc.linear_loss_grad(args[0], args[1], y, loss="logistic", fit_intercept=True)
        tracemalloc.start()
        mc.linear_loss_grad(args[0], args[1], y, loss="logistic", fit_intercept=True)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        nbytes = args[0].nbytes if isinstance(args[0], np.ndarray) else args[0].data.nbytes
        assert peak < 0.01 * nbytes, (peak, nbytes)


def test_rows_any_order_repeats_and_negative(rng):
    X = rng.standard_normal((50, 4))
    theta, y, w = _problem(rng, "poisson", None, 50, 4, True)
    rows = np.array([3, 3, -1, 0, 49, 7, 3])
    got = mc.linear_loss_grad(X, theta, y, loss="poisson", sample_weight=w, rows=rows,
                              fit_intercept=True)
    idx = rows % 50
    want = ref.linear_loss_grad(X[idx], theta, y[idx], loss="poisson", sample_weight=w[idx],
                                fit_intercept=True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    for r in (rows.astype(np.int32), list(rows), rows.astype(np.uint64) % 50):
        mc.linear_loss_grad(X, theta, y, loss="poisson", rows=r, fit_intercept=True)


def test_sparse_formats_and_non_canonical_csr(rng):
    Xd = rng.standard_normal((40, 6))
    Xd[rng.random((40, 6)) < 0.5] = 0
    theta, y, _ = _problem(rng, "logistic", None, 40, 6, False)
    want = ref.linear_loss_grad(Xd, theta, y, loss="logistic")
    for X in (sp.coo_matrix(Xd), sp.csc_array(Xd), sp.csr_array(Xd),
              sp.csr_matrix(Xd.astype(np.float32)), sp.csr_matrix(Xd).astype(np.int64) * 0):
        got = mc.linear_loss_grad(X, theta, y, loss="logistic")
        exp = ref.linear_loss_grad(X, theta, y, loss="logistic")
        np.testing.assert_allclose(got[1], exp[1], **_tol(exp[1], got[1].dtype))
    # duplicates and unsorted indices are summed, as scipy does
    coo = sp.coo_matrix((np.array([1.0, 2.0, 3.0]), (np.array([0, 0, 1]), np.array([2, 2, 0]))),
                        shape=(2, 3))
    dup = sp.csr_matrix((coo.data, (coo.row, coo.col)), shape=(2, 3))
    raw = sp.csr_matrix((np.array([2.0, 1.0, 3.0]), np.array([2, 2, 0]), np.array([0, 2, 3])),
                        shape=(2, 3))
    t3 = np.array([0.5, -1.0, 0.25])
    for X in (dup, raw):
        got = mc.linear_loss_grad(X, t3, np.array([1.0, 0.0]), loss="logistic")
        want = ref.linear_loss_grad(X.toarray(), t3, np.array([1.0, 0.0]), loss="logistic")
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    del want


def test_lstsq_accepts_sparse_and_reads_f_order_in_place(rng):
    X = rng.standard_normal((300, 8))
    theta, y = rng.standard_normal(8), rng.standard_normal(300)
    want = ref.lstsq_loss_grad(X, theta, y)
    for Xl in (sp.csr_matrix(X), sp.csc_matrix(X), np.asfortranarray(X)):
        got = mc.lstsq_loss_grad(Xl, theta, y)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-11)
        np.testing.assert_allclose(mc.lstsq_grad(Xl, theta, y), want[1], rtol=1e-11)
    obj = mc.LeastSquares(sp.csr_matrix(X), y, l2=0.5)
    np.testing.assert_allclose(obj(theta)[1], ref.LeastSquares(X, y, l2=0.5)(theta)[1],
                               rtol=1e-11)


def test_out_and_non_native_inputs(rng):
    X = rng.standard_normal((30, 3))
    theta, y, w = _problem(rng, "huber", None, 30, 3, True)
    want = ref.linear_loss_grad(X, theta, y, loss="huber", sample_weight=w, fit_intercept=True)
    out = np.full(4, np.nan)
    got = mc.linear_loss_grad(X.astype(">f8"), theta.astype(">f8"), y.astype(">f8"),
                              loss=losses.Huber(), sample_weight=w.astype(">f8"),
                              fit_intercept=True, out=out)
    assert got[1] is out
    np.testing.assert_allclose(out, want[1], rtol=1e-12)
    t2 = theta.copy()                       # out overlapping θ
    got = mc.linear_loss_grad(X, t2, y, loss="huber", sample_weight=w, fit_intercept=True,
                              out=t2)
    np.testing.assert_allclose(t2, want[1], rtol=1e-12)
    ro = np.array(X)
    ro.flags.writeable = False
    mc.linear_loss_grad(ro, theta, y, loss="huber", fit_intercept=True)


def test_huber_delta_and_loss_instances(rng):
    X = rng.standard_normal((100, 3))
    theta, y, _ = _problem(rng, "huber", None, 100, 3, False)
    for delta in (0.1, 1.0, 5.0):
        got = mc.linear_loss_grad(X, theta, y, loss=losses.Huber(delta=delta))
        want = ref.linear_loss_grad(X, theta, y, loss=losses.Huber(delta=delta))
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert mc.linear_loss_grad(X, theta, y, loss="huber")[0] == \
        mc.linear_loss_grad(X, theta, y, loss=losses.Huber(1.0))[0]


def test_zero_size(rng):
    for n, m in [(0, 3), (5, 0), (0, 0)]:
        X = np.zeros((n, m))
        for loss, k in LOSSES:
            theta, y, w = _problem(rng, loss, k, n, m, True)
            got = mc.linear_loss_grad(X, theta, y, loss=loss, sample_weight=w, l2=0.5,
                                      fit_intercept=True)
            want = ref.linear_loss_grad(X, theta, y, loss=loss, sample_weight=w, l2=0.5,
                                        fit_intercept=True)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
            np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-15)


# --- bad input ------------------------------------------------------------------------------

BAD = [
    (dict(loss="hinge"), ValueError, "unknown loss"),
    (dict(loss=losses.Loss()), ValueError, "unknown loss"),
    (dict(loss="logistic", y=np.array([0.0, 1.5, 0.0, 1.0])), ValueError, "y must lie in"),
    (dict(loss="poisson", y=np.array([0.0, -1.0, 0.0, 1.0])), ValueError, "y must be >= 0"),
    (dict(loss="multinomial", y=np.array([0, 1, 2, 3]), theta=np.zeros((3, 3))), ValueError,
     "labels in 0 ... 2"),
    (dict(loss="multinomial", y=np.array([0, 1.5, 2, 0]), theta=np.zeros((3, 3))),
     ValueError, "integer class labels"),
    (dict(loss="multinomial", y=np.array([0, 1, 2, 0]), theta=np.zeros(3)), ValueError,
     "theta has shape"),
    (dict(l2=-1.0), ValueError, "l2 must be >= 0"),
    (dict(l2="a"), TypeError, "l2 must be a real number"),
    (dict(rows=[0, 4]), IndexError, "rows"),
    (dict(rows=[0.5]), IndexError, "rows"),
    (dict(rows=[[0]]), IndexError, "rows"),
    (dict(theta=np.zeros(2)), ValueError, "theta has shape"),
    (dict(theta=np.zeros(3), fit_intercept=True), ValueError, "intercept"),
    (dict(y=np.zeros(3)), ValueError, "y.shape"),
    (dict(sample_weight=np.ones(3)), ValueError, "sample_weight"),
    (dict(X=sp.csr_matrix(np.ones((4, 3)) * 1j)), TypeError, "argument 'X' is sparse"),
    (dict(X=np.ones((4, 3)) * 1j), TypeError, "argument 'X'"),
    (dict(X=None), TypeError, "argument 'X' is None"),
    (dict(y=None), TypeError, "argument 'y' is None"),
    (dict(fit_intercept="yes"), TypeError, "fit_intercept"),
    (dict(out=np.zeros(2)), ValueError, "out"),
    (dict(loss="logistic", y=np.zeros((4, 1))), ValueError, "y must be 1-D"),
]


@pytest.mark.parametrize("change, exc, match", BAD)
def test_bad_input_is_named_before_any_kernel(change, exc, match):
    args = dict(X=np.ones((4, 3)), theta=np.zeros(3), y=np.zeros(4))
    kw = {k: change[k] for k in change if k not in args}
    args.update({k: change[k] for k in change if k in args})
    out = kw.get("out")
    for f in (mc.linear_loss_grad, ref.linear_loss_grad):
        with pytest.raises(exc, match=match) as info:
            f(args["X"], args["theta"], args["y"], **kw)
        assert "linear_loss_grad" in str(info.value)
    if out is not None:
        assert np.all(out == 0)


def test_bad_input_to_linear_loss():
    X, y = np.ones((4, 3)), np.array([0.0, 1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="LinearLoss: y must lie in"):
        mc.LinearLoss(X, 2 * y, loss="logistic")
    with pytest.raises(ValueError, match="Huber: delta"):
        losses.Huber(delta=0.0)
    obj = mc.LinearLoss(X, y, loss="logistic", fit_intercept=True)
    with pytest.raises(ValueError, match="LinearLoss: theta has shape"):
        obj(np.zeros(3))
    with pytest.raises(ValueError, match="LinearLoss: p has shape"):
        obj.hessp(np.zeros(4), np.zeros(5))
    with pytest.raises(IndexError, match="LinearLoss: rows"):
        obj(np.zeros(4), rows=[9])


def test_malformed_csr_is_refused_not_read_out_of_bounds():
    bad = sp.csr_matrix((np.array([1.0, 2.0]), np.array([0, 7]), np.array([0, 1, 2])),
                        shape=(2, 3), copy=False)
    bad.indices[1] = 7                        # scipy itself would refuse to build it
    with pytest.raises(ValueError, match="column indices"):
        mc.linear_loss_grad(bad, np.zeros(3), np.zeros(2))
    bad = sp.csr_matrix(np.eye(3))
    bad.indptr[1] = 5
    with pytest.raises(ValueError, match="indptr"):
        mc.linear_loss_grad(bad, np.zeros(3), np.zeros(3))


def test_rows_domain_checked_on_the_minibatch_only():
    """With rows=, y's domain is checked on y[rows] (a minibatch costs O(len(rows)))."""
    X = np.ones((4, 2))
    y = np.array([0.0, 1.0, 5.0, 1.0])          # y[2] outside [0, 1]
    for f in (mc.linear_loss_grad, ref.linear_loss_grad):
        f(X, np.zeros(2), y, loss="logistic", rows=[0, 1, 3])
        with pytest.raises(ValueError, match="y must lie in"):
            f(X, np.zeros(2), y, loss="logistic", rows=[0, 2])
        with pytest.raises(ValueError, match="y must lie in"):
            f(X, np.zeros(2), y, loss="logistic")
    labels = np.array([0, 1, 7, 1])
    mc.linear_loss_grad(X, np.zeros((2, 2)), labels, loss="multinomial", rows=[0, 1])
    with pytest.raises(ValueError, match="labels in 0 ... 1"):
        mc.linear_loss_grad(X, np.zeros((2, 2)), labels, loss="multinomial", rows=[2])


@pytest.mark.parametrize("loss, bad", [("logistic", 1.5), ("logistic", -0.5),
                                       ("poisson", -1.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_domain_check_on_strided_y_negative_rows_and_nan(loss, bad, dtype):
    """The minibatch's domain check (compiled, y[rows] not gathered) decides as the check
    of the gathered targets y[rows] does: on strided and float32 y, with negative rows,
    and with a NaN, which passes (it propagates to the loss) even beside a bad target."""
    X = np.ones((6, 2), dtype)
    yy = np.zeros((6, 2), dtype)
    yy[:, 0] = [0.0, 1.0, bad, np.nan, 0.5, 1.0]
    y = yy[:, 0]                                   # a strided view
    assert not y.flags.c_contiguous
    theta = np.zeros(2, dtype)
    for rows in ([0, 1, 4], [-1, -2], [3], [0, 3, 5], [0, 2, 3], np.array([4, 0], np.uint64)):
        got = mc.linear_loss_grad(X, theta, y, loss=loss, rows=rows)
        gathered = mc.linear_loss_grad(X[rows], theta, y[rows], loss=loss)
        np.testing.assert_array_equal(got[1], gathered[1])
        assert np.isnan(got[0]) == (3 in np.asarray(rows) % 6)
    for rows in ([2], [0, 2, 4], [4, 2], [-4], np.array([2], np.int32)):
        for f in (mc.linear_loss_grad, ref.linear_loss_grad):
            with pytest.raises(ValueError, match="y must"):
                f(X, theta, y, loss=loss, rows=rows)
        with pytest.raises(ValueError, match="y must"):     # the same rule without rows=
            mc.linear_loss_grad(X[rows], theta, y[rows], loss=loss)


def test_rows_past_the_index_range_are_refused_not_wrapped():
    """uint64 row numbers past intp's range would wrap to negative indices (counted from
    the end) if cast first: they are refused, as are indices out of either end."""
    X, y = np.ones((4, 2)), np.zeros(4)
    for rows in (np.array([2**64 - 1], np.uint64), np.array([2**63], np.uint64), [4], [-5],
                 np.array([0, 2**63 - 1], np.int64)):
        with pytest.raises(IndexError, match="rows holds indices"):
            mc.linear_loss_grad(X, np.zeros(2), y, rows=rows)


def test_extremes_helpers_refuse_what_they_cannot_read():
    """_engine.index_extremes / take_extremes: the rows= checks' compiled passes."""
    from mcfast._kernels import _engine
    r = np.array([3, -2, 7], np.intp)
    assert _engine.index_extremes(r) == (-2, 7)
    assert _engine.index_extremes(np.zeros(0, np.intp)) == (0, -1)
    y = np.array([0.5, np.nan, -1.0, 2.0])
    assert _engine.take_extremes(y, np.array([0, 2, 0], np.intp)) == (-1.0, 0.5)
    assert np.isnan(_engine.take_extremes(y, np.array([0, 1, 2], np.intp))).all()
    assert _engine.take_extremes(y, np.array([], np.intp)) == (np.inf, -np.inf)
    assert _engine.take_extremes(y[::2].astype(np.float32), np.array([1], np.intp)) \
        == (-1.0, -1.0)
    for bad_y, bad_r in ((y, np.array([4], np.intp)), (y, np.array([-1], np.intp)),
                         (y, np.array([0], np.int32)), (y, np.array([[0]], np.intp)),
                         (y.astype(">f8"), np.array([0], np.intp)),
                         (np.arange(4), np.array([0], np.intp)),
                         (np.ones((2, 2)), np.array([0], np.intp))):
        with pytest.raises(ValueError):
            _engine.take_extremes(bad_y, bad_r)
    for bad_r in (np.array([0], np.int32), np.array([[0]], np.intp), np.arange(6)[::2]):
        with pytest.raises(ValueError):
            _engine.index_extremes(bad_r)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 3, 5, 200_003])
def test_value_extremes_are_numpys_or_none(dtype, n):
    """_engine.value_extremes (a loss's domain check of a whole y, one threaded pass) gives
    NumPy's min and max, on strided views too, and None (NumPy decides) for NaN or inf."""
    from mcfast._kernels import _engine
    rng = np.random.default_rng(n)
    base = rng.standard_normal(2 * n).astype(dtype)
    for y in (base[:n], base[::2], base[n:][::-1]):
        assert _engine.value_extremes(y) == (y.min(), y.max())
        for bad in (np.nan, np.inf, -np.inf):
            z = y.copy()
            z[rng.integers(0, n)] = bad
            assert _engine.value_extremes(z) is None
    for other in (base.astype(np.int64), base.astype(">f8"), base.reshape(2, n), [1.0],
                  base[:0]):
        assert _engine.value_extremes(other) is None
    # and the domain checks built on it decide as before
    yl = (base[:n] > 0).astype(dtype)
    losses.get_loss("logistic").check_y(yl, "f")
    yl[-1] = 2
    with pytest.raises(ValueError, match="y must lie in"):
        losses.get_loss("logistic").check_y(yl, "f")
    yl[0] = np.nan                               # (NaN passes: it propagates)
    losses.get_loss("logistic").check_y(yl, "f")
    yl[0] = np.inf
    with pytest.raises(ValueError, match="y must lie in"):
        losses.get_loss("logistic").check_y(yl, "f")
