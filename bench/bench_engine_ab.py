"""A/B of two builds of _engine: an older one (a copied .so, loaded beside) against this
tree's, interleaved in one process, the def entry loss_grad called directly with the same
plan, so the two differ only in their compiled kernels.

    PYTHONPATH=src [MCFAST_SIMD=avx2] python bench/bench_engine_ab.py OLD_SO [--floor]
        [--cases] [--multinomial]

OLD_SO: another build's _engine .so (copy it out of a worktree of the older commit), with
`loss_grad` taking the source kind (from 0ac7571 on) or not (8aac628). The old
build runs at the new one's SIMD level (MCFAST_SIMD forces a lower one for both).
--floor: one thread, 256 MB of C-ordered X, m in {4 … 256}, squared and logistic, float64
and float32; --cases: two threads, 2e6 × 32 (intercept and l2, or neither), hessp, F
order, float32 X under float64, rows=, lstsq 250,000 × 256, multinomial K = 8, CSR;
--multinomial: one thread, 5e5 × 32 with intercept, K in {2, 3, 4, 6, 8, 9}, float64 and
float32, gradient and Hessian product (the classes-as-lanes rows take K ≤ 8). Prints
new/main per case, medians of interleaved repeats.
"""
import importlib.util
import os
import sys

import numpy as np
import scipy.sparse as sp

import mcfast as mc
from mcfast._kernels import _engine as new
from mcfast._timing import interleaved_medians

spec = importlib.util.spec_from_file_location("mcold._kernels._engine", sys.argv[1])
old = importlib.util.module_from_spec(spec)
spec.loader.exec_module(old)
old.set_simd_level(new.simd_level()[0])
assert old.simd_level()[0] == new.simd_level()[0]
C, F, CSR = (new.SOURCE_KINDS[k] for k in ("C", "F", "CSR"))
# builds from the source kind's introduction on classify it themselves (dense_kind)
OLD_TAKES_KIND = hasattr(old, "dense_kind")
LOSS = new.LOSS_CODES
print(f"level {new.simd_level()[2]}, load {os.getloadavg()[0]:.2f}", flush=True)


def pair(X, theta, y, loss, threads, *, p=None, w=None, intercept=False, l2=0.0,
         kind=None, ind=None, ptr=None, shape=None, rows=None):
    """(old call, new call) of one problem through the def entries."""
    shape = shape or X.shape
    if kind is None:
        kind = new.dense_kind(X)
    n, m = shape
    K = theta.shape[1] if theta.ndim == 2 else 1
    nu = n if rows is None else len(rows)
    el = X.size if ind is None else X.shape[0]
    block, thr = new.plan(kind, nu, m, K, theta.dtype.itemsize, el, threads)
    g1, g2 = np.empty_like(theta), np.empty_like(theta)
    code = LOSS[loss]
    if OLD_TAKES_KIND:
        a = lambda: old.loss_grad(X, ind, ptr, shape, kind, rows, theta, p, y, w, code, 1.0,
                                  intercept, l2, g1, block, thr)
    else:
        a = lambda: old.loss_grad(X, ind, ptr, shape, rows, theta, p, y, w, code, 1.0,
                                  intercept, l2, g1, block, thr)
    b = lambda: new.loss_grad(X, ind, ptr, shape, kind, rows, theta, p, y, w, code, 1.0,
                              intercept, l2, g2, block, thr)
    va, vb = a(), b()
    assert np.allclose(g1, g2, rtol=1e-5, atol=1e-5 * np.abs(g1).max()) and \
        np.isclose(va, vb, rtol=1e-5), (loss, va, vb)
    return a, b


def report(name, a, b, repeats):
    ta, tb = interleaved_medians([a, b], repeats=repeats, target=0.05)
    print(f"{name:46s} main {ta * 1e3:8.2f} ms  new {tb * 1e3:8.2f} ms  new/main {tb / ta:5.3f}",
          flush=True)
    return tb / ta


