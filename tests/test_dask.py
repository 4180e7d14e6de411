"""mcfast.dask: equal to the in-memory rules on dask's schedulers and a real LocalCluster."""

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import dask
import dask.array as da
import distributed
import numpy as np
import pytest
import scipy.optimize

import mcfast as mc
import mcfast.dask as mcd
from conftest import Snapshot

ROOT = Path(__file__).resolve().parent.parent
N, M = 100, 5
# row chunkings of N rows: one chunk, even, uneven (with a 1-row and an empty chunk)
CHUNKINGS = [(N,), (25,) * 4, (7, 50, 1, 0, 42)]
SCHEDULERS = ["sync", "threads", "distributed"]
# float32: each chunk's gradient is the float32 kernel's (float32 sums within blocks of
# rows, folded into float64); the chunks are added in float64 and rounded once. Both sides
# have a float32 rounding error of a few eps32 (1.2e-7) times the size of the sums.
RTOL32 = 1e-5


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes on loopback, no dashboard."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(params=SCHEDULERS)
def scheduler(request):
    """Run the test with dask's synchronous or threaded scheduler, or on the cluster."""
    if request.param == "distributed":
        client = request.getfixturevalue("client")
        with client.as_current(), dask.config.set(scheduler=client):
            yield client
    else:
        with dask.config.set(scheduler=request.param):
            yield None


def _problem(rng, k=None, dtype=np.float64, n=N, m=M):
    """NumPy X (n, m), θ and y, values O(1); k None for θ (m,) and y (n,)."""
    tail = () if k is None else (k,)
    X = rng.standard_normal((n, m)).astype(dtype)
    theta = rng.standard_normal((m,) + tail).astype(dtype)
    y = rng.standard_normal((n,) + tail).astype(dtype)
    return X, theta, y


def _rows(a, chunks):
    """`a` as a dask array with the given row chunks (whole along the other axes)."""
    return da.from_array(a, chunks=(chunks,) + a.shape[1:])


