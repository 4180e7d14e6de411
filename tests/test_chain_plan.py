"""The chain planner: exact flops for any sizes, long chains without recursion, integer shapes."""

import ast
import functools
import itertools
import pickle
import sys

import numpy as np
import pytest

import mcfast as mc
from mcfast import _plan
from mcfast import reference as ref

MODS = pytest.mark.parametrize("mod", [mc, ref], ids=["fast", "reference"])


def _textbook_min(dims, diag=None):
    """The fewest multiply-adds of a dense/Diagonal chain over every bracketing, by an
    independent memoised recursion (small n only): p·q·r dense, p·r with one Diagonal
    side, n for two."""
    n = len(dims) - 1
    diag = diag or (False,) * n

    @functools.lru_cache(maxsize=None)
    def best(i, j):     # links i..j (0-based)
        if i == j:
            return 0
        out = None
        for s in range(i, j):
            ld, rd = all(diag[s + 1:j + 1]), all(diag[i:s + 1])
            pair = (dims[i] if ld and rd else dims[j + 1] * dims[i] if ld or rd
                    else dims[j + 1] * dims[s + 1] * dims[i])
            c = best(i, s) + best(s + 1, j) + pair
            out = c if out is None else min(out, c)
        return out
    return best(0, n - 1)


def _shapes(dims):
    return [(dims[k + 1], dims[k]) for k in range(len(dims) - 1)]


# --- item 4: exact arithmetic --------------------------------------------------------

@MODS
def test_flops_exact_for_huge_square_links(mod):
    plan = mod.chain_plan([(2 ** 22, 2 ** 22)] * 4)
    assert plan.flops == 3 * 2 ** 66
    assert type(plan.flops) is int


@MODS
def test_flops_exact_and_order_right_past_int64(mod):
    shapes = [(3, 2 ** 40), (2 ** 40, 3)] * 2
    dims = (2 ** 40, 3, 2 ** 40, 3, 2 ** 40)
    plan = mod.chain_plan(shapes)
    assert plan.dims == dims
    assert plan.flops == _textbook_min(dims)
    # every bracketing's cost, with Python ints: the plan's is the least
    for order in ("forward", "reverse"):
        assert mod.chain_plan(shapes, order=order).flops >= plan.flops


@pytest.mark.parametrize("seed", range(6))
def test_flops_exact_random_huge_dims(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 8))
    dims = tuple(int(2 ** rng.integers(0, 45)) + int(rng.integers(0, 7)) for _ in range(n + 1))
    plan = mc.chain_plan(_shapes(dims))
    assert plan.flops == _textbook_min(dims)
    # the tree's cost recomputed from the order with Python ints
    assert plan.flops == _tree_cost(plan.order, dims)


def _tree_cost(tree, dims):
    """The multiply-adds of a bracketing of dense links, iteratively."""
    total, stack = 0, [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, int):
            continue
        (lo, s), (_, hi) = _span(t[0]), _span(t[1])
        total += dims[hi + 1] * dims[s + 1] * dims[lo]
        stack += [t[0], t[1]]
    return total


def _span(t):
    """(first link, last link) of a subtree."""
    lo = t
    while not isinstance(lo, int):
        lo = lo[0]
    hi = t
    while not isinstance(hi, int):
        hi = hi[1]
    return lo, hi


@pytest.mark.parametrize("seed", range(20))
def test_dp_is_optimal_with_diagonals(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 8))
    dims = [int(rng.integers(1, 40))]
    diag = []
    links = []
    for _ in range(n):
        if rng.random() < 0.3:
            diag.append(True)
            dims.append(dims[-1])
            links.append(mc.Diagonal(np.ones(dims[-1])))
        else:
            diag.append(False)
            dims.append(int(rng.integers(1, 40)))
            links.append((dims[-1], dims[-2]))
    assert mc.chain_plan(links).flops == _textbook_min(tuple(dims), tuple(diag))


# --- item 10: integers only ---------------------------------------------------------

@MODS
@pytest.mark.parametrize("bad", [(2.7, 3.9), ("2", "3"), (2.0, 3), (True, 3),
                                 (np.float64(2), 3)])
def test_shape_tuples_must_be_integers(mod, bad):
    with pytest.raises(TypeError, match=r"chain_plan: links\[0\] is a tuple but not a shape "
                                        r"of integers"):
        mod.chain_plan([bad])


@MODS
def test_numpy_integer_shapes_accepted(mod):
    plan = mod.chain_plan([(np.int64(3), np.int32(2)), (np.uint8(4), 3)])
    assert plan.dims == (2, 3, 4) and plan.flops == 24
    assert all(type(d) is int for d in plan.dims)


# --- item 5: long chains ------------------------------------------------------------

