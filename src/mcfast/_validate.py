"""The one place inputs are checked, converted to the working dtype, and out= is vetted."""

import math
import sys

import numpy as np

from .losses import get_loss
from ._kernels import _engine as _e

__all__ = [
    "as_real_array", "working_dtype", "convert", "check_out", "overlaps",
    "shape_error", "check_ndim", "sparse_structure", "mixed", "stored", "arithmetic_dtype",
]


def as_real_array(x, name, func):
    """`np.asarray(x)`, refusing None and non-real dtypes with a TypeError naming `name`."""
    if x is None:
        raise TypeError(f"{func}: argument {name!r} is None; expected an array")
    try:
        a = np.asarray(x)
    except ValueError as exc:        # ragged nested sequences: NumPy's message names nothing
        raise ValueError(f"{func}: argument {name!r} is not a regular array (nested "
                         f"sequences of unequal lengths?): {exc}") from None
    kind = a.dtype.kind
    if kind not in "biuf" or (kind == "f" and a.dtype.itemsize > 8):
        raise TypeError(
            f"{func}: argument {name!r} has dtype {a.dtype}; expected real floating "
            f"(float32/float64), integer or boolean values")
    return a


def working_dtype(*arrays):
    """The dtype every input is converted to: float32 only when no input needs more.

    `np.result_type(*inputs, np.float32)`, with integers and booleans counted as float64.
    """
    dtypes = [a.dtype if a.dtype.kind == "f" else np.float64 for a in arrays]
    return np.result_type(*dtypes, np.float32).newbyteorder("=")  # native, whatever came in


def convert(a, dtype):
    """`a` as `dtype` (no copy when it already is), any layout kept."""
    return a if a.dtype == dtype else a.astype(dtype)


def check_ndim(a, name, func, ndims):
    """Raise ValueError unless `a.ndim` is one of `ndims`."""
    if a.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{func}: {name} must be {want}; got shape {a.shape}")


def shape_error(func, what, **shapes):
    """A ValueError naming the function, each argument's shape, and what failed."""
    listed = ", ".join(f"{k} has shape {tuple(v)}" for k, v in shapes.items())
    return ValueError(f"{func}: {listed}; {what}")


def check_out(out, shape, dtype, func):
    """Vet a user's `out=`: exact shape and dtype, C-contiguous, writeable; else ValueError."""
    if not isinstance(out, np.ndarray):
        raise ValueError(f"{func}: out must be a numpy.ndarray; got {type(out).__name__}")
    shape = tuple(shape)
    if not out.dtype.isnative:
        raise ValueError(f"{func}: out has dtype {out.dtype.str} (non-native byte order); "
                         f"expected native {np.dtype(dtype)}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(
            f"{func}: out has shape {out.shape} and dtype {out.dtype}; "
            f"expected shape {shape} and dtype {np.dtype(dtype)}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{func}: out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{func}: out must be writeable")
    return out


def overlaps(out, *arrays):
    """True when `out` may share memory with any of `arrays` (then compute into a temporary)."""
    return any(np.may_share_memory(out, a) for a in arrays)


# --- the signature of each rule: names, ndims, shapes; shared by fast path and reference ---

def _arrays(func, **named):
    """Convert each named argument with `as_real_array` and find the working dtype."""
    arrays = {k: as_real_array(v, k, func) for k, v in named.items()}
    dtype = working_dtype(*arrays.values())
    return arrays, dtype


def linear_ax_args(A, G, func="grad_ax"):
    """Check Y = AX + B's gradient inputs: A (p, m), G (p,) or (p, n). -> A, G, result shape."""
    arr, dtype = _arrays(func, A=A, G=G)
    A, G = arr["A"], arr["G"]
    check_ndim(A, "A", func, (2,))
    check_ndim(G, "G", func, (1, 2))
    if A.shape[0] != G.shape[0]:
        raise shape_error(func, "A.shape[0] must equal G.shape[0] (the rows of Y)",
                          A=A.shape, G=G.shape)
    return convert(A, dtype), convert(G, dtype), (A.shape[1],) + G.shape[1:]


