"""Scale-out on dask arrays chunked by rows: mcfast's kernels per block, a tree sum across blocks."""

# Design. Every rule here is a sum over rows: ‖Xθ − y‖² = Σ_c ‖X_cθ − y_c‖², Xᵀ(Xθ − y) =
# Σ_c X_cᵀ(X_cθ − y_c), AᵀG = Σ_c A_cᵀG_c over the row chunks c. So each chunk runs the
# in-memory kernel on its rows (one pass over X_c) and writes one row of partial results,
# [loss_c, grad_c...] in float64; dask sums those rows with its tree reduction
# (`Array.sum`, fan-in 4), and the total is split back into loss and gradient, cast to
# the working dtype. Chunks call the public in-memory functions, so they get the same
# kernels (and threads, when a chunk is large) as a NumPy user. Inputs are checked before
# any graph is built, on zero-memory NumPy stand-ins of the dask arrays' shapes and
# dtypes, by the in-memory checks, so the errors are the same and no data is computed to
# raise them.

from __future__ import annotations

import sys
from typing import Any, Literal, overload

import dask
import dask.array as da
import numpy as np

from . import _validate as v
from ._typing import ArrayLike, FloatArray
from . import linear as _linear
from . import linear_loss as _linear_loss
from . import lstsq as _lstsq

__all__ = ["lstsq_loss_grad", "lstsq_grad", "grad_ax", "LeastSquares", "linear_loss_grad",
           "LinearLoss"]


# --- checks: the in-memory ones, on stand-ins of the dask arrays ---

def _stand_in(a, name, func):
    """A zero-memory NumPy array with a dask array's shape and dtype; other inputs as given
    (a scipy.sparse matrix is refused: its chunks would be read as a dense array)."""
    if not isinstance(a, da.Array):
        sparse = sys.modules.get("scipy.sparse")
        if sparse is not None and sparse.issparse(a):
            hint = f" (mcfast.{func} takes a sparse X in memory)" if name == "X" else ""
            raise TypeError(f"mcfast.dask.{func}: {name} is a scipy.sparse {a.format} "
                            f"matrix of shape {a.shape}; mcfast.dask takes dense dask or "
                            f"NumPy arrays{hint}")
        return a
    if any(np.isnan(s) for s in a.shape):
        raise ValueError(f"{func}: {name} has unknown chunk sizes (shape {a.shape}); call "
                         f"{name}.compute_chunk_sizes() first")
    return np.broadcast_to(np.zeros((), a.dtype), a.shape)


def _checked(func, **named):
    """Type-check every argument as the in-memory functions do, without computing any.

    Returns stand-ins already in the working dtype (so the in-memory shape checks, given
    them, convert nothing) and that dtype.
    """
    arrays = {k: v.as_real_array(_stand_in(a, k, func), k, func) for k, a in named.items()}
    dtype = v.working_dtype(*arrays.values())
    return {k: np.broadcast_to(np.zeros((), dtype), a.shape) for k, a in arrays.items()}, dtype


# --- the graph: one row of partial sums per row chunk, then dask's tree sum ---

def _rows(X):
    """X as a dask array chunked by rows only (all columns in each chunk)."""
    if isinstance(X, da.Array):
        return X.rechunk({1: -1})
    return da.from_array(np.asarray(X), chunks={0: "auto", 1: -1}, name=False)


def _aligned(a, row_chunks):
    """y, sample_weight or G (dask or NumPy) chunked like X's rows, whole along the rest."""
    if a is None:
        return None
    chunks = (row_chunks,) + tuple((s,) for s in a.shape[1:])
    if isinstance(a, da.Array):
        return a.rechunk(chunks)
    return da.from_array(np.asarray(a), chunks=chunks, name=False)


def _whole(a, dtype):
    """A small input (θ) as a one-chunk dask array of the working dtype."""
    if isinstance(a, da.Array):
        return a.astype(dtype).rechunk(-1)
    return da.from_array(np.asarray(a, dtype=dtype), chunks=-1)