def _long_links(rng, n, size=3):
    return [np.eye(size) + 0.05 * rng.standard_normal((size, size)) for _ in range(n)]


@pytest.mark.parametrize("n", [1100, 2000])
@pytest.mark.parametrize("order", ["optimal", "forward", "reverse"])
def test_long_chains_no_recursion(n, order):
    rng = np.random.default_rng(n)
    links = _long_links(rng, n)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)          # anything recursing per link would fail here
    try:
        plan = mc.chain_plan(links, order=order)
        text = str(plan)
        J = mc.jacobian_chain(links, order=order)
        J2 = plan(links)
        restored = pickle.loads(pickle.dumps(plan))
        g = mc.grad_chain(links, np.ones(3))
        t = mc.tangent_chain(links, np.ones(3))
        order_tree = plan.order
        J_ref = ref.jacobian_chain(links, order=order)
        text_ref = str(ref.chain_plan(links, order=order))
    finally:
        sys.setrecursionlimit(limit)
    assert text.count("J") == n and len(plan.steps) == n - 1
    assert isinstance(order_tree, tuple)
    expect = np.eye(3)
    for a in links:
        expect = a @ expect
    np.testing.assert_allclose(J, expect, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(J2, expect, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, np.ones(3) @ expect, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(t, expect @ np.ones(3), rtol=1e-10, atol=1e-12)
    assert restored.flops == plan.flops and str(restored) == text
    np.testing.assert_allclose(J_ref, expect, rtol=1e-10, atol=1e-12)
    assert text_ref == text


@MODS
@pytest.mark.parametrize("order", ["forward", "reverse", "optimal"])
def test_repr_of_a_long_chains_order(mod, order):
    # plan.order nests one pair per level: its repr is written without recursion, and
    # reads as the tuple it is
    n = 2000
    shapes = [(3, 3)] * n
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        plan = mod.chain_plan(shapes, order=order)
        text, text2 = repr(plan.order), str(plan.order)
    finally:
        sys.setrecursionlimit(limit)
    assert text == text2 and text.count("(") == n - 1 and text.count(",") == n - 1
    if order == "forward":        # ((((0, 1), 2), 3), ...)
        assert text == "(" * (n - 1) + "0" + "".join(f", {k})" for k in range(1, n))
    elif order == "reverse":      # (0, (1, (2, ...)))
        assert text == "".join(f"({k}, " for k in range(n - 1)) + f"{n - 1}" + ")" * (n - 1)
    # the same text as a plain nested tuple's repr, where that does not recurse too deep
    short = mod.chain_plan([(3, 2), (4, 3), (5, 4), (1, 5)], order=order).order
    assert isinstance(short, tuple) and ast.literal_eval(repr(short)) == short
    assert repr(mod.chain_plan([(3, 2)]).order) == "0"


def test_long_chain_heuristic_never_worse_than_pure_modes():
    rng = np.random.default_rng(7)
    for n in (_plan.DP_MAX + 1, 150, 2000):
        dims = [int(d) for d in rng.choice([2, 5, 60, 300], size=n + 1)]
        shapes = _shapes(dims)
        opt = mc.chain_plan(shapes).flops
        assert opt <= mc.chain_plan(shapes, order="forward").flops
        assert opt <= mc.chain_plan(shapes, order="reverse").flops


@pytest.mark.parametrize("seed", range(3))
def test_long_chain_heuristic_near_the_optimum(seed):
    # past DP_MAX links the plan is a heuristic; against the exact DP on 100 links
    rng = np.random.default_rng(seed)
    n = 100
    dims = [int(rng.choice([rng.integers(1, 10), rng.integers(50, 500)])) for _ in range(n + 1)]
    infos = [_plan.LinkInfo("dense", dims[k + 1], dims[k]) for k in range(n)]
    exact = _plan._dp([_plan._leaf(i) for i in infos])[0]
    heuristic = mc.chain_plan(_shapes(dims)).flops
    assert exact <= heuristic <= 2 * exact


def test_fast_entry_order_is_the_planners():
    # the compiled 2/3-link entry plans with the nogil planner: the same choice and flops
    # as mcfast._plan, for every order
    from mcfast._kernels import _chain as kern
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(2, 4))
        d = tuple(int(x) for x in rng.integers(1, 12, size=n + 1))
        links = [rng.standard_normal((d[k + 1], d[k])) for k in range(n)]
        for order in ("optimal", "forward", "reverse"):
            plan = mc.chain_plan(links, order=order)
            reverse, first, total = kern.fast_chain_plan(d, order)
            assert total == plan.flops
            if n == 3:
                assert plan.order == ((0, (1, 2)) if reverse else ((0, 1), 2))
                first_step = plan.steps[0]
                assert first == d[first_step[0] + 1] * d[first_step[1] + 1] * d[first_step[1]]
            np.testing.assert_allclose(mc.jacobian_chain(links, order=order), plan(links),
                                       rtol=1e-12)
    assert kern.fast_chain_plan((2, 3, 4), "sideways")[0] == -1


@pytest.mark.parametrize("shapes", [[(2 ** 22, 2 ** 22)] * 4, [(3, 2 ** 40), (2 ** 40, 3)] * 2,
                                    [(5, 4), (6, 5), (7, 6)]])
def test_plan_pickles_at_every_protocol(shapes):
    plan = mc.chain_plan(shapes)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(plan, protocol))
        assert (back.flops, back.order, back.dims, str(back)) == (
            plan.flops, plan.order, plan.dims, str(plan))


