"""lstsq_grad, lstsq_loss_grad and LeastSquares: reference, finite differences, errors, SciPy."""

import threading

import numpy as np
import pytest
import scipy.optimize

import mcfast as mc
import mcfast.lstsq as lstsq_mod
from mcfast._kernels import _lstsq as _k
from conftest import DTYPES, LAYOUTS, Snapshot, in_layout, rtol_for

ref = mc.reference

# (n, m, k): k = None for θ (m,) and y (n,); else θ (m, k) and y (n, k)
SHAPES = [
    (5, 3, None), (1, 1, None), (8, 8, None), (0, 3, None), (4, 0, None), (0, 0, None),
    (37, 19, None), (1003, 9, None), (1027, 4, None), (4099, 33, None), (257, 130, None),
    (5, 3, 2), (1, 1, 1), (300, 7, 1), (0, 3, 2), (4, 0, 2), (4, 3, 0), (37, 19, 4),
    (1003, 33, 3), (517, 20, 6),
]
FUNCS = ["lstsq_loss_grad", "lstsq_grad"]


def _problem(rng, n, m, k, dtype=np.float64):
    """X (n, m), θ and y of the given shape family, values O(1)."""
    X = rng.standard_normal((n, m)).astype(dtype)
    tshape, yshape = ((m,), (n,)) if k is None else ((m, k), (n, k))
    theta = rng.standard_normal(tshape).astype(dtype)
    y = rng.standard_normal(yshape).astype(dtype)
    return X, theta, y


def _tol(expected, dtype):
    """rtol of the dtype, and an atol at that rtol of the result's scale (sums cancel)."""
    rtol = rtol_for(dtype)
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
    return dict(rtol=rtol, atol=rtol * max(scale, 1.0))


def _call(name, X, theta, y, out=None):
    """(loss or None, grad) from the fast function or the reference, alike."""
    fast = getattr(mc, name)(X, theta, y, out=out)
    return fast if name == "lstsq_loss_grad" else (None, fast)


def _check_same(name, got, want, dtype):
    (loss, grad), (loss_ref, grad_ref) = got, want
    assert grad.dtype == dtype and grad.shape == grad_ref.shape
    assert isinstance(grad, np.ndarray)
    np.testing.assert_allclose(grad, grad_ref, **_tol(grad_ref, dtype))
    if name == "lstsq_loss_grad":
        assert type(loss) is float
        np.testing.assert_allclose(loss, loss_ref, rtol=rtol_for(dtype), atol=1e-30)


# --- fast path == reference --------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("out_given", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_reference(rng, name, dtype, layout, out_given, shape):
    X0, t0, y0 = _problem(rng, *shape, dtype)
    X, theta, y = (in_layout(a, layout) for a in (X0, t0, y0))
    snap = Snapshot(X, theta, y)
    out = np.full(t0.shape, np.nan, dtype) if out_given else None
    got = _call(name, X, theta, y, out)
    want = _call_ref(name, X0, t0, y0)
    _check_same(name, got, want, dtype)
    if out_given:
        assert got[1] is out
        assert np.shares_memory(got[1], out) or out.size == 0
    snap.assert_unchanged()


def _call_ref(name, X, theta, y):
    fast = getattr(ref, name)(X, theta, y)
    return fast if name == "lstsq_loss_grad" else (None, fast)


def test_empty_sums():
    X = np.zeros((0, 3))
    loss, grad = mc.lstsq_loss_grad(X, np.ones(3), np.zeros(0))
    assert loss == 0.0 and np.array_equal(grad, np.zeros(3))
    # m = 0: Xθ = 0, so the loss is ‖y‖² and the gradient is empty
    loss, grad = mc.lstsq_loss_grad(np.zeros((3, 0)), np.zeros(0), np.array([1.0, 2, 3]))
    assert loss == 14.0 and grad.shape == (0,)
    loss, grad = mc.lstsq_loss_grad(np.zeros((3, 2)), np.zeros((2, 0)), np.zeros((3, 0)))
    assert loss == 0.0 and grad.shape == (2, 0)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [None, 3])
