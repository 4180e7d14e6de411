"""Jacobian chains: planner, products vs reference and multi_dot, batches, gradients, errors."""

import threading

import numpy as np
import pytest

import mcfast as mc
from mcfast import reference as ref
from conftest import DTYPES, LAYOUTS, Snapshot, in_layout, rtol_for

# the CLRS §15.2 example in the book's product order A1 A2 ... A6
CLRS = [(30, 35), (35, 15), (15, 5), (5, 10), (10, 20), (20, 25)]
CLRS_FLOW = CLRS[::-1]              # in flow order J1 = A6, ..., J6 = A1


def _dense(x):
    return x.toarray() if isinstance(x, ref.Diagonal) else np.asarray(x)


def _value(x):
    """A result as an ndarray to compare (the diagonal of a Diagonal)."""
    return x.diagonal if isinstance(x, ref.Diagonal) else x


def _chain(rng, dims, diag=(), batch=None, dtype=np.float64):
    """Links for dims d_0..d_n; links in `diag` are Diagonals; batch[k] = link k's batch."""
    links = []
    for k in range(len(dims) - 1):
        b = () if batch is None else tuple(batch[k])
        if k in diag:
            assert dims[k] == dims[k + 1]
            links.append(mc.Diagonal(rng.standard_normal(b + (dims[k],)).astype(dtype)))
        else:
            links.append(rng.standard_normal(b + (dims[k + 1], dims[k])).astype(dtype))
    return links


# --- planner ------------------------------------------------------------------------

@pytest.mark.parametrize("mod", [mc, ref], ids=["fast", "reference"])
def test_clrs_example(mod):
    plan = mod.chain_plan(CLRS_FLOW)
    assert plan.flops == 15125
    # ((A1 (A2 A3)) ((A4 A5) A6)) with A1 = J6, ..., A6 = J1
    assert str(plan) == "(J6 @ (J5 @ J4)) @ ((J3 @ J2) @ J1)"
    assert plan.order == ((0, (1, 2)), ((3, 4), 5))
    assert plan.dims == (25, 20, 10, 5, 15, 35, 30)


@pytest.mark.parametrize("mod", [mc, ref], ids=["fast", "reference"])
def test_forward_reverse_closed_forms(mod):
    d = [25, 20, 10, 5, 15, 35, 30]
    n = len(d) - 1
    fwd = mod.chain_plan(CLRS_FLOW, order="forward")
    rev = mod.chain_plan(CLRS_FLOW, order="reverse")
    # forward: J_k (d_k × d_{k-1}) times the (d_{k-1} × d_0) product so far
    assert fwd.flops == sum(d[k] * d[k - 1] * d[0] for k in range(2, n + 1))
    # reverse: the (d_n × d_k) product so far times J_k (d_k × d_{k-1})
    assert rev.flops == sum(d[n] * d[k] * d[k - 1] for k in range(1, n))
    assert str(fwd) == "J6 @ (J5 @ (J4 @ (J3 @ (J2 @ J1))))"
    assert str(rev) == "((((J6 @ J5) @ J4) @ J3) @ J2) @ J1"
    assert fwd.order == (((((0, 1), 2), 3), 4), 5)
    assert rev.order == (0, (1, (2, (3, (4, 5)))))


@pytest.mark.parametrize("mod", [mc, ref], ids=["fast", "reference"])
def test_scalar_loss_plans_reverse(mod):
    d = [1000, 10, 1000, 10, 1000, 10, 1]          # ends in a single row: a scalar loss
    shapes = [(d[k + 1], d[k]) for k in range(len(d) - 1)]
    opt, rev = mod.chain_plan(shapes), mod.chain_plan(shapes, order="reverse")
    assert opt.order == rev.order and opt.flops == rev.flops
    assert rev.flops == sum(d[k] * d[k - 1] for k in range(1, len(d) - 1))


