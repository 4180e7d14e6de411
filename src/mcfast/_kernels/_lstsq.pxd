# cython: language_level=3
"""cimport API of the least-squares kernels: loss and gradient in one pass over X (nogil).

Every array is C-contiguous and of one dtype (float32 or float64). `work` is scratch of
`work_size(m, k, block, nthreads, sizeof(floating))` doubles (k = 0 for loss_grad_vec),
owned by the caller;
`block` is the number of rows per block (≥ 1), `nthreads` the threads to use (≥ 1;
1 without OpenMP). y and w are optional: pass has_y / has_w = False and any length-1
view. Callers handle empty inputs (n = 0, m = 0 or k = 0) themselves.
"""
from cython cimport floating


cdef Py_ssize_t work_size(Py_ssize_t m, Py_ssize_t k, Py_ssize_t block, int nthreads,
                          Py_ssize_t itemsize) noexcept nogil

# grad = 2 Xᵀ W (Xθ − y) + 2 l2 θ; returns Σ w_i (x_iθ − y_i)² + l2 ‖θ‖²
cdef double loss_grad_vec(const floating[:, ::1] X, const floating[::1] theta,
                          const floating[::1] y, bint has_y,
                          const floating[::1] w, bint has_w, double l2,
                          floating[::1] grad, double* work, Py_ssize_t block,
                          int nthreads) noexcept nogil

# grad = 2 Xᵀ W (XΘ − Y) + 2 l2 Θ; returns Σ w_i ‖x_iΘ − y_i‖² + l2 ‖Θ‖²_F
cdef double loss_grad_mat(const floating[:, ::1] X, const floating[:, ::1] theta,
                          const floating[:, ::1] Y, bint has_y,
                          const floating[::1] w, bint has_w, double l2,
                          floating[:, ::1] grad, double* work, Py_ssize_t block,
                          int nthreads) noexcept nogil

# Σ X, each of nthreads threads reading its own rows once (the memory read floor)
cdef double sum_rows(const floating[:, ::1] X, int nthreads) noexcept nogil
