"""Links beyond dense arrays and Diagonal: Kronecker factors and matrix-free operators."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _validate as v
from ._plan import FORWARD_ONLY, LinkInfo, kron_orders

__all__ = ["Kronecker", "MatrixFree"]


class _Frozen:
    """A link set up once by its constructor (``_init``): no attribute changes after."""

    def _init(self, **fields: Any) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")


class Kronecker(_Frozen):
    """The Jacobian ``np.kron(A, B)`` of ``X ↦ A X Bᵀ`` on C-order flattened X, never formed.

    ``Y = A X Bᵀ`` with X of shape (qa, qb) and Y of shape (pa, pb) has, with
    ``x = X.ravel()`` and ``y = Y.ravel()``, the Jacobian ∂y/∂x = A ⊗ B of shape
    (pa·pb, qa·qb). As a link of a chain it is applied through its factors: one vector
    costs the cheaper of pa·qa·qb + pa·qb·pb and qa·qb·pb + pa·qa·pb multiply-adds instead
    of pa·pb·qa·qb, and a chain of Kroneckers with matching factors stays one.

    Parameters
    ----------
    A : array_like, shape (pa, qa)
    B : array_like, shape (pb, qb)
        Real 2-D factors (integers and booleans are converted when the chain is computed).

    Attributes
    ----------
    A, B : ndarray
        The factors (read-only views, no copy).
    a_first : tuple of bool
        ``(forward, adjoint)``: whether A is applied first in ``A X Bᵀ`` (``(A X) Bᵀ``) and
        in ``Aᵀ X B`` (``(Aᵀ X) B``), the cheaper order of each, chosen once here.
    shape : tuple
        ``(pa·pb, qa·qb)``.
    ndim, dtype
        2 and the factors' result dtype.

    Raises
    ------
    TypeError
        A factor that is None, complex, object, string or longdouble.
    ValueError
        A factor that is not 2-D.

    Notes
    -----
    The rule of the matrix map ``Y = A X B`` is ``∂z/∂X = Aᵀ G Bᵀ`` with ``G = ∂z/∂Y``; as a
    chain, ``grad_chain([Kronecker(A, B.T)], G.ravel())`` is that gradient flattened.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> A, B = np.arange(4.0).reshape(2, 2), np.eye(2)
    >>> K = mc.Kronecker(A, B)
    >>> K.shape
    (4, 4)
    >>> np.array_equal(K.toarray(), np.kron(A, B))
    True
    >>> X = np.ones((2, 2))
    >>> mc.tangent_chain([K], X.ravel()).reshape(2, 2)      # A X Bᵀ
    array([[1., 1.],
           [5., 5.]])
    """

    _mcfast_kronecker = True
    # immutable, checked once here: a chain reads the shape and the planner's LinkInfo
    # without checking the factors again at every call
    # A, B and a_first are plain slots (read-only through _Frozen): the compiled chain
    # kernels read them as cheaply as a private attribute
    __slots__ = {
        "A": "The left factor A, shape (pa, qa) (read-only).",
        "B": "The right factor B, shape (pb, qb) (read-only).",
        "a_first": "(forward, adjoint): whether A is applied first, ``(A X) Bᵀ`` and "
                   "``(Aᵀ X) B``.",
        "_shape": None, "_info": None}
    A: NDArray[Any]
    B: NDArray[Any]
    a_first: tuple[bool, bool]

    def __init__(self, A: ArrayLike, B: ArrayLike) -> None:
        func = type(self).__name__
        factors = []
        for name, x in (("A", A), ("B", B)):
            a = v.as_real_array(x, name, func)
            if a.ndim != 2:
                raise ValueError(f"{func}: {name} has shape {a.shape}; expected a 2-D factor")
            view = a.view()
            view.flags.writeable = False
            factors.append(view)
        a, b = factors
        (pa, qa), (pb, qb) = a.shape, b.shape
        shape = (pa * pb, qa * qb)
        fshapes = ((pa, qa), (pb, qb))
        ax_first, xb_first = kron_orders(fshapes)
        self._init(A=a, B=b, _shape=shape,
                   _info=LinkInfo("kron", shape[0], shape[1], min(ax_first, xb_first),
                                  fshapes),
                   # which factor goes first: forward (A X) Bᵀ, adjoint (Aᵀ X) B
                   # (see kron_orders)
                   a_first=(ax_first <= xb_first, xb_first <= ax_first))

    @property
    def shape(self) -> tuple[int, int]:
        """(pa·pb, qa·qb)."""
        return self._shape

    @property
    def ndim(self) -> int:
        """2."""
        return 2

    @property
    def dtype(self) -> np.dtype[Any]:
        """The result dtype of the factors."""
        return np.result_type(self.A, self.B)

    @property
    def T(self) -> Kronecker:
        """The transpose Aᵀ ⊗ Bᵀ."""
        return type(self)(self.A.T, self.B.T)

    def toarray(self) -> NDArray[Any]:
        """The dense Jacobian ``np.kron(A, B)``.

        Returns
        -------
        ndarray, shape (pa·pb, qa·qb)
        """
        return np.kron(self.A, self.B)

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        a = self.toarray()
        return a if dtype is None else a.astype(dtype)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (np.array(self.A), np.array(self.B)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(A={self.A!r}, B={self.B!r})"


class MatrixFree(_Frozen):
    """A matrix-free link: a linear map known by its products, with its cost for the planner.

    Wraps a ``scipy.sparse.linalg.LinearOperator`` (or anything ``aslinearoperator``
    accepts): chains apply it to vectors and blocks through ``matvec``/``matmat``
    (forward) and ``rmatvec``/``rmatmat`` (adjoint), never forming it unless the plan
    finds that cheapest.

    Parameters
    ----------
    op : LinearOperator or array_like
        The Jacobian (rows, cols) as an operator. Without adjoint products (a
        LinearOperator made without ``rmatvec``/``rmatmat``) it is applied forward only:
        chains plan around that, and ``grad_chain`` raises ValueError naming the link.
    cost : int, optional
        Multiply-adds of applying ``op`` (or its adjoint) to one vector, for the planner.
        Default rows·cols, the cost of a dense matrix-vector product.

    Attributes
    ----------
    op : LinearOperator
    shape : tuple
    cost : int
    dtype : numpy.dtype
        The operator's dtype (float64 when it declares none).
    adjoint : bool
        Whether ``op`` has adjoint products (``rmatvec``/``rmatmat``).

    Raises
    ------
    TypeError
        An ``op`` that is None or not a linear operator, a complex dtype, or a cost that
        is not an integer.
    ValueError
        A negative cost.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> from scipy.sparse.linalg import LinearOperator
    >>> op = LinearOperator((2, 2), matvec=lambda x: 2 * x, rmatvec=lambda x: 2 * x)
    >>> mc.grad_chain([np.ones((2, 3)), mc.MatrixFree(op, cost=2)], np.array([1.0, 0.0]))
    array([2., 2., 2.])
    """

    _mcfast_matrix_free = True
    # immutable, checked once here (see Kronecker)
    __slots__ = ("_op", "_cost", "_shape", "_dtype", "_info", "_adjoint")

    def __init__(self, op: Any, cost: int | None = None) -> None:
        func = type(self).__name__
        if op is None:
            raise TypeError(f"{func}: argument 'op' is None; expected a LinearOperator")
        from scipy.sparse.linalg import aslinearoperator
        try:
            op = aslinearoperator(op)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{func}: argument 'op' is not a linear operator: {exc}") from None
        dtype = np.dtype(op.dtype) if op.dtype is not None else np.dtype(np.float64)
        if dtype.kind not in "biuf" or (dtype.kind == "f" and dtype.itemsize > 8):
            raise TypeError(f"{func}: argument 'op' has dtype {dtype}; expected a real "
                            f"operator")
        rows, cols = op.shape
        if cost is None:
            cost = rows * cols
        elif isinstance(cost, (bool, np.bool_)) or not isinstance(cost, (int, np.integer)):
            raise TypeError(f"{func}: cost must be an integer (multiply-adds per vector); "
                            f"got {cost!r}")
        elif cost < 0:
            raise ValueError(f"{func}: cost must be >= 0; got {cost}")
        shape = (int(rows), int(cols))
        adjoint = _has_adjoint(op)
        self._init(_op=op, _cost=int(cost), _shape=shape, _dtype=dtype, _adjoint=adjoint,
                   _info=LinkInfo("op", rows, cols, int(cost),
                                  None if adjoint else FORWARD_ONLY))

    @property
    def op(self) -> Any:
        """The wrapped LinearOperator."""
        return self._op

    @property
    def cost(self) -> int:
        """Multiply-adds of one application to one vector."""
        return self._cost

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self._shape

    @property
    def ndim(self) -> int:
        """2."""
        return 2

    @property
    def dtype(self) -> np.dtype[Any]:
        """The operator's dtype (float64 when it declares none)."""
        return self._dtype

    @property
    def adjoint(self) -> bool:
        """Whether the operator has adjoint products (rmatvec/rmatmat)."""
        return self._adjoint

    def toarray(self) -> NDArray[Any]:
        """The dense Jacobian, by applying the operator to an identity (cols products).

        Returns
        -------
        ndarray, shape (rows, cols)
        """
        return np.asarray(self._op.matmat(np.eye(self.shape[1], dtype=self.dtype)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._op, self._cost))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._op!r}, cost={self._cost})"


def _has_adjoint(op: Any) -> bool:
    """False for a LinearOperator known to lack adjoint products: made by
    ``LinearOperator(shape, matvec=...)`` without ``rmatvec``/``rmatmat``, or a subclass
    that defines none of ``_rmatvec``, ``_rmatmat`` and ``_adjoint``. (An operator built
    from such ones, a sum or product, says so only when applied: see mcfast._apply.)"""
    from scipy.sparse.linalg import LinearOperator
    base = LinearOperator
    impl = getattr(op, "_CustomLinearOperator__rmatvec_impl", base)
    if impl is not base:        # scipy's _CustomLinearOperator: its own two adjoint slots
        return not (impl is None
                    and getattr(op, "_CustomLinearOperator__rmatmat_impl", None) is None)
    kind = type(op)
    return not (getattr(kind, "_rmatvec", None) is base._rmatvec
                and getattr(kind, "_rmatmat", None) is base._rmatmat
                and getattr(kind, "_adjoint", None) is base._adjoint)
