"""Property tests (hypothesis): every public function equals its reference twin for any shape, dtype, layout and out=."""

import os

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mcfast as mc  # noqa: E402

ref = mc.reference

# --- settings: MCFAST_HYPOTHESIS=default|ci|thorough -------------------------------------
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("mcfast-default", max_examples=100, **_COMMON)
settings.register_profile("mcfast-ci", max_examples=300, derandomize=True, database=None,
                          **_COMMON)
settings.register_profile("mcfast-thorough", max_examples=2000, **_COMMON)
PROFILE = settings.get_profile("mcfast-" + os.environ.get("MCFAST_HYPOTHESIS", "default"))


def requires(*names):
    """Skip while a public name has not landed in mcfast yet (runs as soon as it does)."""
    missing = [n for n in names if not hasattr(mc, n)]
    return pytest.mark.skipif(bool(missing), reason=f"mcfast.{', '.join(missing)} not landed")


# --- data: values, dtypes, layouts --------------------------------------------------------
FLOATS = [np.float32, np.float64]
OTHERS = [np.int64, np.int32, np.uint8, np.bool_, np.float16]
LAYOUTS = ["C", "F", "strided", "negative", "readonly", "broadcast"]
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}


def working(*dtypes):
    """The documented result dtype: float32 only when every input is float16/float32."""
    small = all(np.dtype(d) in (np.dtype(np.float16), np.dtype(np.float32)) for d in dtypes)
    return np.dtype(np.float32 if small else np.float64)