def test_diagonal_aware_costs():
    n = 64
    D = mc.Diagonal(np.ones(n))
    W = (n, n)
    assert mc.chain_plan([D, D]).flops == n                       # diag · diag
    assert mc.chain_plan([W, D]).flops == n * n                   # diag · dense
    assert mc.chain_plan([D, W]).flops == n * n                   # dense · diag
    assert mc.chain_plan([W, W]).flops == n ** 3
    assert mc.chain_plan([D, D, D]).flops == 2 * n
    # the MLP chain: two dense products and two scalings
    assert mc.chain_plan([W, D, W, D, W]).flops == 2 * n ** 3 + 2 * n * n
    # dense everywhere it would be 4 n^3
    assert mc.chain_plan([W] * 5).flops == 4 * n ** 3
    # a Diagonal between two links is folded into the narrower one
    p = mc.chain_plan([(4, 100), mc.Diagonal(np.ones(4)), (100, 4)])
    assert p.flops == ref.chain_plan([(4, 100), mc.Diagonal(np.ones(4)), (100, 4)]).flops
    assert p.flops == 100 * 4 + 100 * 4 * 100          # (J3 D) then one product


@pytest.mark.parametrize("seed", range(30))
def test_planner_matches_reference_dp(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    dims = [int(x) for x in rng.integers(1, 40, n + 1)]
    links = []
    for k in range(n):
        if rng.random() < 0.4:
            dims[k + 1] = dims[k]
            links.append(mc.Diagonal(np.ones(dims[k])))
        else:
            links.append((dims[k + 1], dims[k]))
    for order in ("optimal", "forward", "reverse"):
        fast, slow = mc.chain_plan(links, order=order), ref.chain_plan(links, order=order)
        assert (fast.flops, fast.order, str(fast)) == (slow.flops, slow.order, str(slow))
    opt = mc.chain_plan(links)
    assert opt.flops <= mc.chain_plan(links, order="forward").flops
    assert opt.flops <= mc.chain_plan(links, order="reverse").flops


def test_plan_single_link_and_repr():
    p = mc.chain_plan([(3, 4)])
    assert (p.flops, p.order, str(p)) == (0, 0, "J1")
    assert repr(mc.chain_plan([(3, 4), (5, 3)])) == "ChainPlan(J2 @ J1, flops=60)"


# --- products -------------------------------------------------------------------------

@pytest.mark.parametrize("order", ["optimal", "forward", "reverse"])
def test_orders_agree_with_multi_dot(rng, order):
    links = _chain(rng, [25, 20, 10, 5, 15, 35, 30])
    expect = np.linalg.multi_dot(links[::-1])
    got = mc.jacobian_chain(links, order=order)
    np.testing.assert_allclose(got, expect, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(ref.jacobian_chain(links, order=order), expect, rtol=1e-11,
                               atol=1e-11)
    plan = mc.chain_plan(links, order=order)
    np.testing.assert_allclose(plan(links), expect, rtol=1e-11, atol=1e-11)


CASES = {
    "three4x4": dict(dims=[4, 4, 4, 4]),
    "two": dict(dims=[3, 5, 2]),
    "single": dict(dims=[3, 5]),
    "single_diag": dict(dims=[4, 4], diag=(0,)),
    "mlp": dict(dims=[6, 8, 8, 5, 5, 3], diag=(1, 3)),
    "all_diag": dict(dims=[5, 5, 5, 5], diag=(0, 1, 2)),
    "diag_first_last": dict(dims=[4, 4, 7, 7], diag=(0, 2)),
    "wide": dict(dims=[40, 30, 50, 20, 45]),
    "three_big": dict(dims=[40, 30, 50, 20]),            # BLAS and heap scratch, fast path
    "long_vectors": dict(dims=[300, 40, 40, 300], diag=(1,)),
    "scalar_loss": dict(dims=[30, 20, 30, 1]),
    "zero_inner": dict(dims=[3, 0, 4]),
    "zero_outer": dict(dims=[0, 3, 4]),
    "zero_diag": dict(dims=[0, 0, 3], diag=(0,)),
    "batched": dict(dims=[3, 4, 4, 2], diag=(1,), batch=[(5, 1), (1, 3), (3,)]),
    "batched_shared": dict(dims=[3, 4, 2, 2], batch=[(), (6,), ()]),
    "batched_large": dict(dims=[20, 30, 25], batch=[(3,), (3,)]),
    "batched_zero": dict(dims=[3, 4, 2], batch=[(0,), ()]),
    "batched_diag": dict(dims=[4, 4, 4], diag=(0, 1), batch=[(2, 1), (3,)]),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("with_out", [False, True])
def test_fast_vs_reference(rng, case, dtype, layout, with_out):
    spec = CASES[case]
    links = _chain(rng, spec["dims"], spec.get("diag", ()), spec.get("batch"), dtype)
    links = [mc.Diagonal(in_layout(x.diagonal, layout)) if isinstance(x, mc.Diagonal)
             else in_layout(x, layout) for x in links]
    snap = Snapshot(*[_value(x) for x in links])
    expect = ref.jacobian_chain(links)
    out = None
    if with_out:
        out = np.full(_value(expect).shape, np.nan, dtype=dtype)
    got = mc.jacobian_chain(links, out=out)
    snap.assert_unchanged()
    assert type(got) is (mc.Diagonal if isinstance(expect, ref.Diagonal) else np.ndarray)
    assert _value(got).dtype == dtype
    assert _value(got).shape == _value(expect).shape
    if with_out:
        assert np.shares_memory(_value(got), out) or out.size == 0
        if isinstance(got, np.ndarray):
            assert got is out
    np.testing.assert_allclose(_value(got), _value(expect), rtol=rtol_for(dtype),
                               atol=rtol_for(dtype))
    for order in ("forward", "reverse"):
        np.testing.assert_allclose(_value(mc.jacobian_chain(links, order=order)),
                                   _value(expect), rtol=rtol_for(dtype), atol=rtol_for(dtype))


def test_single_link_is_a_copy(rng):
    a = rng.standard_normal((3, 4))
    got = mc.jacobian_chain([a])
    assert np.array_equal(got, a) and not np.shares_memory(got, a)
    d = mc.Diagonal(np.arange(3.0))
    got = mc.jacobian_chain([d])
    assert isinstance(got, mc.Diagonal) and not np.shares_memory(got.diagonal, d.diagonal)


def test_diagonal_result_dense_out(rng):
    d1, d2 = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    out = np.full((2, 5, 5), np.nan)
    for mod in (mc, ref):
        ret = mod.jacobian_chain([mod.Diagonal(d1), mod.Diagonal(d2)], out=out)
        assert ret is out
        np.testing.assert_allclose(out, mod.Diagonal(d1 * d2).toarray(), rtol=1e-15)
    with pytest.raises(ValueError, match="out"):
        mc.jacobian_chain([mc.Diagonal(d1), mc.Diagonal(d2)], out=np.empty((2, 5, 4)))


def test_out_overlapping_an_input(rng):
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    expect = b @ a @ a
    ret = mc.jacobian_chain([a, a, b], out=a)
    assert ret is a
    np.testing.assert_allclose(a, expect, rtol=1e-12, atol=1e-12)
    x, y = rng.standard_normal((6, 6)), rng.standard_normal(6)
    expect = x.T @ x.T @ y
    ret = mc.grad_chain([x, x], y, out=y)
    np.testing.assert_allclose(ret, expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad_out, msg", [
    (np.empty((4, 3)), "shape"),
    (np.empty((3, 4), dtype=np.float32), "dtype"),
    (np.empty((4, 3)).T, "C-contiguous"),
    ("x", "ndarray"),
])
def test_out_checks(rng, bad_out, msg):
    links = _chain(rng, [4, 5, 3])
    with pytest.raises(ValueError, match=msg):
        mc.jacobian_chain(links, out=bad_out)
    with pytest.raises(ValueError, match=msg):
        ref.jacobian_chain(links, out=bad_out)
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        mc.jacobian_chain(links, out=ro)


def test_float32_preserved_and_mixed(rng):
    links = _chain(rng, [4, 4, 4, 4], dtype=np.float32)
    assert mc.jacobian_chain(links).dtype == np.float32
    assert mc.grad_chain(links, np.ones(4, np.float32)).dtype == np.float32
    assert mc.tangent_chain(links, np.ones(4, np.float32)).dtype == np.float32
    mixed = [links[0], links[1].astype(np.float64), links[2]]
    assert mc.jacobian_chain(mixed).dtype == np.float64
    assert mc.grad_chain(links, np.ones(4)).dtype == np.float64
    ints = [np.arange(6).reshape(2, 3), np.ones((1, 2), dtype=bool)]
    got = mc.jacobian_chain(ints)
    assert got.dtype == np.float64 and np.array_equal(got, [[3.0, 5.0, 7.0]])
    d = mc.jacobian_chain([mc.Diagonal(np.arange(3)), mc.Diagonal(np.ones(3, np.float32))])
    assert d.dtype == np.float64


# --- batches ----------------------------------------------------------------------------

def test_batched_equals_loop(rng):
    links = [rng.standard_normal((7, 3, 5)), mc.Diagonal(rng.standard_normal((7, 3))),
             rng.standard_normal((4, 3)), rng.standard_normal((7, 2, 4))]
    got = mc.jacobian_chain(links)
    g, t = rng.standard_normal((7, 2)), rng.standard_normal((7, 5))
    grads, tangents = mc.grad_chain(links, g), mc.tangent_chain(links, t)
    for i in range(7):
        one = [links[0][i], mc.Diagonal(links[1].diagonal[i]), links[2], links[3][i]]
        np.testing.assert_allclose(got[i], mc.jacobian_chain(one), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[i], np.linalg.multi_dot([_dense(x) for x in one[::-1]]),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grads[i], got[i].T @ g[i], rtol=1e-11)
        np.testing.assert_allclose(tangents[i], got[i] @ t[i], rtol=1e-11)


def test_broadcasting_batch_dims(rng):
    a = rng.standard_normal((5, 1, 4, 3))
    b = rng.standard_normal((3, 2, 4))
    c = rng.standard_normal((2, 2))                       # shared by the whole batch
    got = mc.jacobian_chain([a, b, c])
    assert got.shape == (5, 3, 2, 3)
    np.testing.assert_allclose(got, np.matmul(np.matmul(c, b), a), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal((2,))                          # one grad for every sample
    np.testing.assert_allclose(mc.grad_chain([a, b, c], g),
                               np.einsum("...ij,...i->...j", got, np.broadcast_to(g, (5, 3, 2))),
                               rtol=1e-12, atol=1e-12)
    t = rng.standard_normal((3, 3))                        # batched tangent, shared links
    w = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    np.testing.assert_allclose(mc.tangent_chain(w, t), t @ w[0].T @ w[1].T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 3, 257])
def test_many_small_batched_threads(rng, n):
    links = _chain(rng, [4, 4, 4, 4], batch=[(n,), (n,), (n,)])
    g = rng.standard_normal((n, 4))
    tol = dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mc.jacobian_chain(links), ref.jacobian_chain(links), **tol)
    np.testing.assert_allclose(mc.grad_chain(links, g), ref.grad_chain(links, g), **tol)


@pytest.mark.parametrize("threads", [False, True])
def test_large_batch_parallel_path(rng, monkeypatch, threads):
    if threads:                       # force the prange path even for a small batch
        monkeypatch.setattr("mcfast.chain._PARALLEL_MIN", 0)
    links = _chain(rng, [5, 6, 6, 3], diag=(1,), batch=[(3000,), (3000,), ()])
    g, t = rng.standard_normal((3000, 3)), rng.standard_normal((3000, 5))
    tol = dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mc.jacobian_chain(links), ref.jacobian_chain(links), **tol)
    np.testing.assert_allclose(mc.grad_chain(links, g), ref.grad_chain(links, g), **tol)
    np.testing.assert_allclose(mc.tangent_chain(links, t), ref.tangent_chain(links, t), **tol)