def _only(block):
    """The one block dask passes for an index that is summed over (a list of one block
    per such index: X's columns, θ's rows; not concatenated, which would copy X)."""
    while isinstance(block, list):
        (block,) = block
    return block


def _block_loss_grad(X, theta, y, w, *, hessp):
    """One row chunk's [loss, grad.ravel()] as a (1, 1 + θ.size) float64 row.

    By the in-memory rules on the chunk's rows: `mcfast.lstsq_loss_grad`, or, with
    weights or for the Hessian product 2XᵀWXθ (``hessp``, loss entry NaN),
    `mcfast.LeastSquares`.
    """
    X, theta, y = _only(X), _only(theta), _only(y)
    if hessp or w is not None:
        obj = _lstsq.LeastSquares(X, y, sample_weight=w)
        loss, grad = (np.nan, obj.hessp(theta, theta)) if hessp else obj(theta)
    else:
        loss, grad = _lstsq.lstsq_loss_grad(X, theta, y)
    row = np.empty((1, 1 + grad.size))
    row[0, 0] = loss
    row[0, 1:] = grad.ravel()
    return row


def _lstsq_total(X, theta, y, w=None, hessp=False):
    """Lazy (1 + θ.size,) float64 sum over X's row chunks of [loss, grad.ravel()]."""
    ti = "j" if theta.ndim == 1 else "jt"
    parts = da.blockwise(
        _block_loss_grad, "ip", X, "ij", theta, ti, y, "i" + ti[1:],
        w, None if w is None else "i", new_axes={"p": 1 + theta.size},
        adjust_chunks={"i": 1}, concatenate=False, dtype=np.float64,
        meta=np.empty((0, 0)), hessp=hessp)
    return parts.sum(axis=0)


def _split(total, shape, dtype):
    """[loss, grad.ravel()] (dask or NumPy) -> (loss, grad of `shape` in `dtype`)."""
    return total[0], total[1:].reshape(shape).astype(dtype)


def _lstsq_public(X, theta, y, compute, func):
    """Shared body of lstsq_loss_grad and lstsq_grad: -> (loss, grad), lazy or computed."""
    stand, dtype = _checked(func, X=X, theta=theta, y=y)
    v.lstsq_args(stand["X"], stand["theta"], stand["y"], func)
    X = _rows(X)
    total = _lstsq_total(X, _whole(theta, dtype), _aligned(y, X.chunks[0]))
    if not compute:
        return _split(total, stand["theta"].shape, dtype)
    loss, grad = _split(total.compute(), stand["theta"].shape, dtype)
    return float(loss), grad


@overload
def lstsq_loss_grad(X: da.Array | ArrayLike, theta: da.Array | ArrayLike, y: da.Array | ArrayLike, *,
                    compute: Literal[True] = True) -> tuple[float, FloatArray]: ...
@overload
def lstsq_loss_grad(X: da.Array | ArrayLike, theta: da.Array | ArrayLike, y: da.Array | ArrayLike, *,
                    compute: Literal[False]) -> tuple[da.Array, da.Array]: ...