rng = np.random.default_rng(0)
ratios = []
if "--floor" in sys.argv:
    mb = 256
    for dtype in (np.float64, np.float32):
        for m in (4, 8, 16, 32, 64, 256):
            n = (mb << 20) // (m * np.dtype(dtype).itemsize)
            X = rng.standard_normal((n, m)).astype(dtype)
            theta = (0.1 * rng.standard_normal(m)).astype(dtype)
            y = rng.standard_normal(n).astype(dtype)
            yl = (y > 0).astype(dtype)
            for loss, yy in (("squared", y), ("logistic", yl)):
                a, b = pair(X, theta, yy, loss, 1)
                ratios.append(report(f"1 thread {np.dtype(dtype).name} m={m} {loss}", a, b, 7))
            del X, y, yl
if "--cases" in sys.argv:
    n, m = 2_000_000, 32
    X = rng.standard_normal((n, m))
    theta = 0.1 * rng.standard_normal(m + 1)
    P = rng.standard_normal(m + 1)
    ys = {"squared": rng.standard_normal(n), "logistic": (rng.random(n) < 0.5) * 1.0,
          "poisson": rng.poisson(1.0, n) * 1.0}
    for loss, y in ys.items():
        a, b = pair(X, theta, y, loss, 2, intercept=True, l2=0.5)
        ratios.append(report(f"2 threads 2e6x32 {loss} +b +l2", a, b, 11))
        a, b = pair(X, theta[:m].copy(), y, loss, 2)
        ratios.append(report(f"2 threads 2e6x32 {loss} plain", a, b, 11))
    a, b = pair(X, theta, ys["logistic"], "logistic", 2, p=P, intercept=True, l2=0.5)
    ratios.append(report("2 threads logistic hessp +b", a, b, 11))
    XF = np.asfortranarray(X)
    a, b = pair(XF, theta, ys["logistic"], "logistic", 2, intercept=True, l2=0.5)
    ratios.append(report("2 threads F order logistic +b", a, b, 11))
    del XF
    X32 = X.astype(np.float32)
    for loss in ("squared", "logistic"):
        a, b = pair(X32, theta, ys[loss], loss, 2, intercept=True, l2=0.5)
        ratios.append(report(f"2 threads float32 X, float64 theta {loss}", a, b, 11))
    rows = rng.integers(0, n, 4096).astype(np.intp)
    a, b = pair(X, theta, ys["logistic"], "logistic", 2, intercept=True, rows=rows)
    ratios.append(report("rows= 4096 logistic", a, b, 11))
    del X32
    Xl = rng.standard_normal((250_000, 256))
    a, b = pair(Xl, rng.standard_normal(256) * 0.1, rng.standard_normal(250_000), "squared", 2)
    ratios.append(report("2 threads lstsq 250,000x256", a, b, 11))
    del Xl
    Xm = rng.standard_normal((500_000, 32))
    Th = 0.1 * rng.standard_normal((33, 8))
    lab = rng.integers(0, 8, 500_000).astype(np.float64)
    a, b = pair(Xm, Th, lab, "multinomial", 2, intercept=True)
    ratios.append(report("2 threads multinomial K=8 5e5x32", a, b, 11))
    S = sp.random(200_000, 2000, density=0.01, format="csr", random_state=0)
    a, b = pair(S.data, 0.1 * rng.standard_normal(2001), (rng.random(200_000) < .5) * 1.,
                "logistic", 2, intercept=True, kind=CSR, ind=S.indices, ptr=S.indptr,
                shape=S.shape)
    ratios.append(report("2 threads CSR logistic 2e5x2000 1%", a, b, 11))
if "--multinomial" in sys.argv:
    n, m = 500_000, 32
    for dtype in (np.float64, np.float32):
        X = rng.standard_normal((n, m)).astype(dtype)
        for K in (2, 3, 4, 6, 8, 9):
            lab = rng.integers(0, K, n).astype(dtype)
            Th = (0.1 * rng.standard_normal((m + 1, K))).astype(dtype)
            P = (0.1 * rng.standard_normal((m + 1, K))).astype(dtype)
            for mode, p in (("gradient", None), ("Hessian product", P)):
                a, b = pair(X, Th, lab, "multinomial", 1, p=p, intercept=True)
                ratios.append(report(f"1 thread multinomial {np.dtype(dtype).name} K={K} {mode}",
                                     a, b, 9))
        del X
r = np.array(ratios)
print(f"new/main: median {np.median(r):.3f}, max {r.max():.3f}, min {r.min():.3f}; "
      f"load {os.getloadavg()[0]:.2f}")
