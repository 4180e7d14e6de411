"""The cimport API from outside: build examples/downstream against this mcfast and run it.

The example package cimports ``mcfast.kernels`` (found through ``mcfast.get_include()``),
runs least squares by gradient descent entirely under ``nogil`` and wraps every public
kernel in a ``def``, so each one is checked here against NumPy and the Python API.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import mcfast as mc
from mcfast._kernels._buildinfo import build_info

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "downstream"
DTYPES = [np.float32, np.float64]


def _have_c_compiler():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shutil.which(cc.split()[0]) is not None


@pytest.fixture(scope="module")
def gdfit(tmp_path_factory):
    """The example built into a temporary folder with the mcfast under test, imported."""
    if not _have_c_compiler():
        pytest.skip("no C compiler: the downstream example cannot be built")
    tmp = tmp_path_factory.mktemp("downstream")
    src = tmp / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("*.c", "*.so", "build"))
    env = dict(os.environ)
    # the same mcfast this process imported (installed, or src/ in a checkout)
    env["PYTHONPATH"] = os.pathsep.join([mc.get_include(), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--build-lib", str(tmp / "lib"),
         "--build-temp", str(tmp / "build")],
        cwd=src, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"building the downstream example failed:\n{proc.stdout}\n{proc.stderr}"
    [so] = (tmp / "lib").glob("gdfit*")
    spec = importlib.util.spec_from_file_location("gdfit", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def problem(dtype, n=200, m=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m)).astype(dtype)
    y = (X @ rng.standard_normal(m) + 0.1 * rng.standard_normal(n)).astype(dtype)
    return X, y


def tol(dtype):
    return 2e-4 if dtype == np.float32 else 1e-10


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_descent_matches_lstsq(gdfit, dtype):
    X, y = problem(dtype)
    theta, loss = gdfit.fit(X, y)
    expect = np.linalg.lstsq(X.astype(np.float64), y.astype(np.float64), rcond=None)[0]
    assert theta.dtype == dtype
    np.testing.assert_allclose(theta, expect, rtol=50 * tol(dtype), atol=50 * tol(dtype))
    np.testing.assert_allclose(loss, np.sum((X.astype(float) @ theta - y) ** 2), rtol=1e-3)
    np.testing.assert_allclose(gdfit.fit_linear(X, y), expect,
                               rtol=50 * tol(dtype), atol=50 * tol(dtype))


def test_gradient_descent_runs_in_parallel_threads(gdfit):
    """The loop holds no GIL: four fits in threads give the answers of four serial fits."""
    problems = [problem(np.float64, n=2000, m=8, seed=s) for s in range(4)]
    serial = [gdfit.fit(X, y, iters=300)[0] for X, y in problems]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda p: gdfit.fit(*p, iters=300)[0], problems))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3, 2), (30, 20, 25), (0, 3, 2), (4, 0, 2), (4, 3, 0)])
def test_linear_rules(gdfit, dtype, shape):
    p, m, n = shape
    rng = np.random.default_rng(1)
    A = rng.standard_normal((p, m)).astype(dtype)
    G = rng.standard_normal((p, n)).astype(dtype)
    g = rng.standard_normal(p).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    gdfit.grad_ax(A, G, False, out)
    np.testing.assert_allclose(out, mc.grad_ax(A, G), rtol=tol(dtype), atol=tol(dtype))
    gdfit.grad_ax(A, G, True, out)
    np.testing.assert_allclose(out, 2 * mc.grad_ax(A, G), rtol=tol(dtype), atol=tol(dtype))
    outv = np.full(m, np.nan, dtype)
    gdfit.grad_ax_vec(A, g, False, outv)
    np.testing.assert_allclose(outv, A.T @ g, rtol=tol(dtype), atol=tol(dtype))
    # Y = X A + B with X (n, m), A (p, m)... here G (n, p) and A (m, p)
    G2 = rng.standard_normal((n, p)).astype(dtype)
    A2 = rng.standard_normal((m, p)).astype(dtype)
    out2 = np.full((n, m), np.nan, dtype)
    gdfit.grad_xa(G2, A2, False, out2)
    np.testing.assert_allclose(out2, mc.grad_xa(G2, A2), rtol=tol(dtype), atol=tol(dtype))
    gv, av = G2[:, 0] if p else np.zeros(n, dtype), A2[:, 0] if p else np.zeros(m, dtype)
    gv, av = np.ascontiguousarray(gv), np.ascontiguousarray(av)
    gdfit.grad_xa_vec(gv, av, False, out2)
    np.testing.assert_allclose(out2, np.outer(gv, av), rtol=tol(dtype), atol=tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_trace_rule(gdfit, dtype):
    rng = np.random.default_rng(2)
    G = rng.standard_normal((3, 4)).astype(dtype)
    dY_dX = rng.standard_normal((3, 4, 2, 5)).astype(dtype)
    out = np.empty(10, dtype)
    gdfit.trace_chain(G.ravel(), dY_dX.reshape(12, 10), out)
    np.testing.assert_allclose(out.reshape(2, 5), mc.trace_chain(G, dY_dX),
                               rtol=tol(dtype), atol=tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m", [(50, 3), (1, 1), (3000, 40), (0, 3), (5, 0)])
def test_lstsq_kernels(gdfit, dtype, n, m):
    X, y = problem(dtype, n=n, m=m)
    theta = np.linspace(-1, 1, m).astype(dtype)
    w = np.linspace(0.5, 2, n).astype(dtype)
    work = np.empty(gdfit.lstsq_work_size(m, 0, 4))
    t = tol(dtype) * max(1, n) ** 0.5
    grad = np.full(m, np.nan, dtype)
    loss = gdfit.lstsq_loss_grad(X, theta, y, work, grad)
    np.testing.assert_allclose(loss, mc.reference.lstsq_loss_grad(X, theta, y)[0], rtol=t, atol=t)
    np.testing.assert_allclose(grad, mc.reference.lstsq_grad(X, theta, y), rtol=t, atol=t)
    grad[:] = np.nan
    gdfit.lstsq_grad(X, theta, y, work, grad)
    np.testing.assert_allclose(grad, mc.reference.lstsq_grad(X, theta, y), rtol=t, atol=t)
    ls = mc.LeastSquares(X.astype(float), y.astype(float), sample_weight=w, l2=0.3)
    for threads in (1, 4):
        loss = gdfit.lstsq_loss_grad_weighted(X, theta, y, w, 0.3, threads, work, grad)
        expect_loss, expect_grad = ls(theta.astype(float))
        np.testing.assert_allclose(loss, expect_loss, rtol=t, atol=t)
        np.testing.assert_allclose(grad, expect_grad, rtol=t, atol=t)
    gdfit.lstsq_hessp(X, theta, 0.3, work, grad)
    expect = 2 * X.T.astype(float) @ (X.astype(float) @ theta) + 0.6 * theta
    np.testing.assert_allclose(grad, expect, rtol=t, atol=t)
    assert np.isnan(gdfit.lstsq_loss_grad(X, theta, y, work[:0], grad))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m,k", [(50, 3, 2), (700, 20, 5), (0, 3, 2), (5, 0, 2), (5, 3, 0)])
def test_lstsq_multi_target(gdfit, dtype, n, m, k):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((n, m)).astype(dtype)
    Theta = rng.standard_normal((m, k)).astype(dtype)
    Y = rng.standard_normal((n, k)).astype(dtype)
    grad = np.full((m, k), np.nan, dtype)
    work = np.empty(gdfit.lstsq_work_size(m, k, 1))
    loss = gdfit.lstsq_loss_grad_multi(X, Theta, Y, work, grad)
    t = tol(dtype) * max(1, n) ** 0.5
    expect_loss, expect_grad = mc.reference.lstsq_loss_grad(X, Theta, Y)
    np.testing.assert_allclose(loss, expect_loss, rtol=t, atol=t)
    np.testing.assert_allclose(grad, expect_grad, rtol=t, atol=t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p,k,m", [(3, 4, 5), (20, 17, 30), (4, 0, 3)])
def test_chain_steps(gdfit, dtype, p, k, m):
    rng = np.random.default_rng(3)
    J = rng.standard_normal((p, m)).astype(dtype)
    t = rng.standard_normal(m).astype(dtype)
    g = rng.standard_normal(p).astype(dtype)
    d = rng.standard_normal(m).astype(dtype)
    out = np.full(p, np.nan, dtype)
    gdfit.tangent_step(J, t, out)
    np.testing.assert_allclose(out, J @ t, rtol=tol(dtype), atol=tol(dtype))
    out = np.full(m, np.nan, dtype)
    gdfit.grad_step(J, g, out)
    np.testing.assert_allclose(out, J.T @ g, rtol=tol(dtype), atol=tol(dtype))
    gdfit.tangent_step_diag(d, t, out)
    np.testing.assert_allclose(out, d * t, rtol=tol(dtype))
    gdfit.grad_step_diag(d, t, out)
    np.testing.assert_allclose(out, d * t, rtol=tol(dtype))
    A = rng.standard_normal((p, k)).astype(dtype)
    B = rng.standard_normal((k, m)).astype(dtype)
    P = np.full((p, m), np.nan, dtype)
    gdfit.link_product(A, B, P)
    np.testing.assert_allclose(P, A @ B, rtol=tol(dtype), atol=tol(dtype))
    gdfit.link_product_diag_right(J, d, P)
    np.testing.assert_allclose(P, J @ np.diag(d), rtol=tol(dtype), atol=tol(dtype))
    gdfit.link_product_diag_left(g, J, P)
    np.testing.assert_allclose(P, np.diag(g) @ J, rtol=tol(dtype), atol=tol(dtype))


CHAINS = [
    ([3, 5, 4, 2], [0, 0, 0]),
    ([6, 6, 4, 4, 7], [1, 0, 1, 0]),
    ([5, 5, 5], [1, 1]),
    ([40, 30, 30, 20], [0, 1, 0]),
    ([2, 9], [0]),
    ([3, 0, 4], [0, 0]),
]


def packed_chain(dims, diag, dtype, seed=4):
    rng = np.random.default_rng(seed)
    links, parts = [], []
    for k in range(1, len(dims)):
        if diag[k - 1]:
            d = rng.standard_normal(dims[k]).astype(dtype)
            links.append(mc.Diagonal(d))
            parts.append(d)
        else:
            J = rng.standard_normal((dims[k], dims[k - 1])).astype(dtype)
            links.append(J)
            parts.append(J.ravel())
    return links, np.concatenate(parts).astype(dtype)


def dense(link):
    return link.toarray() if isinstance(link, mc.Diagonal) else link


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims,diag", CHAINS)
def test_packed_chains(gdfit, dtype, dims, diag):
    links, packed = packed_chain(dims, diag, dtype)
    d = np.array(dims, dtype=np.intp)
    f = np.array(diag, dtype=np.uint8)
    size, nwork = gdfit.chain_sizes(d, f)
    assert size == packed.size
    work = np.empty(nwork, dtype)
    full = np.eye(dims[0])
    for link in links:
        full = dense(link).astype(float) @ full
    rng = np.random.default_rng(5)
    grad = rng.standard_normal(dims[-1]).astype(dtype)
    tangent = rng.standard_normal(dims[0]).astype(dtype)

    out = np.full(dims[0], np.nan, dtype)
    assert gdfit.grad_chain(packed, d, f, grad, work, out) == 0
    np.testing.assert_allclose(out, full.T @ grad, rtol=tol(dtype), atol=tol(dtype))
    out = np.full(dims[-1], np.nan, dtype)
    assert gdfit.tangent_chain(packed, d, f, tangent, work, out) == 0
    np.testing.assert_allclose(out, full @ tangent, rtol=tol(dtype), atol=tol(dtype))
    for reverse in (False, True):
        out = np.full((dims[-1], dims[0]), np.nan, dtype)
        assert gdfit.jacobian_chain(packed, d, f, reverse, work, out) == 0
        np.testing.assert_allclose(out, full, rtol=tol(dtype), atol=tol(dtype))


def test_packed_chains_refuse_bad_sizes(gdfit):
    links, packed = packed_chain([3, 5, 4], [0, 0], np.float64)
    d = np.array([3, 5, 4], dtype=np.intp)
    f = np.zeros(2, np.uint8)
    work = np.empty(gdfit.chain_sizes(d, f)[1])
    out = np.full(3, np.nan)
    assert gdfit.grad_chain(packed[:-1], d, f, np.ones(4), work, out) == -1
    assert gdfit.grad_chain(packed, d, f, np.ones(3), work, out) == -1
    assert gdfit.grad_chain(packed, d, f, np.ones(4), work[:2], out) == -1
    assert gdfit.grad_chain(packed, d, np.ones(2, np.uint8), np.ones(4), work, out) == -1
    assert np.isnan(out).all()
    assert gdfit.chain_sizes(d, np.ones(2, np.uint8))[0] == -1


@pytest.mark.parametrize("dims,diag", CHAINS[:4])
def test_chain_order_is_the_planner(gdfit, dims, diag):
    links, _ = packed_chain(dims, diag, np.float64)
    n = len(diag)
    cost = np.empty((n, n), np.intp)
    split = np.empty((n, n), np.intp)
    total = gdfit.chain_order(np.array(dims, np.intp), np.array(diag, np.uint8),
                              np.empty(n + 1, np.intp), cost, split)
    assert total == cost[0, n - 1] == mc.chain_plan(links).flops


def _nogil_plan_matches(gdfit, dims, diag, links):
    """The nogil planner (chain_order -> chain_steps) gives mcfast.chain_plan's flops and
    steps for these links. -> (dims, diag flags, steps) as the kernels take them."""
    n = len(diag)
    d, f = np.array(dims, np.intp), np.array(diag, np.uint8)
    cost, split = np.empty((n, n), np.intp), np.empty((n, n), np.intp)
    total = gdfit.chain_order(d, f, np.empty(n + 1, np.intp), cost, split)
    plan = mc.chain_plan(links)
    assert total == plan.flops
    steps = np.empty((n - 1, 2), np.intp)
    assert gdfit.chain_steps(split, np.empty(8 * n, np.intp), steps) == n - 1
    assert [tuple(int(i) for i in s) for s in steps] == [s[:2] for s in plan.steps]
    return d, f, steps


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims,diag", CHAINS + [([4, 9, 2, 8, 3, 7], [0, 0, 0, 0, 0]),
                                                ([5, 5, 5, 5], [1, 1, 1])])
def test_packed_chain_in_the_planners_order(gdfit, dtype, dims, diag):
    # the nogil planner (chain_order -> chain_steps) gives mcfast.chain_plan's steps, and
    # jacobian_chain_steps multiplies in that order
    links, packed = packed_chain(dims, diag, dtype)
    n = len(diag)
    d, f, steps = _nogil_plan_matches(gdfit, dims, diag, links)
    iwork = np.empty(5 * n, np.intp)
    need = gdfit.chain_steps_work_size(d, f, steps, iwork)
    assert need >= 0
    full = np.eye(dims[0])
    for link in links:
        full = dense(link).astype(float) @ full
    out = np.full((dims[-1], dims[0]), np.nan, dtype)
    work = np.empty(max(need, 1), dtype)
    assert gdfit.jacobian_chain_steps(packed, d, f, steps, iwork, work, out) == 0
    np.testing.assert_allclose(out, full, rtol=tol(dtype), atol=tol(dtype))
    if n > 1:
        bad = steps.copy()
        bad[0, 0] = n + 5                          # a step that does not exist yet
        out[...] = np.nan
        assert gdfit.jacobian_chain_steps(packed, d, f, bad, iwork, work, out) == -1
        assert np.isnan(out).all()
        if need > 1:
            assert gdfit.jacobian_chain_steps(packed, d, f, steps, iwork, work[:need - 1],
                                              out) == -1


BITWISE_CHAINS = [
    ([3, 5, 4, 2], [0, 0, 0]),                        # the fast 3-link entry
    ([6, 6, 4, 4, 7], [1, 0, 1, 0]),
    ([5, 5, 5, 5], [1, 1, 1]),                        # a Diagonal product, made dense
    ([4, 9, 2, 8, 3, 7, 7, 5], [0, 0, 0, 0, 0, 1, 0]),  # reuse of scratch blocks
    ([16, 16, 16, 16, 16], [0, 0, 0, 0]),             # products of exactly 4096 multiply-adds
    ([300, 300, 300, 50], [1, 1, 0]),                 # large, but every product a scaling
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims,diag", BITWISE_CHAINS)
def test_nogil_api_and_python_api_agree_bitwise(gdfit, dtype, dims, diag):
    # one planner, one scratch layout, one executor: mk.jacobian_chain_steps on the plan's
    # steps gives mcfast.jacobian_chain / ChainPlan's product bit for bit, and mk.grad_chain
    # / tangent_chain give mcfast.grad_chain / tangent_chain's
    links, packed = packed_chain(dims, diag, dtype)
    n = len(diag)
    d, f, steps = _nogil_plan_matches(gdfit, dims, diag, links)
    iwork = np.empty(5 * n, np.intp)
    work = np.empty(max(gdfit.chain_steps_work_size(d, f, steps, iwork), 1), dtype)
    out = np.full((dims[-1], dims[0]), np.nan, dtype)
    assert gdfit.jacobian_chain_steps(packed, d, f, steps, iwork, work, out) == 0
    plan = mc.chain_plan(links)
    for got in (mc.jacobian_chain(links), plan(links)):
        got = dense(got)
        assert got.dtype == dtype
        np.testing.assert_array_equal(out, got)
    full = np.eye(dims[0])
    for link in links:
        full = dense(link).astype(float) @ full
    np.testing.assert_allclose(out, full, rtol=tol(dtype), atol=tol(dtype))
    rng = np.random.default_rng(5)
    g = rng.standard_normal(dims[-1]).astype(dtype)
    t = rng.standard_normal(dims[0]).astype(dtype)
    work = np.empty(gdfit.chain_sizes(d, f)[1], dtype)
    res = np.empty(dims[0], dtype)
    # one vector through large links: both reach the same BLAS gemv (the Python API by
    # np.matmul, the nogil API by the shims), unless this mcfast was built with a test
    # limit (MCFAST_BLAS_INT_MAX, CI's bounds-checked pass) that sends the shims' products
    # past it to their own loops, which NumPy's matmul does not follow: then to rounding
    shims_loop = build_info()["blas_int_max"] < max(dims)
    for entry, v, n_out in ((gdfit.grad_chain, g, dims[0]), (gdfit.tangent_chain, t, dims[-1])):
        res = np.empty(n_out, dtype)
        assert entry(packed, d, f, v, work, res) == 0
        expect = (mc.grad_chain(links, v) if entry is gdfit.grad_chain
                  else mc.tangent_chain(links, v))
        if shims_loop:
            np.testing.assert_allclose(res, expect, rtol=tol(dtype), atol=tol(dtype))
        else:
            np.testing.assert_array_equal(res, expect)


def _long_chain(seed, n, sizes, p_diag):
    """Random dims (from `sizes`) and Diagonal flags of n links, and the links for chain_plan
    (shape tuples and Diagonals)."""
    rng = np.random.default_rng(seed)
    dims = [int(d) for d in rng.choice(sizes, size=n + 1)]
    diag = [bool(rng.random() < p_diag) for _ in range(n)]
    for k in range(n):
        if diag[k]:
            dims[k + 1] = dims[k]
    links = [mc.Diagonal(np.ones(dims[k])) if diag[k] else (dims[k + 1], dims[k])
             for k in range(n)]
    return dims, [int(f) for f in diag], links


def test_nogil_planner_is_the_python_planner_past_the_dp(gdfit):
    # one planner for dense and Diagonal links: mk.chain_order/chain_steps give
    # mcfast.chain_plan's flops and steps past DP_MAX too, whichever of pure forward, pure
    # reverse, the greedy pairing and the block DP wins (tests/test_chain_plan.py holds
    # that planner against the brute-force optimum)
    from mcfast import _plan
    cases = [(seed, n, sizes) for seed in range(4) for n in (_plan.DP_MAX + 1, 257)
             for sizes in ([2, 5, 60, 300], [1, 3, 4], [50, 1, 400, 7])]
    cases += [(0, 100, [3]), (1, 1000, [2, 5, 60, 300])]
    for seed, n, sizes in cases:
        dims, diag, links = _long_chain(seed, n, sizes, 0.2)
        _nogil_plan_matches(gdfit, dims, diag, links)
    # decreasing sizes: pure forward; increasing: pure reverse
    for dims in (list(range(300, 200, -1)), list(range(2, 102))):
        _nogil_plan_matches(gdfit, dims, [0] * (len(dims) - 1),
                            [(dims[k + 1], dims[k]) for k in range(len(dims) - 1)])


def test_nogil_planner_saturates(gdfit):
    # costs past PY_SSIZE_T_MAX are held there instead of wrapping to negatives
    n = 4
    d = np.array([2 ** 22] * 5, np.intp)
    cost, split = np.empty((n, n), np.intp), np.empty((n, n), np.intp)
    total = gdfit.chain_order(d, np.zeros(n, np.uint8), np.empty(n + 1, np.intp), cost, split)
    assert total == np.iinfo(np.intp).max
    assert all(cost[i, j] >= 0 for i in range(n) for j in range(i, n))   # the table's half


def test_effective_n_threads_is_the_kernels_count(gdfit):
    """mk.effective_n_threads() is the count mcfast's own kernels use, limits included."""
    from mcfast._kernels._threads import effective_n_threads
    assert gdfit.effective_n_threads() == effective_n_threads() >= 1
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        assert gdfit.effective_n_threads() == 1