def lstsq_loss_grad(X: da.Array | ArrayLike, theta: da.Array | ArrayLike, y: da.Array | ArrayLike, *, compute: bool = True
                    ) -> tuple[float, FloatArray] | tuple[da.Array, da.Array]:
    """Least-squares loss ‖Xθ − y‖² and gradient 2Xᵀ(Xθ − y) of a dask array X.

    Each row chunk of X runs `mcfast.lstsq_loss_grad` (one pass over its rows); the
    chunks' losses and gradients are summed by dask's tree reduction. One graph
    execution gives both.

    Parameters
    ----------
    X : dask.array.Array or array_like, shape (n, m)
        Design matrix, chunked by rows in any way (column chunks are merged so that each
        chunk holds whole rows). A NumPy array is split into row chunks.
    theta : array_like or dask.array.Array, shape (m,) or (m, k)
        Parameters (small: one chunk).
    y : dask.array.Array or array_like, shape (n,) or (n, k)
        Targets, rechunked to X's row chunks (any chunking, or NumPy).
    compute : bool, optional
        True (default): compute, and return a float and a NumPy array. False: return
        lazy dask arrays (a 0-d loss and the gradient) that share one graph, to be
        computed together, e.g. ``dask.compute(loss, grad)``.

    Returns
    -------
    loss : float (0-d float64 dask array when ``compute=False``)
        ‖Xθ − y‖², accumulated in float64.
    grad : ndarray (dask array when ``compute=False``), shape of ``theta``
        2Xᵀ(Xθ − y) in the working dtype ``np.result_type(X, theta, y, np.float32)``
        (integers and booleans count as float64); chunk sums are added in float64.

    Raises
    ------
    TypeError
        If an input is None, complex, object, string or longdouble.
    ValueError
        If the shapes do not fit (the in-memory function's message), or a dask input has
        unknown chunk sizes. Raised before any graph runs.

    See Also
    --------
    mcfast.lstsq_loss_grad : the in-memory function (and its kernel).
    LeastSquares : the objective for ``scipy.optimize.minimize`` on dask arrays.

    Examples
    --------
    >>> import numpy as np, dask.array as da, mcfast.dask as mcd
    >>> X = da.from_array(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), chunks=(2, 2))
    >>> theta, y = np.array([0.5, -1.0]), np.array([1.0, 0.0, 2.0])
    >>> loss, grad = mcd.lstsq_loss_grad(X, theta, y)
    >>> loss, grad
    (42.75, array([-75., -96.]))

    Lazy, to compute with other results in one graph:

    >>> import dask
    >>> loss, grad = dask.compute(*mcd.lstsq_loss_grad(X, theta, y, compute=False))
    >>> float(loss), grad
    (42.75, array([-75., -96.]))
    """
    return _lstsq_public(X, theta, y, compute, "lstsq_loss_grad")


@overload
def lstsq_grad(X: da.Array | ArrayLike, theta: da.Array | ArrayLike, y: da.Array | ArrayLike, *,
               compute: Literal[True] = True) -> FloatArray: ...
@overload
def lstsq_grad(X: da.Array | ArrayLike, theta: da.Array | ArrayLike, y: da.Array | ArrayLike, *, compute: Literal[False]) -> da.Array: ...


def lstsq_grad(X: da.Array | ArrayLike, theta: da.Array | ArrayLike, y: da.Array | ArrayLike, *,
               compute: bool = True) -> FloatArray | da.Array:
    """Gradient 2Xᵀ(Xθ − y) of the least-squares loss, for a dask array X.

    The same graph as `lstsq_loss_grad` (one pass over each row chunk, tree sum),
    returning the gradient alone.

    Parameters
    ----------
    X : dask.array.Array or array_like, shape (n, m)
        Design matrix, chunked by rows in any way.
    theta : array_like or dask.array.Array, shape (m,) or (m, k)
        Parameters.
    y : dask.array.Array or array_like, shape (n,) or (n, k)
        Targets, rechunked to X's row chunks.
    compute : bool, optional
        True (default): return a NumPy array; False: a lazy dask array.

    Returns
    -------
    ndarray (dask array when ``compute=False``), shape of ``theta``
        2Xᵀ(Xθ − y) in the working dtype (float32 when every input is float16 or float32).

    Raises
    ------
    TypeError
        If an input is None, complex, object, string or longdouble.
    ValueError
        If the shapes do not fit, or a dask input has unknown chunk sizes.

    Examples
    --------
    >>> import numpy as np, dask.array as da, mcfast.dask as mcd
    >>> X = da.ones((1000, 3), chunks=(300, 3), dtype=np.float32)
    >>> grad = mcd.lstsq_grad(X, np.zeros(3, np.float32), np.ones(1000, np.float32))
    >>> grad, grad.dtype
    (array([-2000., -2000., -2000.], dtype=float32), dtype('float32'))
    """
    loss, grad = _lstsq_public(X, theta, y, compute, "lstsq_grad")
    return grad


