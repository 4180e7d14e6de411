"""Jacobian chains: Jn⋯J1 in the cheapest bracketing, batched, and vector chains without it."""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence, overload

import numpy as np

from . import _plan
from . import _stacks
from . import _validate as v
from ._typing import ArrayLike, FloatArray
from . import reference as _reference
from ._apply import (apply_adjoint, apply_forward, kron_product, link_info, to_dense,
                     vector_adjoint, vector_forward)
from ._kernels import _chain as _k
from ._kernels import _stack as _stack_k
from ._kernels._threads import effective_n_threads as _effective_n_threads
from .links import Kronecker, MatrixFree

# jacobian_chain's cheap entry for stacks (_stack.fast_stack): the kernel's mode of each
# order. For square dense links every bracketing costs the same, (k − 1) n³ a chain, and
# the planner's tie-break makes "optimal" the all-reverse nesting (0, (1, (2, ...))),
# which the stack kernels run as JACOBIAN_REVERSE, as the plan's path does
# (tests/test_chain_stacks.py holds the two bitwise equal); with Diagonals the optimum
# depends on where they sit, so "optimal" with a Diagonal takes the planner's path.
_STACK_MODES = {"optimal": _stack_k.JACOBIAN_REVERSE, "forward": _stack_k.JACOBIAN,
                "reverse": _stack_k.JACOBIAN_REVERSE}

__all__ = ["jacobian_chain", "chain_plan", "ChainPlan", "grad_chain", "tangent_chain",
           "Diagonal", "Kronecker", "MatrixFree"]

_SMALL_MV = _k.SMALL_MV  # the same for a matrix-vector product
# total multiply-adds of a batch below which one thread does it all: high, because waking
# OpenMP workers next to OpenBLAS's spinning threads can cost milliseconds on a busy machine
_PARALLEL_MIN = 1 << 23
_VBLOCK = _k.BATCH_BLOCK  # samples per block of a batched chain
_PLAN_CACHE = {}         # (dims, link infos, order) -> ChainPlan, for jacobian_chain
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
# planning: mcfast._plan holds the cost model; _k.chain_program turns a plan into a program

def _plan_key(links, func, shapes_ok=False):
    """Check links -> (arrays, kinds, dims, batch, dtype, infos) for planning."""
    arrays, kinds, dims, batch, dtype = v.chain_links_args(links, func, shapes_ok=shapes_ok)
    infos = tuple(link_info(kind, a, (dims[k + 1], dims[k]))
                  for k, (a, kind) in enumerate(zip(arrays, kinds)))
    return arrays, kinds, dims, batch, dtype, infos


