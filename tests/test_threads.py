"""Threads: every kernel releases the GIL, and concurrent calls give bitwise the single-threaded results."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import mcfast as mc
from _cpu_time import CPU_NS

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is in the test extra
    threadpool_limits = None


def _sizes(big):
    """Sizes that keep a kernel busy for tens to hundreds of ms (`big`), or a few KiB."""
    return dict(n=1200 if big else 40, rows=1_500_000 if big else 300,
                batch=300 if big else 3, d=160 if big else 6)


def _lstsq_data(rng, s):
    return rng.standard_normal((s["rows"], 12)), rng.standard_normal(12), \
        rng.standard_normal(s["rows"])


def _links(rng, s):
    b, d = s["batch"], s["d"]
    return [rng.standard_normal((b, d, d)), mc.Diagonal(rng.standard_normal((b, d))),
            rng.standard_normal((b, d, d))]


def _build(name, rng, big):
    """A no-argument call of `name` on fresh random inputs."""
    s = _sizes(big)
    n = s["n"]
    r = rng.standard_normal
    if name == "grad_ax":
        A, G = r((n, n)), r((n, n))
        return lambda: mc.grad_ax(A, G)
    if name == "grad_ax_vector":
        A, g = r((8 * n, 4 * n)), r(8 * n)
        return lambda: mc.grad_ax(A, g)
    if name == "grad_xa":
        G, A = r((n, n)), r((n, n))
        return lambda: mc.grad_xa(G, A)
    if name == "grad_xa_outer":
        g, a = r(6 * n), r(6 * n)
        return lambda: mc.grad_xa(g, a)
    if name == "trace_chain":
        G, D = r((8, n // 2 + 1)), r((8, n // 2 + 1, 4 * n))
        return lambda: mc.trace_chain(G, D)
    if name in ("lstsq_grad", "lstsq_loss_grad"):
        X, theta, y = _lstsq_data(rng, s)
        return lambda: getattr(mc, name)(X, theta, y)
    if name == "LeastSquares":
        X, theta, y = _lstsq_data(rng, s)
        obj = mc.LeastSquares(X, y, l2=0.1)
        return lambda: obj(theta)
    links = _links(rng, s)
    if name == "jacobian_chain":
        return lambda: mc.jacobian_chain(links, order="reverse")
    v = r((s["batch"], s["d"]))
    return lambda: getattr(mc, name)(links, v)


NEEDS = {"grad_ax": ("grad_ax",), "grad_ax_vector": ("grad_ax",), "grad_xa": ("grad_xa",),
         "grad_xa_outer": ("grad_xa",), "trace_chain": ("trace_chain",),
         "lstsq_grad": ("lstsq_grad",), "lstsq_loss_grad": ("lstsq_loss_grad",),
         "LeastSquares": ("LeastSquares",), "jacobian_chain": ("jacobian_chain", "Diagonal"),
         "grad_chain": ("grad_chain", "Diagonal"), "tangent_chain": ("tangent_chain", "Diagonal")}
NAMES = list(NEEDS)


def _get(name, rng, big):
    missing = [n for n in NEEDS[name] if not hasattr(mc, n)]
    if missing:
        pytest.skip(f"mcfast.{', '.join(missing)} not landed")
    return _build(name, rng, big)


def _arrays(result):
    """A result as a list of arrays (a loss as a 0-d array, a Diagonal as its diagonal)."""
    items = result if isinstance(result, tuple) else (result,)
    return [np.asarray(x.diagonal if hasattr(x, "toarray") else x) for x in items]


class Counter(threading.Thread):
    """A Python thread that counts whenever it holds the GIL.

    It gives the GIL up voluntarily (a short sleep) every `BATCH` counts, so with a long
    switch interval the main thread is never forced off the GIL: the counter then runs only
    while the main thread has released the GIL, i.e. while a kernel runs without it.
    """

    BATCH = 200

    def __init__(self):
        super().__init__(daemon=True)
        self.n = 0
        self.running = True
        self.ready = threading.Event()

    def run(self):
        self.ready.set()
        while self.running:
            for _ in range(self.BATCH):
                self.n += 1
            time.sleep(1e-6)


def _progress(counter, call, reps):
    """How far the counter advanced while `call` ran (summed over `reps` calls)."""
    total = 0
    for _ in range(reps):
        c0 = counter.n
        call()
        total += counter.n - c0
    return total


def _gil_holding_call(seconds):
    """A C call that holds the GIL for about `seconds` (builtin sum over a range)."""
    n = 100_000
    while True:
        t0 = time.perf_counter()
        sum(range(n))
        if time.perf_counter() - t0 >= seconds:
            return lambda: sum(range(n))
        n *= 2


@pytest.mark.parametrize("name", NAMES)
def test_kernel_releases_the_gil(name):
    call = _get(name, np.random.default_rng(1), big=True)
    call()                                      # warm-up (page faults, thread pools)
    t0 = time.perf_counter()
    call()
    held = _gil_holding_call(time.perf_counter() - t0)   # a control at least as long
    limits = threadpool_limits(1) if threadpool_limits else None   # leave the counter a core
    interval = sys.getswitchinterval()
    sys.setswitchinterval(30.0)     # nobody is forced off the GIL during the test
    counter = Counter()
    try:
        counter.start()
        counter.ready.wait()
        during_kernel = _progress(counter, call, 3)
        during_held = _progress(counter, held, 3)
    finally:
        counter.running = False
        counter.join()
        sys.setswitchinterval(interval)
        if limits is not None:
            limits.unregister()
    # With the GIL released the counter runs for the whole kernel; with it held, at most a
    # batch at the start of a call. The kernel call must let it count far more.
    assert during_kernel > 10 * during_held + 25 * Counter.BATCH, (
        f"{name}: the counter advanced {during_kernel} during the kernel, {during_held} "
        f"during a GIL-holding call at least as long")


@pytest.mark.parametrize("name", NAMES)
def test_concurrent_calls_match_single_threaded_bitwise(name):
    calls = [_get(name, np.random.default_rng(100 + t), big=False) for t in range(4)]
    expected = [_arrays(c()) for c in calls]
    barrier = threading.Barrier(4)
    results = [[] for _ in calls]
    errors = []

    def worker(t):
        try:
            barrier.wait()
            for _ in range(200):
                results[t].append(_arrays(calls[t]()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    for t in range(4):
        for got in results[t]:
            for a, b in zip(got, expected[t]):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["grad_ax", "lstsq_loss_grad", "grad_chain"])
def test_concurrent_big_calls_match_bitwise(name):
    """The same with inputs big enough for the BLAS / OpenMP paths to split the work."""
    calls = [_get(name, np.random.default_rng(200 + t), big=True) for t in range(4)]
    expected = [_arrays(c()) for c in calls]
    results = [None] * 4

    def worker(t):
        results[t] = _arrays(calls[t]())

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for got, want in zip(results, expected):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


# --- the thread count: decided at each call (threadpoolctl, OMP_NUM_THREADS, affinity) ---

from mcfast import chain as _chain_mod                      # noqa: E402
from mcfast._kernels import _lstsq as _lstsq_k, _threads     # noqa: E402

needs_threadpoolctl = pytest.mark.skipif(threadpool_limits is None,
                                         reason="threadpoolctl (in the test extra)")
# sizes at which each threaded kernel wants every thread it may have
_LSTSQ_BIG = (2_000_000, 32, 0, 8)          # (n, m, k, itemsize)
_CHAIN_BIG = (100_000, 1024, True)          # (samples, multiply-adds each, small products)


def _cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


@needs_threadpoolctl
@pytest.mark.parametrize("limit", [1, 2])
def test_threadpool_limits_holds_at_each_call(limit):
    default = _threads.effective_n_threads()
    with threadpool_limits(limit):      # it sets OpenMP's count, up or down
        want = min(limit, _cpus())
        assert _threads.effective_n_threads() == want
        assert _lstsq_k.plan(*_LSTSQ_BIG, 0)[1] == want
        assert _chain_mod._threads(*_CHAIN_BIG) == want
        assert mc._config.config()["runtime"]["threads"]["effective_n_threads"] == want
    assert _threads.effective_n_threads() == default          # lifted again on exit


def test_count_is_openmp_capped_by_the_affinity():
    info = _threads.thread_info()
    assert info["cpu_count"] == _cpus()
    assert not info["forked_child"]
    assert info["effective_n_threads"] == max(1, min(info["omp_max_threads"], _cpus()))


# A fresh interpreter that runs a big least-squares call (no BLAS in it: only OpenMP's
# threads work) ten times and prints, for each of its threads that ran during those calls,
# its share of the CPU time (from /proc/self/task/*/schedstat, in ns), and the process's
# CPU time over the wall time. Per-thread CPU time is what a busy machine cannot blur:
# a starved thread still shows up, a thread that never ran does not.
_CPU_SCRIPT = """
import os, sys, threading, time
import numpy as np
import mcfast as mc
from mcfast._kernels import _threads
limit = int(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.standard_normal((1_500_000, 16)); theta = rng.standard_normal(16)
y = rng.standard_normal(1_500_000)
""" + CPU_NS + """
def run():
    mc.lstsq_loss_grad(X, theta, y)           # warm-up: OpenMP starts its workers
    a, c0, t0 = cpu_ns(), time.process_time(), time.perf_counter()
    for _ in range(10):
        mc.lstsq_loss_grad(X, theta, y)
    b, c1, t1 = cpu_ns(), time.process_time(), time.perf_counter()
    used = sorted((b[t] - a.get(t, 0) for t in b), reverse=True)
    print(_threads.effective_n_threads(), (c1 - c0) / (t1 - t0),
          *[u / used[0] for u in used if u > 0])
if limit:
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limit):
        run()
