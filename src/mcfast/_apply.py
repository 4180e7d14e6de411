"""Applying any chain link to a block of vectors, forward (J @ X) or adjoint (X @ J).

The links that are not dense arrays or Diagonals (Kronecker, scipy.sparse, matrix-free)
are used only through these functions: by the plans that mix link kinds, and by
grad_chain / tangent_chain. Every product goes through NumPy's own BLAS (np.matmul) or
the link's own methods, so a loop mixing mcfast chains and NumPy uses one BLAS pool.
Dense and Diagonal links may carry batch dimensions; the others are 2-D and act on every
batch entry of the block (the batch is folded into the block's columns or rows).
"""

import math
import sys

import numpy as np

from ._kernels import _chain as _k
from ._kernels._threads import effective_n_threads
from ._plan import LinkInfo

__all__ = ["link_info", "apply_forward", "apply_adjoint", "vector_forward", "vector_adjoint",
           "to_dense", "kron_product"]

_PARALLEL_MIN = 1 << 20     # multiply-adds of a sparse adjoint product from which it threads
_MV_PARALLEL_MIN = 1 << 16  # multiply-adds of one vector through a dense link from which it threads


def link_info(kind, item, shape):
    """The planner's view of a checked link (see mcfast._plan.LinkInfo)."""
    rows, cols = shape[-2], shape[-1]
    if kind == "sparse":
        return LinkInfo(kind, rows, cols, item.nnz)
    if kind == "kron" or kind == "op":
        return item._info               # worked out once, when the link was made
    return LinkInfo(kind, rows, cols)


def _fold_cols(X):
    """(..., q, r) -> (q, B·r) and the function that unfolds a (p, B·r) result."""
    batch, r = X.shape[:-2], X.shape[-1]
    # sizes spelled out: reshape's -1 is undefined when q is 0
    folded = np.moveaxis(X, -2, 0).reshape(X.shape[-2], math.prod(batch) * r)

    def unfold(Y):
        return np.moveaxis(Y.reshape((Y.shape[0],) + batch + (r,)), 0, -2)
    return folded, unfold


def _kron_forward(K, X):
    """(A ⊗ B) X for X (..., qa·qb, r): vec(A X_j Bᵀ) per column, the cheaper order."""
    A, B = K.A, K.B
    (pa, qa), (pb, qb) = A.shape, B.shape
    lead, r = X.shape[:-2], X.shape[-1]
    if r == 1 and math.prod(lead) == 1:
        return _kron_forward_vec(K, X.reshape(-1)).reshape(lead + (pa * pb, 1))
    X3 = X.reshape(lead + (qa, qb, r))
    if K.a_first[0]:
        # T = A @ X over qa, then B over qb
        T = np.matmul(A, X3.reshape(lead + (qa, qb * r))).reshape(lead + (pa, qb, r))
        Y = np.matmul(B, T)
    else:
        T = np.matmul(B, X3).reshape(lead + (qa, pb * r))
        Y = np.matmul(A, T)
    return Y.reshape(lead + (pa * pb, r))


def _kron_adjoint(K, X):
    """X (A ⊗ B) for X (..., m, pa·pb): each row x becomes vec(Aᵀ X_m B), cheaper order."""
    A, B = K.A, K.B
    (pa, qa), (pb, qb) = A.shape, B.shape
    lead = X.shape[:-1]
    if math.prod(lead) == 1:
        return _kron_adjoint_vec(K, X.reshape(-1)).reshape(lead + (qa * qb,))
    X3 = X.reshape(lead + (pa, pb))
    if K.a_first[1]:
        Y = np.matmul(np.matmul(A.T, X3), B)
    else:
        Y = np.matmul(A.T, np.matmul(X3, B))
    return Y.reshape(lead + (qa * qb,))


def _kron_forward_vec(K, x):
    """(A ⊗ B) x = vec(A X Bᵀ) for one vector x (qa·qb,): two 2-D products (2-D matmul
    takes the transposed factor in place), in the cheaper order."""
    A, B = K.A, K.B
    X = x.reshape(A.shape[1], B.shape[1])
    if K.a_first[0]:
        Y = np.matmul(np.matmul(A, X), B.T)
    else:
        Y = np.matmul(A, np.matmul(X, B.T))
    return Y.reshape(-1)


def _kron_adjoint_vec(K, x):
    """xᵀ (A ⊗ B) = vec(Aᵀ X B) for one vector x (pa·pb,), in the cheaper order."""
    A, B = K.A, K.B
    X = x.reshape(A.shape[0], B.shape[0])
    if K.a_first[1]:
        Y = np.matmul(np.matmul(A.T, X), B)
    else:
        Y = np.matmul(A.T, np.matmul(X, B))
    return Y.reshape(-1)


