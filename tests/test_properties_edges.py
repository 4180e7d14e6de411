"""Property tests (hypothesis) on the shapes issue #20's red team used: K = 1 classes, zero
inner dimensions, rows up to 10⁵ wide, malformed sparse structure, operators that return
the wrong thing."""

import os

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.sparse.linalg import LinearOperator, aslinearoperator  # noqa: E402

import mcfast as mc  # noqa: E402

ref = mc.reference

# few examples each (the widest rows are 10⁵ entries, and CI runs these under the
# sanitizers too): MCFAST_HYPOTHESIS=thorough for more
_EXAMPLES = {"default": 25, "ci": 40, "thorough": 400}[os.environ.get("MCFAST_HYPOTHESIS",
                                                                      "default")]
PROFILE = settings(max_examples=_EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

LOSSES = ["squared", "logistic", "poisson", "huber", "multinomial"]
WIDTHS = st.one_of(st.integers(0, 9), st.sampled_from([15, 16, 17, 63, 64, 65, 4000,
                                                       100_000]))


def _rng(data):
    return np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))


def _design(rng, n, m, layout):
    X = rng.standard_normal((n, m)) * (rng.random((n, m)) < 0.5)
    if layout == "F":
        return np.asfortranarray(X), X
    if layout == "csr":
        return sp.csr_matrix(X), X
    return X, X


@PROFILE
@given(data=st.data(), n=st.integers(0, 5), m=WIDTHS, k=st.integers(1, 9),
       layout=st.sampled_from(["C", "F", "csr"]), loss=st.sampled_from(LOSSES),
       intercept=st.booleans(), use_rows=st.booleans())
def test_linear_loss_any_width_and_classes(data, n, m, k, layout, loss, intercept,
                                           use_rows):
    """The one-pass engine equals the reference for K = 1 … 9 classes (K = 1 included),
    rows 0 … 10⁵ wide, C, F and CSR X, with and without rows= and an intercept; the
    Hessian too where it is small."""
    rng = _rng(data)
    X, _ = _design(rng, n, m, layout)
    mp = m + intercept
    if loss == "multinomial":
        y, theta = rng.integers(0, k, n), 0.1 * rng.standard_normal((mp, k))
    else:
        y = rng.poisson(1.0, n).astype(float) if loss == "poisson" else rng.random(n)
        theta = 0.1 * rng.standard_normal(mp) / max(1.0, np.sqrt(m))
    rows = rng.integers(0, n, 3) if use_rows and n else None
    kw = dict(loss=loss, l2=0.25, fit_intercept=intercept, rows=rows)
    got = mc.linear_loss_grad(X, theta, y, **kw)
    want = ref.linear_loss_grad(X, theta, y, **kw)
    assert got[0] == pytest.approx(want[0], rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-9)
    if mp * k <= 200:                 # the Hessian too, (mp·K)² entries, where it is small
        hkw = dict(loss=loss, l2=0.25, fit_intercept=intercept)
        h = mc.LinearLoss(X, y, **hkw).hessian(theta, rows=rows)
        hwant = ref.LinearLoss(X, y, **hkw).hessian(theta, rows=rows)
        np.testing.assert_allclose(h, hwant, rtol=1e-9, atol=1e-9)


def _link(rng, kind, p, q):
    """A link of `kind` with shape (p, q), and its dense matrix."""
    A = rng.standard_normal((p, q))
    if kind == "sparse":
        A[rng.random((p, q)) < 0.5] = 0
        return sp.csr_matrix(A), A
    if kind == "op":
        return aslinearoperator(A), A
    if kind == "matrixfree":
        return mc.MatrixFree(aslinearoperator(A)), A
    if kind == "forward-only":
        return LinearOperator((p, q), matvec=lambda x: A @ x, matmat=lambda X: A @ X,
                              dtype=np.float64), A
    if kind == "kron":
        B = rng.standard_normal((1, 1))
        return mc.Kronecker(A, B), np.kron(A, B)
    return A, A


KINDS = ["dense", "sparse", "op", "matrixfree", "forward-only", "kron"]


@PROFILE
@given(data=st.data(), dims=st.lists(st.integers(0, 4), min_size=2, max_size=5),
       order=st.sampled_from(["optimal", "forward", "reverse"]))
def test_chains_with_zero_dimensions(data, dims, order):
    """Chains of every link kind, any sizes 0 … 4 (zero inner dimensions included), equal
    the product of their dense matrices; grad/tangent equal the matrix-vector products."""
    rng = _rng(data)
    kinds = [data.draw(st.sampled_from(KINDS), label=f"kind{k}") for k in range(len(dims) - 1)]
    pairs = [_link(rng, kind, dims[k + 1], dims[k]) for k, kind in enumerate(kinds)]
    links = [a for a, _ in pairs]
    dense = np.eye(dims[0])
    for _, A in pairs:
        dense = A @ dense
    J = mc.jacobian_chain(links, order=order)
    J = J.toarray() if hasattr(J, "toarray") else np.asarray(J)
    np.testing.assert_allclose(J, dense, rtol=1e-10, atol=1e-10)
    t = rng.standard_normal(dims[0])
    np.testing.assert_allclose(mc.tangent_chain(links, t), dense @ t, rtol=1e-10, atol=1e-10)
    if "forward-only" not in kinds:
        g = rng.standard_normal((2, dims[-1]))
        np.testing.assert_allclose(mc.grad_chain(links, g), g @ dense, rtol=1e-10,
                                   atol=1e-10)