def test_concurrent_calls(rng):
    links = _chain(rng, [6, 7, 6, 5], batch=[(50,), (), (50,)])
    expect = ref.jacobian_chain(links)
    errors = []

    def work():
        for _ in range(20):
            if not np.allclose(mc.jacobian_chain(links), expect, rtol=1e-12):
                errors.append(1)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors


# --- gradients: finite differences and the adjoint identity -------------------------------

def _mlp(rng, sizes):
    Ws = [rng.standard_normal((sizes[k + 1], sizes[k])) / np.sqrt(sizes[k])
          for k in range(len(sizes) - 1)]

    def f(x):
        h = x
        for k, W in enumerate(Ws):
            h = W @ h
            if k < len(Ws) - 1:
                h = np.tanh(h)
        return h

    def links(x):
        out, h = [], x
        for k, W in enumerate(Ws):
            out.append(W)
            h = W @ h
            if k < len(Ws) - 1:
                out.append(mc.Diagonal(1 - np.tanh(h) ** 2))
                h = np.tanh(h)
        return out
    return f, links


def test_mlp_jacobian_vs_finite_differences(rng):
    f, links = _mlp(rng, [5, 7, 6, 3])
    x = rng.standard_normal(5)
    J = mc.jacobian_chain(links(x))
    h = 1e-3
    fd = np.empty((3, 5))
    for i in range(5):
        e = np.zeros(5)
        e[i] = h
        fd[:, i] = (-f(x + 2 * e) + 8 * f(x + e) - 8 * f(x - e) + f(x - 2 * e)) / (12 * h)
    np.testing.assert_allclose(J, fd, rtol=1e-8, atol=1e-10)
    for order in ("forward", "reverse"):
        np.testing.assert_allclose(mc.jacobian_chain(links(x), order=order), J,
                                   rtol=1e-12, atol=1e-12)


