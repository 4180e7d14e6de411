"""Chains over Kronecker, scipy.sparse and matrix-free links: values, plans, modes, errors."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator

import mcfast as mc
from mcfast import reference as ref

MODS = pytest.mark.parametrize("mod", [mc, ref], ids=["fast", "reference"])


class Counting(LinearOperator):
    """A matrix-free operator that counts the vectors it is applied to."""

    def __init__(self, M):
        super().__init__(dtype=M.dtype, shape=M.shape)
        self.M, self.forward, self.adjoint = M, 0, 0

    def _matvec(self, x):
        self.forward += 1
        return self.M @ x

    def _rmatvec(self, x):
        self.adjoint += 1
        return self.M.T @ x

    def _matmat(self, X):
        self.forward += X.shape[1]
        return self.M @ X

    def _rmatmat(self, X):
        self.adjoint += X.shape[1]
        return self.M.T @ X


def _dense(link):
    if isinstance(link, (mc.Kronecker, mc.MatrixFree)):
        return link.toarray()
    if sp.issparse(link):
        return link.toarray()
    if isinstance(link, LinearOperator):
        return link @ np.eye(link.shape[1])
    if isinstance(link, ref.Diagonal):
        return link.toarray()
    return np.asarray(link)


def _product(links):
    J = _dense(links[0])
    for link in links[1:]:
        J = _dense(link) @ J
    return J


def _mixed(rng, fmt="csr", dtype=np.float64):
    """x (12) -> dense W1 (6 x 12) -> Kronecker (2x3 ⊗ 3x2 = 6 x 6) -> Diagonal -> sparse
    (9 x 6) -> LinearOperator (4 x 9) -> MatrixFree (5 x 4)."""
    W1 = rng.standard_normal((6, 12)).astype(dtype)
    K = mc.Kronecker(rng.standard_normal((2, 3)).astype(dtype),
                     rng.standard_normal((3, 2)).astype(dtype))
    D = mc.Diagonal(rng.standard_normal(6).astype(dtype))
    S = sp.random(9, 6, density=0.4, format=fmt, random_state=1, dtype=dtype)
    op = aslinearoperator(rng.standard_normal((4, 9)).astype(dtype))
    M = mc.MatrixFree(aslinearoperator(rng.standard_normal((5, 4)).astype(dtype)), cost=7)
    return [W1, K, D, S, op, M]


@MODS
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "bsr", "lil", "dok", "dia"])
@pytest.mark.parametrize("order", ["optimal", "forward", "reverse"])
def test_mixed_chain_against_dense(mod, fmt, order, rng):
    links = _mixed(rng, fmt)
    want = _product(links)
    np.testing.assert_allclose(mod.jacobian_chain(links, order=order), want, rtol=1e-11,
                               atol=1e-12)
    g, t = rng.standard_normal(5), rng.standard_normal(12)
    np.testing.assert_allclose(mod.grad_chain(links, g), g @ want, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(mod.tangent_chain(links, t), want @ t, rtol=1e-11, atol=1e-12)


@MODS
def test_sparse_arrays_and_float32(mod, rng):
    S = sp.random_array((8, 5), density=0.5, format="csr", random_state=2, dtype=np.float32)
    W = rng.standard_normal((3, 8)).astype(np.float32)
    J = mod.jacobian_chain([S, W])
    assert J.dtype == np.float32
    np.testing.assert_allclose(J, W @ S.toarray(), rtol=2e-5)
    assert mod.jacobian_chain([S, W.astype(np.float64)]).dtype == np.float64


@MODS
def test_batched_dense_links_with_operators(mod, rng):
    W = rng.standard_normal((4, 6, 5))               # a batch of 4
    S = sp.random(7, 6, density=0.5, random_state=3)
    K = mc.Kronecker(rng.standard_normal((1, 7)), np.ones((2, 1)))       # 2 x 7
    D = mc.Diagonal(rng.standard_normal((4, 2)))
    links = [W, S, K, D]
    want = np.stack([_product([W[b], S, K, mc.Diagonal(D.diagonal[b])]) for b in range(4)])
    np.testing.assert_allclose(mod.jacobian_chain(links), want, rtol=1e-11, atol=1e-12)
    g = rng.standard_normal((4, 2))
    np.testing.assert_allclose(mod.grad_chain(links, g),
                               np.einsum("bi,bij->bj", g, want), rtol=1e-11, atol=1e-12)
    t = rng.standard_normal((3, 1, 5))               # broadcasts with the batch of 4
    np.testing.assert_allclose(mod.tangent_chain(links, t),
                               np.einsum("bij,abj->abi", want, t), rtol=1e-11, atol=1e-12)


@MODS
def test_result_kinds(mod, rng):
    K1 = mc.Kronecker(rng.standard_normal((3, 2)), rng.standard_normal((4, 5)))
    K2 = mc.Kronecker(rng.standard_normal((2, 3)), rng.standard_normal((3, 4)))
    K = mod.jacobian_chain([K1, K2])
    assert isinstance(K, mc.Kronecker)
    np.testing.assert_allclose(K.toarray(), K2.toarray() @ K1.toarray(), rtol=1e-12)
    np.testing.assert_allclose(K.A, K2.A @ K1.A, rtol=1e-12)
    # factors that do not match: dense
    K3 = mc.Kronecker(rng.standard_normal((6, 6)), rng.standard_normal((2, 2)))
    J = mod.jacobian_chain([K1, K3])
    assert isinstance(J, np.ndarray)
    np.testing.assert_allclose(J, K3.toarray() @ K1.toarray(), rtol=1e-12)
    D = mod.jacobian_chain([mc.Diagonal([1.0, 2.0]), mc.Diagonal([3.0, 4.0])])
    assert isinstance(D, ref.Diagonal)
    S = sp.eye(3, format="csr")
    for single in (S, aslinearoperator(np.eye(3)), mc.MatrixFree(np.eye(3))):
        J = mod.jacobian_chain([single])
        assert type(J) is np.ndarray and np.array_equal(J, np.eye(3))
    out = np.empty((6, 10))
    assert mod.jacobian_chain([K1, K2], out=out) is out
    np.testing.assert_allclose(out, K.toarray(), rtol=1e-12)


def test_middle_bottleneck_counts_vectors(rng):
    # x(100) -> Op1 (100x100) -> W (3x100) -> V (100x3) -> Op2 (100x100)
    n = 100
    op1, op2 = Counting(rng.standard_normal((n, n))), Counting(rng.standard_normal((n, n)))
    W, V = rng.standard_normal((3, n)), rng.standard_normal((n, 3))
    links = [op1, W, V, op2]
    plan = mc.chain_plan(links)
    fwd = mc.chain_plan(links, order="forward").flops
    rev = mc.chain_plan(links, order="reverse").flops
    assert 5 * plan.flops <= min(fwd, rev)
    J = mc.jacobian_chain(links)
    assert op1.forward + op1.adjoint + op2.forward + op2.adjoint == 6
    assert op1.adjoint == 3 and op2.forward == 3
    np.testing.assert_allclose(J, op2.M @ V @ W @ op1.M, rtol=1e-10)
    text = str(plan)
    assert "adjoint" in text and "tangent" in text
    assert text == "[J4 @ J3 | tangent] @ [J2 @ J1 | adjoint]"
    # accumulating J1 first, Op2 meets the full 100 x 100 block
    op1.forward = op1.adjoint = op2.forward = op2.adjoint = 0
    np.testing.assert_allclose(mc.jacobian_chain(links, order="forward"), J, rtol=1e-10)
    assert op2.forward + op2.adjoint == n


def test_modes_and_steps_listed(rng):
    # a row vector times a 50 x 2 operator: one adjoint product (100), not two forward
    # ones (200) plus the 50 x 2 result times the row (100)
    plan = mc.chain_plan([aslinearoperator(np.ones((50, 2))), (1, 50)])
    assert plan.steps == ((1, 0, "adjoint"),)
    assert plan.kinds == ("op", "dense") and plan.flops == 100
    assert str(plan) == "[J2 @ J1 | adjoint]"
    plan = mc.chain_plan([(50, 1), aslinearoperator(np.ones((2, 50)))])
    assert plan.steps == ((1, 0, "tangent"),) and plan.flops == 100


@MODS
def test_kronecker_is_the_matrix_map_rule(mod, rng):
    # Y = A X B: grad_chain([Kronecker(A, B.T)], G.ravel()) is Aᵀ G Bᵀ
    A, X, B = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    G = rng.standard_normal((4, 2))
    K = mc.Kronecker(A, B.T)
    np.testing.assert_allclose(mod.tangent_chain([K], X.ravel()), (A @ X @ B).ravel(),
                               rtol=1e-12)
    np.testing.assert_allclose(mod.grad_chain([K], G.ravel()), (A.T @ G @ B.T).ravel(),
                               rtol=1e-12)
    # against central differences of z = Σ G ∘ (A X B)
    eps, fd = 1e-6, np.empty(X.size)
    for i in range(X.size):
        e = np.zeros(X.size)
        e[i] = eps
        zp = np.sum(G * (A @ (X.ravel() + e).reshape(X.shape) @ B))
        zm = np.sum(G * (A @ (X.ravel() - e).reshape(X.shape) @ B))
        fd[i] = (zp - zm) / (2 * eps)
    np.testing.assert_allclose(mc.grad_chain([K], G.ravel()), fd, rtol=1e-6)


def test_kronecker_300_through_vector_chains(rng):
    # a 90,000 x 90,000 Jacobian (65 GB dense) goes through both vector chains
    A, B = rng.standard_normal((300, 300)), rng.standard_normal((300, 300))
    K = mc.Kronecker(A, B)
    X = rng.standard_normal((300, 300))
    want = (A @ X @ B.T).ravel()
    np.testing.assert_allclose(mc.tangent_chain([K], X.ravel()), want, rtol=1e-10,
                               atol=1e-12 * np.abs(want).max())
    want = (A.T @ X @ B).ravel()
    np.testing.assert_allclose(mc.grad_chain([K, mc.Diagonal(np.ones(90_000))], X.ravel()),
                               want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    assert mc.chain_plan([K, K]).flops == 2 * 300 ** 3


def test_kronecker_chain_plan_flops():
    A, B = np.ones((3, 2)), np.ones((4, 5))
    K1 = mc.Kronecker(A, B)                        # (12, 10)
    K2 = mc.Kronecker(np.ones((2, 3)), np.ones((3, 4)))  # (6, 12)
    plan = mc.chain_plan([K1, K2])
    assert plan.flops == 2 * 3 * 2 + 3 * 4 * 5 and plan.steps[0][2] == "kron"


@MODS
def test_inputs_unchanged_and_readonly(mod, rng):
    links = _mixed(rng)
    W = links[0]
    W.flags.writeable = False
    snap = W.copy()
    mod.jacobian_chain(links)
    mod.grad_chain(links, np.ones(5))
    np.testing.assert_array_equal(W, snap)


@MODS
def test_plan_reuse_and_mismatch(mod, rng):
    links = _mixed(rng)
    plan = mod.chain_plan(links)
    np.testing.assert_allclose(plan(links), _product(links), rtol=1e-11, atol=1e-12)
    other = list(links)
    other[3] = np.ones((9, 6))                     # dense where the plan has sparse
    with pytest.raises(ValueError, match="ChainPlan: the links do not match the plan"):
        plan(other)
    if mod is mc:
        back = pickle.loads(pickle.dumps(plan))
        np.testing.assert_allclose(back(links), _product(links), rtol=1e-11, atol=1e-12)


@MODS
def test_bad_links(mod, rng):
    with pytest.raises(ValueError, match=r"links\[1\] \(sparse matrix of shape \(4, 7\)\) "
                                         r"does not fit links\[0\]"):
        mod.jacobian_chain([np.ones((5, 3)), sp.eye(4, 7)])
    with pytest.raises(ValueError, match=r"links\[1\] \(Kronecker of shape \(4, 4\)\)"):
        mod.grad_chain([np.ones((5, 3)), mc.Kronecker(np.eye(2), np.eye(2))], np.ones(4))
    with pytest.raises(ValueError, match=r"links\[1\] \(shape \(2, 2\)\) does not fit "
                                         r"links\[0\] \(operator of shape \(3, 3\)\)"):
        mod.tangent_chain([aslinearoperator(np.eye(3)), np.eye(2)], np.ones(3))
    with pytest.raises(TypeError, match=r"'links\[1\]' has dtype complex128"):
        mod.jacobian_chain([np.ones((3, 3)), sp.eye(3, dtype=complex)])
    with pytest.raises(TypeError, match=r"'links\[0\]\.A' has dtype complex128"):
        K = mc.Kronecker(np.eye(2), np.eye(2))
        K._a = np.eye(2, dtype=complex)
        mod.jacobian_chain([K])
    with pytest.raises(TypeError, match=r"'links\[0\]' has dtype complex128"):
        mod.grad_chain([aslinearoperator(np.eye(2, dtype=complex))], np.ones(2))


def test_link_constructors_reject_bad_input():
    with pytest.raises(ValueError, match="Kronecker: A has shape \\(3,\\); expected a 2-D"):
        mc.Kronecker(np.ones(3), np.eye(2))
    with pytest.raises(TypeError, match="Kronecker: argument 'B' is None"):
        mc.Kronecker(np.eye(2), None)
    with pytest.raises(TypeError, match="MatrixFree: argument 'op' is None"):
        mc.MatrixFree(None)
    with pytest.raises(TypeError, match="MatrixFree: argument 'op' is not a linear operator"):
        mc.MatrixFree("abc")
    with pytest.raises(TypeError, match="MatrixFree: cost must be an integer"):
        mc.MatrixFree(np.eye(2), cost=2.5)
    with pytest.raises(ValueError, match="MatrixFree: cost must be >= 0"):
        mc.MatrixFree(np.eye(2), cost=-1)
    with pytest.raises(TypeError, match="MatrixFree: argument 'op' has dtype complex"):
        mc.MatrixFree(np.eye(2, dtype=complex))


def test_matrix_free_cost_steers_the_plan(rng):
    op = aslinearoperator(rng.standard_normal((40, 40)))
    cheap = mc.chain_plan([mc.MatrixFree(op, cost=40), (40, 40), (40, 40)])
    dear = mc.chain_plan([mc.MatrixFree(op, cost=10 ** 6), (40, 40), (40, 40)])
    assert cheap.flops < dear.flops
    assert mc.chain_plan([op]).flops == 40 * 40 * 40       # formed: 40 products of 1,600


def test_kronecker_object():
    A, B = np.arange(6.0).reshape(2, 3), np.eye(2)
    K = mc.Kronecker(A, B)
    assert K.shape == (4, 6) and K.ndim == 2 and K.dtype == np.float64
    assert not K.A.flags.writeable
    np.testing.assert_array_equal(np.asarray(K), np.kron(A, B))
    np.testing.assert_array_equal(K.T.toarray(), np.kron(A, B).T)
    back = pickle.loads(pickle.dumps(K))
    np.testing.assert_array_equal(back.toarray(), K.toarray())
    assert "Kronecker(A=" in repr(K)
    assert mc.Kronecker is ref.Kronecker and mc.MatrixFree is ref.MatrixFree
    assert {"Kronecker", "MatrixFree"} <= set(mc.__all__)
