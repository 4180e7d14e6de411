"""Reproducible sums: 1, 2, 3 or 64 threads, threadpool_limits(1) and a forked child agree bitwise.

The engine splits rows into parts fixed by the shape (n, m, K, dtype, source kind), never
by the thread count, and sums the parts in their order (issue 19); each batched chain is
computed whole by one thread.
"""

import functools
import os
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import mcfast as mc
from mcfast import _onepass
from mcfast._kernels import _engine

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is in the test extra
    threadpool_limits = None

N, M, K = 150_000, 16, 6    # K = 6: the multinomial rows on two vectors of classes at AVX2, four at SSE2
LOSSES = ["squared", "logistic", "poisson", "huber", "multinomial"]
SOURCES = ["C", "F", "CSR"]


class _Pinned:
    """The engine module with every call's thread count pinned to `threads`."""

    def __init__(self, threads):
        self.threads = threads

    def plan(self, *args):
        return _engine.plan(*args)[0], self.threads

    def __getattr__(self, name):
        return getattr(_engine, name)


@functools.lru_cache(maxsize=None)
def _data(loss, source, dtype=np.float64):
    rng = np.random.default_rng(19)
    n = N // 4 if source == "CSR" else N
    X = rng.standard_normal((n, M)).astype(dtype)
    if source == "F":
        X = np.asfortranarray(X)
    elif source == "CSR":
        X = sp.random(n, 200, density=0.05, format="csr", random_state=2, dtype=dtype)
    m = X.shape[1]
    if loss == "logistic":
        y = (rng.random(n) < 0.5).astype(dtype)
    elif loss == "poisson":
        y = rng.poisson(1.0, n).astype(dtype)
    elif loss == "multinomial":
        y = rng.integers(0, K, n).astype(dtype)
    else:
        y = rng.standard_normal(n).astype(dtype)
    shape = (m + 1, K) if loss == "multinomial" else (m + 1,)
    theta = (0.1 * rng.standard_normal(shape)).astype(dtype)
    p = rng.standard_normal(shape).astype(dtype)
    return X, y, theta, p


def _all(loss, source, dtype=np.float64, mixed=False):
    """Every result of one problem: loss and gradient, Hessian product, least squares
    (mixed: X and y in `dtype`, θ, P and the arithmetic float64)."""
    X, y, theta, p = _data(loss, source, dtype)
    if mixed:
        theta, p = theta.astype(np.float64), p.astype(np.float64)
    kw = dict(loss=loss, fit_intercept=True, l2=0.25)
    out = list(mc.linear_loss_grad(X, theta, y, **kw))
    out.append(mc.LinearLoss(X, y, dtype=theta.dtype, **kw).hessp(theta, p))
    if loss == "squared":
        m = X.shape[1]
        out += list(mc.lstsq_loss_grad(X, theta[:m], y))
        out.append(mc.lstsq_grad(X, theta[:m], y))
    return [np.asarray(a) for a in out]


def _pinned(monkeypatch, threads, fn):
    with monkeypatch.context() as mp:
        mp.setattr(_onepass, "_e", _Pinned(threads))
        return fn()


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), np.max(np.abs(x - y))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("loss", LOSSES)
def test_thread_count_does_not_change_a_bit(monkeypatch, loss, source):
    """1, 2, 3 and 64 threads: every loss, gradient and Hessian product bitwise equal."""
    one = _pinned(monkeypatch, 1, lambda: _all(loss, source))
    for threads in (2, 3, 64):
        _same(_pinned(monkeypatch, threads, lambda: _all(loss, source)), one)


@pytest.mark.parametrize("loss", ["squared", "logistic", "multinomial"])
def test_float32_thread_count_does_not_change_a_bit(monkeypatch, loss):
    one = _pinned(monkeypatch, 1, lambda: _all(loss, "C", np.float32))
    for threads in (2, 3, 64):
        _same(_pinned(monkeypatch, threads, lambda: _all(loss, "C", np.float32)), one)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("loss", LOSSES)
