"""Least squares on a 20,000,000 x 32 dask array with scipy.optimize and mcfast.dask.LeastSquares.

The data are generated on the workers (dask's seeded random Generator: the graph holds
only seeds), persisted there once by LeastSquares, and every gradient evaluation is one
graph execution in which each chunk runs mcfast's one-pass kernel and dask sums the
chunks' results with a tree reduction.

    python examples/dask_lstsq.py                      # 20,000,000 x 32, float64: 5.1 GB
    python examples/dask_lstsq.py --rows 200000        # a quick run
    python examples/dask_lstsq.py --scheduler tcp://host:8786   # on a running cluster
"""

import argparse
import contextlib
import time

import dask.array as da
import numpy as np
import scipy.optimize
from distributed import Client, LocalCluster

import mcfast.dask as mcd


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000_000)
    p.add_argument("--cols", type=int, default=32)
    p.add_argument("--chunk-rows", type=int, default=500_000,
                   help="rows per chunk (default 500,000: 128 MB of float64 X)")
    p.add_argument("--workers", type=int, default=2, help="workers of the LocalCluster")
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument("--scheduler", help="address of a running dask scheduler to use "
                   "instead of starting a LocalCluster")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--noise", type=float, default=0.1, help="standard deviation of y's noise")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def make_problem(n, m, chunk_rows, dtype, noise, seed):
    """Lazy X (n, m) and y = X θ_true + noise·ε, chunked by rows, built on the workers."""
    theta_true = np.random.default_rng(seed).uniform(-1, 1, m)
    X = da.random.default_rng(seed + 1).standard_normal((n, m), chunks=(chunk_rows, m),
                                                          dtype=dtype)
    eps = da.random.default_rng(seed + 2).standard_normal(n, chunks=chunk_rows, dtype=dtype)
    y = X @ theta_true.astype(dtype) + dtype(noise) * eps
    return X, y, theta_true


class Timed:
    """Wraps an objective: counts its calls and the seconds spent in them."""

    def __init__(self, obj):
        self.obj, self.calls, self.seconds = obj, 0, 0.0

    def __call__(self, theta):
        t0 = time.perf_counter()
        result = self.obj(theta)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return result


def connect(args, stack):
    """A Client of the given scheduler, or of a new LocalCluster (loopback, no dashboard)."""
    if args.scheduler:
        return stack.enter_context(Client(args.scheduler))
    cluster = stack.enter_context(LocalCluster(
        n_workers=args.workers, threads_per_worker=args.threads_per_worker,
        host="127.0.0.1", dashboard_address=None))
    return stack.enter_context(Client(cluster))


def main(argv=None):
    args = parse_args(argv)
    dtype = np.dtype(args.dtype).type
    n, m = args.rows, args.cols
    with contextlib.ExitStack() as stack:
        client = connect(args, stack)
        X, y, theta_true = make_problem(n, m, args.chunk_rows, dtype, args.noise, args.seed)
        threads = sorted(client.nthreads().values())
        print(f"X: {n:,} x {m} {args.dtype} ({X.nbytes / 1e9:.2f} GB) in "
              f"{X.numblocks[0]} chunks of {args.chunk_rows:,} rows; {len(threads)} "
              f"workers with {threads} thread(s)")

        t0 = time.perf_counter()
        obj = mcd.LeastSquares(X, y)  # generates the data on the workers and keeps it there
        obj(np.zeros(m))              # waits until it is there (and warms the workers up)
        print(f"generated and persisted on the workers in {time.perf_counter() - t0:.1f} s")

        timed = Timed(obj)
        t0 = time.perf_counter()
        res = scipy.optimize.minimize(timed, np.zeros(m), jac=True, method="L-BFGS-B")
        fit = time.perf_counter() - t0

        per_eval = timed.seconds / timed.calls
        print(f"L-BFGS-B: {res.nit} iterations, {timed.calls} loss+gradient evaluations "
              f"in {fit:.2f} s ({res.message})")
        print(f"time per gradient evaluation: {per_eval * 1e3:.1f} ms  "
              f"({n / per_eval:,.0f} rows/s)")
        print(f"max |theta - theta_true|: {np.max(np.abs(res.x - theta_true)):.2e}  "
              f"(noise / sqrt(rows) = {args.noise / np.sqrt(n):.1e})")


if __name__ == "__main__":
    main()
