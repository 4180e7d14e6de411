"""Throughput of mcfast.dask.lstsq_loss_grad against the same computation in plain dask.

Run from the repository root:
    PYTHONPATH=src python bench/bench_dask.py [--rows 20000000] [--cols 32]
        [--chunk-rows 500000] [--workers 2] [--repeats 7] [--dtype float64]

One LocalCluster (worker processes, loopback, no dashboard), one X persisted on it
(generated on the workers), the same chunks for every contender:
  mcfast.dask   mcd.lstsq_loss_grad(X, theta, y): mcfast's one-pass kernel per chunk,
                the [loss, grad] rows tree-summed;
  plain dask    r = X @ theta - y; dask.compute(r @ r, 2 * X.T @ r) (one graph);
  read floor    X.sum(axis=0): every chunk read once, summed (no least squares is faster).
Each call includes building its graph and the round trip to the cluster, as a user's
call does. Interleaved repeats (A, B, C, A, B, C, ...) and medians: the machine is
shared, and interleaving makes its drifts hit every contender alike.
"""

import argparse
import time

import dask
import dask.array as da
import distributed
import numpy as np

import mcfast
import mcfast.dask as mcd
from mcfast._timing import format_seconds, interleaved_medians

__all__ = ["main"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20_000_000)
    p.add_argument("--cols", type=int, default=32)
    p.add_argument("--chunk-rows", type=int, default=500_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    return p.parse_args(argv)


def plain_dask_loss_grad(X, theta, y):
    """The least-squares loss and gradient as a dask user writes them, in one compute."""
    r = X @ theta - y
    return dask.compute(r @ r, 2 * X.T @ r)


def persisted_problem(client, n, m, chunk_rows, dtype):
    """X (n, m) and y (n,) generated on the workers and kept there; θ in memory."""
    X = da.random.default_rng(1).standard_normal((n, m), chunks=(chunk_rows, m), dtype=dtype)
    y = da.random.default_rng(2).standard_normal(n, chunks=chunk_rows, dtype=dtype)
    X, y = client.persist([X, y])
    distributed.wait([X, y])
    theta = np.random.default_rng(3).standard_normal(m).astype(dtype)
    return X, y, theta


def check_same(X, theta, y):
    """mcfast.dask and plain dask agree (float64: 1e-10; float32: 1e-4 of the scale)."""
    loss, grad = mcd.lstsq_loss_grad(X, theta, y)
    loss_ref, grad_ref = plain_dask_loss_grad(X, theta, y)
    rtol = 1e-4 if grad.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(loss, loss_ref, rtol=rtol)
    np.testing.assert_allclose(grad, grad_ref, rtol=rtol, atol=rtol * np.abs(grad_ref).max())


def main(argv=None):
    args = parse_args(argv)
    dtype = np.dtype(args.dtype)
    n, m = args.rows, args.cols
    with distributed.LocalCluster(n_workers=args.workers,
                                  threads_per_worker=args.threads_per_worker,
                                  processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        t0 = time.perf_counter()
        X, y, theta = persisted_problem(client, n, m, args.chunk_rows, dtype)
        print(f"mcfast {mcfast.__version__}, dask {dask.__version__}, distributed "
              f"{distributed.__version__}, NumPy {np.__version__}")
        print(f"LocalCluster: {args.workers} worker processes x {args.threads_per_worker} "
              f"thread(s), loopback, no dashboard")
        print(f"X: {n:,} x {m} {dtype} ({X.nbytes / 1e9:.2f} GB) in {X.numblocks[0]} chunks "
              f"of {args.chunk_rows:,} rows, persisted on the workers "
              f"(generated in {time.perf_counter() - t0:.1f} s)")
        check_same(X, theta, y)
        names = ["mcfast.dask.lstsq_loss_grad", "plain dask (X @ theta - y; r @ r, 2 X.T @ r)",
                 "read floor: X.sum(axis=0).compute()"]
        fns = [lambda: mcd.lstsq_loss_grad(X, theta, y),
               lambda: plain_dask_loss_grad(X, theta, y),
               lambda: X.sum(axis=0).compute()]
        times = interleaved_medians(fns, repeats=args.repeats, target=0.0)
        print(f"\nmedians of {args.repeats} interleaved repeats (one call each):")
        for name, t in zip(names, times):
            print(f"  {name:<46s} {format_seconds(t):>9s}  {n / t / 1e6:8.1f} M rows/s"
                  f"  {X.nbytes / t / 1e9:6.2f} GB/s  {t / times[0]:5.2f}x mcfast's time")
    return times


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_dask", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
