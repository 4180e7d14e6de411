# cython: language_level=3
"""Least squares by gradient descent, every iteration under nogil, with mcfast.kernels.

    θ ← θ − η ∇l(θ)/n,   l(θ) = ‖Xθ − y‖²,   ∇l = 2 Xᵀ(Xθ − y)

plus thin def wrappers around the other kernels, so the test checks each one.
"""
import numpy as np
from cython cimport floating

from mcfast cimport kernels as mk


def fit(floating[:, ::1] X not None, floating[::1] y not None,
        double lr=0.5, Py_ssize_t iters=2000):
    """θ minimising ‖Xθ − y‖² by `iters` gradient steps of size lr/n; returns (θ, loss)."""
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], it, j
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] theta = np.zeros(m, dtype)
    cdef floating[::1] grad = np.empty(m, dtype)
    cdef double[::1] work = np.empty(mk.lstsq_work_size(m, 0, 1))   # the kernel's scratch
    cdef floating step = <floating>(lr / n)
    cdef double loss = 0
    with nogil:
        for it in range(iters):
            # loss = ‖Xθ − y‖², grad = 2 Xᵀ(Xθ − y)
            loss = mk.lstsq_loss_grad(X, theta, y, work, grad)
            for j in range(m):
                theta[j] -= step * grad[j]
    return np.asarray(theta), loss


def fit_linear(floating[:, ::1] X not None, floating[::1] y not None,
               double lr=0.5, Py_ssize_t iters=2000):
    """The same descent from the linear-map rules: r = Xθ − y (tangent step), g = 2 Xᵀ r."""
    cdef Py_ssize_t n = X.shape[0], m = X.shape[1], it, i, j
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] theta = np.zeros(m, dtype)
    cdef floating[::1] grad = np.empty(m, dtype)
    cdef floating[::1] r = np.empty(n, dtype)
    cdef floating step = <floating>(2 * lr / n)
    with nogil:
        for it in range(iters):
            mk.tangent_step(X, theta, r)            # r = X θ
            for i in range(n):
                r[i] -= y[i]                         # r = X θ − y
            mk.grad_ax_vec(X, r, False, grad)        # grad = Xᵀ r  (y = Xθ ⇒ ∂/∂θ = Xᵀ ∂/∂y)
            for j in range(m):
                theta[j] -= step * grad[j]
    return np.asarray(theta)


# --- one def per kernel, for the test ---------------------------------------------------

def grad_ax(const floating[:, ::1] A, const floating[:, ::1] G, bint accumulate,
            floating[:, ::1] out):
    with nogil:
        mk.grad_ax(A, G, accumulate, out)


def grad_ax_vec(const floating[:, ::1] A, const floating[::1] g, bint accumulate,
                floating[::1] out):
    with nogil:
        mk.grad_ax_vec(A, g, accumulate, out)


def grad_xa(const floating[:, ::1] G, const floating[:, ::1] A, bint accumulate,
            floating[:, ::1] out):
    with nogil:
        mk.grad_xa(G, A, accumulate, out)


def grad_xa_vec(const floating[::1] g, const floating[::1] a, bint accumulate,
                floating[:, ::1] out):
    with nogil:
        mk.grad_xa_vec(g, a, accumulate, out)


def trace_chain(const floating[::1] G, const floating[:, ::1] dY_dX, floating[::1] out):
    with nogil:
        mk.trace_chain(G, dY_dX, out)


def effective_n_threads():
    return mk.effective_n_threads()


def lstsq_work_size(Py_ssize_t m, Py_ssize_t k, int nthreads):
    return mk.lstsq_work_size(m, k, nthreads)


def lstsq_loss_grad(const floating[:, ::1] X, const floating[::1] theta,
                    const floating[::1] y, double[::1] work, floating[::1] grad):
    cdef double loss
    with nogil:
        loss = mk.lstsq_loss_grad(X, theta, y, work, grad)
    return loss


