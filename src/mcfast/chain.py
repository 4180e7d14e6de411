"""Jacobian chains: Jn⋯J1 in the cheapest bracketing, batched, and vector chains without it."""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence, overload

import numpy as np

from . import _validate as v
from ._typing import ArrayLike, FloatArray
from . import reference as _reference
from ._kernels import _chain as _k
from ._kernels._threads import effective_n_threads as _effective_n_threads

__all__ = ["jacobian_chain", "chain_plan", "ChainPlan", "grad_chain", "tangent_chain",
           "Diagonal"]

_SMALL_MM = 4096        # a product of at most this many multiply-adds is a hand loop, not BLAS
_SMALL_MV = 1024        # the same for a matrix-vector product
# total multiply-adds of a batch below which one thread does it all: high, because waking
# OpenMP workers next to OpenBLAS's spinning threads can cost milliseconds on a busy machine
_PARALLEL_MIN = 1 << 23
_VBLOCK = 32             # samples per block of a batched chain (VBLOCK in _chain.pxd)
_PLAN_CACHE = {}         # (dims, diag, order) -> ChainPlan, for jacobian_chain
_PLAN_CACHE_MAX = 256

Order = Literal["optimal", "forward", "reverse"]


class Diagonal(_reference.Diagonal):
    """The Jacobian diag(d) of an elementwise map ``y = f(x)``, ``y_i = f(x_i)``.

    A link of a chain that is known to be diagonal: products with it are row or column
    scalings (p·q multiply-adds instead of p·q·r), and a chain of Diagonals stays one.

    Parameters
    ----------
    d : array_like, shape (..., n)
        The diagonal, ``f'(x)``; leading dimensions are batch dimensions. Real values
        (integers and booleans are converted when the chain is computed).

    Attributes
    ----------
    diagonal : ndarray, shape (..., n)
        ``d`` as a read-only view (no copy: changing the array given changes the Diagonal).
    shape : tuple
        The Jacobian's shape ``(..., n, n)``.
    ndim, dtype
        Of the Jacobian, as for an ndarray: ``len(shape)`` and ``d.dtype``.
    T
        The transpose, the Diagonal itself.

    Raises
    ------
    TypeError
        If ``d`` is None, complex, object, string or longdouble.
    ValueError
        If ``d`` is 0-D.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> D = mc.Diagonal([1.0, 2.0, 3.0])
    >>> D.shape, D.ndim
    ((3, 3), 2)
    >>> D.toarray()
    array([[1., 0., 0.],
           [0., 2., 0.],
           [0., 0., 3.]])
    >>> D
    Diagonal(array([1., 2., 3.]))
    """

    __slots__ = ()

    @classmethod
    def _wrap(cls, d):
        """A Diagonal around an ndarray the caller owns (no checks)."""
        self = object.__new__(cls)
        view = d.view()
        view.flags.writeable = False
        self._d = view
        return self


# ---------------------------------------------------------------------------------------
# planning

def _pair(rows, inner, cols, ldiag, rdiag):
    """Multiply-adds of (rows × inner) @ (inner × cols): p·q·r dense, p·q with one
    Diagonal, n with two."""
    if ldiag and rdiag:
        return inner
    if ldiag or rdiag:
        return rows * cols
    return rows * inner * cols