def test_grad_chain_vs_check_grad(rng):
    f, links = _mlp(rng, [6, 8, 5, 4])
    g = rng.standard_normal(4)
    x = rng.standard_normal(6)
    err = mc.check_grad(lambda x: float(f(x) @ g), lambda x: mc.grad_chain(links(x), g), x)
    assert err < 5e-6


def test_adjoint_identity(rng):
    links = _chain(rng, [7, 9, 9, 4, 4, 6], diag=(1, 3), batch=[(3,), (), (3,), (), ()])
    u, w = rng.standard_normal((3, 7)), rng.standard_normal((3, 6))
    lhs = np.sum(mc.tangent_chain(links, u) * w, axis=-1)
    rhs = np.sum(u * mc.grad_chain(links, w), axis=-1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", ["mlp", "wide", "batched", "single", "zero_inner",
                                  "batched_large", "all_diag", "three_big", "long_vectors"])
def test_vector_chains_vs_reference(rng, dtype, layout, case):
    spec = CASES[case]
    dims = spec["dims"]
    links = _chain(rng, dims, spec.get("diag", ()), spec.get("batch"), dtype)
    links = [mc.Diagonal(in_layout(x.diagonal, layout)) if isinstance(x, mc.Diagonal)
             else in_layout(x, layout) for x in links]
    g = in_layout(rng.standard_normal((3, dims[-1]) if case == "batched" else dims[-1:])
                  .astype(dtype), layout)
    t = in_layout(rng.standard_normal(dims[:1]).astype(dtype), layout)
    snap = Snapshot(g, t, *[_value(x) for x in links])
    for fast, slow, vec in ((mc.grad_chain, ref.grad_chain, g),
                            (mc.tangent_chain, ref.tangent_chain, t)):
        expect = slow(links, vec)
        got = fast(links, vec)
        assert got.dtype == dtype and got.shape == expect.shape
        np.testing.assert_allclose(got, expect, rtol=rtol_for(dtype), atol=rtol_for(dtype))
        out = np.full(expect.shape, np.nan, dtype=dtype)
        assert fast(links, vec, out=out) is out
        np.testing.assert_allclose(out, expect, rtol=rtol_for(dtype), atol=rtol_for(dtype))
    snap.assert_unchanged()


