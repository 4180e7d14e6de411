"""Pure-NumPy twins of every public mcfast function: same names, signatures and errors.

Written for clarity, not speed: each function is the formula of its rule. The tests hold
the compiled functions equal to these.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence, TypeVar, overload

import numpy as np
from numpy.typing import DTypeLike, NDArray

from . import _plan
from . import _validate as v
from ._typing import ArrayLike, FloatArray
from .gradcheck import check_grad
from .links import Kronecker, MatrixFree

__all__ = [
    "grad_ax", "grad_xa", "trace_chain",
    "lstsq_grad", "lstsq_loss_grad", "LeastSquares", "check_grad",
]


def _finish(result, out, func, accumulate=False):
    """Return `result` as the function's output, honouring `out=` and `accumulate=`."""
    if accumulate and out is None:
        raise ValueError(f"{func}: accumulate=True needs out=")
    if out is None:
        return result
    v.check_out(out, result.shape, result.dtype, func)
    if accumulate:
        out += result
    else:
        out[...] = result
    return out


def grad_ax(A: ArrayLike, G: ArrayLike, *, out: FloatArray | None = None,
            accumulate: bool = False) -> FloatArray:
    """Y = A X + B  =>  ∂z/∂X = Aᵀ G."""
    A, G, _ = v.linear_ax_args(A, G, "grad_ax")
    return _finish(A.T @ G, out, "grad_ax", accumulate)


def grad_xa(G: ArrayLike, A: ArrayLike, *, out: FloatArray | None = None,
            accumulate: bool = False) -> FloatArray:
    """Y = X A + B  =>  ∂z/∂X = G Aᵀ; vector case y = X a + b  =>  outer(g, a)."""
    G, A, _ = v.linear_xa_args(G, A, "grad_xa")
    result = np.outer(G, A) if G.ndim == 1 else G @ A.T
    return _finish(result, out, "grad_xa", accumulate)


def trace_chain(G: ArrayLike, dY_dX: ArrayLike, *, out: FloatArray | None = None) -> FloatArray:
    """∂z/∂X_ij = Σ_kl G_kl ∂Y_kl/∂X_ij (the scalar-over-matrix rule by definition)."""
    G, D, _ = v.trace_chain_args(G, dY_dX, "trace_chain")
    result = np.tensordot(G, D, axes=G.ndim)
    return _finish(np.asarray(result, dtype=G.dtype), out, "trace_chain")


def lstsq_loss_grad(X: ArrayLike, theta: ArrayLike, y: ArrayLike, *,
                    out: FloatArray | None = None) -> tuple[float, FloatArray]:
    """‖Xθ − y‖² and its gradient 2 Xᵀ(Xθ − y)."""
    X, theta, y = v.lstsq_args(X, theta, y, "lstsq_loss_grad")
    r = X @ theta - y
    loss = float(np.sum(r * r))
    return loss, _finish(2 * (X.T @ r), out, "lstsq_loss_grad")


def lstsq_grad(X: ArrayLike, theta: ArrayLike, y: ArrayLike, *,
               out: FloatArray | None = None) -> FloatArray:
    """2 Xᵀ(Xθ − y), the gradient of ‖Xθ − y‖² with respect to θ."""
    X, theta, y = v.lstsq_args(X, theta, y, "lstsq_grad")
    return _finish(2 * (X.T @ (X @ theta - y)), out, "lstsq_grad")


class LeastSquares:
    """The (weighted, ridge) least-squares objective for ``scipy.optimize.minimize``.

    loss(θ) = Σ_i w_i ‖x_iθ − y_i‖² + l2 ‖θ‖²,  grad = 2 Xᵀ W (Xθ − y) + 2 l2 θ,
    hessp(θ, p) = 2 Xᵀ W X p + 2 l2 p.
    """

    def __init__(self, X: ArrayLike, y: ArrayLike, *, sample_weight: ArrayLike | None = None,
                 l2: float = 0.0) -> None:
        self.X, self.y, self.sample_weight, self.l2, self.dtype = v.least_squares_args(
            X, y, sample_weight, l2)

    def _theta(self, theta, name="theta"):
        return v.least_squares_theta(theta, self.X.shape[1], self.y.shape, self.dtype, name)

    def __call__(self, theta: ArrayLike) -> tuple[float, FloatArray]:
        shape = np.shape(theta)
        t = self._theta(theta)
        r = self.X @ t - self.y
        wr = r if self.sample_weight is None else (self.sample_weight * r.T).T
        loss = float(np.sum(wr * r))
        grad = 2 * (self.X.T @ wr)
        if self.l2 != 0:        # the ridge term only when present: 0·inf would be NaN
            loss += float(self.l2 * np.sum(t * t))
            grad = grad + 2 * self.l2 * t
        return loss, grad.astype(self.dtype, copy=False).reshape(shape)

    def hessp(self, theta: ArrayLike, p: ArrayLike) -> FloatArray:
        """2 Xᵀ W X p + 2 l2 p (the Hessian does not depend on θ)."""
        self._theta(theta)
        shape = np.shape(p)
        q = self._theta(p, "p")
        xq = self.X @ q
        wxq = xq if self.sample_weight is None else (self.sample_weight * xq.T).T
        hp = 2 * (self.X.T @ wxq)
        if self.l2 != 0:
            hp = hp + 2 * self.l2 * q
        return hp.astype(self.dtype, copy=False).reshape(shape)