LOSS_CODES = {"squared": 0, "logistic": 1, "poisson": 2, "huber": 3}


def _targets(rng, loss, n, dtype):
    if loss == "logistic":
        return rng.integers(0, 2, n).astype(dtype)
    if loss == "poisson":
        return rng.poisson(1.0, n).astype(dtype)
    return (2 * rng.standard_normal(n)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", list(LOSS_CODES))
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_linear_loss_kernels(gdfit, dtype, loss, fit_intercept):
    """mk.linear_loss_grad / linear_loss_hessp against the Python API's reference."""
    rng = np.random.default_rng(7)
    n, m = 300, 6
    X = rng.standard_normal((n, m)).astype(dtype)
    y = _targets(rng, loss, n, dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    theta = (0.3 * rng.standard_normal(m + fit_intercept)).astype(dtype)
    p = rng.standard_normal(m + fit_intercept).astype(dtype)
    obj = mc.reference.LinearLoss(X, y, loss=loss, sample_weight=w, l2=0.4,
                                  fit_intercept=fit_intercept)
    want_loss, want_grad = obj(theta)
    t = tol(dtype) * n ** 0.5
    for threads in (1, 2):
        work = np.empty(gdfit.linear_work_size(m, 0, threads))
        grad = np.full(theta.shape, np.nan, dtype)
        got = gdfit.linear_loss_grad(X, theta, y, w, True, LOSS_CODES[loss], 1.0,
                                     fit_intercept, 0.4, threads, work, grad)
        np.testing.assert_allclose(got, want_loss, rtol=t)
        np.testing.assert_allclose(grad, want_grad, rtol=t, atol=t * np.abs(want_grad).max())
        out = np.full(theta.shape, np.nan, dtype)
        gdfit.linear_loss_hessp(X, theta, p, y, w, True, LOSS_CODES[loss], 1.0,
                                fit_intercept, 0.4, threads, work, out)
        want_h = obj.hessp(theta, p)
        np.testing.assert_allclose(out, want_h, rtol=t, atol=t * np.abs(want_h).max())
    assert np.isnan(gdfit.linear_loss_grad(X, theta, y, w, True, 0, 1.0, fit_intercept,
                                           0.4, 1, work[:0], grad))


@pytest.mark.parametrize("dtype", DTYPES)
def test_multinomial_kernel(gdfit, dtype):
    rng = np.random.default_rng(8)
    n, m, K = 250, 5, 4
    X = rng.standard_normal((n, m)).astype(dtype)
    labels = rng.integers(0, K, n)
    Theta = rng.standard_normal((m + 1, K)).astype(dtype)
    want_loss, want_grad = mc.reference.linear_loss_grad(
        X, Theta, labels, loss="multinomial", fit_intercept=True, l2=0.2)
    work = np.empty(gdfit.linear_work_size(m, K, 2))
    grad = np.full(Theta.shape, np.nan, dtype)
    got = gdfit.multinomial_loss_grad(X, Theta, labels.astype(dtype), np.zeros(1, dtype),
                                      False, True, 0.2, 2, work, grad)
    t = tol(dtype) * n ** 0.5
    np.testing.assert_allclose(got, want_loss, rtol=t)
    np.testing.assert_allclose(grad, want_grad, rtol=t, atol=t * np.abs(want_grad).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", list(LOSS_CODES))
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_hessian_kernels(gdfit, dtype, loss, fit_intercept):
    """mk.linear_loss_hessian / linear_loss_grad_hess against the reference."""
    rng = np.random.default_rng(9)
    n, m = 300, 6
    X = rng.standard_normal((n, m)).astype(dtype)
    y = _targets(rng, loss, n, dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    theta = (0.3 * rng.standard_normal(m + fit_intercept)).astype(dtype)
    obj = mc.reference.LinearLoss(X, y, loss=loss, sample_weight=w, l2=0.4,
                                  fit_intercept=fit_intercept)
    want_loss, want_grad = obj(theta)
    want_h = obj.hessian(theta)
    t = tol(dtype) * n ** 0.5
    s = theta.size
    for threads in (1, 2):
        work = np.empty(gdfit.hessian_work_size(n, m, 0, LOSS_CODES[loss], fit_intercept,
                                                threads))
        H = np.full((s, s), np.nan, dtype)
        gdfit.linear_loss_hessian(X, theta, y, w, True, LOSS_CODES[loss], 1.0,
                                  fit_intercept, 0.4, threads, work, H)
        np.testing.assert_allclose(H, want_h, rtol=t, atol=t * np.abs(want_h).max())
        grad = np.full(theta.shape, np.nan, dtype)
        H2 = np.full((s, s), np.nan, dtype)
        got = gdfit.linear_loss_grad_hess(X, theta, y, w, True, LOSS_CODES[loss], 1.0,
                                          fit_intercept, 0.4, threads, work, grad, H2)
        np.testing.assert_allclose(got, want_loss, rtol=t)
        np.testing.assert_allclose(grad, want_grad, rtol=t, atol=t * np.abs(want_grad).max())
        np.testing.assert_array_equal(H2, H)
    assert np.isnan(gdfit.linear_loss_grad_hess(X, theta, y, w, True, 0, 1.0, fit_intercept,
                                                0.4, 1, work[:0], grad, H2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_multinomial_hessian_kernel(gdfit, dtype):
    rng = np.random.default_rng(10)
    n, m, K = 250, 5, 4
    X = rng.standard_normal((n, m)).astype(dtype)
    labels = rng.integers(0, K, n)
    Theta = rng.standard_normal((m + 1, K)).astype(dtype)
    obj = mc.reference.LinearLoss(X, labels, loss="multinomial", fit_intercept=True, l2=0.2)
    want_loss, want_grad = obj(Theta)
    want_h = obj.hessian(Theta)
    work = np.empty(gdfit.hessian_work_size(n, m, K, 4, True, 2))
    grad = np.full(Theta.shape, np.nan, dtype)
    H = np.full((Theta.size, Theta.size), np.nan, dtype)
    got = gdfit.multinomial_loss_grad_hess(X, Theta, labels.astype(dtype),
                                           np.zeros(1, dtype), False, True, 0.2, 2, work,
                                           grad, H)
    t = tol(dtype) * n ** 0.5
    np.testing.assert_allclose(got, want_loss, rtol=t)
    np.testing.assert_allclose(grad, want_grad, rtol=t, atol=t * np.abs(want_grad).max())
    np.testing.assert_allclose(H, want_h, rtol=t, atol=t * np.abs(want_h).max())


@pytest.mark.parametrize("seed", range(12))
def test_nogil_planner_agrees_with_chain_plan(gdfit, seed):
    # the cimport planner (C, dense and diagonal links) and mcfast.chain_plan (mcfast._plan)
    # are the same cost model: equal flops and equal steps on random chains up to 64 links
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 65))
    dims, diag, links = [int(rng.integers(1, 50))], [], []
    for _ in range(n):
        if rng.random() < 0.3:
            diag.append(1)
            dims.append(dims[-1])
            links.append(mc.Diagonal(np.ones(dims[-1])))
        else:
            diag.append(0)
            dims.append(int(rng.integers(1, 50)))
            links.append((dims[-1], dims[-2]))
    _nogil_plan_matches(gdfit, dims, diag, links)
