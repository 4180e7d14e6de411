"""The chain planner: one cost model for every link kind, exact in Python integers.

A chain J_n ⋯ J_1 is planned over *segments*: the product of links i..j is formed either
by multiplying two formed sub-segments, or, when one side is an operator that cannot or
should not be formed (matrix-free, sparse, Kronecker), by applying that operator to the
other side's columns (tangent mode: propagate a block forward) or rows (adjoint mode:
propagate a block backward) -- the generalised Jacobian chain product of Naumann
(arXiv 2003.05755, 2406.11862). Pure tangent mode over a segment is the left-deep tree
whose products all apply the later link to the block so far; pure adjoint mode the
right-deep tree whose products all apply the earlier link's adjoint.

The cost model (multiply-adds, exact Python ints whatever the sizes):

* a link applied to one vector costs ``apply``: dense rows·cols, Diagonal rows, sparse
  its stored entries, Kronecker A⊗B the cheaper order of A·X·Bᵀ, matrix-free its
  ``cost`` (default rows·cols); the adjoint costs the same;
* *forming* a segment as a matrix: a single link costs nothing except a matrix-free one
  (min(cols·apply, rows·apply): applied to an identity; cols·apply without an adjoint)
  and a Kronecker taken dense
  (rows·cols, what ``np.kron`` multiplies);
* the product ``L @ R`` (L: p × q applied after R: q × r) costs
  - Diagonal·Diagonal: q (stays Diagonal),
  - Kronecker·Kronecker with matching factors: the two factor products (stays Kronecker),
  - sparse·sparse: ⌈nnz(L)·nnz(R)/q⌉, scipy's sparse product (stays sparse, with at most
    that many and at most p·r stored entries),
  - otherwise min(tangent = r·apply(L) + form(R), adjoint = p·apply(R) + form(L)), dense
    (tangent when R is an operator without adjoint products).
    A dense·dense product is p·q·r either way; with a Diagonal it is p·r.

Up to ``DP_MAX`` links the bracketing is the exact optimum of this model by the
matrix-chain dynamic programme (O(n³), CLRS §15.2 with the cost above). Beyond, the
cheapest of four plans: pure forward, pure reverse, a greedy pairing that merges the
adjacent pair with the least cost per unit of the size it eliminates (O(n log n)), and
the DP inside blocks of BLOCK links followed by the DP over the blocks (O(n·BLOCK²)).
Never worse than either pure mode; within a small factor of the optimum on random chains
(tests/test_chain_plan.py measures it). No function here recurses per link.

A plan is a list of *steps* ``(left, right, mode)`` in execution order: operand ids below
n are links, id n + t is the result of step t; ``left`` is applied after ``right``.

A chain of dense and Diagonal links only is planned by the compiled nogil planner
(``mcfast._kernels._chain.plan_dense``, the planner the cimport API ``mcfast.kernels``
runs), the same rule in saturating machine integers; where a cost would pass
PY_SSIZE_T_MAX, or past PLAN_MAX_LINKS links, the planner here does it in exact integers.
"""

import heapq

import numpy as np

from ._kernels import _chain as _k
from ._kernels._chain import BLOCK, DP_MAX   # defined once, by the nogil planner

__all__ = ["LinkInfo", "Pair", "plan", "tree_of", "tree_str", "kron_orders", "kron_apply",
           "DP_MAX", "MODES", "FORWARD_ONLY"]

# DP_MAX: links up to which the bracketing is the exact optimum (the DP); BLOCK: links per
# block of the block DP beyond DP_MAX

# how a product is computed
MODES = ("dense", "diag", "kron", "sparse", "tangent", "adjoint")
# the `factors` of an operator link without adjoint products: formed and applied forward
FORWARD_ONLY = "forward only"


class LinkInfo(tuple):
    """What the planner knows of a link: (kind, rows, cols, apply, factors).

    kind is "dense", "diag", "sparse", "kron" or "op"; apply the multiply-adds of one
    application to a vector; factors ((pa, qa), (pb, qb)) for a Kronecker, FORWARD_ONLY
    for an operator without adjoint products, else None.
    """

    __slots__ = ()

    def __new__(cls, kind, rows, cols, apply=None, factors=None):
        rows, cols = int(rows), int(cols)
        if apply is None:
            apply = rows if kind == "diag" else rows * cols
        return tuple.__new__(cls, (kind, rows, cols, int(apply), factors))

    kind = property(lambda self: self[0])
    rows = property(lambda self: self[1])
    cols = property(lambda self: self[2])
    apply = property(lambda self: self[3])
    factors = property(lambda self: self[4])

    def __reduce__(self):
        return (type(self), tuple(self))

    def __repr__(self):
        return f"LinkInfo{tuple(self)!r}"


