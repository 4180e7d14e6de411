"""The linear-map rules: Y = AX + B ⇒ ∂z/∂X = Aᵀ∂z/∂Y; Y = XA + B ⇒ ∂z/∂X = ∂z/∂Y Aᵀ; the trace rule."""

from __future__ import annotations

import numpy as np

from . import _validate as v
from ._typing import ArrayLike, FloatArray
from ._kernels import _linear

__all__ = ["grad_ax", "grad_xa", "trace_chain"]


def _target(out, shape, dtype, accumulate, func, inputs):
    """The array the kernel writes: `out`, a fresh array, or a temporary when `out` overlaps."""
    if out is None:
        if accumulate:
            raise ValueError(f"{func}: accumulate=True needs out=")
        return np.empty(shape, dtype), None
    v.check_out(out, shape, dtype, func)
    if v.overlaps(out, *inputs):
        return (out.copy() if accumulate else np.empty(shape, dtype)), out
    return out, None


def _product(a, b, target, accumulate):
    """target = a @ b (+ target when accumulating), by NumPy's BLAS.

    Products go to NumPy's BLAS, not SciPy's (which the nogil cimport kernels use): a
    user's loop that mixes mcfast's and NumPy's products then has one BLAS thread pool,
    not two pools each spinning while the other works. Transposed (F-ordered) operands
    reach BLAS as transpose flags, without a copy.
    """
    if accumulate:
        target += np.matmul(a, b)      # BLAS has beta = 1, np.matmul does not: a temporary
    else:
        np.matmul(a, b, out=target)


def _deliver(result, pending):
    """Copy a temporary result into the user's `out` (when they overlapped) and return it."""
    if pending is None:
        return result
    pending[...] = result
    return pending


def grad_ax(A: ArrayLike, G: ArrayLike, *, out: FloatArray | None = None,
            accumulate: bool = False) -> FloatArray:
    """Gradient through a left linear map: ``Y = A X + B  =>  ∂z/∂X = Aᵀ G``.

    Parameters
    ----------
    A : array_like, shape (p, m)
        The matrix of the map.
    G : array_like, shape (p,) or (p, n)
        ``∂z/∂Y`` (or ``∂z/∂y`` for ``y = A x + b``).
    out : ndarray, shape (m,) or (m, n), optional
        Where to write the result: exact shape and dtype, C-contiguous, writeable.
    accumulate : bool, optional
        Add the result into ``out`` (which is then required) instead of overwriting it.

    Returns
    -------
    ndarray, shape (m,) or (m, n)
        ``Aᵀ G`` in the working dtype (float32 when every input is float16 or float32, else
        float64); ``out`` itself when given.

    Raises
    ------
    TypeError
        If an argument is None or not real-valued.
    ValueError
        If the shapes do not fit (``A.shape[0] != G.shape[0]``), or ``out`` is unusable.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> A = np.array([[1., 2.], [3., 4.], [5., 6.]])
    >>> mc.grad_ax(A, np.ones(3))
    array([ 9., 12.])
    """
    if not accumulate:
        fast = _linear.grad_ax_fast(A, G, out)
        if fast is not None:
            return fast
    A, G, shape = v.linear_ax_args(A, G, "grad_ax")
    target, pending = _target(out, shape, A.dtype, accumulate, "grad_ax", (A, G))
    if A.size and target.size:
        _product(A.T, G, target, accumulate)       # Aᵀ G
    elif not accumulate:
        target.fill(0)
    return _deliver(target, pending)


def grad_xa(G: ArrayLike, A: ArrayLike, *, out: FloatArray | None = None,
            accumulate: bool = False) -> FloatArray:
    """Gradient through a right linear map: ``Y = X A + B  =>  ∂z/∂X = G Aᵀ``.

    For the vector case ``y = X a + b`` (G of shape (n,), A of shape (m,)) the result
    is the outer product ``g aᵀ``.

    Parameters
    ----------
    G : array_like, shape (n, p) or (n,)
        ``∂z/∂Y`` (or ``∂z/∂y``).
    A : array_like, shape (m, p) or (m,)
        The matrix (or vector) of the map.
    out : ndarray, shape (n, m), optional
        Where to write the result: exact shape and dtype, C-contiguous, writeable.
    accumulate : bool, optional
        Add the result into ``out`` (which is then required) instead of overwriting it.

    Returns
    -------
    ndarray, shape (n, m)
        ``G Aᵀ`` (or ``outer(g, a)``); ``out`` itself when given.

    Raises
    ------
    TypeError
        If an argument is None or not real-valued.
    ValueError
        If the shapes do not fit, G and A mix 1-D and 2-D, or ``out`` is unusable.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> mc.grad_xa(np.array([1., 2.]), np.array([3., 4., 5.]))
    array([[ 3.,  4.,  5.],
           [ 6.,  8., 10.]])
    """
    if not accumulate:
        fast = _linear.grad_xa_fast(G, A, out)
        if fast is not None:
            return fast
    G, A, shape = v.linear_xa_args(G, A, "grad_xa")
    target, pending = _target(out, shape, G.dtype, accumulate, "grad_xa", (G, A))
    if G.ndim == 1:
        if target.size:
            _linear.grad_xa_vector(np.ascontiguousarray(G), np.ascontiguousarray(A),
                                   accumulate, target)
    elif G.size and target.size:
        _product(G, A.T, target, accumulate)       # G Aᵀ
    elif not accumulate:
        target.fill(0)
    return _deliver(target, pending)


def trace_chain(G: ArrayLike, dY_dX: ArrayLike, *, out: FloatArray | None = None) -> FloatArray:
    """The scalar-over-matrix rule by definition: ``∂z/∂X_ij = Σ_kl G_kl ∂Y_kl/∂X_ij``.

    Parameters
    ----------
    G : array_like, shape Y.shape
        ``∂z/∂Y``.
    dY_dX : array_like, shape Y.shape + X.shape
        The derivative of every entry of Y with respect to every entry of X.
    out : ndarray, shape X.shape, optional
        Where to write the result: exact shape and dtype, C-contiguous, writeable.

    Returns
    -------
    ndarray, shape X.shape
        ``∂z/∂X``; ``out`` itself when given.

    Raises
    ------
    TypeError
        If an argument is None or not real-valued.
    ValueError
        If ``dY_dX.shape`` does not start with ``G.shape``, or ``out`` is unusable.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> A = np.array([[1., 2.], [3., 4.]])
    >>> dY_dX = np.einsum("ki,lj->klij", A, np.eye(2))   # Y = A X
    >>> G = np.ones((2, 2))
    >>> np.allclose(mc.trace_chain(G, dY_dX), A.T @ G)
    True
    """
    G, D, shape = v.trace_chain_args(G, dY_dX, "trace_chain")
    target, pending = _target(out, shape, G.dtype, False, "trace_chain", (G, D))
    k, i = G.size, target.size
    flat = target.reshape(-1)
    if k and i:
        # ∂z/∂X (flat) = Dᵀ g with D viewed as (Y.size, X.size), by NumPy's BLAS (gemv)
        if D.flags.f_contiguous and not D.flags.c_contiguous:
            # Fortran order flattens Y and X in reversed index order: work in that order
            gf = G.ravel(order="F")
            tmp = np.empty(i, G.dtype)
            np.matmul(gf, D.reshape((k, i), order="F"), out=tmp)
            target[...] = tmp.reshape(shape, order="F")
        else:
            np.matmul(G.reshape(-1), np.ascontiguousarray(D).reshape(k, i), out=flat)
    else:
        target.fill(0)
    return _deliver(target, pending)