class ChainPlan:
    """The bracketing of a Jacobian chain Jn⋯J1, the mode of each product, and its cost.

    Made by :func:`chain_plan` (``ChainPlan(links, order=...)`` is the same). Calling a
    plan skips planning, so it is the way to multiply chains of the same shapes in a loop.

    Parameters
    ----------
    links : sequence
        Arrays, :class:`Diagonal`, :class:`Kronecker`, scipy.sparse matrices,
        LinearOperators, :class:`MatrixFree` or shape tuples, as for :func:`chain_plan`.
    order : {"optimal", "forward", "reverse"}
        As for :func:`chain_plan`.

    Attributes
    ----------
    flops : int
        Multiply-adds of one product (per sample: a batch of B chains costs B·flops), an
        exact Python int. dense·dense (p×q)(q×r) counts p·q·r, a product with a Diagonal
        p·r (the result's size), Diagonal·Diagonal n, sparse·sparse ⌈nnz·nnz/q⌉; an
        operator (sparse, Kronecker, matrix-free) applied to a block of r vectors r times
        its cost per vector (see :func:`chain_plan`).
    order : int or tuple
        The bracketing as nested pairs of 0-based link indices in flow order: a pair
        ``(a, b)`` is ``b @ a``, the product of ``a`` (applied first) and then ``b``. For
        three links ``((0, 1), 2)`` is ``J3 @ (J2 @ J1)``; a single link is ``0``.
    steps : tuple
        The same as a flat program: ``(left, right, mode)`` per product in execution
        order; ids below n are links, id n + t the result of step t. mode is "dense",
        "diag", "kron", "sparse" (scipy's sparse product), "tangent" (left applied to
        right's columns) or "adjoint" (right's adjoint applied to left's rows).
    dims : tuple of int
        ``(d_0, ..., d_n)``: link k (0-based) maps size d_k to d_{k+1}.
    kinds : tuple of str
        Each link's kind: "dense", "diag", "kron", "sparse" or "op" (matrix-free).
    diagonal : tuple of bool
        Which links are Diagonals.

    Notes
    -----
    ``str(plan)`` writes the bracketing with 1-based names in flow order, e.g.
    ``"J3 @ (J2 @ J1)"``; a product that applies an operator is written with its mode,
    ``"[J2 @ J1 | adjoint]"``. ``plan(links, out=None)`` needs links with the plan's
    ``dims`` and kinds (batch dimensions may differ), else raises ValueError. The pairs of
    ``order`` are tuples whose repr is written without recursion, so ``repr(plan.order)``
    works for chains of any length (comparing or pickling such deeply nested tuples still
    recurses once per level in Python itself: use ``steps`` for long chains).

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

    __slots__ = ("flops", "dims", "kinds", "steps", "_infos", "_root", "_prog", "_scratch",
                 "_small", "_how", "_order")
    flops: int
    dims: tuple[int, ...]
    kinds: tuple[str, ...]

    def __init__(self, links: Sequence[object], *, order: Order = "optimal") -> None:
        order = v.chain_order_arg(order, "chain_plan")
        _, kinds, dims, _, _, infos = _plan_key(links, "chain_plan", shapes_ok=True)
        self._build(dims, kinds, infos, order)

    @classmethod
    def _make(cls, dims, kinds, infos, order):
        self = object.__new__(cls)
        self._build(dims, kinds, infos, order)
        return self

    def _build(self, dims, kinds, infos, order):
        self.dims, self.kinds, self._infos = tuple(dims), tuple(kinds), tuple(infos)
        flops, steps, self._root = _plan.plan(self._infos, order)
        self._finish(flops, steps)
        # tiny dense chains take the compiled fast path, with this plan's order
        self._how = order if 2 <= len(kinds) <= 3 and set(kinds) == {"dense"} else None

    def _finish(self, flops, steps):
        self.flops, self.steps, self._order = flops, tuple(steps), None
        # the compiled kernels run chains of dense and Diagonal links whose products are
        # all small (hand loops, batched over threads); larger products go through
        # np.matmul, NumPy's BLAS, so a loop mixing mcfast and NumPy uses one BLAS pool
        self._prog, self._scratch, self._small = None, 0, True
        if len(self.kinds) > 1 and set(self.kinds) <= {"dense", "diag"}:
            # the steps and their scratch layout, the program mk.jacobian_chain_steps runs
            steps = np.array([st[:2] for st in self.steps], dtype=np.intp)
            prog, scratch, small, scaled = _k.chain_program(
                np.array(self.dims, dtype=np.intp), np.array(self.diagonal, dtype=np.uint8),
                steps)
            if small or scaled:
                self._prog, self._scratch, self._small = prog, scratch, small

    @property
    def diagonal(self) -> tuple[bool, ...]:
        return tuple(kind == "diag" for kind in self.kinds)

    @property
    def order(self) -> int | tuple[Any, Any]:
        if self._order is None:
            self._order = _plan.tree_of(len(self.kinds), self.steps)
        return self._order

    def __reduce__(self):
        return (_restore_plan, (self.dims, self.kinds, self._infos, self.flops, self.steps,
                                self._root, self._how))

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
        arrays, kinds, dims, batch, dtype, infos = _plan_key(links, "ChainPlan")
        if dims != self.dims or infos != self._infos:
            raise ValueError(f"ChainPlan: the links do not match the plan: planned dims "
                             f"{self.dims} with link kinds {self.kinds}, got dims {dims} "
                             f"with link kinds {kinds} (and the same sparse entries, "
                             f"Kronecker factor shapes and operator costs)")
        return self._execute(arrays, batch, dtype, out, "ChainPlan")

    # -- execution --------------------------------------------------------------------

    def _stacked(self, arrays, batch, shape, dtype, out, dense_out, diag_res):
        """A stack of square dense/Diagonal chains whose products are past the program's
        hand loops (n > 16) through the stack kernels, into `out` or a new array; None when
        the chain is not such a stack (the caller's general path)."""
        if (not batch or diag_res or not _stacks.ENABLED or len(arrays) < 2
                or not set(self.kinds) <= {"dense", "diag"}
                or not all(isinstance(a, np.ndarray) and a.dtype == dtype for a in arrays)):
            return None
        direct = out is not None and not dense_out and not v.overlaps(out, *arrays)
        res = out if direct else np.empty(shape, dtype=dtype)
        if _stacks.product(arrays, self.diagonal, self.dims, batch, res, self.order):
            return res
        return None

    def _execute(self, arrays, batch, dtype, out, func):
        dims, root = self.dims, self._root
        if root == "kron":
            K = self._run_general(arrays, dtype, func)
            if len(arrays) == 1:                         # a single link: a copy
                K = Kronecker(np.array(K.A), np.array(K.B))
            return _finish_kron(K, out, dtype, func)
        if root == "sparse":                             # every link sparse: CSR
            S = self._run_general(arrays, dtype, func)
            if any(S is a for a in arrays):              # a single link: a copy
                S = S.copy()
            return _finish_sparse(S, out, dtype, func)
        diag_res = root == "diag"
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
        nsamples = math.prod(batch)
        if self._prog is None:
            res = None
            empty_sum = 0 in dims      # an inner size 0: every entry is an empty sum
            if math.prod(shape) and not empty_sum:
                res = self._stacked(arrays, batch, shape, dtype, out, dense_out, diag_res)
            if res is None and math.prod(shape) and not empty_sum:
                value = self._run_general(arrays, dtype, func)
                if root == "dense" and len(arrays) == 1:
                    value = to_dense(self.kinds[0], value, dtype, f"{func}: links[0]")
                n = len(arrays)
                if (out is None and n > 1 and isinstance(value, np.ndarray)
                        and not any(i < n and self.kinds[i] == "op" for i in self.steps[-1][:2])
                        and value.shape == shape and value.dtype == dtype
                        and value.flags.c_contiguous and value.flags.writeable
                        and not v.overlaps(value, *[a for a in arrays
                                                    if isinstance(a, np.ndarray)])):
                    res = value         # the last product's own new array: no copy
            if res is None:
                res = np.empty(shape, dtype=dtype) if out is None or dense_out else out
                if res.size and empty_sum:
                    res.fill(0)
                elif res.size:
                    np.copyto(res, np.broadcast_to(value, shape))
        else:
            direct = out is not None and not dense_out and not v.overlaps(out, *arrays)
            res = out if direct else np.empty(shape, dtype=dtype)
            if res.size == 0 or nsamples == 0:
                pass
            elif 0 in dims:
                res.fill(0)                                 # an empty sum
            elif _stacks.ENABLED and _stacks.product(arrays, self.diagonal, dims, batch, res,
                                                     self.order):
                pass                                        # a stack of small square chains
            else:
                ops = [_operand(a, d, batch) for a, d in zip(arrays, self.diagonal)]
                nthreads = _threads(nsamples, self.flops, self._small)
                blocked = self._small and nsamples > 1     # a block of samples per step
                per = max(self._scratch, 1)
                width = -(-(per * (_VBLOCK if blocked else 1)) // 8) * 8  # whole cache lines
                _k.chain_product(
                    [o[0] for o in ops], np.array([o[1] for o in ops], dtype=np.intp),
                    np.array(batch, dtype=np.intp),
                    np.array([o[2] for o in ops], dtype=np.intp).reshape(len(ops),
                                                                         len(batch)),
                    self._prog, per, blocked, np.empty((nthreads, width), dtype=dtype),
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

    def _run_general(self, arrays, dtype, func):
        """The plan's steps in Python for chains with Kronecker, sparse or matrix-free links
        (and single links): every product through np.matmul or the link's methods."""
        n = len(arrays)
        names = [f"{func}: links[{k}]" for k in range(n)]
        vals = list(arrays)
        kinds = list(self.kinds)
        for left, right, mode in self.steps:
            lk, lv, rk, rv = kinds[left], vals[left], kinds[right], vals[right]
            if mode == "diag":
                val, kind = lv * rv, "diag"
            elif mode == "kron":
                val, kind = kron_product(lv, rv), "kron"
            elif mode == "sparse":
                # scipy's sparse @ sparse: CSR (the product of CSR links is)
                val, kind = (lv @ rv).tocsr(), "sparse"
            elif mode == "adjoint" or (mode == "dense" and rk == "diag"):
                val = apply_adjoint(rk, rv, to_dense(lk, lv, dtype, names[left % n]), dtype,
                                    names[right % n])
                kind = "dense"
            else:           # tangent, dense·dense, Diagonal · dense
                val = apply_forward(lk, lv, to_dense(rk, rv, dtype, names[right % n]), dtype,
                                    names[left % n])
                kind = "dense"
            vals.append(val)
            kinds.append(kind)
        return vals[-1] if n > 1 or kinds[0] in ("diag", "kron", "sparse", "dense") else vals[0]


def _restore_plan(dims, kinds, infos, flops, steps, root, how):
    """Unpickle a ChainPlan without planning again."""
    self = object.__new__(ChainPlan)
    self.dims, self.kinds, self._infos, self._root, self._how = dims, kinds, infos, root, how
    self._finish(flops, steps)
    return self


def _finish_kron(K, out, dtype, func):
    """A Kronecker result: the object itself, or its dense matrix written into out."""
    if out is None:
        return K
    v.check_out(out, K.shape, dtype, func)
    np.copyto(out, K.toarray())
    return out


def _finish_sparse(S, out, dtype, func):
    """A sparse result: the CSR matrix itself, or its dense matrix written into out."""
    if out is None:
        return S
    v.check_out(out, S.shape, dtype, func)
    np.copyto(out, S.toarray())
    return out


def _threads(nsamples, flops, small):
    """Threads for a batch: all it may use now for many small products, else one (BLAS
    threads). Decided at each call: threadpoolctl, OMP_NUM_THREADS and the CPU affinity
    hold, and a forked child runs serially (mcfast._kernels._threads)."""
    if small and nsamples > 1 and nsamples * max(flops, 1) >= _PARALLEL_MIN:
        return max(1, min(_effective_n_threads(), nsamples))
    return 1


def _operand(a, is_diag, batch):
    """A link as the kernels take it: (array, its meta row, batch strides) in elements; the
    meta row holds the META_* columns: row and column strides, diagonal, small (0 here).

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
    meta = [0] * _k.META_COLUMNS
    meta[_k.META_RS], meta[_k.META_CS], meta[_k.META_DIAG] = rs, cs, int(is_diag)
    return a, meta, bstr


def _cached_plan(dims, kinds, infos, order):
    key = (dims, infos, order)
    plan = _PLAN_CACHE.get(key)
    if plan is None:
        if len(_PLAN_CACHE) >= _PLAN_CACHE_MAX:
            _PLAN_CACHE.clear()
        plan = _PLAN_CACHE[key] = ChainPlan._make(dims, kinds, infos, order)
    return plan


# ---------------------------------------------------------------------------------------
# public functions

def chain_plan(links: Sequence[object], *, order: Order = "optimal") -> ChainPlan:
    """Plan the product Jn⋯J1 of a Jacobian chain without multiplying.

    Chooses the bracketing, and for each product its mode, with the fewest multiply-adds:
    the generalised Jacobian chain product (Naumann, arXiv 2003.05755 and 2406.11862).
    A product ``L @ R`` is a dense product, a Diagonal scaling, a product of Kronecker
    factors, a sparse product (scipy's, which stays sparse), or an operator applied to
    the other side's columns (tangent mode: ``L`` applied forward to the block ``R``) or
    rows (adjoint mode: ``R``'s adjoint applied to the rows of ``L``). The cost model
    (exact Python ints, whatever the sizes)::

        cost[i, j] = min_s cost[i, s] + cost[s+1, j] + pair(i, s, j)
        pair = p·q·r (dense·dense), p·r (with a Diagonal), n (Diagonal·Diagonal),
               the factor products (Kronecker·Kronecker with matching factors),
               ⌈nnz(L)·nnz(R)/q⌉ (sparse·sparse: stays sparse, with at most
                   that many and p·r stored entries),
               min(r·apply(L) + form(R), p·apply(R) + form(L)) (otherwise)

    where ``apply`` is one application to a vector (dense rows·cols, sparse its stored
    entries, Kronecker A⊗B the cheaper of A·X·Bᵀ's two orders, matrix-free its ``cost``)
    and ``form`` what making a factor dense costs (a matrix-free link: applied to an
    identity; a Kronecker: rows·cols). The sparse product's count is scipy's multiply-adds
    when the columns of L hold equally many entries (a periodic band, a re-indexing),
    near it for a band, an estimate otherwise. Up to 64 links the plan is the exact
    optimum (the matrix-chain DP, CLRS §15.2); longer chains get the cheapest of pure
    forward, pure reverse, a greedy pairing and the DP over blocks of 32 links -- never
    worse than a pure mode, near-optimal in practice (the nogil planner of the cimport
    API, ``mcfast.kernels.chain_order``, follows the same rule for dense and Diagonal
    links). Planning never recurses per link.

    Parameters
    ----------
    links : sequence
        ``[J1, ..., Jn]`` in data-flow order. Each is an array of shape
        ``(..., d_k, d_{k-1})``, a :class:`Diagonal`, a :class:`Kronecker`, a
        scipy.sparse matrix or array, a ``scipy.sparse.linalg.LinearOperator``, a
        :class:`MatrixFree`, or a shape tuple ``(..., d_k, d_{k-1})`` of integers; a shape
        tuple always denotes a dense link (to plan with another kind, pass the link: its
        values are not read).
    order : {"optimal", "forward", "reverse"}
        "forward" accumulates J1 first, ``Jn(...(J2 J1))``; "reverse" Jn first,
        ``((Jn Jn-1) ...) J1`` (each product in its cheaper mode).

    Returns
    -------
    ChainPlan
        With ``flops`` (per sample, an exact int), ``order`` (nested pairs of 0-based link
        indices in flow order), ``steps`` (the products and their modes), ``str(plan)``
        such as ``"J3 @ (J2 @ J1)"``, and callable as ``plan(links, out=None)`` on links
        of the same sizes and kinds.

    Raises
    ------
    ValueError
        Empty chain, a link that does not fit its neighbour, batch shapes that do not
        broadcast, an unknown order.
    TypeError
        A link that is None or not real, a shape tuple of non-integers.

    Examples
    --------
    >>> import numpy as np, mcfast as mc
    >>> plan = mc.chain_plan([(20, 25), (10, 20), (5, 10)])
    >>> str(plan), plan.flops
    ('(J3 @ J2) @ J1', 3500)
    >>> mc.chain_plan([(10, 1000), (10, 10), (1, 10)]).order   # a scalar loss: reverse
    (0, (1, 2))

    A bottleneck in the middle: each 100 × 100 matrix-free operator meets only 3 vectors.

    >>> from scipy.sparse.linalg import aslinearoperator
    >>> op = aslinearoperator(np.eye(100))
    >>> plan = mc.chain_plan([op, (3, 100), (100, 3), op])
    >>> str(plan)
    '[J4 @ J3 | tangent] @ [J2 @ J1 | adjoint]'
    >>> plan.flops, mc.chain_plan([op, (3, 100), (100, 3), op], order="forward").flops
    (90000, 1060000)
    """
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
    """The Jacobian of a composition, ∂yₙ/∂x = Jn ⋯ J2 J1.

    Parameters
    ----------
    links : sequence
        ``[J1, ..., Jn]`` in data-flow order, Jk = ∂y_k/∂y_{k-1} of shape
        ``(..., d_k, d_{k-1})``, a :class:`Diagonal` with data ``(..., d_k)``, or a 2-D
        :class:`Kronecker`, scipy.sparse matrix or array (any format), LinearOperator or
        :class:`MatrixFree`. Leading batch dimensions broadcast as in ``np.matmul``; a
        link without them is shared by the whole batch.
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
    ndarray, Diagonal, Kronecker or scipy.sparse CSR
        Shape ``batch + (d_n, d_0)``; a single link gives a copy; a chain of Diagonals
        gives a Diagonal, a chain of Kroneckers with matching factors a Kronecker, a chain
        of scipy.sparse links a CSR of the last link's kind (sparse array or matrix) (with
        ``out=``, the dense matrix of either is written there); anything else a dense
        ndarray. The dtype is float32 when every link is float16 or float32, else float64.

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
    fast = _k.fast_chain(links, order) if out is None else None
    if fast is None and _stacks.ENABLED and isinstance(order, str) and order in _STACK_MODES:
        fast = _stack_k.fast_stack(links, None, _STACK_MODES[order], Diagonal,
                                   order == "optimal", out)
    if fast is not None:
        return fast
    order = v.chain_order_arg(order, "jacobian_chain")
    arrays, kinds, dims, batch, dtype, infos = _plan_key(links, "jacobian_chain")
    return _cached_plan(dims, kinds, infos, order)._execute(arrays, batch, dtype, out,
                                                            "jacobian_chain")


def _vector_chain(links, vector, out, grad):
    fast = None
    if out is None:
        fast = _k.fast_vector(links, vector, grad, Diagonal)
        if fast is None:
            fast = _k.fast_kron_vector(links, vector, grad, Kronecker)
    if fast is None and _stacks.ENABLED:
        fast = _stack_k.fast_stack(links, vector, _stack_k.GRAD if grad else _stack_k.TANGENT,
                                   Diagonal, False, out)
    if fast is not None:
        return fast
    func, name = ("grad_chain", "grad") if grad else ("tangent_chain", "tangent")
    arrays, kinds, dims, batch, vec, dtype = v.chain_vector_args(links, vector, name, func)
    names = [f"{func}: links[{k}]" for k in range(len(kinds))]
    for k, kind in enumerate(kinds):
        if grad and kind == "op" and not arrays[k].adjoint:
            raise ValueError(f"{names[k]} (operator of shape {arrays[k].shape}) has no "
                             f"adjoint (rmatvec or rmatmat): grad_chain applies the adjoint "
                             f"of every link (tangent_chain and jacobian_chain do not need it)")
    shape = batch + ((dims[0],) if grad else (dims[-1],))
    if out is not None:
        v.check_out(out, shape, dtype, func)
    plain = "kron" not in kinds and "sparse" not in kinds and "op" not in kinds
    n = len(kinds)
    if not plain and out is None and not batch and vec.ndim == 1 and 0 not in dims:
        # one vector through any links: 1-D products (NumPy's BLAS, the factors of a
        # Kronecker, the links' own methods), one link at a time, no copies
        x = vec
        if grad:
            for k in range(n - 1, -1, -1):
                x = vector_adjoint(kinds[k], arrays[k], x, dtype, names[k])
        else:
            for k in range(n):
                x = vector_forward(kinds[k], arrays[k], x, dtype, names[k])
        if (kinds[k] != "op" and x.dtype == dtype and x.flags.c_contiguous
                and x.flags.writeable and not v.overlaps(
                    x, vec, *[a for a in arrays if isinstance(a, np.ndarray)])):
            return x        # a new array of NumPy's (not an operator's buffer): no copy
        return np.array(x, dtype=dtype)
    diag = tuple(kind == "diag" for kind in kinds)
    direct = out is not None and plain and not v.overlaps(out, vec, *arrays)
    res = out if direct else np.empty(shape, dtype=dtype)
    big = max(dims[k] * dims[k + 1] for k in range(n)) > _SMALL_MV
    if res.size == 0:
        pass
    elif 0 in dims:
        res.fill(0)                                     # an empty sum
    elif not plain or (big and vec.ndim == 1 and not batch):
        # operators, or one vector through large links: products by np.matmul (NumPy's
        # BLAS) and the links' own methods, one link at a time
        x = vec
        for k in (range(n - 1, -1, -1) if grad else range(n)):
            if grad:
                x = apply_adjoint(kinds[k], arrays[k], x[..., None, :], dtype,
                                  names[k])[..., 0, :]
            else:
                x = apply_forward(kinds[k], arrays[k], x[..., :, None], dtype,
                                  names[k])[..., 0]
        if (out is None and kinds[k] != "op" and x.shape == shape and x.dtype == dtype
                and x.flags.c_contiguous and x.flags.writeable
                and not v.overlaps(x, vec, *[a for a in arrays if isinstance(a, np.ndarray)])):
            return x        # a new array of NumPy's (not an operator's buffer): no copy
        np.copyto(res, np.broadcast_to(x, shape))
    elif (vec.ndim > 1 and all(a.ndim == 1 + (not d) for a, d in zip(arrays, diag))
          and big):
        # links shared by a batch of vectors: matrix products through BLAS.
        # grad: G (N, d_n) @ Jn ⋯ J1, the chain [J1, ..., Jn, G] in reverse order;
        # tangent: T (N, d_0) @ J1ᵀ ⋯ Jnᵀ, the chain [Jnᵀ, ..., J1ᵀ, T] in reverse order.
        rows = vec.reshape(-1, vec.shape[-1])
        if grad:
            links2, kinds2, dims2 = arrays + [rows], kinds + ("dense",), dims + (rows.shape[0],)
        else:
            links2 = [a if d else a.T for a, d in zip(arrays[::-1], diag[::-1])] + [rows]
            kinds2, dims2 = kinds[::-1] + ("dense",), dims[::-1] + (rows.shape[0],)
        infos2 = tuple(link_info(kind, None, (dims2[k + 1], dims2[k]))
                       for k, kind in enumerate(kinds2))
        flat = res.reshape(rows.shape[0], shape[-1])
        _cached_plan(dims2, kinds2, infos2, "reverse")._execute(links2, (), dtype, flat, func)
    elif plain and _stacks.ENABLED and _stacks.vector(arrays, diag, dims, batch, vec, grad, res):
        pass                                            # a stack of small square chains
    else:
        ops = [_operand(a, d, batch) for a, d in zip(arrays, diag)]
        work = sum(dims[k] * dims[k + 1] for k in range(len(diag)))
        small = True
        for k, o in enumerate(ops):
            o[1][_k.META_SMALL] = int(dims[k] * dims[k + 1] <= _SMALL_MV)
            small = small and bool(o[1][_k.META_SMALL])
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
    links : sequence
        ``[J1, ..., Jn]`` as for :func:`jacobian_chain`, of any link kind: Kronecker,
        sparse and matrix-free links are applied through their factors, stored entries or
        products (``rmatvec``/``rmatmat`` for grad_chain, ``matvec``/``matmat`` for
        tangent_chain), never formed.
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
    links : sequence
        ``[J1, ..., Jn]`` as for :func:`jacobian_chain`, of any link kind: Kronecker,
        sparse and matrix-free links are applied through their factors, stored entries or
        products (``rmatvec``/``rmatmat`` for grad_chain, ``matvec``/``matmat`` for
        tangent_chain), never formed.
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
