"""grad_ax, grad_xa and trace_chain: against the reference, finite differences and bad input."""

import numpy as np
import pytest

import mcfast as mc
from conftest import DTYPES, LAYOUTS, Snapshot, in_layout, rtol_for

AX_SHAPES = [((5, 3), (5, 4)), ((5, 3), (5,)), ((1, 1), (1, 1)), ((0, 3), (0, 4)),
             ((4, 0), (4, 2)), ((4, 3), (4, 0)), ((0, 3), (0,)), ((37, 19), (37, 23))]
XA_SHAPES = [((6, 4), (3, 4)), ((6,), (3,)), ((0, 4), (3, 4)), ((6, 0), (3, 0)),
             ((6, 4), (0, 4)), ((0,), (3,)), ((29, 31), (17, 31))]
TRACE_SHAPES = [((3, 4), (3, 4, 2, 5)), ((3,), (3, 6)), ((2, 3), (2, 3)), ((), (4, 2)),
                ((0, 2), (0, 2, 3, 1)), ((3, 2), (3, 2, 0, 4)), ((4, 3, 2), (4, 3, 2, 3))]


def _data(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _call(func, args, out_given, expected):
    out = np.full(expected.shape, np.nan, expected.dtype) if out_given else None
    ret = func(*args, out=out)
    if out_given:
        assert ret is out
    return ret


CASES = ([("grad_ax", s) for s in AX_SHAPES] + [("grad_xa", s) for s in XA_SHAPES]
         + [("trace_chain", s) for s in TRACE_SHAPES])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("out_given", [False, True])
@pytest.mark.parametrize("name, shapes", CASES)
def test_matches_reference(rng, dtype, layout, out_given, name, shapes):
    arrays = [_data(rng, s, dtype) for s in shapes]
    args = [in_layout(a, layout) for a in arrays]
    snap = Snapshot(*args)
    expected = getattr(mc.reference, name)(*arrays)
    ret = _call(getattr(mc, name), args, out_given, expected)
    assert ret.dtype == dtype and ret.shape == expected.shape
    if name == "trace_chain":
        assert ret.shape == shapes[1][len(shapes[0]):]
    np.testing.assert_allclose(ret, expected, rtol=rtol_for(dtype), atol=rtol_for(dtype))
    snap.assert_unchanged()


def test_reference_matches_numpy_formulas(rng):
    A, G = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    np.testing.assert_allclose(mc.reference.grad_ax(A, G), A.T @ G)
    np.testing.assert_allclose(mc.reference.grad_xa(G.T, rng.standard_normal((2, 5))).shape,
                               (4, 2))
    g, a = rng.standard_normal(4), rng.standard_normal(3)
    np.testing.assert_allclose(mc.reference.grad_xa(g, a), g[:, None] * a[None, :])


# --- accumulate and out= ---------------------------------------------------------------

@pytest.mark.parametrize("func, shapes", [(mc.grad_ax, ((5, 3), (5, 4))),
                                          (mc.grad_ax, ((5, 3), (5,))),
                                          (mc.grad_xa, ((6, 4), (3, 4))),
                                          (mc.grad_xa, ((6,), (3,)))])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_accumulate_adds_into_out(rng, func, shapes, layout):
    x, y = (in_layout(_data(rng, s, np.float64), layout) for s in shapes)
    ref = getattr(mc.reference, func.__name__)(x, y)
    start = rng.standard_normal(ref.shape)
    out = start.copy()
    assert func(x, y, out=out, accumulate=True) is out
    np.testing.assert_allclose(out, start + ref, rtol=1e-12)
    with pytest.raises(ValueError, match="accumulate=True needs out="):
        func(x, y, accumulate=True)


def test_accumulate_with_empty_inner_dimension_keeps_out(rng):
    out = np.ones((3, 4))
    mc.grad_ax(np.zeros((0, 3)), np.zeros((0, 4)), out=out, accumulate=True)
    np.testing.assert_array_equal(out, 1.0)
    mc.grad_ax(np.zeros((0, 3)), np.zeros((0, 4)), out=out)
    np.testing.assert_array_equal(out, 0.0)


@pytest.mark.parametrize("accumulate", [False, True])
def test_out_overlapping_an_input_is_correct(rng, accumulate):
    # G (4, 4) and out (4, 4) are the same memory: result must be Aᵀ G of the old G
    A = rng.standard_normal((4, 4))
    G = rng.standard_normal((4, 4))
    expected = A.T @ G + (G if accumulate else 0)
    assert mc.grad_ax(A, G, out=G, accumulate=accumulate) is G
    np.testing.assert_allclose(G, expected, rtol=1e-12)
    G = rng.standard_normal((4, 4))
    expected = G @ A.T + (A if accumulate else 0)
    mc.grad_xa(G, A, out=A, accumulate=accumulate)
    np.testing.assert_allclose(A, expected, rtol=1e-12)
    D = rng.standard_normal((2, 2, 2, 2))
    G = rng.standard_normal((2, 2))
    expected = np.tensordot(G, D, 2)
    mc.trace_chain(G, D, out=G)
    np.testing.assert_allclose(G, expected, rtol=1e-12)


@pytest.mark.parametrize("bad_out, match", [
    (np.zeros((3, 5)), "shape"), (np.zeros((3, 4), np.float32), "dtype"),
    (np.zeros((4, 3)).T, "C-contiguous"), ([[0.0] * 4] * 3, "numpy.ndarray")])
def test_bad_out_is_refused(rng, bad_out, match):
    A, G = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    with pytest.raises(ValueError, match=match):
        mc.grad_ax(A, G, out=bad_out)


def test_readonly_out_is_refused(rng):
    out = np.zeros((3, 4))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        mc.grad_ax(rng.standard_normal((5, 3)), rng.standard_normal((5, 4)), out=out)


# --- dtype rule --------------------------------------------------------------------------

@pytest.mark.parametrize("da, dg, expected", [
    (np.float32, np.float32, np.float32), (np.float32, np.float64, np.float64),
    (np.int64, np.float32, np.float64), (np.bool_, np.bool_, np.float64),
    (np.int32, np.int8, np.float64), (np.float16, np.float32, np.float32)])
def test_dtype_rule(rng, da, dg, expected):
    A = (rng.standard_normal((4, 3)) * 3).astype(da)
    G = (rng.standard_normal((4, 2)) * 3).astype(dg)
    for func, args in [(mc.grad_ax, (A, G)), (mc.grad_xa, (G.T, A.T)),
                       (mc.trace_chain, (G[:, 0], A))]:
        ret = func(*args)
        assert ret.dtype == expected, func.__name__
        ref = getattr(mc.reference, func.__name__)(*args)
        assert ref.dtype == expected
        np.testing.assert_allclose(ret, ref, rtol=rtol_for(expected))


def test_array_likes_and_memmap(tmp_path, rng):
    A = rng.standard_normal((5, 3))
    path = tmp_path / "a.npy"
    np.save(path, A)
    mm = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(mc.grad_ax(mm, np.ones(5)), A.sum(axis=0))
    np.testing.assert_allclose(mc.grad_ax(A.tolist(), [1.0] * 5), A.sum(axis=0))


def test_nan_and_inf_propagate():
    A = np.array([[np.nan, 1.0], [2.0, np.inf]])
    ret = mc.grad_ax(A, np.ones(2))
    assert np.isnan(ret[0]) and np.isinf(ret[1])


# --- finite differences of the definition --------------------------------------------------

def test_grad_ax_against_finite_differences(rng):
    # z = Σ sin(AX + B)  =>  ∂z/∂X = Aᵀ cos(AX + B)
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    X = rng.standard_normal((3, 2))
    err = mc.check_grad(lambda X: np.sum(np.sin(A @ X + B)),
                        lambda X: mc.grad_ax(A, np.cos(A @ X + B)), X)
    assert err < 1e-7


def test_grad_ax_vector_against_finite_differences(rng):
    A, b, x = rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal(3)
    err = mc.check_grad(lambda x: np.sum(np.sin(A @ x + b)),
                        lambda x: mc.grad_ax(A, np.cos(A @ x + b)), x)
    assert err < 1e-7


def test_grad_xa_against_finite_differences(rng):
    # z = Σ sin(XA + B)  =>  ∂z/∂X = cos(XA + B) Aᵀ;  X (n, m), A (m, p)
    A, B = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    X = rng.standard_normal((2, 3))
    err = mc.check_grad(lambda X: np.sum(np.sin(X @ A + B)),
                        lambda X: mc.grad_xa(np.cos(X @ A + B), A), X)
    assert err < 1e-7


def test_grad_xa_vector_against_finite_differences(rng):
    # y = X a + b  =>  ∂z/∂X = g aᵀ
    a, b = rng.standard_normal(3), rng.standard_normal(4)
    X = rng.standard_normal((4, 3))
    err = mc.check_grad(lambda X: np.sum(np.sin(X @ a + b)),
                        lambda X: mc.grad_xa(np.cos(X @ a + b), a), X)
    assert err < 1e-7


def test_trace_chain_against_finite_differences(rng):
    # Y = tanh(A X): ∂Y_kl/∂X_ij = (1 - tanh²(AX))_kl A_ki δ_lj;  z = Σ sin(Y)
    A = rng.standard_normal((4, 3))
    X = rng.standard_normal((3, 2))

    def grad(X):
        T = np.tanh(A @ X)
        dY_dX = np.einsum("kl,ki,lj->klij", 1 - T**2, A, np.eye(2))
        return mc.trace_chain(np.cos(T), dY_dX)

    err = mc.check_grad(lambda X: np.sum(np.sin(np.tanh(A @ X))), grad, X)
    assert err < 1e-7


def test_check_grad_detects_a_wrong_gradient(rng):
    A, X = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    err = mc.check_grad(lambda X: np.sum(np.sin(A @ X)),
                        lambda X: 1.01 * mc.grad_ax(A, np.cos(A @ X)), X)
    assert err > 5e-3


# --- bad input -------------------------------------------------------------------------------

BAD_DTYPES = [np.complex128, object, "U3", np.longdouble]


@pytest.mark.parametrize("func, names, shapes", [
    (mc.grad_ax, ("A", "G"), ((5, 3), (5, 4))),
    (mc.grad_xa, ("G", "A"), ((6, 4), (3, 4))),
    (mc.trace_chain, ("G", "dY_dX"), ((3, 4), (3, 4, 2))),
])
@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_bad_dtype_and_none_name_the_argument(rng, func, names, shapes, impl):
    f = func if impl == "fast" else getattr(mc.reference, func.__name__)
    good = [rng.standard_normal(s) for s in shapes]
    for pos, name in enumerate(names):
        for bad_dtype in BAD_DTYPES:
            args = list(good)
            args[pos] = good[pos].astype(bad_dtype)
            with pytest.raises(TypeError, match=f"{func.__name__}.*'{name}'"):
                f(*args)
        args = list(good)
        args[pos] = None
        with pytest.raises(TypeError, match=f"'{name}' is None"):
            f(*args)


@pytest.mark.parametrize("impl", ["fast", "reference"])
@pytest.mark.parametrize("func, shapes, match", [
    ("grad_ax", ((5, 3), (4, 2)), r"grad_ax: A has shape \(5, 3\), G has shape \(4, 2\)"),
    ("grad_ax", ((5,), (5,)), r"grad_ax: A must be 2-D; got shape \(5,\)"),
    ("grad_ax", ((5, 3), (5, 2, 1)), r"G must be 1-D or 2-D"),
    ("grad_xa", ((6, 4), (3, 5)), r"grad_xa: G has shape \(6, 4\), A has shape \(3, 5\)"),
    ("grad_xa", ((6,), (3, 5)), r"must both be 2-D .* or both 1-D"),
    ("trace_chain", ((3, 4), (4, 3, 2)), r"trace_chain: G has shape \(3, 4\), dY_dX has shape"),
    ("trace_chain", ((3, 4), (3,)), r"must start with G.shape"),
])
def test_shape_errors_name_function_arguments_and_shapes(rng, impl, func, shapes, match):
    f = getattr(mc if impl == "fast" else mc.reference, func)
    with pytest.raises(ValueError, match=match):
        f(*(rng.standard_normal(s) for s in shapes))


@pytest.fixture
def each_linear_level():
    """A setter of _linear's SIMD level and the levels this CPU has (0 the baseline … its
    best); the level in use is restored after."""
    from mcfast._kernels import _linear
    before = _linear.simd_level()[0]
    yield _linear.set_simd_level, list(range(_linear.simd_level()[1] + 1))
    _linear.set_simd_level(before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_ax_register_tiles_at_every_level(rng, each_linear_level, dtype):
    """grad_ax's hand loop (4 × 16, 8 and 4 tiles of out[:m4, :n4], then the last rows and
    columns) at widths around its tiles and at each SIMD level: Aᵀ G to rounding, computed
    by the tiles of the level asked for."""
    from mcfast._kernels import _linear
    set_level, levels = each_linear_level
    for p in (1, 9, 40):
        for m in (4, 5, 7, 8, 12, 16, 19):
            for n in (4, 7, 8, 12, 15, 16, 20, 24, 28, 33, 47):
                A = rng.standard_normal((p, m)).astype(dtype)
                G = rng.standard_normal((p, n)).astype(dtype)
                want = A.astype(np.float64).T @ G.astype(np.float64)
                for level in levels:
                    set_level(level)
                    _linear.reset_ran_levels()
                    got = mc.grad_ax(A, G)
                    assert _linear.ran_levels() == {"at_g": level}
                    np.testing.assert_allclose(got, want, rtol=rtol_for(dtype),
                                               atol=rtol_for(dtype) * np.abs(want).max(),
                                               err_msg=f"p={p} m={m} n={n} level={level}")