# --- ChainPlan reuse ----------------------------------------------------------------------

def test_plan_reuse(rng):
    links = _chain(rng, [6, 8, 8, 5], diag=(1,))
    plan = mc.chain_plan([(8, 6), mc.Diagonal(np.ones(8)), (5, 8)])
    for _ in range(3):
        links = _chain(rng, [6, 8, 8, 5], diag=(1,))
        np.testing.assert_allclose(plan(links), ref.jacobian_chain(links), rtol=1e-12, atol=1e-12)
    out = np.empty((5, 6))
    assert plan(links, out=out) is out
    batched = _chain(rng, [6, 8, 8, 5], diag=(1,), batch=[(4,), (4,), ()])
    np.testing.assert_allclose(plan(batched), ref.jacobian_chain(batched), rtol=1e-12, atol=1e-12)
    assert str(plan) == str(ref.chain_plan(links))
    with pytest.raises(ValueError, match="do not match the plan"):
        plan(_chain(rng, [6, 8, 8, 4], diag=(1,)))
    with pytest.raises(ValueError, match="do not match the plan"):
        plan(_chain(rng, [6, 8, 8, 5]))                  # no Diagonal where planned
    with pytest.raises(ValueError, match="do not match the plan"):
        ref.chain_plan(links)(_chain(rng, [6, 8, 8, 4], diag=(1,)))