def kron_orders(factors):
    """Multiply-adds of (A ⊗ B) x = vec(A X Bᵀ), A (pa, qa), B (pb, qb), in its two orders:
    (A X) Bᵀ and A (X Bᵀ). The adjoint xᵀ(A ⊗ B) = vec(Aᵀ X B) costs the same two numbers:
    A (X Bᵀ)'s for (Aᵀ X) B and (A X) Bᵀ's for Aᵀ (X B)."""
    (pa, qa), (pb, qb) = factors
    return pa * qa * qb + pa * qb * pb, qa * qb * pb + pa * qa * pb


def kron_apply(factors):
    """Multiply-adds of (A ⊗ B) x in the cheaper order (see `kron_orders`)."""
    return min(kron_orders(factors))


# -- segments ------------------------------------------------------------------------------
# A formed segment is (kind, rows, cols, apply, form, factors): kind "dense", "diag",
# "kron", "sparse" or "op"; apply: multiply-adds of applying it to one vector; form: of
# turning it into a dense matrix; factors: a Kronecker's factor shapes.

def _leaf(info):
    kind, rows, cols, apply, factors = info
    if kind == "op":        # applied to an identity, forward (cols) or adjoint (rows)
        form = cols * apply if factors == FORWARD_ONLY else min(cols * apply, rows * apply)
    elif kind == "kron":
        form = rows * cols
    else:
        form = 0
    return (kind, rows, cols, apply, form, factors)


_PLAIN = ("dense", "diag")


