# cython: language_level=3
"""cimport API of the thread count: what an OpenMP kernel may use now (nogil)."""


cdef int openmp_effective_n_threads() noexcept nogil