else:
    run()
"""


def _cpu_use(limit=0, **env):
    """(threads the kernels used, CPU time / wall time, each busy thread's CPU time over
    the busiest one's) of ten big calls in a fresh interpreter."""
    base = {k: val for k, val in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-c", _CPU_SCRIPT, str(limit)], capture_output=True,
                          text=True, timeout=300, env=dict(base, **env))
    assert proc.returncode == 0, proc.stderr
    n, ratio, *shares = proc.stdout.split()
    return int(n), float(ratio), [float(x) for x in shares]


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/task"),
                                reason="per-thread CPU time from Linux's /proc")


@needs_proc
@needs_threadpoolctl
def test_threadpool_limits_one_uses_one_core():
    """threadpool_limits(1): one thread does all the work (≈ one core of CPU time)."""
    n, ratio, shares = _cpu_use(1)
    assert n == 1
    busy = [x for x in shares if x > 0.05]
    assert len(busy) == 1, f"threads' CPU time over the busiest's: {shares}"
    assert ratio < 1.3, f"CPU time / wall time {ratio:.2f} under threadpool_limits(1)"


@needs_proc
@pytest.mark.skipif(_cpus() < 2, reason="needs two CPUs")
def test_default_uses_every_core():
    """Unlimited (OMP_NUM_THREADS unset): every CPU's thread does a large share of the work."""
    n, ratio, shares = _cpu_use(0)
    assert n == _cpus()
    busy = [x for x in shares if x > 0.25]
    assert len(busy) == n, f"threads' CPU time over the busiest's: {shares}"