def linear_xa_args(G, A, func="grad_xa"):
    """Check Y = XA + B's gradient inputs: G (n, p) with A (m, p), or G (n,) with A (m,)."""
    arr, dtype = _arrays(func, G=G, A=A)
    G, A = arr["G"], arr["A"]
    check_ndim(G, "G", func, (1, 2))
    check_ndim(A, "A", func, (1, 2))
    if G.ndim != A.ndim:
        raise shape_error(func, "G and A must both be 2-D (Y = XA + B) or both 1-D "
                          "(y = Xa + b)", G=G.shape, A=A.shape)
    if G.ndim == 2 and G.shape[1] != A.shape[1]:
        raise shape_error(func, "G.shape[1] must equal A.shape[1] (the columns of Y)",
                          G=G.shape, A=A.shape)
    return convert(G, dtype), convert(A, dtype), (G.shape[0], A.shape[0])


def trace_chain_args(G, dY_dX, func="trace_chain"):
    """Check G (Y.shape) and dY_dX (Y.shape + X.shape). -> G, dY_dX, X.shape."""
    arr, dtype = _arrays(func, G=G, dY_dX=dY_dX)
    G, D = arr["G"], arr["dY_dX"]
    if D.ndim < G.ndim or D.shape[:G.ndim] != G.shape:
        raise shape_error(func, "dY_dX.shape must start with G.shape (= Y.shape)",
                          G=G.shape, dY_dX=D.shape)
    return convert(G, dtype), convert(D, dtype), D.shape[G.ndim:]


def _design(X, func, once=False):
    """X as a real ndarray, or a scipy.sparse matrix checked for real data and structure
    (kept sparse; see `_sparse_X` for `once`).
    -> (X, an array of X's dtype for `working_dtype`)."""
    import scipy.sparse
    if scipy.sparse.issparse(X):
        _sparse_X(X, func, once)
        return X, np.empty(0, X.dtype)
    X = as_real_array(X, "X", func)
    return X, X


def _convert_design(X, dtype):
    """`convert` for a dense or sparse X (sparse becomes CSR); a float32 X under float64
    arithmetic is kept (`mixed`)."""
    import scipy.sparse
    if scipy.sparse.issparse(X):
        X = X.tocsr() if X.format != "csr" else X
        return X if X.dtype == dtype or mixed(X, dtype) else X.astype(dtype)
    return X if mixed(X, dtype) else convert(X, dtype)


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def mixed(X, dtype):
    """True when X (dense or sparse) is stored in native float32 and the arithmetic
    `dtype` is float64: the one-pass engine then reads X in place and widens it block by
    block, never copying it."""
    return X.dtype == _F32 and np.dtype(dtype) == _F64


def stored(a, dtype, keep32):
    """`a` (y or the weights) as the one-pass engine reads it: a native float32 array is
    kept when `keep32` (X itself is kept float32 under float64 arithmetic: the engine
    widens a block's y and w beside X's); anything else is converted to `dtype`."""
    if a is None or (keep32 and a.dtype == _F32):
        return a
    return convert(a, dtype)


def arithmetic_dtype(dtype, func):
    """The `dtype=` of LinearLoss and LeastSquares: None (the working dtype of the
    inputs), float32 or float64, as a numpy.dtype (or None); else TypeError."""
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (_F32, _F64):
        raise TypeError(f"{func}: dtype must be None, numpy.float32 or numpy.float64; "
                        f"got {dtype!r}")
    return dt


def lstsq_args(X, theta, y, func="lstsq_grad"):
    """Check X (n, m) with theta (m,) and y (n,), or theta (m, k) and y (n, k).

    X may be scipy.sparse (returned as CSR)."""
    X, Xd = _design(X, func)
    arr = {k: as_real_array(a, k, func) for k, a in (("theta", theta), ("y", y))}
    dtype = working_dtype(Xd, *arr.values())
    theta, y = arr["theta"], arr["y"]
    check_ndim(X, "X", func, (2,))
    check_ndim(theta, "theta", func, (1, 2))
    check_ndim(y, "y", func, (1, 2))
    shapes = dict(X=X.shape, theta=theta.shape, y=y.shape)
    if theta.shape[0] != X.shape[1]:
        raise shape_error(func, "theta.shape[0] must equal X.shape[1]", **shapes)
    if y.shape[0] != X.shape[0]:
        raise shape_error(func, "y.shape[0] must equal X.shape[0]", **shapes)
    if theta.shape[1:] != y.shape[1:]:
        raise shape_error(func, "theta and y must both be 1-D, or both 2-D with the same "
                          "number of columns", **shapes)
    X = _convert_design(X, dtype)
    return X, convert(theta, dtype), stored(y, dtype, mixed(X, dtype))