def _close(got, want, rtol=1e-12):
    """Equal to `rtol` of the result's scale (a gradient entry can be a small difference)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def _explode(block):
    raise AssertionError("a graph was computed")


def _unusable(shape, dtype=np.float64, chunks=25):
    """A dask array of the given shape whose chunks fail when computed."""
    base = da.zeros(shape, dtype=dtype, chunks=chunks)
    return base.map_blocks(_explode, dtype=dtype, meta=np.empty((0,) * len(shape), dtype))


# --- equal to the in-memory functions --------------------------------------------------

def _compute_and_compare(cases):
    """Compute every lazy result of `cases` [(lazy, expected)] in one graph, and compare."""
    got = dask.compute(*[lazy for lazy, _ in cases])
    for value, (_, want) in zip(got, cases):
        if np.ndim(want) == 0:
            np.testing.assert_allclose(value, want, rtol=1e-12)
        else:
            _close(value, want)


def test_loss_grad_matches_in_memory(rng, scheduler):
    # every chunking and target shape, computed together (one graph per scheduler)
    cases = []
    for chunks in CHUNKINGS:
        for k in [None, 1, 3]:
            X, theta, y = _problem(rng, k)
            loss, grad = mcd.lstsq_loss_grad(_rows(X, chunks), theta, y, compute=False)
            want_loss, want_grad = mc.lstsq_loss_grad(X, theta, y)
            cases += [(loss, want_loss), (grad, want_grad),
                      (mcd.lstsq_grad(_rows(X, chunks), theta, y, compute=False), want_grad)]
    _compute_and_compare(cases)
    # computed results: a float and a NumPy array
    loss, grad = mcd.lstsq_loss_grad(_rows(X, (30, 70)), theta, y)
    assert type(loss) is float and isinstance(grad, np.ndarray)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    _close(grad, want_grad)
    _close(mcd.lstsq_grad(_rows(X, (30, 70)), theta, y), want_grad)


def test_y_numpy_or_dask_with_its_own_chunks(rng, scheduler):
    X, theta, y = _problem(rng, 2)
    want_loss, want_grad = mc.lstsq_loss_grad(X, theta, y)
    cases = []
    for y_chunks in [None, (N,), (30, 30, 40), (3,) * 33 + (1,)]:
        y_in = y if y_chunks is None else da.from_array(y, chunks=(y_chunks, 1))
        loss, grad = mcd.lstsq_loss_grad(_rows(X, (7, 50, 1, 42)), theta, y_in,
                                         compute=False)
        cases += [(loss, want_loss), (grad, want_grad)]
    _compute_and_compare(cases)


def test_column_chunks_are_merged(rng):
    X, theta, y = _problem(rng)
    Xd = da.from_array(X, chunks=(30, 2))
    _close(mcd.lstsq_grad(Xd, theta, y), mc.lstsq_grad(X, theta, y))
    _close(mcd.grad_ax(Xd, y), mc.grad_ax(X, y))


def test_numpy_and_dask_theta(rng):
    X, theta, y = _problem(rng, 3)
    want = mc.lstsq_grad(X, theta, y)
    _close(mcd.lstsq_grad(X, theta, y), want)  # NumPy X: split into row chunks
    _close(mcd.lstsq_grad(_rows(X, 30), da.from_array(theta, chunks=(2, 1)), y), want)


def test_lazy_results_are_one_graph(rng, scheduler):
    X, theta, y = _problem(rng)
    loss, grad = mcd.lstsq_loss_grad(_rows(X, 30), theta, y, compute=False)
    assert isinstance(loss, da.Array) and loss.shape == () and loss.dtype == np.float64
    assert isinstance(grad, da.Array) and grad.shape == theta.shape
    # both results come from the same reduction: one graph, one pass over the chunks
    assert set(loss.dask.keys()) & set(grad.dask.keys())
    loss, grad = dask.compute(loss, grad)
    want_loss, want_grad = mc.lstsq_loss_grad(X, theta, y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    _close(grad, want_grad)
    lazy = mcd.grad_ax(_rows(X, 30), y, compute=False)
    assert isinstance(lazy, da.Array)
    _close(lazy.compute(), mc.grad_ax(X, y))


def test_grad_ax_matches_in_memory(rng, scheduler):
    cases = []
    for chunks in CHUNKINGS:
        for g_cols in [None, 1, 4]:
            A = rng.standard_normal((N, M))
            G = rng.standard_normal((N,) if g_cols is None else (N, g_cols))
            want = mc.grad_ax(A, G)
            cases += [(mcd.grad_ax(_rows(A, chunks), G, compute=False), want),
                      # G as a dask array chunked differently from A
                      (mcd.grad_ax(_rows(A, chunks), _rows(G, (60, 40)), compute=False),
                       want)]
    _compute_and_compare(cases)
    got = mcd.grad_ax(_rows(A, (30, 70)), G)
    assert isinstance(got, np.ndarray)
    _close(got, want)


def _peak_bytes(fn):
    """Peak bytes allocated (NumPy reports to tracemalloc) while `fn` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_chunks_of_X_are_not_copied(rng):
    # chunks of 4 MB; a call allocates its graph and small arrays, never a chunk's worth
    X, theta, y = _problem(rng, n=20_000, m=50)
    with dask.config.set(scheduler="sync"):
        Xd = _rows(X, 10_000).persist()
        obj = mcd.LeastSquares(Xd, y)
        calls = [lambda: mcd.lstsq_loss_grad(Xd, theta, y), lambda: obj(theta),
                 lambda: obj.hessp(theta, theta)]
        for call in calls:
            call()
            assert _peak_bytes(call) < 1_000_000


def test_empty_dimensions():
    for n, m in [(0, 3), (4, 0), (0, 0)]:
        X, theta, y = np.ones((n, m)), np.ones(m), np.ones(n)
        loss, grad = mcd.lstsq_loss_grad(da.from_array(X, chunks=(2, m or 1)), theta, y)
        want_loss, want_grad = mc.lstsq_loss_grad(X, theta, y)
        assert loss == want_loss and np.array_equal(grad, want_grad)
        assert np.array_equal(mcd.grad_ax(da.from_array(X), y), mc.grad_ax(X, y))


