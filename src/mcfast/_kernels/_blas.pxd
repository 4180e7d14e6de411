# cython: language_level=3
"""Row-major BLAS shims over scipy.linalg.cython_blas, fused over float32/float64.

This is the one place that knows BLAS is column-major. Every matrix handed to these
shims is row-major (C order) with a leading dimension `ld` = its row length in
memory. A row-major matrix is the column-major storage of its transpose, so a
row-major C = op(A) op(B) is computed as the column-major Cᵀ = op(B)ᵀ op(A)ᵀ.
BLAS takes 32-bit int sizes and strides. When any of them exceeds BLAS_INT_MAX (2**31 - 1,
or a small value set at build time with MCFAST_BLAS_INT_MAX so that tests reach it), the
shims compute the same thing with plain 64-bit loops instead: slower, never wrong.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport (
    sgemm, dgemm, sgemv, dgemv, sger, dger, sdot, ddot, saxpy, daxpy)


cdef enum BlasTrans:
    NoTrans = 0
    Trans = 1


cdef extern from *:
    """
    #include <limits.h>
    #ifndef MCFAST_BLAS_INT_MAX
    #define MCFAST_BLAS_INT_MAX INT_MAX
    #endif
    """
    const Py_ssize_t BLAS_INT_MAX "MCFAST_BLAS_INT_MAX"


cdef inline bint _fits(Py_ssize_t a, Py_ssize_t b, Py_ssize_t c,
                       Py_ssize_t d, Py_ssize_t e, Py_ssize_t f) noexcept nogil:
    """Every size and stride fits BLAS's int (and the build's test limit)."""
    return (a <= BLAS_INT_MAX and b <= BLAS_INT_MAX and c <= BLAS_INT_MAX and
            d <= BLAS_INT_MAX and e <= BLAS_INT_MAX and f <= BLAS_INT_MAX)


cdef inline char _flag(BlasTrans t) noexcept nogil:
    return b"T" if t == Trans else b"N"


cdef inline void gemm(BlasTrans ta, BlasTrans tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      floating alpha, const floating* a, Py_ssize_t lda,
                      const floating* b, Py_ssize_t ldb,
                      floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    """C (m×n) = alpha op(A) op(B) + beta C, all row-major; op(A) is m×k, op(B) k×n."""
    cdef Py_ssize_t i, j, l
    cdef floating acc
    if not _fits(m, n, k, lda, ldb, ldc):
        for i in range(m):
            for j in range(n):
                acc = 0
                for l in range(k):
                    acc += ((a[l * lda + i] if ta == Trans else a[i * lda + l]) *
                            (b[j * ldb + l] if tb == Trans else b[l * ldb + j]))
                c[i * ldc + j] = alpha * acc + (beta * c[i * ldc + j] if beta != 0 else 0)
        return
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
    cdef Py_ssize_t i, j
    cdef floating acc
    if not _fits(m, n, lda, incx if incx > 0 else -incx, incy if incy > 0 else -incy, 0):
        if ta == Trans:
            for j in range(n):
                y[j * incy] = beta * y[j * incy] if beta != 0 else 0
            for i in range(m):
                acc = alpha * x[i * incx]
                for j in range(n):
                    y[j * incy] += acc * a[i * lda + j]
        else:
            for i in range(m):
                acc = 0
                for j in range(n):
                    acc += a[i * lda + j] * x[j * incx]
                y[i * incy] = alpha * acc + (beta * y[i * incy] if beta != 0 else 0)
        return
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
    cdef Py_ssize_t i, j
    if not _fits(m, n, lda, incx if incx > 0 else -incx, incy if incy > 0 else -incy, 0):
        for i in range(m):
            for j in range(n):
                a[i * lda + j] += alpha * x[i * incx] * y[j * incy]
        return
    # column-major Aᵀ (n×m) += alpha y xᵀ
    cdef int im = <int>n, in_ = <int>m, ix = <int>incx, iy = <int>incy, ilda = <int>lda
    if floating is float:
        sger(&im, &in_, &alpha, <float*>y, &iy, <float*>x, &ix, a, &ilda)
    else:
        dger(&im, &in_, &alpha, <double*>y, &iy, <double*>x, &ix, a, &ilda)


cdef inline floating dot(Py_ssize_t n, const floating* x, Py_ssize_t incx,
                         const floating* y, Py_ssize_t incy) noexcept nogil:
    """xᵀ y."""
    cdef Py_ssize_t i
    cdef floating acc = 0
    if not _fits(n, incx if incx > 0 else -incx, incy if incy > 0 else -incy, 0, 0, 0):
        for i in range(n):
            acc += x[i * incx] * y[i * incy]
        return acc
    cdef int in_ = <int>n, ix = <int>incx, iy = <int>incy
    if floating is float:
        return sdot(&in_, <float*>x, &ix, <float*>y, &iy)
    else:
        return ddot(&in_, <double*>x, &ix, <double*>y, &iy)


cdef inline void axpy(Py_ssize_t n, floating alpha, const floating* x, Py_ssize_t incx,
                      floating* y, Py_ssize_t incy) noexcept nogil:
    """y += alpha x."""
    cdef Py_ssize_t i
    if not _fits(n, incx if incx > 0 else -incx, incy if incy > 0 else -incy, 0, 0, 0):
        for i in range(n):
            y[i * incy] += alpha * x[i * incx]
        return
    cdef int in_ = <int>n, ix = <int>incx, iy = <int>incy
    if floating is float:
        saxpy(&in_, &alpha, <float*>x, &ix, y, &iy)
    else:
        daxpy(&in_, &alpha, <double*>x, &ix, y, &iy)