def least_squares_args(X, y, sample_weight, l2, func="LeastSquares", dtype=None):
    """Check LeastSquares' data: X (n, m), y (n,) or (n, k), sample_weight (n,), l2 >= 0;
    `dtype`: the arithmetic (None: the working dtype of the inputs)."""
    X, Xd = _design(X, func, once=True)
    named = dict(y=y)
    if sample_weight is not None:
        named["sample_weight"] = sample_weight
    arr, _ = _arrays(func, **named)
    dtype = arithmetic_dtype(dtype, func) or working_dtype(Xd, *arr.values())
    y = arr["y"]
    check_ndim(X, "X", func, (2,))
    check_ndim(y, "y", func, (1, 2))
    if y.shape[0] != X.shape[0]:
        raise shape_error(func, "y.shape[0] must equal X.shape[0]", X=X.shape, y=y.shape)
    keep32 = mixed(X, dtype)
    w, l2 = _weights_and_l2(arr.get("sample_weight"), X.shape, l2, dtype, func, keep32)
    return _convert_design(X, dtype), stored(y, dtype, keep32), w, l2, dtype


def _weights_and_l2(w, X_shape, l2, dtype, func, keep32=False):
    """Check the sample weights (None or (n,), converted to `dtype`; float32 kept when
    `keep32`, see `stored`) and the ridge l2 (a real number >= 0) of an objective over
    X's rows. -> (w, float l2)."""
    if w is not None:
        check_ndim(w, "sample_weight", func, (1,))
        if w.shape[0] != X_shape[0]:
            raise shape_error(func, "sample_weight.shape[0] must equal X.shape[0]",
                              X=X_shape, sample_weight=w.shape)
        w = stored(w, dtype, keep32)
    # a real number: not a string ("1") nor a bool (True), which float() would take
    # (a Python float or int, the usual l2, passes on its type alone: this runs per call)
    if type(l2) not in (float, int) and (
            isinstance(l2, (str, bytes, bool, np.bool_)) or not np.isrealobj(l2)
            or np.ndim(l2) != 0):
        raise TypeError(f"{func}: l2 must be a real number; got {l2!r}")
    try:
        l2 = float(l2)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: l2 must be a real number; got {l2!r}") from None
    if not l2 >= 0:
        raise ValueError(f"{func}: l2 must be >= 0; got {l2}")
    return w, l2


def least_squares_theta(theta, m, y_shape, dtype, name="theta", func="LeastSquares"):
    """θ as an (m,) or (m, k) array of `dtype`; a flat (m*k,) θ is accepted for 2-D y."""
    theta = as_real_array(theta, name, func)
    want = (m,) + tuple(y_shape[1:])
    if theta.shape != want and not (len(want) == 2 and theta.shape == (want[0] * want[1],)):
        raise ValueError(f"{func}: {name} has shape {theta.shape}; expected {want}"
                         + (f" or ({want[0] * want[1]},)" if len(want) == 2 else ""))
    return convert(theta, dtype).reshape(want)


# --- chains: jacobian_chain, chain_plan / ChainPlan, grad_chain, tangent_chain ---
# Shared by mcfast.chain and mcfast.reference. A link is an array (..., d_k, d_{k-1}) or a
# Diagonal (data (..., n), the Jacobian diag(d) of shape (..., n, n)); for chain_plan also a
# shape tuple (..., d_k, d_{k-1}), which always denotes a dense link.

CHAIN_ORDERS = ("optimal", "forward", "reverse")
_INTP_MAX = int(np.iinfo(np.intp).max)

__all__ += ["is_diagonal", "chain_order_arg", "chain_links_args", "chain_vector_args"]


def is_diagonal(x):
    """True for an mcfast Diagonal (the compiled module's or the reference twin)."""
    return getattr(type(x), "_mcfast_diagonal", False)


def chain_order_arg(order, func):
    """`order` itself when it names a known accumulation order, else ValueError."""
    if not isinstance(order, str) or order not in CHAIN_ORDERS:
        raise ValueError(f"{func}: order must be one of 'optimal', 'forward', 'reverse'; "
                         f"got {order!r}")
    return order


_KIND_OF_TYPE = {np.ndarray: "dense"}     # a link's kind depends on its type alone