def test_mixed_thread_count_does_not_change_a_bit(monkeypatch, loss, source):
    """Float32 X under float64 arithmetic (C rows read in place by the mixed row groups,
    F and CSR staged: mc_stage.h): 1, 2, 3 and 64 threads bitwise equal."""
    one = _pinned(monkeypatch, 1, lambda: _all(loss, source, np.float32, True))
    assert one[1].dtype == np.float64
    for threads in (2, 3, 64):
        _same(_pinned(monkeypatch, threads, lambda: _all(loss, source, np.float32, True)), one)


@pytest.mark.skipif(threadpool_limits is None, reason="needs threadpoolctl")
@pytest.mark.parametrize("source", SOURCES)
def test_threadpool_limits_one_gives_the_default_bitwise(source):
    """threadpool_limits(1) (serial) and the default count: the same bits, every loss."""
    for loss in LOSSES:
        default = _all(loss, source)
        with threadpool_limits(1):
            _same(_all(loss, source), default)


def _minibatch(loss, source):
    """Loss and gradient, and the Hessian product, on 8,192 random rows of one problem
    (repeats and negative indices among them): a size whose rows= call takes a second
    thread by default (X's elements counted as a dense call's)."""
    X, y, theta, p = _data(loss, source)
    rows = np.random.default_rng(23).integers(-X.shape[0], X.shape[0], 8192)
    kw = dict(loss=loss, fit_intercept=True, l2=0.25)
    out = list(mc.linear_loss_grad(X, theta, y, rows=rows, **kw))
    out.append(mc.LinearLoss(X, y, **kw).hessp(theta, p, rows=rows))
    return [np.asarray(a) for a in out]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("loss", LOSSES)
def test_minibatch_thread_count_does_not_change_a_bit(monkeypatch, loss, source):
    """rows=: 1, 2, 3 and 64 threads, and threadpool_limits(1) against the default,
    bitwise equal (the minibatch takes threads from 4,096 rows of 32 columns on)."""
    one = _pinned(monkeypatch, 1, lambda: _minibatch(loss, source))
    for threads in (2, 3, 64):
        _same(_pinned(monkeypatch, threads, lambda: _minibatch(loss, source)), one)
    if threadpool_limits is not None:
        default = _minibatch(loss, source)
        with threadpool_limits(1):
            _same(_minibatch(loss, source), default)
        _same(default, one)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gives_the_parent_bitwise():
    """A forked child (serial there) computes the parent's threaded results bit for bit."""
    parent = {(loss, s): _all(loss, s) for loss in LOSSES for s in SOURCES}
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:           # pragma: no cover - the child
        try:
            os.close(r)
            child = {key: _all(*key) for key in parent}
            os.write(w, pickle.dumps(child))
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 1 << 20):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    child = pickle.loads(b"".join(chunks))
    for key in parent:
        _same(child[key], parent[key])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_sum_does_not_depend_on_threads(dtype):
    X = np.random.default_rng(3).standard_normal((300_001, 7)).astype(dtype)
    one = _engine.row_sum(X, 1)
    for threads in (2, 3, 64):
        assert _engine.row_sum(X, threads) == one


def test_batched_chains_do_not_depend_on_threads(monkeypatch):
    """Each stacked chain is computed whole by one thread: any count, the same bits."""
    from mcfast import chain
    rng = np.random.default_rng(4)
    links = [rng.standard_normal((20_000, 6, 6)) for _ in range(3)]
    g = rng.standard_normal((20_000, 6))
    results = []
    for threads in (1, 2, 3, 64):
        monkeypatch.setattr(chain, "_effective_n_threads", lambda t=threads: t)
        results.append([mc.jacobian_chain(links), mc.grad_chain(links, g),
                        mc.tangent_chain(links, g)])
    for r in results[1:]:
        _same(r, results[0])
