# cython: language_level=3
"""cimport API of the Hessian kernel: a linear-model loss's Hessian, X read once.

`work` is double scratch of `work_size(n, m, intercept, K, loss, nthreads)` entries owned
by the caller (n the rows used: len(rows) with rows); `nthreads` ≥ 1. Θ is (mp, K)
row-major (mp = m + 1 with an intercept, its last row); H is (mp·K) × (mp·K) row-major,
the Hessian of Θ flattened in C order (entry [j·K + c, l·K + k] = ∂²L/∂Θ[j,c]∂Θ[l,k]),
both triangles written; grad (NULL or Θ's shape) receives the gradient, and the loss is
returned (0 without grad; NaN for a bad CSR column index, counted in bad[0]). y is (n,)
or, for squared with K targets, (n, K); y and w may be NULL (y only for squared). Loss
codes: see `mc_loss.h`. Results do not depend on nthreads.
"""
from cython cimport floating


cdef Py_ssize_t n_pairs(int loss, Py_ssize_t K) noexcept nogil

cdef Py_ssize_t work_size(Py_ssize_t n, Py_ssize_t m, bint intercept, Py_ssize_t K,
                          int loss, int nthreads) noexcept nogil

# dense X (n, m), C (kind 0) or F (kind 1) order with leading dimension ld
cdef double dense_hessian(int kind, const floating* X, Py_ssize_t n, Py_ssize_t m,
                          Py_ssize_t ld, const Py_ssize_t* rows, Py_ssize_t nrows,
                          const floating* theta, Py_ssize_t K, bint intercept,
                          const floating* y, const floating* w, int loss, double delta,
                          double l2, floating* grad, floating* H, double* work,
                          int nthreads) noexcept nogil

# CSR X (n, m): data, indices and indptr (int32 or int64: idx64)
cdef double csr_hessian(const floating* data, const void* indices, const void* indptr,
                        bint idx64, Py_ssize_t n, Py_ssize_t m,
                        const Py_ssize_t* rows, Py_ssize_t nrows,
                        const floating* theta, Py_ssize_t K, bint intercept,
                        const floating* y, const floating* w, int loss, double delta,
                        double l2, floating* grad, floating* H, double* work,
                        int nthreads, Py_ssize_t* bad) noexcept nogil