# --- grad_ax: AᵀG = Σ_c A_cᵀ G_c ---

def _block_grad_ax(A, G):
    """One row chunk's A_cᵀ G_c, with a leading axis of length 1, in float64."""
    return _linear.grad_ax(A, G)[np.newaxis].astype(np.float64)


@overload
def grad_ax(A: da.Array | ArrayLike, G: da.Array | ArrayLike, *, compute: Literal[True] = True) -> FloatArray: ...
@overload
def grad_ax(A: da.Array | ArrayLike, G: da.Array | ArrayLike, *, compute: Literal[False]) -> da.Array: ...


def grad_ax(A: da.Array | ArrayLike, G: da.Array | ArrayLike, *, compute: bool = True) -> FloatArray | da.Array:
    """Gradient through a left linear map, ``Y = A X + B  =>  ∂z/∂X = Aᵀ G``, on dask arrays.

    A and G are chunked by rows (the rows of Y, e.g. a batch spread over workers):
    AᵀG = Σ_c A_cᵀ G_c, each term by `mcfast.grad_ax` on one chunk, summed by dask's
    tree reduction.

    Parameters
    ----------
    A : dask.array.Array or array_like, shape (p, m)
        The matrix of the map, chunked by rows in any way.
    G : dask.array.Array or array_like, shape (p,) or (p, n)
        ``∂z/∂Y``, rechunked to A's row chunks.
    compute : bool, optional
        True (default): return a NumPy array; False: a lazy dask array.

    Returns
    -------
    ndarray (dask array when ``compute=False``), shape (m,) or (m, n)
        ``Aᵀ G`` in the working dtype (float32 when every input is float16 or float32, else
        float64); chunk results are added in float64.

    Raises
    ------
    TypeError
        If an argument is None or not real-valued.
    ValueError
        If the shapes do not fit (``A.shape[0] != G.shape[0]``), or a dask input has
        unknown chunk sizes.

    Examples
    --------
    >>> import numpy as np, dask.array as da, mcfast.dask as mcd
    >>> A = da.from_array(np.array([[1., 2.], [3., 4.], [5., 6.]]), chunks=(2, 1))
    >>> mcd.grad_ax(A, np.ones(3))
    array([ 9., 12.])
    """
    stand, dtype = _checked("grad_ax", A=A, G=G)
    shape = v.linear_ax_args(stand["A"], stand["G"], "grad_ax")[2]
    A = _rows(A).astype(dtype)
    G = _aligned(G, A.chunks[0]).astype(dtype)
    gi = "ij"[:G.ndim]
    parts = da.blockwise(_block_grad_ax, "i" + "k" + gi[1:], A, "ik", G, gi,
                         adjust_chunks={"i": 1}, dtype=np.float64,
                         meta=np.empty((0,) * (1 + len(shape))))
    total = parts.sum(axis=0).astype(dtype)
    return total.compute() if compute else total


# --- LeastSquares: data persisted once, one graph execution per call ---

