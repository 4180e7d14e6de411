# cython: language_level=3
"""Row-major BLAS shims over scipy.linalg.cython_blas, fused over float32/float64.

This is the one place that knows BLAS is column-major. Every matrix handed to these
shims is row-major (C order) with a leading dimension `ld` = its row length in
memory. A row-major matrix is the column-major storage of its transpose, so a
row-major C = op(A) op(B) is computed as the column-major Cᵀ = op(B)ᵀ op(A)ᵀ.
BLAS takes 32-bit int sizes: callers keep each dimension below 2**31.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport (
    sgemm, dgemm, sgemv, dgemv, sger, dger, sdot, ddot, saxpy, daxpy)


cdef enum BlasTrans:
    NoTrans = 0
    Trans = 1


cdef inline char _flag(BlasTrans t) noexcept nogil:
    return b"T" if t == Trans else b"N"


cdef inline void gemm(BlasTrans ta, BlasTrans tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      floating alpha, const floating* a, Py_ssize_t lda,
                      const floating* b, Py_ssize_t ldb,
                      floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    """C (m×n) = alpha op(A) op(B) + beta C, all row-major; op(A) is m×k, op(B) k×n."""
    cdef char fa = _flag(ta), fb = _flag(tb)
    cdef int im = <int>m, in_ = <int>n, ik = <int>k
    cdef int ilda = <int>lda, ildb = <int>ldb, ildc = <int>ldc
    # column-major: Cᵀ (n×m) = op(B)ᵀ op(A)ᵀ
    if floating is float:
        sgemm(&fb, &fa, &in_, &im, &ik, &alpha, <float*>b, &ildb, <float*>a, &ilda,
              &beta, c, &ildc)
    else:
        dgemm(&fb, &fa, &in_, &im, &ik, &alpha, <double*>b, &ildb, <double*>a, &ilda,
              &beta, c, &ildc)


cdef inline void gemv(BlasTrans ta, Py_ssize_t m, Py_ssize_t n, floating alpha,
                      const floating* a, Py_ssize_t lda, const floating* x, Py_ssize_t incx,
                      floating beta, floating* y, Py_ssize_t incy) noexcept nogil:
    """y = alpha op(A) x + beta y with A row-major m×n (op(A) = A or Aᵀ)."""
    # a row-major m×n A is a column-major n×m Aᵀ: flip the transpose flag
    cdef char f = b"N" if ta == Trans else b"T"
    cdef int im = <int>n, in_ = <int>m, ilda = <int>lda, ix = <int>incx, iy = <int>incy
    if floating is float:
        sgemv(&f, &im, &in_, &alpha, <float*>a, &ilda, <float*>x, &ix, &beta, y, &iy)
    else:
        dgemv(&f, &im, &in_, &alpha, <double*>a, &ilda, <double*>x, &ix, &beta, y, &iy)


cdef inline void ger(Py_ssize_t m, Py_ssize_t n, floating alpha, const floating* x,
                     Py_ssize_t incx, const floating* y, Py_ssize_t incy,
                     floating* a, Py_ssize_t lda) noexcept nogil:
    """A (m×n, row-major) += alpha x yᵀ."""
    # column-major Aᵀ (n×m) += alpha y xᵀ
    cdef int im = <int>n, in_ = <int>m, ix = <int>incx, iy = <int>incy, ilda = <int>lda
    if floating is float:
        sger(&im, &in_, &alpha, <float*>y, &iy, <float*>x, &ix, a, &ilda)
    else:
        dger(&im, &in_, &alpha, <double*>y, &iy, <double*>x, &ix, a, &ilda)


cdef inline floating dot(Py_ssize_t n, const floating* x, Py_ssize_t incx,
                         const floating* y, Py_ssize_t incy) noexcept nogil:
    """xᵀ y."""
    cdef int in_ = <int>n, ix = <int>incx, iy = <int>incy
    if floating is float:
        return sdot(&in_, <float*>x, &ix, <float*>y, &iy)
    else:
        return ddot(&in_, <double*>x, &ix, <double*>y, &iy)


cdef inline void axpy(Py_ssize_t n, floating alpha, const floating* x, Py_ssize_t incx,
                      floating* y, Py_ssize_t incy) noexcept nogil:
    """y += alpha x."""
    cdef int in_ = <int>n, ix = <int>incx, iy = <int>incy
    if floating is float:
        saxpy(&in_, &alpha, <float*>x, &ix, y, &iy)
    else:
        daxpy(&in_, &alpha, <double*>x, &ix, y, &iy)