def link_kind(x):
    """"diag", "kron", "sparse", "op" or "dense" (anything else) for a chain link.

    scipy.sparse and scipy.sparse.linalg are looked up only once they are imported: an
    object cannot be a sparse matrix or a LinearOperator before. The answer is kept per
    type (every test below is one of the type), so a chain's links are told apart by one
    dictionary look-up each.
    """
    kind = _KIND_OF_TYPE.get(type(x))
    if kind is not None:
        return kind
    if is_diagonal(x):
        kind = "diag"
    elif getattr(type(x), "_mcfast_kronecker", False):
        kind = "kron"
    elif getattr(type(x), "_mcfast_matrix_free", False):
        kind = "op"
    else:
        kind = "dense"
        sparse = sys.modules.get("scipy.sparse")
        linalg = sys.modules.get("scipy.sparse.linalg")
        if sparse is not None and sparse.issparse(x):
            kind = "sparse"
        elif linalg is not None and isinstance(x, linalg.LinearOperator):
            kind = "op"
        elif sparse is None or linalg is None:
            return kind     # not kept: the type may turn out sparse once scipy is imported
    if len(_KIND_OF_TYPE) < 512:
        _KIND_OF_TYPE[type(x)] = kind
    return kind


def _shape_tuple(link, name, func):
    """A shape tuple of a chain_plan link: integers only (Python or NumPy, not bool)."""
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_))
               for s in link):
        raise TypeError(f"{func}: {name} is a tuple but not a shape of integers: {link!r}")
    shape = tuple(int(s) for s in link)
    if len(shape) < 2 or min(shape) < 0:
        raise ValueError(f"{func}: {name} is the shape {shape}; a link's shape must "
                         f"be (..., d_k, d_k-1) with non-negative sizes")
    return shape


def _real_dtype(dtype, name, func):
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf" or (dtype.kind == "f" and dtype.itemsize > 8):
        raise TypeError(f"{func}: argument {name!r} has dtype {dtype}; expected real "
                        f"floating (float32/float64), integer or boolean values")
    return dtype


def _chain_links(links, func, shapes_ok):
    """Unconverted links -> (items, kinds, Jacobian shapes).

    items[k] is an ndarray for a dense link, the data for a Diagonal, the object itself
    for a Kronecker, sparse matrix or matrix-free operator (a MatrixFree wrapping a
    LinearOperator), None for a shape tuple; kinds[k] is "dense", "diag", "kron",
    "sparse" or "op". Kronecker and MatrixFree links were checked when made (they are
    immutable): their shapes are read, not worked out again.
    """
    if links is None:
        raise TypeError(f"{func}: argument 'links' is None; expected a list of links")
    if isinstance(links, np.ndarray) or is_diagonal(links) or not hasattr(links, "__iter__"):
        raise TypeError(f"{func}: links must be a list or tuple of links (arrays or "
                        f"Diagonals), in data-flow order; got {type(links).__name__}")
    if type(links) is not list and type(links) is not tuple:
        links = list(links)
    if not links:
        raise ValueError(f"{func}: the chain is empty; expected at least one link")
    items, kinds, shapes = [], [], []
    for k, link in enumerate(links):
        kind = link_kind(link)
        if kind == "dense" and type(link) is np.ndarray:
            a = link
            if a.dtype.kind not in "biuf" or a.dtype.itemsize > 8 and a.dtype.kind == "f":
                as_real_array(a, f"links[{k}]", func)           # raises, naming the link
        elif kind == "kron":            # checked when made (immutable)
            items.append(link), shapes.append(link._shape), kinds.append(kind)
            continue
        elif kind == "op":
            if not getattr(link, "_mcfast_matrix_free", False):
                _real_dtype(link.dtype if link.dtype is not None else np.float64,
                            f"links[{k}]", func)
                from .links import MatrixFree
                link = MatrixFree(link)
            items.append(link), shapes.append(link._shape), kinds.append(kind)
            continue
        elif kind == "diag":
            a = as_real_array(link.diagonal, f"links[{k}]", func)
            if a.ndim < 1:
                raise ValueError(f"{func}: links[{k}] is a Diagonal of a 0-D array; "
                                 f"expected a diagonal of shape (..., n)")
            items.append(a), shapes.append(a.shape + a.shape[-1:]), kinds.append(kind)
            continue
        elif kind == "sparse":
            _real_dtype(link.dtype, f"links[{k}]", func)
            if link.ndim != 2:
                raise ValueError(f"{func}: links[{k}] is a sparse array of shape "
                                 f"{link.shape}; expected a 2-D sparse Jacobian")
            sparse_structure(link, f"links[{k}]", func)
            items.append(link), shapes.append(tuple(link.shape)), kinds.append(kind)
            continue
        elif shapes_ok and isinstance(link, tuple):
            items.append(None), shapes.append(_shape_tuple(link, f"links[{k}]", func))
            kinds.append(kind)
            continue
        else:
            a = as_real_array(link, f"links[{k}]", func)
        if a.ndim < 2:
            raise ValueError(f"{func}: links[{k}] has shape {a.shape}; a link must be a "
                             f"matrix of shape (..., d_k, d_k-1) or a Diagonal")
        items.append(a), shapes.append(a.shape), kinds.append(kind)
    for k in range(1, len(shapes)):
        if shapes[k][-1] != shapes[k - 1][-2]:
            words = {"diag": "Diagonal of shape", "kron": "Kronecker of shape",
                     "sparse": "sparse matrix of shape", "op": "operator of shape"}
            kind = lambda j: words.get(kinds[j], "shape")  # noqa: E731
            raise ValueError(
                f"{func}: links[{k}] ({kind(k)} {shapes[k]}) does not fit links[{k - 1}] "
                f"({kind(k - 1)} {shapes[k - 1]}): links[{k}] must have "
                f"{shapes[k - 1][-2]} columns, the rows of links[{k - 1}]")
    return items, tuple(kinds), shapes


