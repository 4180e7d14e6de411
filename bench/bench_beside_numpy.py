"""mcfast beside NumPy's BLAS in one loop, and small grad_ax against np.matmul (issue #11).

The cases of the suite (`python -m mcfast bench`) that concern a user's loop mixing mcfast
and NumPy: each call's median time in the alternating loop over its time in a loop of its
own library alone (target ≤ 1.2×), and grad_ax(out=) over np.matmul(A.T, G, out=) at every
n × n from 2 to 64 (target ≤ 1.0×). Run on a quiet machine; quote the load otherwise.

    python bench/bench_beside_numpy.py [--threads N]
"""

import argparse
import os

from mcfast import _bench, _bench_cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0,
                        help="cap BLAS and OpenMP threads (threadpoolctl); 0: all")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
