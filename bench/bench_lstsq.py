"""Benchmark of the least-squares rules against NumPy and the memory read floor.

Run from the repository root:
    PYTHONPATH=src python bench/bench_lstsq.py [--quick] [--tune] [--dtype float32]

Interleaved repeats, medians, and ratios taken in the same run (the machine is shared
and noisy; ratios are stable where absolute times are not). The read floor is the time
for the threads to read X once (each summing its own rows): no least-squares gradient
on X can be faster. Peak extra memory comes from tracemalloc (NumPy reports to it).
"""

import os
import sys
import threading

import numpy as np

import mcfast as mc
import mcfast.lstsq as lstsq_mod
from mcfast._bench_cases import peak_extra_bytes as _extra_bytes
from mcfast._kernels import _lstsq as _k
from mcfast._kernels._threads import effective_n_threads
from mcfast._timing import format_seconds, interleaved_medians

__all__ = ["main"]


def numpy_loss_grad(X, theta, y):
    """The NumPy formula the kernel competes with."""
    r = X @ theta - y
    return r @ r, 2 * X.T @ r


def _np_sum_two_threads(X):
    """The read floor with NumPy: two threads each summing half of X's rows."""
    half = X.shape[0] // 2
    parts = [X[:half], X[half:]]
    threads = [threading.Thread(target=np.sum, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _kernel(dtype):
    return _k.vec_loss_grad["float" if dtype == np.float32 else "double"]


def _report(title, names, fns, target, repeats, base=0):
    times = interleaved_medians(fns, repeats=repeats, target=target)
    print(f"\n{title}")
    for name, t in zip(names, times):
        print(f"  {name:<46s} {format_seconds(t):>10s}   {t / times[base]:6.2f}x of "
              f"{names[base]}")
    return times


def tall(n, m, dtype, repeats, checks):
    """One tall case: mcfast vs NumPy vs the read floor, and peak memory."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, m)).astype(dtype)
    theta = rng.standard_normal(m).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    loss, grad = mc.lstsq_loss_grad(X, theta, y)
    loss_np, grad_np = numpy_loss_grad(X, theta, y)
    assert np.allclose(loss, loss_np, rtol=1e-4) and np.allclose(grad, grad_np, rtol=1e-3,
                                                                  atol=1e-3 * abs(grad_np).max())
    block, threads = lstsq_mod._plan(n, m, 0, X.itemsize)
    rows = _k.row_sum["float" if dtype == np.float32 else "double"]
    kern = _kernel(dtype)
    one = np.zeros(1, dtype)
    g1 = np.empty(m, dtype)
    title = (f"tall {n:,} x {m} {np.dtype(dtype).name} (X = {X.nbytes / 2**20:.0f} MiB, "
             f"block {block} rows, {threads} threads)")
    # 1. against NumPy. OpenBLAS's threads spin for a while after each NumPy call and
    #    take the cores our threads want right after it, so this ratio is pessimistic.
    t = _report(title + ": against NumPy",
                ["numpy: r = X@θ - y; r@r, 2*X.T@r", "mc.lstsq_loss_grad"],
                [lambda: numpy_loss_grad(X, theta, y), lambda: mc.lstsq_loss_grad(X, theta, y)],
                0.05, repeats)
    checks.append((f"{n}x{m} vs numpy", t[1] / t[0], 0.55))
    # 2. against the memory read floor (no BLAS call in between)
    t = _report(title + ": against the read floor",
                ["mc.lstsq_loss_grad", "kernel on 1 thread", f"read floor ({threads} threads)",
                 "read floor (np.sum in 2 threads)"],
                [lambda: mc.lstsq_loss_grad(X, theta, y),
                 lambda: kern(X, theta, y, True, one, False, 0.0, g1, block, 1),
                 lambda: rows(X, threads), lambda: _np_sum_two_threads(X)],
                0.05, repeats, base=2)
    checks.append((f"{n}x{m} vs read floor", t[0] / t[2], 1.3))
    extra = _extra_bytes(lambda: mc.lstsq_loss_grad(X, theta, y))
    extra_np = _extra_bytes(lambda: numpy_loss_grad(X, theta, y))
    print(f"  peak extra memory: mcfast {extra:,} B ({extra / n:.3f} B/row), "
          f"numpy {extra_np:,} B ({extra_np / n:.1f} B/row)")
    checks.append((f"{n}x{m} extra B/row", extra / n, 0.5))


def small(n, m, repeats, checks):
    """A small case: the whole call, the kernel alone, and NumPy."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, m))
    theta = rng.standard_normal(m)
    y = rng.standard_normal(n)
    kern = _kernel(np.float64)
    loop = _k.repeat_vec_loss_grad["double"]
    one = np.zeros(1)
    g = np.empty(m)
    obj = mc.LeastSquares(X, y)
    names = ["numpy: r = X@θ - y; r@r, 2*X.T@r", "mc.lstsq_loss_grad (validated call)",
             "def wrapper + kernel (5 memoryviews)", "mc.LeastSquares(X, y)(θ)",
             "1000 kernel calls in one nogil loop"]
    fns = [lambda: numpy_loss_grad(X, theta, y),
           lambda: mc.lstsq_loss_grad(X, theta, y),
           lambda: kern(X, theta, y, True, one, False, 0.0, g, 1024, 1),
           lambda: obj(theta),
           lambda: loop(X, theta, y, g, 1024, 1000)]
    t = _report(f"small {n} x {m} float64", names, fns, 0.02, repeats)
    print(f"  kernel work per call: {format_seconds(t[4] / 1000)}")
    checks.append((f"{n}x{m} def wrapper+kernel vs numpy", t[2] / t[0], 1.0))
    checks.append((f"{n}x{m} kernel work, µs", t[4] / 1000 * 1e6, 1.0))


def _gemv_blocks(X, theta, y, block):
    """The alternative inner loop: two BLAS gemv per block (X_b θ, then X_bᵀ r_b).

    From Python, so it pays ≈ 2 µs of call overhead per block (≈ 1 ms in all here).
    """
    from scipy.linalg import blas
    gemv = blas.dgemv if X.dtype == np.float64 else blas.sgemv
    g = np.zeros(X.shape[1], X.dtype)
    loss = 0.0
    for i in range(0, X.shape[0], block):
        xt = X[i:i + block].T                       # Fortran-ordered view for BLAS
        r = gemv(1.0, xt, theta, trans=1)           # r = X_b @ θ
        r -= y[i:i + block]
        loss += float(r @ r)
        g = gemv(1.0, xt, r, beta=1.0, y=g, overwrite_y=1)   # g += X_b.T @ r
    return loss, 2 * g


def tune(repeats):
    """Rows per block, SIMD level, BLAS gemv per block, and the one-thread threshold."""
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(2)
    for n, m, block in [(1_000_000, 32, 1024), (250_000, 256, 256)]:
        X = rng.standard_normal((n, m))
        theta, y = rng.standard_normal(m), rng.standard_normal(n)
        one, g = np.zeros(1), np.empty(m)
        kern = _kernel(np.float64)
        with threadpool_limits(1):
            assert np.allclose(_gemv_blocks(X, theta, y, block)[1],
                               mc.lstsq_grad(X, theta, y))
            _report(f"inner loop, {n:,} x {m}, 1 thread, {block}-row blocks",
                    ["C loop (this kernel)", "BLAS gemv twice per block"],
                    [lambda: kern(X, theta, y, True, one, False, 0.0, g, block, 1),
                     lambda: _gemv_blocks(X, theta, y, block)], 0.05, repeats)
    for n, m in [(1_000_000, 32), (250_000, 256), (1_000_000, 8)]:
        X = rng.standard_normal((n, m))
        theta, y = rng.standard_normal(m), rng.standard_normal(n)
        one, g = np.zeros(1), np.empty(m)
        kern = _kernel(np.float64)
        blocks = [b for b in (64, 128, 256, 512, 1024, 2048, 4096)]
        names = [f"block {b:5d} rows ({b * m * 8 // 1024} KiB)" for b in blocks]
        fns = [lambda b=b: kern(X, theta, y, True, one, False, 0.0, g, b, 2) for b in blocks]
        _report(f"block size, {n:,} x {m}, 2 threads", names, fns, 0.05, repeats)
        levels = list(range(_k.simd_level()[1] + 1))

        def at_level(lvl):
            old = _k.set_simd_level(lvl)
            try:
                kern(X, theta, y, True, one, False, 0.0, g, 512, 2)
            finally:
                _k.set_simd_level(old)
        _report(f"SIMD level, {n:,} x {m}, 2 threads", [f"level {lv}" for lv in levels],
                [lambda lv=lv: at_level(lv) for lv in levels], 0.05, repeats)
    for m in (8, 32):
        for n in (2_000, 8_000, 32_000, 128_000):
            X = rng.standard_normal((n, m))
            theta, y = rng.standard_normal(m), rng.standard_normal(n)
            one, g = np.zeros(1), np.empty(m)
            kern = _kernel(np.float64)
            block = lstsq_mod._plan(n, m, 0, 8)[0]
            _report(f"threads, {n:,} x {m} ({n * m:,} elements)", ["1 thread", "2 threads"],
                    [lambda: kern(X, theta, y, True, one, False, 0.0, g, block, 1),
                     lambda: kern(X, theta, y, True, one, False, 0.0, g, block, 2)],
                    0.02, repeats)


def main(argv=()):
    """Run the tall and small cases; print medians, ratios and the targets' verdicts."""
    quick = "--quick" in argv
    repeats = 5 if quick else 11
    dtype = np.float32 if "float32" in argv else np.float64
    print(f"mcfast {mc.__version__}, SIMD {_k.simd_level()[2]}, CPUs {os.cpu_count()}, "
          f"threads {effective_n_threads()}")
    if "--tune" in argv:
        tune(repeats)
        return []
    checks = []
    tall(250_000 if quick else 1_000_000, 32, dtype, repeats, checks)
    tall(62_500 if quick else 250_000, 256, dtype, repeats, checks)
    small(8, 8, repeats, checks)
    small(64, 8, repeats, checks)
    print("\ntargets (ratio <= target):")
    for name, ratio, target in checks:
        print(f"  {name:<36s} {ratio:7.3f}  (target {target})  "
              f"{'ok' if ratio <= target else 'MISSED'}")
    return checks


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_lstsq", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