_NATIVE_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _chain_dtype(items, kinds, extra=()):
    """The working dtype of a chain: every array, factor, sparse matrix and operator.
    -> (dtype, same): `same` when every item already has that dtype."""
    dtypes = list(extra)
    for a, kind in zip(items, kinds):
        if a is None:
            continue
        if kind == "kron":
            dtypes += [a.A.dtype, a.B.dtype]
        else:
            dtypes.append(a.dtype)
    if not dtypes:
        return np.dtype(np.float64), True
    first = dtypes[0]
    if first in _NATIVE_FLOATS and all(d == first for d in dtypes):
        return first, True          # the common case: one native float dtype throughout
    dtypes = [d if np.dtype(d).kind == "f" else np.float64 for d in dtypes]
    return np.result_type(*dtypes, np.float32).newbyteorder("="), False  # native


def _convert_link(a, kind, dtype):
    """A checked link in the working dtype (operators convert their results when used)."""
    if a is None or kind == "op":
        return a
    if kind == "kron":
        if a.A.dtype == dtype and a.B.dtype == dtype:
            return a
        return type(a)(a.A.astype(dtype), a.B.astype(dtype))
    if kind == "sparse":
        a = a.tocsr()
        return a if a.dtype == dtype else a.astype(dtype)
    return convert(a, dtype)


def _convert_links(items, kinds, dtype, same):
    """`_convert_link` of every link; when `same` only sparse links (made CSR) change."""
    if same and "sparse" not in kinds:
        return items
    return [_convert_link(a, kind, dtype) for a, kind in zip(items, kinds)]


def _batch_shape(func, named_shapes):
    """The broadcast batch shape (np.matmul's rule), or ValueError naming each argument.

    Worked out in Python integers, so shapes that broadcast but whose product is too
    large for an array are told apart from shapes that do not broadcast.
    """
    shapes = [tuple(s) for s in named_shapes.values()]
    if all(s == shapes[0] for s in shapes):
        result = shapes[0]
    else:
        ndim = max(len(s) for s in shapes)
        result = []
        for axis in range(-ndim, 0):
            sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
            if len(sizes) > 1:
                listed = ", ".join(f"{k} {tuple(s)}" for k, s in named_shapes.items())
                raise ValueError(f"{func}: the batch shapes do not broadcast together: "
                                 f"{listed}")
            result.append(sizes.pop() if sizes else 1)
        result = tuple(result)
    if math.prod(result) > _INTP_MAX:
        listed = ", ".join(f"{k} {tuple(s)}" for k, s in named_shapes.items())
        raise ValueError(f"{func}: the batch shapes {listed} broadcast to {result}, "
                         f"{math.prod(result)} samples: more than an array can index")
    return result


def _chain_batch(func, shapes, vec=None, name=None):
    """The batch shape of a chain's links (and vector): () at once when none has one."""
    if (vec is None or vec.ndim == 1) and all(len(s) == 2 for s in shapes):
        return ()
    named = {f"links[{k}]": s[:-2] for k, s in enumerate(shapes)}
    if vec is not None:
        named[name] = vec.shape[:-1]
    return _batch_shape(func, named)


