# cython: language_level=3
"""Least squares on the one-pass engine: ‖Xθ − y‖²_W and 2 XᵀW(Xθ − y), X read once.

The squared loss is the engine's loss 0 (see _engine.pyx: row sources, loss hooks, the
threaded driver). This module keeps the least-squares entry points: the fused `def`
kernels mcfast.lstsq calls, the compiled fast entry for plain arrays (validating in
Python costs more than the kernel at 8 × 8), and the `cdef` functions of the cimport
API (_lstsq.pxd), each an adapter that fills the engine's arguments.
"""
from cython cimport floating

cimport numpy as cnp
import numpy as np

from ._engine cimport (dense_loss_grad, plan_block, plan_threads as engine_threads,
                       work_size as _engine_work, sum_rows as _engine_sum, SRC_C)
from ._ndarray cimport plain, disjoint
from ._threads cimport openmp_effective_n_threads
from . import _engine

cnp.import_array()

cdef enum:
    STACK_WORK = 4096  # doubles of scratch on the C stack before a NumPy buffer is used

# the SIMD level and the read floor are the engine's
set_simd_level = _engine.set_simd_level
simd_level = _engine.simd_level


# --------------------------------------------------------------------------------------
# cdef API (declared in _lstsq.pxd)
# --------------------------------------------------------------------------------------

cdef Py_ssize_t work_size(Py_ssize_t m, Py_ssize_t k, Py_ssize_t block, int nthreads,
                          Py_ssize_t itemsize) noexcept nogil:
    """Doubles of scratch for width m and k targets (0 or 1: a vector θ)."""
    k = max(k, 1)
    return _engine_work(m, k, k, block, nthreads, itemsize)


cdef double loss_grad_vec(const floating[:, ::1] X, const floating[::1] theta,
                          const floating[::1] y, bint has_y,
                          const floating[::1] w, bint has_w, double l2,
                          floating[::1] grad, double* work, Py_ssize_t block,
                          int nthreads) noexcept nogil:
    """grad = 2 Xᵀ W (Xθ − y) + 2 l2 θ; returns Σ w_i (x_iθ − y_i)² + l2 ‖θ‖² (n, m ≥ 1)."""
    return dense_loss_grad(SRC_C, &X[0, 0], X.shape[0], X.shape[1], X.shape[1], NULL, 0,
                           &theta[0], 1, False, &y[0] if has_y else NULL,
                           &w[0] if has_w else NULL, 0, 0.0, l2, NULL, &grad[0], work,
                           block, nthreads)


cdef double loss_grad_mat(const floating[:, ::1] X, const floating[:, ::1] theta,
                          const floating[:, ::1] Y, bint has_y,
                          const floating[::1] w, bint has_w, double l2,
                          floating[:, ::1] grad, double* work, Py_ssize_t block,
                          int nthreads) noexcept nogil:
    """grad = 2 Xᵀ W (XΘ − Y) + 2 l2 Θ; returns Σ w_i ‖x_iΘ − y_i‖² + l2 ‖Θ‖²_F."""
    return dense_loss_grad(SRC_C, &X[0, 0], X.shape[0], X.shape[1], X.shape[1], NULL, 0,
                           &theta[0, 0], theta.shape[1], False,
                           &Y[0, 0] if has_y else NULL, &w[0] if has_w else NULL, 0, 0.0,
                           l2, NULL, &grad[0, 0], work, block, nthreads)


cdef double sum_rows(const floating[:, ::1] X, int nthreads) noexcept nogil:
    """Σ X, each thread reading its own rows once (the memory read floor)."""
    if X.shape[0] == 0 or X.shape[1] == 0:
        return 0
    return _engine_sum(&X[0, 0], X.shape[0], X.shape[1], nthreads)


# --------------------------------------------------------------------------------------
# def kernels: scratch on the stack when small, else one NumPy buffer; GIL released
# --------------------------------------------------------------------------------------

def vec_loss_grad(const floating[:, ::1] X not None, const floating[::1] theta not None,
                  const floating[::1] y not None, bint has_y,
                  const floating[::1] w not None, bint has_w, double l2,
                  floating[::1] grad not None, Py_ssize_t block, int nthreads):
    """Σ w (Xθ − y)² + l2‖θ‖², writing 2 XᵀW(Xθ − y) + 2 l2 θ into `grad`.

    mcfast.lstsq has checked the inputs and names them in its errors; this only refuses
    what would make the kernel read or write out of bounds (n, m ≥ 1 needed).
    """
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    cdef double loss
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1]
    if (n < 1 or m < 1 or theta.shape[0] != m or grad.shape[0] != m
            or (has_y and y.shape[0] != n) or (has_w and w.shape[0] != n)
            or block < 1 or nthreads < 1):
        raise ValueError("vec_loss_grad: inconsistent shapes or arguments")
    cdef Py_ssize_t need = work_size(m, 0, block, nthreads, sizeof(floating))
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    with nogil:
        loss = loss_grad_vec(X, theta, y, has_y, w, has_w, l2, grad, work, block, nthreads)
    return loss


