"""Least-squares rules: ‖Xθ − y‖², its gradient 2Xᵀ(Xθ − y), and an objective for SciPy."""

from __future__ import annotations

import numpy as np

from . import _validate as v
from ._typing import ArrayLike, DTypeLike, FloatArray
from ._kernels import _lstsq as _k
from ._onepass import Problem, native
from .losses import Squared

__all__ = ["lstsq_grad", "lstsq_loss_grad", "LeastSquares"]

_SQUARED = Squared()

# Threads: 0 lets the kernels decide at each call (mcfast._kernels._threads: OpenMP's count,
# so threadpoolctl and OMP_NUM_THREADS hold, capped by the CPU affinity; 1 after fork).
# Tests pin a count here.
_MAX_THREADS = 0


def _plan(n, m, k, itemsize):
    """(rows per block, threads) for an (n, m) X and k targets (k = 0 for a 1-D θ)."""
    return _k.plan(n, m, k, itemsize, _MAX_THREADS)


def _problem(X, y, w, l2, dtype):
    """The engine's view of a (weighted, ridge) least-squares problem in the arithmetic
    `dtype`; X dense in any layout (C and F order read in place) or CSR, float32 X read
    in place under float64 arithmetic."""
    import scipy.sparse
    n, m = X.shape
    return Problem.from_data(dict(X=X, y=y, w=w, l2=l2, fit_intercept=False, loss=_SQUARED,
                        dtype=np.dtype(dtype), n=n, m=m, sparse=scipy.sparse.issparse(X)))


def _public(X, theta, y, out, func):
    """Shared body of lstsq_loss_grad and lstsq_grad: -> (loss, gradient)."""
    X, theta, y = v.lstsq_args(X, theta, y, func)
    theta = native(theta)
    prob = _problem(X, y, None, 0.0, theta.dtype)
    if out is None:
        grad = np.empty(theta.shape, theta.dtype)
        return prob.run(theta, None, None, grad, _MAX_THREADS), grad
    v.check_out(out, theta.shape, theta.dtype, func)
    if v.overlaps(out, theta, prob.y, prob.data):
        grad = np.empty(theta.shape, theta.dtype)
        loss = prob.run(theta, None, None, grad, _MAX_THREADS)
        out[...] = grad
        return loss, out
    return prob.run(theta, None, None, out, _MAX_THREADS), out


def lstsq_loss_grad(X: ArrayLike, theta: ArrayLike, y: ArrayLike, *,
                    out: FloatArray | None = None) -> tuple[float, FloatArray]:
    """Least-squares loss and its gradient, computed in one pass over X.

    .. math:: l = \\|X\\theta - y\\|^2, \\qquad
              \\frac{\\partial l}{\\partial \\theta} = 2 X^\\top (X\\theta - y).

    With a matrix Θ (m, k) and Y (n, k) the loss is the squared Frobenius norm
    ‖XΘ − Y‖²_F and the gradient 2Xᵀ(XΘ − Y), of Θ's shape. X is read from memory once
    (the residuals are formed and used block by block, never stored whole), on several
    threads when it is large.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (n, m)
        Design matrix (C and F order and CSR are read in place).
    theta : array_like, shape (m,) or (m, k)
        Parameters.
    y : array_like, shape (n,) or (n, k)
        Targets: 1-D with a 1-D ``theta``, 2-D (same k) with a 2-D ``theta``.
    out : ndarray, optional
        Where to write the gradient: exactly ``theta``'s shape and the working dtype,
        C-contiguous and writeable. It may overlap the inputs.

    Returns
    -------
    loss : float
        ‖Xθ − y‖² (0.0 when n = 0).
    grad : ndarray, shape of ``theta``
        2Xᵀ(Xθ − y), in the working dtype ``np.result_type(X, theta, y, np.float32)``
        (integers and booleans count as float64). ``out`` itself when given.

    Raises
    ------
    TypeError
        If an input is None, complex, object, string or longdouble.
    ValueError
        If an input has the wrong number of dimensions or the shapes do not fit, or
        ``out`` has the wrong shape or dtype, or is not C-contiguous and writeable.

    See Also
    --------
    lstsq_grad : the gradient alone.
    LeastSquares : the (weighted, ridge) objective for ``scipy.optimize.minimize``.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> theta = np.array([0.5, -1.0])
    >>> y = np.array([1.0, 0.0, 2.0])
    >>> loss, grad = mc.lstsq_loss_grad(X, theta, y)
    >>> loss
    42.75
    >>> grad
    array([-75., -96.])
    """
    fast = _k.loss_grad_fast(X, theta, y, None, 0.0, out, _MAX_THREADS)
    if fast is not None:
        return fast
    return _public(X, theta, y, out, "lstsq_loss_grad")