def test_many_rows_several_threads(rng, monkeypatch, name, dtype, k):
    """n = 50,001 (not a multiple of any block), on 1, 2 and 3 threads."""
    X, theta, y = _problem(rng, 50_001, 32, k, dtype)
    want = _call_ref(name, X.astype(np.float64), theta.astype(np.float64),
                     y.astype(np.float64))
    for threads in (1, 2, 3):
        monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", threads)
        if threads > 1:
            assert lstsq_mod._plan(50_001, 32, k or 0, X.itemsize)[1] == threads
        _check_same(name, _call(name, X, theta, y), want, dtype)


@pytest.mark.parametrize("k", [None, 2, 5])
def test_threaded_result_is_reproducible(rng, monkeypatch, k):
    """Threads take the parts dynamically, but the parts are summed in their own order:
    repeated threaded calls agree bitwise, while a busy thread makes them share unevenly."""
    monkeypatch.setattr(lstsq_mod, "_MAX_THREADS", 2)
    X, theta, y = _problem(rng, 60_001, 24, k)
    assert lstsq_mod._plan(60_001, 24, k or 0, 8)[1] == 2
    first = mc.lstsq_loss_grad(X, theta, y)
    stop = threading.Event()

    def busy():                       # competes for the cores, varying who takes what
        while not stop.is_set():
            np.abs(X[:2000]).sum()
    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(10):
            loss, grad = mc.lstsq_loss_grad(X, theta, y)
            assert loss == first[0]
            np.testing.assert_array_equal(grad, first[1])
    finally:
        stop.set()
        t.join()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 2, 3, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 47, 64, 100])
def test_kernel_every_simd_level_width_and_thread_count(rng, dtype, m):
    """The kernel directly: every instruction-set path, weights and y optional, odd blocks."""
    n = 211
    X, theta, y = _problem(rng, n, m, None, dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    one = np.zeros(1, dtype)
    kern = _k.vec_loss_grad["float" if dtype == np.float32 else "double"]
    level, best, _ = _k.simd_level()
    try:
        for lvl in range(best + 1):
            _k.set_simd_level(lvl)
            assert _k.simd_level()[0] == lvl
            for has_y, has_w, l2 in [(True, False, 0.0), (True, True, 0.5), (False, True, 0.0),
                                     (False, False, 2.0)]:
                obj = ref.LeastSquares(X, y if has_y else np.zeros(n, dtype),
                                       sample_weight=w if has_w else None, l2=l2)
                loss_ref, grad_ref = obj(theta)
                for block, threads in [(1, 1), (7, 1), (64, 3), (1000, 2), (5, 4)]:
                    grad = np.full(m, np.nan, dtype)
                    loss = kern(X, theta, y if has_y else one, has_y, w if has_w else one,
                                has_w, l2, grad, block, threads)
                    np.testing.assert_allclose(grad, grad_ref, **_tol(grad_ref, dtype))
                    np.testing.assert_allclose(loss, loss_ref, rtol=rtol_for(dtype))
    finally:
        _k.set_simd_level(level)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 3, 4, 5, 9])