def _merge(left, right):
    """(cost, mode, segment) of left @ right, two formed segments."""
    lk, p, q, lap, lform, lf = left
    rk, _, r, rap, rform, rf = right
    if lk == "diag" and rk == "diag":
        return q, "diag", ("diag", p, r, p, 0, None)
    if lk == "kron" and rk == "kron" and lf[0][1] == rf[0][0] and lf[1][1] == rf[1][0]:
        (pa, qa), (pb, qb) = lf
        ra, rb = rf[0][1], rf[1][1]
        factors = ((pa, ra), (pb, rb))
        return (pa * qa * ra + pb * qb * rb, "kron",
                ("kron", p, r, kron_apply(factors), p * r, factors))
    if lk == "dense" and rk == "dense":
        return p * q * r, "dense", ("dense", p, r, p * r, 0, None)
    if lk == "sparse" and rk == "sparse":
        # sparse @ sparse (scipy's SpGEMM): each of R's entries meets, on average,
        # the entries of one column of L: nnz(L)·nnz(R)/q multiply-adds (rounded up; exact
        # when L's columns hold equally many entries, as in banded matrices). The product
        # stays sparse, with at most one entry per multiply-add (and at most p·r). Never
        # dearer than applying either side to the other made dense (r·nnz(L), p·nnz(R)).
        spgemm = -(-lap * rap // q) if q else 0
        return spgemm, "sparse", ("sparse", p, r, min(p * r, spgemm), 0, None)
    tangent = r * lap + rform
    adjoint = p * rap + lform
    if lk in _PLAIN and rk in _PLAIN:       # a Diagonal scaling a dense matrix: p·r
        return min(tangent, adjoint), "dense", ("dense", p, r, p * r, 0, None)
    if tangent <= adjoint or (rk == "op" and rf == FORWARD_ONLY):   # (no adjoint of R)
        return tangent, "tangent", ("dense", p, r, p * r, 0, None)
    return adjoint, "adjoint", ("dense", p, r, p * r, 0, None)


# -- the three planners ----------------------------------------------------------------------

def _dp(leaves, ids=None, first=None):
    """Exact optimum by the matrix-chain DP: cost[i][j] = min_s cost[i][s] + cost[s+1][j]
    + merge(seg[i..s] then seg[s+1..j]); ties go to fewer adjoint products, then to the
    smallest s.

    `ids` are the operand ids of the leaves (default 0..n-1) and `first` the id of the
    first step's result (default n): the DP also runs on blocks of a longer chain.
    """
    n = len(leaves)
    ids = list(range(n)) if ids is None else ids
    first = n if first is None else first
    cost = [[0] * n for _ in range(n)]
    seg = [[None] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    mode = [[None] * n for _ in range(n)]
    for i in range(n):
        seg[i][i] = leaves[i]
    # adjoint[i][j]: products of segment i..j in adjoint mode. Between bracketings of equal
    # cost the one with fewer adjoint products wins: applying a CSR matrix or an operator
    # forward (S @ block, matmat) is faster than its adjoint (block @ S, rmatmat) at equal
    # multiply-adds (a banded 10^4 sparse link between dense layers: 4 ms against 10-14 ms)
    adjoint = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best = None
            ci, si = cost[i], seg[i]
            for s in range(i, j):
                c, m, sg = _merge(seg[s + 1][j], si[s])
                c += ci[s] + cost[s + 1][j]
                a = adjoint[i][s] + adjoint[s + 1][j] + (m == "adjoint")
                if best is None or c < best or (c == best and a < badj):
                    best, bs, bm, bseg, badj = c, s, m, sg, a
            cost[i][j], split[i][j], mode[i][j], seg[i][j] = best, bs, bm, bseg
            adjoint[i][j] = badj
    # steps in post-order, without recursion
    steps, stack, where = [], [(0, n - 1, False)], {}
    while stack:
        i, j, done = stack.pop()
        if i == j:
            where[i, j] = ids[i]
            continue
        s = split[i][j]
        if done:
            steps.append((where[s + 1, j], where[i, s], mode[i][j]))
            where[i, j] = first + len(steps) - 1
        else:
            stack += [(i, j, True), (s + 1, j, False), (i, s, False)]
    return cost[0][n - 1], steps, seg[0][n - 1]


def _blocks(leaves):
    """The DP inside consecutive blocks of BLOCK links, then the DP over the blocks."""
    n = len(leaves)
    total, steps, block_segs, block_ids = 0, [], [], []
    for start in range(0, n, BLOCK):
        part = leaves[start:start + BLOCK]
        if len(part) == 1:
            block_segs.append(part[0])
            block_ids.append(start)
            continue
        c, st, sg = _dp(part, list(range(start, start + len(part))), n + len(steps))
        total += c
        steps += st
        block_segs.append(sg)
        block_ids.append(steps and n + len(steps) - 1)
    if len(block_segs) > 1:
        c, st, sg = _dp(block_segs, block_ids, n + len(steps))
        total += c
        steps += st
    else:
        sg = block_segs[0]
    return total, steps, sg


def _deep(leaves, forward):
    """Left-deep (forward: J1 first) or right-deep (reverse: Jn first) bracketing."""
    n = len(leaves)
    total, steps = 0, []
    if forward:
        acc, acc_id = leaves[0], 0
        for k in range(1, n):
            c, m, acc = _merge(leaves[k], acc)
            total += c
            steps.append((k, acc_id, m))
            acc_id = n + len(steps) - 1
    else:
        acc, acc_id = leaves[n - 1], n - 1
        for k in range(n - 2, -1, -1):
            c, m, acc = _merge(acc, leaves[k])
            total += c
            steps.append((acc_id, k, m))
            acc_id = n + len(steps) - 1
    return total, steps, acc


def _greedy(leaves):
    """Merge the adjacent pair whose product is cheapest until one segment is left."""
    n = len(leaves)
    seg = list(leaves)
    ident = list(range(n))              # operand id of the segment starting at link k
    nxt = list(range(1, n + 1))         # start of the next segment (n: none)
    prv = list(range(-1, n - 1))
    version = [0] * n
    heap = []

    def push(a):
        b = nxt[a]
        if b < n:
            c, _, _ = _merge(seg[b], seg[a])
            # cost per unit of the size the product eliminates (p·r for dense·dense)
            heapq.heappush(heap, (c / max(seg[a][1], 1), c, a, version[a], version[b]))

    for a in range(n - 1):
        push(a)
    total, steps = 0, []
    while heap:
        _, _, a, va, vb = heapq.heappop(heap)
        b = nxt[a]
        if b >= n or version[a] != va or version[b] != vb:
            continue                    # stale: a or its neighbour changed since
        c, m, merged = _merge(seg[b], seg[a])
        total += c
        steps.append((ident[b], ident[a], m))
        seg[a], ident[a] = merged, n + len(steps) - 1
        version[a] += 1
        version[b] += 1
        nxt[a] = nxt[b]
        if nxt[b] < n:
            prv[nxt[b]] = a
        if prv[a] >= 0:
            push(prv[a])
        push(a)
    return total, steps, seg[0]


def plan(infos, order="optimal"):
    """Plan the chain of links described by `infos` (LinkInfo, flow order).

    Returns (flops, steps, root kind): flops the exact multiply-adds (a single matrix-free
    link counts its forming), steps as in the module docstring, root kind the kind of the
    result: "diag", "kron", "sparse" or "dense".
    """
    if len(infos) > 1 and all(info[0] in _PLAIN for info in infos):
        best = _plain_plan(infos, order)
        if best is not None:
            return best
    leaves = [_leaf(info) for info in infos]
    n = len(leaves)
    if n == 1:
        kind = leaves[0][0]
        if kind in ("diag", "kron", "sparse"):
            return 0, [], kind
        return leaves[0][4], [], "dense"
    if order == "forward":
        best = _deep(leaves, True)
    elif order == "reverse":
        best = _deep(leaves, False)
    elif n <= DP_MAX:
        best = _dp(leaves)
    else:
        best = min(_deep(leaves, True), _deep(leaves, False), _greedy(leaves),
                   _blocks(leaves), key=lambda res: res[0])
        best = (best[0], _postorder(n, best[1]), best[2])
    flops, steps, root = best
    return flops, steps, root[0]


def _plain_plan(infos, order):
    """`plan` for a chain of dense and Diagonal links: the nogil planner of the compiled
    kernels (the one mcfast.kernels.chain_order runs), or None where its costs would pass
    PY_SSIZE_T_MAX or the chain is longer than its tables (then the planner here, exact)."""
    n = len(infos)
    dims = np.empty(n + 1, dtype=np.intp)
    diag = np.empty(n, dtype=np.uint8)
    try:
        dims[0] = infos[0][2]
        for k, info in enumerate(infos):
            dims[k + 1] = info[1]
            diag[k] = info[0] == "diag"
    except OverflowError:           # a size past PY_SSIZE_T_MAX
        return None
    res = _k.plan_dense(dims, diag, order)
    if res is None:
        return None
    total, pairs = res
    isdiag = [bool(f) for f in diag]
    steps = []
    for left, right in pairs.tolist():
        both = isdiag[left] and isdiag[right]
        steps.append((left, right, "diag" if both else "dense"))
        isdiag.append(both)
    return total, steps, "diag" if isdiag[-1] else "dense"


def _postorder(n, steps):
    """The same bracketing with its steps in the DP's post-order (the order of `_dp` and
    of the nogil planner's chain_steps), whatever order they were merged in."""
    lo, hi = list(range(n)), list(range(n))
    at = {}                             # (first link, last link) -> (split, mode)
    for left, right, mode in steps:
        lo.append(lo[right])
        hi.append(hi[left])
        at[lo[right], hi[left]] = (hi[right], mode)
    out, stack, where = [], [(0, n - 1, False)], {}
    while stack:
        i, j, done = stack.pop()
        if i == j:
            where[i, j] = i
            continue
        s, mode = at[i, j]
        if done:
            out.append((where[s + 1, j], where[i, s], mode))
            where[i, j] = n + len(out) - 1
        else:
            stack += [(i, j, True), (s + 1, j, False), (i, s, False)]
    return out


# -- the bracketing as nested pairs and as text, iteratively ---------------------------------

class Pair(tuple):
    """A node ``(first, then)`` of a bracketing: a plain tuple whose repr is written
    without recursion, so that the nested pairs of a chain of thousands of links print
    (a nested tuple's own repr recurses once per level and hits Python's limit)."""

    __slots__ = ()

    def __repr__(self):
        parts, stack = [], [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, tuple):
                stack += [")", item[1], ", ", item[0], "("]
            else:
                parts.append(repr(item))
        return "".join(parts)

    __str__ = __repr__


def tree_of(n, steps):
    """The bracketing as nested pairs (first, then) of 0-based link indices."""
    if not steps:
        return 0
    nodes = list(range(n))
    for left, right, _ in steps:
        nodes.append(Pair((nodes[right], nodes[left])))
    return nodes[-1]


def tree_str(n, steps):
    """The bracketing as text, e.g. ``J3 @ (J2 @ J1)``; a product computed by applying an
    operator, or a sparse product, is marked with its mode, e.g. ``[J4 @ J3 | tangent]``."""
    if not steps:
        return "J1"
    text = [f"J{k + 1}" for k in range(n)]
    atom = [True] * n
    for t, (left, right, mode) in enumerate(steps):
        lt = text[left] if atom[left] else f"({text[left]})"
        rt = text[right] if atom[right] else f"({text[right]})"
        if mode in ("tangent", "adjoint", "sparse"):
            text.append(f"[{lt} @ {rt} | {mode}]")
            atom.append(True)
        else:
            text.append(f"{lt} @ {rt}")
            atom.append(False)
    return text[-1]