def test_all_bracketings_small_chain():
    # every bracketing of 5 dense links enumerated: the plan's flops is the least
    dims = (7, 3, 11, 2, 13, 5)

    def trees(i, j):
        if i == j:
            yield i, 0
            return
        for s in range(i, j):
            for (a, ca), (b, cb) in itertools.product(trees(i, s), trees(s + 1, j)):
                yield (a, b), ca + cb + dims[j + 1] * dims[s + 1] * dims[i]
    best = min(c for _, c in trees(0, 4))
    assert mc.chain_plan(_shapes(dims)).flops == best


def test_products_past_the_hand_loops_use_numpys_blas(monkeypatch):
    # issue 11 item 7: jacobian_chain / ChainPlan / grad_chain of large links make their
    # products with np.matmul (NumPy's BLAS), never through the compiled kernels (SciPy's)
    from mcfast import chain as chain_mod

    def refuse(*args, **kwargs):
        raise AssertionError("a compiled chain kernel ran")
    rng = np.random.default_rng(1)
    links = [rng.standard_normal((256, 256)) for _ in range(3)]
    want = links[2] @ links[1] @ links[0]
    monkeypatch.setattr(chain_mod._k, "chain_product", refuse, raising=True)
    monkeypatch.setattr(chain_mod._k, "vector_chain", refuse, raising=True)
    np.testing.assert_allclose(mc.jacobian_chain(links), want, rtol=1e-10)
    np.testing.assert_allclose(mc.chain_plan(links)(links), want, rtol=1e-10)
    np.testing.assert_allclose(mc.jacobian_chain(links, out=np.empty((256, 256))), want,
                               rtol=1e-10)
    np.testing.assert_allclose(mc.grad_chain(links, np.ones(256)), np.ones(256) @ want,
                               rtol=1e-10)
    np.testing.assert_allclose(mc.tangent_chain(links, np.ones(256)), want @ np.ones(256),
                               rtol=1e-10)
    # and the fast entries decline such sizes (they would call SciPy's BLAS)
    from mcfast._kernels import _chain as kern
    assert kern.fast_chain(links, "optimal") is None
    assert kern.fast_vector(links, np.ones(256), True, mc.Diagonal) is None


def test_equal_cost_bracketings_prefer_tangent_products():
    """W2 S W1 with a sparse S costs the same as (W2 S) W1 and W2 (S W1): the plan applies S
    forward (S @ W1, a CSR pass) rather than its adjoint (W2 @ S), which is slower at equal
    multiply-adds."""
    import scipy.sparse as sp
    rng = np.random.default_rng(3)
    n, m = 300, 8
    W1, W2 = rng.standard_normal((n, m)), rng.standard_normal((m, n))
    S = sp.random(n, n, density=0.02, format="csr", random_state=3)
    plan = mc.chain_plan([W1, S, W2])
    assert plan.flops == mc.chain_plan([W1, S, W2], order="reverse").flops
    assert str(plan) == "J3 @ [J2 @ J1 | tangent]"
    np.testing.assert_allclose(plan([W1, S, W2]), W2 @ (S @ W1), rtol=1e-12)


# -- the one planner of dense and Diagonal links (compiled, nogil) against brute force ------

def _pair(dims, diag_prefix, i, s, j):
    """Multiply-adds of (J_j⋯J_{s+1}) @ (J_s⋯J_i): p·q·r, p·r with one Diagonal side, n
    for two (a range is Diagonal when all its links are)."""
    rd = diag_prefix[s + 1] - diag_prefix[i] == s + 1 - i
    ld = diag_prefix[j + 1] - diag_prefix[s + 1] == j - s
    if ld and rd:
        return dims[i]
    if ld or rd:
        return dims[j + 1] * dims[i]
    return dims[j + 1] * dims[s + 1] * dims[i]


def _prefix(diag):
    out = [0]
    for f in diag:
        out.append(out[-1] + int(f))
    return out


