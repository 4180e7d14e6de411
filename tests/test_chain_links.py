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
    for single in (aslinearoperator(np.eye(3)), mc.MatrixFree(np.eye(3))):
        J = mod.jacobian_chain([single])
        assert type(J) is np.ndarray and np.array_equal(J, np.eye(3))
    # every link sparse: sparse (a copy for a single link)
    J = mod.jacobian_chain([S])
    assert sp.issparse(J) and J.format == "csr" and J is not S
    assert np.array_equal(J.toarray(), np.eye(3))
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
    with pytest.raises(TypeError, match=r"Kronecker: argument 'A' has dtype complex128"):
        mc.Kronecker(np.eye(2, dtype=complex), np.eye(2))
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


@MODS
def test_kronecker_factors_of_mixed_precision(mod, rng):
    # a float32 factor in a float64 chain is computed (and returned) in float64
    K1 = mc.Kronecker(rng.standard_normal((2, 2)).astype(np.float32), rng.standard_normal((3, 3)))
    K2 = mc.Kronecker(rng.standard_normal((2, 2)).astype(np.float32), rng.standard_normal((3, 3)))
    K = mod.jacobian_chain([K1, K2])
    assert K.A.dtype == K.B.dtype == np.float64
    np.testing.assert_allclose(K.toarray(), _product([K1, K2]), rtol=1e-12)
    for fn in (mod.grad_chain, mod.tangent_chain):
        assert fn([K1, K2], np.ones(6, np.float32)).dtype == np.float64


def test_matrix_free_object():
    # checked once when made, so immutable; pickles with its cost
    M = mc.MatrixFree(aslinearoperator(np.arange(6.0).reshape(2, 3)), cost=4)
    assert M.shape == (2, 3) and M.cost == 4 and M.dtype == np.float64
    for name in ("_cost", "_shape", "cost"):
        with pytest.raises(AttributeError):
            setattr(M, name, 3)
    back = pickle.loads(pickle.dumps(M))
    assert back.cost == 4 and back.shape == (2, 3)
    np.testing.assert_array_equal(back.toarray(), np.arange(6.0).reshape(2, 3))
    assert mc.chain_plan([back, (1, 2)]).flops == mc.chain_plan([M, (1, 2)]).flops


def test_matrix_free_cost_steers_the_plan(rng):
    op = aslinearoperator(rng.standard_normal((40, 40)))
    cheap = mc.chain_plan([mc.MatrixFree(op, cost=40), (40, 40), (40, 40)])
    dear = mc.chain_plan([mc.MatrixFree(op, cost=10 ** 6), (40, 40), (40, 40)])
    assert cheap.flops < dear.flops
    assert mc.chain_plan([op]).flops == 40 * 40 * 40       # formed: 40 products of 1,600


def test_kronecker_object():
    A, B = np.arange(6.0).reshape(2, 3), np.eye(2)
    K = mc.Kronecker(A, B)
    # checked once when made, so immutable: a chain trusts its shape and dtype
    for name in ("_a", "A", "_shape"):
        with pytest.raises(AttributeError):
            setattr(K, name, np.eye(2, dtype=complex))
    with pytest.raises(AttributeError):
        del K.A
    assert K.shape == (4, 6) and K.ndim == 2 and K.dtype == np.float64
    assert not K.A.flags.writeable
    np.testing.assert_array_equal(np.asarray(K), np.kron(A, B))
    np.testing.assert_array_equal(K.T.toarray(), np.kron(A, B).T)
    back = pickle.loads(pickle.dumps(K))
    np.testing.assert_array_equal(back.toarray(), K.toarray())
    assert "Kronecker(A=" in repr(K)
    assert mc.Kronecker is ref.Kronecker and mc.MatrixFree is ref.MatrixFree
    assert {"Kronecker", "MatrixFree"} <= set(mc.__all__)