@pytest.mark.parametrize("m", [1, 3, 8, 9, 16, 33])
def test_multi_target_kernel_every_simd_level_and_thread_count(rng, dtype, k, m):
    """Θ (m, k): the C loop (k ≤ 4) and the gemm path (k > 4), weights and y optional."""
    n = 157
    X, theta, y = _problem(rng, n, m, k, dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    one1, one2 = np.zeros(1, dtype), np.zeros((1, 1), dtype)
    kern = _k.mat_loss_grad["float" if dtype == np.float32 else "double"]
    level, best, _ = _k.simd_level()
    try:
        for lvl in range(best + 1):
            _k.set_simd_level(lvl)
            for has_y, has_w, l2 in [(True, False, 0.0), (True, True, 0.5), (False, True, 0.0)]:
                obj = ref.LeastSquares(X, y if has_y else np.zeros((n, k), dtype),
                                       sample_weight=w if has_w else None, l2=l2)
                loss_ref, grad_ref = obj(theta)
                for block, threads in [(1, 1), (10, 1), (16, 3), (1000, 2)]:
                    grad = np.full((m, k), np.nan, dtype)
                    loss = kern(X, theta, y if has_y else one2, has_y, w if has_w else one1,
                                has_w, l2, grad, block, threads)
                    np.testing.assert_allclose(grad, grad_ref, **_tol(grad_ref, dtype))
                    np.testing.assert_allclose(loss, loss_ref, rtol=rtol_for(dtype))
    finally:
        _k.set_simd_level(level)


def test_kernel_wrappers_refuse_inconsistent_shapes():
    """The compiled entry points never index out of bounds, whatever they are given."""
    X, t, y, one = np.ones((5, 3)), np.ones(3), np.ones(5), np.zeros(1)
    vec, mat = _k.vec_loss_grad["double"], _k.mat_loss_grad["double"]
    bad_vec = [
        (X, np.ones(4), y, True, one, False, 0.0, np.empty(3), 8, 1),
        (X, t, np.ones(4), True, one, False, 0.0, np.empty(3), 8, 1),
        (X, t, y, True, one, True, 0.0, np.empty(3), 8, 1),
        (X, t, y, True, one, False, 0.0, np.empty(2), 8, 1),
        (X, t, y, True, one, False, 0.0, np.empty(3), 0, 1),
        (X, t, y, True, one, False, 0.0, np.empty(3), 8, 0),
        (np.ones((0, 3)), t, np.ones(0), True, one, False, 0.0, np.empty(3), 8, 1),
    ]
    for args in bad_vec:
        with pytest.raises(ValueError, match="vec_loss_grad"):
            vec(*args)
    T, Y = np.ones((3, 2)), np.ones((5, 2))
    bad_mat = [
        (X, T, np.ones((5, 3)), True, one, False, 0.0, np.empty((3, 2)), 8, 1),
        (X, T, Y, True, one, False, 0.0, np.empty((3, 3)), 8, 1),
        (X, np.ones((4, 2)), Y, True, one, False, 0.0, np.empty((4, 2)), 8, 1),
        (X, T, Y, True, np.ones(4), True, 0.0, np.empty((3, 2)), 8, 1),
    ]
    for args in bad_mat:
        with pytest.raises(ValueError, match="mat_loss_grad"):
            mat(*args)
    with pytest.raises(TypeError):
        vec(None, t, y, True, one, False, 0.0, np.empty(3), 8, 1)


# --- the compiled fast entry --------------------------------------------------------------

class _Sub(np.ndarray):
    """An ndarray subclass: the fast entry leaves it to the general path."""


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, m", [(1, 1), (8, 8), (64, 8), (300, 17), (9000, 40)])
@pytest.mark.parametrize("threads", [1, 2])
def test_fast_entry_on_plain_arrays(rng, dtype, n, m, threads):
    """Plain C-contiguous inputs of one float dtype: the entry's answer is the reference's."""
    X, theta, y, w = _objective(rng, n, m, None, True, 0.0, dtype)
    snap = Snapshot(X, theta, y, w)
    for weights, l2 in ((None, 0.0), (w, 0.0), (w, 0.3)):
        loss, grad = _k.loss_grad_fast(X, theta, y, weights, l2, None, threads)
        loss_ref, grad_ref = ref.LeastSquares(X, y, sample_weight=weights, l2=l2)(theta)
        assert type(loss) is float and grad.dtype == dtype and grad.shape == (m,)
        np.testing.assert_allclose(loss, loss_ref, rtol=rtol_for(dtype))
        np.testing.assert_allclose(grad, grad_ref, **_tol(grad_ref, dtype))
        out = np.full(m, np.nan, dtype)
        got = _k.loss_grad_fast(X, theta, y, weights, l2, out, threads)
        assert got[1] is out and got[0] == loss
        np.testing.assert_array_equal(out, grad)
    snap.assert_unchanged()


def test_fast_entry_declines_what_it_cannot_take(rng):
    """Everything unusual returns None, writes nothing, and the public function is still
    right (the general path converts, or raises the named error)."""
    X, theta, y = _problem(rng, 10, 4, None)
    w, t2 = np.ones(10), theta.copy()
    ro = np.empty(4)
    ro.flags.writeable = False
    declined = {
        "float32 X": (X.astype(np.float32), theta, y, None, None),
        "int X": (X.astype(np.int64), theta, y, None, None),
        "float16 y": (X, theta, y.astype(np.float16), None, None),
        "F-ordered X": (np.asfortranarray(X), theta, y, None, None),
        "strided theta": (X, np.repeat(theta, 2)[::2], y, None, None),
        "subclass X": (X.view(_Sub), theta, y, None, None),
        "list theta": (X, list(theta), y, None, None),
        "2-D theta": (X, theta[:, None], y[:, None], None, None),
        "1-D X": (X[0], theta, y, None, None),
        "short theta": (X, theta[:3], y, None, None),
        "short y": (X, theta, y[:9], None, None),
        "no rows": (X[:0], theta, y[:0], None, None),
        "no columns": (X[:, :0], theta[:0], y, None, None),
        "short w": (X, theta, y, w[:9], None),
        "float32 w": (X, theta, y, w.astype(np.float32), None),
        "out of float32": (X, theta, y, None, np.empty(4, np.float32)),
        "out too long": (X, theta, y, None, np.empty(5)),
        "2-D out": (X, theta, y, None, np.empty((4, 1))),
        "strided out": (X, theta, y, None, np.empty(8)[::2]),
        "read-only out": (X, theta, y, None, ro),
        "out is theta": (X, t2, y, None, t2),
        "out in X": (X, theta, y, None, X[2]),
        "out in y": (X, theta, y, None, y[3:7]),
        "out in w": (X, theta, y, w, w[:4]),
    }
    for what, (Xa, ta, ya, wa, out) in declined.items():
        snap = Snapshot(*[a for a in (Xa, ta, ya, wa, out) if isinstance(a, np.ndarray)])
        assert _k.loss_grad_fast(Xa, ta, ya, wa, 0.0, out, 1) is None, what
        snap.assert_unchanged()
        if wa is not None:
            continue
        try:
            want = _call_ref("lstsq_loss_grad", Xa, ta, ya)
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc), match="lstsq_loss_grad"):
                mc.lstsq_loss_grad(Xa, ta, ya, out=out)
            continue
        try:
            got = mc.lstsq_loss_grad(Xa, ta, ya, out=out)
        except ValueError as exc:            # an unusable out is refused, named
            assert "out" in str(exc), what
            continue
        _check_same("lstsq_loss_grad", got, want, got[1].dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_read_floor_kernel(rng, dtype):
    X = rng.standard_normal((1001, 37)).astype(dtype)
    kern = _k.row_sum["float" if dtype == np.float32 else "double"]
    for threads in (1, 2, 3):
        np.testing.assert_allclose(kern(X, threads), X.sum(dtype=np.float64),
                                   rtol=1e-5, atol=1e-3)


# --- out= ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("k", [None, 2])
def test_out_overlapping_theta(rng, name, k):
    X, theta, y = _problem(rng, 40, 6, k)
    want = _call_ref(name, X, theta, y)
    buf = theta.copy()
    got = _call(name, X, buf, y, out=buf)
    assert got[1] is buf
    _check_same(name, got, want, np.float64)


@pytest.mark.parametrize("name", FUNCS)
def test_out_overlapping_X_and_y(rng, name):
    X, theta, y = _problem(rng, 40, 6, None)
    want = _call_ref(name, X, theta, y)
    Xc = X.copy()
    out = Xc[3]                      # a C-contiguous row of X itself
    got = _call(name, Xc, theta, y, out=out)
    assert got[1] is out
    _check_same(name, got, want, np.float64)
    yb = np.concatenate([y, np.zeros(6)])
    out = yb[40:]                     # the tail of y's buffer
    got = _call(name, X, theta, yb[:40], out=out)
    _check_same(name, got, want, np.float64)


@pytest.mark.parametrize("name", FUNCS)
def test_bad_out(rng, name):
    X, theta, y = _problem(rng, 10, 4, None)
    func = getattr(mc, name)
    bad = [np.empty(5), np.empty(4, np.float32), np.empty((4, 1)), np.empty(8)[::2],
           [0.0] * 4, np.empty(4, np.int64)]
    ro = np.empty(4)
    ro.flags.writeable = False
    for out in bad + [ro]:
        with pytest.raises(ValueError, match=name):
            func(X, theta, y, out=out)


# --- the dtype rule --------------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dtypes, expected", [
    ((np.float32, np.float32, np.float32), np.float32),
    ((np.float32, np.float64, np.float32), np.float64),
    ((np.float64, np.float32, np.float32), np.float64),
    ((np.int64, np.float32, np.float32), np.float64),
    ((np.int32, np.int64, np.int8), np.float64),
    ((np.bool_, np.float32, np.float32), np.float64),
    ((np.float32, np.float32, np.float16), np.float32),
    ((np.uint8, np.float64, np.bool_), np.float64),
])
def test_dtype_rule(rng, name, dtypes, expected):
    X, theta, y = _problem(rng, 12, 3, None)
    X, theta, y = ((a * 3).astype(dt) for a, dt in zip((X, theta, y), dtypes))
    got = _call(name, X, theta, y)
    want = _call_ref(name, X, theta, y)
    assert got[1].dtype == expected == want[1].dtype
    _check_same(name, got, want, expected)


