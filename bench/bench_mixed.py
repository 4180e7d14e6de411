"""Float32 X with float64 θ, and F-ordered X: time against all-float32 and the C floor, and peak memory.

    PYTHONPATH=src flock -x /tmp/bench.lock python bench/bench_mixed.py [--quick]

Two threads, 2e6 × 32 (squared, logistic, Poisson, with and without intercept, no l2):
  mixed / f32   linear_loss_grad(X32, θ64, y) over linear_loss_grad(X32, θ32, y32);
  F / floor     linear_loss_grad(F-ordered X, θ, y) over two threads reading the C-ordered
                X once (`_engine.row_sum`), float64 and float32;
and the peak extra memory (tracemalloc) of one mixed call on a 128 MB float32 X.
"""

import argparse
import tracemalloc

import numpy as np

import mcfast as mc
from mcfast import lstsq as lstsq_mod
from mcfast._kernels import _engine
from mcfast._timing import format_seconds, interleaved_medians


def _data(rng, loss, n, m):
    X = rng.standard_normal((n, m)).astype(np.float32)
    if loss == "logistic":
        y = (rng.random(n) < 0.5).astype(np.float32)
    elif loss == "poisson":
        y = rng.poisson(1.0, n).astype(np.float32)
    else:
        y = rng.standard_normal(n).astype(np.float32)
    theta = 0.1 * rng.standard_normal(m + 1)
    return X, y, theta


def peak_extra(n=1_000_000, m=32):
    """Peak bytes tracemalloc sees during one mixed call on an (n, m) float32 X."""
    rng = np.random.default_rng(1)
    X, y, theta = _data(rng, "logistic", n, m)
    mc.linear_loss_grad(X, theta, y, loss="logistic", fit_intercept=True)
    tracemalloc.start()
    tracemalloc.reset_peak()
    mc.linear_loss_grad(X, theta, y, loss="logistic", fit_intercept=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak extra memory, float32 X {X.nbytes / 2**20:.0f} MiB, float64 θ: "
          f"{peak / 2**20:.3f} MiB = {100 * peak / X.nbytes:.3f} % of X", flush=True)
    return peak / X.nbytes


def mixed_vs_f32(n=2_000_000, m=32, repeats=15):
    """[(loss, intercept, mixed / all-float32)] at two threads."""
    rng = np.random.default_rng(2)
    rows = []
    for loss in ("squared", "logistic", "poisson"):
        X, y, theta = _data(rng, loss, n, m)
        for icpt in (True, False):
            th = theta if icpt else theta[:m]
            t32 = th.astype(np.float32)
            o64, o32 = np.empty(th.size), np.empty(th.size, np.float32)
            t_mix, t_32 = interleaved_medians(
                [lambda: mc.linear_loss_grad(X, th, y, loss=loss, fit_intercept=icpt,
                                             out=o64),
                 lambda: mc.linear_loss_grad(X, t32, y, loss=loss, fit_intercept=icpt,
                                             out=o32)],
                repeats=repeats)
            rows.append((loss, icpt, t_mix / t_32))
            print(f"{loss:9s} {'intercept' if icpt else 'no intercept':12s} {n:,}x{m} "
                  f"float32 X: θ64 {format_seconds(t_mix)}, all-float32 "
                  f"{format_seconds(t_32)}: {t_mix / t_32:.3f}x", flush=True)
        del X, y
    return rows


def f_vs_floor(n=2_000_000, m=32, repeats=15):
    """[(dtype, loss, F / C floor, C / C floor)] at two threads."""
    rng = np.random.default_rng(3)
    rows = []
    for dtype in (np.float64, np.float32):
        for loss in ("squared", "logistic"):
            X, y, theta = _data(rng, loss, n, m)
            X, y, theta = X.astype(dtype), y.astype(dtype), theta.astype(dtype)
            F = np.asfortranarray(X)
            out = np.empty(m + 1, dtype)
            t_f, t_c, t_floor = interleaved_medians(
                [lambda: mc.linear_loss_grad(F, theta, y, loss=loss, fit_intercept=True,
                                             out=out),
                 lambda: mc.linear_loss_grad(X, theta, y, loss=loss, fit_intercept=True,
                                             out=out),
                 lambda: _engine.row_sum(X, 2)], repeats=repeats)
            rows.append((np.dtype(dtype).name, loss, t_f / t_floor, t_c / t_floor))
            print(f"{np.dtype(dtype).name:8s} {loss:9s} F {format_seconds(t_f)} = "
                  f"{t_f / t_floor:.3f}x the C floor ({format_seconds(t_floor)}); "
                  f"C {t_c / t_floor:.3f}x", flush=True)
            del X, F, y
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", choices=("memory", "mixed", "F"), default=None)
    args = parser.parse_args(argv)
    reps = 7 if args.quick else 15
    old = lstsq_mod._MAX_THREADS
    lstsq_mod._MAX_THREADS = 2
    try:
        if args.only in (None, "memory"):
            peak_extra()
        if args.only in (None, "mixed"):
            mixed_vs_f32(repeats=reps)
        if args.only in (None, "F"):
            f_vs_floor(repeats=reps)
    finally:
        lstsq_mod._MAX_THREADS = old


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_mixed", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