# --- chains ---
# Jacobian chains in data-flow order [J1, ..., Jn]. The plan comes from mcfast._plan, the one
# cost model (pure Python); every link is made dense and the products are np.matmul and
# broadcasting in the plan's order.

Order = Literal["optimal", "forward", "reverse"]

__all__ += ["jacobian_chain", "chain_plan", "ChainPlan", "grad_chain", "tangent_chain",
            "Diagonal", "Kronecker", "MatrixFree"]


_D = TypeVar("_D", bound="Diagonal")


class Diagonal:
    """The Jacobian diag(d) of an elementwise map; d has shape (..., n)."""

    _mcfast_diagonal = True
    __slots__ = ("_d",)

    def __init__(self, d: ArrayLike) -> None:
        d = v.as_real_array(d, "d", type(self).__name__)
        if d.ndim < 1:
            raise ValueError(f"{type(self).__name__}: d must have shape (..., n); got a 0-D "
                             f"array")
        view = d.view()
        view.flags.writeable = False
        self._d = view

    @property
    def diagonal(self) -> NDArray[Any]:
        """The diagonal d, shape (..., n) (a read-only view, no copy)."""
        return self._d

    @property
    def shape(self) -> tuple[int, ...]:
        """The Jacobian's shape (..., n, n)."""
        return self._d.shape + self._d.shape[-1:]

    @property
    def ndim(self) -> int:
        """len(shape): the diagonal's ndim + 1."""
        return self._d.ndim + 1

    @property
    def dtype(self) -> np.dtype[Any]:
        """The diagonal's dtype."""
        return self._d.dtype

    @property
    def T(self: _D) -> _D:
        """The transpose: diag(d) is symmetric, so itself."""
        return self

    def toarray(self) -> NDArray[Any]:
        """The dense (..., n, n) array with d on the diagonal and zeros elsewhere.

        Returns
        -------
        ndarray, shape (..., n, n)
            ``diag(d)`` for each batch entry.

        Examples
        --------
        >>> import numpy as np, mcfast as mc
        >>> mc.Diagonal(np.array([1.0, 2.0])).toarray()
        array([[1., 0.],
               [0., 2.]])
        """
        n = self._d.shape[-1]
        return self._d[..., :, None] * np.eye(n, dtype=self._d.dtype)

    def __array__(self, dtype: DTypeLike = None, copy: bool | None = None) -> NDArray[Any]:
        a = self.toarray()
        return a if dtype is None else a.astype(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._d!r})"

    def __reduce__(self):
        # through __init__, so an unpickled Diagonal's data is read-only like the original's
        # (every pickle protocol, 0 and 1 included)
        return type(self), (np.array(self._d),)


def _dense_link(a, kind, dtype):
    """A checked link as a dense ndarray (a Diagonal's data stays a vector)."""
    if kind == "kron":
        return np.kron(a.A, a.B)
    if kind == "sparse":
        return a.toarray()
    if kind == "op":
        return np.asarray(a.op.matmat(np.eye(a.shape[1], dtype=dtype)), dtype=dtype)
    return a


def _infos(arrays, kinds, dims):
    from ._apply import link_info
    return tuple(link_info(kind, a, (dims[k + 1], dims[k]))
                 for k, (a, kind) in enumerate(zip(arrays, kinds)))