def _values(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array(rng.random(shape) < 0.5)
    if dtype.kind in "iu":
        return rng.integers(0 if dtype.kind == "u" else -4, 5, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def make(rng, shape, dtype, layout):
    """An array of `shape` and `dtype` in `layout` (values random, layout as asked)."""
    shape = tuple(shape)
    if layout == "broadcast" and shape:
        # collapse a random non-empty subset of axes to 1 and broadcast back: zero strides
        axes = rng.random(len(shape)) < 0.5
        axes[rng.integers(len(shape))] = True
        base = _values(rng, tuple(1 if c else s for c, s in zip(axes, shape)), dtype)
        return np.broadcast_to(base, shape)
    a = _values(rng, shape, dtype)
    if layout == "F":
        return np.array(a, order="F")      # (np.asfortranarray makes 0-d arrays 1-d)
    if layout == "strided" and shape:
        steps = [int(rng.integers(1, 4)) * (1 if rng.random() < 0.7 else -1) for _ in shape]
        big = np.zeros(tuple(s * abs(t) + 1 for s, t in zip(shape, steps)), dtype)
        view = big[tuple(slice(1, None, t) if t > 0 else slice(None, 0, t) for t in steps)]
        view = view[tuple(slice(0, s) for s in shape)]
        view[...] = a
        return view
    if layout == "negative" and shape:
        rev = np.array(a[(slice(None, None, -1),) * a.ndim], order="C")
        return rev[(slice(None, None, -1),) * a.ndim]
    if layout == "readonly":
        a.flags.writeable = False
    return a


def dense(x):
    """An argument as a plain float64 array (a Diagonal as its dense matrix)."""
    if hasattr(x, "toarray"):
        return np.asarray(x.toarray(), dtype=np.float64)
    return np.asarray(x, dtype=np.float64)


def assert_close(actual, expected, scale, dtype):
    """|actual - expected| <= rtol(dtype) * scale, scale = Σ|terms| of each entry."""
    actual, expected = dense(actual), dense(expected)
    assert actual.shape == expected.shape
    tol = RTOL[np.dtype(dtype)] * np.broadcast_to(np.asarray(scale, np.float64), actual.shape)
    err = np.abs(actual - expected)
    bad = ~(err <= tol)
    assert not bad.any(), (f"{bad.sum()} of {bad.size} entries off: max err "
                           f"{err[bad].max()} where tolerance {tol[bad].min()}")


class Snapshot:
    """Copies of the inputs; assert afterwards that nothing modified them."""

    def __init__(self, *arrays):
        self.arrays = [a.diagonal if hasattr(a, "toarray") else a for a in arrays]
        self.copies = [np.array(a, copy=True) for a in self.arrays]

    def check(self):
        for a, c in zip(self.arrays, self.copies):
            np.testing.assert_array_equal(a, c)


@st.composite
def dtypes_for(draw, n):
    """n dtypes: all float32, all float64, or mixed (ints, bools, float16 included)."""
    mode = draw(st.sampled_from(["f32", "f64", "mixed"]))
    if mode == "f32":
        return [np.float32] * n
    if mode == "f64":
        return [np.float64] * n
    return [draw(st.sampled_from(FLOATS + OTHERS)) for _ in range(n)]


dim = st.one_of(st.integers(0, 4), st.integers(5, 24))
small_dim = st.integers(0, 4)
layouts = st.sampled_from(LAYOUTS)
seeds = st.integers(0, 2**32 - 1)


def draw_arrays(data, shapes):
    """Arrays of the given shapes with drawn dtypes and layouts, and their dtypes."""
    rng = np.random.default_rng(data.draw(seeds, label="seed"))
    dts = data.draw(dtypes_for(len(shapes)), label="dtypes")
    arrays = [make(rng, s, d, data.draw(layouts, label="layout")) for s, d in zip(shapes, dts)]
    return arrays, working(*dts), rng


def new_out(shape, dtype):
    return np.full(shape, np.nan, dtype)


def check_call(fast, slow, args, out_shape, dtype, data, scale, *, accumulate=None, rng=None):
    """Call fast and reference on `args` (reference on contiguous copies), with or without
    out= (and accumulate=, when offered); compare; check the inputs did not change."""
    snap = Snapshot(*args)
    kwargs, out = {}, None
    if data.draw(st.booleans(), label="out given"):
        out = new_out(out_shape, dtype)
        if accumulate is not None and data.draw(st.booleans(), label="accumulate"):
            out[...] = rng.standard_normal(out_shape)
            kwargs["accumulate"] = True
        start = out.copy()
        kwargs["out"] = out
    ret = fast(*args, **kwargs)
    expected = slow(*[np.array(a) for a in args])
    assert type(ret) is np.ndarray and ret.dtype == dtype and ret.shape == tuple(out_shape)
    assert expected.dtype == dtype
    if out is not None:
        assert ret is out
        if kwargs.get("accumulate"):
            expected = expected + start
            scale = scale + np.abs(start)
    assert_close(ret, expected, scale, dtype)
    snap.check()
    return ret


# --- linear-map rules --------------------------------------------------------------------

@PROFILE
@given(data=st.data(), p=dim, m=dim, n=dim, vector=st.booleans())
def test_grad_ax(data, p, m, n, vector):
    (A, G), dtype, rng = draw_arrays(data, [(p, m), (p,) if vector else (p, n)])
    scale = np.abs(dense(A)).T @ np.abs(dense(G))
    check_call(mc.grad_ax, ref.grad_ax, (A, G), scale.shape, dtype, data, scale,
               accumulate=True, rng=rng)


@PROFILE
@given(data=st.data(), n=dim, m=dim, p=dim, vector=st.booleans())
def test_grad_xa(data, n, m, p, vector):
    shapes = [(n,), (m,)] if vector else [(n, p), (m, p)]
    (G, A), dtype, rng = draw_arrays(data, shapes)
    aG, aA = np.abs(dense(G)), np.abs(dense(A))
    scale = np.outer(aG, aA) if vector else aG @ aA.T
    check_call(mc.grad_xa, ref.grad_xa, (G, A), (n, m), dtype, data, scale,
               accumulate=True, rng=rng)


@PROFILE
@given(data=st.data(), yshape=st.lists(small_dim, max_size=3),
       xshape=st.lists(small_dim, max_size=3))
def test_trace_chain(data, yshape, xshape):
    (G, D), dtype, rng = draw_arrays(data, [yshape, yshape + xshape])
    scale = np.tensordot(np.abs(dense(G)), np.abs(dense(D)), axes=len(yshape))
    check_call(mc.trace_chain, ref.trace_chain, (G, D), tuple(xshape), dtype, data, scale)


@PROFILE
@given(data=st.data(), p=dim, m=dim, n=dim)
def test_linear_rules_agree_on_shared_maps(data, p, m, n):
    """Y = AX and Y = XA as 4-D Jacobians: trace_chain equals grad_ax / grad_xa."""
    rng = np.random.default_rng(data.draw(seeds))
    dtype = data.draw(st.sampled_from(FLOATS))
    # Y = A X: A (p, m), X (m, n), dY/dX[k,l,i,j] = A[k,i] δ_lj
    A, G = make(rng, (p, m), dtype, "C"), make(rng, (p, n), dtype, "C")
    D = np.einsum("ki,lj->klij", A, np.eye(n, dtype=dtype))
    scale = np.abs(A).astype(float).T @ np.abs(G)
    assert_close(mc.trace_chain(G, D), mc.grad_ax(A, G), scale, dtype)
    # y = A x: dy/dx = A
    g = make(rng, (p,), dtype, "C")
    assert_close(mc.trace_chain(g, A), mc.grad_ax(A, g), np.abs(A).T @ np.abs(g), dtype)
    # Y = X A: X (n, m), A (m, p), dY/dX[k,l,i,j] = δ_ki A[j,l]; grad_xa takes A as (m, p)
    A2, G2 = make(rng, (m, p), dtype, "C"), make(rng, (n, p), dtype, "C")
    D2 = np.einsum("ki,jl->klij", np.eye(n, dtype=dtype), A2)
    scale = np.abs(G2).astype(float) @ np.abs(A2).T
    assert_close(mc.trace_chain(G2, D2), mc.grad_xa(G2, A2), scale, dtype)
    # y = X a: X (n, m), a (m,), dy/dX[k,i,j] = δ_ki a_j
    g2, a2 = make(rng, (n,), dtype, "C"), make(rng, (m,), dtype, "C")
    D3 = np.einsum("ki,j->kij", np.eye(n, dtype=dtype), a2)
    assert_close(mc.trace_chain(g2, D3), mc.grad_xa(g2, a2),
                 np.outer(np.abs(g2), np.abs(a2)), dtype)


# --- least squares -----------------------------------------------------------------------

def _lstsq_scales(X, theta, y):
    aX, at, ay = np.abs(dense(X)), np.abs(dense(theta)), np.abs(dense(y))
    r = aX @ at + ay                  # Σ|terms| of each residual
    return 2 * aX.T @ r, float(np.sum(r * r))


@requires("lstsq_grad")
@PROFILE
@given(data=st.data(), n=dim, m=dim, k=dim, vector=st.booleans())
def test_lstsq_grad(data, n, m, k, vector):
    shapes = [(n, m), (m,), (n,)] if vector else [(n, m), (m, k), (n, k)]
    args, dtype, _ = draw_arrays(data, shapes)
    gscale, _ = _lstsq_scales(*args)
    check_call(mc.lstsq_grad, ref.lstsq_grad, tuple(args), gscale.shape, dtype, data, gscale)


@requires("lstsq_loss_grad")
@PROFILE
@given(data=st.data(), n=dim, m=dim, k=dim, vector=st.booleans())
def test_lstsq_loss_grad(data, n, m, k, vector):
    shapes = [(n, m), (m,), (n,)] if vector else [(n, m), (m, k), (n, k)]
    args, dtype, _ = draw_arrays(data, shapes)
    gscale, lscale = _lstsq_scales(*args)
    losses = []

    def fast(*a, **kw):
        loss, g = mc.lstsq_loss_grad(*a, **kw)
        losses.append(loss)
        return g

    def slow(*a):
        loss, g = ref.lstsq_loss_grad(*a)
        losses.append(loss)
        return g

    check_call(fast, slow, tuple(args), gscale.shape, dtype, data, gscale)
    assert isinstance(losses[0], float)
    assert abs(losses[0] - losses[1]) <= RTOL[dtype] * lscale
    # definition: the gradient is grad_ax of the residual map, 2 Xᵀ r
    X, theta, y = (np.asarray(a, dtype) for a in args)
    r = X.astype(float) @ theta - y
    assert_close(mc.lstsq_grad(*args), 2 * X.astype(float).T @ r, gscale, dtype)


@requires("LeastSquares")
@PROFILE
@given(data=st.data(), n=dim, m=dim, k=small_dim, vector=st.booleans(),
       weighted=st.booleans(), l2=st.sampled_from([0.0, 0.5, 3]), flat=st.booleans())
def test_least_squares(data, n, m, k, vector, weighted, l2, flat):
    shapes = [(n, m), (n,) if vector else (n, k)] + ([(n,)] if weighted else [])
    arrays, dtype, rng = draw_arrays(data, shapes)
    X, y = arrays[:2]
    w = np.abs(dense(arrays[2])).astype(arrays[2].dtype) if weighted else None
    snap = Snapshot(*[a for a in (X, y, w) if a is not None])
    obj = mc.LeastSquares(X, y, sample_weight=w, l2=l2)
    robj = ref.LeastSquares(np.array(X), np.array(y),
                            sample_weight=None if w is None else np.array(w), l2=l2)
    tshape = (m,) if vector else ((m * k,) if flat else (m, k))
    theta, p = rng.standard_normal(tshape), rng.standard_normal(tshape)
    aX, ay, at = np.abs(dense(X)), np.abs(dense(y)), np.abs(theta).reshape((m,) + y.shape[1:])
    aw = np.ones(n) if w is None else dense(w)
    r = aX @ at + ay
    wr = (aw * r.T).T
    gscale = (2 * aX.T @ wr + 2 * l2 * at).reshape(tshape)
    lscale = float(np.sum(wr * r) + l2 * np.sum(at * at))
    loss, g = obj(theta)
    rloss, rg = robj(theta)
    assert g.shape == tshape and g.dtype == dtype and isinstance(loss, float)
    assert_close(g, rg, gscale, dtype)
    assert abs(loss - rloss) <= RTOL[dtype] * lscale
    kept = g.copy()
    obj(p)                            # a returned gradient never changes afterwards
    np.testing.assert_array_equal(g, kept)
    ap = np.abs(p).reshape(at.shape)
    hscale = (2 * aX.T @ ((aw * (aX @ ap).T).T) + 2 * l2 * ap).reshape(tshape)
    hp = obj.hessp(theta, p)
    assert hp.shape == tshape and hp.dtype == dtype
    assert_close(hp, robj.hessp(theta, p), hscale, dtype)
    snap.check()


# --- Jacobian chains ---------------------------------------------------------------------

@st.composite
def chains(draw, max_links=4):
    """(dims, diag flags, full batch shape, each link's batch shape)."""
    nlinks = draw(st.integers(1, max_links))
    dims, diag = [draw(st.integers(0, 5))], []
    for _ in range(nlinks):
        d = draw(st.booleans()) and draw(st.booleans())   # about a quarter are Diagonal
        diag.append(d)
        dims.append(dims[-1] if d else draw(st.integers(0, 5)))
    batch = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    batches = [draw(sub_batch(batch)) for _ in range(nlinks)]
    return dims, diag, batch, batches


@st.composite
def sub_batch(draw, batch):
    """A batch shape that broadcasts to `batch`: a suffix with some sizes set to 1."""
    keep = draw(st.integers(0, len(batch)))
    tail = batch[len(batch) - keep:]
    return tuple(1 if draw(st.booleans()) else s for s in tail)


def make_links(data, rng, dims, diag, batches, dtypes):
    """Fast links (arrays / mc.Diagonal) and the reference's (contiguous / ref.Diagonal)."""
    fast, slow = [], []
    for k, (d, b, dt) in enumerate(zip(diag, batches, dtypes)):
        layout = data.draw(layouts, label=f"layout {k}")
        if d:
            a = make(rng, b + (dims[k],), dt, layout)
            fast.append(mc.Diagonal(a))
            slow.append(ref.Diagonal(np.array(a)))
        else:
            a = make(rng, b + (dims[k + 1], dims[k]), dt, layout)
            fast.append(a)
            slow.append(np.array(a))
    return fast, slow


def abs_links(slow):
    return [ref.Diagonal(np.abs(dense(x.diagonal))) if hasattr(x, "toarray")
            else np.abs(dense(x)) for x in slow]


def draw_chain(data, extra_vector=None):
    dims, diag, batch, batches = data.draw(chains(), label="chain")
    rng = np.random.default_rng(data.draw(seeds, label="seed"))
    dts = data.draw(dtypes_for(len(diag) + 1), label="dtypes")
    fast, slow = make_links(data, rng, dims, diag, batches, dts)
    return dims, diag, batch, batches, fast, slow, dts, rng


def tree_cost(tree, dims, diag):
    """(multiply-adds, first link, last link, is diagonal) of a bracketing tree."""
    if isinstance(tree, int):
        return 0, tree, tree, diag[tree]
    c1, i, s, d1 = tree_cost(tree[0], dims, diag)
    c2, s1, j, d2 = tree_cost(tree[1], dims, diag)
    assert s1 == s + 1, f"tree {tree} is not a bracketing of consecutive links"
    pair = (dims[i] if d1 and d2 else dims[j + 1] * dims[i] if d1 or d2
            else dims[j + 1] * dims[s + 1] * dims[i])
    return c1 + c2 + pair, i, j, d1 and d2


@requires("jacobian_chain", "Diagonal")
@PROFILE
@given(data=st.data(), order=st.sampled_from(["optimal", "forward", "reverse"]))
def test_jacobian_chain(data, order):
    dims, diag, batch, batches, fast, slow, dts, rng = draw_chain(data)
    dtype = working(*dts[:-1])
    snap = Snapshot(*fast)
    expected = ref.jacobian_chain(slow, order=order)
    scale = dense(ref.jacobian_chain(abs_links(slow)))
    batch = np.broadcast_shapes(*batches)
    full = batch + (dims[-1], dims[0])
    kwargs = {}
    if data.draw(st.booleans(), label="out"):
        shape = full if not all(diag) or data.draw(st.booleans()) else batch + (dims[0],)
        kwargs["out"] = new_out(shape, dtype)
    ret = mc.jacobian_chain(fast, order=order, **kwargs)
    if all(diag) and not (kwargs and kwargs["out"].shape == full):
        assert hasattr(ret, "toarray"), "a chain of Diagonals returns a Diagonal"
        assert ret.shape == full and ret.diagonal.dtype == dtype
        if kwargs and kwargs["out"].size:
            assert np.shares_memory(ret.diagonal, kwargs["out"])
    else:
        assert type(ret) is np.ndarray and ret.shape == full and ret.dtype == dtype
        if kwargs:
            assert ret is kwargs["out"]
    assert_close(ret, expected, scale, dtype)
    if len(fast) == 1 and not diag[0]:
        assert not np.shares_memory(ret, fast[0]), "a single link returns a copy"
    snap.check()


@requires("chain_plan", "jacobian_chain", "Diagonal")
@PROFILE
@given(data=st.data(), order=st.sampled_from(["optimal", "forward", "reverse"]),
       as_shapes=st.booleans())
def test_chain_plan(data, order, as_shapes):
    dims, diag, batch, batches, fast, slow, dts, rng = draw_chain(data)
    if as_shapes:                     # shape tuples always denote dense links
        fast = [x.toarray() if hasattr(x, "toarray") else x for x in fast]
        slow = [np.array(dense(x)) for x in slow]
        diag = [False] * len(diag)
        plan = mc.chain_plan([tuple(x.shape) for x in fast], order=order)
    else:
        plan = mc.chain_plan(fast, order=order)
    rplan = ref.chain_plan(slow, order=order)
    assert isinstance(plan.flops, int) and plan.flops == rplan.flops
    assert tree_cost(plan.order, dims, diag)[0] == plan.flops
    if order != "optimal":
        assert plan.order == rplan.order and str(plan) == str(rplan)
    dtype = working(*dts[:-1])
    ret = plan(fast)
    assert_close(ret, ref.jacobian_chain(slow), dense(ref.jacobian_chain(abs_links(slow))),
                 dtype)
    again = plan(fast)                # reusable
    np.testing.assert_array_equal(dense(again), dense(ret))


@requires("grad_chain", "Diagonal")
@PROFILE
@given(data=st.data())
def test_grad_chain(data):
    dims, diag, batch, batches, fast, slow, dts, rng = draw_chain(data)
    gb = data.draw(sub_batch(batch), label="grad batch")
    grad = make(rng, gb + (dims[-1],), dts[-1], data.draw(layouts))
    dtype = working(*dts)
    scale = ref.grad_chain(abs_links(slow), np.abs(dense(grad)))
    out_shape = np.broadcast_shapes(gb, *batches) + (dims[0],)
    snap = Snapshot(*fast)
    check_call(lambda g, **kw: mc.grad_chain(fast, g, **kw),
               lambda g: ref.grad_chain(slow, g), (grad,), out_shape, dtype, data, scale)
    snap.check()


@requires("tangent_chain", "Diagonal")
@PROFILE
@given(data=st.data())
def test_tangent_chain(data):
    dims, diag, batch, batches, fast, slow, dts, rng = draw_chain(data)
    tb = data.draw(sub_batch(batch), label="tangent batch")
    tangent = make(rng, tb + (dims[0],), dts[-1], data.draw(layouts))
    dtype = working(*dts)
    scale = ref.tangent_chain(abs_links(slow), np.abs(dense(tangent)))
    out_shape = np.broadcast_shapes(tb, *batches) + (dims[-1],)
    snap = Snapshot(*fast)
    check_call(lambda t, **kw: mc.tangent_chain(fast, t, **kw),
               lambda t: ref.tangent_chain(slow, t), (tangent,), out_shape, dtype, data, scale)
    snap.check()


@requires("grad_chain", "tangent_chain", "jacobian_chain", "Diagonal")
@PROFILE
@given(data=st.data())
def test_chain_adjoint_and_definition(data):
    """⟨tangent_chain(J, u), w⟩ = ⟨u, grad_chain(J, w)⟩, and both match the product Jn⋯J1."""
    dims, diag, batch, batches, fast, slow, dts, rng = draw_chain(data)
    dtype = working(*dts)
    u = make(rng, batch + (dims[0],), dts[-1], "C")
    w = make(rng, batch + (dims[-1],), dts[-1], "C")
    Ju, Jtw = mc.tangent_chain(fast, u), mc.grad_chain(fast, w)
    scale = float(np.sum(ref.tangent_chain(abs_links(slow), np.abs(dense(u)))
                         * np.abs(dense(w))))
    lhs, rhs = float(np.sum(dense(Ju) * dense(w))), float(np.sum(dense(u) * dense(Jtw)))
    assert abs(lhs - rhs) <= RTOL[dtype] * scale
    J = dense(mc.jacobian_chain(fast))      # in the links' dtype, maybe float32
    aJ = dense(ref.jacobian_chain(abs_links(slow)))
    J = np.broadcast_to(J, batch + J.shape[-2:])
    jtype = np.dtype(np.float32) if working(*dts[:-1]) == np.float32 else dtype
    assert_close(Ju, np.matmul(J, dense(u)[..., None])[..., 0],
                 np.matmul(aJ, np.abs(dense(u))[..., None])[..., 0], jtype)
    assert_close(Jtw, np.matmul(dense(w)[..., None, :], J)[..., 0, :],
                 np.matmul(np.abs(dense(w))[..., None, :], aJ)[..., 0, :], jtype)
    if len(fast) == 1 and not diag[0] and not batch:
        # a one-link chain is the left linear map: grad_chain([A], g) = Aᵀ g = grad_ax(A, g)
        A = np.asarray(fast[0])
        assert_close(Jtw, mc.grad_ax(A, w), np.abs(dense(A)).T @ np.abs(dense(w)), dtype)


# --- bad input: the documented errors, identical in fast and reference ----------------------

def _signature(name, rng):
    """(call(mod, args, **kw), valid args by name, out shape, shape perturbations that must
    fail: (arg name, axis))."""
    r = lambda *s: rng.standard_normal(s)  # noqa: E731
    if name == "grad_ax":
        return (lambda mod, a, **kw: mod.grad_ax(a["A"], a["G"], **kw),
                dict(A=r(4, 3), G=r(4, 2)), (3, 2), [("A", 0), ("G", 0)])
    if name == "grad_xa":
        return (lambda mod, a, **kw: mod.grad_xa(a["G"], a["A"], **kw),
                dict(G=r(4, 3), A=r(2, 3)), (4, 2), [("G", 1), ("A", 1)])
    if name == "trace_chain":
        return (lambda mod, a, **kw: mod.trace_chain(a["G"], a["dY_dX"], **kw),
                dict(G=r(2, 3), dY_dX=r(2, 3, 4)), (4,), [("G", 0), ("G", 1), ("dY_dX", 1)])
    if name in ("lstsq_grad", "lstsq_loss_grad"):
        return (lambda mod, a, **kw: getattr(mod, name)(a["X"], a["theta"], a["y"], **kw),
                dict(X=r(5, 3), theta=r(3, 2), y=r(5, 2)), (3, 2),
                [("X", 0), ("X", 1), ("theta", 0), ("theta", 1), ("y", 0), ("y", 1)])
    if name == "grad_chain":
        return (lambda mod, a, **kw: mod.grad_chain([a["J1"], a["J2"]], a["grad"], **kw),
                dict(J1=r(4, 3), J2=r(2, 4), grad=r(2)), (3,),
                [("J1", 0), ("J2", 1), ("J2", 0), ("grad", 0)])
    if name == "tangent_chain":
        return (lambda mod, a, **kw: mod.tangent_chain([a["J1"], a["J2"]], a["tangent"], **kw),
                dict(J1=r(4, 3), J2=r(2, 4), tangent=r(3)), (2,),
                [("J1", 0), ("J2", 1), ("J1", 1), ("tangent", 0)])
    if name == "jacobian_chain":
        return (lambda mod, a, **kw: mod.jacobian_chain([a["J1"], a["J2"], a["J3"]], **kw),
                dict(J1=r(4, 3), J2=r(2, 4), J3=r(5, 2)), (5, 3),
                [("J1", 0), ("J2", 1), ("J2", 0), ("J3", 1)])
    raise AssertionError(name)


ARGNAME = {"J1": "links[0]", "J2": "links[1]", "J3": "links[2]"}
ERROR_FUNCS = ["grad_ax", "grad_xa", "trace_chain", "lstsq_grad", "lstsq_loss_grad",
               "grad_chain", "tangent_chain", "jacobian_chain"]


def _raises_same(call, args, kwargs, exc, match=None):
    """Fast and reference both raise `exc` (message containing `match`); inputs intact."""
    snap = Snapshot(*[a for a in args.values() if isinstance(a, np.ndarray)])
    for mod in (mc, ref):
        with pytest.raises(exc) as info:
            call(mod, args, **kwargs)
        if match:
            assert match in str(info.value), f"{mod.__name__}: {info.value}"
    snap.check()


@pytest.mark.parametrize("name", ERROR_FUNCS)
@PROFILE
@given(data=st.data())
def test_bad_input_raises_documented_error(name, data):
    if not hasattr(mc, name):
        pytest.skip(f"mcfast.{name} not landed")
    rng = np.random.default_rng(data.draw(seeds))
    call, args, out_shape, bad_axes = _signature(name, rng)
    kind = data.draw(st.sampled_from(["none", "dtype", "shape", "ndim", "out"]))
    arg = data.draw(st.sampled_from(sorted(args)))
    label = ARGNAME.get(arg, arg)
    if kind == "none":
        args[arg] = None
        _raises_same(call, args, {}, TypeError, label)
    elif kind == "dtype":
        bad = data.draw(st.sampled_from([np.complex128, np.complex64, object, "U3",
                                         np.longdouble]))
        if np.dtype(bad) == np.dtype(np.float64):   # platforms where longdouble is double
            return
        args[arg] = args[arg].astype(bad)
        _raises_same(call, args, {}, TypeError, label)
    elif kind == "shape":
        arg, axis = data.draw(st.sampled_from(bad_axes))
        a = args[arg]
        shape = list(a.shape)
        shape[axis] = data.draw(st.sampled_from([0, shape[axis] + 1, shape[axis] + 3]))
        args[arg] = rng.standard_normal(shape)
        _raises_same(call, args, {}, ValueError, name)
    elif kind == "ndim":
        if name == "trace_chain":         # dY_dX may have any ndim
            return
        # a link must be at least 2-D; every other argument is 1-D or 2-D
        args[arg] = args[arg].reshape(-1) if arg.startswith("J") else args[arg][..., None, None]
        _raises_same(call, args, {}, ValueError, name)
    else:
        which = data.draw(st.sampled_from(["shape", "dtype", "order", "readonly", "list"]))
        if which == "shape":
            out = np.zeros(tuple(s + 1 for s in out_shape))
        elif which == "dtype":
            out = np.zeros(out_shape, np.float32)
        elif which == "order":
            out = np.zeros(out_shape[::-1] + (2,))[..., 0].T if len(out_shape) > 1 \
                else np.zeros(2 * out_shape[0])[::2]
        elif which == "readonly":
            out = np.zeros(out_shape)
            out.flags.writeable = False
        else:
            out = np.zeros(out_shape).tolist()
        _raises_same(call, args, {"out": out}, ValueError)


@pytest.mark.parametrize("func", ["grad_ax", "grad_xa"])
def test_accumulate_without_out_raises(func):
    a = np.ones((3, 2))
    for mod in (mc, ref):
        with pytest.raises(ValueError):
            getattr(mod, func)(a, a, accumulate=True)


@requires("grad_chain", "tangent_chain", "jacobian_chain", "chain_plan")
@pytest.mark.parametrize("mod", ["mc", "ref"])
def test_chain_errors(mod):
    m = mc if mod == "mc" else ref
    J1, J2 = np.ones((2, 4, 3)), np.ones((3, 5, 4))       # batch 2 vs 3: no broadcast
    for f in (lambda: m.jacobian_chain([J1, J2]), lambda: m.grad_chain([J1, J2], np.ones(5)),
              lambda: m.tangent_chain([J1, J2], np.ones(3)),
              lambda: m.jacobian_chain([]), lambda: m.jacobian_chain([J1], order="sideways"),
              lambda: m.chain_plan([J1], order="best")):
        with pytest.raises(ValueError):
            f()
    for f in (lambda: m.jacobian_chain(None), lambda: m.jacobian_chain(np.ones((3, 3))),
              lambda: m.grad_chain([np.ones((2, 2))], None)):
        with pytest.raises(TypeError):
            f()
    with pytest.raises(ValueError, match=r"links\[1\]"):
        m.jacobian_chain([np.ones((4, 3)), np.ones((2, 5))])


@requires("LeastSquares")
@pytest.mark.parametrize("mod", ["mc", "ref"])
def test_least_squares_errors(mod):
    m = mc if mod == "mc" else ref
    X, y = np.ones((5, 3)), np.ones(5)
    with pytest.raises(ValueError):
        m.LeastSquares(X, np.ones(4))
    with pytest.raises(ValueError):
        m.LeastSquares(X, y, sample_weight=np.ones(4))
    with pytest.raises(ValueError):
        m.LeastSquares(X, y, l2=-1.0)
    with pytest.raises(TypeError):
        m.LeastSquares(None, y)
    with pytest.raises(TypeError):
        m.LeastSquares(X.astype(complex), y)
    obj = m.LeastSquares(X, y)
    with pytest.raises(ValueError):
        obj(np.ones(4))
    with pytest.raises(TypeError):
        obj(None)
    with pytest.raises(ValueError):
        obj.hessp(np.ones(3), np.ones(2))