# --- finite differences ----------------------------------------------------------------

@pytest.mark.parametrize("k", [None, 3])
def test_gradient_is_the_derivative_of_the_loss(rng, k):
    X, theta, y = _problem(rng, 30, 5, k)
    err = mc.check_grad(lambda t: mc.lstsq_loss_grad(X, t, y)[0],
                        lambda t: mc.lstsq_grad(X, t, y), theta)
    assert err < 5e-6


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.7])
def test_least_squares_derivatives(rng, k, weighted, l2):
    X, theta, y = _problem(rng, 30, 5, k)
    w = rng.uniform(0.1, 3.0, 30) if weighted else None
    obj = mc.LeastSquares(X, y, sample_weight=w, l2=l2)
    assert mc.check_grad(lambda t: obj(t)[0], lambda t: obj(t)[1], theta) < 5e-6
    # hessp is the derivative of θ ↦ ∇L(θ)·p
    p = rng.standard_normal(theta.shape)
    err = mc.check_grad(lambda t: float(np.sum(obj(t)[1] * p)),
                        lambda t: obj.hessp(t, p), theta)
    assert err < 5e-6
    flat = theta.ravel()
    err = scipy.optimize.check_grad(lambda t: obj(t)[0], lambda t: obj(t)[1], flat)
    assert err < 1e-6 * max(1.0, np.linalg.norm(obj(flat)[1]))