def _multiply(steps, arrays, kinds, dtype):
    """(product, is_diagonal) of the links by the plan's steps: each link made dense (a
    Diagonal kept as its vector), np.matmul and broadcasting."""
    vals = [_dense_link(a, kind, dtype) for a, kind in zip(arrays, kinds)]
    diag = [kind == "diag" for kind in kinds]
    for li, ri, _ in steps:
        left, ldiag, right, rdiag = vals[li], diag[li], vals[ri], diag[ri]
        if ldiag and rdiag:
            val = left * right
        elif ldiag:                    # diag(l) @ R scales the rows of R
            val = left[..., :, None] * right
        elif rdiag:                    # L @ diag(r) scales the columns of L
            val = left * right[..., None, :]
        else:
            val = np.matmul(left, right)
        vals.append(val)
        diag.append(ldiag and rdiag)
    return vals[-1], diag[-1]


def _finish_chain(result, is_diag, batch, dtype, out, func):
    """Broadcast to the batch shape and honour out=: a Diagonal result goes into an out of
    the diagonal's shape (..., n) (returned wrapped in a Diagonal) or of the dense shape."""
    tail = result.shape[-1:] if is_diag else result.shape[-2:]
    result = np.array(np.broadcast_to(result, batch + tail), dtype=dtype)
    if not is_diag:
        return _finish(result, out, func)
    if out is None:
        return Diagonal(result)
    if isinstance(out, np.ndarray) and out.shape == result.shape + tail:
        v.check_out(out, result.shape + tail, dtype, func)
        out[...] = Diagonal(result).toarray()
        return out
    return Diagonal(_finish(result, out, func))


class ChainPlan:
    """The bracketing of a Jacobian chain and its cost (reference twin; the one cost model
    of mcfast._plan)."""

    def __init__(self, links: Sequence[object], *, order: Order = "optimal") -> None:
        order = v.chain_order_arg(order, "chain_plan")
        arrays, self.kinds, self.dims, _, _ = v.chain_links_args(links, "chain_plan",
                                                                 shapes_ok=True)
        self.diagonal = tuple(kind == "diag" for kind in self.kinds)
        self._infos = _infos(arrays, self.kinds, self.dims)
        self.flops, self.steps, self._root = _plan.plan(self._infos, order)
        self.steps = tuple(self.steps)
        self.order = _plan.tree_of(len(self.kinds), self.steps)

    def __str__(self) -> str:
        return _plan.tree_str(len(self.kinds), self.steps)

    def __repr__(self) -> str:
        return f"ChainPlan({self}, flops={self.flops})"

    @overload
    def __call__(  # type: ignore[overload-overlap]
            self, links: Sequence[Diagonal], *, out: None = None) -> Diagonal: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]
            self, links: Sequence[Kronecker], *, out: None = None) -> Kronecker | FloatArray: ...
    @overload
    def __call__(self, links: Sequence[object], *,
                 out: FloatArray | None = None) -> FloatArray: ...

    def __call__(self, links: Sequence[object], *, out: FloatArray | None = None
                 ) -> FloatArray | Diagonal | Kronecker:
        arrays, kinds, dims, batch, dtype = v.chain_links_args(links, "ChainPlan")
        if dims != self.dims or _infos(arrays, kinds, dims) != self._infos:
            raise ValueError(f"ChainPlan: the links do not match the plan: planned dims "
                             f"{self.dims} with link kinds {self.kinds}, got dims {dims} "
                             f"with link kinds {kinds}")
        return _result(self.steps, self._root, arrays, kinds, batch, dtype, out, "ChainPlan")


def _result(steps, root, arrays, kinds, batch, dtype, out, func):
    if root == "sparse":               # every link sparse: scipy's products, CSR
        S = arrays[0].copy()
        for a in arrays[1:]:
            S = a @ S
        S = S.tocsr()
        return S if out is None else _finish(np.asarray(S.toarray(), dtype=dtype), out, func)
    result, is_diag = _multiply(steps, arrays, kinds, dtype)
    if root == "kron":                 # every link a Kronecker, with matching factors
        A, B = np.eye(arrays[0].A.shape[1], dtype=dtype), np.eye(arrays[0].B.shape[1],
                                                                 dtype=dtype)
        for a in arrays:
            A, B = a.A @ A, a.B @ B
        if out is None:
            return Kronecker(A, B)
        return _finish(np.array(result, dtype=dtype), out, func)
    return _finish_chain(result, is_diag, batch, dtype, out, func)


def chain_plan(links: Sequence[object], *, order: Order = "optimal") -> ChainPlan:
    """Plan Jn⋯J1 without multiplying: the bracketing with the fewest multiply-adds."""
    return ChainPlan(links, order=order)


@overload
def jacobian_chain(  # type: ignore[overload-overlap]
        links: Sequence[Diagonal], *, order: Order = ..., out: None = None) -> Diagonal: ...
@overload
def jacobian_chain(  # type: ignore[overload-overlap]
        links: Sequence[Kronecker], *, order: Order = ...,
        out: None = None) -> Kronecker | FloatArray: ...
