"""LinearLoss.hessian and grad_hess: the NumPy formula, finite differences of the
gradient, the reference, layouts, rows=, float32, thread counts, bad input."""

import numpy as np
import pytest
import scipy.sparse as sp

import mcfast as mc
import mcfast.lstsq as lstsq_mod
from conftest import Snapshot, rtol_for
from test_linear_loss import LOSSES, LAYOUTS, _design, _problem, _tol

ref = mc.reference


def _fd_hessian(obj, flat, eps=1e-6):
    """Central differences of the gradient, one column per coordinate of flat θ."""
    cols = [(obj(flat + eps * e)[1] - obj(flat - eps * e)[1]) / (2 * eps)
            for e in np.eye(flat.size)]
    return np.array(cols).T


@pytest.mark.parametrize("loss, k", LOSSES)
@pytest.mark.parametrize("sparse", [False, True])
def test_hessian_by_finite_differences_of_the_gradient(rng, loss, k, sparse):
    """Every loss, the multinomial (mK) × (mK) layout included: H[j*K + c, j2*K + k]
    against differences of the C-order flattened gradient."""
    n, m = 80, 5
    X, _ = _design(rng, n, m, "csr" if sparse else "C", np.float64)
    theta, y, w = _problem(rng, loss, k, n, m, True)
    obj = mc.LinearLoss(X, y, loss=loss, sample_weight=w, l2=0.3, fit_intercept=True)
    flat = theta.ravel()
    H = obj.hessian(flat)
    fd = _fd_hessian(obj, flat)
    assert H.shape == (flat.size, flat.size)
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
    np.testing.assert_array_equal(H, H.T)
    np.testing.assert_array_equal(obj.hessian(theta), H)


@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson", "huber"])
@pytest.mark.parametrize("intercept", [False, True])
def test_hessian_is_the_numpy_formula(rng, loss, intercept):
    """Xᵀ diag(w ∘ ℓ″) X (+ the intercept's row and column) + 2 l2 on the coefficients."""
    n, m = 300, 7
    X = rng.standard_normal((n, m))
    theta, y, w = _problem(rng, loss, None, n, m, intercept)
    w[::7] = 0.0                                  # zero weights
    l2 = 0.6
    obj = mc.LinearLoss(X, y, loss=loss, sample_weight=w, l2=l2, fit_intercept=intercept)
    z = X @ theta[:m] + (theta[m] if intercept else 0.0)
    d2 = {"squared": lambda: np.full(n, 2.0),
          "logistic": lambda: np.exp(-np.logaddexp(0, z) - np.logaddexp(0, -z)),
          "poisson": lambda: np.exp(z),
          "huber": lambda: (np.abs(z - y) <= 1.0).astype(float)}[loss]()
    X1 = np.hstack([X, np.ones((n, 1))]) if intercept else X
    want = X1.T @ ((w * d2)[:, None] * X1)
    want[np.arange(m), np.arange(m)] += 2 * l2
    np.testing.assert_allclose(obj.hessian(theta), want, rtol=1e-12,
                               atol=1e-12 * np.abs(want).max())