class LeastSquares:
    """The (weighted, ridge) least-squares objective on dask arrays, for ``scipy.optimize``.

    .. math:: L(\\theta) = \\sum_i w_i \\|x_i \\theta - y_i\\|^2 + l_2 \\|\\theta\\|^2,
              \\qquad \\nabla L = 2 X^\\top W (X\\theta - y) + 2 l_2 \\theta,

    as `mcfast.LeastSquares`, with X, y and the weights dask arrays chunked by rows.
    They are converted to the working dtype, aligned to X's row chunks and persisted
    once, here (on the workers when a ``distributed`` client is active); then each call
    is one graph execution: every chunk runs mcfast's kernel on its rows and dask sums
    the results with a tree reduction.

    Parameters
    ----------
    X : dask.array.Array or array_like, shape (n, m)
        Design matrix, chunked by rows in any way.
    y : dask.array.Array or array_like, shape (n,) or (n, k)
        Targets; with k columns θ has shape (m, k) (a flat θ of m·k values is accepted
        too, as ``scipy.optimize`` passes it).
    sample_weight : dask.array.Array or array_like, shape (n,), optional
        Weights w_i of the rows (default: all ones).
    l2 : float, optional
        Ridge penalty, >= 0 (default 0).

    Attributes
    ----------
    X, y, sample_weight : dask.array.Array
        The persisted data (``sample_weight`` is None when not given).
    l2 : float
        The ridge penalty.
    dtype : numpy.dtype
        The working dtype: float32 when every input is float16 or float32, else float64.

    Raises
    ------
    TypeError
        If an input is None (``sample_weight`` excepted), complex, object, string or
        longdouble, or ``l2`` is not a real number.
    ValueError
        If the shapes do not fit or ``l2`` is negative; calls raise ValueError for a θ
        (or p) of the wrong shape. Raised before anything is computed.

    Examples
    --------
    >>> import numpy as np, dask.array as da, mcfast.dask as mcd
    >>> from scipy.optimize import minimize
    >>> X = da.random.default_rng(0).standard_normal((1000, 3), chunks=(250, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5])
    >>> obj = mcd.LeastSquares(X, y)
    >>> res = minimize(obj, np.zeros(3), jac=True, method="L-BFGS-B")
    >>> np.round(res.x, 6)
    array([ 1. , -2. ,  0.5])
    >>> res = minimize(obj, np.zeros(3), jac=True, hessp=obj.hessp, method="trust-ncg")
    >>> np.round(res.x, 6)
    array([ 1. , -2. ,  0.5])
    """

    def __init__(self, X: da.Array | ArrayLike, y: da.Array | ArrayLike, *, sample_weight: da.Array | ArrayLike | None = None,
                 l2: float = 0.0) -> None:
        weights = {} if sample_weight is None else {"sample_weight": sample_weight}
        stand, dtype = _checked("LeastSquares", X=X, y=y, **weights)
        l2 = v.least_squares_args(stand["X"], stand["y"], stand.get("sample_weight"), l2)[3]
        X = _rows(X).astype(dtype)
        y = _aligned(y, X.chunks[0]).astype(dtype)
        w = _aligned(sample_weight, X.chunks[0])
        w = None if w is None else w.astype(dtype)
        self.X, self.y, self.sample_weight = dask.persist(X, y, w)
        self.l2 = l2
        self.dtype = dtype

    def _theta(self, theta, name="theta"):
        """θ (or p) as an (m,) or (m, k) NumPy array of the working dtype."""
        return v.least_squares_theta(theta, self.X.shape[1], self.y.shape, self.dtype, name)

    def _total(self, theta, hessp=False):
        """Computed Σ_chunks [loss, grad.ravel()] at θ (or [NaN, 2XᵀWXθ] for ``hessp``)."""
        return _lstsq_total(self.X, _whole(theta, self.dtype), self.y, self.sample_weight,
                            hessp).compute()

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
            2 Xᵀ W (Xθ − y) + 2 l2 θ, in the working dtype, a new array on every call.

        Raises
        ------
        ValueError
            If θ does not have the shape the data imply.

        Examples
        --------
        >>> import numpy as np, dask.array as da, mcfast.dask as mcd
        >>> obj = mcd.LeastSquares(da.eye(2, chunks=1), np.array([1.0, 2.0]), l2=0.5)
        >>> obj(np.zeros(2))
        (5.0, array([-2., -4.]))
        """
        shape = np.shape(theta)
        t = self._theta(theta)
        loss, grad = _split(self._total(t), t.shape, np.float64)
        if self.l2 != 0:        # the ridge term only when present: 0·inf would be NaN
            loss += self.l2 * float(np.sum(np.square(t, dtype=np.float64)))
            grad += 2 * self.l2 * t
        return float(loss), grad.astype(self.dtype).reshape(shape)

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
        >>> import numpy as np, dask.array as da, mcfast.dask as mcd
        >>> obj = mcd.LeastSquares(da.eye(2, chunks=1), np.zeros(2), l2=0.5)
        >>> obj.hessp(np.zeros(2), np.array([1.0, 0.0]))
        array([3., 0.])
        """
        self._theta(theta)
        shape = np.shape(p)
        q = self._theta(p, "p")
        hp = _split(self._total(q, hessp=True), q.shape, np.float64)[1]
        if self.l2 != 0:
            hp += 2 * self.l2 * q
        return hp.astype(self.dtype).reshape(shape)

    def __repr__(self) -> str:
        w = "" if self.sample_weight is None else ", weighted"
        return (f"mcfast.dask.LeastSquares(X: {self.X.shape} in {self.X.numblocks[0]} "
                f"chunks, y: {self.y.shape}{w}, l2={self.l2}, dtype={self.dtype})")