def lstsq_grad(X: ArrayLike, theta: ArrayLike, y: ArrayLike, *,
               out: FloatArray | None = None) -> FloatArray:
    """Gradient of the least-squares loss ‖Xθ − y‖² with respect to θ.

    .. math:: \\frac{\\partial}{\\partial \\theta} \\|X\\theta - y\\|^2
              = 2 X^\\top (X\\theta - y).

    One pass over X (the residuals are never stored whole); see `lstsq_loss_grad`,
    which returns the loss as well at no extra cost.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (n, m)
        Design matrix (C and F order and CSR are read in place).
    theta : array_like, shape (m,) or (m, k)
        Parameters.
    y : array_like, shape (n,) or (n, k)
        Targets: 1-D with a 1-D ``theta``, 2-D (same k) with a 2-D ``theta``.
    out : ndarray, optional
        Where to write the result: exactly ``theta``'s shape and the working dtype,
        C-contiguous and writeable. It may overlap the inputs.

    Returns
    -------
    ndarray, shape of ``theta``
        2Xᵀ(Xθ − y) in the working dtype ``np.result_type(X, theta, y, np.float32)``
        (integers and booleans count as float64); ``out`` itself when given.

    Raises
    ------
    TypeError
        If an input is None, complex, object, string or longdouble.
    ValueError
        If an input has the wrong number of dimensions or the shapes do not fit, or
        ``out`` has the wrong shape or dtype, or is not C-contiguous and writeable.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> mc.lstsq_grad(X, np.array([0.5, -1.0]), np.array([1.0, 0.0, 2.0]))
    array([-75., -96.])

    Several targets at once (θ and y with k columns):

    >>> mc.lstsq_grad(X, np.zeros((2, 2)), np.ones((3, 2)))
    array([[-18., -18.],
           [-24., -24.]])
    """
    fast = _k.loss_grad_fast(X, theta, y, None, 0.0, out, _MAX_THREADS)
    if fast is not None:
        return fast[1]
    return _public(X, theta, y, out, "lstsq_grad")[1]