@MODS
def test_any_byte_order_and_float32_operators(mod, rng):
    A, B = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    K = mc.Kronecker(A.astype(">f8"), B.astype(">f4"))
    S = sp.csr_matrix(rng.standard_normal((5, 6)))    # scipy.sparse is native only
    W = rng.standard_normal((8, 5)).astype(">f4")
    links = [K, S, W]
    want = W.astype(float) @ S.toarray() @ np.kron(A, B.astype(np.float32).astype(float))
    J = mod.jacobian_chain(links)
    assert J.dtype == np.float64 and J.dtype.isnative
    np.testing.assert_allclose(J, want, rtol=1e-12, atol=1e-12)
    g = mod.grad_chain(links, np.ones(8, ">f8"))
    np.testing.assert_allclose(g, np.ones(8) @ want, rtol=1e-12, atol=1e-12)
    op = aslinearoperator(rng.standard_normal((4, 4)).astype(np.float32))
    t = mod.tangent_chain([op, np.eye(4, dtype=np.float32)], np.ones(4, np.float32))
    assert t.dtype == np.float32
    np.testing.assert_allclose(t, op.A @ np.ones(4), rtol=1e-5)


@MODS
def test_zero_sizes_and_out(mod, rng):
    S = sp.csr_matrix((0, 5))
    op = aslinearoperator(np.zeros((3, 0)))
    J = mod.jacobian_chain([S, np.ones((4, 0))])       # an empty inner sum
    assert J.shape == (4, 5) and not J.any()
    assert mod.jacobian_chain([op, np.ones((2, 3))]).shape == (2, 0)
    np.testing.assert_array_equal(mod.grad_chain([np.ones((5, 3)), S], np.ones(0)),
                                  np.zeros(3))
    links = _mixed(rng)
    out = np.full(12, np.nan)
    assert mod.grad_chain(links, np.ones(5), out=out) is out
    np.testing.assert_allclose(out, np.ones(5) @ _product(links), rtol=1e-11)
    out = np.full((5, 12), np.nan)
    assert mod.jacobian_chain(links, out=out) is out
    np.testing.assert_allclose(out, _product(links), rtol=1e-11, atol=1e-12)
    with pytest.raises(ValueError, match="out has shape"):
        mod.tangent_chain(links, np.ones(12), out=np.empty(4))
    # out overlapping an input: the result is still right
    W = np.zeros((6, 6))
    W[:, :] = rng.standard_normal((6, 6))
    K = mc.Kronecker(np.eye(2), np.eye(3))
    want = W @ W
    np.testing.assert_allclose(mod.jacobian_chain([W, K, W], out=W), want, rtol=1e-12)


def test_results_never_alias_an_operators_buffer():
    # an operator that returns the same internal buffer on every call
    buf = np.empty(3)

    def mv(x):
        np.multiply(2, np.ravel(x), out=buf)
        return buf
    op = LinearOperator((3, 3), matvec=mv, rmatvec=mv, dtype=np.float64)
    first = mc.tangent_chain([op], np.ones(3))
    second = mc.grad_chain([op], np.full(3, 5.0))
    assert not np.shares_memory(first, buf) and not np.shares_memory(second, buf)
    np.testing.assert_array_equal(first, 2.0)
    np.testing.assert_array_equal(second, 10.0)


