# cython: language_level=3
"""cimport API of the one-pass engine: a linear-model loss, its gradient or Hessian product.

`work` is double scratch of `work_size(mp, K, ycols, block, nthreads, itemsize)` entries
owned by the caller; `block` rows per block (≥ 1, see `plan_block`), `nthreads` ≥ 1.
Θ, the direction P and the gradient are (mp, K) row-major (mp = m + 1 with an intercept,
its last row); y is (n,) or, for squared with K targets, (n, K); y and w may be NULL.
`rows` (NULL or nrows storage rows, in range) selects the rows used. Loss codes: see
`mc_loss.h` (0 squared, 1 logistic, 2 poisson, 3 huber, 4 multinomial; in Python
`LOSS_CODES`). The functions
return the loss (NaN for a bad CSR column index, counted in bad[0]).
"""
from cython cimport floating

# source kinds for cimporters (mc_rows.h's MC_SRC_C, MC_SRC_F, whose values _engine.pyx
# checks at import; its Python dict SOURCE_KINDS holds the C values)
cdef enum:
    SRC_C = 0      # dense, row-major: ld elements from one row to the next
    SRC_F = 1      # dense, column-major: ld elements from one column to the next


cdef Py_ssize_t plan_block(int kind, Py_ssize_t m, Py_ssize_t K,
                           Py_ssize_t itemsize) noexcept nogil

cdef int plan_threads(Py_ssize_t elements, Py_ssize_t nblocks,
                      int max_threads) noexcept nogil

cdef Py_ssize_t work_size(Py_ssize_t mp, Py_ssize_t K, Py_ssize_t ycols, Py_ssize_t block,
                          int nthreads, Py_ssize_t itemsize) noexcept nogil

# dense X (n, m), C (SRC_C) or F (SRC_F) order with leading dimension ld
cdef double dense_loss_grad(int kind, const floating* X, Py_ssize_t n, Py_ssize_t m,
                            Py_ssize_t ld, const Py_ssize_t* rows, Py_ssize_t nrows,
                            const floating* theta, Py_ssize_t K, bint intercept,
                            const floating* y, const floating* w, int loss, double delta,
                            double l2, const floating* p, floating* grad, double* work,
                            Py_ssize_t block, int nthreads) noexcept nogil

# CSR X (n, m): data, indices and indptr (int32 or int64: idx64)
cdef double csr_loss_grad(const floating* data, const void* indices, const void* indptr,
                          bint idx64, Py_ssize_t n, Py_ssize_t m,
                          const Py_ssize_t* rows, Py_ssize_t nrows,
                          const floating* theta, Py_ssize_t K, bint intercept,
                          const floating* y, const floating* w, int loss, double delta,
                          double l2, const floating* p, floating* grad, double* work,
                          Py_ssize_t block, int nthreads, Py_ssize_t* bad) noexcept nogil

# Σ X for a C-contiguous (n, m) X, each of nthreads threads reading its own rows once
cdef double sum_rows(const floating* X, Py_ssize_t n, Py_ssize_t m,
                     int nthreads) noexcept nogil


# the checked arguments of a def entry over a linear-model problem (check_entry)
ctypedef struct entry_args:
    int xtype, typenum          # X's and θ's NumPy type numbers
    bint mixed                  # float32 X under float64 arithmetic
    Py_ssize_t itemsize         # θ's (the arithmetic's) bytes per entry
    Py_ssize_t n, m, K, mp, ycols
    const Py_ssize_t* rows      # NULL, or the nrows storage rows used (none: n is 0)
    Py_ssize_t nrows
    int kind                    # SRC_C, SRC_F or 2 (CSR)
    Py_ssize_t ld               # dense: elements between rows (C) / columns (F)
    bint idx64                  # CSR: int64 indices
    Py_ssize_t longest          # CSR: the most stored entries of one row

# dtypes, θ, y, w, rows= and X's fit to its source `kind` (classified by the caller with
# dense_kind, never again here) checked for any def entry; ValueError "func: ..."
cdef int check_entry(str func, X, indices, indptr, tuple shape, int kind, rows, theta, y,
                     w, int loss, bint intercept, entry_args* a) except -1