# --- dtypes ----------------------------------------------------------------------------

def test_float32_is_preserved(rng):
    X, theta, y = _problem(rng, dtype=np.float32, n=3000, m=7)
    loss, grad = mcd.lstsq_loss_grad(_rows(X, (1000, 999, 1001)), theta, y)
    want_loss, want_grad = mc.lstsq_loss_grad(X, theta, y)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(loss, want_loss, rtol=RTOL32)
    _close(grad, want_grad, rtol=RTOL32)
    G = rng.standard_normal((3000, 2)).astype(np.float32)
    got = mcd.grad_ax(_rows(X, 700), G)
    _close(got, mc.grad_ax(X, G), rtol=RTOL32)
    lazy = mcd.lstsq_loss_grad(_rows(X, 700), theta, y, compute=False)[1]
    assert lazy.dtype == np.float32 and lazy.compute().dtype == np.float32


@pytest.mark.parametrize("dtypes,expected", [
    ((np.float32, np.float64, np.float32), np.float64),
    ((np.int64, np.float32, np.float32), np.float64),
    ((np.bool_, np.int32, np.int8), np.float64),
    ((np.float64, np.float32, np.float32), np.float64),
])
def test_dtype_rule_is_the_in_memory_one(rng, dtypes, expected):
    X, theta, y = (a.astype(dt) for a, dt in zip(_problem(rng), dtypes))
    grad = mcd.lstsq_grad(_rows(X, 30), theta, _rows(y, 40))
    want = mc.lstsq_grad(X, theta, y)
    assert grad.dtype == want.dtype == expected
    _close(grad, want)


# --- bad input: the in-memory errors, before any graph runs -----------------------------

def _in_memory_error(func, *args, **kwargs):
    """The exception the in-memory function raises for NumPy versions of `args`."""
    with pytest.raises((TypeError, ValueError)) as info:
        func(*args, **kwargs)
    return info.value


def _numpy_twin(a):
    """A NumPy array of a dask array's shape and dtype (other inputs as given)."""
    return np.zeros(a.shape, a.dtype) if isinstance(a, da.Array) else a


BAD_LSTSQ = [  # (X shape, θ, y shape): wrong ndim, shapes that do not fit
    ((N, M), np.zeros(M + 1), (N,)),
    ((N, M), np.zeros(M), (N + 1,)),
    ((N, M), np.zeros((M, 2)), (N,)),
    ((N, M), np.zeros((M, 2)), (N, 3)),
    ((N,), np.zeros(M), (N,)),
    ((N, M), np.zeros((M, 1, 1)), (N,)),
    ((N, M, 1), np.zeros(M), (N,)),
]


@pytest.mark.parametrize("name", ["lstsq_loss_grad", "lstsq_grad"])
@pytest.mark.parametrize("x_shape,theta,y_shape", BAD_LSTSQ)
def test_bad_shapes_raise_the_in_memory_error_before_computing(name, x_shape, theta,
                                                                y_shape):
    X, y = _unusable(x_shape), _unusable(y_shape)
    want = _in_memory_error(getattr(mc, name), _numpy_twin(X), theta, _numpy_twin(y))
    with pytest.raises(type(want)) as got:
        getattr(mcd, name)(X, theta, y)
    assert str(got.value) == str(want) and name in str(want)


@pytest.mark.parametrize("arg", ["X", "theta", "y"])
@pytest.mark.parametrize("bad", [None, np.complex128, object, np.longdouble])
def test_bad_types_name_the_argument(arg, bad):
    args = dict(X=_unusable((N, M)), theta=np.zeros(M), y=_unusable((N,)))
    if bad is None:
        args[arg] = None
    elif arg == "theta":
        args[arg] = np.zeros(M, dtype=bad)
    else:
        args[arg] = _unusable(args[arg].shape, dtype=bad)
    want = _in_memory_error(mc.lstsq_loss_grad, **{k: _numpy_twin(a) for k, a in args.items()})
    with pytest.raises(TypeError, match=repr(arg)) as got:
        mcd.lstsq_loss_grad(**args)
    assert str(got.value) == str(want)