def _plan_tree(dims, diag, order):
    """(flops, tree): tree is a link index or a pair (applied first, applied then)."""
    n = len(diag)
    if n == 1:
        return 0, 0
    # 0-based link indices below: link k maps d_k to d_{k+1}
    if order == "forward":      # Jn(...(J2 J1)): links[k] times links[k-1]⋯links[0]
        flops, tree, all_diag = 0, 0, diag[0]
        for k in range(1, n):
            flops += _pair(dims[k + 1], dims[k], dims[0], diag[k], all_diag)
            tree, all_diag = (tree, k), all_diag and diag[k]
        return flops, tree
    if order == "reverse":      # ((Jn Jn-1)...) J1: links[n-1]⋯links[k+1] times links[k]
        flops, tree, all_diag = 0, n - 1, diag[n - 1]
        for k in range(n - 2, -1, -1):
            flops += _pair(dims[n], dims[k + 1], dims[k], all_diag, diag[k])
            tree, all_diag = (k, tree), all_diag and diag[k]
        return flops, tree
    d = dims
    if n == 2:
        return _pair(d[2], d[1], d[0], diag[1], diag[0]), (0, 1)
    if n == 3:
        # s = 0: (J3 J2) J1;  s = 1: J3 (J2 J1); ties go to s = 0 as in the DP
        c0 = (_pair(d[3], d[2], d[1], diag[2], diag[1])
              + _pair(d[3], d[1], d[0], diag[2] and diag[1], diag[0]))
        c1 = (_pair(d[2], d[1], d[0], diag[1], diag[0])
              + _pair(d[3], d[2], d[0], diag[2], diag[1] and diag[0]))
        return (c0, (0, (1, 2))) if c0 <= c1 else (c1, ((0, 1), 2))
    cost = np.empty((n, n), dtype=np.intp)
    split = np.empty((n, n), dtype=np.intp)
    flops = _k.chain_order_table(np.asarray(dims, dtype=np.intp),
                                 np.asarray(diag, dtype=np.uint8), cost, split)
    split = split.tolist()

    def tree(i, j):
        if i == j:
            return i
        s = split[i][j]
        return (tree(i, s), tree(s + 1, j))
    return int(flops), tree(0, n - 1)


def _compile(tree, dims, diag):
    """Turn a bracketing into a program: (steps (n-1, NSTEPCOL), scratch size per sample).

    Post-order over the tree; each product gets a scratch block for its result (the root
    writes to the output); a block is reused once its product has been consumed, and a
    scaling by a Diagonal of an intermediate works in place.
    """
    n = len(diag)
    steps, free, top = [], [], [0]

    def alloc(size):
        for i, (off, sz) in enumerate(free):
            if sz >= size:
                del free[i]
                return off
        top[0] += size
        return top[0] - size

    def visit(t, root):
        # -> (operand id, rows, cols, is_diagonal, (scratch offset, size) or None)
        if isinstance(t, int):
            return t, dims[t + 1], dims[t], diag[t], None
        right, left = visit(t[0], False), visit(t[1], False)
        m, k, nn = left[1], left[2], right[2]
        is_diag = left[3] and right[3]
        size = m if is_diag else m * nn
        reuse, dst = None, -1
        if not root:
            if left[3] or right[3]:      # elementwise: an equal-sized intermediate can be dst
                reuse = next((op for op in (right, left) if op[4] and op[4][1] == size), None)
            dst = reuse[4][0] if reuse else alloc(size)
        for op in (left, right):
            if op[4] and op is not reuse:
                free.append(op[4])
        steps.append((left[0], right[0], m, k, nn, int(left[3]), int(right[3]),
                      int(m * k * nn <= _SMALL_MM), dst))
        return n + len(steps) - 1, m, nn, is_diag, None if root else (dst, size)

    visit(tree, True)
    return np.array(steps, dtype=np.intp).reshape(-1, 9), top[0]