class LeastSquares:
    """The (weighted, ridge) least-squares objective, for ``scipy.optimize.minimize``.

    .. math:: L(\\theta) = \\sum_i w_i \\|x_i \\theta - y_i\\|^2 + l_2 \\|\\theta\\|^2,
              \\qquad \\nabla L = 2 X^\\top W (X\\theta - y) + 2 l_2 \\theta,

    and the Hessian-vector product 2XᵀWXp + 2 l2 p. X, y and the weights are
    converted once, here, to the working dtype (a dense X keeps its C or F layout, a
    sparse one becomes CSR), so calls copy nothing of X; each call reads X once.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (n, m)
        Design matrix.
    y : array_like, shape (n,) or (n, k)
        Targets; with k columns θ has shape (m, k) (a flat θ of m·k values is
        accepted too, as ``scipy.optimize`` passes it).
    sample_weight : array_like, shape (n,), optional
        Weights w_i of the rows (default: all ones).
    l2 : float, optional
        Ridge penalty, >= 0 (default 0).
    dtype : None, numpy.float32 or numpy.float64, optional
        The arithmetic: θ's, the gradient's and the loss's dtype. None (default): the
        working dtype of X, y and the weights (float32 when every one is float16 or
        float32, else float64). float64 with a float32 X (dense C or F order, or CSR)
        reads X in place and widens it block by block, never copying it (float32 y and
        weights are read in place too): a fit in float64 on float32 storage, as
        ``scipy.optimize`` wants. float32 with a float64 X converts X to float32 once,
        here.

    Attributes
    ----------
    X, y, sample_weight : ndarray
        The data as the engine reads them (``sample_weight`` is None when not given):
        converted to ``dtype``, except float32 X, y and weights under float64 arithmetic.
    l2 : float
        The ridge penalty.
    dtype : numpy.dtype
        The arithmetic.

    Raises
    ------
    TypeError
        If an input is None (``sample_weight`` excepted), complex, object, string or
        longdouble, or ``l2`` is not a real number.
    ValueError
        If the shapes do not fit or ``l2`` is negative; calls raise ValueError for a θ
        (or p) of the wrong shape.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> from scipy.optimize import minimize
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5])
    >>> obj = mc.LeastSquares(X, y)
    >>> loss, grad = obj(np.zeros(3))
    >>> grad.shape
    (3,)
    >>> res = minimize(obj, np.zeros(3), jac=True, method="L-BFGS-B")
    >>> np.round(res.x, 6)
    array([ 1. , -2. ,  0.5])
    >>> res = minimize(obj, np.zeros(3), jac=True, hessp=obj.hessp, method="trust-ncg")
    >>> np.round(res.x, 6)
    array([ 1. , -2. ,  0.5])
    """

    def __init__(self, X: ArrayLike, y: ArrayLike, *, sample_weight: ArrayLike | None = None,
                 l2: float = 0.0, dtype: DTypeLike = None) -> None:
        X, y, w, l2, dtype = v.least_squares_args(X, y, sample_weight, l2, dtype=dtype)
        self._prob = _problem(X, native(y), native(w), l2, dtype)
        self.X = self._prob.data if self._prob.indices is None else X
        self.y = self._prob.y
        self.sample_weight = self._prob.w
        self.l2 = l2
        self.dtype = dtype

    def _theta(self, theta, name="theta"):
        """θ (or p) as a C-contiguous (m,) or (m, k) array of the working dtype."""
        return native(
            v.least_squares_theta(theta, self.X.shape[1], self.y.shape, self.dtype, name))

    def __call__(self, theta: ArrayLike) -> tuple[float, FloatArray]:
        """Loss and gradient at θ, for ``scipy.optimize.minimize(obj, x0, jac=True)``.

        Parameters
        ----------
        theta : array_like, shape (m,) or (m, k) (or flat (m*k,) for 2-D y)
            Point of evaluation.

        Returns
        -------
        loss : float
            Σ_i w_i ‖x_iθ − y_i‖² + l2 ‖θ‖².
        grad : ndarray, θ's shape
            2 Xᵀ W (Xθ − y) + 2 l2 θ, a new array on every call (a gradient returned
            earlier never changes).

        Raises
        ------
        ValueError
            If θ does not have the shape the data imply.

        Examples
        --------
        >>> import numpy as np, mcfast as mc
        >>> obj = mc.LeastSquares(np.eye(2), np.array([1.0, 2.0]), l2=0.5)
        >>> loss, grad = obj(np.zeros(2))
        >>> loss, grad
        (5.0, array([-2., -4.]))
        """
        if self.X.dtype == self.dtype:    # (a float32 X under float64 arithmetic: staged)
            fast = _k.loss_grad_fast(self.X, theta, self.y, self.sample_weight, self.l2,
                                     None, _MAX_THREADS)  # None unless plain 1-D y and θ
            if fast is not None:
                return fast
        shape = np.shape(theta)
        t = self._theta(theta)
        grad = np.empty(t.shape, self.dtype)
        loss = self._prob.run(t, None, None, grad, _MAX_THREADS)
        return loss, grad.reshape(shape)

    def hessp(self, theta: ArrayLike, p: ArrayLike) -> FloatArray:
        """Hessian-vector product 2XᵀWXp + 2 l2 p (the Hessian does not depend on θ).

        Parameters
        ----------
        theta : array_like
            Point of evaluation (checked, otherwise unused).
        p : array_like
            Direction, θ's shape (or flat).

        Returns
        -------
        ndarray
            The product, of ``p``'s shape and the working dtype.

        Examples
        --------
        >>> import numpy as np, mcfast as mc
        >>> obj = mc.LeastSquares(np.eye(2), np.zeros(2), l2=0.5)
        >>> obj.hessp(np.zeros(2), np.array([1.0, 0.0]))
        array([3., 0.])
        """
        self._theta(theta)
        shape = np.shape(p)
        q = self._theta(p, "p")
        hp = np.empty(q.shape, self.dtype)
        # the engine's Hessian product (2 w ∘ Xp for the squared loss), one pass over X
        self._prob.run(q, q, None, hp, _MAX_THREADS)
        return hp.reshape(shape)

    def __repr__(self) -> str:
        w = "" if self.sample_weight is None else ", weighted"
        return (f"LeastSquares(X: {self.X.shape}, y: {self.y.shape}{w}, l2={self.l2}, "
                f"dtype={self.dtype})")