def lstsq_grad(const floating[:, ::1] X, const floating[::1] theta,
               const floating[::1] y, double[::1] work, floating[::1] grad):
    with nogil:
        mk.lstsq_grad(X, theta, y, work, grad)


def lstsq_loss_grad_weighted(const floating[:, ::1] X, const floating[::1] theta,
                             const floating[::1] y, const floating[::1] w, double l2,
                             int nthreads, double[::1] work, floating[::1] grad):
    cdef double loss
    with nogil:
        loss = mk.lstsq_loss_grad_weighted(X, theta, y, w, l2, nthreads, work, grad)
    return loss


def lstsq_hessp(const floating[:, ::1] X, const floating[::1] p, double l2,
                double[::1] work, floating[::1] out):
    with nogil:
        mk.lstsq_hessp(X, p, l2, work, out)


def lstsq_loss_grad_multi(const floating[:, ::1] X, const floating[:, ::1] Theta,
                          const floating[:, ::1] Y, double[::1] work, floating[:, ::1] grad):
    cdef double loss
    with nogil:
        loss = mk.lstsq_loss_grad_multi(X, Theta, Y, work, grad)
    return loss


def linear_work_size(Py_ssize_t m, Py_ssize_t k, int nthreads):
    return mk.linear_work_size(m, k, nthreads)


def linear_loss_grad(const floating[:, ::1] X, const floating[::1] theta,
                     const floating[::1] y, const floating[::1] w, bint has_w, int loss,
                     double delta, bint fit_intercept, double l2, int nthreads,
                     double[::1] work, floating[::1] grad):
    cdef double value
    with nogil:
        value = mk.linear_loss_grad(X, theta, y, w, has_w, loss, delta, fit_intercept, l2,
                                    nthreads, work, grad)
    return value


def linear_loss_hessp(const floating[:, ::1] X, const floating[::1] theta,
                      const floating[::1] p, const floating[::1] y, const floating[::1] w,
                      bint has_w, int loss, double delta, bint fit_intercept, double l2,
                      int nthreads, double[::1] work, floating[::1] out):
    with nogil:
        mk.linear_loss_hessp(X, theta, p, y, w, has_w, loss, delta, fit_intercept, l2,
                             nthreads, work, out)


def multinomial_loss_grad(const floating[:, ::1] X, const floating[:, ::1] Theta,
                          const floating[::1] labels, const floating[::1] w, bint has_w,
                          bint fit_intercept, double l2, int nthreads, double[::1] work,
                          floating[:, ::1] grad):
    cdef double value
    with nogil:
        value = mk.multinomial_loss_grad(X, Theta, labels, w, has_w, fit_intercept, l2,
                                         nthreads, work, grad)
    return value


def hessian_work_size(Py_ssize_t n, Py_ssize_t m, Py_ssize_t k, int loss,
                      bint fit_intercept, int nthreads):
    return mk.hessian_work_size(n, m, k, loss, fit_intercept, nthreads)


def linear_loss_grad_hess(const floating[:, ::1] X, const floating[::1] theta,
                          const floating[::1] y, const floating[::1] w, bint has_w,
                          int loss, double delta, bint fit_intercept, double l2,
                          int nthreads, double[::1] work, floating[::1] grad,
                          floating[:, ::1] H):
    cdef double value
    with nogil:
        value = mk.linear_loss_grad_hess(X, theta, y, w, has_w, loss, delta, fit_intercept,
                                         l2, nthreads, work, grad, H)
    return value


def linear_loss_hessian(const floating[:, ::1] X, const floating[::1] theta,
                        const floating[::1] y, const floating[::1] w, bint has_w, int loss,
                        double delta, bint fit_intercept, double l2, int nthreads,
                        double[::1] work, floating[:, ::1] H):
    with nogil:
        mk.linear_loss_hessian(X, theta, y, w, has_w, loss, delta, fit_intercept, l2,
                               nthreads, work, H)