def test_multinomial_block_form(rng):
    """H = Σ_i (x_i x_iᵀ) ⊗ w_i (diag(p_i) − p_i p_iᵀ) on θ flattened in C order."""
    n, m, K = 200, 4, 3
    X = rng.standard_normal((n, m))
    theta, y, w = _problem(rng, "multinomial", K, n, m, False)
    obj = mc.LinearLoss(X, y, loss="multinomial", sample_weight=w)
    z = X @ theta
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want = sum(np.kron(np.outer(x, x), wi * (np.diag(pi) - np.outer(pi, pi)))
               for x, pi, wi in zip(X, p, w))
    np.testing.assert_allclose(obj.hessian(theta), want, rtol=1e-12,
                               atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("loss, k", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_matches_reference(rng, loss, k, dtype, layout):
    """Every loss × dtype × layout, with and without intercept, weights, l2, rows=."""
    n, m = 613, 11
    X, _ = _design(rng, n, m, layout, dtype)
    rows = rng.integers(-n, n, 200)
    for intercept, weights, l2, r in [(False, False, 0.0, None), (True, True, 0.7, None),
                                      (False, True, 0.0, rows), (True, False, 0.3, rows)]:
        theta, y, w = _problem(rng, loss, k, n, m, intercept, dtype)
        snap = Snapshot(theta, y, w, rows, *(() if layout == "csr" else (X,)))
        kw = dict(loss=loss, sample_weight=w if weights else None, l2=l2,
                  fit_intercept=intercept)
        obj, obj_ref = mc.LinearLoss(X, y, **kw), ref.LinearLoss(X, y, **kw)
        want = obj_ref.hessian(theta, rows=r)
        got = obj.hessian(theta, rows=r)
        assert got.dtype == dtype and got.shape == (theta.size, theta.size)
        np.testing.assert_allclose(got, want, **_tol(want, dtype, 5))
        value, grad, hess = obj.grad_hess(theta, rows=r)
        want_value, want_grad = obj_ref(theta, rows=r)
        assert type(value) is float and grad.shape == theta.shape and grad.dtype == dtype
        np.testing.assert_allclose(value, want_value, rtol=rtol_for(dtype) * 5)
        np.testing.assert_allclose(grad, want_grad, **_tol(want_grad, dtype, 5))
        np.testing.assert_array_equal(hess, got)
        snap.assert_unchanged()


def test_float32_x_uses_float64_arithmetic(rng):
    """float32 X, θ, y: the Hessian is the float64 Hessian of the float32 data, rounded."""
    n, m = 5000, 6
    X = rng.standard_normal((n, m)).astype(np.float32)
    y = rng.integers(0, 2, n).astype(np.float32)
    theta = (0.3 * rng.standard_normal(m)).astype(np.float32)
    got = mc.LinearLoss(X, y, loss="logistic").hessian(theta)
    want = mc.LinearLoss(X.astype(np.float64), y.astype(np.float64),
                         loss="logistic").hessian(theta.astype(np.float64))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=2e-7,
                               atol=2e-7 * np.abs(want).max())


@pytest.mark.parametrize("loss, k", LOSSES)
def test_thread_count_does_not_change_the_result(rng, monkeypatch, loss, k):
    """Bitwise the same Hessian on 1, 2 and 3 threads, C and F order, m around the
    block widths."""
    n = 20_011
    for m in (3, 33):
        X = rng.standard_normal((n, m))
        theta, y, w = _problem(rng, loss, k, n, m, True)
        want = ref.LinearLoss(X, y, loss=loss, sample_weight=w,
                              fit_intercept=True).hessian(theta)
        for Xl in (X, np.asfortranarray(X)):
            obj = mc.LinearLoss(Xl, y, loss=loss, sample_weight=w, fit_intercept=True)
            first = None
            for threads in (1, 2, 3):
                monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", threads)
                got = obj.grad_hess(theta)
                np.testing.assert_allclose(got[2], want, **_tol(want, np.float64, 10))
                if first is None:
                    first = got
                assert got[0] == first[0]
                np.testing.assert_array_equal(got[1], first[1])
                np.testing.assert_array_equal(got[2], first[2])


def test_negative_and_zero_weights_and_empty_rows(rng):
    n, m = 500, 4
    X = rng.standard_normal((n, m))
    theta, y, w = _problem(rng, "logistic", None, n, m, True)
    w[::3] = -w[::3]
    w[1::5] = 0
    kw = dict(loss="logistic", sample_weight=w, l2=0.5, fit_intercept=True)
    obj, obj_ref = mc.LinearLoss(X, y, **kw), ref.LinearLoss(X, y, **kw)
    want = obj_ref.hessian(theta)
    np.testing.assert_allclose(obj.hessian(theta), want, rtol=1e-12,
                               atol=1e-12 * np.abs(want).max())
    empty = obj.hessian(theta, rows=[])
    np.testing.assert_array_equal(empty, np.diag([1.0, 1, 1, 1, 0]))
    for shape in [(0, 3), (4, 0)]:
        Xe = np.zeros(shape)
        ye = np.zeros(shape[0])
        o = mc.LinearLoss(Xe, ye, l2=0.5, fit_intercept=True)
        want = ref.LinearLoss(Xe, ye, l2=0.5, fit_intercept=True).hessian(
            np.zeros(shape[1] + 1))
        np.testing.assert_allclose(o.hessian(np.zeros(shape[1] + 1)), want, rtol=1e-15)


def test_sparse_formats_and_wide_sparse(rng):
    """CSC / COO converted once; a sparse X with more columns than a block holds."""
    n, m = 300, 150
    X = sp.random(n, m, density=0.05, random_state=1, format="csr")
    y = rng.integers(0, 2, n).astype(float)
    theta = 0.1 * rng.standard_normal(m + 1)
    want = ref.LinearLoss(X, y, loss="logistic", fit_intercept=True).hessian(theta)
    for Xs in (X, X.tocsc(), X.tocoo()):
        got = mc.LinearLoss(Xs, y, loss="logistic", fit_intercept=True).hessian(theta)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_bad_input_is_named():
    X, y = np.ones((4, 3)), np.array([0.0, 1.0, 0.0, 1.0])
    obj = mc.LinearLoss(X, y, loss="logistic", fit_intercept=True)
    for f in (obj.hessian, lambda t, rows=None: obj.grad_hess(t, rows)):
        with pytest.raises(ValueError, match="LinearLoss: theta has shape"):
            f(np.zeros(3))
        with pytest.raises(IndexError, match="LinearLoss: rows"):
            f(np.zeros(4), rows=[9])
        with pytest.raises(TypeError, match="LinearLoss: argument 'theta' is None"):
            f(None)
        with pytest.raises(TypeError, match="theta"):
            f(np.zeros(4) * 1j)


@pytest.mark.parametrize("loss, k", LOSSES)
@pytest.mark.parametrize("layout", ["C", "F", "csr"])
def test_float32_x_under_float64_arithmetic(rng, loss, k, layout):
    """LinearLoss(float32 X, dtype=float64): the float64 Hessian, gradient and loss of a
    float64 copy of X (equal to float64 rounding), with float32 y and weights and rows=;
    X is read in place (tracemalloc: far less than a copy of X is allocated)."""
    import tracemalloc
    n, m = 4000, 6
    X, _ = _design(rng, n, m, layout, np.float32)
    theta, y, w = _problem(rng, loss, k, n, m, True)
    X64 = X.astype(np.float64)
    rows = rng.integers(0, n, 700)
    kw = dict(loss=loss, l2=0.2, fit_intercept=True)
    mixed = mc.LinearLoss(X, y.astype(np.float32), sample_weight=w.astype(np.float32),
                          dtype=np.float64, **kw)
    full = mc.LinearLoss(X64, y.astype(np.float32).astype(np.float64),
                         sample_weight=w.astype(np.float32).astype(np.float64), **kw)
    for r in (None, rows):
        value, grad, H = mixed.grad_hess(theta, rows=r)
        want_value, want_grad, want_H = full.grad_hess(theta, rows=r)
        assert H.dtype == grad.dtype == np.float64
        np.testing.assert_allclose(H, want_H, rtol=1e-12, atol=1e-12 * np.abs(want_H).max())
        np.testing.assert_allclose(grad, want_grad, rtol=1e-12,
                                   atol=1e-12 * np.abs(want_grad).max())
        np.testing.assert_allclose(value, want_value, rtol=1e-12)
        np.testing.assert_array_equal(mixed.hessian(theta, rows=r), H)
    nbig = 200_000
    Xbig, _ = _design(rng, nbig, m, layout, np.float32)
    _, ybig, _ = _problem(rng, loss, k, nbig, m, True)
    big = mc.LinearLoss(Xbig, ybig.astype(np.float32), dtype=np.float64, **kw)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        big.hessian(theta)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * nbig * m * 8, (peak, nbig * m * 8)


def _raw_calls(X, indices, indptr, shape, rows, theta, y, kind=None):
    """The engine's and the Hessian's def entries on the same arguments (`kind`: X's
    source kind, by default C, or CSR with `indices`)."""
    from mcfast._kernels import _engine, _hessian
    s = theta.size
    if kind is None:
        kind = _engine.SOURCE_KINDS["C" if indices is None else "CSR"]
    return {
        "engine.loss_grad": lambda: _engine.loss_grad(
            X, indices, indptr, shape, kind, rows, theta, None, y, None, 1, 1.0, False,
            0.0, np.empty_like(theta), 64, 1),
        "hessian": lambda: _hessian.hessian(
            X, indices, indptr, shape, kind, rows, theta, y, None, 1, 1.0, False, 0.0,
            None, np.empty((s, s), theta.dtype), 1),
    }


@pytest.mark.parametrize("case", ["rows", "indptr", "y", "theta_dtype", "x_dtype",
                                  "strides", "kind"])
def test_the_def_entries_share_one_check(rng, case):
    """The engine's loss_grad and the Hessian's entry refuse the same out-of-bounds
    arguments with the same message, each under its own name (one check, not two)."""
    n, m = 20, 3
    X = rng.standard_normal((n, m))
    theta, y = np.zeros(m), np.ones(n)
    indices = indptr = rows = kind = None
    if case == "rows":
        rows, want = np.array([0, n], dtype=np.intp), "rows out of range"
    elif case == "indptr":
        S = sp.csr_matrix(X)
        X, indices, indptr = S.data, S.indices, S.indptr.copy()
        indptr[3] = indptr[4] + 1
        want = "non-decreasing"
    elif case == "y":
        y, want = np.ones(n - 1), "y must be"
    elif case == "theta_dtype":
        theta, want = np.zeros(m, np.int64), "theta must be float32 or float64"
    elif case == "x_dtype":
        X, want = X.astype(np.float32), None   # float32 X with float64 θ: accepted
    elif case == "kind":        # F order given as C: the entries check the caller's kind
        X, want = np.asfortranarray(X), "unit stride"
        from mcfast._kernels import _engine
        assert _engine.dense_kind(X) == _engine.SOURCE_KINDS["F"]
        kind = _engine.SOURCE_KINDS["C"]
    else:
        X, want = X[::2, ::2], "unit stride"
        m = X.shape[1]
        theta = np.zeros(m)
        y = np.ones(X.shape[0])
    shape = (X.shape[0] if indices is None else n, m)
    for name, call in _raw_calls(X, indices, indptr, shape, rows, theta, y, kind).items():
        if want is None:
            call()
        else:
            with pytest.raises(ValueError, match=f"^{name}: .*{want}"):
                call()


@pytest.mark.parametrize("loss, k", LOSSES)
def test_very_sparse_csr_takes_rank_one_updates(rng, loss, k):
    """A CSR X with few stored entries a row (one-hot designs) takes rank-one updates over
    each row's entries instead of the sandwich of the scattered block: the dense Hessian, with
    duplicate and unsorted column indices, negative weights, rows= and float32 X."""
    n, m = 1500, 120
    X = sp.random(n, m, density=0.03, format="csr", random_state=3)
    data, indices, indptr = X.data.copy(), X.indices.copy(), X.indptr.copy()
    # row 0 gets its entries reversed and a duplicate of its first column
    lo, hi = indptr[0], indptr[1]
    indices[lo:hi], data[lo:hi] = indices[lo:hi][::-1].copy(), data[lo:hi][::-1].copy()
    extra = indices[lo] if hi > lo else 0
    indices = np.insert(indices, hi, extra)
    data = np.insert(data, hi, 0.7)
    indptr[1:] += 1
    X = sp.csr_matrix((data, indices, indptr), shape=(n, m))
    theta, y, w = _problem(rng, loss, k, n, m, True)
    w[::5] *= -1.0
    rows = rng.integers(0, n, 400)
    kw = dict(loss=loss, sample_weight=w, l2=0.2, fit_intercept=True)
    dense = mc.LinearLoss(X.toarray(), y, **kw)
    for XX, dt in ((X, None), (X.astype(np.float32), np.float64)):
        got = mc.LinearLoss(XX, y, dtype=dt, **kw)
        want_obj = dense if dt is None else mc.LinearLoss(XX.toarray(), y, dtype=dt, **kw)
        for r in (None, rows):
            want = want_obj.hessian(theta, rows=r)
            np.testing.assert_allclose(got.hessian(theta, rows=r), want, rtol=1e-12,
                                       atol=1e-12 * np.abs(want).max())
            value, grad, H = got.grad_hess(theta, rows=r)
            np.testing.assert_array_equal(H, got.hessian(theta, rows=r))


@pytest.mark.parametrize("idx", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_hot_csr_index_types_and_thread_counts(rng, monkeypatch, idx, dtype):
    """A one-hot CSR design (every stored value 1, canonical rows) through each index and
    value type of the rank-one path: the reference's Hessian, and bitwise the same
    loss, gradient and Hessian on 1, 2 and 3 threads; a row with its columns reversed
    (the general loop) changes nothing but the order of its own terms."""
    n, levels = 30_011, (17, 9, 5)
    offsets = np.cumsum((0,) + levels[:-1])
    cols = np.column_stack([rng.integers(0, k, n) + o for k, o in zip(levels, offsets)])
    indptr = np.arange(0, 3 * n + 1, 3).astype(idx)
    X = sp.csr_matrix((np.ones(3 * n, dtype), cols.ravel(), indptr), shape=(n, sum(levels)))
    X.indices, X.indptr = X.indices.astype(idx), X.indptr.astype(idx)   # scipy may narrow
    assert X.indices.dtype == idx and X.indptr.dtype == idx
    theta = 0.1 * rng.standard_normal(X.shape[1] + 1)
    y = rng.poisson(1.0, n).astype(np.float64)
    kw = dict(loss="poisson", l2=0.3, fit_intercept=True, dtype=np.float64)
    want = ref.LinearLoss(X.toarray().astype(np.float64), y, **kw).hessian(theta)
    obj = mc.LinearLoss(X, y, **kw)
    first = None
    for threads in (1, 2, 3):
        monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", threads)
        got = obj.grad_hess(theta)
        np.testing.assert_allclose(got[2], want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
        if first is None:
            first = got
        assert got[0] == first[0]
        np.testing.assert_array_equal(got[1], first[1])
        np.testing.assert_array_equal(got[2], first[2])
    Xr = X.copy()
    Xr.indices[:3] = Xr.indices[:3][::-1]
    Xr.has_sorted_indices = False
    H = mc.LinearLoss(Xr, y, **kw).hessian(theta)
    np.testing.assert_allclose(H, first[2], rtol=1e-13, atol=1e-13 * np.abs(want).max())


@pytest.fixture
def each_hessian_level():
    """A setter of the Hessian kernels' SIMD level and the levels this CPU has (0 the
    baseline … its best); the level in use is restored after."""
    from mcfast._kernels import _engine, _hessian
    before = _hessian.simd_level()
    yield _hessian.set_simd_level, list(range(_engine.simd_level()[1] + 1))
    _hessian.set_simd_level(before)


@pytest.mark.parametrize("layout", ["C", "F", "float32", "rows"])
def test_every_width_around_the_tiles_at_every_level(rng, each_hessian_level, layout):
    """The sandwich kernel's tiles and column tails (m around multiples of 2, 4 and 8;
    float64 C rows read in place where m % 8 = 0), negative and zero weights, with and
    without intercept, at each SIMD level: the NumPy formula, to rounding."""
    set_level, levels = each_hessian_level
    n = 157                                      # sub-blocks and blocks with tails
    for m in (1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 25, 31, 32, 33, 40):
        X = rng.standard_normal((n, m))
        Xl = {"C": X, "F": np.asfortranarray(X), "float32": X.astype(np.float32),
              "rows": X}[layout]
        Xv = Xl.astype(np.float64)
        rows = rng.integers(0, n, 90) if layout == "rows" else None
        Xr = Xv if rows is None else Xv[rows]
        for intercept in (False, True):
            theta, y, w = _problem(rng, "logistic", None, n, m, intercept)
            w[::4] = -w[::4]
            w[1::9] = 0
            obj = mc.LinearLoss(Xl, y, loss="logistic", sample_weight=w,
                                fit_intercept=intercept)
            wr, yr = (w, y) if rows is None else (w[rows], y[rows])
            z = Xr @ theta[:m] + (theta[m] if intercept else 0.0)
            d = wr * np.exp(-np.logaddexp(0, z) - np.logaddexp(0, -z))
            X1 = np.hstack([Xr, np.ones((len(Xr), 1))]) if intercept else Xr
            want = X1.T @ (d[:, None] * X1)
            for level in levels:
                set_level(level)
                got = obj.hessian(theta, rows=rows)
                np.testing.assert_allclose(got, want, rtol=1e-12,
                                           atol=1e-12 * np.abs(want).max(),
                                           err_msg=f"m={m} level={level}")
                sq = mc.LinearLoss(Xl, y, loss="squared", fit_intercept=intercept)
                want_sq = 2 * X1.T @ X1
                np.testing.assert_allclose(sq.hessian(theta, rows=rows), want_sq,
                                           rtol=1e-12, atol=1e-12 * np.abs(want_sq).max(),
                                           err_msg=f"squared m={m} level={level}")