def _reference_optimum(dims, diag):
    """The least cost over every bracketing: the textbook O(n³) table, iteratively."""
    n, pre = len(diag), _prefix(diag)
    cost = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            cost[i][j] = min(cost[i][s] + cost[s + 1][j] + _pair(dims, pre, i, s, j)
                             for s in range(i, j))
    return cost[0][n - 1]


def _cost_of_steps(dims, diag, steps):
    """The cost of a given bracketing (post-order (left, right) steps), checking that every
    step multiplies adjacent ranges and that the last one is the whole chain."""
    n, pre = len(diag), _prefix(diag)
    lo, hi, total = list(range(n)), list(range(n)), 0
    for left, right in steps:
        assert hi[right] + 1 == lo[left]
        total += _pair(dims, pre, lo[right], hi[right], hi[left])
        lo.append(lo[right])
        hi.append(hi[left])
    assert (lo[-1], hi[-1]) == (0, n - 1)
    return total


def _random_chain(rng, n, sizes, p_diag):
    dims = [int(d) for d in rng.choice(sizes, size=n + 1)]
    diag = [bool(rng.random() < p_diag) for _ in range(n)]
    for k in range(n):
        if diag[k]:
            dims[k + 1] = dims[k]
    return dims, diag


def _plan_dense(dims, diag, order="optimal"):
    from mcfast._kernels import _chain as kern
    total, steps = kern.plan_dense(np.array(dims, np.intp), np.array(diag, np.uint8), order)
    return total, [tuple(s) for s in steps.tolist()]


def test_plain_planner_is_the_optimum_up_to_dp_max():
    # every chain of at most DP_MAX dense/Diagonal links: the exact optimum, and the steps
    # returned cost what the plan says
    rng = np.random.default_rng(11)
    for trial in range(60):
        n = int(rng.integers(2, 12)) if trial < 50 else _plan.DP_MAX
        dims, diag = _random_chain(rng, n, [1, 2, 7, 30, 200], 0.3)
        total, steps = _plan_dense(dims, diag)
        assert total == _cost_of_steps(dims, diag, steps) == _reference_optimum(dims, diag)
        plan = mc.chain_plan([mc.Diagonal(np.ones(dims[k])) if f else (dims[k + 1], dims[k])
                              for k, f in enumerate(diag)])
        assert (plan.flops, [s[:2] for s in plan.steps]) == (total, steps)


def test_plain_planner_pure_orders():
    rng = np.random.default_rng(12)
    for _ in range(20):
        dims, diag = _random_chain(rng, int(rng.integers(2, 90)), [1, 3, 40], 0.3)
        n, pre = len(diag), _prefix(diag)
        total, steps = _plan_dense(dims, diag, "forward")
        assert steps == [(1, 0)] + [(k, n + k - 2) for k in range(2, n)]
        assert total == sum(_pair(dims, pre, 0, k - 1, k) for k in range(1, n))
        total, steps = _plan_dense(dims, diag, "reverse")
        assert steps == [(n - 1, n - 2)] + [(n + t, n - 3 - t) for t in range(n - 2)]
        assert total == sum(_pair(dims, pre, k, k, n - 1) for k in range(n - 1))


@pytest.mark.parametrize("sizes,bound", [([2, 5, 60, 300], 1.2), ([1, 3, 4], 1.2),
                                         ([50, 1, 400, 7], 3)])
def test_plain_planner_past_dp_max_near_the_optimum(sizes, bound):
    # past DP_MAX the plan is the cheapest of four heuristics: never dearer than either pure
    # order, the cost of its own steps, and near the brute-force optimum (measured worst
    # ratios here: 1.155, 1.121 and, with width-1 bottlenecks between wide links, 2.58)
    rng = np.random.default_rng(13)
    for n in (_plan.DP_MAX + 1, 120):
        for _ in range(2):
            dims, diag = _random_chain(rng, n, sizes, 0.2)
            total, steps = _plan_dense(dims, diag)
            assert total == _cost_of_steps(dims, diag, steps)
            assert total <= _plan_dense(dims, diag, "forward")[0]
            assert total <= _plan_dense(dims, diag, "reverse")[0]
            best = _reference_optimum(dims, diag)
            assert best <= total <= bound * best


def test_plain_planner_falls_back_to_exact_integers():
    # costs past PY_SSIZE_T_MAX: the compiled planner declines, chain_plan stays exact
    from mcfast._kernels import _chain as kern
    big = 2 ** 22
    assert kern.plan_dense(np.array([big] * 5, np.intp), np.zeros(4, np.uint8),
                           "optimal") is None
    assert mc.chain_plan([(big, big)] * 4).flops == 3 * big ** 3
    with pytest.raises(ValueError):
        kern.plan_dense(np.array([2, 3, 4], np.intp), np.zeros(2, np.uint8), "sideways")
