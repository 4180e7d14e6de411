# One vector through one large dense link, on mcfast's threads (included by _chain.pyx)

cdef extern from "mc_chain_kern.h":
    enum: MC_MV_TILE
    void mc_mv_grad_double(Py_ssize_t rows, Py_ssize_t cols, const double* a,
                           const double* x, double* y, Py_ssize_t j0,
                           Py_ssize_t j1) noexcept nogil
    void mc_mv_grad_float(Py_ssize_t rows, Py_ssize_t cols, const float* a, const float* x,
                          float* y, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil
    void mc_mv_tan_double(Py_ssize_t rows, Py_ssize_t cols, const double* a,
                          const double* x, double* y, Py_ssize_t i0,
                          Py_ssize_t i1) noexcept nogil
    void mc_mv_tan_float(Py_ssize_t rows, Py_ssize_t cols, const float* a, const float* x,
                         float* y, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil

cdef enum:
    MV_ALIGN = 16           # a thread's share of y starts at a multiple of this (64 bytes)


ctypedef struct _Mv:
    Py_ssize_t rows, cols, chunk, length
    const void* a
    const void* x
    void* y
    bint grad, single


cdef void _mv_task(void* ctx, Py_ssize_t t, int tid) noexcept nogil:
    """Entries [t·chunk, (t+1)·chunk) of y (a task of parallel_for)."""
    cdef _Mv* c = <_Mv*>ctx
    cdef Py_ssize_t lo = t * c.chunk, hi = min(c.length, (t + 1) * c.chunk)
    if lo >= hi:
        return
    if c.grad and c.single:
        mc_mv_grad_float(c.rows, c.cols, <const float*>c.a, <const float*>c.x,
                         <float*>c.y, lo, hi)
    elif c.grad:
        mc_mv_grad_double(c.rows, c.cols, <const double*>c.a, <const double*>c.x,
                          <double*>c.y, lo, hi)
    elif c.single:
        mc_mv_tan_float(c.rows, c.cols, <const float*>c.a, <const float*>c.x,
                        <float*>c.y, lo, hi)
    else:
        mc_mv_tan_double(c.rows, c.cols, <const double*>c.a, <const double*>c.x,
                         <double*>c.y, lo, hi)


def vector_link(object a, object x, bint grad, int nthreads):
    """xᵀA (grad) or A x for one vector x and one dense link A, or None.

    A 2-D and x 1-D `plain` arrays (C-contiguous, native) of one float dtype with matching
    sizes; anything else returns None (the caller's NumPy path). The result's entries are
    split in whole blocks over `nthreads` of mcfast's threads (at most), each entry summed
    by one thread in a fixed order: the same bits for any thread count.
    """
    cdef int typenum
    cdef Py_ssize_t ntasks, inner
    cdef cnp.npy_intp oshape[1]
    cdef _Mv c
    if type(x) is not cnp.ndarray:
        return None
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>x)
    if (typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT) or not plain(x, typenum, 1) \
            or not plain(a, typenum, 2):
        return None
    c.rows = cnp.PyArray_DIMS(<cnp.ndarray>a)[0]
    c.cols = cnp.PyArray_DIMS(<cnp.ndarray>a)[1]
    if cnp.PyArray_DIMS(<cnp.ndarray>x)[0] != (c.rows if grad else c.cols):
        return None
    c.length = c.cols if grad else c.rows
    oshape[0] = c.length
    inner = c.rows if grad else c.cols
    if c.length == 0 or inner == 0:
        return cnp.PyArray_ZEROS(1, oshape, typenum, 0)          # an empty sum
    out = cnp.PyArray_EMPTY(1, oshape, typenum, 0)
    c.a, c.x = cnp.PyArray_DATA(<cnp.ndarray>a), cnp.PyArray_DATA(<cnp.ndarray>x)
    c.y, c.grad, c.single = cnp.PyArray_DATA(<cnp.ndarray>out), grad, typenum == cnp.NPY_FLOAT
    ntasks = max(1, min(nthreads, (c.length + MV_ALIGN - 1) // MV_ALIGN))
    c.chunk = ((c.length + ntasks - 1) // ntasks + MV_ALIGN - 1) // MV_ALIGN * MV_ALIGN
    with nogil:
        if ntasks > 1:
            parallel_for(_mv_task, &c, ntasks, <int>ntasks)
        else:
            _mv_task(&c, 0, 0)
    return out