def _corrupt(rng, S, how):
    """A copy of CSR S with its structure broken in one way (S has stored entries)."""
    S = S.copy()
    if how == "index high":
        S.indices[rng.integers(S.nnz)] = S.shape[1] + rng.integers(0, 10 ** 9)
    elif how == "index negative":
        S.indices[rng.integers(S.nnz)] = -1 - rng.integers(0, 10 ** 9)
    elif how == "indptr decreasing":
        k = rng.integers(1, S.shape[0])
        S.indptr[k] = S.indptr[k + 1] + 1 + rng.integers(0, 5)
    elif how == "indptr past the end":
        S.indptr[-1] = S.nnz + 1 + rng.integers(0, 10 ** 6)
    else:                                                   # indptr not starting at 0
        S.indptr[0] = 1 + rng.integers(0, S.nnz)
    return S


@PROFILE
@given(data=st.data(), p=st.integers(2, 12), q=st.integers(1, 12),
       how=st.sampled_from(["index high", "index negative", "indptr decreasing",
                            "indptr past the end", "indptr start"]),
       where=st.sampled_from(["jacobian", "sparse-sparse", "grad", "tangent", "loss",
                              "LinearLoss"]))
def test_malformed_sparse_is_refused(data, p, q, how, where):
    """Any broken CSR structure, anywhere it is accepted, is a ValueError naming the link or
    X: never a crash, a wrong result or garbage."""
    rng = _rng(data)
    S = sp.random(p, q, density=0.6, format="csr", random_state=int(rng.integers(1 << 30)))
    S.data[:] = 1.0
    S.sum_duplicates()
    if S.nnz == 0:
        S = sp.csr_matrix(np.ones((p, q)))
    S = _corrupt(rng, S, how)
    calls = {
        "jacobian": lambda: mc.jacobian_chain([np.ones((q, 3)), S]),
        "sparse-sparse": lambda: mc.jacobian_chain([S, sp.csr_matrix(np.ones((2, p)))]),
        "grad": lambda: mc.grad_chain([S], np.ones(p)),
        "tangent": lambda: mc.tangent_chain([S], np.ones(q)),
        "loss": lambda: mc.linear_loss_grad(S, np.zeros(q), np.ones(p)),
        "LinearLoss": lambda: mc.LinearLoss(S, np.ones(p)),
    }
    with pytest.raises(ValueError, match=r"links\[\d\]|X"):
        calls[where]()


RESULTS = {
    "None": lambda want: None,
    "scalar": lambda want: 1.5,
    # the transposed block (a square one made wider, so that it is wrong too)
    "transposed": lambda want: np.ones(want[::-1] if want[0] != want[1]
                                       else (want[0], want[1] + 1)),
    "complex": lambda want: np.ones(want) * 1j,
    "extra row": lambda want: np.ones((want[0] + 1, want[1])),
    "flat": lambda want: np.ones(want[0] * want[1]),
    "object": lambda want: np.full(want, None),
}


@PROFILE
@given(data=st.data(), p=st.integers(1, 6), q=st.integers(1, 6), what=st.sampled_from(
    sorted(RESULTS)), call=st.sampled_from(["jacobian", "grad", "tangent", "tangent batch"]))
def test_operator_bad_results_are_refused(data, p, q, what, call):
    """An operator whose products return anything but a real array of the right shape is
    refused with TypeError or ValueError naming the link, not used."""
    bad = RESULTS[what]

    def fwd(X):
        return bad((p, X.shape[1]))

    def adj(X):
        return bad((q, X.shape[1]))

    op = LinearOperator((p, q), matvec=lambda x: bad((p, 1)), rmatvec=lambda x: bad((q, 1)),
                        matmat=fwd, rmatmat=adj, dtype=np.float64)
    calls = {"jacobian": lambda: mc.jacobian_chain([np.ones((q, 2)), op, np.ones((3, p))]),
             "grad": lambda: mc.grad_chain([np.ones((q, 2)), op], np.ones(p)),
             "tangent": lambda: mc.tangent_chain([op, np.ones((3, p))], np.ones(q)),
             "tangent batch": lambda: mc.tangent_chain([op], np.ones((4, q)))}
    with pytest.raises((TypeError, ValueError), match=r"links\[\d\] \(operator of shape"):
        calls[call]()