def _operator(a, X, adjoint, dtype, name):
    """The operator link `a` applied to the block X: ``a.op.matmat(X)`` (p, r), or
    ``a.op.rmatmat(X)`` (q, r) when `adjoint`; its result checked and in `dtype`.

    An operator is the user's code: what it returns must be a real array of exactly that
    shape (not None, a scalar, a transposed block or complex values), else TypeError or
    ValueError naming the link (`name`, e.g. "grad_chain: links[2]"), as is an exception
    from SciPy's wrapper about its result (a wrong size) or a missing adjoint.
    """
    method = "rmatmat" if adjoint else "matmat"
    where = f"{name} (operator of shape {a.shape})"
    if adjoint and not a.adjoint:
        raise ValueError(f"{where} has no adjoint (rmatvec or rmatmat), which this "
                         f"product needs")
    want = (a.shape[1] if adjoint else a.shape[0], X.shape[1])
    try:
        Y = getattr(a.op, method)(X)
    except NotImplementedError as exc:
        raise ValueError(f"{where} has no adjoint (rmatvec or rmatmat), which this "
                         f"product needs: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {method} of a block of shape {X.shape} failed: "
                        f"{exc}") from exc
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(Y):
        Y = Y.toarray()
    if Y is None:
        raise TypeError(f"{where}: {method} returned None; expected a real array of "
                        f"shape {want}")
    Y = np.asarray(Y)
    if Y.dtype.kind not in "biuf" or (Y.dtype.kind == "f" and Y.dtype.itemsize > 8):
        raise TypeError(f"{where}: {method} returned an array of dtype {Y.dtype}; "
                        f"expected real values (float32/float64, integer or boolean)")
    if Y.shape != want:
        raise ValueError(f"{where}: {method} of a block of shape {X.shape} returned "
                         f"shape {Y.shape}; expected {want}")
    return Y.astype(dtype, copy=False)


def _dense_vector(a, x, grad):
    """x @ A (grad) or A @ x for one vector: mcfast's compiled product on its own threads
    when both are plain arrays of one float dtype (no BLAS pool to wake or wait for), else
    np.matmul."""
    y = _k.vector_link(a, x, grad, effective_n_threads()
                       if a.shape[-2] * a.shape[-1] >= _MV_PARALLEL_MIN else 1)
    if y is not None:
        return y
    return np.matmul(x, a) if grad else np.matmul(a, x)


def vector_forward(kind, a, x, dtype, name="an operator link"):
    """J @ x for one vector x (q,) of a 2-D link (tangent mode, one sample)."""
    if kind == "dense":
        return _dense_vector(a, x, False)
    if kind == "diag":
        return a * x
    if kind == "kron":
        return _kron_forward_vec(a, x)
    return apply_forward(kind, a, x[:, None], dtype, name)[:, 0]


def vector_adjoint(kind, a, x, dtype, name="an operator link"):
    """x @ J for one vector x (p,) of a 2-D link (adjoint mode, one sample)."""
    if kind == "dense":
        return _dense_vector(a, x, True)
    if kind == "diag":
        return x * a
    if kind == "kron":
        return _kron_adjoint_vec(a, x)
    return apply_adjoint(kind, a, x[None, :], dtype, name)[0]


def apply_forward(kind, a, X, dtype, name="an operator link"):
    """J @ X for a block X (..., q, r) (tangent mode); `name` names an operator link in
    errors about its results."""
    if kind == "dense":
        return np.matmul(a, X)
    if kind == "diag":
        return a[..., :, None] * X
    if kind == "kron":
        return _kron_forward(a, X)
    folded, unfold = _fold_cols(X)
    if kind == "sparse":
        Y = np.asarray(a @ folded, dtype=dtype)
    else:
        Y = _operator(a, folded, False, dtype, name)
    return unfold(Y)


def apply_adjoint(kind, a, X, dtype, name="an operator link"):
    """X @ J for a block X (..., m, p) (adjoint mode); `name` as in `apply_forward`."""
    if kind == "dense":
        return np.matmul(X, a)
    if kind == "diag":
        return X * a[..., None, :]
    if kind == "kron":
        return _kron_adjoint(a, X)
    lead, p = X.shape[:-1], X.shape[-1]
    folded = X.reshape(math.prod(lead), p)      # (not -1: undefined when p is 0)
    if kind == "sparse":
        # rows of X times the CSR matrix in one compiled pass (scipy's X @ S goes through
        # transposed copies, several times slower than S @ X for the same work)
        folded = np.ascontiguousarray(folded, dtype=dtype)
        Y = np.empty((folded.shape[0], a.shape[1]), dtype=dtype)
        work = folded.shape[0] * a.nnz
        index = np.int32 if a.indices.dtype == np.int32 and a.indptr.dtype == np.int32 \
            else np.int64
        _k.dense_csr_product(folded, np.ascontiguousarray(a.indptr, dtype=index),
                             np.ascontiguousarray(a.indices, dtype=index),
                             np.ascontiguousarray(a.data, dtype=dtype), Y,
                             effective_n_threads() if work >= _PARALLEL_MIN else 1)
        return Y.reshape(lead + (a.shape[1],))
    Y = _operator(a, folded.T, True, dtype, name).T
    return Y.reshape(lead + (a.shape[1],))


def to_dense(kind, a, dtype, name="an operator link"):
    """The link (or a formed product) as a dense ndarray; `name` as in `apply_forward`."""
    if kind == "dense":
        return a
    if kind == "diag":
        return a[..., :, None] * np.eye(a.shape[-1], dtype=dtype)
    if kind == "kron":
        return np.kron(a.A, a.B)
    if kind == "sparse":
        return a.toarray()
    rows, cols = a.shape
    if cols <= rows or not a.adjoint:      # forward: cols applications; adjoint: rows
        return _operator(a, np.eye(cols, dtype=dtype), False, dtype, name)
    return np.ascontiguousarray(_operator(a, np.eye(rows, dtype=dtype), True, dtype, name).T)


def kron_product(left, right):
    """(A₂ ⊗ B₂)(A₁ ⊗ B₁) = A₂A₁ ⊗ B₂B₁."""
    return type(left)(np.matmul(left.A, right.A), np.matmul(left.B, right.B))
