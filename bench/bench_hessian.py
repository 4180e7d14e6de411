"""Benchmark of LinearLoss.hessian against a read of X plus X.T @ X's multiply-adds.

Run from the repository root:
    PYTHONPATH=src python bench/bench_hessian.py [--n 2000000] [--m 32] [--threads 1 2]

The floor of a Hessian Xᵀ diag(d) X on T threads: a T-thread compiled read of X, plus its
m²n/2 multiply-adds at the rate NumPy's ``Xb.T @ Xb`` reaches on an L2-sized block
(``--block-kib`` of X, one thread), divided by T. Printed: each call over that floor,
and the peak memory the call allocates (tracemalloc, the result included) against X's
size. Interleaved repeats, medians, ratios from one run (the machine may be shared).
"""

import argparse
import tracemalloc

import numpy as np

import mcfast as mc
import mcfast.lstsq as lstsq_mod
from mcfast._kernels import _engine
from mcfast._timing import format_seconds, interleaved_medians

__all__ = ["main"]


def _peak_bytes(fn):
    """Peak bytes traced while `fn` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--block-kib", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args(argv)
    n, m = args.n, args.m
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, m))
    y = (rng.random(n) < 0.5).astype(float)
    theta = 0.1 * rng.standard_normal(m + 1)
    nb = max(1, (args.block_kib << 10) // (8 * m))
    Xb = np.ascontiguousarray(X[:nb])
    logistic = mc.LinearLoss(X, y, loss="logistic", l2=1.0, fit_intercept=True)
    squared = mc.LinearLoss(X, y, loss="squared", fit_intercept=True)
    print(f"X {n} x {m} float64 ({X.nbytes / 2**20:.0f} MiB), block {nb} rows "
          f"({Xb.nbytes >> 10} KiB)", flush=True)
    old = lstsq_mod._MAX_THREADS
    try:
        for T in args.threads:
            lstsq_mod._MAX_THREADS = T
            fns = [lambda: _engine.row_sum(X, T),
                   lambda: np.dot(Xb.T, Xb),
                   lambda: logistic.hessian(theta),
                   lambda: squared.hessian(theta),
                   lambda: logistic.grad_hess(theta)]
            read, block, lg, sq, gh = interleaved_medians(fns, repeats=args.repeats,
                                                          target=0.05)
            compute = block * (n / nb) / T
            floor = read + compute
            print(f"{T} thread(s): read of X {format_seconds(read)}, multiply-adds at "
                  f"X.T @ X's block rate {format_seconds(compute)} "
                  f"({m * m * nb / 2 / block / 1e9:.1f} GFMA/s a thread), floor "
                  f"{format_seconds(floor)}", flush=True)
            for name, t in (("hessian logistic", lg), ("hessian squared", sq),
                            ("grad_hess logistic", gh)):
                print(f"  {name:20s} {format_seconds(t)}  {t / floor:.2f}x the floor",
                      flush=True)
        peak = _peak_bytes(lambda: logistic.hessian(theta))
        peak_gh = _peak_bytes(lambda: logistic.grad_hess(theta))
        print(f"peak extra memory: hessian {peak / 1024:.0f} KiB, grad_hess "
              f"{peak_gh / 1024:.0f} KiB = {100 * max(peak, peak_gh) / X.nbytes:.3f} % of X",
              flush=True)
    finally:
        lstsq_mod._MAX_THREADS = old


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_hessian", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