def test_grad_ax_errors_before_computing():
    A = _unusable((N, M))
    for G in [_unusable((N + 1,)), _unusable((N, 2, 1)), None]:
        want = _in_memory_error(mc.grad_ax, np.zeros((N, M)), _numpy_twin(G))
        with pytest.raises(type(want)) as got:
            mcd.grad_ax(A, G)
        assert str(got.value) == str(want)
    with pytest.raises(TypeError, match="'A'"):
        mcd.grad_ax(_unusable((N, M), dtype=np.complex64), np.zeros(N))


def test_unknown_chunk_sizes_are_refused():
    X = da.ones((N, M), chunks=25)
    X = X[X[:, 0] > 0]  # shape (nan, 5)
    with pytest.raises(ValueError, match="X has unknown chunk sizes"):
        mcd.lstsq_grad(X, np.zeros(M), np.zeros(N))


def test_good_input_builds_the_graph_without_computing():
    loss, grad = mcd.lstsq_loss_grad(_unusable((N, M)), np.zeros(M), _unusable((N,)),
                                     compute=False)
    with pytest.raises(AssertionError, match="a graph was computed"):
        grad.compute(scheduler="sync")


def test_inputs_are_not_modified(rng, scheduler):
    X, theta, y = _problem(rng)
    w = rng.random(N)
    snap = Snapshot(X, theta, y, w)
    mcd.lstsq_loss_grad(_rows(X, 30), theta, y)
    mcd.grad_ax(_rows(X, 30), y)
    obj = mcd.LeastSquares(_rows(X, 30), y, sample_weight=w, l2=0.5)
    obj(theta), obj.hessp(theta, theta)
    snap.assert_unchanged()


# --- LeastSquares ----------------------------------------------------------------------

@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("weighted,l2", [(False, 0.0), (True, 0.7)])
def test_least_squares_matches_in_memory(rng, scheduler, k, weighted, l2):
    X, theta, y = _problem(rng, k)
    w = rng.random(N) if weighted else None
    wd = None if w is None else _rows(w, (10, 90))
    obj = mcd.LeastSquares(_rows(X, (7, 50, 1, 42)), _rows(y, 50), sample_weight=wd, l2=l2)
    want = mc.LeastSquares(X, y, sample_weight=w, l2=l2)
    loss, grad = obj(theta.ravel())  # the flat θ scipy passes
    want_loss, want_grad = want(theta.ravel())
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    _close(grad, want_grad)
    _close(obj.hessp(theta, theta[::-1]), want.hessp(theta, theta[::-1]))
    assert obj.dtype == want.dtype and obj.l2 == l2
    if isinstance(scheduler, distributed.Client):
        # persisted once, on the workers: the data are futures there, not local arrays
        assert distributed.futures_of(obj.X) and distributed.futures_of(obj.y)


def test_least_squares_float32_and_errors(rng):
    X, theta, y = _problem(rng, dtype=np.float32)
    obj = mcd.LeastSquares(_rows(X, 30), y)
    loss, grad = obj(theta)
    want_loss, want_grad = mc.LeastSquares(X, y)(theta)
    assert obj.dtype == np.float32 and grad.dtype == np.float32
    np.testing.assert_allclose(loss, want_loss, rtol=RTOL32)
    _close(grad, want_grad, rtol=RTOL32)
    assert obj.hessp(theta, theta).dtype == np.float32
    assert "mcfast.dask.LeastSquares" in repr(obj)
    cases = [
        (dict(X=_unusable((N, M)), y=_unusable((N + 1,))), ValueError),
        (dict(X=_unusable((N, M)), y=_unusable((N,)), sample_weight=_unusable((N, 1))),
         ValueError),
        (dict(X=_unusable((N, M)), y=_unusable((N,)), l2=-1.0), ValueError),
        (dict(X=_unusable((N, M)), y=_unusable((N,)), l2="a"), TypeError),
        (dict(X=_unusable((N, M)), y=None), TypeError),
    ]
    for kwargs, kind in cases:
        want = _in_memory_error(mc.LeastSquares, **{k: _numpy_twin(a) for k, a in
                                                      kwargs.items()})
        assert type(want) is kind
        with pytest.raises(kind) as got:
            mcd.LeastSquares(**kwargs)
        assert str(got.value) == str(want)
    with pytest.raises(ValueError, match="theta has shape"):
        obj(np.zeros(M + 1))
    with pytest.raises(ValueError, match="p has shape"):
        obj.hessp(theta, np.zeros(M + 1))