@overload
def jacobian_chain(links: Sequence[object], *,
                   order: Order = ..., out: FloatArray | None = None) -> FloatArray: ...


def jacobian_chain(links: Sequence[object], *, order: Order = "optimal",
                   out: FloatArray | None = None) -> FloatArray | Diagonal | Kronecker:
    """∂yₙ/∂x = Jn ⋯ J1 in the planned order (a Diagonal when every link is one, a
    Kronecker when every link is one with matching factors)."""
    order = v.chain_order_arg(order, "jacobian_chain")
    arrays, kinds, dims, batch, dtype = v.chain_links_args(links, "jacobian_chain")
    _, steps, root = _plan.plan(_infos(arrays, kinds, dims), order)
    return _result(steps, root, arrays, kinds, batch, dtype, out, "jacobian_chain")


def grad_chain(links: Sequence[object], grad: ArrayLike, *, out: FloatArray | None = None) -> FloatArray:
    """∂z/∂x = J1ᵀ(J2ᵀ(⋯(Jnᵀ g))): vector-Jacobian products right to left."""
    arrays, kinds, dims, batch, g, dtype = v.chain_vector_args(links, grad, "grad",
                                                               "grad_chain")
    for a, kind in zip(reversed(arrays), reversed(kinds)):
        a = _dense_link(a, kind, dtype)
        g = a * g if kind == "diag" else np.matmul(g[..., None, :], a)[..., 0, :]
    return _finish(np.array(np.broadcast_to(g, batch + (dims[0],)), dtype=dtype), out,
                   "grad_chain")


def tangent_chain(links: Sequence[object], tangent: ArrayLike, *,
                  out: FloatArray | None = None) -> FloatArray:
    """Jn(⋯(J1 t)): Jacobian-vector products left to right."""
    arrays, kinds, dims, batch, t, dtype = v.chain_vector_args(links, tangent, "tangent",
                                                               "tangent_chain")
    for a, kind in zip(arrays, kinds):
        a = _dense_link(a, kind, dtype)
        t = a * t if kind == "diag" else np.matmul(a, t[..., :, None])[..., 0]
    return _finish(np.array(np.broadcast_to(t, batch + (dims[-1],)), dtype=dtype), out,
                   "tangent_chain")


# --- linear-model losses ---
# The plain two-pass formulas: z = X θ + b, then Xᵀ(w ∘ ℓ′); X[rows] copied.

__all__ += ["linear_loss_grad", "LinearLoss"]


def _linear_parts(d, theta, rows):
    """(X, y, w, coefficients, intercept) of the data `d`, over X[rows] when given."""
    X, y, w = d["X"], d["y"], d["w"]
    if rows is not None:
        X, y = X[rows], y[rows]
        w = None if w is None else w[rows]
    m = d["m"]
    coef = theta[:m]
    b = theta[m] if d["fit_intercept"] else np.zeros(theta.shape[1:], theta.dtype)
    return X, y, w, coef, b


def _linear_loss_grad(d, theta, rows):
    X, y, w, coef, b = _linear_parts(d, theta, rows)
    loss = d["loss"]
    z = np.asarray(X @ coef, dtype=np.float64) + b
    yy = y.astype(np.float64)
    ww = np.ones(z.shape[0]) if w is None else w.astype(np.float64)
    pointwise = loss.loss(z, yy)
    g = loss.gradient(z, yy)
    wg = (ww * g.T).T
    value = float(np.sum((ww * pointwise.T).T))
    if d["l2"] != 0:
        value += d["l2"] * float(np.sum(coef.astype(np.float64) ** 2))
    gc = np.asarray(X.T @ wg)
    if d["l2"] != 0:
        gc = gc + 2 * d["l2"] * coef
    parts = [gc] + ([np.sum(wg, axis=0)[None] if wg.ndim == 2 else np.sum(wg)[None]]
                    if d["fit_intercept"] else [])
    return value, np.concatenate(parts).astype(d["dtype"]).reshape(theta.shape)


