"""Linear-model losses Σ wᵢ ℓ(xᵢᵀθ + b, yᵢ) + l2‖θ‖², their gradients and Hessian products."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validate as v
from ._typing import ArrayLike, DTypeLike, FloatArray
from . import lstsq as _lstsq
from ._onepass import Problem, native
from . import _hess

__all__ = ["linear_loss_grad", "LinearLoss"]

def linear_loss_grad(X: Any, theta: ArrayLike, y: ArrayLike, *, loss: Any = "squared",
                     sample_weight: ArrayLike | None = None, l2: float = 0.0,
                     fit_intercept: bool = False, rows: ArrayLike | None = None,
                     out: FloatArray | None = None) -> tuple[float, FloatArray]:
    """A linear model's loss and its gradient, computed in one pass over X.

    .. math:: L(\\theta) = \\sum_i w_i\\, \\ell(x_i^\\top \\theta_{:m} + b,\\ y_i)
              + l_2 \\|\\theta_{:m}\\|^2, \\qquad
              \\nabla_{\\theta_{:m}} L = X^\\top (w \\circ \\ell') + 2 l_2 \\theta_{:m},
              \\quad \\partial L / \\partial b = \\textstyle\\sum_i w_i \\ell'_i

    with b = θ[m] when ``fit_intercept`` (else 0). Sums, not means. X is read from memory
    once: per block of rows z = Xθ + b, then ℓ′, then Xᵀ(w ∘ ℓ′) while the block is in
    cache; nothing of length n is stored. C- and F-ordered X, CSR and ``rows=`` are read
    in place.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (n, m)
        Design matrix. Dense in any layout (C or F order read in place), or sparse
        (CSR read in place, other formats converted to CSR). A float32 X is never
        copied: when θ (or y, the weights) makes the working dtype float64, X is read
        in place and widened to float64 block by block.
    theta : array_like, shape (m,) or (m + 1,); (m(+1), k) for squared with Y (n, k);
        (m(+1), K) for multinomial
        Coefficients; with ``fit_intercept`` the last entry (row) is the intercept.
    y : array_like, shape (n,) or (n, k)
        Targets: real for squared and huber, in [0, 1] for logistic, >= 0 for poisson,
        integer labels in 0 … K−1 for multinomial.
    loss : str or mcfast.losses.Loss, optional
        "squared" (default), "logistic", "poisson", "huber" (delta 1.0),
        "multinomial", or an instance such as ``mcfast.losses.Huber(delta=2.0)``.
    sample_weight : array_like, shape (n,), optional
        Weights of the rows (default: all ones).
    l2 : float, optional
        Ridge penalty on the coefficients (not the intercept), >= 0 (default 0).
    fit_intercept : bool, optional
        Whether θ's last entry (row) is an intercept (default False).
    rows : array_like of int, optional
        Row indices (any order, repeats allowed; negative ones count from the end): the
        loss over X[rows], y[rows], w[rows], without copying X.
    out : ndarray, optional
        Where to write the gradient: θ's shape and the working dtype, C-contiguous and
        writeable. It may overlap the inputs.

    Returns
    -------
    loss : float
        The loss (including the ridge term).
    grad : ndarray, θ's shape
        Its gradient in the working dtype (float32 when X, θ, y and the weights all are;
        integer labels of multinomial do not count), which is also the arithmetic's: a
        float32 X with a float64 θ gives float64, equal to the result on a float64 copy
        of X up to float64 rounding; ``out`` itself when given.

    Raises
    ------
    TypeError
        If an input is None, complex (dense or sparse), object, string or longdouble.
    ValueError
        For an unknown loss, y outside the loss's domain or labels that are not integers
        in 0 … K−1, a negative l2, shapes that do not fit, or an unusable ``out``.
    IndexError
        If ``rows`` holds non-integers or indices out of range.

    See Also
    --------
    LinearLoss : the same objective for ``scipy.optimize.minimize``, with ``hessp``.
    lstsq_loss_grad : ``loss="squared"`` without weights, intercept or ridge.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> y = np.array([0.0, 1.0, 1.0])
    >>> loss, grad = mc.linear_loss_grad(X, np.zeros(3), y, loss="logistic",
    ...                                  fit_intercept=True)
    >>> round(loss, 6), grad
    (2.079442, array([-3.5, -4. , -0.5]))
    >>> loss, grad = mc.linear_loss_grad(X, np.zeros(3), y, loss="logistic",
    ...                                  fit_intercept=True, rows=[0, 2])
    >>> grad
    array([-2., -2.,  0.])
    """
    func = "linear_loss_grad"
    d = v.linear_loss_data(X, y, loss, sample_weight, l2, fit_intercept, func, theta=theta,
                           rows=rows)
    rows = d["rows"]
    theta = native(d["theta"])
    prep = Problem.from_data(d)
    if out is None:
        grad = np.empty(theta.shape, d["dtype"])
        return prep.run(theta, None, rows, grad, _lstsq._MAX_THREADS), grad
    v.check_out(out, theta.shape, d["dtype"], func)
    if v.overlaps(out, theta, *(a for a in (prep.y, prep.w, prep.data, rows)
                                if a is not None)):
        grad = np.empty(theta.shape, d["dtype"])
        loss_value = prep.run(theta, None, rows, grad, _lstsq._MAX_THREADS)
        out[...] = grad
        return loss_value, out
    return prep.run(theta, None, rows, out, _lstsq._MAX_THREADS), out


class LinearLoss:
    """A linear model's objective for ``scipy.optimize.minimize``: loss, gradient, hessp.

    .. math:: L(\\theta) = \\sum_i w_i\\, \\ell(x_i^\\top \\theta_{:m} + b,\\ y_i)
              + l_2 \\|\\theta_{:m}\\|^2

    ``obj(theta)`` returns (loss, gradient) in one pass over X, ``obj.hessp(theta, p)``
    the Hessian product Xᵀ(w ∘ ℓ″ ∘ Xp) + 2 l2 p (with the intercept's terms), also in
    one pass (Xθ and Xp are formed together, row block by row block). The data are
    checked and converted once, here: a sparse X becomes CSR once, dense X keeps its
    C or F layout, and a float32 X stays float32 under float64 arithmetic.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (n, m)
        Design matrix.
    y : array_like, shape (n,) or (n, k)
        Targets (see `linear_loss_grad` for each loss's domain).
    loss : str or mcfast.losses.Loss, optional
        "squared" (default), "logistic", "poisson", "huber", "multinomial", or an
        instance of a loss class of `mcfast.losses`.
    sample_weight : array_like, shape (n,), optional
        Weights of the rows.
    l2 : float, optional
        Ridge penalty on the coefficients, >= 0 (default 0).
    fit_intercept : bool, optional
        Whether θ's last entry (row) is an intercept (default False).
    dtype : None, numpy.float32 or numpy.float64, optional
        The arithmetic: θ's, the gradient's and the loss's dtype. None (default): the
        working dtype of X, y and the weights, as `linear_loss_grad` decides it.
        float64 with a float32 X (dense C or F order, or CSR) reads X in place and widens
        it block by block, never copying it (float32 y and weights are read in place
        too): a fit in float64 on float32 storage, so that L-BFGS converges as far as in
        float64, at about the memory traffic of float32. float32 with a float64 X
        converts X (and y, the weights) to float32 once, here.

    Attributes
    ----------
    loss : mcfast.losses.Loss
        The pointwise loss.
    dtype : numpy.dtype
        The arithmetic (θ's and the gradient's dtype).
    n_features : int
        m, the columns of X (θ has m + 1 rows with an intercept).

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> from scipy.optimize import minimize
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3))
    >>> y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 > rng.logistic(size=200)).astype(float)
    >>> obj = mc.LinearLoss(X, y, loss="logistic", l2=1.0, fit_intercept=True)
    >>> res = minimize(obj, np.zeros(4), jac=True, hessp=obj.hessp, method="trust-ncg")
    >>> bool(res.success), res.x.shape
    (True, (4,))
    >>> loss, grad = obj(res.x, rows=[0, 5, 7])      # a minibatch, X not copied
    """

    def __init__(self, X: Any, y: ArrayLike, *, loss: Any = "squared",
                 sample_weight: ArrayLike | None = None, l2: float = 0.0,
                 fit_intercept: bool = False, dtype: DTypeLike = None) -> None:
        d = v.linear_loss_data(X, y, loss, sample_weight, l2, fit_intercept, "LinearLoss",
                               dtype=dtype)
        self._d = d
        self._prep = Problem.from_data(d)
        self.loss = d["loss"]
        self.dtype = d["dtype"]
        self.l2 = d["l2"]
        self.fit_intercept = d["fit_intercept"]
        self.n_features = d["m"]

    def _theta(self, theta, name="theta"):
        return native(v.linear_loss_theta(theta, self._d, name, "LinearLoss", flat_ok=True))

    def __call__(self, theta: ArrayLike,
                 rows: ArrayLike | None = None) -> tuple[float, FloatArray]:
        """Loss and gradient at θ (over X[rows] when given).

        Parameters
        ----------
        theta : array_like
            Coefficients, the shape `linear_loss_grad` takes (or flat, as
            ``scipy.optimize`` passes them).
        rows : array_like of int, optional
            A minibatch of row indices.

        Returns
        -------
        loss : float
        grad : ndarray, θ's shape
            A new array on every call.
        """
        shape = np.shape(theta)
        t = self._theta(theta)
        rows = v.linear_loss_rows(rows, self._d["n"], "LinearLoss")
        grad = np.empty(t.shape, self.dtype)
        return self._prep.run(t, None, rows, grad, _lstsq._MAX_THREADS), grad.reshape(shape)

    def hessp(self, theta: ArrayLike, p: ArrayLike,
              rows: ArrayLike | None = None) -> FloatArray:
        """The Hessian of the loss at θ applied to p, in one pass over X.

        Parameters
        ----------
        theta : array_like
            Point of evaluation.
        p : array_like
            Direction, θ's shape (or flat).
        rows : array_like of int, optional
            A minibatch of row indices.

        Returns
        -------
        ndarray
            Xᵀ(w ∘ ℓ″ ∘ (Xp + p_b)) + 2 l2 p (the intercept's row: Σ w ℓ″ (Xp + p_b)),
            of p's shape.
        """
        shape = np.shape(p)
        t, q = (native(a) for a in v.linear_loss_direction(theta, p, self._d, "LinearLoss"))
        rows = v.linear_loss_rows(rows, self._d["n"], "LinearLoss")
        hp = np.empty(t.shape, self.dtype)
        self._prep.run(t, q, rows, hp, _lstsq._MAX_THREADS)
        return hp.reshape(shape)

    def hessian(self, theta: ArrayLike, rows: ArrayLike | None = None) -> FloatArray:
        """The Hessian of the loss at θ, in one pass over X, no n × m temporary.

        .. math:: H = X_1^\\top \\operatorname{diag}(w \\circ \\ell'') X_1
                  + 2 l_2 \\operatorname{diag}(1, \\ldots, 1, 0)

        with X₁ = [X, 1] when ``fit_intercept`` (the intercept's row and column; it is
        not penalised). Per row block: z = X_b θ, ℓ″, then a rank-k update of an m × m
        accumulator (a compiled "sandwich" kernel per SIMD level, X_bᵀ diag(d) X_b in one
        pass), float32 X widened to float64 in the block.

        Parameters
        ----------
        theta : array_like
            Point of evaluation (θ's shape, or flat).
        rows : array_like of int, optional
            A minibatch of row indices.

        Returns
        -------
        ndarray, shape (s, s)
            The symmetric Hessian of the flattened θ (s = θ.size), full (both
            triangles), in the working dtype. For a 2-D θ (mp, K) (multinomial, or squared
            with k targets) entry ``[j*K + c, j2*K + k]`` is ∂²L/∂Θ[j, c]∂Θ[j2, k], the
            C-order flattening of θ: H = Σ_i (x_i x_iᵀ) ⊗ D_i, with D_i the K × K Hessian
            of ℓ in z_i (multinomial: w_i (diag(p_i) − p_i p_iᵀ), p_i the softmax).
        """
        t = self._theta(theta)
        rows = v.linear_loss_rows(rows, self._d["n"], "LinearLoss")
        return _hess.hessian(self._prep, t, rows, None, _lstsq._MAX_THREADS)[1]

    def grad_hess(self, theta: ArrayLike,
                  rows: ArrayLike | None = None) -> tuple[float, FloatArray, FloatArray]:
        """Loss, gradient and Hessian at θ, in one pass over X.

        Parameters
        ----------
        theta : array_like
            Point of evaluation (θ's shape, or flat).
        rows : array_like of int, optional
            A minibatch of row indices.

        Returns
        -------
        loss : float
        grad : ndarray, θ's shape
        hessian : ndarray, shape (θ.size, θ.size)
            As `hessian` returns it.
        """
        shape = np.shape(theta)
        t = self._theta(theta)
        rows = v.linear_loss_rows(rows, self._d["n"], "LinearLoss")
        grad = np.empty(t.shape, self.dtype)
        value, hess = _hess.hessian(self._prep, t, rows, grad, _lstsq._MAX_THREADS)
        return value, grad.reshape(shape), hess

    def __repr__(self) -> str:
        d = self._d
        kind = "sparse " if d["sparse"] else ""
        return (f"LinearLoss({kind}X: {(d['n'], d['m'])}, loss={self.loss!r}, l2={self.l2}, "
                f"fit_intercept={self.fit_intercept}, dtype={self.dtype})")
