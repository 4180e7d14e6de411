"""No leaks: many calls of every function, on good input and on each error path, grow neither traced memory, RSS nor refcounts."""

import gc
import os
import resource
import sys
import tracemalloc

import numpy as np
import pytest

import mcfast as mc

REPS = 1000                       # measured repetitions of each function's list of calls
TRACED_BOUND = 64 * 1024          # bytes: under 64 bytes per call would pass unnoticed...
RSS_BOUND = 4 * 1024 * 1024       # ...but a leaked result (>= 2 KiB here) would not


def _rss():
    """Resident set size of this process in bytes (/proc/self/statm, else ru_maxrss)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux: the peak is the best there is
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cases(name, rng):
    """(inputs whose refcounts must not change, [(expected exception or None, call)])."""
    r = rng.standard_normal
    bad_out = np.zeros((2, 2))
    ro = np.zeros((30, 25))
    ro.flags.writeable = False
    if name in ("grad_ax", "grad_xa"):
        f = getattr(mc, name)
        A, G = r((40, 30)), r((40, 25))
        args = (A, G)
        if name == "grad_xa":                    # G (30, 40), A (25, 40) -> (30, 25)
            args = (A.T.copy(), G.T.copy())
        out = np.zeros((30, 25))
        v1, v2 = (r(40), r(30)) if name == "grad_ax" else (r(30), r(25))
        calls = [
            (None, lambda: f(*args)),
            (None, lambda: f(*args, out=out)),
            (None, lambda: f(*args, out=out, accumulate=True)),
            (None, lambda: f(np.asfortranarray(args[0]), args[1][::-1])),
            (None, lambda: f(args[0].astype(np.float32), args[1].astype(np.float32))),
            (None, lambda: f(args[0].astype(np.int32), args[1] > 0)),
            (None, lambda: f(v1, v2) if name == "grad_xa" else f(args[0], v1)),
            (TypeError, lambda: f(None, args[1])),
            (TypeError, lambda: f(args[0].astype(complex), args[1])),
            (ValueError, lambda: f(args[0][1:] if name == "grad_ax" else args[0][:, 1:], args[1])),
            (ValueError, lambda: f(*args, out=bad_out)),
            (ValueError, lambda: f(*args, out=ro)),
            (ValueError, lambda: f(*args, out=out.T.copy().T)),
            (ValueError, lambda: f(*args, accumulate=True)),
        ]
        return list(args) + [out], calls
    if name == "trace_chain":
        G, D, out = r((6, 5)), r((6, 5, 8, 7)), np.zeros((8, 7))
        return [G, D, out], [
            (None, lambda: mc.trace_chain(G, D)),
            (None, lambda: mc.trace_chain(G, D, out=out)),
            (None, lambda: mc.trace_chain(G, np.asfortranarray(D))),
            (None, lambda: mc.trace_chain(G[::-1], D[::-1, :, ::2][..., ::-1])),
            (TypeError, lambda: mc.trace_chain(G, None)),
            (TypeError, lambda: mc.trace_chain(G, D.astype(object))),
            (ValueError, lambda: mc.trace_chain(G.T, D)),
            (ValueError, lambda: mc.trace_chain(G, D, out=bad_out)),
        ]
    if name in ("lstsq_grad", "lstsq_loss_grad"):
        f = getattr(mc, name)
        X, t, y, T, Y, out = r((60, 30)), r(30), r(60), r((30, 3)), r((60, 3)), np.zeros(30)
        return [X, t, y, T, Y, out], [
            (None, lambda: f(X, t, y)),
            (None, lambda: f(X, t, y, out=out)),
            (None, lambda: f(X, T, Y)),
            (None, lambda: f(np.asfortranarray(X), t[::-1], y)),
            (None, lambda: f(X.astype(np.float32), t.astype(np.float32), y.astype(np.float32))),
            (TypeError, lambda: f(X, None, y)),
            (TypeError, lambda: f(X, t, y.astype(np.complex64))),
            (ValueError, lambda: f(X, t[1:], y)),
            (ValueError, lambda: f(X, t, Y)),
            (ValueError, lambda: f(X, t, y, out=bad_out)),
        ]
    if name == "LeastSquares":
        X, y, w, t, Y = r((60, 30)), r(60), np.abs(r(60)), r(30), r((60, 3))
        obj = mc.LeastSquares(X, y, sample_weight=w, l2=0.5)
        return [X, y, w, t, Y], [
            (None, lambda: obj(t)),
            (None, lambda: obj.hessp(t, t)),
            (None, lambda: mc.LeastSquares(X, Y)(np.zeros(90))),
            (None, lambda: mc.LeastSquares(X.astype(np.float32), y)(t)),
            (ValueError, lambda: obj(t[1:])),
            (TypeError, lambda: obj(None)),
            (ValueError, lambda: mc.LeastSquares(X, y[1:])),
            (ValueError, lambda: mc.LeastSquares(X, y, l2=-1)),
            (TypeError, lambda: mc.LeastSquares(X, y, sample_weight=w.astype(complex))),
        ]
    # chains
    J1, J2, J3 = r((4, 12, 10)), r((12, 12)), r((4, 9, 12))
    D = mc.Diagonal(r(12))
    links = [J1, D, J2, J3]
    g, u, g12 = r((4, 9)), r((4, 10)), r((4, 12))
    if name == "jacobian_chain":
        out = np.zeros((4, 9, 10))
        return [J1, J2, J3, out], [
            (None, lambda: mc.jacobian_chain(links)),
            (None, lambda: mc.jacobian_chain(links, order="forward", out=out)),
            (None, lambda: mc.jacobian_chain([D, D])),
            (None, lambda: mc.chain_plan(links)(links)),
            (None, lambda: str(mc.chain_plan([(3, 4), (5, 3)]))),
            (TypeError, lambda: mc.jacobian_chain([J1, None])),
            (TypeError, lambda: mc.jacobian_chain(None)),
            (ValueError, lambda: mc.jacobian_chain([J1, J1])),
            (ValueError, lambda: mc.jacobian_chain(links, order="sideways")),
            (ValueError, lambda: mc.jacobian_chain(links, out=bad_out)),
            (ValueError, lambda: mc.jacobian_chain([])),
        ]
    f, vec, bad = ((mc.grad_chain, g, u) if name == "grad_chain"
                   else (mc.tangent_chain, u, g))
    out = np.zeros((4, 10) if name == "grad_chain" else (4, 9))
    return [J1, J2, J3, g, u, out], [
        (None, lambda: f(links, vec)),
        (None, lambda: f(links, vec, out=out)),
        (None, lambda: f([J1.astype(np.float32), D], g12 if name == "grad_chain" else u)),
        (TypeError, lambda: f(links, None)),
        (TypeError, lambda: f(links, vec.astype(complex))),
        (ValueError, lambda: f(links, bad)),
        (ValueError, lambda: f([J3, J1], vec)),
        (ValueError, lambda: f(links, vec, out=bad_out)),
    ]


NEEDS = {"grad_ax": ("grad_ax",), "grad_xa": ("grad_xa",), "trace_chain": ("trace_chain",),
         "lstsq_grad": ("lstsq_grad",), "lstsq_loss_grad": ("lstsq_loss_grad",),
         "LeastSquares": ("LeastSquares",),
         "jacobian_chain": ("jacobian_chain", "chain_plan", "Diagonal"),
         "grad_chain": ("grad_chain", "Diagonal"), "tangent_chain": ("tangent_chain", "Diagonal")}


def _run(calls, reps):
    for _ in range(reps):
        for exc, call in calls:
            if exc is None:
                call()
                continue
            try:
                call()
            except exc:
                pass
            else:
                raise AssertionError(f"expected {exc.__name__} from {call}")


@pytest.mark.parametrize("name", list(NEEDS))
def test_no_leak(name):
    missing = [n for n in NEEDS[name] if not hasattr(mc, n)]
    if missing:
        pytest.skip(f"mcfast.{', '.join(missing)} not landed")
    inputs, calls = _cases(name, np.random.default_rng(7))
    _run(calls, 50)                                     # warm-up: caches, pools, imports
    gc.collect()
    refcounts = [sys.getrefcount(a) for a in inputs]
    rss0 = _rss()
    _run(calls, REPS)                                   # untraced, at full speed, for RSS
    gc.collect()
    rss = _rss() - rss0
    tracemalloc.start()
    try:
        _run(calls, 200)            # traced warm-up: free lists and caches settle
        gc.collect()
        traced0 = tracemalloc.get_traced_memory()[0]
        _run(calls, REPS)
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - traced0
    finally:
        tracemalloc.stop()
    ncalls = REPS * len(calls)
    assert traced < TRACED_BOUND, f"{name}: traced memory grew {traced} B over {ncalls} calls"
    assert rss < RSS_BOUND, f"{name}: RSS grew {rss} B over {ncalls} calls"
    assert [sys.getrefcount(a) for a in inputs] == refcounts, f"{name}: input refcounts changed"