# --- linear-model losses: the same tree sum of per-chunk one-pass results ---

def _block_linear(X, theta, p, y, w, *, loss, fit_intercept):
    """One row chunk's [loss, grad.ravel()] (or [NaN, hessp.ravel()] with a direction p)
    as a (1, 1 + θ.size) float64 row, by the in-memory one-pass functions (no ridge: the
    caller adds it once)."""
    X, theta, y = _only(X), _only(theta), _only(y)
    p = None if p is None else _only(p)
    if p is None:
        value, grad = _linear_loss.linear_loss_grad(X, theta, y, loss=loss, sample_weight=w,
                                                    fit_intercept=fit_intercept)
    else:
        obj = _linear_loss.LinearLoss(X, y, loss=loss, sample_weight=w,
                                      fit_intercept=fit_intercept)
        value, grad = np.nan, obj.hessp(theta, p)
    row = np.empty((1, 1 + grad.size))
    row[0, 0] = value
    row[0, 1:] = grad.ravel()
    return row


def _linear_total(X, theta, y, w, loss, fit_intercept, p=None):
    """Lazy (1 + θ.size,) float64 Σ over X's row chunks of [loss, grad.ravel()]."""
    ti = "q" if theta.ndim == 1 else "qt"
    yi = "i" if y.ndim == 1 else "iu"
    parts = da.blockwise(
        _block_linear, "ip", X, "ij", theta, ti, p, None if p is None else ti, y, yi,
        w, None if w is None else "i", new_axes={"p": 1 + theta.size},
        adjust_chunks={"i": 1}, concatenate=False, dtype=np.float64,
        meta=np.empty((0, 0)), loss=loss, fit_intercept=fit_intercept)
    return parts.sum(axis=0)


def _ridge(value, grad, t, l2, m):
    """Add l2‖θ[:m]‖² and 2 l2 θ[:m] (only when l2 ≠ 0: 0·inf would be NaN)."""
    if l2 != 0:
        value += l2 * float(np.sum(np.square(t[:m], dtype=np.float64)))
        grad[:m] += 2 * l2 * t[:m]
    return value, grad


def _linear_checked(func, X, y, theta, sample_weight, loss, l2, fit_intercept):
    """The in-memory checks on stand-ins: -> (data dict of the stand-ins, dtype).

    Values are not looked at (y's domain is checked where the data are: per chunk, or
    once in `LinearLoss`)."""
    named = dict(X=X, y=y)
    if sample_weight is not None:
        named["sample_weight"] = sample_weight
    stand = {k: _stand_in(a, k, func) for k, a in named.items()}
    d = v.linear_loss_data(stand["X"], stand["y"], loss, stand.get("sample_weight"), l2,
                           fit_intercept, func,
                           theta=v.NO_THETA if theta is v.NO_THETA
                           else _stand_in(theta, "theta", func))
    return d, d["dtype"]


@overload
def linear_loss_grad(X: da.Array | ArrayLike, theta: ArrayLike, y: da.Array | ArrayLike, *,
                     loss: Any = ..., sample_weight: da.Array | ArrayLike | None = ...,
                     l2: float = ..., fit_intercept: bool = ...,
                     compute: Literal[True] = True) -> tuple[float, FloatArray]: ...
