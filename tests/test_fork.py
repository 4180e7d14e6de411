"""Fork: after threaded calls in the parent, a forked child computes right and never hangs.

GNU OpenMP keeps its worker pool in the parent; a child that enters a parallel region
waits for those workers forever. Each route by which users fork (os.fork, multiprocessing
with the "fork" start method, joblib's multiprocessing backend) runs in a fresh
interpreter under a timeout, so a hang fails the test instead of stopping the suite.
"""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "sched_getaffinity"),
                                reason="fork and sched_getaffinity (Linux)")

TIMEOUT = 60        # seconds; a healthy run takes one or two

# The parent runs each kernel family threaded (sizes past the thresholds where the
# least-squares kernel and a batched chain take a second thread), then forks; `work()`
# returns the largest relative error of the child's results against the reference.
PRELUDE = textwrap.dedent("""
    import os, sys
    import numpy as np
    import mcfast as mc
    from mcfast import reference as ref
    from mcfast._kernels import _lstsq, _threads
    from mcfast import chain as _chain

    rng = np.random.default_rng(0)
    X = rng.standard_normal((5_000, 32))
    theta, y = rng.standard_normal(32), rng.standard_normal(5_000)
    links = [rng.standard_normal((20_000, 8, 8)), mc.Diagonal(rng.standard_normal((20_000, 8))),
             rng.standard_normal((20_000, 8, 8))]
    THREADED = _threads.effective_n_threads() > 1
    if THREADED:     # the parent's calls really are threaded (else there is nothing to test)
        assert _lstsq.plan(5_000, 32, 0, 8, 0)[1] > 1
        assert _chain._threads(20_000, 1024, True) > 1

    def err(a, b):
        return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))

    def work(_=None):
        loss, grad = mc.lstsq_loss_grad(X, theta, y)
        loss_r, grad_r = ref.lstsq_loss_grad(X, theta, y)
        J = mc.jacobian_chain(links, order="reverse")
        J_r = ref.jacobian_chain(links, order="reverse")
        serial = _threads.effective_n_threads() == 1
        return max(abs(loss - loss_r) / loss_r, err(grad, grad_r), err(J, J_r),
                   0.0 if serial or os.getpid() == PARENT else 1.0)   # 1.0: a threaded child

    PARENT = os.getpid()
    assert work() < 1e-10      # threaded calls in the parent: OpenMP's pool now exists
""")

ROUTES = {
    "os.fork": """
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, repr(work()).encode())
            os._exit(0)
        os.close(w)
        result = float(os.read(r, 100))
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        print("max error", result)
    """,
    "multiprocessing fork": """
        import multiprocessing as mp
        with mp.get_context("fork").Pool(2) as pool:
            print("max error", max(pool.map(work, range(4))))
    """,
    "joblib multiprocessing": """
        from joblib import Parallel, delayed
        print("max error", max(Parallel(n_jobs=2, backend="multiprocessing")(
            delayed(work)() for _ in range(4))))
    """,
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_child_computes_serially_and_right(route):
    if route.startswith("joblib"):
        pytest.importorskip("joblib", reason="joblib (in the test extra)")
    code = PRELUDE + textwrap.dedent(ROUTES[route]) + "\nprint('parent threaded', THREADED)\n"
    # without OMP_NUM_THREADS (a dask test's nanny may have left it in this process): the
    # parent's calls must be threaded for the test to mean anything
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["JOBLIB_START_METHOD"] = "fork"
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{route}: the forked child hung (no result after {TIMEOUT} s)")
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.rsplit(" ", 1) for line in proc.stdout.splitlines())
    assert float(lines["max error"]) < 1e-10, proc.stdout
    if len(os.sched_getaffinity(0)) > 1:
        assert lines["parent threaded"] == "True", proc.stdout


def test_parent_keeps_its_threads_after_fork():
    """Only the child is marked: the parent still threads after forking one."""
    code = PRELUDE + textwrap.dedent("""
        pid = os.fork()
        if pid == 0:
            os._exit(0 if _threads.thread_info()["forked_child"] else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print("parent", _threads.effective_n_threads(), _threads.thread_info()["forked_child"])
    """)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=TIMEOUT, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "child 0"
    n, forked = out[1].split()[1:]
    assert forked == "False"
    assert int(n) == len(os.sched_getaffinity(0))
