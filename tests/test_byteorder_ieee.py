"""Non-native byte order everywhere (inputs converted, out= refused) and IEEE infinities."""

import numpy as np
import pytest

import mcfast as mc
from mcfast import reference as ref

SWAP = {np.float32: ">f4" if np.little_endian else "<f4",
        np.float64: ">f8" if np.little_endian else "<f8"}


def _swapped(a, dtype):
    return np.asarray(a, dtype=dtype).astype(SWAP[dtype])


def _calls(rng, dtype):
    """(name, call(args, out), args) for every public function that takes out=."""
    A, G = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    X, th, y = rng.standard_normal((40, 3)), rng.standard_normal(3), rng.standard_normal(40)
    J1, J2 = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))
    D = rng.standard_normal((7, 5, 4))
    return [
        ("grad_ax", lambda m, a, out: m.grad_ax(*a, out=out), (A, G)),
        ("grad_xa", lambda m, a, out: m.grad_xa(*a, out=out), (G.T, A.T)),
        ("trace_chain", lambda m, a, out: m.trace_chain(*a, out=out), (D[:, 0, :2], D[:, :2])),
        ("lstsq_grad", lambda m, a, out: m.lstsq_grad(*a, out=out), (X, th, y)),
        ("lstsq_loss_grad", lambda m, a, out: m.lstsq_loss_grad(*a, out=out)[1], (X, th, y)),
        ("jacobian_chain", lambda m, a, out: m.jacobian_chain(list(a), out=out), (J1, J2)),
        ("ChainPlan", lambda m, a, out: m.chain_plan(list(a))(list(a), out=out), (J1, J2)),
        ("grad_chain", lambda m, a, out: m.grad_chain(list(a[:2]), a[2], out=out),
         (J1, J2, th[:2])),
        ("tangent_chain", lambda m, a, out: m.tangent_chain(list(a[:2]), a[2], out=out),
         (J1, J2, th)),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", ["all", "one"])
def test_non_native_inputs_give_the_native_result(rng, dtype, which):
    for name, call, args in _calls(rng, dtype):
        native = [np.asarray(a, dtype=dtype) for a in args]
        swapped = [_swapped(a, dtype) if which == "all" or k == 0 else a
                   for k, a in enumerate(native)]
        expected = call(ref, native, None)
        got = call(mc, swapped, None)
        assert got.dtype.isnative, name
        tol = 2e-4 if dtype == np.float32 else 1e-11
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, err_msg=name)
        out = np.empty_like(expected)
        assert call(mc, swapped, out) is out
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_native_out_is_refused_before_anything_is_written(rng, dtype):
    for name, call, args in _calls(rng, dtype):
        native = [np.asarray(a, dtype=dtype) for a in args]
        expected = call(ref, native, None)
        out = np.full(expected.shape, 7, dtype=SWAP[dtype])
        with pytest.raises(ValueError, match="byte order"):
            call(mc, native, out)
        assert (out == 7).all(), name


def test_non_native_diagonal_and_least_squares(rng):
    d = rng.standard_normal(4)
    J = rng.standard_normal((4, 3))
    links = [J.astype(">f8"), mc.Diagonal(d.astype(">f8"))]
    np.testing.assert_allclose(mc.jacobian_chain(links), d[:, None] * J, rtol=1e-12)
    np.testing.assert_allclose(mc.grad_chain(links, np.ones(4)), J.T @ d, rtol=1e-12)
    X, y, th = rng.standard_normal((30, 3)), rng.standard_normal(30), rng.standard_normal(3)
    w = rng.random(30)
    fast = mc.LeastSquares(X.astype(">f8"), y.astype(">f8"), sample_weight=w.astype(">f8"),
                           l2=0.5)
    slow = ref.LeastSquares(X, y, sample_weight=w, l2=0.5)
    for a, b in zip(fast(th.astype(">f8")), slow(th)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(fast.hessp(th, th.astype(">f8")), slow.hessp(th, th),
                               rtol=1e-12)


def test_non_native_dask_chunks(rng):
    da = pytest.importorskip("dask.array")
    import mcfast.dask as mcd
    X, y, th = rng.standard_normal((60, 3)), rng.standard_normal(60), rng.standard_normal(3)
    Xd = da.from_array(X.astype(">f8"), chunks=(20, 3))
    yd = da.from_array(y.astype(">f8"), chunks=20)
    loss, grad = mcd.lstsq_loss_grad(Xd, th.astype(">f8"), yd)
    rloss, rgrad = ref.lstsq_loss_grad(X, th, y)
    np.testing.assert_allclose(loss, rloss, rtol=1e-12)
    np.testing.assert_allclose(grad, rgrad, rtol=1e-12)


# --- IEEE: infinities propagate as the arithmetic does, empty sums are zero ---

@pytest.mark.parametrize("mod", [mc, ref], ids=["mc", "ref"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinite_theta_without_ridge_gives_infinite_gradient(mod, dtype):
    X, th, y = np.ones((1, 1), dtype), np.array([np.inf], dtype), np.zeros(1, dtype)
    loss, grad = mod.lstsq_loss_grad(X, th, y)
    assert loss == np.inf and grad[0] == np.inf
    assert mod.lstsq_grad(X, th, y)[0] == np.inf
    loss, grad = mod.LeastSquares(X, y)(th)
    assert loss == np.inf and grad[0] == np.inf
    assert mod.LeastSquares(X, y).hessp(th, th)[0] == np.inf
    # with a ridge term the infinity stays one: l2·inf added to inf
    loss, grad = mod.LeastSquares(X, y, l2=0.5)(th)
    assert loss == np.inf and grad[0] == np.inf


@pytest.mark.parametrize("mod", [mc, ref], ids=["mc", "ref"])
@pytest.mark.parametrize("k", [None, 1, 5])
def test_empty_sum_with_infinite_theta_is_zero(mod, k):
    shape = (2,) if k is None else (2, k)
    X, th, y = np.zeros((0, 2)), np.full(shape, np.inf), np.zeros((0,) + shape[1:])
    loss, grad = mod.lstsq_loss_grad(X, th, y)
    assert loss == 0.0 and not grad.any()
    loss, grad = mod.LeastSquares(X, y)(th)
    assert loss == 0.0 and not grad.any()
    assert not mod.LeastSquares(X, y).hessp(th, th).any()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("k", [None, 2, 5])
def test_large_infinite_theta_matches_reference(rng, k):
    """Threaded kernels too: an infinite θ entry gives ±inf or NaN exactly where NumPy does."""
    n, m = 20_000, 6
    X = rng.standard_normal((n, m))
    th = rng.standard_normal(m if k is None else (m, k))
    th[2] = np.inf
    y = rng.standard_normal(n if k is None else (n, k))
    X[:, 3] = 0.0
    got_l, got_g = mc.lstsq_loss_grad(X, th, y)
    ref_l, ref_g = ref.lstsq_loss_grad(X, th, y)
    assert got_l == ref_l
    np.testing.assert_array_equal(np.isnan(got_g), np.isnan(ref_g))
    np.testing.assert_array_equal(np.isinf(got_g), np.isinf(ref_g))


def test_dask_least_squares_infinite_theta():
    da = pytest.importorskip("dask.array")
    import mcfast.dask as mcd
    obj = mcd.LeastSquares(da.ones((1, 1), chunks=1), np.zeros(1))
    loss, grad = obj(np.array([np.inf]))
    assert loss == np.inf and grad[0] == np.inf
    assert obj.hessp(np.zeros(1), np.array([np.inf]))[0] == np.inf