@overload
def linear_loss_grad(X: da.Array | ArrayLike, theta: ArrayLike, y: da.Array | ArrayLike, *,
                     loss: Any = ..., sample_weight: da.Array | ArrayLike | None = ...,
                     l2: float = ..., fit_intercept: bool = ...,
                     compute: Literal[False]) -> tuple[da.Array, da.Array]: ...


def linear_loss_grad(X: da.Array | ArrayLike, theta: ArrayLike, y: da.Array | ArrayLike, *,
                     loss: Any = "squared", sample_weight: da.Array | ArrayLike | None = None,
                     l2: float = 0.0, fit_intercept: bool = False, compute: bool = True
                     ) -> tuple[float, FloatArray] | tuple[da.Array, da.Array]:
    """A linear model's loss and gradient on dask arrays chunked by rows (one pass each).

    The sum Σ wᵢ ℓ(xᵢᵀθ + b, yᵢ) + l2‖θ[:m]‖² of `mcfast.linear_loss_grad`, computed chunk
    by chunk with the in-memory one-pass engine and summed by dask's tree reduction.

    Parameters
    ----------
    X : dask.array.Array or array_like, shape (n, m)
        Design matrix, chunked by rows in any way (dense chunks).
    theta : array_like, shape (m(+1),) or (m(+1), k)
        Coefficients (the intercept last with ``fit_intercept``).
    y : dask.array.Array or array_like, shape (n,) or (n, k)
        Targets, in the loss's domain (checked chunk by chunk when computed).
    loss, sample_weight, l2, fit_intercept
        As in `mcfast.linear_loss_grad`.
    compute : bool, optional
        False returns lazy dask results (loss as a 0-d array).

    Returns
    -------
    loss : float
    grad : ndarray, θ's shape

    Examples
    --------
    >>> import numpy as np, dask.array as da, mcfast.dask as mcd
    >>> X = da.ones((6, 2), chunks=(2, 2))
    >>> y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    >>> loss, grad = mcd.linear_loss_grad(X, np.zeros(3), y, loss="logistic",
    ...                                   fit_intercept=True)
    >>> grad
    array([-1., -1., -1.])
    """
    func = "linear_loss_grad"
    d, dtype = _linear_checked(func, X, y, theta, sample_weight, loss, l2, fit_intercept)
    t = np.asarray(theta, dtype=dtype) if not isinstance(theta, da.Array) else \
        theta.astype(dtype).compute()
    X = _rows(X).astype(dtype)
    yd = _aligned(y, X.chunks[0])
    yd = yd if d["loss"].multiclass else yd.astype(dtype)
    w = _aligned(sample_weight, X.chunks[0])
    w = None if w is None else w.astype(dtype)
    total = _linear_total(X, _whole(t, dtype), yd, w, d["loss"], d["fit_intercept"])
    if not compute:
        value, grad = _split(total, t.shape, dtype)
        if d["l2"] != 0:
            m = d["m"]
            value = value + d["l2"] * da.sum(da.square(da.from_array(t[:m].astype(np.float64))))
            grad = grad + 2 * d["l2"] * np.concatenate(
                [t[:m], np.zeros(t[m:].shape, dtype)]).astype(dtype)
        return value, grad
    value, grad = _split(total.compute(), t.shape, np.float64)
    value, grad = _ridge(float(value), grad, t, d["l2"], d["m"])
    return float(value), grad.astype(dtype)


