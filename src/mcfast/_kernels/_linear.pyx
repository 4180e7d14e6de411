# cython: language_level=3
"""Kernels of the linear-map rules: ∂z/∂X = Aᵀ G (Y = AX + B), G Aᵀ (Y = XA + B), g aᵀ.

Design. Three layers, as in SciPy's cythonized utilities:
  mcfast.linear (Python)   validates, converts, allocates `out`, picks the kernel;
  def wrappers (below)     take C-contiguous memoryviews, release the GIL;
  cdef noexcept nogil      the kernels, declared in _linear.pxd for other Cython code.
Every matrix arrives C-contiguous, either as itself or as its transpose (a Fortran-ordered
input is the C-ordered storage of its transpose): the `*_transposed` flags say which, and
become BLAS transpose flags, so no transposed copy is ever made. `beta` = 0 overwrites
`out`, 1 accumulates into it. The trace rule is Aᵀ g with A = dY_dX viewed as a
(Y.size, X.size) matrix, so it reuses `at_g_vec`.
"""
from cython cimport floating
from ._blas cimport gemm, gemv, BlasTrans, NoTrans, Trans


cdef inline BlasTrans _flag(bint transposed) noexcept nogil:
    return Trans if transposed else NoTrans


cdef void at_g(const floating[:, ::1] A,   # IN  A (p, m), or Aᵀ (m, p) if a_transposed
               bint a_transposed,
               const floating[:, ::1] G,   # IN  G (p, n), or Gᵀ (n, p) if g_transposed
               bint g_transposed,
               floating beta,
               floating[:, ::1] out,       # OUT (m, n)
               ) noexcept nogil:
    """out = Aᵀ G + beta·out."""
    cdef Py_ssize_t m = out.shape[0], n = out.shape[1]
    cdef Py_ssize_t p = A.shape[1] if a_transposed else A.shape[0]
    # out = A.T @ G + beta * out
    gemm(_flag(not a_transposed), _flag(g_transposed), m, n, p,
         <floating>1, &A[0, 0], max(A.shape[1], 1), &G[0, 0], max(G.shape[1], 1),
         beta, &out[0, 0], max(n, 1))


cdef void at_g_vec(const floating[:, ::1] A,  # IN  A (p, m), or Aᵀ (m, p) if a_transposed
                   bint a_transposed,
                   const floating[::1] g,     # IN  (p,)
                   floating beta,
                   floating[::1] out,         # OUT (m,)
                   ) noexcept nogil:
    """out = Aᵀ g + beta·out."""
    # out = A.T @ g + beta * out
    gemv(_flag(not a_transposed), A.shape[0], A.shape[1], <floating>1,
         &A[0, 0], max(A.shape[1], 1), &g[0], 1, beta, &out[0], 1)


cdef void g_at(const floating[:, ::1] G,   # IN  G (n, p), or Gᵀ (p, n) if g_transposed
               bint g_transposed,
               const floating[:, ::1] A,   # IN  A (m, p), or Aᵀ (p, m) if a_transposed
               bint a_transposed,
               floating beta,
               floating[:, ::1] out,       # OUT (n, m)
               ) noexcept nogil:
    """out = G Aᵀ + beta·out."""
    cdef Py_ssize_t n = out.shape[0], m = out.shape[1]
    cdef Py_ssize_t p = G.shape[0] if g_transposed else G.shape[1]
    # out = G @ A.T + beta * out
    gemm(_flag(g_transposed), _flag(not a_transposed), n, m, p,
         <floating>1, &G[0, 0], max(G.shape[1], 1), &A[0, 0], max(A.shape[1], 1),
         beta, &out[0, 0], max(m, 1))


cdef void outer(const floating[::1] g,   # IN  (n,)
                const floating[::1] a,   # IN  (m,)
                bint accumulate,
                floating[:, ::1] out,    # OUT (n, m)
                ) noexcept nogil:
    """out = g aᵀ (+ out when accumulating): a streaming write, no BLAS needed."""
    cdef Py_ssize_t i, j, n = g.shape[0], m = a.shape[0]
    cdef floating gi
    for i in range(n):
        gi = g[i]
        if accumulate:
            for j in range(m):
                out[i, j] += gi * a[j]
        else:
            for j in range(m):
                out[i, j] = gi * a[j]


# --- def wrappers: typed entry points for mcfast.linear, GIL released -------------------

def grad_ax_matrix(const floating[:, ::1] A not None, bint a_transposed,
                   const floating[:, ::1] G not None, bint g_transposed,
                   bint accumulate, floating[:, ::1] out not None):
    """out = Aᵀ G (+ out if accumulate); sizes already checked by the caller."""
    with nogil:
        at_g(A, a_transposed, G, g_transposed, <floating>(1 if accumulate else 0), out)


def grad_ax_vector(const floating[:, ::1] A not None, bint a_transposed,
                   const floating[::1] g not None, bint accumulate,
                   floating[::1] out not None):
    """out = Aᵀ g (+ out if accumulate)."""
    with nogil:
        at_g_vec(A, a_transposed, g, <floating>(1 if accumulate else 0), out)


def grad_xa_matrix(const floating[:, ::1] G not None, bint g_transposed,
                   const floating[:, ::1] A not None, bint a_transposed,
                   bint accumulate, floating[:, ::1] out not None):
    """out = G Aᵀ (+ out if accumulate)."""
    with nogil:
        g_at(G, g_transposed, A, a_transposed, <floating>(1 if accumulate else 0), out)


def grad_xa_vector(const floating[::1] g not None, const floating[::1] a not None,
                   bint accumulate, floating[:, ::1] out not None):
    """out = g aᵀ (+ out if accumulate)."""
    with nogil:
        outer(g, a, accumulate, out)
