# cython: language_level=3
"""Kernels of the linear-map rules: ∂z/∂X = Aᵀ G (Y = AX + B), G Aᵀ (Y = XA + B), g aᵀ.

Design. Three layers, as in SciPy's cythonized utilities:
  mcfast.linear (Python)   validates, converts, allocates `out`, picks the kernel; its
                           products go to NumPy's BLAS (np.matmul), as do the fast
                           entries' beyond the hand loops (see below);
  def entries (below)      the outer product, and the fast entries for plain arrays;
  cdef noexcept nogil      the kernels on SciPy's BLAS, declared in _linear.pxd for other
                           Cython code (the cimport API, mcfast/kernels.pxd).
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


# --- def wrapper: the outer product for mcfast.linear, GIL released ---------------------

def grad_xa_vector(const floating[::1] g not None, const floating[::1] a not None,
                   bint accumulate, floating[:, ::1] out not None):
    """out = g aᵀ (+ out if accumulate)."""
    with nogil:
        outer(g, a, accumulate, out)


# --- the fast entry for arrays that need no conversion --------------------------------------
#
# A typed memoryview costs ~100 ns to acquire, validation in Python a few µs: at 4×4 that
# is the whole call. When A, G (and out) are already C-contiguous ndarrays of one float
# dtype, these entries check that in compiled code and compute on raw pointers. They
# return None when anything is unusual, and mcfast.linear takes the general path, which
# validates and explains.
#
# Small products (up to SMALL_WORK_* multiply-adds) are hand loops that keep a row of the
# result in registers (_chain's small_gemm), with the GIL held as NumPy does (releasing it
# costs more than the product). Larger ones go to NumPy's own BLAS (PyArray_MatrixProduct2,
# i.e. np.dot with out=, transposes as BLAS flags, the GIL released): a user's loop that
# calls NumPy's products between mcfast's then wakes one BLAS thread pool, not two (SciPy's
# OpenBLAS, which the nogil kernels above call, is a second library with its own spinning
# threads: a 128² np.matmul right after a SciPy dgemm took 80× its time on 2 cores).

cimport numpy as cnp
cnp.import_array()
from ._ndarray cimport plain, disjoint
from ._chain cimport small_gemm

cdef extern from "mc_at_g.h":
    ctypedef struct mc_atg_kern:
        void (*run_d)(Py_ssize_t p, Py_ssize_t m, Py_ssize_t n, Py_ssize_t m4,
                      Py_ssize_t n4, const double* a, const double* g,
                      double* out) noexcept nogil
        void (*run_f)(Py_ssize_t p, Py_ssize_t m, Py_ssize_t n, Py_ssize_t m4,
                      Py_ssize_t n4, const float* a, const float* g,
                      float* out) noexcept nogil
        int level
    const mc_atg_kern* mc_atg_kern_now() noexcept nogil

include "_level.pxi"

cdef int _ran_at_g = -1     # the level the register tiles last ran at (-1: none yet)


def ran_levels():
    """The level the register tiles of Aᵀ G (mc_at_g.h) last ran at since
    `reset_ran_levels`: ``{"at_g": level}``, 0 (baseline), 1 (AVX2+FMA) or 2 (AVX-512) as
    compiled, -1 when they have not run."""
    return {"at_g": _ran_at_g}


def reset_ran_levels():
    """Forget the level `ran_levels` reports (back to -1)."""
    global _ran_at_g
    _ran_at_g = -1

cdef extern from "numpy/arrayobject.h":
    object PyArray_MatrixProduct2(object a, object b, cnp.ndarray out)

# Multiply-adds up to which the hand loops are used: Aᵀ G in register tiles (mc_at_g.h)
# until OpenBLAS starts threading a gemm (m·n·k ≥ 4 · 65536 = 64³), where a single-threaded
# loop can no longer promise to keep up (measured by CPU time, one thread, AVX-512:
# 32²: 0.9 µs, 63²: 8.8 µs against np.matmul's 2.2 and 12.4 µs); G Aᵀ by dot products
# up to ~12³.
cdef Py_ssize_t SMALL_WORK_LEFT = (1 << 18) - 1
cdef Py_ssize_t SMALL_WORK_RIGHT = 1 << 11


cdef void small_g_at(const floating* G, const floating* A, floating* out,
                     Py_ssize_t n, Py_ssize_t m, Py_ssize_t p) noexcept nogil:
    """out (n×m) = G Aᵀ for row-major G (n×p), A (m×p): dot products of rows."""
    cdef Py_ssize_t i, j, k
    cdef floating s
    for i in range(n):
        for j in range(m):
            s = 0
            for k in range(p):
                s += G[i * p + k] * A[j * p + k]
            out[i * m + j] = s


cdef inline void _small(const floating* X, const floating* Y, floating* out,
                        Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t inner,
                        bint left) noexcept nogil:
    """out (rows × cols) = Xᵀ Y (left: X (inner × rows), Y (inner × cols)) or X Yᵀ."""
    global _ran_at_g
    cdef Py_ssize_t r4 = rows - rows % 4, c4 = cols - cols % 4, j
    cdef const mc_atg_kern* kern
    if left:
        # out = X.T @ Y: out[:r4, :c4] in 4 × 16 (8, 4) tiles in registers (mc_at_g.h, at
        # the level in use) ...
        kern = mc_atg_kern_now()
        _ran_at_g = kern.level
        if floating is double:
            kern.run_d(inner, rows, cols, r4, c4, X, Y, out)
        else:
            kern.run_f(inner, rows, cols, r4, c4, X, Y, out)
        # ... the last 1-3 columns, and the last 1-3 rows of the others, a row of ≤ 16 in
        # registers at a time (_chain's small_gemm; Xᵀ has row stride 1, column stride rows)
        if c4 < cols:
            small_gemm(rows, cols - c4, inner, X, 1, rows, Y + c4, cols, 1, out + c4, cols)
        if r4 < rows:
            for j in range(0, c4, 16):
                small_gemm(rows - r4, min(16, c4 - j), inner, X + r4, 1, rows, Y + j, cols,
                           1, out + r4 * cols + j, cols)
    else:
        small_g_at(X, Y, out, rows, cols, inner)


cdef object _fast_product(object X, object Y, object out, bint left):
    """Shared body of the fast entries: Aᵀ G (left) or G Aᵀ (right)."""
    if not cnp.PyArray_CheckExact(X):
        return None
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>X)
    if typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT:
        return None
    if not (plain(X, typenum, 2) and plain(Y, typenum, 2)):
        return None
    cdef cnp.npy_intp* xd = cnp.PyArray_DIMS(<cnp.ndarray>X)
    cdef cnp.npy_intp* yd = cnp.PyArray_DIMS(<cnp.ndarray>Y)
    # left: X = A (p, m), Y = G (p, n) -> (m, n);  right: X = G (n, p), Y = A (m, p) -> (n, m)
    cdef Py_ssize_t rows, cols, inner
    if left:
        if xd[0] != yd[0]:
            return None
        inner, rows, cols = xd[0], xd[1], yd[1]
    else:
        if xd[1] != yd[1]:
            return None
        inner, rows, cols = xd[1], xd[0], yd[0]
    if rows == 0 or cols == 0 or inner == 0:
        return None
    cdef cnp.npy_intp dims[2]
    if out is None:
        dims[0] = rows
        dims[1] = cols
        out = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    elif not (plain(out, typenum, 2) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)
              and cnp.PyArray_DIMS(<cnp.ndarray>out)[0] == rows
              and cnp.PyArray_DIMS(<cnp.ndarray>out)[1] == cols
              and disjoint(<cnp.ndarray>out, <cnp.ndarray>X)
              and disjoint(<cnp.ndarray>out, <cnp.ndarray>Y)):
        return None
    if rows * cols * inner > (SMALL_WORK_LEFT if left else SMALL_WORK_RIGHT):
        # out = A.T @ G  or  G @ A.T, by NumPy's BLAS
        if left:
            return PyArray_MatrixProduct2(cnp.PyArray_Transpose(<cnp.ndarray>X, NULL), Y,
                                          <cnp.ndarray>out)
        return PyArray_MatrixProduct2(X, cnp.PyArray_Transpose(<cnp.ndarray>Y, NULL),
                                      <cnp.ndarray>out)
    cdef void* px = cnp.PyArray_DATA(<cnp.ndarray>X)
    cdef void* py = cnp.PyArray_DATA(<cnp.ndarray>Y)
    cdef void* po = cnp.PyArray_DATA(<cnp.ndarray>out)
    if typenum == cnp.NPY_DOUBLE:
        _small(<double*>px, <double*>py, <double*>po, rows, cols, inner, left)
    else:
        _small(<float*>px, <float*>py, <float*>po, rows, cols, inner, left)
    return out


def grad_ax_fast(A, G, out):
    """Aᵀ G when A, G (and out) are plain C-contiguous 2-D arrays of one float dtype, else None."""
    return _fast_product(A, G, out, True)


def grad_xa_fast(G, A, out):
    """G Aᵀ when G, A (and out) are plain C-contiguous 2-D arrays of one float dtype, else None."""
    return _fast_product(G, A, out, False)