def multinomial_loss_grad_hess(const floating[:, ::1] X, const floating[:, ::1] Theta,
                               const floating[::1] labels, const floating[::1] w,
                               bint has_w, bint fit_intercept, double l2, int nthreads,
                               double[::1] work, floating[:, ::1] grad, floating[:, ::1] H):
    cdef double value
    with nogil:
        value = mk.multinomial_loss_grad_hess(X, Theta, labels, w, has_w, fit_intercept, l2,
                                              nthreads, work, grad, H)
    return value


def tangent_step(const floating[:, ::1] J, const floating[::1] t, floating[::1] out):
    with nogil:
        mk.tangent_step(J, t, out)


def tangent_step_diag(const floating[::1] d, const floating[::1] t, floating[::1] out):
    with nogil:
        mk.tangent_step_diag(d, t, out)


def grad_step(const floating[:, ::1] J, const floating[::1] g, floating[::1] out):
    with nogil:
        mk.grad_step(J, g, out)


def grad_step_diag(const floating[::1] d, const floating[::1] g, floating[::1] out):
    with nogil:
        mk.grad_step_diag(d, g, out)


def link_product(const floating[:, ::1] A, const floating[:, ::1] B, floating[:, ::1] out):
    with nogil:
        mk.link_product(A, B, out)


def link_product_diag_left(const floating[::1] d, const floating[:, ::1] B,
                           floating[:, ::1] out):
    with nogil:
        mk.link_product_diag_left(d, B, out)


def link_product_diag_right(const floating[:, ::1] A, const floating[::1] d,
                            floating[:, ::1] out):
    with nogil:
        mk.link_product_diag_right(A, d, out)


def chain_sizes(const Py_ssize_t[::1] dims, const unsigned char[::1] diag):
    return mk.chain_packed_size(dims, diag), mk.chain_work_size(dims)


def grad_chain(const floating[::1] links, const Py_ssize_t[::1] dims,
               const unsigned char[::1] diag, const floating[::1] grad,
               floating[::1] work, floating[::1] out):
    cdef int rc
    with nogil:
        rc = mk.grad_chain(links, dims, diag, grad, work, out)
    return rc


def tangent_chain(const floating[::1] links, const Py_ssize_t[::1] dims,
                  const unsigned char[::1] diag, const floating[::1] tangent,
                  floating[::1] work, floating[::1] out):
    cdef int rc
    with nogil:
        rc = mk.tangent_chain(links, dims, diag, tangent, work, out)
    return rc


def jacobian_chain(const floating[::1] links, const Py_ssize_t[::1] dims,
                   const unsigned char[::1] diag, bint reverse,
                   floating[::1] work, floating[:, ::1] out):
    cdef int rc
    with nogil:
        rc = mk.jacobian_chain(links, dims, diag, reverse, work, out)
    return rc


def chain_order(const Py_ssize_t[::1] dims, const unsigned char[::1] diag,
                Py_ssize_t[::1] prefix, Py_ssize_t[:, ::1] cost, Py_ssize_t[:, ::1] split):
    cdef Py_ssize_t total
    with nogil:
        total = mk.chain_order(dims, diag, prefix, cost, split)
    return total


def chain_steps(Py_ssize_t[:, ::1] split, Py_ssize_t[::1] stack, Py_ssize_t[:, ::1] steps):
    cdef Py_ssize_t nsteps
    with nogil:
        nsteps = mk.chain_steps(split, stack, steps)
    return nsteps


def chain_steps_work_size(const Py_ssize_t[::1] dims, const unsigned char[::1] diag,
                          const Py_ssize_t[:, ::1] steps, Py_ssize_t[::1] iwork):
    cdef Py_ssize_t size
    with nogil:
        size = mk.chain_steps_work_size(dims, diag, steps, iwork)
    return size


def jacobian_chain_steps(const floating[::1] links, const Py_ssize_t[::1] dims,
                         const unsigned char[::1] diag, const Py_ssize_t[:, ::1] steps,
                         Py_ssize_t[::1] iwork, floating[::1] work, floating[:, ::1] out):
    cdef int rc
    with nogil:
        rc = mk.jacobian_chain_steps(links, dims, diag, steps, iwork, work, out)
    return rc