def mat_loss_grad(const floating[:, ::1] X not None, const floating[:, ::1] theta not None,
                  const floating[:, ::1] Y not None, bint has_y,
                  const floating[::1] w not None, bint has_w, double l2,
                  floating[:, ::1] grad not None, Py_ssize_t block, int nthreads):
    """Σ w ‖XΘ − Y‖² + l2‖Θ‖², writing 2 XᵀW(XΘ − Y) + 2 l2 Θ into `grad`.

    mcfast.lstsq has checked the inputs and names them in its errors; this only refuses
    what would make the kernel read or write out of bounds (n, m, k ≥ 1 needed).
    """
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    cdef double loss
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], k = theta.shape[1]
    if (n < 1 or m < 1 or k < 1 or theta.shape[0] != m or grad.shape[0] != m
            or grad.shape[1] != k or (has_y and (Y.shape[0] != n or Y.shape[1] != k))
            or (has_w and w.shape[0] != n) or block < 1 or nthreads < 1):
        raise ValueError("mat_loss_grad: inconsistent shapes or arguments")
    cdef Py_ssize_t need = work_size(m, k, block, nthreads, sizeof(floating))
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    with nogil:
        loss = loss_grad_mat(X, theta, Y, has_y, w, has_w, l2, grad, work, block, nthreads)
    return loss


cdef int plan_threads(Py_ssize_t n, Py_ssize_t m, Py_ssize_t k, Py_ssize_t block,
                      int max_threads) noexcept nogil:
    """Threads for an (n, m) X and k targets: the engine's rule (plan_threads in
    _engine.pyx) with n·m·k elements; `max_threads` 0: what the process allows now."""
    return engine_threads(n * m * max(k, 1), (n + block - 1) // block, max_threads)


def plan(Py_ssize_t n, Py_ssize_t m, Py_ssize_t k, Py_ssize_t itemsize, int max_threads):
    """(rows per block, threads) for a C-ordered (n, m) X, k targets (0 for a 1-D θ);
    `max_threads` 0: as many as the process allows now."""
    if m < 1 or itemsize < 1:
        raise ValueError("plan: m and itemsize must be >= 1")
    # no block larger than X: a small X then needs only a small scratch
    cdef Py_ssize_t block = min(plan_block(SRC_C, m, max(k, 1), itemsize), max(n, 8))
    return block, plan_threads(n, m, k, block, max_threads)


# --------------------------------------------------------------------------------------
# the fast entry for a 1-D θ and arrays that need no conversion
# --------------------------------------------------------------------------------------
#
# Validating in Python and acquiring four typed memoryviews cost a few µs: at 8 × 8 that is
# the whole call. When X, θ, y (and w, out) are already C-contiguous ndarrays of one float
# dtype with fitting shapes, `loss_grad_fast` checks that in compiled code and runs the
# engine on raw pointers. It returns None when anything is unusual (other dtypes or
# layouts, subclasses, 2-D θ, empty or overlapping arrays), and mcfast.lstsq takes the
# general path, which converts, validates and explains. The GIL is kept for tiny inputs
# (releasing it costs more than the work) and released from SMALL_ELEMENTS elements of X.

cdef Py_ssize_t SMALL_ELEMENTS = 4096


cdef inline bint _vector(object a, int typenum, Py_ssize_t size):
    """a is a plain 1-D array of the given type number and length."""
    return plain(a, typenum, 1) and cnp.PyArray_DIMS(<cnp.ndarray>a)[0] == size


def loss_grad_fast(X, theta, y, w, double l2, out, int max_threads):
    """(Σ w (Xθ − y)² + l2‖θ‖², 2 XᵀW(Xθ − y) + 2 l2 θ) for plain arrays, else None.

    X (n, m), θ (m,), y (n,) and w (n,) or None: C-contiguous ndarrays of one float dtype,
    n, m ≥ 1. `out`: None (a new gradient) or such an (m,) array, writeable and sharing
    no memory with the inputs (else None is returned and nothing is written).
    """
    if not cnp.PyArray_CheckExact(X):
        return None
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>X)
    if typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT:
        return None
    if not plain(X, typenum, 2):
        return None
    cdef Py_ssize_t n = cnp.PyArray_DIMS(<cnp.ndarray>X)[0]
    cdef Py_ssize_t m = cnp.PyArray_DIMS(<cnp.ndarray>X)[1]
    if n < 1 or m < 1 or not (_vector(theta, typenum, m) and _vector(y, typenum, n)):
        return None
    if w is not None and not _vector(w, typenum, n):
        return None
    cdef cnp.npy_intp dims[1]
    if out is None:
        dims[0] = m
        out = cnp.PyArray_EMPTY(1, dims, typenum, 0)
    elif not (_vector(out, typenum, m) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)
              and disjoint(<cnp.ndarray>out, <cnp.ndarray>X)
              and disjoint(<cnp.ndarray>out, <cnp.ndarray>theta)
              and disjoint(<cnp.ndarray>out, <cnp.ndarray>y)
              and (w is None or disjoint(<cnp.ndarray>out, <cnp.ndarray>w))):
        return None
    cdef Py_ssize_t itemsize = 8 if typenum == cnp.NPY_DOUBLE else 4
    # no block larger than X: a small X's scratch then fits on the stack (a NumPy buffer
    # for it cost 300 ns, half the call at 8 × 8)
    cdef Py_ssize_t block = min(plan_block(SRC_C, m, 1, itemsize), max(n, 8))
    cdef int nthreads = plan_threads(n, m, 0, block, max_threads)
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    cdef Py_ssize_t need = work_size(m, 0, block, nthreads, itemsize)
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    cdef void* px = cnp.PyArray_DATA(<cnp.ndarray>X)
    cdef void* pt = cnp.PyArray_DATA(<cnp.ndarray>theta)
    cdef void* py = cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef void* pw = NULL if w is None else cnp.PyArray_DATA(<cnp.ndarray>w)
    cdef void* po = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef double loss
    if n * m < SMALL_ELEMENTS:
        loss = _vec_any(typenum, px, n, m, pt, py, pw, l2, po, work, block, nthreads)
    else:
        with nogil:
            loss = _vec_any(typenum, px, n, m, pt, py, pw, l2, po, work, block, nthreads)
    return loss, out


