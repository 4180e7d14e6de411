"""mcfast beside NumPy's BLAS in one loop, and small grad_ax against np.matmul (issue #11).

The cases of the suite (`python -m mcfast bench`) that concern a user's loop mixing mcfast
and NumPy: each call's median time in the alternating loop over its time in a loop of its
own library alone (target ≤ 1.2×), and grad_ax(out=) over np.matmul(A.T, G, out=) at every
n × n from 2 to 64 (target ≤ 1.0×). Run on a quiet machine; quote the load otherwise.

    python bench/bench_beside_numpy.py [--threads N] [--cpu-time]

--cpu-time adds the small sizes timed by this thread's CPU time on one thread (BLAS and
OpenMP limited to 1), which other processes on a busy machine do not disturb.
"""

import argparse
import os
import time

from mcfast import _bench, _bench_cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0,
                        help="cap BLAS and OpenMP threads (threadpoolctl); 0: all")
    parser.add_argument("--cpu-time", action="store_true",
                        help="also time the small sizes by CPU time on one thread")
    args = parser.parse_args(argv)
    cases = [c for c in _bench_cases.CASES if c[0] == "beside NumPy" or "2..64" in c[1]]
    if args.threads:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          f"threads: {_bench._threads()}")
    rows = _bench.run(cases=cases, log=print)
    for what, rule, size, against, value, bound, met in _bench.targets(rows):
        print(f"  {'met   ' if met else 'MISSED'} {size}: {against} = {value:.3g} "
              f"(at most {bound})")
    if args.threads:
        limits.unregister()
    if args.cpu_time:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1):
            m = _bench_cases.case_grad_ax_small(repeats=9, clock=time.thread_time).measures
        print("small grad_ax by CPU time on one thread: " + ", ".join(
            f"{k} {v:.3g}" for k, v in m.items()))


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_beside_numpy", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
