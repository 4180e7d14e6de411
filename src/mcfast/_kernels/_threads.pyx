# cython: language_level=3
"""mcfast's threads: the count, decided at each call (serial after fork), and the parallel loop.

Every threaded kernel asks `openmp_effective_n_threads` (cimported from _threads.pxd: a C call
through Cython's shared function table, ~2 ns, plus one sched_getaffinity system call
when OpenMP allows more than one thread) at each call, never at import, so that

- ``threadpoolctl.threadpool_limits(n)`` and ``OMP_NUM_THREADS`` hold: the count starts
  from ``omp_get_max_threads()``, which both set (threadpoolctl in the calling thread);
- the CPU affinity holds (``taskset``, ``os.sched_setaffinity``, container CPU sets):
  the count is capped by the CPUs this process may run on, as scikit-learn's
  ``_openmp_effective_n_threads`` does;
- a process made by ``fork`` (``os.fork``, multiprocessing's "fork" start method,
  joblib's multiprocessing backend) computes serially instead of hanging: GNU OpenMP's
  worker pool stays in the parent, and a child entering a parallel region would wait for
  it forever. An at-fork handler, registered when this module is imported (before any
  kernel module can run), marks the child; its children stay marked.

`parallel_for(fn, ctx, ntasks, nthreads)` runs fn(ctx, task, tid) for every task on
mcfast's own pool (_pool.h): the caller and nthreads - 1 workers claim tasks one at a
time; a worker spins at most ~20 µs once the tasks run out, then sleeps on a condition
variable, so no mcfast thread keeps a core busy after a call returns (GNU OpenMP's
workers spun for milliseconds and slowed the NumPy product that came next). OpenMP, where
the build has it, is asked for the count only: it never starts a thread of its own.
Serial in a forked child, when another call holds the pool, and on Windows.

The C lives in _threads.h and _pool.h.
"""

cdef extern from "_threads.h":
    int mc_register_at_fork() noexcept nogil
    int mc_effective_n_threads() noexcept nogil
    int mc_omp_max_threads() noexcept nogil
    int mc_cpu_count() noexcept nogil
    int mc_forked_child

cdef extern from "_pool.h":
    ctypedef void (*mc_task_fn)(void* ctx, Py_ssize_t task, int tid) noexcept nogil
    int mc_pool_run(mc_task_fn fn, void* ctx, Py_ssize_t ntasks, int nthreads) noexcept nogil
    int mc_pool_workers() noexcept nogil
    long mc_pool_spin_ns
    int mc_pool_per_call
    long mc_pool_stall_ns
    long mc_pool_stalls(int ended) noexcept nogil


cdef int openmp_effective_n_threads() noexcept nogil:
    """Threads an OpenMP kernel may use now (≥ 1): the nogil twin of effective_n_threads."""
    return mc_effective_n_threads()


cdef void parallel_for(task_fn fn, void* ctx, Py_ssize_t ntasks, int nthreads) noexcept nogil:
    """fn(ctx, task, tid) for task in 0 .. ntasks-1 on up to nthreads threads (tid < nthreads)."""
    mc_pool_run(<mc_task_fn>fn, ctx, ntasks, nthreads)


def thread_info():
    """A dict: ``effective_n_threads`` (what the kernels use now), ``omp_max_threads``,
    ``cpu_count`` (the CPUs this process may run on), ``forked_child`` (serial) and
    ``pool_workers`` (mcfast's worker threads started so far)."""
    return {"effective_n_threads": mc_effective_n_threads(),
            "omp_max_threads": mc_omp_max_threads(),
            "cpu_count": mc_cpu_count(),
            "forked_child": bool(mc_forked_child),
            "pool_workers": mc_pool_workers()}


def set_spin_ns(long ns):
    """How long (ns) an idle worker spins before it sleeps; returns the previous value.
    For benchmarks: not thread-safe against concurrent kernel calls."""
    global mc_pool_spin_ns
    cdef long old = mc_pool_spin_ns
    mc_pool_spin_ns = max(ns, 0)
    return old


def effective_n_threads():
    """Threads mcfast's OpenMP kernels would use if called now from this thread (≥ 1)."""
    return mc_effective_n_threads()


if mc_register_at_fork() != 0:      # pragma: no cover - only when out of memory
    raise ImportError("mcfast._kernels._threads: pthread_atfork failed")


def set_stall_ns(long ns):
    """For tests: each worker sleeps `ns` after it reads a job and before it claims a
    task, as a worker the scheduler keeps waiting would (0: never, the default). Returns
    the previous value. Not thread-safe against concurrent kernel calls."""
    global mc_pool_stall_ns
    cdef long old = mc_pool_stall_ns
    mc_pool_stall_ns = max(ns, 0)
    return old


def stalls():
    """(begun, ended): the test stalls of `set_stall_ns` begun and ended so far."""
    return mc_pool_stalls(0), mc_pool_stalls(1)


def set_per_call(bint on):
    """Start the workers for each call and join them at its end (on), or keep the pool
    (off, the default); returns the previous setting. For bench_beside_numpy.py's
    comparison of the candidates: not thread-safe against concurrent kernel calls."""
    global mc_pool_per_call
    cdef bint old = mc_pool_per_call
    mc_pool_per_call = on
    return old