# --- bad input ---------------------------------------------------------------------------

BAD_VALUES = {
    "None": None,
    "complex": np.ones(3, complex),
    "object": np.array([1.0, 2.0, 3.0], dtype=object),
    "string": np.array(["a", "b", "c"]),
    "longdouble": np.ones(3, np.longdouble),
}


def _same_error(exc_type, fast, slow, match):
    with pytest.raises(exc_type, match=match) as fast_err:
        fast()
    with pytest.raises(exc_type) as ref_err:
        slow()
    assert str(fast_err.value) == str(ref_err.value)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("arg", ["X", "theta", "y"])
@pytest.mark.parametrize("kind", list(BAD_VALUES))
def test_bad_types_name_the_argument(rng, name, arg, kind):
    if kind == "longdouble" and np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("longdouble is double on this platform")
    args = dict(zip(("X", "theta", "y"), _problem(rng, 3, 3, None)))
    snap = Snapshot(*args.values())
    args[arg] = BAD_VALUES[kind]
    _same_error(TypeError, lambda: getattr(mc, name)(**args),
                lambda: getattr(ref, name)(**args), f"{name}.*'{arg}'")
    snap.assert_unchanged()


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("shapes", [
    ((5,), (5,), (5,)),            # X 1-D
    ((5, 3, 1), (3,), (5,)),       # X 3-D
    ((5, 3), (), (5,)),            # θ 0-D
    ((5, 3), (3, 2, 1), (5, 2)),   # θ 3-D
    ((5, 3), (3,), (5, 1, 1)),     # y 3-D
    ((5, 3), (4,), (5,)),          # θ does not fit X
    ((5, 3), (3,), (4,)),          # y does not fit X
    ((5, 3), (3,), (5, 1)),        # 1-D θ with 2-D y
    ((5, 3), (3, 2), (5,)),        # 2-D θ with 1-D y
    ((5, 3), (3, 2), (5, 3)),      # different k
], ids=str)
def test_bad_shapes(name, shapes):
    args = [np.ones(s) for s in shapes]
    snap = Snapshot(*args)
    _same_error(ValueError, lambda: getattr(mc, name)(*args),
                lambda: getattr(ref, name)(*args), name)
    with pytest.raises(ValueError) as err:
        getattr(mc, name)(*args)
    msg = str(err.value)
    assert any(str(tuple(s)) in msg for s in shapes)
    snap.assert_unchanged()