cdef inline double _vec_any(int typenum, void* px, Py_ssize_t n, Py_ssize_t m, void* pt,
                            void* py, void* pw, double l2, void* po, double* work,
                            Py_ssize_t block, int nthreads) noexcept nogil:
    """The engine's squared loss for the type number of the (untyped) pointers."""
    if typenum == cnp.NPY_DOUBLE:
        return dense_loss_grad(SRC_C, <const double*>px, n, m, m, NULL, 0,
                               <const double*>pt, 1, False, <const double*>py,
                               <const double*>pw, 0, 0.0, l2, NULL, <double*>po, work,
                               block, nthreads)
    return dense_loss_grad(SRC_C, <const float*>px, n, m, m, NULL, 0, <const float*>pt, 1,
                           False, <const float*>py, <const float*>pw, 0, 0.0, l2, NULL,
                           <float*>po, work, block, nthreads)


def row_sum(const floating[:, ::1] X not None, int nthreads):
    """Σ X read once, the rows split over `nthreads` threads (the memory read floor)."""
    cdef double total
    if nthreads < 1:
        raise ValueError("row_sum: nthreads must be >= 1")
    with nogil:
        total = sum_rows(X, nthreads)
    return total


def repeat_vec_loss_grad(const floating[:, ::1] X not None,
                         const floating[::1] theta not None,
                         const floating[::1] y not None, floating[::1] grad not None,
                         Py_ssize_t block, Py_ssize_t repeats):
    """Run the single-target kernel `repeats` times in one nogil loop (one thread).

    For benchmarks: the kernel's own cost per call, without the ≈ 100 ns per memoryview
    that every Python-level call pays. Returns the last loss.
    """
    cdef double stack[STACK_WORK]
    cdef double* work = stack
    cdef double[::1] heap
    cdef double loss = 0
    cdef Py_ssize_t r
    if (X.shape[0] < 1 or X.shape[1] < 1 or theta.shape[0] != X.shape[1]
            or grad.shape[0] != X.shape[1] or y.shape[0] != X.shape[0] or block < 1):
        raise ValueError("repeat_vec_loss_grad: inconsistent shapes or arguments")
    cdef Py_ssize_t need = work_size(X.shape[1], 0, block, 1, sizeof(floating))
    if need > STACK_WORK:
        heap = np.empty(need)
        work = &heap[0]
    with nogil:
        for r in range(repeats):
            loss = loss_grad_vec(X, theta, y, True, y, False, 0.0, grad, work, block, 1)
    return loss