def _fit_problem(rng):
    """A dask-backed least-squares problem (chunked by rows and columns) and its solution."""
    X, _, y = _problem(rng, n=400)
    want = np.linalg.lstsq(X, y, rcond=None)[0]
    return da.from_array(X, chunks=(90, 2)), da.from_array(y, chunks=120), want


def test_lbfgsb_reaches_numpy_lstsq(rng, scheduler):
    X, y, want = _fit_problem(rng)
    obj = mcd.LeastSquares(X, y)
    res = scipy.optimize.minimize(obj, np.zeros(M), jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-12, ftol=1e-15))
    np.testing.assert_allclose(res.x, want, rtol=1e-6, atol=1e-8)


def test_trust_ncg_with_hessp_reaches_numpy_lstsq(rng):
    # about 80 evaluations: on the synchronous scheduler (hessp is checked on every
    # scheduler against the in-memory one in test_least_squares_matches_in_memory)
    X, y, want = _fit_problem(rng)
    obj = mcd.LeastSquares(X, y)
    with dask.config.set(scheduler="sync"):
        res = scipy.optimize.minimize(obj, np.zeros(M), jac=True, hessp=obj.hessp,
                                      method="trust-ncg", options=dict(gtol=1e-10))
    np.testing.assert_allclose(res.x, want, rtol=1e-6, atol=1e-8)


def test_gradient_is_the_derivative_of_the_loss(rng):
    X, theta, y = _problem(rng, 2)
    w = rng.random(N)
    obj = mcd.LeastSquares(_rows(X, 30), y, sample_weight=w, l2=0.3)
    t = theta.ravel()
    assert mc.check_grad(lambda t: obj(t)[0], lambda t: obj(t)[1], t) < 1e-6
    # and the Hessian product is the derivative of the gradient
    p = rng.standard_normal(t.size)
    eps = 1e-3  # the gradient is linear in θ: central differences are exact but rounding
    fd = (obj(t + eps * p)[1] - obj(t - eps * p)[1]) / (2 * eps)
    np.testing.assert_allclose(obj.hessp(t, p), fd, rtol=1e-7, atol=1e-7 * np.abs(fd).max())
    Xd = _rows(X, 30)
    err = mc.check_grad(lambda t: mcd.lstsq_loss_grad(Xd, t.reshape(M, 2), y)[0],
                        lambda t: mcd.lstsq_grad(Xd, t.reshape(M, 2), y).ravel(), t)
    assert err < 1e-6


# --- packaging: optional import, the workers, the example --------------------------------

def test_import_mcfast_does_not_import_dask():
    code = "import sys, mcfast; sys.exit('dask' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_worker_processes_import_mcfast(client):
    def where():
        import mcfast, mcfast.dask  # noqa: E401
        return os.getpid(), mcfast.__file__
    found = client.run(where)
    assert len(found) == 2
    for pid, path in found.values():
        assert pid != os.getpid() and path == mc.__file__