def test_nan_and_inf_propagate():
    X = np.ones((6, 3))
    X[2, 1] = np.nan
    loss, grad = mc.lstsq_loss_grad(X, np.ones(3), np.zeros(6))
    assert np.isnan(loss) and np.isnan(grad).all()
    X[2, 1] = np.inf
    loss, grad = mc.lstsq_loss_grad(X, np.ones(3), np.zeros(6))
    assert loss == np.inf


def test_memmap_input(tmp_path, rng):
    X, theta, y = _problem(rng, 300, 7, None)
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[...] = X
    mm.flush()
    ro = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    _check_same("lstsq_loss_grad", _call("lstsq_loss_grad", ro, theta, y),
                _call_ref("lstsq_loss_grad", X, theta, y), np.float64)


def test_concurrent_calls_from_threads(rng):
    problems = [_problem(rng, 20_000, 16, None) for _ in range(4)]
    want = [ref.lstsq_loss_grad(*p) for p in problems]
    got = [None] * 4

    def work(i):
        for _ in range(5):
            got[i] = mc.lstsq_loss_grad(*problems[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        _check_same("lstsq_loss_grad", g, w, np.float64)


# --- float32 accuracy ----------------------------------------------------------------------

def test_float32_no_less_accurate_than_numpy():
    """n = 1e6 float32: error against float64 no worse than NumPy's float32 formula's."""
    rng = np.random.default_rng(7)
    n, m = 1_000_000, 16
    X = rng.standard_normal((n, m), dtype=np.float32)
    theta = rng.standard_normal(m, dtype=np.float32)
    y = (X @ theta + rng.standard_normal(n, dtype=np.float32)).astype(np.float32)
    loss, grad = mc.lstsq_loss_grad(X, theta, y)
    # exact enough: the same float32 data in float64
    X64, t64, y64 = X.astype(np.float64), theta.astype(np.float64), y.astype(np.float64)
    r64 = X64 @ t64 - y64
    loss64, grad64 = float(r64 @ r64), 2 * (X64.T @ r64)
    del X64
    r32 = X @ theta - y
    loss_np, grad_np = float(r32 @ r32), 2 * (X.T @ r32)
    eps = np.finfo(np.float32).eps
    assert abs(loss - loss64) <= 2 * abs(loss_np - loss64) + 4 * eps * abs(loss64)
    gscale = float(np.max(np.abs(grad64)))
    assert (np.max(np.abs(grad - grad64))
            <= 2 * np.max(np.abs(grad_np - grad64)) + 4 * eps * gscale)


# --- LeastSquares ----------------------------------------------------------------------

VARIANTS = [
    dict(k=None, weighted=False, l2=0.0),
    dict(k=None, weighted=True, l2=0.0),
    dict(k=None, weighted=False, l2=0.5),
    dict(k=None, weighted=True, l2=0.5),
    dict(k=3, weighted=False, l2=0.0),
    dict(k=3, weighted=True, l2=0.25),
]


def _objective(rng, n, m, k, weighted, l2, dtype=np.float64):
    X, theta, y = _problem(rng, n, m, k, dtype)
    w = rng.uniform(0.1, 3.0, n).astype(dtype) if weighted else None
    return X, theta, y, w


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [0, 1, 57, 3001])
def test_least_squares_matches_reference(rng, variant, dtype, layout, n):
    X, theta, y, w = _objective(rng, n, 6, variant["k"], variant["weighted"],
                                variant["l2"], dtype)
    Xl, yl = in_layout(X, layout), in_layout(y, layout)
    wl = None if w is None else in_layout(w, layout)
    snap = Snapshot(*[a for a in (Xl, yl, wl) if a is not None])
    obj = mc.LeastSquares(Xl, yl, sample_weight=wl, l2=variant["l2"])
    slow = ref.LeastSquares(X, y, sample_weight=w, l2=variant["l2"])
    assert obj.dtype == slow.dtype == dtype
    p = rng.standard_normal(theta.shape).astype(dtype)
    for t in (theta, theta.ravel(), in_layout(theta, layout)):
        loss, grad = obj(t)
        loss_ref, grad_ref = slow(t)
        assert type(loss) is float and grad.shape == np.shape(t) and grad.dtype == dtype
        np.testing.assert_allclose(loss, loss_ref, rtol=rtol_for(dtype), atol=1e-30)
        np.testing.assert_allclose(grad, grad_ref, **_tol(grad_ref, dtype))
        hp, hp_ref = obj.hessp(t, p.reshape(np.shape(t))), slow.hessp(t, p.reshape(np.shape(t)))
        assert hp.shape == np.shape(t) and hp.dtype == dtype
        np.testing.assert_allclose(hp, hp_ref, **_tol(hp_ref, dtype))
    snap.assert_unchanged()


def test_least_squares_gradient_never_changes(rng):
    X, theta, y, w = _objective(rng, 200, 5, None, True, 0.1)
    obj = mc.LeastSquares(X, y, sample_weight=w, l2=0.1)
    loss1, g1 = obj(theta)
    keep = g1.copy()
    loss2, g2 = obj(theta + 1.0)
    h1 = obj.hessp(theta, theta)
    hkeep = h1.copy()
    obj.hessp(theta, -theta)
    np.testing.assert_array_equal(g1, keep)
    np.testing.assert_array_equal(h1, hkeep)
    assert not np.shares_memory(g1, g2)
    # the caller may modify what it got without affecting later calls
    g2[...] = 0
    np.testing.assert_array_equal(obj(theta)[1], keep)


def test_least_squares_float32_and_errors(rng):
    X, theta, y, w = _objective(rng, 50, 4, None, True, 0.0, np.float32)
    obj = mc.LeastSquares(X, y, sample_weight=w)
    assert obj(theta)[1].dtype == np.float32
    assert obj(theta.astype(np.float64))[1].dtype == np.float32   # scipy passes float64
    assert "LeastSquares" in repr(obj)
    cases = [
        (ValueError, dict(X=X, y=y[:-1])),
        (ValueError, dict(X=X, y=y, sample_weight=w[:-1])),
        (ValueError, dict(X=X, y=y, sample_weight=np.ones((50, 1)))),
        (ValueError, dict(X=X, y=y, l2=-1.0)),
        (TypeError, dict(X=X, y=y, l2="a lot")),
        (TypeError, dict(X=None, y=y)),
        (TypeError, dict(X=X, y=y.astype(complex))),
        (TypeError, dict(X=X, y=y, sample_weight=np.array(["w"] * 50))),
        (ValueError, dict(X=X[0], y=y)),
    ]
    for exc, kwargs in cases:
        _same_error(exc, lambda: mc.LeastSquares(**kwargs),
                    lambda: ref.LeastSquares(**kwargs), "LeastSquares")
    for bad in (np.ones(5), np.ones((4, 1)), np.ones((2, 2))):
        _same_error(ValueError, lambda: obj(bad), lambda: ref.LeastSquares(X, y)(bad),
                    "theta")
        _same_error(ValueError, lambda: obj.hessp(theta, bad),
                    lambda: ref.LeastSquares(X, y).hessp(theta, bad), "'?p'?")
    with pytest.raises(TypeError):
        obj(None)


def _solution(X, y, w, l2):
    """argmin Σ w ‖xθ − y‖² + l2‖θ‖²: the normal equations (XᵀWX + l2 I) θ = XᵀWy."""
    if w is None and l2 == 0:
        return np.linalg.lstsq(X, y, rcond=None)[0]
    Xw = X if w is None else X * w[:, None]
    return np.linalg.solve(Xw.T @ X + l2 * np.eye(X.shape[1]), Xw.T @ y)


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
@pytest.mark.parametrize("method", ["L-BFGS-B", "trust-ncg"])
def test_least_squares_in_scipy_minimize(rng, variant, method):
    X, theta, y, w = _objective(rng, 400, 7, variant["k"], variant["weighted"], variant["l2"])
    obj = mc.LeastSquares(X, y, sample_weight=w, l2=variant["l2"])
    want = _solution(X, y, w, variant["l2"])
    x0 = np.zeros(want.size)
    if method == "L-BFGS-B":
        res = scipy.optimize.minimize(obj, x0, jac=True, method=method,
                                      options=dict(gtol=1e-12, ftol=1e-15, maxiter=5000))
    else:
        res = scipy.optimize.minimize(obj, x0, jac=True, hessp=obj.hessp, method=method,
                                      options=dict(gtol=1e-10))
    np.testing.assert_allclose(res.x.reshape(want.shape), want, rtol=1e-6, atol=1e-7)


def test_simd_level_reports():
    level, best, name = _k.simd_level()
    assert 0 <= level <= best <= 2 and name in ("baseline", "avx2", "avx512")
