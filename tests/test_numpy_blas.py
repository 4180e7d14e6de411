"""Products made through mcfast's Python API run on NumPy's BLAS, beside NumPy's own calls.

SciPy and NumPy each ship an OpenBLAS, with its own pool of threads that spin after a
call; a loop alternating the two made each wait for the other (a 128² np.matmul 80×
slower right after mc.grad_ax on 2 cores). mcfast's products go to NumPy's BLAS, so such
a loop wakes one pool. Which library ran is seen from the threads: with NumPy's OpenBLAS
limited to one thread and SciPy's allowed two, a product on NumPy's BLAS keeps exactly one
thread busy (per-thread CPU time from Linux's /proc, in a fresh interpreter).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import mcfast as mc
from _cpu_time import CPU_NS

pytest.importorskip("threadpoolctl", reason="threadpoolctl (in the test extra)")

SCRIPT = """
import os, sys, threading, time
import numpy as np
import mcfast as mc
from threadpoolctl import ThreadpoolController

blas = [c for c in ThreadpoolController().lib_controllers if c.internal_api == "openblas"]
folder = lambda c: os.path.basename(os.path.dirname(c.filepath))   # numpy.libs, scipy.libs
numpy_blas = [c for c in blas if folder(c).startswith("numpy")]
scipy_blas = [c for c in blas if folder(c).startswith("scipy")]
if len(numpy_blas) != 1 or len(scipy_blas) != 1:
    print("skip: NumPy and SciPy do not have an OpenBLAS each:", [c.filepath for c in blas])
    sys.exit(0)
numpy_blas[0].set_num_threads(int(sys.argv[1]))
scipy_blas[0].set_num_threads(int(sys.argv[2]))

""" + CPU_NS + """
rng = np.random.default_rng(0)
n = 1000
A, G = rng.standard_normal((n, n)), rng.standard_normal((n, n))
F = np.asfortranarray(A)
V, g = rng.standard_normal((4000, 2000)), rng.standard_normal(4000)
D = rng.standard_normal((40, 50, 40, 50))
calls = {
    "grad_ax": lambda: mc.grad_ax(A, G),
    "grad_ax F-ordered": lambda: mc.grad_ax(F, G),
    "grad_ax accumulate": lambda: mc.grad_ax(A, G, out=np.zeros((n, n)), accumulate=True),
    "grad_ax vector": lambda: mc.grad_ax(V, g),
    "grad_xa": lambda: mc.grad_xa(G, A),
    "grad_xa float32 + float64": lambda: mc.grad_xa(G.astype(np.float32), A),
    "trace_chain": lambda: mc.trace_chain(D[:, :, 0, 0], D),
}
for name, call in calls.items():
    call()
    t0 = time.perf_counter()
    call()
    reps = max(3, int(0.1 / (time.perf_counter() - t0)))     # about 0.1 s of calls
    before = cpu_ns()
    for _ in range(reps):
        call()
    after = cpu_ns()
    used = sorted((after[t] - before.get(t, 0) for t in after), reverse=True) + [0]
    print(f"{name}: {used[1] / used[0]}")     # the second busiest thread's share
"""


def _second_thread_share(numpy_threads, scipy_threads):
    """For each call: the CPU time of the second busiest thread over the busiest's."""
    # without OMP_NUM_THREADS, which a dask test's nanny may have left in this process
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",
                                                            "OPENBLAS_NUM_THREADS")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(numpy_threads), str(scipy_threads)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    if proc.stdout.startswith("skip"):
        pytest.skip(proc.stdout.strip())
    return {k: float(v) for k, v in (line.rsplit(": ", 1) for line in proc.stdout.splitlines())}


needs = pytest.mark.skipif(
    not os.path.exists("/proc/self/task") or len(os.sched_getaffinity(0)) < 2,
    reason="per-thread CPU time from Linux's /proc, and two CPUs")


@needs
def test_products_run_on_numpys_blas():
    """NumPy's BLAS on one thread, SciPy's on two: every product keeps one thread busy."""
    share = _second_thread_share(1, 2)
    assert all(s < 0.05 for s in share.values()), share


@needs
def test_products_use_numpys_threads():
    """The control: NumPy's BLAS on two threads, SciPy's on one: the products use two
    (a busy machine can starve the second, so a small share of the work suffices)."""
    share = _second_thread_share(2, 1)
    assert all(s > 0.1 for s in share.values()), share


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 15, 16, 17, 31, 32, 33, 40, 41, 47, 63, 64, 65])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_entry_at_every_path_boundary(rng, n, dtype):
    """Hand loops (4 × 16, 4 × 8, 4 × 4 tiles, then the last 1-3 rows and columns; below
    64³ multiply-adds) and NumPy's BLAS beyond: both sides of each boundary, square and
    oblong, against the float64 product."""
    for p, m, k in ((n, n, n), (n, 3, n + 5), (2 * n + 1, n, 17)):
        A = rng.standard_normal((p, m)).astype(dtype)
        G = rng.standard_normal((p, k)).astype(dtype)
        out = np.full((m, k), np.nan, dtype)
        got = mc.grad_ax(A, G, out=out)
        assert got is out
        want = A.T.astype(np.float64) @ G.astype(np.float64)
        tol = 2e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
        Ga = rng.standard_normal((k, p)).astype(dtype)       # grad_xa: G (k, p), A (m, p)
        At = np.ascontiguousarray(A.T)
        got = mc.grad_xa(Ga, At)
        want = Ga.astype(np.float64) @ At.T.astype(np.float64)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
