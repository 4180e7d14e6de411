"""jacobian_chain on stacks of three n × n links (issue 21) as a share of the FMA peak,
in cache and from memory, optionally against another build of _stack (interleaved).

    PYTHONPATH=src flock -x /tmp/bench.lock python bench/bench_stack_jac.py \
        [--n=16,24,32] [--dtype=float64,float32] [--B=256,10000] [--repeats=7] \
        [--old=/path/to/_stack.cpython-311-x86_64-linux-gnu.so[,...]] [--threads=2]

B small (256: 0.6-2.4 MB of links for n = 16-32 float64, in L2/L3 across the two cores)
measures the kernel; B = 10,000 (as bench_chain.py --stacks) adds the memory traffic.
"fresh": a new output each call (the user's call, mcfast.jacobian_chain's default order);
"out=": into one reused output. The same kernel entry as jacobian_chain
(_stack.fast_stack, the reverse order), timed directly so that an old build can be
loaded beside the new one (--old: copies of the .so built before a change, comma-separated) and each
sample of old and new alternate. Peak: _stack.fma_peak (a compiled loop of 12
independent FMAs, two threads), the best of 5.
"""
import importlib.util
import sys

import numpy as np
from threadpoolctl import threadpool_limits

import mcfast as mc
from mcfast._kernels import _stack
from mcfast._timing import interleaved_medians


def _arg(argv, name, default):
    return next((a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")),
                default)


def _load(path):
    spec = importlib.util.spec_from_file_location("mcfast._kernels._stack", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    sizes = [int(x) for x in _arg(argv, "n", "16,24,32").split(",")]
    dtypes = [np.dtype(x) for x in _arg(argv, "dtype", "float64,float32").split(",")]
    bs = [int(x) for x in _arg(argv, "B", "256,10000").split(",")]
    repeats = int(_arg(argv, "repeats", "7"))
    nthreads = int(_arg(argv, "threads", "2"))
    old = _arg(argv, "old", None)
    mods = [("new", _stack)] + [(f"old{i}" if "," in old else "old", _load(path))
                                for i, path in enumerate(old.split(",") if old else ())]
    rng = np.random.default_rng(21)
    with threadpool_limits(nthreads):
        peak = max(_stack.fma_peak(nthreads) for _ in range(5))
        print(f"{nthreads} threads, level {_stack.simd_level()[2]}, FMA peak "
              f"{peak / 1e9:.1f} GFlop/s float64; %peak fresh / out=, medians of "
              f"{repeats} interleaved samples")
        print(f"  {'dtype':7s} {'n':>3s} {'B':>6s} | " + " | ".join(
            f"{name:>4s} fresh   out=  (out= time)" for name, _ in mods))
        for dtype in dtypes:
            for n in sizes:
                for b in bs:
                    links = [rng.standard_normal((b, n, n)).astype(dtype) for _ in range(3)]
                    res = np.empty((b, n, n), dtype)
                    want = links[2] @ links[1] @ links[0]
                    fns = []
                    for _, m in mods:
                        got = m.fast_stack(links, None, m.JACOBIAN_REVERSE, mc.Diagonal)
                        assert np.allclose(got, want, rtol=1e-3, atol=1e-3 * n)
                        fns.append(lambda m=m: m.fast_stack(links, None, m.JACOBIAN_REVERSE,
                                                            mc.Diagonal))
                        fns.append(lambda m=m: m.fast_stack(links, None, m.JACOBIAN_REVERSE,
                                                            mc.Diagonal, False, res))
                    ts = interleaved_medians(fns, repeats=repeats, target=0.01, settle=0.03)
                    flops = 4.0 * n ** 3 * b * (8 // dtype.itemsize) ** -1
                    cells = []
                    for i in range(len(mods)):
                        tf, to = ts[2 * i], ts[2 * i + 1]
                        cells.append(f"{100 * flops / tf / peak:9.0f}% {100 * flops / to / peak:5.0f}%"
                                     f"  ({to * 1e3:7.3f} ms)")
                    print(f"  {dtype.name:7s} {n:3d} {b:6d} | " + " | ".join(cells),
                          flush=True)


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_stack_jac", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