def chain_links_args(links, func, *, shapes_ok=False):
    """Check a chain of links. -> (arrays, kinds, dims, batch, dtype).

    arrays[k] is link k converted to the working dtype (a Diagonal's data for diagonal
    links; None for a shape tuple when `shapes_ok`; CSR for a sparse matrix; the
    Kronecker or MatrixFree object), kinds[k] its kind (see `link_kind`),
    dims = (d_0, ..., d_n) and batch the broadcast batch shape of all links.
    """
    arrays, kinds, shapes = _chain_links(links, func, shapes_ok)
    batch = _chain_batch(func, shapes)
    dims = (shapes[0][-1],) + tuple(s[-2] for s in shapes)
    dtype, same = _chain_dtype(arrays, kinds)
    return _convert_links(arrays, kinds, dtype, same), kinds, dims, batch, dtype


def chain_vector_args(links, vector, name, func):
    """Check links and the vector of grad_chain (`name`="grad", length d_n) or of
    tangent_chain (`name`="tangent", length d_0). -> (arrays, kinds, dims, batch, vector, dtype).

    batch is the broadcast of the links' batch shapes and the vector's leading shape.
    """
    arrays, kinds, shapes = _chain_links(links, func, False)
    vec = as_real_array(vector, name, func)
    want = shapes[-1][-2] if name == "grad" else shapes[0][-1]
    if vec.ndim < 1 or vec.shape[-1] != want:
        where = (f"the rows of links[{len(shapes) - 1}] (shape {shapes[-1]})" if name == "grad"
                 else f"the columns of links[0] (shape {shapes[0]})")
        raise ValueError(f"{func}: {name} has shape {vec.shape}; its last axis must have "
                         f"length {want}, {where}")
    batch = _chain_batch(func, shapes, vec, name)
    dims = (shapes[0][-1],) + tuple(s[-2] for s in shapes)
    dtype, same = _chain_dtype(arrays, kinds, [vec.dtype])
    return (_convert_links(arrays, kinds, dtype, same), kinds, dims, batch,
            vec if same else convert(vec, dtype), dtype)


# --- linear-model losses: linear_loss_grad, LinearLoss (fast path and reference) ---

__all__ += ["linear_loss_data", "linear_loss_theta", "linear_loss_direction",
            "linear_loss_rows", "NO_THETA"]


def _first_decrease(a, chunk=1 << 15):
    """The first k with a[k + 1] < a[k], else -1; compared a chunk at a time, so that the
    check of a per-call X allocates a few KiB, not a mask as long as X has rows."""
    for start in range(0, a.shape[0] - 1, chunk):
        part = a[start:start + chunk + 1]
        down = part[1:] < part[:-1]
        if down.any():
            return start + int(np.argmax(down))
    return -1


def sparse_structure(S, name, func, indices=True):
    """Refuse a scipy.sparse matrix whose index arrays do not describe its shape (ValueError
    naming `name`), before anything reads them: SciPy's own products and conversions trust
    them, and an index out of range reads or writes out of bounds.

    CSR, CSC and BSR: indptr of one entry per row (column, block row) plus one, from 0,
    never decreasing, ending within indices and data; every index in range (unless
    `indices` is False: the one-pass engine counts those itself, in its pass). COO: row
    and column indices in range, one per stored entry. Other formats hold no such arrays.
    """
    fmt = S.format
    rows, cols = S.shape
    if fmt in ("csr", "csc", "bsr"):
        R, C = S.blocksize if fmt == "bsr" else (1, 1)
        major, minor = ((rows, cols) if fmt != "csc" else (cols, rows))
        if fmt == "bsr":
            major, minor = rows // R, cols // C
        ptr, ind = np.asarray(S.indptr), np.asarray(S.indices)
        stored = min(ind.shape[0] if ind.ndim == 1 else -1, np.shape(S.data)[0])
        what = None
        if ptr.ndim != 1 or ind.ndim != 1 or ptr.shape[0] != major + 1:
            what = (f"indptr must be 1-D of {major + 1} entries and indices 1-D; got "
                    f"shapes {ptr.shape} and {ind.shape}")
        elif ptr[0] != 0 or ptr[-1] > stored:
            what = (f"indptr must run from 0 up to at most the {stored} stored entries; it "
                    f"runs from {ptr[0]} to {ptr[-1]}")
        elif (k := _first_decrease(ptr)) >= 0:
            what = (f"indptr must not decrease; indptr[{k + 1}] = {ptr[k + 1]} < "
                    f"indptr[{k}] = {ptr[k]}")
        elif indices and ptr[-1] and (ind[:ptr[-1]].min() < 0 or ind[:ptr[-1]].max() >= minor):
            what = (f"indices must lie in 0 ... {minor - 1}; got {ind[:ptr[-1]].min()} to "
                    f"{ind[:ptr[-1]].max()}")
    elif fmt == "coo":
        coords = [np.asarray(c) for c in (S.row, S.col)]
        what = None
        if any(c.shape != np.shape(S.data) for c in coords):
            what = (f"row, col and data must have one entry per stored value; got shapes "
                    f"{coords[0].shape}, {coords[1].shape}, {np.shape(S.data)}")
        elif S.nnz and any(c.min() < 0 or c.max() >= size
                           for c, size in zip(coords, (rows, cols))):
            what = (f"row indices must lie in 0 ... {rows - 1} and column indices in "
                    f"0 ... {cols - 1}")
    else:
        return S
    if what is not None:
        raise ValueError(f"{func}: {name} is a malformed scipy.sparse {fmt} matrix of shape "
                         f"{S.shape}: {what}")
    return S