def test_example_runs_small(cluster):
    example = ROOT / "examples" / "dask_lstsq.py"
    proc = subprocess.run(
        [sys.executable, str(example), "--rows", "20000", "--chunk-rows", "4000",
         "--scheduler", cluster.scheduler_address], capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rows/s" in proc.stdout and "max |theta - theta_true|" in proc.stdout


# --- linear-model losses ---------------------------------------------------------------------

LINEAR = [("squared", None), ("logistic", None), ("poisson", None), ("huber", None),
          ("multinomial", 3), ("squared", 2)]


def _linear_problem(rng, loss, k, n=N, m=M):
    X = rng.standard_normal((n, m))
    if loss == "logistic":
        y = rng.integers(0, 2, n).astype(float)
    elif loss == "poisson":
        y = rng.poisson(1.0, n).astype(float)
    elif loss == "multinomial":
        y = rng.integers(0, k, n)
    else:
        y = rng.standard_normal((n,) if k is None else (n, k))
    theta = 0.3 * rng.standard_normal((m + 1,) if k is None else (m + 1, k))
    return X, theta, y, rng.uniform(0.5, 2.0, n)


@pytest.mark.parametrize("loss, k", LINEAR)
def test_linear_loss_grad_matches_in_memory(rng, scheduler, loss, k):
    X, theta, y, w = _linear_problem(rng, loss, k)
    want = mc.linear_loss_grad(X, theta, y, loss=loss, sample_weight=w, l2=0.4,
                               fit_intercept=True)
    for chunks in CHUNKINGS:
        Xd = da.from_array(X, chunks=(chunks, M))
        got = mcd.linear_loss_grad(Xd, theta, y, loss=loss, sample_weight=w, l2=0.4,
                                   fit_intercept=True)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-11, atol=1e-12)
    lazy = mcd.linear_loss_grad(Xd, theta, y, loss=loss, sample_weight=w, l2=0.4,
                                fit_intercept=True, compute=False)
    loss_value, grad = dask.compute(*lazy)
    np.testing.assert_allclose(loss_value, want[0], rtol=1e-12)
    np.testing.assert_allclose(grad, want[1], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("loss, k", LINEAR)
def test_linear_loss_object_matches_in_memory(rng, scheduler, loss, k):
    X, theta, y, w = _linear_problem(rng, loss, k)
    p = rng.standard_normal(theta.shape)
    kw = dict(loss=loss, sample_weight=w, l2=0.4, fit_intercept=True)
    obj, mem = mcd.LinearLoss(da.from_array(X, chunks=(25, M)), y, **kw), mc.LinearLoss(X, y, **kw)
    (a, ga), (b, gb) = obj(theta), mem(theta)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(obj.hessp(theta, p), mem.hessp(theta, p), rtol=1e-11, atol=1e-12)


def test_linear_loss_fit_on_the_cluster(rng, client):
    """trust-ncg with hessp on the LocalCluster reaches the in-memory optimum."""
    X, theta, y, _ = _linear_problem(rng, "logistic", None, n=400)
    with client.as_current(), dask.config.set(scheduler=client):
        obj = mcd.LinearLoss(da.from_array(X, chunks=(100, M)), y, loss="logistic", l2=1.0,
                             fit_intercept=True)
        res = scipy.optimize.minimize(obj, np.zeros(M + 1), jac=True, hessp=obj.hessp,
                                      method="trust-ncg", tol=1e-10)
    mem = mc.LinearLoss(X, y, loss="logistic", l2=1.0, fit_intercept=True)
    want = scipy.optimize.minimize(mem, np.zeros(M + 1), jac=True, hessp=mem.hessp,
                                   method="trust-ncg", tol=1e-10)
    np.testing.assert_allclose(res.x, want.x, rtol=1e-7, atol=1e-8)


def test_linear_loss_errors_before_computing(rng):
    X = da.ones((10, 3), chunks=(5, 3))
    with pytest.raises(ValueError, match="linear_loss_grad: unknown loss"):
        mcd.linear_loss_grad(X, np.zeros(3), np.zeros(10), loss="hinge")
    with pytest.raises(ValueError, match="linear_loss_grad: theta has shape"):
        mcd.linear_loss_grad(X, np.zeros(3), np.zeros(10), fit_intercept=True)
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        mcd.linear_loss_grad(X, np.zeros(3), np.zeros(10), l2=-1)
    with pytest.raises(ValueError, match="LinearLoss: y must lie in"):
        mcd.LinearLoss(X, da.full(10, 2.0, chunks=5), loss="logistic")
    with pytest.raises(ValueError, match="LinearLoss: y must hold integer"):
        mcd.LinearLoss(X, np.full(10, 0.5), loss="multinomial")
    obj = mcd.LinearLoss(X, np.arange(10) % 3, loss="multinomial")
    with pytest.raises(ValueError, match="labels in 0 ... 1"):
        obj(np.zeros((3, 2)))