class ChainPlan:
    """The bracketing of a Jacobian chain Jn⋯J1 and its cost; callable to compute it.

    Made by :func:`chain_plan` (``ChainPlan(links, order=...)`` is the same). Calling a
    plan skips planning, so it is the way to multiply chains of the same shapes in a loop.

    Parameters
    ----------
    links : sequence
        Arrays, :class:`Diagonal` or shape tuples, as for :func:`chain_plan`.
    order : {"optimal", "forward", "reverse"}
        As for :func:`chain_plan`.

    Attributes
    ----------
    flops : int
        Multiply-adds of one product (per sample: a batch of B chains costs B·flops).
        dense·dense (p×q)(q×r) counts p·q·r, a product with a Diagonal p·q (the result's
        size), Diagonal·Diagonal n.
    order : int or tuple
        The bracketing as nested pairs of 0-based link indices in flow order: a pair
        ``(a, b)`` is ``b @ a``, the product of ``a`` (applied first) and then ``b``. For
        three links ``((0, 1), 2)`` is ``J3 @ (J2 @ J1)``; a single link is ``0``.
    dims : tuple of int
        ``(d_0, ..., d_n)``: link k (0-based) maps size d_k to d_{k+1}.
    diagonal : tuple of bool
        Which links are Diagonals.

    Notes
    -----
    ``str(plan)`` writes the bracketing with 1-based names in flow order, e.g.
    ``"J3 @ (J2 @ J1)"``. ``plan(links, out=None)`` needs links with the plan's ``dims``
    and Diagonal structure (batch dimensions may differ), else raises ValueError.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> plan = mc.ChainPlan([(8, 2), mc.Diagonal(np.ones(8)), (1, 8)])
    >>> str(plan), plan.flops, plan.order
    ('(J3 @ J2) @ J1', 24, (0, (1, 2)))
    >>> J = plan([np.ones((8, 2)), mc.Diagonal(np.arange(8.0)), np.ones((1, 8))])
    >>> J
    array([[28., 28.]])
    """

    __slots__ = ("flops", "order", "dims", "diagonal", "_steps", "_scratch", "_small",
                 "_diag_result", "_how")
    flops: int
    order: int | tuple[Any, Any]
    dims: tuple[int, ...]
    diagonal: tuple[bool, ...]

    def __init__(self, links: Sequence[object], *, order: Order = "optimal") -> None:
        order = v.chain_order_arg(order, "chain_plan")
        _, diag, dims, _, _ = v.chain_links_args(links, "chain_plan", shapes_ok=True)
        self._build(dims, diag, order)

    @classmethod
    def _make(cls, dims, diag, order):
        self = object.__new__(cls)
        self._build(dims, diag, order)
        return self

    def _build(self, dims, diag, order):
        self.dims, self.diagonal = tuple(dims), tuple(diag)
        # tiny dense chains take the compiled fast path, with this plan's order
        self._how = order if 2 <= len(diag) <= 3 and not any(diag) else None
        self.flops, self.order = _plan_tree(self.dims, self.diagonal, order)
        self._diag_result = all(diag)
        if len(diag) > 1:
            self._steps, self._scratch = _compile(self.order, self.dims, self.diagonal)
            self._small = bool(self._steps[:, 7].all())
        else:
            self._steps, self._scratch, self._small = None, 0, True

    def __getstate__(self):
        # a class with __slots__ needs this for pickle protocols 0 and 1
        return {k: getattr(self, k) for k in ChainPlan.__slots__ if hasattr(self, k)}

    def __setstate__(self, state):
        for k, val in state.items():
            object.__setattr__(self, k, val)

    def __str__(self) -> str:
        def name(t, top):
            if isinstance(t, int):
                return f"J{t + 1}"
            s = f"{name(t[1], False)} @ {name(t[0], False)}"
            return s if top else f"({s})"
        return name(self.order, True)

    def __repr__(self) -> str:
        return f"ChainPlan({self}, flops={self.flops})"

    @overload
    def __call__(  # type: ignore[overload-overlap]
            self, links: Sequence[Diagonal], *, out: None = None) -> Diagonal: ...
    @overload
    def __call__(self, links: Sequence[object], *,
                 out: FloatArray | None = None) -> FloatArray: ...

    def __call__(self, links: Sequence[object], *,
                 out: FloatArray | None = None) -> FloatArray | Diagonal:
        """Jn⋯J1 of `links` in this plan's order, without planning again.

        Parameters
        ----------
        links : sequence of array_like or Diagonal
            New links with the plan's matrix sizes and Diagonal structure (batch
            dimensions may differ).
        out : ndarray, optional
            Receives the final product, as in :func:`jacobian_chain`.

        Returns
        -------
        ndarray or Diagonal
            As :func:`jacobian_chain` would return for these links.

        Examples
        --------
        >>> import numpy as np, mcfast as mc
        >>> plan = mc.chain_plan([(3, 2), (1, 3)])
        >>> plan([np.ones((3, 2)), np.ones((1, 3))])
        array([[3., 3.]])

        Raises
        ------
        ValueError
            If the links' matrix sizes ``dims`` or their Diagonal structure differ from the
            plan's (batch dimensions may differ), or as :func:`jacobian_chain`.
        """
        if out is None and self._how is not None:
            fast = _k.fast_chain(links, self._how, self.dims)
            if fast is not None:
                return fast
        arrays, diag, dims, batch, dtype = v.chain_links_args(links, "ChainPlan")
        if dims != self.dims or diag != self.diagonal:
            raise ValueError(f"ChainPlan: the links do not match the plan: planned dims "
                             f"{self.dims} with Diagonal links {self.diagonal}, got dims "
                             f"{dims} with Diagonal links {diag}")
        return self._execute(arrays, batch, dtype, out, "ChainPlan")

    # -- execution --------------------------------------------------------------------

    def _execute(self, arrays, batch, dtype, out, func):
        dims, diag_res = self.dims, self._diag_result
        tail = (dims[-1],) if diag_res else (dims[-1], dims[0])
        shape = batch + tail
        dense_out = False
        if out is not None:
            dense = batch + (dims[-1], dims[-1])
            if diag_res and isinstance(out, np.ndarray) and out.shape == dense:
                v.check_out(out, dense, dtype, func)
                dense_out = True
            else:
                v.check_out(out, shape, dtype, func)
        direct = out is not None and not dense_out and not v.overlaps(out, *arrays)
        res = out if direct else np.empty(shape, dtype=dtype)
        nsamples = math.prod(batch)
        if len(arrays) == 1:
            np.copyto(res, arrays[0])
        elif res.size == 0 or nsamples == 0:
            pass
        elif 0 in dims:
            res.fill(0)                                 # an empty sum
        else:
            ops = [_operand(a, d, batch) for a, d in zip(arrays, self.diagonal)]
            nthreads = _threads(nsamples, self.flops, self._small)
            blocked = self._small and nsamples > 1     # a block of samples per step
            per = max(self._scratch, 1)
            width = -(-(per * (_VBLOCK if blocked else 1)) // 8) * 8  # whole cache lines
            _k.chain_product(
                [o[0] for o in ops], np.array([o[1] for o in ops], dtype=np.intp),
                np.array(batch, dtype=np.intp),
                np.array([o[2] for o in ops], dtype=np.intp).reshape(len(ops), len(batch)),
                self._steps, per, blocked, np.empty((nthreads, width), dtype=dtype),
                res.reshape(-1), math.prod(tail), nthreads)
        if out is None:
            return Diagonal._wrap(res) if diag_res else res
        if dense_out:
            n = dims[-1]
            out.fill(0)
            out.reshape(batch + (n * n,))[..., ::n + 1] = res
            return out
        if res is not out:
            np.copyto(out, res)
        return Diagonal._wrap(out) if diag_res else out


def _threads(nsamples, flops, small):
    """Threads for a batch: all it may use now for many small products, else one (BLAS
    threads). Decided at each call: threadpoolctl, OMP_NUM_THREADS and the CPU affinity
    hold, and a forked child runs serially (mcfast._kernels._threads)."""
    if small and nsamples > 1 and nsamples * max(flops, 1) >= _PARALLEL_MIN:
        return max(1, min(_effective_n_threads(), nsamples))
    return 1


def _operand(a, is_diag, batch):
    """A link as the kernels take it: (array, [rs, cs, diag, 0], batch strides) in elements.

    A dense matrix needs a unit stride along its rows or its columns with a leading
    dimension BLAS accepts; anything else is copied once to C order. Strides of size-1
    axes do not matter and are normalised; broadcast batch axes get stride 0.
    """
    item, strides, shape = a.itemsize, a.strides, a.shape
    for st in strides:
        if st % item:
            a = np.ascontiguousarray(a)
            strides = a.strides
            break
    if is_diag:
        core, rs, cs = 1, 0, (strides[-1] // item if shape[-1] > 1 else 1)
    else:
        core = 2
        p, q = shape[-2:]
        rs, cs = strides[-2] // item, strides[-1] // item
        if q == 1:
            cs = 1
        if p == 1:
            rs = q if cs == 1 else 1
        if not ((cs == 1 and rs >= q) or (rs == 1 and cs >= p)):
            a = np.ascontiguousarray(a)
            strides, rs, cs = a.strides, q, 1
    lead = len(shape) - core
    bstr = [0] * (len(batch) - lead)
    for k in range(lead):
        bstr.append(strides[k] // item if shape[k] > 1 else 0)
    return a, [rs, cs, int(is_diag), 0], bstr


def _cached_plan(dims, diag, order):
    key = (dims, diag, order)
    plan = _PLAN_CACHE.get(key)
    if plan is None:
        if len(_PLAN_CACHE) >= _PLAN_CACHE_MAX:
            _PLAN_CACHE.clear()
        plan = _PLAN_CACHE[key] = ChainPlan._make(dims, diag, order)
    return plan


# ---------------------------------------------------------------------------------------
# public functions

def chain_plan(links: Sequence[object], *, order: Order = "optimal") -> ChainPlan:
    """Plan the product Jn⋯J1 of a Jacobian chain without multiplying.

    Chooses the bracketing with the fewest multiply-adds by the matrix-chain dynamic
    programme (CLRS §15.2; a closed form for two and three links), with a cost model that
    knows structure::

        cost[i, j] = min_s cost[i, s] + cost[s+1, j] + pair(i, s, j)
        pair = p·q·r (dense·dense), p·q (with a Diagonal), n (Diagonal·Diagonal)

    Parameters
    ----------
    links : sequence
        ``[J1, ..., Jn]`` in data-flow order. Each is an array of shape
        ``(..., d_k, d_{k-1})``, a :class:`Diagonal`, or a shape tuple
        ``(..., d_k, d_{k-1})``; a shape tuple always denotes a dense link (to plan with a
        Diagonal, pass a Diagonal: its values are not read).
    order : {"optimal", "forward", "reverse"}
        "forward" accumulates J1 first, ``Jn(...(J2 J1))``; "reverse" Jn first,
        ``((Jn Jn-1) ...) J1``.

    Returns
    -------
    ChainPlan
        With ``flops`` (per sample), ``order`` (nested pairs of 0-based link indices in
        flow order), ``str(plan)`` such as ``"J3 @ (J2 @ J1)"``, and callable as
        ``plan(links, out=None)`` on links of the same sizes.

    Raises
    ------
    ValueError
        Empty chain, a link that does not fit its neighbour, batch shapes that do not
        broadcast, an unknown order.
    TypeError
        A link that is None or not real.

    Examples
    --------
    >>> import mcfast as mc
    >>> plan = mc.chain_plan([(20, 25), (10, 20), (5, 10)])
    >>> str(plan), plan.flops
    ('(J3 @ J2) @ J1', 3500)
    >>> mc.chain_plan([(10, 1000), (10, 10), (1, 10)]).order   # a scalar loss: reverse
    (0, (1, 2))
    """
    return ChainPlan(links, order=order)


@overload
def jacobian_chain(  # type: ignore[overload-overlap]
        links: Sequence[Diagonal], *, order: Order = ..., out: None = None) -> Diagonal: ...
@overload
def jacobian_chain(links: Sequence[object], *,
                   order: Order = ..., out: FloatArray | None = None) -> FloatArray: ...


def jacobian_chain(links: Sequence[object], *, order: Order = "optimal",
                   out: FloatArray | None = None) -> FloatArray | Diagonal:
    """The Jacobian of a composition, ∂yₙ/∂x = Jn ⋯ J2 J1.

    Parameters
    ----------
    links : sequence of array_like or Diagonal
        ``[J1, ..., Jn]`` in data-flow order, Jk = ∂y_k/∂y_{k-1} of shape
        ``(..., d_k, d_{k-1})`` or a :class:`Diagonal` with data ``(..., d_k)``. Leading
        batch dimensions broadcast as in ``np.matmul``; a link without them is shared by
        the whole batch.
    order : {"optimal", "forward", "reverse"}
        "optimal": the bracketing with the fewest multiply-adds (see :func:`chain_plan`);
        "forward": ``Jn(...(J2 J1))``; "reverse": ``((Jn Jn-1) ...) J1``.
    out : ndarray, optional
        Receives the final product: C-contiguous, writeable, of the result's shape and
        dtype. When every link is a Diagonal, out may have the diagonal's shape
        ``(..., d_n)`` (the result is then ``Diagonal(out)``) or the dense shape
        ``(..., d_n, d_n)`` (then out itself, with zeros off the diagonal).

    Returns
    -------
    ndarray or Diagonal
        Shape ``batch + (d_n, d_0)``; a single link gives a copy; a chain of Diagonals
        gives a Diagonal. The dtype is float32 when every link is float16 or float32, else float64.

    Raises
    ------
    ValueError
        Empty chain, a link that does not fit its neighbour (naming its index and both
        shapes), batch shapes that do not broadcast, an unknown order, a bad out.
    TypeError
        A link that is None, complex, object, string or longdouble (naming ``links[k]``).

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> W1, W2 = np.arange(6.0).reshape(3, 2), np.ones((1, 3))
    >>> mc.jacobian_chain([W1, mc.Diagonal([1.0, 0.0, 2.0]), W2])
    array([[ 8., 11.]])
    >>> mc.jacobian_chain([mc.Diagonal([1.0, 2.0]), mc.Diagonal([3.0, 4.0])])
    Diagonal(array([3., 8.]))
    """
    if out is None:
        fast = _k.fast_chain(links, order)
        if fast is not None:
            return fast
    order = v.chain_order_arg(order, "jacobian_chain")
    arrays, diag, dims, batch, dtype = v.chain_links_args(links, "jacobian_chain")
    return _cached_plan(dims, diag, order)._execute(arrays, batch, dtype, out,
                                                    "jacobian_chain")


def _vector_chain(links, vector, out, grad):
    if out is None:
        fast = _k.fast_vector(links, vector, grad, Diagonal)
        if fast is not None:
            return fast
    func, name = ("grad_chain", "grad") if grad else ("tangent_chain", "tangent")
    arrays, diag, dims, batch, vec, dtype = v.chain_vector_args(links, vector, name, func)
    shape = batch + ((dims[0],) if grad else (dims[-1],))
    if out is not None:
        v.check_out(out, shape, dtype, func)
    direct = out is not None and not v.overlaps(out, vec, *arrays)
    res = out if direct else np.empty(shape, dtype=dtype)
    if res.size == 0:
        pass
    elif 0 in dims:
        res.fill(0)                                     # an empty sum
    elif (vec.ndim > 1 and all(a.ndim == 1 + (not d) for a, d in zip(arrays, diag))
          and max(dims[k] * dims[k + 1] for k in range(len(diag))) > _SMALL_MV):
        # links shared by a batch of vectors: matrix products through BLAS.
        # grad: G (N, d_n) @ Jn ⋯ J1, the chain [J1, ..., Jn, G] in reverse order;
        # tangent: T (N, d_0) @ J1ᵀ ⋯ Jnᵀ, the chain [Jnᵀ, ..., J1ᵀ, T] in reverse order.
        rows = vec.reshape(-1, vec.shape[-1])
        if grad:
            links2, diag2, dims2 = arrays + [rows], diag + (False,), dims + (rows.shape[0],)
        else:
            links2 = [a if d else a.T for a, d in zip(arrays[::-1], diag[::-1])] + [rows]
            diag2, dims2 = diag[::-1] + (False,), dims[::-1] + (rows.shape[0],)
        flat = res.reshape(rows.shape[0], shape[-1])
        _cached_plan(dims2, diag2, "reverse")._execute(links2, (), dtype, flat, func)
    else:
        ops = [_operand(a, d, batch) for a, d in zip(arrays, diag)]
        work = sum(dims[k] * dims[k + 1] for k in range(len(diag)))
        small = True
        for k, o in enumerate(ops):
            o[1][3] = int(dims[k] * dims[k + 1] <= _SMALL_MV)
            small = small and bool(o[1][3])
        if vec.strides[-1] % vec.itemsize or (vec.strides[-1] < vec.itemsize
                                              and vec.shape[-1] > 1):
            vec = np.ascontiguousarray(vec)                 # BLAS wants a positive stride
        ops.append(_operand(vec, True, batch))
        nsamples = res.size // shape[-1]
        nthreads = _threads(nsamples, work, small)
        width = -(-2 * _VBLOCK * max(dims) // 8) * 8
        _k.vector_chain(
            [o[0] for o in ops], np.array([o[1] for o in ops], dtype=np.intp),
            np.array(batch, dtype=np.intp),
            np.array([o[2] for o in ops], dtype=np.intp).reshape(len(ops), len(batch)),
            np.array(dims, dtype=np.intp), grad, np.empty((nthreads, width), dtype=dtype),
            res.reshape(-1), nthreads)
    if out is None or res is out:
        return res
    np.copyto(out, res)
    return out


def grad_chain(links: Sequence[object], grad: ArrayLike, *, out: FloatArray | None = None) -> FloatArray:
    """The gradient through a chain, ∂z/∂x = J1ᵀ(J2ᵀ(⋯(Jnᵀ ∂z/∂yₙ))), without Jn⋯J1.

    Vector-Jacobian products right to left: Σ d_k·d_{k-1} multiply-adds per sample.

    Parameters
    ----------
    links : sequence of array_like or Diagonal
        ``[J1, ..., Jn]`` as for :func:`jacobian_chain`.
    grad : array_like, shape (..., d_n)
        ∂z/∂yₙ; its leading dimensions broadcast with the links' batch dimensions.
    out : ndarray, optional
        C-contiguous, writeable, of the result's shape and dtype.

    Returns
    -------
    ndarray, shape (batch..., d_0)
        ∂z/∂x.

    Raises
    ------
    ValueError
        As :func:`jacobian_chain`, and when ``grad.shape[-1] != d_n``.
    TypeError
        A link or grad that is None or not real.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> W1, W2 = np.arange(6.0).reshape(3, 2), np.ones((1, 3))
    >>> mc.grad_chain([W1, mc.Diagonal([1.0, 0.0, 2.0]), W2], [2.0])
    array([16., 22.])
    """
    return _vector_chain(links, grad, out, True)


def tangent_chain(links: Sequence[object], tangent: ArrayLike, *,
                  out: FloatArray | None = None) -> FloatArray:
    """The directional derivative through a chain, Jn(⋯(J2(J1 t))), never forming Jn⋯J1.

    Jacobian-vector products left to right: Σ d_k·d_{k-1} multiply-adds per sample.

    Parameters
    ----------
    links : sequence of array_like or Diagonal
        ``[J1, ..., Jn]`` as for :func:`jacobian_chain`.
    tangent : array_like, shape (..., d_0)
        The direction t in x's space; leading dimensions broadcast with the links' batch.
    out : ndarray, optional
        C-contiguous, writeable, of the result's shape and dtype.

    Returns
    -------
    ndarray, shape (batch..., d_n)
        ∂yₙ/∂x · t.

    Raises
    ------
    ValueError
        As :func:`jacobian_chain`, and when ``tangent.shape[-1] != d_0``.
    TypeError
        A link or tangent that is None or not real.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> W1, W2 = np.arange(6.0).reshape(3, 2), np.ones((1, 3))
    >>> mc.tangent_chain([W1, mc.Diagonal([1.0, 0.0, 2.0]), W2], [1.0, 0.0])
    array([8.])
    """
    return _vector_chain(links, tangent, out, False)