def _sparse_X(X, func, once=False):
    """A scipy.sparse X's dtype, refusing complex and other non-real data (TypeError), and
    a malformed structure (ValueError). `once`: X is checked once for many calls (an
    objective's constructor), so its CSR column indices are checked here too."""
    kind = X.dtype.kind
    if kind not in "biuf" or (kind == "f" and X.dtype.itemsize > 8):
        raise TypeError(f"{func}: argument 'X' is sparse with dtype {X.dtype}; expected "
                        f"real floating (float32/float64), integer or boolean values")
    if X.ndim != 2:
        raise ValueError(f"{func}: X must be 2-D; got shape {X.shape}")
    # a CSR X is read in place by the engine, which counts column indices out of range in
    # its pass; any other format is converted by SciPy, which trusts all of its indices
    sparse_structure(X, "X", func, indices=once or X.format != "csr")


NO_THETA = object()     # linear_loss_data without θ (LinearLoss); theta=None is refused


def linear_loss_data(X, y, loss, sample_weight, l2, fit_intercept, func, theta=NO_THETA,
                     rows=None, dtype=None):
    """Check a linear-model loss's data (and θ when given). -> a dict of the converted
    pieces: X (ndarray in its own layout, or scipy.sparse CSR), y, w, theta, l2,
    fit_intercept, loss (a mcfast.losses.Loss), dtype, n, m. Without θ (the default,
    `NO_THETA`) the dict has no "theta"; ``theta=None`` raises TypeError naming it.

    dtype (the arithmetic: θ's, the gradient's) is `dtype` when given, else the working
    dtype of X, θ, y and sample_weight, except that integer class labels
    (loss="multinomial") do not make it float64. A float32 X under float64 arithmetic is
    kept float32 (read in place by the engine), and so are float32 y and weights. With `rows` (rows=, unchecked:
    `linear_loss_rows` checks it here) y's domain is checked on y[rows] only, so a
    minibatch costs O(len(rows)), not O(n); the dict then holds the checked "rows".
    """
    import scipy.sparse
    loss = get_loss(loss, func)
    sparse = scipy.sparse.issparse(X)
    X, Xd = _design(X, func, once=theta is NO_THETA)
    check_ndim(X, "X", func, (2,))
    n, m = X.shape
    rows = linear_loss_rows(rows, n, func)
    check_domain = rows is None
    named = {} if theta is NO_THETA else {"theta": theta}
    named["y"] = y
    if sample_weight is not None:
        named["sample_weight"] = sample_weight
    arr = {k: as_real_array(a, k, func) for k, a in named.items()}
    dtype = arithmetic_dtype(dtype, func) or working_dtype(
        Xd, *(a for k, a in arr.items() if not (k == "y" and loss.multiclass)))
    keep32 = mixed(X, dtype)
    y = arr["y"]
    if loss.multiclass:
        check_ndim(y, "y", func, (1,))
    elif loss.name == "squared":
        check_ndim(y, "y", func, (1, 2))
    else:
        check_ndim(y, "y", func, (1,))
    if y.shape[0] != n:
        raise shape_error(func, "y.shape[0] must equal X.shape[0]", X=X.shape, y=y.shape)
    w, l2 = _weights_and_l2(arr.get("sample_weight"), X.shape, l2, dtype, func, keep32)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"{func}: fit_intercept must be True or False; got {fit_intercept!r}")
    top = None                               # multiclass: the largest label
    if check_domain:
        top = loss.check_y(y, func)
    y = stored(y, dtype, keep32)
    if rows is not None and loss.multiclass:  # (one gather of y[rows]: a miss a row)
        top = loss.check_y(y[rows], func)
    elif rows is not None and loss.y_bounds is not None:   # y[rows]'s extremes, no gather
        loss.check_y_extremes(*_e.take_extremes(y, rows), func)
    X = _convert_design(X, dtype)
    out = dict(X=X, y=y, w=w, l2=l2, fit_intercept=bool(fit_intercept), loss=loss,
               dtype=np.dtype(dtype), n=n, m=m, sparse=sparse,
               rows=rows, max_label=-1.0 if top is None or not loss.multiclass
               else float(top))
    if theta is not NO_THETA:
        out["theta"] = linear_loss_theta(arr["theta"], out, "theta", func)
    return out