@needs_proc
def test_omp_num_threads_holds():
    """OMP_NUM_THREADS=1 in the environment: one thread does all the work."""
    n, ratio, shares = _cpu_use(0, OMP_NUM_THREADS="1")
    assert n == 1
    assert len([x for x in shares if x > 0.05]) == 1, shares
    assert ratio < 1.3, f"CPU time / wall time {ratio:.2f} with OMP_NUM_THREADS=1"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or _cpus() < 2,
                    reason="needs os.sched_setaffinity and two CPUs")
def test_cpu_affinity_set_at_run_time_caps_the_count():
    """taskset / os.sched_setaffinity after import: the next call sees one CPU."""
    code = """
import os
import numpy as np
import mcfast as mc
from mcfast._kernels import _lstsq, _threads
from mcfast import chain
before = _threads.effective_n_threads()
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
print(before, _threads.effective_n_threads(), _lstsq.plan(2_000_000, 32, 0, 8, 0)[1],
      chain._threads(100_000, 1024, True))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items()
                                            if k != "OMP_NUM_THREADS"})
    assert proc.returncode == 0, proc.stderr
    before, after, lstsq_threads, chain_threads = map(int, proc.stdout.split())
    assert before == _cpus()
    assert after == lstsq_threads == chain_threads == 1


# --- nothing left running after a call (issue 20) -------------------------------------------
# A fresh interpreter calls each threaded entry, then sleeps: the CPU time its threads
# use while it sleeps is what a NumPy product right after the call would have to share.
_IDLE_SCRIPT = """
import os, threading, time
import numpy as np
import mcfast as mc
rng = np.random.default_rng(0)
X = rng.standard_normal((200_000, 16)); theta = rng.standard_normal(16)
y = rng.standard_normal(200_000); yb = (y > 0).astype(float)
t1 = rng.standard_normal(17); p = rng.standard_normal(17)
obj = mc.LinearLoss(X, yb, loss="logistic", fit_intercept=True)
links = [rng.standard_normal((40_000, 6, 6)) for _ in range(3)]
g = rng.standard_normal((40_000, 6))
env = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
""" + CPU_NS + """
calls = {"lstsq_loss_grad": lambda: mc.lstsq_loss_grad(X, theta, y),
         "linear_loss_grad": lambda: mc.linear_loss_grad(X, t1, yb, loss="logistic",
                                                         fit_intercept=True),
         "hessp": lambda: obj.hessp(t1, p),
         "hessian": lambda: obj.hessian(t1),
         "jacobian_chain": lambda: mc.jacobian_chain(links),
         "grad_chain": lambda: mc.grad_chain(links, g)}
