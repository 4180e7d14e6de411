# cython: language_level=3
"""cimport API of mcfast's threads: the count a kernel may use now, and the parallel loop (nogil)."""

# fn(ctx, task, tid): one task of a parallel loop, on thread tid (0 .. nthreads-1)
ctypedef void (*task_fn)(void* ctx, Py_ssize_t task, int tid) noexcept nogil


cdef int openmp_effective_n_threads() noexcept nogil

cdef void parallel_for(task_fn fn, void* ctx, Py_ssize_t ntasks, int nthreads) noexcept nogil
