"""Issue #20's red-team findings, one test (or a few) each, against NumPy formulas."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator

import mcfast as mc
from test_linear_loss import _simd_levels


# --- 1. multinomial with K = 1 (the lanes path wrote scratch it was never given) --------

@pytest.mark.parametrize("layout", ["C", "F", "csr"])
@pytest.mark.parametrize("m", [1, 7, 4000])
def test_multinomial_one_class(layout, m):
    X = np.ones((10, m))
    X = {"C": X, "F": np.asfortranarray(X), "csr": sp.csr_matrix(X)}[layout]
    theta = np.linspace(-1, 1, m)[:, None]
    for _ in _simd_levels():
        for rows in (None, [0, 3, 3]):
            loss, grad = mc.linear_loss_grad(X, theta, np.zeros(10), loss="multinomial",
                                             l2=0.5, rows=rows)
            # logsumexp of one class is the class's own score: ℓ = 0, ℓ′ = 0
            assert loss == pytest.approx(0.5 * np.sum(theta ** 2), rel=1e-12)
            np.testing.assert_allclose(grad, 2 * 0.5 * theta, rtol=1e-12)
        obj = mc.LinearLoss(X, np.zeros(10), loss="multinomial", fit_intercept=True)
        t1 = np.vstack([theta, [[0.3]]])
        np.testing.assert_array_equal(obj.hessp(t1, np.ones_like(t1)), 0)


# --- 2. malformed CSR links -------------------------------------------------------------

def _bad_indices():
    S = sp.csr_matrix(np.ones((3, 3)))
    S.indices[0] = 10 ** 9
    return S


def _decreasing_indptr():
    S = sp.csr_matrix(np.ones((3, 3)))
    S.indptr[1], S.indptr[2] = 5, 2
    return S


def _bad_coo():
    S = sp.coo_matrix(np.ones((3, 3)))
    S.row[0] = 10 ** 9
    return S


def _negative_index():
    S = sp.csc_matrix(np.ones((3, 3)))
    S.indices[4] = -1
    return S


MALFORMED = [_bad_indices, _decreasing_indptr, _bad_coo, _negative_index]


@pytest.mark.parametrize("make", MALFORMED)
@pytest.mark.parametrize("call", [
    lambda S: mc.jacobian_chain([np.ones((3, 2)), S], order="forward"),
    lambda S: mc.jacobian_chain([np.ones((3, 2)), S], order="reverse"),
    lambda S: mc.jacobian_chain([S, S]),                          # sparse · sparse
    lambda S: mc.tangent_chain([np.ones((3, 2)), S], np.ones(2)),
    lambda S: mc.grad_chain([S, np.ones((2, 3))], np.ones(2)),
    lambda S: mc.chain_plan([S, (2, 3)]),
])
def test_malformed_sparse_link_is_refused(make, call):
    S = make()
    with pytest.raises(ValueError, match=r"links\[\d\] is a malformed scipy.sparse"):
        call(S)


@pytest.mark.parametrize("make", MALFORMED)
def test_malformed_sparse_X_is_refused(make):
    for call in (lambda S: mc.LinearLoss(S, np.ones(3)),
                 lambda S: mc.LeastSquares(S, np.ones(3))):
        with pytest.raises(ValueError, match="X is a malformed scipy.sparse"):
            call(make())
    with pytest.raises(ValueError, match="X"):
        mc.linear_loss_grad(make(), np.zeros(3), np.ones(3))


def test_decrease_far_into_a_long_indptr():
    S = sp.csr_matrix(sp.eye(100_000, format="csr"))
    S.indptr[70_001] = 0                     # past the first chunk the check compares
    with pytest.raises(ValueError, match=r"indptr\[70001\] = 0 < indptr\[70000\]"):
        mc.grad_chain([S], np.ones(100_000))
    with pytest.raises(ValueError, match="X is a malformed"):
        mc.linear_loss_grad(S, np.zeros(100_000), np.ones(100_000))


def test_well_formed_sparse_with_spare_capacity_is_accepted():
    # indptr ending before the end of indices/data (spare capacity) is valid CSR
    S = sp.csr_matrix((np.array([1.0, 2.0, 99.0]), np.array([0, 1, 7]),
                       np.array([0, 1, 2])), shape=(2, 2))
    np.testing.assert_array_equal(mc.grad_chain([S], np.ones(2)), [1.0, 2.0])


# --- 3. operators returning bad output --------------------------------------------------

def _op(result, shape=(4, 3)):
    f = lambda x: result(x)  # noqa: E731
    return LinearOperator(shape, matvec=f, rmatvec=f, matmat=f, rmatmat=f,
                          dtype=np.float64)


BAD_RESULTS = [
    (lambda x: None, TypeError, "returned None"),
    (lambda x: 3.0, ValueError, r"returned shape \(\)"),
    (lambda x: np.ones((x.shape[1], 4 if x.shape[0] == 3 else 3)), ValueError,
     "returned shape"),                                              # a transposed block
    (lambda x: np.ones((4 if x.shape[0] == 3 else 3,) + x.shape[1:]) * (1 + 1j), TypeError,
     "complex128"),
    (lambda x: np.ones(7), ValueError, r"returned shape \(7,\)"),
]


@pytest.mark.parametrize("result,exc,what", BAD_RESULTS)
@pytest.mark.parametrize("wrap", [lambda op: op, mc.MatrixFree])
def test_operator_bad_output_names_the_link(result, exc, what, wrap):
    op = wrap(_op(result))
    calls = [lambda: mc.jacobian_chain([np.ones((3, 2)), op, np.ones((2, 4))]),
             lambda: mc.jacobian_chain([np.ones((3, 5)), op], order="forward"),
             lambda: mc.jacobian_chain([op]),
             lambda: mc.grad_chain([np.ones((3, 2)), op], np.ones(4)),
             lambda: mc.tangent_chain([np.ones((3, 2)), op], np.ones(2)),
             lambda: mc.tangent_chain([np.ones((3, 2)), op], np.ones((5, 2)))]
    for call in calls:
        with pytest.raises(exc, match=r"links\[\d\] \(operator of shape \(4, 3\)\).*" + what):
            call()


def test_operator_wrong_size_through_matvec_names_the_link():
    op = LinearOperator((4, 3), matvec=lambda x: np.ones(7), dtype=np.float64)
    with pytest.raises(ValueError, match=r"tangent_chain: links\[0\] \(operator"):
        mc.tangent_chain([op], np.ones(3))


# --- 4. a zero inner dimension ----------------------------------------------------------

@pytest.mark.parametrize("link", [
    lambda: np.ones((3, 0)), lambda: sp.csr_matrix((3, 0)),
    lambda: aslinearoperator(np.ones((3, 0))),
    lambda: mc.MatrixFree(aslinearoperator(np.ones((3, 0)))),
    lambda: mc.Kronecker(np.ones((3, 0)), np.ones((1, 1))),
])
def test_zero_inner_dimension(link):
    for order in ("optimal", "forward", "reverse"):
        J = mc.jacobian_chain([np.ones((0, 4)), link()], order=order)
        np.testing.assert_array_equal(J, np.zeros((3, 4)))
    np.testing.assert_array_equal(mc.tangent_chain([np.ones((0, 4)), link()], np.ones(4)),
                                  np.zeros(3))
    np.testing.assert_array_equal(mc.grad_chain([np.ones((0, 4)), link()], np.ones(3)),
                                  np.zeros(4))
    np.testing.assert_array_equal(
        mc.grad_chain([np.ones((0, 4)), link()], np.ones((2, 3))), np.zeros((2, 4)))


# --- 5. IEEE: Poisson at z = ∞ is NaN on every path and level ---------------------------

@pytest.mark.parametrize("rows", [None, [0]])
@pytest.mark.parametrize("layout", ["C", "F", "csr"])
@pytest.mark.parametrize("n", [1, 3, 40])
def test_poisson_at_infinity_is_nan(layout, rows, n):
    X = np.ones((n, 1))
    X = {"C": X, "F": np.asfortranarray(X), "csr": sp.csr_matrix(X)}[layout]
    for _ in _simd_levels():
        loss, grad = mc.linear_loss_grad(X, [np.inf], np.ones(n), loss="poisson", rows=rows)
        assert np.isnan(loss)       # eᶻ − yz at z = ∞ is ∞ − ∞; −∞ looked like a minimum
        assert np.all(grad == np.inf)


# --- 6, 7, 10: arguments ----------------------------------------------------------------

def test_theta_none_is_a_type_error():
    with pytest.raises(TypeError, match="linear_loss_grad: argument 'theta' is None"):
        mc.linear_loss_grad(np.ones((2, 2)), None, np.ones(2))
    with pytest.raises(TypeError, match="theta"):
        mc.reference.linear_loss_grad(np.ones((2, 2)), None, np.ones(2))


def test_negative_multinomial_label():
    for f in (mc.linear_loss_grad, mc.reference.linear_loss_grad):
        with pytest.raises(ValueError, match="y must hold labels >= 0; got labels from -1"):
            f(np.ones((2, 2)), np.zeros((2, 2)), np.array([0, -1]), loss="multinomial")


@pytest.mark.parametrize("l2", ["1", b"1", True, np.bool_(True), [1.0], None])
def test_l2_must_be_a_real_number(l2):
    X, y = np.ones((2, 2)), np.ones(2)
    for call in (lambda: mc.linear_loss_grad(X, np.zeros(2), y, l2=l2),
                 lambda: mc.LinearLoss(X, y, l2=l2),
                 lambda: mc.LeastSquares(X, y, l2=l2)):
        with pytest.raises(TypeError, match="l2 must be a real number"):
            call()


@pytest.mark.parametrize("l2", [1, 0.5, np.float32(2), np.int64(3), np.array(1.5)])
def test_l2_numbers_still_accepted(l2):
    loss, _ = mc.linear_loss_grad(np.ones((2, 2)), np.ones(2), np.zeros(2), l2=l2)
    assert loss == pytest.approx(8 + 2 * float(l2))


# --- 6, 8: mcfast.dask ------------------------------------------------------------------

def test_dask_theta_none_and_sparse_X():
    mcd = pytest.importorskip("mcfast.dask")
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="argument 'theta' is None"):
        mcd.linear_loss_grad(da.ones((4, 2), chunks=2), None, np.ones(4))
    with pytest.raises(TypeError, match="argument 'theta' is None"):
        mcd.LinearLoss(da.ones((4, 2), chunks=2), np.ones(4))(None)
    X = sp.csr_matrix(np.ones((4, 2)))
    for call in (lambda: mcd.linear_loss_grad(X, np.zeros(2), np.ones(4)),
                 lambda: mcd.LinearLoss(X, np.ones(4)),
                 lambda: mcd.lstsq_loss_grad(X, np.zeros(2), np.ones(4)),
                 lambda: mcd.LeastSquares(X, np.ones(4))):
        with pytest.raises(TypeError, match="X is a scipy.sparse csr matrix"):
            call()


# --- 9. an operator without an adjoint ----------------------------------------------------

def test_operator_without_adjoint():
    A = np.arange(9.0).reshape(3, 3)
    op = LinearOperator((3, 3), matvec=lambda x: A @ x, matmat=lambda X: A @ X,
                        dtype=np.float64)
    assert not mc.MatrixFree(op).adjoint
    assert mc.MatrixFree(aslinearoperator(A)).adjoint
    W1, W2 = np.ones((3, 5)), np.ones((1, 3))
    # a reverse-friendly shape: the planner would pick adjoint mode for op, but it has none
    plan = mc.chain_plan([W1, op, W2])
    assert "adjoint" not in [mode for _, right, mode in plan.steps if right == 1]
    expected = W2 @ A @ W1
    for order in ("optimal", "forward", "reverse"):
        np.testing.assert_allclose(mc.jacobian_chain([W1, op, W2], order=order), expected)
    np.testing.assert_allclose(mc.jacobian_chain([op]), A)
    np.testing.assert_allclose(mc.jacobian_chain([np.ones((3, 1)), op]), A @ np.ones((3, 1)))
    np.testing.assert_allclose(mc.tangent_chain([W1, op, W2], np.ones(5)),
                               expected @ np.ones(5))
    with pytest.raises(ValueError, match=r"grad_chain: links\[1\] \(operator of shape "
                                         r"\(3, 3\)\) has no adjoint"):
        mc.grad_chain([W1, op, W2], np.ones(1))
