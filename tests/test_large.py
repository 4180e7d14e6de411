"""Past 2**31 elements: kernels index with Py_ssize_t (slow, ~9 GiB each: python -m pytest -m slow tests/test_large.py)."""

import gc

import numpy as np
import pytest

import mcfast as mc

pytestmark = pytest.mark.slow

BIG = 2**31                    # every array below has more elements than this


def _need(gib):
    """Skip unless the machine has `gib` GiB available (plus 1 GiB to spare)."""
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable"))
    except (OSError, StopIteration):  # pragma: no cover - not Linux
        return
    if avail < (gib + 1) * 2**20:
        pytest.skip(f"needs {gib} GiB of free memory; {avail / 2**20:.1f} GiB available")


def _fill(a, rng, rows=1 << 20):
    """Random float32 values in [-1, 1), filled a slab of rows at a time (no big temporary)."""
    for i in range(0, a.shape[0], rows):
        part = a[i:i + rows]
        rng.random(part.shape, dtype=np.float32, out=part)
        part -= 0.5
    return a


@pytest.fixture(autouse=True)
def _free_memory():
    yield
    gc.collect()


def _probe_rows(n, rng):
    """A few row indices, the first and last included (and the rows past 2**31 elements)."""
    return np.unique(np.r_[0, 1, n - 2, n - 1, rng.integers(0, n, 6)])


def test_grad_xa_outer_product_past_2_31():
    _need(9)
    rng = np.random.default_rng(0)
    g = rng.standard_normal(2**16 + 1).astype(np.float32)
    a = rng.standard_normal(2**15 + 1).astype(np.float32)
    out = mc.grad_xa(g, a)                          # (65537, 32769) float32: 8.6 GB
    assert out.size > BIG and out.shape == (g.size, a.size)
    for i in _probe_rows(g.size, rng):
        np.testing.assert_array_equal(out[i], g[i] * a)   # one float32 product each
    del out


def test_grad_xa_matrix_past_2_31():
    _need(9)
    rng = np.random.default_rng(1)
    G = rng.standard_normal((2**16 + 1, 3)).astype(np.float32)
    A = rng.standard_normal((2**15 + 1, 3)).astype(np.float32)
    out = mc.grad_xa(G, A)
    assert out.size > BIG
    for i in _probe_rows(G.shape[0], rng):
        np.testing.assert_allclose(out[i], G[i].astype(np.float64) @ A.T.astype(np.float64),
                                   rtol=1e-5, atol=1e-5)
    del out


def test_grad_ax_and_trace_chain_on_a_matrix_past_2_31():
    _need(9)
    rng = np.random.default_rng(2)
    A = _fill(np.empty((2**16 + 1, 2**15 + 1), np.float32), rng)   # 8.6 GB
    G = rng.standard_normal(A.shape[0]).astype(np.float32)
    assert A.size > BIG
    got = mc.grad_ax(A, G)
    cols = _probe_rows(A.shape[1], rng)
    want = np.array([A[:, j].astype(np.float64) @ G for j in cols])
    scale = np.array([np.abs(A[:, j]).astype(np.float64) @ np.abs(G) for j in cols])
    assert np.all(np.abs(got[cols] - want) <= 1e-4 * scale)
    # the trace rule views dY_dX = A as (Y.size, X.size): the same sum, through its own path
    got_t = mc.trace_chain(G, A)
    assert np.all(np.abs(got_t[cols] - want) <= 1e-4 * scale)
    del A


def test_lstsq_loss_grad_past_2_31():
    if not hasattr(mc, "lstsq_loss_grad"):
        pytest.skip("mcfast.lstsq_loss_grad not landed")
    _need(10)
    rng = np.random.default_rng(3)
    n, m = BIG // 16 + 5, 16
    X = _fill(np.empty((n, m), np.float32), rng)                    # 8.6 GB
    theta = rng.standard_normal(m).astype(np.float32)
    y = _fill(np.empty(n, np.float32), rng)
    assert X.size > BIG
    loss, grad = mc.lstsq_loss_grad(X, theta, y)
    # direct computation in float64, a slab of rows at a time
    loss64, grad64, gscale, lscale = 0.0, np.zeros(m), np.zeros(m), 0.0
    t64 = theta.astype(np.float64)
    for i in range(0, n, 1 << 22):
        Xb = X[i:i + (1 << 22)].astype(np.float64)
        r = Xb @ t64 - y[i:i + (1 << 22)]
        loss64 += float(r @ r)
        grad64 += 2 * (Xb.T @ r)
        s = np.abs(Xb) @ np.abs(t64) + np.abs(y[i:i + (1 << 22)])
        gscale += 2 * (np.abs(Xb).T @ s)
        lscale += float(s @ s)
    assert abs(loss - loss64) <= 1e-4 * lscale
    assert np.all(np.abs(grad - grad64) <= 1e-4 * gscale)
    del X


def test_grad_chain_per_sample_past_2_31():
    if not hasattr(mc, "grad_chain"):
        pytest.skip("mcfast.grad_chain not landed")
    _need(11)
    rng = np.random.default_rng(4)
    b = BIG // 16 + 3
    J = _fill(np.empty((b, 4, 4), np.float32), rng)                 # 8.6 GB of links
    w = rng.standard_normal(4).astype(np.float32)
    assert J.size > BIG
    got = mc.grad_chain([J], w)                                     # (b, 4): wᵀ J per sample
    assert got.shape == (b, 4)
    for i in _probe_rows(b, rng):
        np.testing.assert_allclose(got[i], w.astype(np.float64) @ J[i].astype(np.float64),
                                   rtol=1e-5, atol=1e-5)
    del J, got
