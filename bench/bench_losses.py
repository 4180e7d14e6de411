"""Benchmark of the one-pass engine: linear-model losses against the read floor and peers.

Run from the repository root:
    PYTHONPATH=src python bench/bench_losses.py [--floor] [--cases] [--quick]

--floor  one thread, C-ordered X of 256 MB, m in {4, 8, 16, 32, 64, 256}, float64 and
         float32: lstsq_loss_grad (and logistic) over a one-thread compiled read of X,
         and over a read of X and y (what the loss must read: y adds 1/m of X's bytes).
--cases  the two-thread cases of `python -m mcfast bench` for the losses (squared,
         logistic, Poisson, F order, hessp, multinomial, CSR, rows=) against the
         two-thread read floor and scikit-learn's LinearModelLoss; then squared, logistic
         and Poisson without intercept and l2 against the floor.
Interleaved repeats, medians, ratios from one run (the machine may be shared: quote load).
Each run is filed under bench/machines/ by CPU and date (--no-save: not); MCFAST_SIMD=avx2
(or sse2) forces a lower instruction-set level than the CPU's best.
"""

import argparse
import os

import numpy as np

import mcfast as mc
import mcfast.lstsq as lstsq_mod
from mcfast import _bench, _bench_cases
from mcfast._kernels import _engine
from mcfast._timing import format_seconds, interleaved_medians

__all__ = ["floor_sweep", "plain_sweep", "main"]


def floor_sweep(mb=256, widths=(4, 8, 16, 32, 64, 256), repeats=11):
    """One thread: (dtype, m, floor of X, squared / floor, logistic / floor, squared /
    floor of X and y, logistic / floor of X and y) rows."""
    old = lstsq_mod._MAX_THREADS
    lstsq_mod._MAX_THREADS = 1
    rng = np.random.default_rng(0)
    rows = []
    try:
        for dtype in (np.float64, np.float32):
            for m in widths:
                n = (mb << 20) // (m * np.dtype(dtype).itemsize)
                X = rng.standard_normal((n, m)).astype(dtype)
                theta = (0.1 * rng.standard_normal(m)).astype(dtype)
                y = rng.standard_normal(n).astype(dtype)
                yl = (y > 0).astype(dtype)
                out = np.empty(m, dtype)
                y2 = y[:, None]
                fns = [lambda: _engine.row_sum(X, 1),
                       lambda: (_engine.row_sum(X, 1), _engine.row_sum(y2, 1)),
                       lambda: mc.lstsq_loss_grad(X, theta, y, out=out),
                       lambda: mc.linear_loss_grad(X, theta, yl, loss="logistic", out=out)]
                floor, floor_xy, sq, lg = interleaved_medians(fns, repeats=repeats, target=0.05)
                rows.append((np.dtype(dtype).name, m, floor, sq / floor, lg / floor,
                             sq / floor_xy, lg / floor_xy))
                print(f"{np.dtype(dtype).name:8s} m={m:4d}  read floor {format_seconds(floor)}"
                      f"  squared {sq / floor:.2f}x  logistic {lg / floor:.2f}x"
                      f"  | floor of X and y: squared {sq / floor_xy:.2f}x"
                      f"  logistic {lg / floor_xy:.2f}x", flush=True)
                del X, y, yl
    finally:
        lstsq_mod._MAX_THREADS = old
    return rows


def plain_sweep(n=2_000_000, m=32, repeats=21):
    """Two threads: squared, logistic and Poisson without intercept and l2 (the --cases
    rows have both) over the two-thread read floor, each timed with the floor in turns;
    [(loss, mcfast seconds, floor seconds)]."""
    rng = np.random.default_rng(14)
    rows = []
    for loss in ("squared", "logistic", "poisson"):
        X, y, theta = _bench_cases._loss_data(rng, loss, n, m)
        theta, out = theta[:m].copy(), np.empty(m)
        t_mc, t_floor = interleaved_medians(
            [lambda: mc.linear_loss_grad(X, theta, y, loss=loss, out=out),
             lambda: _engine.row_sum(X, 2)], repeats=repeats)
        rows.append((loss, t_mc, t_floor))
        print(f"{loss:9s} {n:,}x{m}, no intercept, no l2: mcfast {format_seconds(t_mc)}, "
              f"read floor {format_seconds(t_floor)}: {t_mc / t_floor:.2f}x", flush=True)
        del X, y
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--floor", action="store_true", help="the one-thread sweep only")
    parser.add_argument("--cases", action="store_true", help="the two-thread cases only")
    parser.add_argument("--quick", action="store_true", help="64 MB and fewer repeats")
    args = parser.parse_args(argv)
    both = not (args.floor or args.cases)
    print(f"mcfast {mc.__version__}, SIMD {_engine.simd_level()[2]}, CPUs {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.1f}")
    if args.floor or both:
        floor_sweep(mb=64 if args.quick else 256, repeats=5 if args.quick else 11)
    if args.cases or both:
        cases = [c for c in _bench_cases.CASES if c[0].startswith(("linear_loss", "LinearLoss"))]
        rows = _bench.run(quick=False, cases=cases)
        for what, rule, size, against, value, bound, met in _bench.targets(rows):
            print(f"{'met   ' if met else 'MISSED'} {rule} {size}: {against} {value:.3g} "
                  f"(at most {bound}) - {what}")
        plain_sweep()


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_losses", args):   # filed under bench/machines/ (--no-save: not)
        main(args)
