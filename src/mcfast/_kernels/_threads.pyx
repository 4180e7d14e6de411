# cython: language_level=3
"""The thread count of mcfast's OpenMP kernels, decided at each call; serial after fork.

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

The C lives in _threads.h.
"""

cdef extern from "_threads.h":
    int mc_register_at_fork() noexcept nogil
    int mc_effective_n_threads() noexcept nogil
    int mc_omp_max_threads() noexcept nogil
    int mc_cpu_count() noexcept nogil
    int mc_forked_child


cdef int openmp_effective_n_threads() noexcept nogil:
    """Threads an OpenMP kernel may use now (≥ 1): the nogil twin of effective_n_threads."""
    return mc_effective_n_threads()


def thread_info():
    """A dict: ``effective_n_threads`` (what the kernels use now), ``omp_max_threads``,
    ``cpu_count`` (the CPUs this process may run on) and ``forked_child`` (serial)."""
    return {"effective_n_threads": mc_effective_n_threads(),
            "omp_max_threads": mc_omp_max_threads(),
            "cpu_count": mc_cpu_count(),
            "forked_child": bool(mc_forked_child)}


def effective_n_threads():
    """Threads mcfast's OpenMP kernels would use if called now from this thread (≥ 1)."""
    return mc_effective_n_threads()


if mc_register_at_fork() != 0:      # pragma: no cover - only when out of memory
    raise ImportError("mcfast._kernels._threads: pthread_atfork failed")
