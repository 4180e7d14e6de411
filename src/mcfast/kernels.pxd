# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""mcfast's public cimport API: the chain rules as ``noexcept nogil`` kernels.

Use from your own Cython code (build with ``include_path=[mcfast.get_include()]``)::

    from mcfast cimport kernels as mk
    with nogil:
        mk.grad_ax(A, G, False, out)          # out = Aᵀ G

Conventions, the same for every function here:

* Fused over ``floating`` (float32 / float64); every array argument of one call has
  the same dtype. Arrays are typed memoryviews, C-contiguous (``[:, ::1]``, ``[::1]``).
* Outputs are passed in (``# OUT``) and fully overwritten (or added into, when a
  function takes ``accumulate``); nothing here allocates memory or touches a Python
  object, so every call is safe inside ``with nogil:`` and ``prange`` loops (each
  thread with its own outputs).
* Layout: a Jacobian of ``y = f(x)`` (x of size m, y of size p) is p × m; a gradient
  has the shape of its variable.
* Shapes are NOT checked by the single-rule kernels (as with BLAS): the caller makes
  them fit. The chain functions on packed links check sizes and return -1 when they
  do not fit, 0 on success.
* Outputs must not overlap inputs.
* Bounds checks are off in these kernels whatever the including module's directives
  (the directives above apply to this file's code only).
* No virtual dispatch: every function is a ``cdef inline`` wrapper around a direct
  call of a compiled mcfast kernel (or a BLAS routine via ``scipy.linalg.cython_blas``).

The Python-level functions (``mcfast.lstsq_loss_grad`` ...) validate, convert and
allocate, then call these same kernels; their matrix products (``mcfast.grad_ax`` past
the hand loops ...) go to NumPy's BLAS instead, beside NumPy's own calls, while these
call SciPy's.
"""
from cython cimport floating
from libc.math cimport NAN

from mcfast._kernels._blas cimport gemm, gemv, NoTrans, Trans
from mcfast._kernels._linear cimport at_g, at_g_vec, g_at, outer
from mcfast._kernels._engine cimport (
    dense_loss_grad as _dense_loss_grad, work_size as _engine_work,
    plan_block as _plan_block, SRC_C as _SRC_C)
from mcfast._kernels._hessian cimport (
    dense_hessian as _dense_hessian, work_size as _hessian_work)
from mcfast._kernels._chain cimport (
    chain_order as _chain_order, chain_steps as _chain_steps, small_gemm,
    chain_layout as _chain_layout, chain_sample as _chain_sample, _Program, NLAYOUTCOL,
    L_FLAGS, L_DIAG, run_step as _run_step, vector_one as _vector_one, SMALL_MV_WORK)
from mcfast._kernels._threads cimport openmp_effective_n_threads

# products with every size at most SMALL go through a hand loop that stays in L1
cdef enum:
    SMALL = 16


# ======================================================================================
# helpers
# ======================================================================================

cdef inline void _fill2(floating[:, ::1] out, floating value) noexcept nogil:
    cdef Py_ssize_t i, j
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = value


cdef inline void _fill1(floating[::1] out, floating value) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(out.shape[0]):
        out[i] = value


# ======================================================================================
# linear-map rules
# ======================================================================================

cdef inline void grad_ax(const floating[:, ::1] A,   # IN  (p, m)
                         const floating[:, ::1] G,   # IN  (p, n)   ∂z/∂Y
                         bint accumulate,
                         floating[:, ::1] out,       # OUT (m, n)   ∂z/∂X
                         ) noexcept nogil:
    """Left linear map Y = A X + B:  ∂z/∂X = Aᵀ G  (out = Aᵀ G, or out += Aᵀ G)."""
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    if A.shape[0] == 0:             # empty sum
        if not accumulate:
            _fill2(out, <floating>0)
        return
    at_g(A, False, G, False, <floating>(1 if accumulate else 0), out)


cdef inline void grad_ax_vec(const floating[:, ::1] A,   # IN  (p, m)
                             const floating[::1] g,      # IN  (p,)   ∂z/∂y
                             bint accumulate,
                             floating[::1] out,          # OUT (m,)   ∂z/∂x
                             ) noexcept nogil:
    """Left linear map y = A x + b:  ∂z/∂x = Aᵀ g."""
    if out.shape[0] == 0:
        return
    if A.shape[0] == 0:
        if not accumulate:
            _fill1(out, <floating>0)
        return
    at_g_vec(A, False, g, <floating>(1 if accumulate else 0), out)


cdef inline void grad_xa(const floating[:, ::1] G,   # IN  (n, p)   ∂z/∂Y
                         const floating[:, ::1] A,   # IN  (m, p)
                         bint accumulate,
                         floating[:, ::1] out,       # OUT (n, m)   ∂z/∂X
                         ) noexcept nogil:
    """Right linear map Y = X A + B:  ∂z/∂X = G Aᵀ."""
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    if G.shape[1] == 0:
        if not accumulate:
            _fill2(out, <floating>0)
        return
    g_at(G, False, A, False, <floating>(1 if accumulate else 0), out)


cdef inline void grad_xa_vec(const floating[::1] g,   # IN  (n,)   ∂z/∂y
                             const floating[::1] a,   # IN  (m,)
                             bint accumulate,
                             floating[:, ::1] out,    # OUT (n, m) ∂z/∂X
                             ) noexcept nogil:
    """Right linear map y = X a + b:  ∂z/∂X = g aᵀ (an outer product)."""
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    outer(g, a, accumulate, out)


cdef inline void trace_chain(const floating[::1] G,         # IN  (Y.size,)  ∂z/∂Y, flattened
                             const floating[:, ::1] dY_dX,  # IN  (Y.size, X.size)
                             floating[::1] out,             # OUT (X.size,)  ∂z/∂X, flattened
                             ) noexcept nogil:
    """Trace rule: ∂z/∂X_ij = Σ_kl G_kl ∂Y_kl/∂X_ij, i.e. out = dY_dXᵀ G.

    ``dY_dX`` is the array of shape Y.shape + X.shape reshaped (C order) to
    (Y.size, X.size); ``G`` and ``out`` are Y and X flattened in C order.
    """
    grad_ax_vec(dY_dX, G, False, out)


# ======================================================================================
# least squares and linear-model losses, on the one-pass engine (mcfast._kernels._engine)
#
#   l = Σ_i w_i ℓ(x_iθ (+ b), y_i) + l2‖θ‖²,   ∂l/∂θ = Xᵀ(w ∘ ℓ′) + 2 l2 θ
#
# X is read once: rows in blocks that stay in cache, z = Xθ formed and used block by
# block, never stored whole. `work` is double scratch of at least
# linear_work_size(m, k, nthreads) (or lstsq_work_size) entries, owned by the caller (one
# per thread when called from your own parallel loop, with nthreads=1 there). The
# functions return NaN, writing nothing, when `work` is too small. These adapt
# memoryviews to the engine's pointers; the engine does the work (empty X included).
# ======================================================================================

cdef inline int effective_n_threads() noexcept nogil:
    """Threads mcfast's kernels may use now, to pass as `nthreads`:
    omp_get_max_threads() (threadpoolctl, OMP_NUM_THREADS) capped by the CPU affinity
    (without OpenMP: OMP_NUM_THREADS, else those CPUs), 1 in a process made by fork (the
    workers of mcfast's pool stay in the parent). Results do not depend on it."""
    return openmp_effective_n_threads()


cdef enum:
    # the pointwise losses (mcfast.losses; the engine's codes in mc_loss.h)
    LOSS_SQUARED = 0        # (z − y)²
    LOSS_LOGISTIC = 1       # log(1 + eᶻ) − y z, y ∈ [0, 1]
    LOSS_POISSON = 2        # eᶻ − y z, y ≥ 0
    LOSS_HUBER = 3          # ½r² (|r| ≤ δ), δ(|r| − ½δ), r = z − y
    LOSS_MULTINOMIAL = 4    # logsumexp(z_i) − z_i,y_i, y integer labels 0 … K−1


cdef inline Py_ssize_t linear_work_size(Py_ssize_t m, Py_ssize_t k,
                                        int nthreads) noexcept nogil:
    """Doubles of scratch for an X of m columns (with or without an intercept), k outputs
    per row (0 or 1: a vector θ; classes for multinomial) and `nthreads` threads, float32
    or float64."""
    k = max(k, 1)
    return _engine_work(m + 1, k, k, _plan_block(_SRC_C, m, k, 4), max(nthreads, 1), 8)


cdef inline Py_ssize_t lstsq_work_size(Py_ssize_t m, Py_ssize_t k,
                                       int nthreads) noexcept nogil:
    """Doubles of scratch the least-squares functions need (float32 or float64 X), for
    width m, k targets (0 or 1: a vector θ) and `nthreads` threads."""
    return linear_work_size(m, k, nthreads)


cdef inline const floating* _ptr1(const floating[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


cdef inline const floating* _ptr2(const floating[:, ::1] a) noexcept nogil:
    return &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else NULL


cdef inline double _linear(const floating[:, ::1] X, const floating* theta, Py_ssize_t k,
                           bint intercept, const floating* y, const floating* w, int loss,
                           double delta, double l2, const floating* p, floating* grad,
                           int nthreads, double[::1] work) noexcept nogil:
    """The engine on a C-contiguous X (k outputs per row, ≥ 0), or NaN when `work` is too
    small."""
    cdef Py_ssize_t m = X.shape[1]
    nthreads = max(nthreads, 1)
    if work.shape[0] < linear_work_size(m, k, nthreads) or work.shape[0] == 0:
        return NAN
    return _dense_loss_grad(_SRC_C, _ptr2(X), X.shape[0], m, m, NULL, 0, theta, k,
                            intercept, y, w, loss, delta, l2, p, grad, &work[0],
                            _plan_block(_SRC_C, m, max(k, 1), sizeof(floating)), nthreads)


cdef inline double linear_loss_grad(
        const floating[:, ::1] X,      # IN  (n, m)
        const floating[::1] theta,     # IN  (m,), or (m + 1,) with the intercept last
        const floating[::1] y,         # IN  (n,)
        const floating[::1] w,         # IN  (n,) sample weights, read when has_w
        bint has_w,
        int loss,                      # LOSS_SQUARED, LOSS_LOGISTIC, LOSS_POISSON, LOSS_HUBER
        double delta,                  # huber's δ (> 0); ignored by the others
        bint fit_intercept,
        double l2,                     # ridge on θ[:m] (0 for none)
        int nthreads,                  # OpenMP threads (1 inside your own parallel loop)
        double[::1] work,              # SCRATCH linear_work_size(m, 0, nthreads)
        floating[::1] grad,            # OUT theta's shape
        ) noexcept nogil:
    """Returns Σ w ℓ(Xθ + b, y) + l2‖θ[:m]‖²; grad = Xᵀ(w ∘ ℓ′) + 2 l2 θ (and Σ w ℓ′ for b).

    y must lie in the loss's domain (not checked here: mcfast.linear_loss_grad checks).
    """
    return _linear(X, _ptr1(theta), 1, fit_intercept, _ptr1(y), _ptr1(w) if has_w else NULL,
                   loss, delta, l2, NULL, &grad[0] if grad.shape[0] else NULL, nthreads, work)


cdef inline void linear_loss_hessp(
        const floating[:, ::1] X,      # IN  (n, m)
        const floating[::1] theta,     # IN  (m,) or (m + 1,)
        const floating[::1] p,         # IN  theta's shape: the direction
        const floating[::1] y,         # IN  (n,)
        const floating[::1] w,         # IN  (n,), read when has_w
        bint has_w,
        int loss, double delta, bint fit_intercept, double l2, int nthreads,
        double[::1] work,              # SCRATCH linear_work_size(m, 0, nthreads)
        floating[::1] out,             # OUT theta's shape
        ) noexcept nogil:
    """out = Xᵀ(w ∘ ℓ″ ∘ (Xp + p_b)) + 2 l2 p (intercept: Σ w ℓ″ (Xp + p_b)), one pass."""
    _linear(X, _ptr1(theta), 1, fit_intercept, _ptr1(y), _ptr1(w) if has_w else NULL, loss,
            delta, l2, _ptr1(p), &out[0] if out.shape[0] else NULL, nthreads, work)


cdef inline double multinomial_loss_grad(
        const floating[:, ::1] X,      # IN  (n, m)
        const floating[:, ::1] Theta,  # IN  (m, K), or (m + 1, K) with the intercepts last
        const floating[::1] labels,    # IN  (n,) integer labels 0 … K−1 (as floats)
        const floating[::1] w,         # IN  (n,), read when has_w
        bint has_w, bint fit_intercept, double l2, int nthreads,
        double[::1] work,              # SCRATCH linear_work_size(m, K, nthreads)
        floating[:, ::1] grad,         # OUT Theta's shape
        ) noexcept nogil:
    """Returns Σ w (logsumexp(z_i) − z_i,y_i) + l2‖Θ[:m]‖²; grad = Xᵀ(w ∘ (softmax − e_y))."""
    return _linear(X, _ptr2(Theta), Theta.shape[1], fit_intercept, _ptr1(labels),
                   _ptr1(w) if has_w else NULL, LOSS_MULTINOMIAL, 0.0, l2, NULL,
                   <floating*>_ptr2(grad), nthreads, work)


cdef inline double lstsq_loss_grad(const floating[:, ::1] X,    # IN  (n, m)
                                   const floating[::1] theta,   # IN  (m,)
                                   const floating[::1] y,       # IN  (n,)
                                   double[::1] work,            # SCRATCH lstsq_work_size(m, 0, 1)
                                   floating[::1] grad,          # OUT (m,)  2 Xᵀ(Xθ − y)
                                   ) noexcept nogil:
    """Returns l = ‖Xθ − y‖² and writes ∂l/∂θ = 2 Xᵀ(Xθ − y) into ``grad`` (one thread)."""
    return _linear(X, _ptr1(theta), 1, False, _ptr1(y), NULL, LOSS_SQUARED, 0.0, 0.0, NULL,
                   <floating*>_ptr1(grad), 1, work)


cdef inline void lstsq_grad(const floating[:, ::1] X,    # IN  (n, m)
                            const floating[::1] theta,   # IN  (m,)
                            const floating[::1] y,       # IN  (n,)
                            double[::1] work,            # SCRATCH lstsq_work_size(m, 0, 1)
                            floating[::1] grad,          # OUT (m,)
                            ) noexcept nogil:
    """∂l/∂θ = 2 Xᵀ(Xθ − y) for l = ‖Xθ − y‖² (one thread)."""
    lstsq_loss_grad(X, theta, y, work, grad)


cdef inline double lstsq_loss_grad_weighted(
        const floating[:, ::1] X,    # IN  (n, m)
        const floating[::1] theta,   # IN  (m,)
        const floating[::1] y,       # IN  (n,)
        const floating[::1] w,       # IN  (n,) sample weights
        double l2,                   # ridge strength (0 for none)
        int nthreads,                # OpenMP threads (1 inside your own parallel loop)
        double[::1] work,            # SCRATCH lstsq_work_size(m, 0, nthreads)
        floating[::1] grad,          # OUT (m,)
        ) noexcept nogil:
    """Returns l = Σ_i w_i (x_iθ − y_i)² + l2‖θ‖²; grad = 2 XᵀW(Xθ − y) + 2 l2 θ."""
    return _linear(X, _ptr1(theta), 1, False, _ptr1(y), _ptr1(w), LOSS_SQUARED, 0.0, l2,
                   NULL, <floating*>_ptr1(grad), nthreads, work)


cdef inline void lstsq_hessp(const floating[:, ::1] X,    # IN  (n, m)
                             const floating[::1] p,       # IN  (m,)
                             double l2,
                             double[::1] work,            # SCRATCH lstsq_work_size(m, 0, 1)
                             floating[::1] out,           # OUT (m,)
                             ) noexcept nogil:
    """Hessian-vector product of ‖Xθ − y‖² + l2‖θ‖²: out = 2 Xᵀ(X p) + 2 l2 p."""
    _linear(X, _ptr1(p), 1, False, NULL, NULL, LOSS_SQUARED, 0.0, l2, _ptr1(p),
            <floating*>_ptr1(out), 1, work)


cdef inline double lstsq_loss_grad_multi(
        const floating[:, ::1] X,       # IN  (n, m)
        const floating[:, ::1] Theta,   # IN  (m, k)
        const floating[:, ::1] Y,       # IN  (n, k)
        double[::1] work,               # SCRATCH lstsq_work_size(m, k, 1)
        floating[:, ::1] grad,          # OUT (m, k)
        ) noexcept nogil:
    """k targets at once: returns ‖XΘ − Y‖²_F; grad = 2 Xᵀ(XΘ − Y) (one thread)."""
    return _linear(X, _ptr2(Theta), Theta.shape[1], False, _ptr2(Y), NULL, LOSS_SQUARED,
                   0.0, 0.0, NULL, <floating*>_ptr2(grad), 1, work)


# the Hessian of a linear-model loss (mcfast._kernels._hessian)
#
#   H = X₁ᵀ diag(w ∘ ℓ″) X₁ + 2 l2 diag(1, …, 1, 0),   X₁ = [X, 1] with an intercept
#
# X is read once: per block of rows a rank-k update (X_bᵀ diag(d) X_b) of m × m triangles, no
# n × m temporary, float32 X in float64 arithmetic. For a 2-D Θ (mp, K) H is
# (mp·K) × (mp·K), the Hessian of Θ flattened in C order: H[j·K + c, l·K + k] =
# ∂²L/∂Θ[j,c]∂Θ[l,k]. `work`: hessian_work_size(n, m, k, loss, fit_intercept, nthreads)
# doubles; NaN is returned, nothing written, when it is too small. The result does not
# depend on nthreads.
# --------------------------------------------------------------------------------------

cdef inline Py_ssize_t hessian_work_size(Py_ssize_t n, Py_ssize_t m, Py_ssize_t k,
                                         int loss, bint fit_intercept,
                                         int nthreads) noexcept nogil:
    """Doubles of scratch for the Hessian on n rows, m columns, k outputs per row (0 or 1:
    a vector θ; K classes for multinomial) and `nthreads` threads, float32 or float64."""
    return _hessian_work(n, m, fit_intercept, max(k, 1), loss, max(nthreads, 1))


cdef inline double _hess(const floating[:, ::1] X, const floating* theta, Py_ssize_t k,
                         bint intercept, const floating* y, const floating* w, int loss,
                         double delta, double l2, floating* grad, floating* H,
                         int nthreads, double[::1] work) noexcept nogil:
    """The Hessian kernel on a C-contiguous X, or NaN when `work` is too small."""
    cdef Py_ssize_t m = X.shape[1]
    nthreads = max(nthreads, 1)
    if (work.shape[0] < hessian_work_size(X.shape[0], m, k, loss, intercept, nthreads)
            or work.shape[0] == 0):
        return NAN
    return _dense_hessian(0, _ptr2(X), X.shape[0], m, m, NULL, 0, theta, max(k, 1),
                          intercept, y, w, loss, delta, l2, grad, H, &work[0], nthreads)


cdef inline double linear_loss_grad_hess(
        const floating[:, ::1] X,      # IN  (n, m)
        const floating[::1] theta,     # IN  (m,), or (m + 1,) with the intercept last
        const floating[::1] y,         # IN  (n,)
        const floating[::1] w,         # IN  (n,) sample weights, read when has_w
        bint has_w,
        int loss,                      # LOSS_SQUARED, LOSS_LOGISTIC, LOSS_POISSON, LOSS_HUBER
        double delta,                  # huber's δ (> 0); ignored by the others
        bint fit_intercept,
        double l2,                     # ridge on θ[:m] (0 for none)
        int nthreads,                  # OpenMP threads (1 inside your own parallel loop)
        double[::1] work,              # SCRATCH hessian_work_size(n, m, 0, loss, ...)
        floating[::1] grad,            # OUT theta's shape
        floating[:, ::1] H,            # OUT (theta.size, theta.size), both triangles
        ) noexcept nogil:
    """Returns Σ w ℓ(Xθ + b, y) + l2‖θ[:m]‖²; grad as linear_loss_grad; H its Hessian."""
    return _hess(X, _ptr1(theta), 1, fit_intercept, _ptr1(y), _ptr1(w) if has_w else NULL,
                 loss, delta, l2, &grad[0] if grad.shape[0] else NULL,
                 <floating*>_ptr2(H), nthreads, work)


cdef inline void linear_loss_hessian(
        const floating[:, ::1] X,      # IN  (n, m)
        const floating[::1] theta,     # IN  (m,) or (m + 1,)
        const floating[::1] y,         # IN  (n,)
        const floating[::1] w,         # IN  (n,), read when has_w
        bint has_w,
        int loss, double delta, bint fit_intercept, double l2, int nthreads,
        double[::1] work,              # SCRATCH hessian_work_size(n, m, 0, loss, ...)
        floating[:, ::1] H,            # OUT (theta.size, theta.size)
        ) noexcept nogil:
    """H = X₁ᵀ diag(w ∘ ℓ″) X₁ + 2 l2 on the coefficients' diagonal, one pass over X."""
    _hess(X, _ptr1(theta), 1, fit_intercept, _ptr1(y), _ptr1(w) if has_w else NULL, loss,
          delta, l2, NULL, <floating*>_ptr2(H), nthreads, work)


cdef inline double multinomial_loss_grad_hess(
        const floating[:, ::1] X,      # IN  (n, m)
        const floating[:, ::1] Theta,  # IN  (m, K), or (m + 1, K) with the intercepts last
        const floating[::1] labels,    # IN  (n,) integer labels 0 … K−1 (as floats)
        const floating[::1] w,         # IN  (n,), read when has_w
        bint has_w, bint fit_intercept, double l2, int nthreads,
        double[::1] work,              # SCRATCH hessian_work_size(n, m, K, LOSS_MULTINOMIAL, ...)
        floating[:, ::1] grad,         # OUT Theta's shape
        floating[:, ::1] H,            # OUT (Theta.size, Theta.size): Σ (x xᵀ) ⊗ w(diag p − p pᵀ)
        ) noexcept nogil:
    """Returns the multinomial loss (as multinomial_loss_grad), its gradient and Hessian."""
    return _hess(X, _ptr2(Theta), Theta.shape[1], fit_intercept, _ptr1(labels),
                 _ptr1(w) if has_w else NULL, LOSS_MULTINOMIAL, 0.0, l2,
                 <floating*>_ptr2(grad), <floating*>_ptr2(H), nthreads, work)


# ======================================================================================
# Jacobian chains, one link at a time (J dense (p, m); a Diagonal link stored as d (m,))
# ======================================================================================

cdef inline void tangent_step(const floating[:, ::1] J,   # IN  (p, m)
                              const floating[::1] t,      # IN  (m,)
                              floating[::1] out,          # OUT (p,)
                              ) noexcept nogil:
    """One link of a tangent (forward) chain: out = J t."""
    if out.shape[0] == 0:
        return
    if J.shape[1] == 0:
        _fill1(out, <floating>0)
        return
    # out = J @ t  (at_g_vec computes Mᵀ t; J is the storage of Mᵀ)
    at_g_vec(J, True, t, <floating>0, out)


cdef inline void tangent_step_diag(const floating[::1] d,   # IN  (m,) J = diag(d)
                                   const floating[::1] t,   # IN  (m,)
                                   floating[::1] out,       # OUT (m,)
                                   ) noexcept nogil:
    """out = diag(d) t = d ∘ t."""
    cdef Py_ssize_t i
    for i in range(d.shape[0]):
        out[i] = d[i] * t[i]


cdef inline void grad_step(const floating[:, ::1] J,   # IN  (p, m)
                           const floating[::1] g,      # IN  (p,)
                           floating[::1] out,          # OUT (m,)
                           ) noexcept nogil:
    """One link of a gradient (reverse) chain: out = Jᵀ g."""
    grad_ax_vec(J, g, False, out)


cdef inline void grad_step_diag(const floating[::1] d,   # IN  (m,) J = diag(d)
                                const floating[::1] g,   # IN  (m,)
                                floating[::1] out,       # OUT (m,)
                                ) noexcept nogil:
    """out = diag(d)ᵀ g = d ∘ g."""
    tangent_step_diag(d, g, out)


cdef inline void link_product(const floating[:, ::1] A,   # IN  (p, k) the later link
                              const floating[:, ::1] B,   # IN  (k, m) the earlier link
                              floating[:, ::1] out,       # OUT (p, m)
                              ) noexcept nogil:
    """Product of two dense links of a chain: out = A B."""
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    if A.shape[1] == 0:
        _fill2(out, <floating>0)
        return
    if A.shape[0] <= SMALL and A.shape[1] <= SMALL and B.shape[1] <= SMALL:
        small_gemm(A.shape[0], B.shape[1], A.shape[1], &A[0, 0], A.shape[1], 1,
                   &B[0, 0], B.shape[1], 1, &out[0, 0], out.shape[1])
        return
    # out = A @ B  (at_g computes Mᵀ B; A is the storage of Mᵀ)
    at_g(A, True, B, False, <floating>0, out)


cdef inline void link_product_diag_left(const floating[::1] d,      # IN  (p,) diag(d) later
                                        const floating[:, ::1] B,   # IN  (p, m)
                                        floating[:, ::1] out,       # OUT (p, m)
                                        ) noexcept nogil:
    """out = diag(d) B (row i of B scaled by d_i)."""
    cdef Py_ssize_t i, j
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            out[i, j] = d[i] * B[i, j]


cdef inline void link_product_diag_right(const floating[:, ::1] A,   # IN  (p, m)
                                         const floating[::1] d,      # IN  (m,) diag(d) earlier
                                         floating[:, ::1] out,       # OUT (p, m)
                                         ) noexcept nogil:
    """out = A diag(d) (column j of A scaled by d_j)."""
    cdef Py_ssize_t i, j
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            out[i, j] = A[i, j] * d[j]


# ======================================================================================
# Jacobian chains, whole chains on packed links
#
# A chain x = y0 → y1 → … → yn has links J1 … Jn, Jk = ∂yk/∂yk-1 of shape (dims[k],
# dims[k-1]). They are packed one after the other in `links`, in data-flow order: a
# dense Jk as its dims[k]·dims[k-1] entries in C order, a diagonal Jk (diag[k-1] != 0,
# needs dims[k] == dims[k-1]) as its dims[k] diagonal entries. `work` is scratch of at
# least chain_work_size(dims) entries. Return 0, or -1 (nothing written) when the sizes
# of links, work or out do not fit dims.
# ======================================================================================

cdef inline Py_ssize_t chain_packed_size(const Py_ssize_t[::1] dims,
                                         const unsigned char[::1] diag) noexcept nogil:
    """Entries the packed links take: Σ_k (dims[k] if diagonal else dims[k]·dims[k-1]);
    -1 if a diagonal link is not square or dims/diag do not have n+1/n entries."""
    cdef Py_ssize_t k, n = dims.shape[0] - 1, size = 0
    if n < 1 or diag.shape[0] != n:
        return -1
    for k in range(1, n + 1):
        if dims[k] < 0 or dims[k - 1] < 0:
            return -1
        if diag[k - 1]:
            if dims[k] != dims[k - 1]:
                return -1
            size += dims[k]
        else:
            size += dims[k] * dims[k - 1]
    return size


cdef inline Py_ssize_t chain_work_size(const Py_ssize_t[::1] dims) noexcept nogil:
    """Scratch entries the packed chain functions need: 2 · max_k dims[k] · max(dims[0],
    dims[n]) (enough for jacobian_chain; grad/tangent chains need only 2 · max dims)."""
    cdef Py_ssize_t k, n = dims.shape[0] - 1, big = 1
    for k in range(n + 1):
        if dims[k] > big:
            big = dims[k]
    return 2 * big * max(dims[0], dims[n], 1)


cdef inline void _matvec(bint transposed, bint is_diag, Py_ssize_t rows, Py_ssize_t cols,
                         const floating* J, const floating* v, floating* dst) noexcept nogil:
    """dst = J v (or Jᵀ v when transposed) for J (rows, cols) dense or diag(J): one link of
    mcfast's vector chains (a hand loop up to SMALL_MV_WORK entries, else gemv)."""
    _vector_one(transposed, rows, cols, is_diag, rows * cols <= SMALL_MV_WORK, J, cols, 1,
                v, 1, dst)


cdef inline int _check_chain(const floating[::1] links, const Py_ssize_t[::1] dims,
                             const unsigned char[::1] diag,
                             Py_ssize_t nwork) noexcept nogil:
    """0 when dims/diag are consistent and links and work are large enough, else -1."""
    cdef Py_ssize_t size = chain_packed_size(dims, diag)
    if size < 0 or links.shape[0] < size:
        return -1
    if nwork < chain_work_size(dims):
        return -1
    return 0


cdef inline int grad_chain(const floating[::1] links,       # IN  packed J1 … Jn
                           const Py_ssize_t[::1] dims,      # IN  (n+1,) d0 … dn
                           const unsigned char[::1] diag,   # IN  (n,) 1: Jk is diagonal
                           const floating[::1] grad,        # IN  (dn,)  ∂z/∂yn
                           floating[::1] work,              # SCRATCH chain_work_size(dims)
                           floating[::1] out,               # OUT (d0,)  ∂z/∂x
                           ) noexcept nogil:
    """∂z/∂x = J1ᵀ (J2ᵀ (… (Jnᵀ grad))), right to left, never forming a product of links."""
    cdef Py_ssize_t n = dims.shape[0] - 1, k, i, off, half
    cdef const floating* src
    cdef floating* dst
    if _check_chain(links, dims, diag, work.shape[0]) != 0:
        return -1
    if grad.shape[0] != dims[n] or out.shape[0] != dims[0]:
        return -1
    half = work.shape[0] // 2
    src = &grad[0]
    off = chain_packed_size(dims, diag)
    for k in range(n, 0, -1):
        off -= dims[k] if diag[k - 1] else dims[k] * dims[k - 1]
        dst = &out[0] if k == 1 else &work[0] + (k % 2) * half
        _matvec(True, diag[k - 1], dims[k], dims[k - 1], &links[0] + off, src, dst)
        src = dst
    return 0


cdef inline int tangent_chain(const floating[::1] links,       # IN  packed J1 … Jn
                              const Py_ssize_t[::1] dims,      # IN  (n+1,) d0 … dn
                              const unsigned char[::1] diag,   # IN  (n,) 1: Jk is diagonal
                              const floating[::1] tangent,     # IN  (d0,)
                              floating[::1] work,              # SCRATCH chain_work_size(dims)
                              floating[::1] out,               # OUT (dn,)
                              ) noexcept nogil:
    """Jn (… (J2 (J1 tangent))), left to right (forward mode)."""
    cdef Py_ssize_t n = dims.shape[0] - 1, k, off = 0, half
    cdef const floating* src
    cdef floating* dst
    if _check_chain(links, dims, diag, work.shape[0]) != 0:
        return -1
    if tangent.shape[0] != dims[0] or out.shape[0] != dims[n]:
        return -1
    half = work.shape[0] // 2
    src = &tangent[0]
    for k in range(1, n + 1):
        dst = &out[0] if k == n else &work[0] + (k % 2) * half
        _matvec(False, diag[k - 1], dims[k], dims[k - 1], &links[0] + off, src, dst)
        src = dst
        off += dims[k] if diag[k - 1] else dims[k] * dims[k - 1]
    return 0


cdef inline void _apply_left(bint is_diag, Py_ssize_t p, Py_ssize_t k, Py_ssize_t m,
                             const floating* J, const floating* P, floating* dst) noexcept nogil:
    """dst (p, m) = J (p, k) @ P (k, m), J dense or diag(J) (p == k): one product of
    mcfast's chain executor."""
    _run_step(p, k, m, is_diag, False, J, k, 1, P, m, 1, dst)


cdef inline void _apply_right(bint is_diag, Py_ssize_t p, Py_ssize_t k, Py_ssize_t m,
                              const floating* P, const floating* J, floating* dst) noexcept nogil:
    """dst (p, m) = P (p, k) @ J (k, m), J dense or diag(J) (k == m): one product of
    mcfast's chain executor."""
    _run_step(p, k, m, False, is_diag, P, k, 1, J, m, 1, dst)


cdef inline int jacobian_chain(const floating[::1] links,       # IN  packed J1 … Jn
                               const Py_ssize_t[::1] dims,      # IN  (n+1,) d0 … dn
                               const unsigned char[::1] diag,   # IN  (n,) 1: Jk is diagonal
                               bint reverse,
                               floating[::1] work,              # SCRATCH chain_work_size(dims)
                               floating[:, ::1] out,            # OUT (dn, d0)
                               ) noexcept nogil:
    """∂yn/∂x = Jn ⋯ J2 J1, dense (dn, d0) even when every link is diagonal.

    reverse=False multiplies J1 first: Jn (⋯ (J3 (J2 J1))), cost Σ_k dk·dk-1·d0 (best
    when d0 is the smallest size); reverse=True multiplies Jn first: ((Jn Jn-1) J ⋯) J1,
    cost Σ_k dn·dk·dk-1 (best when dn is the smallest).
    """
    cdef Py_ssize_t n = dims.shape[0] - 1, k, i, j, off, half, rows, cols
    cdef const floating* src
    cdef const floating* J
    cdef floating* dst
    cdef floating* res
    if _check_chain(links, dims, diag, work.shape[0]) != 0:
        return -1
    if out.shape[0] != dims[n] or out.shape[1] != dims[0]:
        return -1
    if dims[n] == 0 or dims[0] == 0:
        return 0
    half = work.shape[0] // 2
    res = &out[0, 0]
    if not reverse:
        # P = J1 (as dense), then P ← Jk P
        J = &links[0]
        dst = res if n == 1 else &work[0] + half
        rows = dims[1]
        cols = dims[0]
        for i in range(rows * cols):
            dst[i] = 0
        if diag[0]:
            for i in range(rows):
                dst[i * cols + i] = J[i]
        else:
            for i in range(rows * cols):
                dst[i] = J[i]
        src = dst
        off = dims[1] if diag[0] else dims[1] * dims[0]
        for k in range(2, n + 1):
            dst = res if k == n else &work[0] + (k % 2) * half
            _apply_left(diag[k - 1], dims[k], dims[k - 1], dims[0], &links[0] + off, src, dst)
            src = dst
            off += dims[k] if diag[k - 1] else dims[k] * dims[k - 1]
    else:
        # P = Jn (as dense), then P ← P Jk
        off = chain_packed_size(dims, diag)
        off -= dims[n] if diag[n - 1] else dims[n] * dims[n - 1]
        J = &links[0] + off
        dst = res if n == 1 else &work[0] + (n % 2) * half
        rows = dims[n]
        cols = dims[n - 1]
        for i in range(rows * cols):
            dst[i] = 0
        if diag[n - 1]:
            for i in range(rows):
                dst[i * cols + i] = J[i]
        else:
            for i in range(rows * cols):
                dst[i] = J[i]
        src = dst
        for k in range(n - 1, 0, -1):
            off -= dims[k] if diag[k - 1] else dims[k] * dims[k - 1]
            dst = res if k == 1 else &work[0] + (k % 2) * half
            _apply_right(diag[k - 1], dims[n], dims[k], dims[k - 1], src, &links[0] + off, dst)
            src = dst
    return 0


cdef inline Py_ssize_t chain_order(const Py_ssize_t[::1] dims,      # IN  (n+1,) d0 … dn
                                   const unsigned char[::1] diag,   # IN  (n,) 1: diagonal
                                   Py_ssize_t[::1] prefix,          # SCRATCH (n+1,)
                                   Py_ssize_t[:, ::1] cost,         # OUT (n, n)
                                   Py_ssize_t[:, ::1] split,        # OUT (n, n)
                                   ) noexcept nogil:
    """The planner of mcfast.jacobian_chain for dense and diagonal links, without the GIL.

    The matrix-chain DP over mcfast's cost model (mcfast._plan): cost[i, j] = min_s
    cost[i, s] + cost[s+1, j] + pair(i, s, j), the fewest multiply-adds of
    J_{j+1} ⋯ J_{i+1} (0-based link indices i ≤ j), pair = p·q·r for two dense factors,
    p·r with a diagonal one, n for two; split[i, j] = s is the best split
    (J_{j+1}⋯J_{s+2})(J_{s+1}⋯J_{i+1}). Costs past PY_SSIZE_T_MAX are held there (use
    mcfast.chain_plan for exact costs of such sizes). The same rule as mcfast.chain_plan
    at every length: up to 64 links the exact DP (O(n³), every entry of the tables);
    longer chains the cheapest of pure forward, pure reverse, a greedy pairing and the DP
    over blocks of 32 links (O(n·32²)), whose cost is cost[0, n-1] and whose bracketing
    split holds along its tree (what chain_steps follows): then every other entry is
    scratch. Returns cost[0, n-1], or -1 when the arguments do not have n+1, n, (n+1),
    (n, n) entries.
    """
    cdef Py_ssize_t n = diag.shape[0]
    if (n < 1 or dims.shape[0] != n + 1 or prefix.shape[0] < n + 1
            or cost.shape[0] != n or cost.shape[1] != n
            or split.shape[0] != n or split.shape[1] != n):
        return -1
    _chain_order(n, &dims[0], &diag[0], &prefix[0], &cost[0, 0], &split[0, 0])
    return cost[0, n - 1]


cdef inline Py_ssize_t chain_steps(const Py_ssize_t[:, ::1] split,   # IN  (n, n) chain_order's
                                   Py_ssize_t[::1] stack,            # SCRATCH (8 n,)
                                   Py_ssize_t[:, ::1] steps,         # OUT (n - 1, 2)
                                   ) noexcept nogil:
    """The bracketing of `split` as steps (left, right) in execution order, the layout of
    ``mcfast.ChainPlan.steps``: ids below n are links, n + t the result of step t, left
    applied after right. Returns n - 1, or -1 when the sizes do not fit."""
    cdef Py_ssize_t n = split.shape[0]
    if n < 1 or split.shape[1] != n or stack.shape[0] < 8 * n or steps.shape[0] != n - 1 \
            or (n > 1 and steps.shape[1] != 2):
        return -1
    if n == 1:
        return 0
    return _chain_steps(n, &split[0, 0], &stack[0], &steps[0, 0])


cdef inline Py_ssize_t chain_steps_work_size(const Py_ssize_t[::1] dims,      # IN  (n+1,)
                                             const unsigned char[::1] diag,   # IN  (n,)
                                             const Py_ssize_t[:, ::1] steps,  # IN  (n-1, 2)
                                             Py_ssize_t[::1] iwork,           # SCRATCH (5 n,)
                                             ) noexcept nogil:
    """Scratch entries jacobian_chain_steps needs for these steps (the scratch layout of
    mcfast.ChainPlan: intermediates' blocks, reused once consumed), or -1 when the steps
    do not fit dims/diag."""
    cdef Py_ssize_t n = diag.shape[0]
    if chain_packed_size(dims, diag) < 0 or iwork.shape[0] < 5 * n:
        return -1
    if steps.shape[0] != n - 1 or (n > 1 and steps.shape[1] != 2):
        return -1
    if n == 1:
        return 0
    return _chain_layout(n, &dims[0], &diag[0], &steps[0, 0], &iwork[0] + n)


cdef inline int jacobian_chain_steps(const floating[::1] links,       # IN  packed J1 … Jn
                                     const Py_ssize_t[::1] dims,      # IN  (n+1,) d0 … dn
                                     const unsigned char[::1] diag,   # IN  (n,) 1: diagonal
                                     const Py_ssize_t[:, ::1] steps,  # IN  (n-1, 2) the plan
                                     Py_ssize_t[::1] iwork,           # SCRATCH (5 n,)
                                     floating[::1] work,              # SCRATCH (see below)
                                     floating[:, ::1] out,            # OUT (dn, d0)
                                     ) noexcept nogil:
    """∂yn/∂x = Jn ⋯ J1 in the planner's order: the (left, right) columns of
    ``mcfast.chain_plan(links).steps``, or of chain_steps(chain_order(...)).

    Dense (dn, d0) even when every link is diagonal. work needs
    chain_steps_work_size(dims, diag, steps, iwork) entries (at least 1). Returns 0, or
    -1 (nothing written) when the sizes or the steps do not fit. The same program, scratch
    layout and executor as ``mcfast.ChainPlan`` (bitwise the same product where it runs
    compiled: every dense product at most 4096 multiply-adds or every one a scaling).
    """
    cdef Py_ssize_t n = diag.shape[0], k, i, j, off, need, dn
    cdef _Program p
    need = chain_packed_size(dims, diag)
    if need < 0 or links.shape[0] < need or iwork.shape[0] < 5 * n:
        return -1
    if out.shape[0] != dims[n] or out.shape[1] != dims[0]:
        return -1
    need = chain_steps_work_size(dims, diag, steps, iwork)
    if need < 0 or work.shape[0] < max(need, 1):
        return -1
    if dims[n] == 0 or dims[0] == 0:
        return 0
    for k in range(1, n):
        if dims[k] == 0:                    # an empty sum
            _fill2(out, <floating>0)
            return 0
    if n == 1:
        _fill2(out, <floating>0)
        for i in range(dims[1]):
            for j in range(dims[0]):
                if diag[0]:
                    if i == j:
                        out[i, j] = links[i]
                else:
                    out[i, j] = links[i * dims[0] + j]
        return 0
    # iwork: the links' addresses (n), then the layout chain_steps_work_size wrote
    off = 0
    for k in range(n):
        iwork[k] = <Py_ssize_t>(&links[0] + off)
        off += dims[k + 1] if diag[k] else dims[k + 1] * dims[k]
    p.nlinks, p.dims, p.diag, p.addr, p.meta = n, &dims[0], &diag[0], &iwork[0], NULL
    p.nb, p.bshape, p.bstr = 0, NULL, NULL
    p.steps, p.layout = &steps[0, 0], &iwork[0] + n
    _chain_sample(0, &p, NULL, &work[0], &out[0, 0])
    if iwork[n + (n - 2) * NLAYOUTCOL + L_FLAGS] & L_DIAG:
        # a product of diagonals: its diagonal came first in out; spread it, zeros off it
        dn = dims[n]
        for i in range(dn - 1, -1, -1):
            out[i, i] = (&out[0, 0])[i]
        for i in range(dn):
            for j in range(dn):
                if i != j:
                    out[i, j] = 0
    return 0
