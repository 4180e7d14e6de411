"""Benchmark of rows= minibatches drawn fresh each call, against NumPy's X[rows] formula.

Run from the repository root:
    PYTHONPATH=src python bench/bench_minibatch.py [--n 2000000] [--m 32]
        [--batches 1024 4096 16384] [--calls 256]

`python -m mcfast bench` times one fixed set of rows again and again, so after the first
call its rows sit in cache. An SGD loop draws new rows each step: each row, and its
target, is a miss. Here every call takes the next of 64 random row sets (64 × 4,096 rows
of 256 bytes cover 64 MB, past the last-level cache), mcfast's
``linear_loss_grad(..., rows=)`` and NumPy's ``X[rows]`` formula in turn on the same set,
logistic with an intercept. Printed: medians per call and their ratio.
"""

import argparse
import time

import numpy as np

import mcfast as mc

__all__ = ["main"]


def _numpy_formula(X, y, theta, rows):
    """Loss and gradient of logistic regression with an intercept on X[rows], in NumPy."""
    m = X.shape[1]
    Xb, yb = X[rows], y[rows]
    z = Xb @ theta[:m] + theta[m]
    loss = np.sum(np.logaddexp(0, z) - yb * z)
    g = 1 / (1 + np.exp(-z)) - yb
    return loss, np.concatenate([Xb.T @ g, [g.sum()]])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--batches", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--calls", type=int, default=256)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.m))
    y = (rng.random(args.n) < 0.5).astype(float)
    theta = 0.01 * rng.standard_normal(args.m + 1)
    print(f"logistic, intercept, X {args.n:,} × {args.m} float64, fresh rows each call")
    for batch in args.batches:
        sets = [rng.integers(0, args.n, batch) for _ in range(64)]
        times = {"mcfast": [], "numpy": []}
        fns = {"mcfast": lambda r: mc.linear_loss_grad(X, theta, y, loss="logistic",
                                                       fit_intercept=True, rows=r),
               "numpy": lambda r: _numpy_formula(X, y, theta, r)}
        for r in sets[:4]:
            for f in fns.values():
                f(r)
        for k in range(args.calls):
            rows = sets[k % len(sets)]
            for name, f in (fns.items() if k % 2 else reversed(fns.items())):
                t0 = time.perf_counter()
                f(rows)
                times[name].append(time.perf_counter() - t0)
        ours, theirs = (float(np.median(times[k])) for k in ("mcfast", "numpy"))
        print(f"rows {batch:>7,}: mcfast {ours * 1e6:8.1f} µs  numpy {theirs * 1e6:8.1f} µs  "
              f"mcfast / numpy {ours / theirs:.3f}")


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_minibatch", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
