"""Float32 X under float64 arithmetic (read in place, widened block by block) and F order:
against float64 on a float64 copy, no copy of X (tracemalloc), every lane offset."""

import tracemalloc

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

import mcfast as mc
import mcfast.lstsq as lstsq_mod
from test_linear_loss import _simd_levels

ref = mc.reference

LOSSES = [("squared", None), ("logistic", None), ("poisson", None), ("huber", None),
          ("multinomial", 3), ("squared", 2)]


def _targets(rng, loss, n, k):
    if loss == "logistic":
        return rng.integers(0, 2, n).astype(np.float32)
    if loss == "poisson":
        return rng.poisson(1.5, n).astype(np.float32)
    if loss == "multinomial":
        return rng.integers(0, k, n)
    return (2 * rng.standard_normal((n,) if k is None else (n, k))).astype(np.float32)


def _layout(X, layout):
    if layout == "C":
        return X
    if layout == "F":
        return np.asfortranarray(X)
    if layout == "strided":
        big = np.zeros((X.shape[0], 2 * X.shape[1]), X.dtype)
        big[:, ::2] = X
        return big[:, ::2]
    return sp.csr_matrix(X)


def _close(got, want):
    """Equal up to float64 rounding: the sums of n products in another order."""
    scale = max(float(np.max(np.abs(want))), 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("loss,k", LOSSES)
@pytest.mark.parametrize("layout", ["C", "F", "strided", "csr"])
@pytest.mark.parametrize("rows", [False, True])
def test_float32_X_float64_theta_equals_float64_copy(rng, loss, k, layout, rows):
    n, m = 700, 11
    X = rng.standard_normal((n, m)).astype(np.float32)
    X[rng.random((n, m)) < 0.3] = 0
    y = _targets(rng, loss, n, k)
    w = rng.uniform(0.5, 2.0, n).astype(np.float32)
    theta = 0.3 * rng.standard_normal((m + 1,) if k is None else (m + 1, k))
    p = rng.standard_normal(theta.shape)
    r = rng.integers(-n, n, 300) if rows else None
    Xs = _layout(X, layout)
    X64 = X.astype(np.float64)
    for w_ in (None, w, w.astype(np.float64)):
        kw = dict(loss=loss, sample_weight=w_, l2=0.25, fit_intercept=True, rows=r)
        want = mc.linear_loss_grad(X64, theta, y, **kw)
        want_ref = ref.linear_loss_grad(X64, theta, y, **kw)
        obj = mc.LinearLoss(Xs, y, loss=loss, sample_weight=w_, l2=0.25,
                            fit_intercept=True, dtype=np.float64)
        obj64 = mc.LinearLoss(X64, y, loss=loss, sample_weight=w_, l2=0.25,
                              fit_intercept=True)
        assert obj.dtype == np.float64
        for _ in _simd_levels():
            got = mc.linear_loss_grad(Xs, theta, y, **kw)
            assert got[1].dtype == np.float64
            _close(got[0], want[0])
            _close(got[1], want[1])
            np.testing.assert_allclose(got[1], want_ref[1], rtol=1e-9, atol=1e-9)
            got = obj(theta, rows=r)
            _close(got[0], want[0])
            _close(got[1], want[1])
            _close(obj.hessp(theta, p, rows=r), obj64.hessp(theta, p, rows=r))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_mixed_threads(rng, monkeypatch, threads):
    """Threaded: the blocks' sub-blocks are fixed by the shape; repeated calls agree in
    every bit, and agree with one thread up to float64 rounding (the driver's parts)."""
    n, m = 40_000, 9
    X = rng.standard_normal((n, m)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    theta = 0.1 * rng.standard_normal(m + 1)
    monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", 1)
    one = mc.linear_loss_grad(X.astype(np.float64), theta, y, loss="logistic",
                              fit_intercept=True)
    monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", threads)
    for Xl in (X, np.asfortranarray(X), sp.csr_matrix(X)):
        got = mc.linear_loss_grad(Xl, theta, y, loss="logistic", fit_intercept=True)
        again = mc.linear_loss_grad(Xl, theta, y, loss="logistic", fit_intercept=True)
        assert got[0] == again[0]
        np.testing.assert_array_equal(got[1], again[1])
        _close(got[0], one[0])
        _close(got[1], one[1])


def _peak(fn):
    fn()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("layout", ["C", "F", "csr"])
def test_mixed_never_copies_X(rng, monkeypatch, layout):
    """Peak extra memory of a float32-X, float64-θ call: under 1 % of X (X is 64 MB)."""
    monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", 2)
    n, m = 1 << 19, 32
    X = rng.standard_normal((n, m)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    theta = 0.1 * rng.standard_normal(m + 1)
    Xs = _layout(X, layout)
    size = X.nbytes if layout != "csr" else Xs.data.nbytes
    obj = mc.LinearLoss(Xs, y, loss="logistic", fit_intercept=True, dtype=np.float64)
    calls = [lambda: mc.linear_loss_grad(Xs, theta, y, loss="logistic", fit_intercept=True),
             lambda: obj(theta), lambda: obj.hessp(theta, theta)]
    if layout != "csr":
        ls = mc.LeastSquares(Xs, y, dtype=np.float64)
        calls += [lambda: mc.lstsq_loss_grad(Xs, theta[:m], y), lambda: ls(theta[:m])]
    for fn in calls:
        assert _peak(fn) < 0.01 * size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_F_order_every_lane_offset(rng, dtype):
    """F-ordered X starting at every lane offset of a 64-byte vector (a row slice of an
    F array moves each column's start), float32 X with float64 θ too."""
    n, m = 301, 7
    big = np.asfortranarray(rng.standard_normal((n + 16, m)).astype(dtype))
    y = rng.standard_normal(n).astype(dtype)
    theta = (0.3 * rng.standard_normal(m + 1)).astype(dtype)
    for off in range(16):
        X = big[off:off + n]
        assert X.flags.f_contiguous or not X.flags.c_contiguous
        X64 = np.ascontiguousarray(X, np.float64)
        for th in {theta.dtype: theta, np.float64: theta.astype(np.float64)}.values():
            want = ref.linear_loss_grad(X64, th.astype(np.float64), y, loss="huber",
                                        fit_intercept=True)
            for _ in _simd_levels():
                got = mc.linear_loss_grad(X, th, y, loss="huber", fit_intercept=True)
                tol = 1e-10 if got[1].dtype == np.float64 else 2e-4
                np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol * 100)


@pytest.mark.parametrize("m", [5, 32, 40, 48, 64, 100])
def test_mixed_C_rows_every_lane_offset(rng, m):
    """C rows read in place by the mixed row groups (widened in registers) at every float
    offset of a vector: each row walk (narrow, 8 vectors, aligned, any width, rows=),
    gradient and Hessian product, against the float64 path on a float64 copy."""
    n = 301
    buf = rng.standard_normal(n * m + 16).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    w = rng.uniform(0.5, 2.0, n)
    theta = 0.1 * rng.standard_normal(m + 1)
    p = rng.standard_normal(m + 1)
    rows = rng.integers(0, n, 200)
    for off in range(8):
        X = buf[off:off + n * m].reshape(n, m)
        X64 = X.astype(np.float64)
        for loss, r in (("logistic", None), ("poisson", rows), ("squared", None)):
            kw = dict(loss=loss, sample_weight=w, fit_intercept=True)
            want = mc.linear_loss_grad(X64, theta, y, rows=r, **kw)
            want_h = mc.LinearLoss(X64, y, **kw).hessp(theta, p, rows=r)
            obj = mc.LinearLoss(X, y, dtype=np.float64, **kw)
            for _ in _simd_levels():
                got = mc.linear_loss_grad(X, theta, y, rows=r, **kw)
                _close(got[0], want[0])
                _close(got[1], want[1])
                _close(obj.hessp(theta, p, rows=r), want_h)


def test_dtype_argument(rng):
    n, m = 200, 5
    X = rng.standard_normal((n, m)).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    theta = rng.standard_normal(m)
    assert mc.LinearLoss(X, y).dtype == np.float32             # today's rule
    assert mc.LinearLoss(X, y)(theta)[1].dtype == np.float32
    obj = mc.LinearLoss(X, y, dtype=np.float64)
    assert obj(theta.astype(np.float32))[1].dtype == np.float64
    obj32 = mc.LinearLoss(X.astype(np.float64), y, dtype="float32")
    assert obj32.dtype == np.float32 and obj32(theta)[1].dtype == np.float32
    ls = mc.LeastSquares(X, y, dtype=np.float64)
    got = ls(theta.astype(np.float32))                            # not the float32 fast path
    want = mc.LeastSquares(X.astype(np.float64), y)(theta.astype(np.float32).astype(float))
    assert got[1].dtype == np.float64
    _close(got[1], want[1])
    assert mc.LeastSquares(X, y, dtype=np.float64).hessp(theta, theta).dtype == np.float64
    for bad in (np.int64, np.float16, "complex128", object):
        with pytest.raises(TypeError, match="dtype"):
            mc.LinearLoss(X, y, dtype=bad)
        with pytest.raises(TypeError, match="dtype"):
            mc.LeastSquares(X, y, dtype=bad)
    with pytest.raises(TypeError, match="dtype"):
        ref.LinearLoss(X, y, dtype=np.int32)


def test_lstsq_mixed(rng):
    n, m = 500, 6
    X = rng.standard_normal((n, m)).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    theta = rng.standard_normal(m)
    for Xs in (X, np.asfortranarray(X), sp.csr_matrix(X)):
        got = mc.lstsq_loss_grad(Xs, theta, y)
        want = mc.lstsq_loss_grad(X.astype(np.float64), theta, y)
        assert got[1].dtype == np.float64
        _close(got[0], want[0])
        _close(got[1], want[1])
        _close(mc.lstsq_grad(Xs, theta, y), want[1])
        T = rng.standard_normal((m, 2))
        Y = rng.standard_normal((n, 2)).astype(np.float32)
        _close(mc.lstsq_grad(Xs, T, Y), mc.lstsq_grad(X.astype(np.float64), T, Y))


def test_csr_long_rows_and_bad_indices(rng):
    """CSR sub-blocks are bounded by stored entries; a row longer than that is one
    sub-block of its own. Column indices out of range are an error, as in float64."""
    from mcfast._kernels._engine import THRESHOLDS
    ent = THRESHOLDS["stage_entries"]               # a sub-block's entries at least
    n, m = 40, 2 * ent + 808
    X = sp.random(n, m, density=0.02, format="csr", dtype=np.float32, random_state=1)
    X = X.tolil()
    X[3, :] = rng.standard_normal(m).astype(np.float32)      # m entries > ent
    X[17, :ent + 1904] = 1.5
    X = X.tocsr()
    y = rng.standard_normal(n).astype(np.float32)
    theta = 0.01 * rng.standard_normal(m)
    want = mc.linear_loss_grad(X.astype(np.float64), theta, y)
    for r in (None, [3, 17, 3, 0, 39]):
        got = mc.linear_loss_grad(X, theta, y, rows=r)
        want = mc.linear_loss_grad(X.astype(np.float64), theta, y, rows=r)
        _close(got[1], want[1])
    bad = X.copy()
    bad.indices[5] = m + 3
    with pytest.raises(ValueError, match="column indices"):
        mc.linear_loss_grad(bad, theta, y)


def test_lbfgs_fit_in_float64_on_float32_storage(rng):
    """The point of dtype=np.float64: the fit reaches the float64 fit's optimum."""
    n, m = 3000, 8
    X = rng.standard_normal((n, m)).astype(np.float32)
    y = (X @ rng.standard_normal(m) > rng.logistic(size=n)).astype(np.float32)
    kw = dict(loss="logistic", l2=1.0, fit_intercept=True)
    res = scipy.optimize.minimize(mc.LinearLoss(X, y, dtype=np.float64, **kw),
                                  np.zeros(m + 1), jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-10, ftol=1e-15))
    res64 = scipy.optimize.minimize(mc.LinearLoss(X.astype(np.float64), y, **kw),
                                    np.zeros(m + 1), jac=True, method="L-BFGS-B",
                                    options=dict(gtol=1e-10, ftol=1e-15))
    np.testing.assert_allclose(res.x, res64.x, rtol=1e-7, atol=1e-8)