# --- Diagonal --------------------------------------------------------------------------

def test_diagonal_object():
    d = np.array([[1.0, 2.0], [3.0, 4.0]])
    D = mc.Diagonal(d)
    assert D.shape == (2, 2, 2) and D.ndim == 3 and D.dtype == np.float64
    assert D.T is D
    assert np.shares_memory(D.diagonal, d) and not D.diagonal.flags.writeable
    np.testing.assert_array_equal(D.toarray()[1], [[3.0, 0.0], [0.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(D), D.toarray())
    assert repr(D).startswith("Diagonal(array(")
    with pytest.raises(AttributeError):
        D.diagonal = d
    with pytest.raises(ValueError, match="0-D"):
        mc.Diagonal(1.0)
    with pytest.raises(TypeError, match="complex"):
        mc.Diagonal([1j])
    with pytest.raises(TypeError, match="None"):
        mc.Diagonal(None)


# --- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("mod", [mc, ref], ids=["fast", "reference"])
def test_errors(rng, mod):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match="empty"):
        mod.jacobian_chain([])
    with pytest.raises(ValueError, match="empty"):
        mod.chain_plan([])
    with pytest.raises(ValueError, match=r"links\[2\] \(shape \(2, 5\)\) does not fit "
                                         r"links\[1\] \(shape \(2, 3\)\)"):
        mod.jacobian_chain([a, b, np.ones((2, 5))])
    with pytest.raises(ValueError, match=r"links\[1\] \(Diagonal of shape \(4, 4\)\)"):
        mod.jacobian_chain([a, mod.Diagonal(np.ones(4))])
    with pytest.raises(ValueError, match=r"links\[2\] \(shape \(2, 2\)\) does not fit "
                                         r"links\[1\] \(shape \(1, 3\)\)"):
        mod.chain_plan([(3, 4), (1, 3), (2, 2)])
    with pytest.raises(ValueError, match="order"):
        mod.jacobian_chain([a, b], order="backward")
    with pytest.raises(ValueError, match="order"):
        mod.chain_plan([a, b], order=None)
    with pytest.raises(ValueError, match=r"batch shapes do not broadcast.*links\[0\] \(4,\)"):
        mod.jacobian_chain([np.ones((4, 3, 4)), np.ones((5, 2, 3))])
    with pytest.raises(ValueError, match=r"links\[0\] has shape \(3,\)"):
        mod.jacobian_chain([np.ones(3)])
    with pytest.raises(TypeError, match=r"links\[1\]"):
        mod.jacobian_chain([a, b.astype(complex)])
    with pytest.raises(TypeError, match=r"links\[0\]"):
        mod.jacobian_chain([None])
    with pytest.raises(TypeError, match=r"links\[1\]"):
        mod.jacobian_chain([a, np.array([["x"]])])
    with pytest.raises(TypeError, match="links"):
        mod.jacobian_chain(None)
    with pytest.raises(TypeError, match="list or tuple"):
        mod.jacobian_chain(np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match=r"grad has shape \(3,\); its last axis must have "
                                         r"length 2"):
        mod.grad_chain([a, b], np.ones(3))
    with pytest.raises(ValueError, match=r"tangent has shape \(3,\).*length 4"):
        mod.tangent_chain([a, b], np.ones(3))
    with pytest.raises(ValueError, match="batch shapes do not broadcast.*grad"):
        mod.grad_chain([np.ones((4, 3, 4))], np.ones((5, 3)))
    with pytest.raises(TypeError, match="grad"):
        mod.grad_chain([a], None)
    with pytest.raises(TypeError, match="tangent"):
        mod.tangent_chain([a], np.ones(4, dtype=complex))
    with pytest.raises(ValueError, match="empty"):
        mod.grad_chain([], np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        mod.chain_plan([(3, -1)])
    with pytest.raises(TypeError, match=r"links\[0\]"):
        mod.chain_plan([(3, "a")])


def test_errors_raised_before_any_kernel(rng):
    """A bad link after good ones leaves out= untouched."""
    a = rng.standard_normal((3, 4))
    out = np.full((2, 4), 7.0)
    with pytest.raises(ValueError):
        mc.jacobian_chain([a, np.ones((2, 2))], out=out)
    assert np.all(out == 7.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_vector_chains_shared_links_many_vectors(rng, dtype, layout):
    """Large links shared by a batch of vectors go through matrix products."""
    links = _chain(rng, [40, 30, 30, 50, 45], diag=(1,), dtype=dtype)
    links = [mc.Diagonal(in_layout(x.diagonal, layout)) if isinstance(x, mc.Diagonal)
             else in_layout(x, layout) for x in links]
    g = in_layout(rng.standard_normal((3, 2, 45)).astype(dtype), layout)
    t = in_layout(rng.standard_normal((5, 40)).astype(dtype), layout)
    snap = Snapshot(g, t, *[_value(x) for x in links])
    tol = dict(rtol=rtol_for(dtype), atol=rtol_for(dtype))
    np.testing.assert_allclose(mc.grad_chain(links, g), ref.grad_chain(links, g), **tol)
    np.testing.assert_allclose(mc.tangent_chain(links, t), ref.tangent_chain(links, t), **tol)
    out = np.empty((3, 2, 40), dtype=dtype)
    assert mc.grad_chain(links, g, out=out) is out
    np.testing.assert_allclose(out, ref.grad_chain(links, g), **tol)
    snap.assert_unchanged()


@pytest.mark.parametrize("order", ["optimal", "forward", "reverse"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_plan_reuse_tiny_dense(rng, order, dtype):
    """Tiny dense plans take the compiled fast path, still checking the planned sizes."""
    plan = mc.chain_plan([(3, 2), (4, 3), (2, 4)], order=order)
    for _ in range(3):
        links = _chain(rng, [2, 3, 4, 2], dtype=dtype)
        got = plan(links)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref.jacobian_chain(links, order=order),
                                   rtol=rtol_for(dtype), atol=rtol_for(dtype))
    with pytest.raises(ValueError, match="do not match the plan"):
        plan(_chain(rng, [2, 3, 4, 3]))
    with pytest.raises(ValueError, match="do not match the plan"):
        plan(_chain(rng, [2, 3]))
