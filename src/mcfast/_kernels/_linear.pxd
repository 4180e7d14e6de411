# cython: language_level=3
"""cimport API of the linear-map kernels: Aᵀ G, G Aᵀ, g aᵀ and the trace rule (nogil)."""
from cython cimport floating


cdef void at_g(const floating[:, ::1] A, bint a_transposed,
               const floating[:, ::1] G, bint g_transposed,
               floating beta, floating[:, ::1] out) noexcept nogil
cdef void at_g_vec(const floating[:, ::1] A, bint a_transposed,
                   const floating[::1] g, floating beta, floating[::1] out) noexcept nogil
cdef void g_at(const floating[:, ::1] G, bint g_transposed,
               const floating[:, ::1] A, bint a_transposed,
               floating beta, floating[:, ::1] out) noexcept nogil
cdef void outer(const floating[::1] g, const floating[::1] a, bint accumulate,
                floating[:, ::1] out) noexcept nogil