def linear_loss_theta(theta, d, name, func, flat_ok=False):
    """θ (or a direction p) checked against the data `d` of `linear_loss_data`.

    Shapes: (m(+1),) for a 1-D y, (m(+1), k) with y (n, k) for squared, (m(+1), K) for
    multinomial (labels in 0 … K−1). With `flat_ok` a flat θ of the right size (as
    scipy.optimize passes it) is accepted and reshaped.
    """
    theta = as_real_array(theta, name, func)
    mp = d["m"] + d["fit_intercept"]
    loss, y = d["loss"], d["y"]
    where = " (m + 1: the intercept is the last entry)" if d["fit_intercept"] else ""
    if loss.multiclass:
        if flat_ok and theta.ndim == 1 and mp and theta.size % mp == 0 and theta.size:
            theta = theta.reshape(mp, theta.size // mp)
        if theta.ndim != 2 or theta.shape[0] != mp:
            raise ValueError(f"{func}: {name} has shape {theta.shape}; loss='multinomial' "
                             f"needs shape ({mp}, K), one column per class{where}")
        if theta.shape[1] <= d["max_label"]:
            raise ValueError(f"{func}: y must hold labels in 0 ... {theta.shape[1] - 1} "
                             f"({name} has {theta.shape[1]} columns, one per class); got "
                             f"labels up to {d['max_label']:g}")
    else:
        want = (mp,) + tuple(y.shape[1:])
        if theta.shape != want and not (flat_ok and len(want) == 2
                                         and theta.shape == (want[0] * want[1],)):
            raise ValueError(f"{func}: {name} has shape {theta.shape}; expected {want}"
                             f"{where}, to fit X {(d['n'], d['m'])} and y {y.shape}")
        theta = theta.reshape(want)
    return convert(theta, d["dtype"])


def linear_loss_direction(theta, p, d, func):
    """θ and the direction p of a Hessian product, each checked by `linear_loss_theta`
    (flat accepted), and p of θ's shape. -> (θ, p)."""
    t = linear_loss_theta(theta, d, "theta", func, flat_ok=True)
    q = linear_loss_theta(p, d, "p", func, flat_ok=True)
    if q.shape != t.shape:
        raise ValueError(f"{func}: p has shape {np.shape(p)}; expected theta's shape "
                         f"{t.shape}")
    return t, q


def linear_loss_rows(rows, n, func):
    """rows= as an intp array of indices in 0 … n−1 (negative ones count from the end)."""
    if rows is None:
        return None
    r = np.asarray(rows)
    if r.ndim == 1 and r.size == 0 and r.dtype.kind in "biuf":
        return np.zeros(0, np.intp)          # [] is a float array, as in NumPy indexing
    if r.dtype.kind not in "iu" or r.ndim != 1:
        raise IndexError(f"{func}: rows must be a 1-D array of integer indices; got "
                         f"dtype {r.dtype} and shape {r.shape}")
    if r.dtype.kind == "u" and r.dtype.itemsize >= np.dtype(np.intp).itemsize and r.size:
        hi = r.max()                         # (past intp's range it would wrap to < 0)
        if hi >= n:
            raise IndexError(f"{func}: rows holds indices from {r.min()} to {hi}; X has "
                             f"{n} rows")
    r = np.ascontiguousarray(r, dtype=np.intp)
    lo, hi = _e.index_extremes(r)
    if lo < -n or hi >= n:
        raise IndexError(f"{func}: rows holds indices from {lo} to {hi}; X has {n} rows")
    return np.where(r < 0, r + n, r) if lo < 0 else r