@pytest.mark.parametrize("shape", [(1000, 64), (64, 1000), (3, 1), (1, 700), (517, 33),
                                   (0, 5), (5, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("grad", [True, False], ids=["grad", "tangent"])
def test_one_vector_dense_link_kernel(shape, dtype, grad, rng):
    # the compiled xᵀA / A x of the one-vector path: against NumPy, the same bits on 1, 2
    # and 3 threads, and None (the NumPy path) for what it does not take
    from mcfast._kernels import _chain as kern
    A = rng.standard_normal(shape).astype(dtype)
    x = rng.standard_normal(shape[0] if grad else shape[1]).astype(dtype)
    want = x @ A if grad else A @ x
    got = [kern.vector_link(A, x, grad, nt) for nt in (1, 2, 3)]
    np.testing.assert_allclose(got[0], want, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)
    assert got[0].dtype == dtype
    for other in got[1:]:
        np.testing.assert_array_equal(other, got[0])
    assert kern.vector_link(A.astype(np.float64 if dtype == np.float32 else np.float32), x,
                            grad, 1) is None
    assert kern.vector_link(np.asfortranarray(A) if min(shape) > 1 else A[:, None], x, grad,
                            1) is None
    assert kern.vector_link(A, x[:-1] if len(x) else np.ones(1, dtype), grad, 1) is None


def test_one_vector_chain_threads_bitwise(rng):
    # grad_chain/tangent_chain of one vector through large dense links beside a sparse one:
    # the same bits whatever the thread count
    from threadpoolctl import threadpool_limits
    W1, W2 = rng.standard_normal((3000, 40)), rng.standard_normal((40, 3000))
    S = sp.random(3000, 3000, density=0.001, format="csr", random_state=4)
    g, t = rng.standard_normal(40), rng.standard_normal(40)
    res = {}
    for nt in (1, 2):
        with threadpool_limits(nt):
            res[nt] = (mc.grad_chain([W1, S, W2], g), mc.tangent_chain([W1, S, W2], t))
    np.testing.assert_allclose(res[1][0], W1.T @ (S.T @ (W2.T @ g)), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(res[1][1], W2 @ (S @ (W1 @ t)), rtol=1e-11, atol=1e-11)
    for a, b in zip(res[1], res[2]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_times_csr_kernel(index, dtype, rng):
    # the compiled adjoint product of a sparse link: against scipy, duplicates summed,
    # unsorted indices, empty rows, and malformed CSR refused before any access
    from mcfast._kernels import _chain as kern
    S = sp.random(30, 20, density=0.2, format="coo", random_state=3, dtype=dtype)
    S = sp.coo_matrix((np.r_[S.data, S.data[:3]], (np.r_[S.row, S.row[:3]],
                                                     np.r_[S.col, S.col[:3]])), shape=S.shape)
    C = sp.csr_matrix(S)                          # duplicates kept until summed
    X = rng.standard_normal((5, 30)).astype(dtype)
    out = np.full((5, 20), np.nan, dtype)
    ip, ix = C.indptr.astype(index), C.indices.astype(index)
    kern.dense_csr_product(X, ip, ix, C.data.astype(dtype), out, 2)
    np.testing.assert_allclose(out, X @ S.toarray(), rtol=1e-5 if dtype == np.float32 else 1e-12)
    for at, value in ((0, 20), (-1, 20), (-1, -1), (len(ix) // 2, -1)):
        bad = ix.copy()                     # past q or negative, first, middle or last
        bad[at] = value
        with pytest.raises(ValueError, match="column index is out of range"):
            kern.dense_csr_product(X, ip, bad, C.data.astype(dtype), out, 1)
    bad = ip.copy()
    bad[-1] = len(ix) + 1
    with pytest.raises(ValueError, match="indptr does not fit"):
        kern.dense_csr_product(X, bad, ix, C.data.astype(dtype), out, 1)
    bad = ip.copy()
    bad[3], bad[4] = bad[4], bad[3] - 1
    with pytest.raises(ValueError, match="indptr decreases|out of range"):
        kern.dense_csr_product(X, bad, ix, C.data.astype(dtype), out, 1)
    # through grad_chain: IEEE propagates (0 · inf is NaN, not skipped)
    S2 = sp.csr_matrix(np.array([[np.inf, 0.0], [1.0, 2.0]]))
    g = mc.grad_chain([S2], np.array([0.0, 1.0]))
    assert np.isnan(g[0]) and g[1] == 2.0


def _independent_cost(kinds, dims, nnz, op_cost, kron_f):
    """The least multiply-adds over every bracketing of a mixed chain, enumerated, with the
    cost model written out from chain_plan's docstring (not mcfast._plan's code)."""
    n = len(kinds)

    def apply(seg):
        kind, p, q, extra = seg
        if kind == "dense":
            return p * q
        if kind == "diag":
            return p
        if kind == "sparse":
            return extra
        if kind == "op":
            return extra
        (pa, qa), (pb, qb) = extra
        return min(pa * qa * qb + pa * qb * pb, qa * qb * pb + pa * qa * pb)

    def form(seg):
        kind, p, q, extra = seg
        if kind == "op":
            return min(q, p) * extra
        return p * q if kind == "kron" else 0

    def best(i, j):         # -> list of (cost, segment) for every bracketing of links i..j
        if i == j:
            kind = kinds[i]
            extra = {"sparse": nnz.get(i), "op": op_cost.get(i), "kron": kron_f.get(i)}.get(kind)
            return [(0, (kind, dims[i + 1], dims[i], extra))]
        out = []
        for s in range(i, j):
            for cr, R in best(i, s):
                for cl, L in best(s + 1, j):
                    p, q, r = L[1], L[2], R[2]
                    if L[0] == R[0] == "diag":
                        c, seg = q, ("diag", p, r, None)
                    elif (L[0] == R[0] == "kron" and L[3][0][1] == R[3][0][0]
                          and L[3][1][1] == R[3][1][0]):
                        (pa, qa), (pb, qb) = L[3]
                        c = pa * qa * R[3][0][1] + pb * qb * R[3][1][1]
                        seg = ("kron", p, r, ((pa, R[3][0][1]), (pb, R[3][1][1])))
                    elif L[0] == R[0] == "dense":
                        c, seg = p * q * r, ("dense", p, r, None)
                    elif L[0] == R[0] == "sparse":
                        c = -(-L[3] * R[3] // q) if q else 0    # ⌈nnz(L)·nnz(R)/q⌉
                        seg = ("sparse", p, r, min(p * r, c))
                    else:
                        c = min(r * apply(L) + form(R), p * apply(R) + form(L))
                        seg = ("dense", p, r, None)
                    out.append((cl + cr + c, seg))
        return out
    total = min(c for c, _ in best(0, n - 1))
    if n == 1:
        total = form(best(0, 0)[0][1]) if kinds[0] == "op" else 0
    return total


@pytest.mark.parametrize("seed", range(40))
def test_plan_is_the_optimum_over_every_bracketing_and_mode(seed):
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(1, 6))
    dims, kinds, links = [int(rng.integers(1, 9))], [], []
    nnz, op_cost, kron_f = {}, {}, {}
    for k in range(n):
        kind = str(rng.choice(["dense", "diag", "sparse", "op", "kron"]))
        d = dims[-1]
        if kind == "diag":
            links.append(mc.Diagonal(rng.standard_normal(d)))
            dims.append(d)
        elif kind == "kron":
            # factor shapes that multiply out to d columns when possible
            qa = next(f for f in (3, 2, 1) if d % f == 0)
            pa, pb = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            K = mc.Kronecker(rng.standard_normal((pa, qa)), rng.standard_normal((pb, d // qa)))
            links.append(K)
            kron_f[k] = ((pa, qa), (pb, d // qa))
            dims.append(pa * pb)
        else:
            rows = int(rng.integers(1, 9))
            M = rng.standard_normal((rows, d))
            if kind == "sparse":
                M[rng.random(M.shape) < 0.6] = 0
                links.append(sp.csr_matrix(M))
                nnz[k] = links[-1].nnz
            elif kind == "op":
                op_cost[k] = int(rng.integers(0, rows * d + 5))
                links.append(mc.MatrixFree(aslinearoperator(M), cost=op_cost[k]))
            else:
                links.append(M)
            dims.append(rows)
        kinds.append(kind)
    plan = mc.chain_plan(links)
    assert plan.flops == _independent_cost(kinds, dims, nnz, op_cost, kron_f)
    # every order computes the same Jacobian
    want = _product(links)
    for order in ("optimal", "forward", "reverse"):
        got = mc.jacobian_chain(links, order=order)
        got = got.toarray() if hasattr(got, "toarray") else got
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


# --- sparse · sparse stays sparse ------------------------------------------------------

def _banded_csr(n, offsets, rng, dtype=np.float64):
    return sp.diags([rng.standard_normal(n - abs(o)) for o in offsets], offsets,
                    format="csr", dtype=dtype)


def _cyclic_csr(n, shifts, rng):
    """Σ_s diag(random) · (the cyclic shift by s): len(shifts) entries in every row and
    every column (a periodic band; one shift is a scaled permutation, a re-indexing)."""
    rows = np.repeat(np.arange(n), len(shifts))
    cols = (rows + np.tile(shifts, n)) % n
    return sp.csr_matrix((rng.standard_normal(rows.size), (rows, cols)), shape=(n, n))


def _spgemm_multiply_adds(L, R):
    """The multiply-adds of L @ R for sparse L, R: Σ_k (entries of L's column k) ·
    (entries of R's row k), counted from the patterns."""
    cols = np.bincount(sp.csr_matrix(L).tocoo().col, minlength=L.shape[1])
    rows = np.diff(sp.csr_matrix(R).indptr)
    return int(cols @ rows)


@MODS
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
@pytest.mark.parametrize("order", ["optimal", "forward", "reverse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_chain_stays_sparse(mod, fmt, order, dtype, rng):
    links = [sp.random(7, 5, density=0.4, format=fmt, random_state=1, dtype=dtype),
             sp.random(6, 7, density=0.3, format=fmt, random_state=2, dtype=dtype),
             sp.random_array((4, 6), density=0.5, format=fmt, random_state=3, dtype=dtype)]
    before = [link.toarray() for link in links]
    J = mod.jacobian_chain(links, order=order)
    assert sp.issparse(J) and J.format == "csr" and J.dtype == dtype and J.shape == (4, 5)
    assert isinstance(J, sp.sparray)            # the kind (array or matrix) of the last link
    np.testing.assert_allclose(J.toarray(), _product(links), rtol=2e-6 if dtype == np.float32
                               else 1e-12, atol=1e-6)
    for link, b in zip(links, before):
        np.testing.assert_array_equal(link.toarray(), b)
    # out= gets the dense matrix
    out = np.full((4, 5), np.nan, dtype)
    assert mod.jacobian_chain(links, order=order, out=out) is out
    np.testing.assert_allclose(out, J.toarray(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="out has shape"):
        mod.jacobian_chain(links, out=np.empty((5, 4), dtype))
    # a mixed-precision chain is computed in float64, still sparse
    J64 = mod.jacobian_chain(links[:2] + [links[2].astype(np.float64)])
    assert sp.issparse(J64) and J64.dtype == np.float64


def test_sparse_product_plan_and_cost(rng):
    n = 50
    S1 = _cyclic_csr(n, [-1, 0, 1], rng)
    S2 = _cyclic_csr(n, [-2, 0, 2, 5], rng)
    plan = mc.chain_plan([S1, S2])
    assert plan.steps == ((1, 0, "sparse"),) and str(plan) == "[J2 @ J1 | sparse]"
    # ⌈nnz·nnz/q⌉: exactly the multiply-adds of scipy's product when every column of the
    # later link holds as many entries (here 4 · 3 per row), near it for a band
    assert plan.flops == -(-S1.nnz * S2.nnz // n) == _spgemm_multiply_adds(S2, S1) == 12 * n
    B1, B2 = _banded_csr(n, [-1, 0, 1], rng), _banded_csr(n, [-2, 0, 2], rng)
    est, true = mc.chain_plan([B1, B2]).flops, _spgemm_multiply_adds(B2, B1)
    assert abs(est - true) <= 0.02 * true
    # far below forming either side dense: n·nnz
    assert plan.flops < n * min(S1.nnz, S2.nnz) // 2
    # reusable with the same sparse structure; another number of entries is another plan
    np.testing.assert_allclose(plan([S1, S2]).toarray(), S2.toarray() @ S1.toarray(),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="do not match the plan"):
        plan([S1, _banded_csr(n, [0], rng)])
    # zero sizes
    Z = mc.jacobian_chain([sp.csr_matrix((0, 3)), sp.csr_matrix((4, 0))])
    assert sp.issparse(Z) and Z.shape == (4, 3) and Z.nnz == 0
    assert mc.chain_plan([sp.csr_matrix((0, 3)), sp.csr_matrix((4, 0))]).flops == 0


@MODS
def test_sparse_product_inside_a_dense_chain(mod, rng):
    # x (m) -> W1 (n x m) -> P (a re-indexing, n x n) -> S (periodic band, n x n) -> W2:
    # S P is formed sparse (3n multiply-adds, 3n entries) and applied to W1 once, cheaper
    # than applying P and then S to W1 (m·n + 3 m·n)
    n, m = 300, 40
    W1, W2 = rng.standard_normal((n, m)), rng.standard_normal((m, n))
    S1, S2 = _cyclic_csr(n, [7], rng), _cyclic_csr(n, [-1, 0, 1], rng)
    links = [W1, S1, S2, W2]
    plan = mc.chain_plan(links)
    assert (2, 1, "sparse") in plan.steps
    assert plan.flops < mc.chain_plan(links, order="forward").flops
    want = W2 @ S2.toarray() @ S1.toarray() @ W1
    J = mod.jacobian_chain(links)
    assert type(J) is np.ndarray
    np.testing.assert_allclose(J, want, rtol=1e-10, atol=1e-10)
    g, t = rng.standard_normal(m), rng.standard_normal(m)
    np.testing.assert_allclose(mod.grad_chain(links, g), g @ want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mod.tangent_chain(links, t), want @ t, rtol=1e-10, atol=1e-10)


# --- the compiled entry of vector chains through Kronecker links -------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("grad", [True, False])
def test_kronecker_vector_entry(dtype, grad, rng):
    from mcfast._kernels import _chain as kern
    # factor shapes that make each link pick either order, transposed and strided factors,
    # and consecutive links whose factor shapes differ (only the sizes must fit)
    A1, B1 = rng.standard_normal((2, 6)), rng.standard_normal((4, 6)).T      # 12 x 24
    A2, B2 = rng.standard_normal((3, 2))[::-1], rng.standard_normal((5, 6))  # 15 x 12
    A3, B3 = rng.standard_normal((20, 3)), rng.standard_normal((1, 5))      # 20 x 15
    links = [mc.Kronecker(*(f.astype(dtype) for f in pair))
             for pair in ((A1, B1), (A2, B2), (A3, B3))]
    assert {K.a_first[1 if grad else 0] for K in links} == {True, False}
    want = _product(links).astype(np.float64)
    v = rng.standard_normal(20 if grad else 24).astype(dtype)
    before = v.copy()
    got = kern.fast_kron_vector(links, v, grad, mc.Kronecker)
    assert got is not None and got.dtype == dtype and got.shape == (24 if grad else 20,)
    expect = v.astype(np.float64) @ want if grad else want @ v.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expect, rtol=tol, atol=tol)
    np.testing.assert_array_equal(v, before)
    assert not np.shares_memory(got, v)
    fn = mc.grad_chain if grad else mc.tangent_chain
    np.testing.assert_array_equal(fn(links, v), got)            # the public entry takes it
    np.testing.assert_allclose(getattr(ref, fn.__name__)(links, v), got, rtol=tol, atol=tol)
    # anything else declines (None) and goes the general path, which checks and computes
    other = v.astype(np.float64 if dtype == np.float32 else np.float32)
    assert kern.fast_kron_vector(links, other, grad, mc.Kronecker) is None
    o64 = other.astype(np.float64)
    np.testing.assert_allclose(fn(links, other), o64 @ want if grad else want @ o64,
                               rtol=1e-5, atol=1e-5)
    swapped = [mc.Kronecker(links[0].A.astype(links[0].A.dtype.newbyteorder()), links[0].B)]
    assert kern.fast_kron_vector(swapped + links[1:], v, grad, mc.Kronecker) is None
    np.testing.assert_allclose(fn(swapped + links[1:], v), expect, rtol=tol, atol=tol)
    mixed = [links[0].toarray()] + links[1:]
    assert kern.fast_kron_vector(mixed, v, grad, mc.Kronecker) is None
    np.testing.assert_allclose(fn(mixed, v), expect, rtol=tol, atol=tol)
    assert kern.fast_kron_vector(links, v[:-1], grad, mc.Kronecker) is None
    with pytest.raises(ValueError, match="last axis must have length"):
        fn(links, v[:-1])
    assert kern.fast_kron_vector(links, v[::-1], grad, mc.Kronecker) is None
    assert kern.fast_kron_vector(links, np.stack([v, v]), grad, mc.Kronecker) is None
    assert kern.fast_kron_vector([], v, grad, mc.Kronecker) is None
    empty = mc.Kronecker(np.ones((0, 2), dtype), np.ones((3, 0), dtype))
    assert kern.fast_kron_vector([empty], np.ones(0, dtype), grad, mc.Kronecker) is None
    assert fn([empty], np.ones(0, dtype)).shape == (0,)