def _linear_hessian(d, theta, rows):
    """The Hessian of θ.ravel(): H[j·K + c, j'·K + k] = Σ_i w_i x_ij D_i[c, k] x_ij'
    with x_i ending in a 1 for the intercept and D_i = ∂²ℓ/∂z_i² (K × K, column k from
    the loss's Hessian product along e_k), + 2 l2 on the coefficients' diagonal."""
    X, y, w, coef, b = _linear_parts(d, theta, rows)
    z = np.asarray(X @ coef, dtype=np.float64) + b
    n = z.shape[0]
    Xa = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    Xa = Xa.astype(np.float64)
    if d["fit_intercept"]:
        Xa = np.hstack([Xa, np.ones((n, 1))])
    ww = np.ones(n) if w is None else w.astype(np.float64)
    yy = y.astype(np.float64)
    if z.ndim == 1:
        D = (ww * d["loss"].hessp(z, yy, np.ones(n)))[:, None, None]
    else:
        eye = np.eye(z.shape[1])
        D = np.stack([ww[:, None] * d["loss"].hessp(z, yy, np.broadcast_to(e, z.shape))
                      for e in eye], axis=2)                     # D[i, c, k]
    mp, K = Xa.shape[1], D.shape[1]
    H = np.einsum("ij,ick,il->jclk", Xa, D, Xa).reshape(mp * K, mp * K)
    H = np.triu(H) + np.triu(H, 1).T                 # exactly symmetric
    H[np.arange(d["m"] * K), np.arange(d["m"] * K)] += 2 * d["l2"]
    return H.astype(d["dtype"])


def linear_loss_grad(X, theta, y, *, loss="squared", sample_weight=None, l2=0.0,
                     fit_intercept=False, rows=None, out=None):
    """Σ wᵢ ℓ(xᵢᵀθ + b, yᵢ) + l2‖θ[:m]‖² and its gradient, by the two-pass formula."""
    func = "linear_loss_grad"
    d = v.linear_loss_data(X, y, loss, sample_weight, l2, fit_intercept, func, theta=theta,
                           rows=rows)
    rows = d["rows"]
    value, grad = _linear_loss_grad(d, d["theta"], rows)
    return value, _finish(grad, out, func)


class LinearLoss:
    """The objective of `linear_loss_grad` for ``scipy.optimize.minimize``, with hessp."""

    def __init__(self, X, y, *, loss="squared", sample_weight=None, l2=0.0,
                 fit_intercept=False):
        self._d = v.linear_loss_data(X, y, loss, sample_weight, l2, fit_intercept,
                                     "LinearLoss")
        self.loss, self.dtype = self._d["loss"], self._d["dtype"]

    def _theta(self, theta, name="theta"):
        return v.linear_loss_theta(theta, self._d, name, "LinearLoss", flat_ok=True)

    def __call__(self, theta, rows=None):
        shape = np.shape(theta)
        t = self._theta(theta)
        rows = v.linear_loss_rows(rows, self._d["n"], "LinearLoss")
        value, grad = _linear_loss_grad(self._d, t, rows)
        return value, grad.reshape(shape)

    def hessian(self, theta, rows=None):
        """Xᵀ diag(w ∘ ℓ″) X + 2 l2 I (the intercept as a column of ones, not penalised);
        multinomial and squared with k targets: the (mp·K) × (mp·K) matrix of θ.ravel()."""
        return _linear_hessian(self._d, self._theta(theta),
                               v.linear_loss_rows(rows, self._d["n"], "LinearLoss"))

    def grad_hess(self, theta, rows=None):
        """(loss, gradient, Hessian) at θ."""
        shape = np.shape(theta)
        t = self._theta(theta)
        rows = v.linear_loss_rows(rows, self._d["n"], "LinearLoss")
        value, grad = _linear_loss_grad(self._d, t, rows)
        return value, grad.reshape(shape), _linear_hessian(self._d, t, rows)

    def hessp(self, theta, p, rows=None):
        """Xᵀ(w ∘ ℓ″ ∘ (Xp + p_b)) + 2 l2 p, with the intercept's row Σ w ℓ″ (Xp + p_b)."""
        d = self._d
        t = self._theta(theta)
        shape = np.shape(p)
        q = self._theta(p, "p")
        rows = v.linear_loss_rows(rows, d["n"], "LinearLoss")
        X, y, w, coef, b = _linear_parts(d, t, rows)
        _, _, _, pc, pb = _linear_parts(d, q, rows)
        z = np.asarray(X @ coef, dtype=np.float64) + b
        xq = np.asarray(X @ pc, dtype=np.float64) + pb
        ww = np.ones(z.shape[0]) if w is None else w.astype(np.float64)
        h = (ww * d["loss"].hessp(z, y.astype(np.float64), xq).T).T
        hc = np.asarray(X.T @ h) + 2 * d["l2"] * pc
        parts = [hc] + ([np.sum(h, axis=0)[None] if h.ndim == 2 else np.sum(h)[None]]
                        if d["fit_intercept"] else [])
        return np.concatenate(parts).astype(self.dtype).reshape(shape)
