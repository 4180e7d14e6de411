"""The thread mechanisms of issue #20 side by side: what each leaves behind after a call.

Candidates: GNU OpenMP as it was (a build of the old kernels, --baseline), the same with
GOMP_SPINCOUNT=0 set only while mcfast (and so its libgomp) loads, and mcfast's own pool
(this tree) with its workers spinning 0, 20 µs (the default) or 200 µs before they sleep,
or started per call. Per threaded entry (mcfast._bench_cases.threaded_entries): a 512²
np.matmul right after it over the product alone, and its own time in a loop of its own
over the OpenMP baseline's. Each candidate runs in its own interpreter, the interpreters
in interleaved rounds; the pool variants switch inside one interpreter.

    python bench/bench_thread_mechanisms.py --baseline /path/to/old/src [--threads 1]
    python bench/bench_thread_mechanisms.py --baseline /path/to/old/src --hgb

--hgb: scikit-learn's HistGradientBoostingClassifier.fit on 100,000 × 20 with mcfast
imported first and called once, over the same fit without mcfast (its own OpenMP must
keep its spinning).
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

CHILD = r"""
import json, os, sys, time
spin0 = os.environ.pop("MCB_GOMP0", "") == "1"
if spin0:                       # the candidate: set only while mcfast's libgomp loads
    os.environ["GOMP_SPINCOUNT"] = "0"
import numpy as np
import mcfast as mc
from mcfast._kernels import _engine, _chain, _lstsq   # every kernel module (and libgomp)
if spin0:
    del os.environ["GOMP_SPINCOUNT"]
import importlib.util
spec = importlib.util.spec_from_file_location("cases", os.environ["MCB_CASES"])
bc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bc)     # this tree's cases, run on whichever mcfast is imported
from threadpoolctl import threadpool_limits
mode, threads, variants = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
limits = threadpool_limits(threads) if threads else None
out = {}
if mode == "hgb":
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    X, y = make_classification(100_000, 20, random_state=0)
    if variants:                # mcfast imported above; called once here
        mc.lstsq_loss_grad(X, np.zeros(20), y)
    t = []
    for _ in range(3):
        t0 = time.perf_counter()
        HistGradientBoostingClassifier(max_iter=50, early_stopping=False,
                                       random_state=0).fit(X, y)
        t.append(time.perf_counter() - t0)
    out["fit"] = float(np.median(t))
else:
    from mcfast._kernels import _threads
    entries = bc.threaded_entries()
    rng = np.random.default_rng(1)
    B, C, o = rng.standard_normal((512, 512)), rng.standard_normal((512, 512)), np.empty((512, 512))
    mm = lambda: np.matmul(B, C, out=o)
    for v in variants:
        if v != "openmp":
            _threads.set_per_call(v == "per call")
            _threads.set_spin_ns(0 if v == "per call" else int(v.split()[1]) * 1000)
        for name, f in entries.items():
            f_with, f_alone, mm_with, mm_alone = bc.alternation(f, mm, rounds=5)
            out[f"{v}|{name}"] = (mm_with / mm_alone, f_alone)
print(json.dumps(out))
"""

POOL = ["pool 20", "pool 0", "pool 200", "per call"]


def child(path, mode, threads, variants, gomp0=False):
    env = dict(os.environ, PYTHONPATH=str(path), MCB_GOMP0="1" if gomp0 else "",
               MCB_CASES=str(SRC / "mcfast" / "_bench_cases.py"))
    env.pop("GOMP_SPINCOUNT", None)
    env.pop("OMP_WAIT_POLICY", None)
    p = subprocess.run([sys.executable, "-c", CHILD, mode, str(threads), json.dumps(variants)],
                       capture_output=True, text=True, env=env, timeout=600)
    if p.returncode:
        raise SystemExit(p.stderr)
    return json.loads(p.stdout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="src/ of a build of the OpenMP kernels")
    ap.add_argument("--threads", type=int, default=0, help="threadpool_limits; 0: all")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hgb", action="store_true")
    a = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, "
          f"threads {a.threads or 'all'}, {a.rounds} interleaved rounds, medians")
    runs = {}
    if a.hgb:
        cands = {"without mcfast": (None, []), "openmp": (a.baseline, ["x"]),
                 "openmp GOMP_SPINCOUNT=0 at load": (a.baseline, ["x"], True),
                 "pool 20 µs": (SRC, ["x"])}
        for _ in range(a.rounds):
            for name, c in cands.items():
                path = c[0] or SRC
                code_variant = c[1]
                r = child(path, "hgb", a.threads, code_variant, *c[2:])
                runs.setdefault(name, []).append(r["fit"])
        base = np.median(runs["without mcfast"])
        for name, t in runs.items():
            print(f"  HistGradientBoostingClassifier.fit, {name:34s} {np.median(t):7.3f} s "
                  f"{np.median(t) / base:5.3f}x")
        return
    for _ in range(a.rounds):
        for name, r in (("openmp", child(a.baseline, "entries", a.threads, ["openmp"])),
                        ("openmp GOMP_SPINCOUNT=0 at load",
                         child(a.baseline, "entries", a.threads, ["openmp"], True)),
                        ("pool", child(SRC, "entries", a.threads, POOL))):
            print(name, json.dumps(r), file=sys.stderr, flush=True)
            for key, val in r.items():
                v, entry = key.split("|")
                v = name if name != "pool" else v
                runs.setdefault((v, entry), []).append(val)
    entries = sorted({e for _, e in runs}, key=lambda e: list(runs).index(("openmp", e)))
    names = ["openmp", "openmp GOMP_SPINCOUNT=0 at load"] + POOL
    print("matmul 512² after the entry / alone; the entry alone / OpenMP's (back to back)")
    print(f"{'candidate':34s}" + "".join(f"{e:>22s}" for e in entries))
    for n in names:
        cells = []
        for e in entries:
            mm = np.median([x[0] for x in runs[(n, e)]])
            own = np.median([x[1] for x in runs[(n, e)]]) / np.median(
                [x[1] for x in runs[("openmp", e)]])
            cells.append(f"{mm:6.2f}x / {own:5.3f}x")
        print(f"{n:34s}" + "".join(f"{c:>22s}" for c in cells))


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_thread_mechanisms", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