for name, f in calls.items():
    worst = 0
    for _ in range(5):
        f()
        a = cpu_ns()
        time.sleep(0.05)
        b = cpu_ns()
        me = str(threading.get_native_id())
        worst = max(worst, sum(b[t] - a.get(t, 0) for t in b if t != me))
    print(name, worst / 1e6)
print("env", env == {k: os.environ.get(k) for k in env}, os.environ.get("GOMP_SPINCOUNT"),
      os.environ.get("OMP_WAIT_POLICY"))
"""


@needs_proc
@pytest.mark.skipif(_cpus() < 2, reason="needs two CPUs")
def test_no_thread_keeps_spinning_after_a_call():
    """After each threaded entry returns, its threads sleep: within a 50 ms pause they use
    under 2 ms of CPU in all (GNU OpenMP's workers used to spin for milliseconds), and no
    environment variable was set to get there."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    proc = subprocess.run([sys.executable, "-c", _IDLE_SCRIPT], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[-2] == "env True None None", lines[-2]
    for line in lines[:-2]:
        name, ms = line.split()
        assert float(ms) < 2.0, f"{name}: other threads used {ms} ms of CPU in a 50 ms pause"


def test_a_late_worker_does_not_hold_up_the_call():
    """A woken worker the scheduler keeps waiting (here: made to sleep 0.4 s before it
    claims a task) does not hold the call: the caller runs every task itself and returns
    while the worker still sleeps; the late worker then finds its job over and claims
    nothing of the next one, whose result is bitwise the serial one."""
    from mcfast._kernels import _engine
    rng = np.random.default_rng(5)
    n, m = 40_000, 16
    X, y = rng.standard_normal((n, m)), rng.standard_normal(n)
    theta = rng.standard_normal(m)
    kind = _engine.dense_kind(X)
    block, _ = _engine.plan(kind, n, m, 1, 8, n * m, 2)
    assert n // block >= 2                       # two parts at least: two threads apply

    def run(threads):
        g = np.empty(m)
        v = _engine.loss_grad(X, None, None, X.shape, kind, None, theta, None, y, None,
                              _engine.LOSS_CODES["squared"], 1.0, False, 0.0, g, block,
                              threads)
        return v, g

    want = run(1)
    run(2)                                       # the worker exists
    old = _threads.set_stall_ns(400_000_000)
    try:
        begun, ended = _threads.stalls()
        got = run(2)
        ended_at_return = _threads.stalls()[1]
        # (the stall stays set until the worker reads the job: it may wake after the call)
        deadline = time.monotonic() + 30
        while _threads.stalls()[0] == begun and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        _threads.set_stall_ns(old)
    assert _threads.stalls()[0] > begun, "the worker never took the job"
    assert ended_at_return == ended, "the call waited for the stalled worker"
    while _threads.stalls()[1] == ended and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _threads.stalls()[1] > ended
    assert got[0] == want[0] and np.array_equal(got[1], want[1])
    for _ in range(3):                           # the pool goes on as before
        again = run(2)
        assert again[0] == want[0] and np.array_equal(again[1], want[1])