class LinearLoss:
    """A linear model's objective on dask arrays, for ``scipy.optimize.minimize``.

    As `mcfast.LinearLoss` (loss and gradient, ``hessp``), with X, y and the weights
    dask arrays chunked by rows: converted, aligned to X's row chunks and persisted once,
    here, where y's domain is also checked (one pass over y); each call is then one
    graph execution in which every chunk runs the one-pass engine and dask sums.

    Parameters
    ----------
    X : dask.array.Array or array_like, shape (n, m)
    y : dask.array.Array or array_like, shape (n,) or (n, k)
    loss, sample_weight, l2, fit_intercept
        As in `mcfast.LinearLoss`.

    Examples
    --------
    >>> import numpy as np, dask.array as da, mcfast.dask as mcd
    >>> from scipy.optimize import minimize
    >>> rng = np.random.default_rng(0)
    >>> Xn = rng.standard_normal((400, 3))
    >>> yn = (Xn @ np.array([1.0, -1.0, 0.5]) > rng.logistic(size=400)).astype(float)
    >>> obj = mcd.LinearLoss(da.from_array(Xn, chunks=(100, 3)), yn, loss="logistic",
    ...                      l2=1.0, fit_intercept=True)
    >>> res = minimize(obj, np.zeros(4), jac=True, hessp=obj.hessp, method="trust-ncg")
    >>> bool(res.success)
    True
    """

    def __init__(self, X: da.Array | ArrayLike, y: da.Array | ArrayLike, *, loss: Any = "squared",
                 sample_weight: da.Array | ArrayLike | None = None, l2: float = 0.0,
                 fit_intercept: bool = False) -> None:
        func = "LinearLoss"
        d, dtype = _linear_checked(func, X, y, v.NO_THETA, sample_weight, loss, l2,
                                   fit_intercept)
        X = _rows(X).astype(dtype)
        yd = _aligned(y, X.chunks[0])
        yd = yd if d["loss"].multiclass else yd.astype(dtype)
        w = _aligned(sample_weight, X.chunks[0])
        w = None if w is None else w.astype(dtype)
        self.X, self.y, self.sample_weight = dask.persist(X, yd, w)
        # y's domain, once: min and max (and integrality of labels) in one graph
        lo, hi, frac = dask.compute(self.y.min() if self.y.size else 0,
                                    self.y.max() if self.y.size else 0,
                                    (self.y % 1 != 0).any() if self.y.size else False)
        probe = np.array([lo, hi], dtype=np.float64)
        if d["loss"].multiclass and frac:
            probe = np.array([lo, hi, 0.5])
        d["loss"].check_y(probe, func)
        self._d = d
        self._d["max_label"] = float(hi) if d["loss"].multiclass and self.y.size else -1.0
        self._d["y"] = np.broadcast_to(np.zeros((), dtype), self.y.shape)
        self.loss, self.dtype, self.l2 = d["loss"], dtype, d["l2"]
        self.fit_intercept = d["fit_intercept"]

    def _theta(self, theta, name="theta"):
        return v.linear_loss_theta(theta, self._d, name, "LinearLoss", flat_ok=True)

    def __call__(self, theta: ArrayLike) -> tuple[float, FloatArray]:
        """Loss and gradient at θ (see `mcfast.LinearLoss.__call__`)."""
        shape = np.shape(theta)
        t = self._theta(theta)
        total = _linear_total(self.X, _whole(t, self.dtype), self.y, self.sample_weight,
                              self.loss, self.fit_intercept).compute()
        value, grad = _split(total, t.shape, np.float64)
        value, grad = _ridge(float(value), grad, t, self.l2, self._d["m"])
        return float(value), grad.astype(self.dtype).reshape(shape)

    def hessp(self, theta: ArrayLike, p: ArrayLike) -> FloatArray:
        """The Hessian at θ applied to p (see `mcfast.LinearLoss.hessp`)."""
        shape = np.shape(p)
        t, q = v.linear_loss_direction(theta, p, self._d, "LinearLoss")
        total = _linear_total(self.X, _whole(t, self.dtype), self.y, self.sample_weight,
                              self.loss, self.fit_intercept, p=_whole(q, self.dtype)).compute()
        hp = _split(total, q.shape, np.float64)[1]
        if self.l2 != 0:
            m = self._d["m"]
            hp[:m] += 2 * self.l2 * q[:m]
        return hp.astype(self.dtype).reshape(shape)

    def __repr__(self) -> str:
        return (f"mcfast.dask.LinearLoss(X: {self.X.shape} in {self.X.numblocks[0]} chunks, "
                f"loss={self.loss!r}, l2={self.l2}, fit_intercept={self.fit_intercept}, "
                f"dtype={self.dtype})")
