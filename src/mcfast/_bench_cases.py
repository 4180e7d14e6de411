"""The benchmark cases: each rule against NumPy and the autodiff peers (JAX, PyTorch, autograd).

Every builder makes its inputs once and returns a `Case`: the callables to time (mcfast
first, then the NumPy formula of the same rule, then each installed peer as its users
would write it) and any measures that are not times (peak memory). Peers are imported
only when installed; a case leaves out a peer that has no way to express it (noted in
`skipped`).
"""

import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

import mcfast as mc
from mcfast._kernels import _engine as _e
from mcfast._kernels import _lstsq as _k
from mcfast._timing import interleaved_medians

__all__ = ["Case", "CASES", "peer", "PEERS", "peak_extra_bytes"]


# --- peers: imported only when installed -----------------------------------------------------

def _jax():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_cpu_enable_async_dispatch", False)  # fair on tiny inputs
    return jax


def _torch():
    try:
        import torch
        import torch.func  # noqa: F401
    except ImportError:
        return None
    return torch


def _autograd():
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    return autograd, anp


PEERS = {"jax": _jax, "torch": _torch, "autograd": _autograd}
_loaded = {}


def peer(name):
    """The peer module (autograd: (autograd, autograd.numpy)), or None when not installed."""
    if name not in _loaded:
        _loaded[name] = PEERS[name]()
    return _loaded[name]


def _ready(x):
    """Wait for a JAX result (a no-op for everything else)."""
    return x.block_until_ready() if hasattr(x, "block_until_ready") else x


@dataclass
class Case:
    """Callables to time side by side (mcfast first) and other measures of one case."""

    fns: dict
    measures: dict = field(default_factory=dict)   # name -> value (already measured)
    skipped: dict = field(default_factory=dict)    # peer -> why it is not in this case
    # name -> {"mcfast": fn, name: fn}: a limit timed against mcfast in a group of its
    # own, so that no third contender's threads (still spinning after its call) run
    # between the two
    limits: dict = field(default_factory=dict)


def peak_extra_bytes(fn):
    """Peak bytes allocated (tracemalloc, which NumPy reports to) while fn() runs, its
    result included."""
    fn()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# --- least squares -------------------------------------------------------------------------

def case_lstsq(n, m):
    """lstsq_loss_grad against r = X @ θ - y; (r @ r, 2 X.T @ r), and the peers."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, m))
    theta, y = rng.standard_normal(m), rng.standard_normal(n)
    out = np.empty(m)

    def numpy_formula():
        r = X @ theta - y
        return r @ r, 2 * (X.T @ r)

    fns = {"mcfast": lambda: mc.lstsq_loss_grad(X, theta, y, out=out), "numpy": numpy_formula}
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp
        f = jax.jit(jax.value_and_grad(lambda t, X, y: jnp.sum((X @ t - y) ** 2)))
        jX, jt, jy = jnp.asarray(X), jnp.asarray(theta), jnp.asarray(y)
        fns["jax"] = lambda: _ready(f(jt, jX, jy)[1])
    torch = peer("torch")
    if torch:
        tX, ty = torch.from_numpy(X), torch.from_numpy(y)
        tt = torch.from_numpy(theta.copy()).requires_grad_(True)

        def torch_autograd():
            tt.grad = None
            loss = ((tX @ tt - ty) ** 2).sum()
            loss.backward()
            return loss.item(), tt.grad
        fns["torch"] = torch_autograd
    ag = peer("autograd")
    if ag:
        autograd, anp = ag
        vg = autograd.value_and_grad(lambda t: anp.sum((anp.dot(X, t) - y) ** 2))
        fns["autograd"] = lambda: vg(theta)
    case = Case(fns)
    if n >= 100_000:
        # the memory limit: X read once by two threads, each summing its half (compiled)
        case.limits["read floor"] = {"mcfast": fns["mcfast"],
                                     "read floor": lambda: _k.row_sum["double"](X, 2)}
        case.measures["peak extra B/row"] = (
            peak_extra_bytes(lambda: mc.lstsq_loss_grad(X, theta, y, out=out)) / n)
        case.measures["numpy peak extra B/row"] = peak_extra_bytes(numpy_formula) / n
    return case


# --- the linear-map rules --------------------------------------------------------------------

def _linear_peers(fns, A, G, left):
    """JAX / PyTorch / autograd: the vector-Jacobian product of X -> A X (left) or X A."""
    n = A.shape[0]
    X0 = np.zeros((n, n))
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp
        jA, jG, jX = jnp.asarray(A), jnp.asarray(G), jnp.asarray(X0)
        vjp_j = jax.jit(lambda A, G, X: jax.vjp(
            (lambda X: A @ X) if left else (lambda X: X @ A), X)[1](G)[0])
        fns["jax"] = lambda: _ready(vjp_j(jA, jG, jX))
    torch = peer("torch")
    if torch:
        tA, tG = torch.from_numpy(A), torch.from_numpy(G)
        tX = torch.zeros((n, n), dtype=torch.float64, requires_grad=True)

        def torch_autograd():
            tX.grad = None
            (tA @ tX if left else tX @ tA).backward(tG)
            return tX.grad
        fns["torch"] = torch_autograd
    ag = peer("autograd")
    if ag:
        autograd, anp = ag
        fwd = (lambda X: anp.dot(A, X)) if left else (lambda X: anp.dot(X, A))
        fns["autograd"] = lambda: autograd.make_vjp(fwd)(X0)[0](G)
    return fns


def case_grad_ax(n):
    """grad_ax(A, G, out=out) against np.matmul(A.T, G, out=out), and the peers' vjp."""
    rng = np.random.default_rng(1)
    A, G = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    return Case(_linear_peers({"mcfast": lambda: mc.grad_ax(A, G, out=out),
                               "numpy": lambda: np.matmul(A.T, G, out=out)}, A, G, True))


def case_grad_xa(n):
    """grad_xa(G, A, out=out) against np.matmul(G, A.T, out=out), and the peers' vjp."""
    rng = np.random.default_rng(2)
    A, G = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    return Case(_linear_peers({"mcfast": lambda: mc.grad_xa(G, A, out=out),
                               "numpy": lambda: np.matmul(G, A.T, out=out)}, A, G, False))


def case_trace_chain(k):
    """trace_chain on k×k Y over k×k X against np.tensordot / einsum and the peers'."""
    rng = np.random.default_rng(3)
    G, D = rng.standard_normal((k, k)), rng.standard_normal((k, k, k, k))
    out = np.empty((k, k))
    fns = {"mcfast": lambda: mc.trace_chain(G, D, out=out),
           "numpy": lambda: np.tensordot(G, D, axes=2),
           "numpy einsum": lambda: np.einsum("kl,klij->ij", G, D)}
    case = Case(fns)
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp
        f = jax.jit(lambda G, D: jnp.tensordot(G, D, axes=2))
        jG, jD = jnp.asarray(G), jnp.asarray(D)
        fns["jax"] = lambda: _ready(f(jG, jD))
    torch = peer("torch")
    if torch:
        tG, tD = torch.from_numpy(G), torch.from_numpy(D)
        fns["torch"] = lambda: torch.tensordot(tG, tD, dims=2)
    case.skipped["autograd"] = "its tensordot is NumPy's"
    return case


# --- chains ----------------------------------------------------------------------------------

def case_chain3():
    """The Jacobian of three 4×4 linear links against multi_dot, C @ B @ A and the peers'."""
    rng = np.random.default_rng(4)
    A, B, C = (rng.standard_normal((4, 4)) for _ in range(3))
    links = [A, B, C]
    fns = {"mcfast": lambda: mc.jacobian_chain(links),
           "numpy multi_dot": lambda: np.linalg.multi_dot([C, B, A]),
           "numpy": lambda: C @ B @ A}
    x0 = np.zeros(4)
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp
        jac = jax.jit(jax.jacfwd(lambda x, A, B, C: C @ (B @ (A @ x))))
        ja = [jnp.asarray(a) for a in (x0, A, B, C)]
        fns["jax"] = lambda: _ready(jac(*ja))
    torch = peer("torch")
    if torch:
        ta = [torch.from_numpy(a) for a in (x0, A, B, C)]
        jac_t = torch.func.jacfwd(lambda x, A, B, C: C @ (B @ (A @ x)))
        fns["torch"] = lambda: jac_t(*ta)
    ag = peer("autograd")
    if ag:
        autograd, anp = ag
        jac_a = autograd.jacobian(lambda x: anp.dot(C, anp.dot(B, anp.dot(A, x))))
        fns["autograd"] = lambda: jac_a(x0)
    return Case(fns)


def _stacked(seed, batch):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, 4, 4)) for _ in range(3)], rng


def case_chain3_batched(batch=10_000):
    """10,000 stacked chains of three 4×4 links against nested np.matmul and the peers'."""
    (A, B, C), _ = _stacked(5, batch)
    links = [A, B, C]
    fns = {"mcfast": lambda: mc.jacobian_chain(links),
           "numpy": lambda: np.matmul(np.matmul(C, B), A)}
    x0 = np.zeros((batch, 4))
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp
        jac = jax.jit(jax.vmap(jax.jacfwd(lambda x, A, B, C: C @ (B @ (A @ x)))))
        ja = [jnp.asarray(a) for a in (x0, A, B, C)]
        fns["jax"] = lambda: _ready(jac(*ja))
    torch = peer("torch")
    if torch:
        ta = [torch.from_numpy(a) for a in (x0, A, B, C)]
        jac_t = torch.func.vmap(torch.func.jacfwd(lambda x, A, B, C: C @ (B @ (A @ x))))
        fns["torch"] = lambda: jac_t(*ta)
    return Case(fns, skipped={"autograd": "no batching (vmap)"})


def case_grad_chain_batched(batch=10_000):
    """grad_chain on 10,000 stacked chains of three 4×4 links against nested einsum, peers' vjp."""
    (A, B, C), rng = _stacked(6, batch)
    g = rng.standard_normal((batch, 4))
    links = [A, B, C]

    def numpy_einsum():
        v = np.einsum("bij,bi->bj", C, g)
        v = np.einsum("bij,bi->bj", B, v)
        return np.einsum("bij,bi->bj", A, v)
    fns = {"mcfast": lambda: mc.grad_chain(links, g), "numpy": numpy_einsum}
    x0 = np.zeros((batch, 4))
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp

        def one(x, A, B, C, g):
            return jax.vjp(lambda x: C @ (B @ (A @ x)), x)[1](g)[0]
        f = jax.jit(jax.vmap(one))
        ja = [jnp.asarray(a) for a in (x0, A, B, C, g)]
        fns["jax"] = lambda: _ready(f(*ja))
    torch = peer("torch")
    if torch:
        def one_t(x, A, B, C, g):
            return torch.func.vjp(lambda x: C @ (B @ (A @ x)), x)[1](g)[0]
        f_t = torch.func.vmap(one_t)
        ta = [torch.from_numpy(a) for a in (x0, A, B, C, g)]
        fns["torch"] = lambda: f_t(*ta)
    return Case(fns, skipped={"autograd": "no batching (vmap)"})


def case_mlp(n=1024):
    """Jacobian of a 3-layer MLP (W1, Diagonal, W2, Diagonal, W3) against dense multi_dot.

    The peers differentiate x -> W3 (d2 ⊙ (W2 (d1 ⊙ (W1 x)))), the same linearised
    network, with a full Jacobian transform (reverse mode: n vjps, batched).
    """
    rng = np.random.default_rng(7)
    W1, W2, W3 = (rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(3))
    d1, d2 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    links = [W1, mc.Diagonal(d1), W2, mc.Diagonal(d2), W3]
    D1, D2 = np.diag(d1), np.diag(d2)
    fns = {"mcfast": lambda: mc.jacobian_chain(links),
           "numpy": lambda: np.linalg.multi_dot([W3, D2, W2, D1, W1])}

    def net(x, W1, d1, W2, d2, W3):
        return W3 @ (d2 * (W2 @ (d1 * (W1 @ x))))
    x0 = np.zeros(n)
    args = (x0, W1, d1, W2, d2, W3)
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp
        jac = jax.jit(jax.jacrev(net))
        ja = [jnp.asarray(a) for a in args]
        fns["jax"] = lambda: _ready(jac(*ja))
    torch = peer("torch")
    if torch:
        jac_t = torch.func.jacrev(net)
        ta = [torch.from_numpy(a) for a in args]
        fns["torch"] = lambda: jac_t(*ta)
    return Case(fns, skipped={"autograd": "its jacobian loops over the 1024 outputs in Python"})


# --- beside NumPy's BLAS in one loop ----------------------------------------------------------
#
# A user's loop calls mcfast and NumPy in turn. Two BLAS libraries in one process each
# keep a pool of threads that spin for a while after a call; alternating them made each
# wait for the other's spinning threads (a 128² np.matmul 27× slower right after a
# grad_ax on 2 cores). These cases time each call inside the alternating loop and alone in
# a loop of its own library, per call, the conditions interleaved in rounds.

def alternation(f, g, rounds=7, calls=None):
    """(f in turn with g, f alone, g in turn with f, g alone): median seconds per call.

    Each round runs f alone, g alone, then f, g, f, g, ...: `calls` calls each (by default
    about 20 ms of each), every call timed on its own.
    """
    clock = time.perf_counter
    f(), g()
    if calls is None:
        t0 = clock()
        f(), g()
        calls = max(5, min(2000, int(0.02 / max(clock() - t0, 1e-7))))
    t = {k: [] for k in ("f with g", "f", "g with f", "g")}
    for _ in range(rounds):
        for fn, key in ((f, "f"), (g, "g")):
            for _ in range(calls):
                t0 = clock()
                fn()
                t[key].append(clock() - t0)
        for _ in range(calls):
            t0 = clock()
            f()
            t1 = clock()
            g()
            t["f with g"].append(t1 - t0)
            t["g with f"].append(clock() - t1)
    return tuple(float(np.median(t[k])) for k in ("f with g", "f", "g with f", "g"))


def _alternation_case(mine, theirs, other):
    """A Case timing mcfast's call `mine` alone, with the alternation measured in turn with
    NumPy's call `theirs` (named `other`)."""
    mine_with, mine_alone, theirs_with, theirs_alone = alternation(mine, theirs)
    return Case({"mcfast": mine}, measures={
        f"mcfast after {other}": mine_with,
        f"{other} after mcfast": theirs_with,
        f"{other} alone": theirs_alone,
        f"mcfast / alone, beside {other}": mine_with / mine_alone,
        f"{other} / alone, beside mcfast": theirs_with / theirs_alone})


def case_beside_numpy_grad_ax(n):
    """grad_ax(A, G, out=) and np.matmul(B, C, out=) in one loop, both n × n."""
    rng = np.random.default_rng(8)
    A, G, B, C = (rng.standard_normal((n, n)) for _ in range(4))
    out, out2 = np.empty((n, n)), np.empty((n, n))
    return _alternation_case(lambda: mc.grad_ax(A, G, out=out),
                             lambda: np.matmul(B, C, out=out2), "np.matmul")


def case_beside_numpy_lstsq(n=200_000, m=32, k=512):
    """lstsq_loss_grad on n × m right after a threaded k × k np.matmul, in one loop."""
    rng = np.random.default_rng(9)
    X, theta, y = rng.standard_normal((n, m)), rng.standard_normal(m), rng.standard_normal(n)
    B, C = rng.standard_normal((k, k)), rng.standard_normal((k, k))
    grad, out2 = np.empty(m), np.empty((k, k))
    return _alternation_case(lambda: mc.lstsq_loss_grad(X, theta, y, out=grad),
                             lambda: np.matmul(B, C, out=out2), f"np.matmul {k}²")


def threaded_entries(n=200_000, m=32, batch=40_000, d=6):
    """{name: call} for each threaded mcfast entry at a size that takes every thread:
    n × m float64 for the losses, `batch` stacked chains of three d × d for the chains."""
    rng = np.random.default_rng(13)
    X, y, theta = _loss_data(rng, "logistic", n, m)
    yr, p = rng.standard_normal(n), rng.standard_normal(theta.shape)
    obj = mc.LinearLoss(X, y, loss="logistic", fit_intercept=True)
    links = [rng.standard_normal((batch, d, d)) for _ in range(3)]
    g = rng.standard_normal((batch, d))
    grad = np.empty(m)
    return {
        "lstsq_loss_grad": lambda: mc.lstsq_loss_grad(X, theta[:m], yr, out=grad),
        "linear_loss_grad": lambda: mc.linear_loss_grad(X, theta, y, loss="logistic",
                                                        fit_intercept=True),
        "LinearLoss.hessp": lambda: obj.hessp(theta, p),
        "jacobian_chain": lambda: mc.jacobian_chain(links),
        "grad_chain": lambda: mc.grad_chain(links, g),
    }


THREADED_LABELS = {"lstsq_loss_grad": "200,000×32", "linear_loss_grad": "logistic 200,000×32",
                   "LinearLoss.hessp": "logistic 200,000×32",
                   "jacobian_chain": "40,000 × three 6×6", "grad_chain": "40,000 × three 6×6"}


def case_matmul_after(name, k=512):
    """A k × k np.matmul right after the threaded entry `name` (threaded_entries), in one
    loop, against the same product alone: no mcfast thread may still be spinning."""
    rng = np.random.default_rng(14)
    B, C, out2 = rng.standard_normal((k, k)), rng.standard_normal((k, k)), np.empty((k, k))
    return _alternation_case(threaded_entries()[name], lambda: np.matmul(B, C, out=out2),
                             f"np.matmul {k}²")


SMALL_SIZES = range(2, 65)


def small_ratios(sizes, repeats=7, target=0.002, seed=10, clock=time.perf_counter):
    """{n: grad_ax(A, G, out=) time over np.matmul(A.T, G, out=) time} at n × n."""
    rng = np.random.default_rng(seed)
    ratios = {}
    for n in sizes:
        A, G, out = rng.standard_normal((n, n)), rng.standard_normal((n, n)), np.empty((n, n))
        t_mc, t_np = interleaved_medians([lambda: mc.grad_ax(A, G, out=out),
                                          lambda: np.matmul(A.T, G, out=out)],
                                         repeats=repeats, target=target, clock=clock,
                                         settle=0.002)      # one thread: no pools to wait out
        ratios[n] = t_mc / t_np
    return ratios


def case_grad_ax_small(sizes=SMALL_SIZES, repeats=7, clock=time.perf_counter):
    """grad_ax(A, G, out=) against np.matmul(A.T, G, out=) at every n × n in `sizes`:
    the worst ratio, where it is, and the median over the sizes.

    On a busy machine one sample in a few hundred lands on a stall, so the five worst
    sizes of a first pass are timed again, three times as long: a size counts as slow
    only when it is slow both times (the smaller of its two ratios). ``clock=
    time.thread_time`` under ``threadpool_limits(1)`` times CPU work alone, which other
    processes on the machine do not disturb.
    """
    ratios = small_ratios(sizes, repeats, clock=clock)
    for n in sorted(ratios, key=ratios.get)[-5:]:
        ratios[n] = min(ratios[n], small_ratios([n], 3 * repeats, seed=11, clock=clock)[n])
    worst = max(ratios, key=ratios.get)
    n = max(sizes)
    rng = np.random.default_rng(12)
    A, G, out = rng.standard_normal((n, n)), rng.standard_normal((n, n)), np.empty((n, n))
    return Case({"mcfast": lambda: mc.grad_ax(A, G, out=out),
                 "numpy": lambda: np.matmul(A.T, G, out=out)},
                measures={"mcfast / numpy, worst size": ratios[worst],
                          "worst size n": worst,
                          "mcfast / numpy, median over sizes": float(np.median(
                              list(ratios.values())))})


# --- chains over structured and matrix-free links (issue 13) ---------------------------------

def _kron_maps(n, k, seed=8):
    rng = np.random.default_rng(seed)
    As = [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(k)]
    Bs = [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(k)]
    return As, Bs, rng


def case_kron_grad(n, k):
    """The gradient through k matrix maps Y_i = A_i Y_{i-1} B_i (n × n), as Kronecker links
    A_i ⊗ B_iᵀ, against the NumPy loop G ← A_iᵀ G B_iᵀ and jax.jit(jax.grad)."""
    As, Bs, rng = _kron_maps(n, k)
    G = rng.standard_normal((n, n))
    links = [mc.Kronecker(A, B.T) for A, B in zip(As, Bs)]
    g = G.ravel()

    def numpy_loop():
        H = G
        for A, B in zip(As[::-1], Bs[::-1]):
            H = A.T @ H @ B.T
        return H
    fns = {"mcfast": lambda: mc.grad_chain(links, g), "numpy": numpy_loop}
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp

        def z(X, As, Bs, G):
            for A, B in zip(As, Bs):
                X = A @ X @ B
            return jnp.sum(G * X)
        grad = jax.jit(jax.grad(z))
        ja = (jnp.zeros((n, n)), [jnp.asarray(A) for A in As], [jnp.asarray(B) for B in Bs],
              jnp.asarray(G))
        fns["jax"] = lambda: _ready(grad(*ja))
    torch = peer("torch")
    if torch:
        tA, tB = [torch.from_numpy(A) for A in As], [torch.from_numpy(B) for B in Bs]
        tG = torch.from_numpy(G)

        def vjp_t():
            X = torch.zeros((n, n), dtype=torch.float64, requires_grad=True)
            Y = X
            for A, B in zip(tA, tB):
                Y = A @ Y @ B
            (Y * tG).sum().backward()
            return X.grad
        fns["torch"] = vjp_t
    return Case(fns, skipped={"autograd": "slow Python tracing of matrix products"})


def _banded(n, half, seed):
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    offsets = list(range(-half, half + 1))
    return sp.diags([rng.standard_normal(n - abs(o)) for o in offsets], offsets, format="csr")


def _composed_peers(fns, f, x0, args, grad=None):
    """JAX as its users write it, on the composed function ``f(x, *args)``: the Jacobian by
    jax.jit(jax.jacrev) ("jax") and jax.jit(jax.jacfwd) ("jax jacfwd"), or, with `grad`
    (∂z/∂f), the gradient of z = grad · f(x) by jax.jit(jax.grad) ("jax")."""
    jax = peer("jax")
    if not jax:
        return fns
    import jax.numpy as jnp
    ja = (jnp.asarray(x0),) + tuple(args)
    if grad is not None:
        g = jnp.asarray(grad)
        z = jax.jit(jax.grad(lambda x, g, *a: g @ f(x, *a)))
        fns["jax"] = lambda: _ready(z(ja[0], g, *ja[1:]))
        return fns
    rev, fwd = jax.jit(jax.jacrev(f)), jax.jit(jax.jacfwd(f))
    fns["jax"] = lambda: _ready(rev(*ja))
    fns["jax jacfwd"] = lambda: _ready(fwd(*ja))
    return fns


def _sparse_chain_links(n, m, half):
    rng = np.random.default_rng(9)
    W1, W2 = rng.standard_normal((n, m)) / np.sqrt(m), rng.standard_normal((m, n)) / np.sqrt(n)
    return W1, _banded(n, half, 10), W2, rng


def _sparse_chain_jax(W1, S, W2):
    jax = peer("jax")
    if not jax:
        return ()
    import jax.numpy as jnp
    from jax.experimental import sparse as jsp
    return (jnp.asarray(W1), jsp.BCOO.from_scipy_sparse(S), jnp.asarray(W2))


def _sparse_net(x, W1, S, W2):
    return W2 @ (S @ (W1 @ x))


def case_sparse_chain(n=10_000, m=64, half=2):
    """The Jacobian of x (m) -> W1 (n × m) -> S (banded n × n sparse) -> W2 (m × n) against
    W2 @ (S @ W1) (NumPy + scipy.sparse) and jax.jit(jax.jacrev / jax.jacfwd) of the
    composed function with a BCOO S."""
    W1, S, W2, _ = _sparse_chain_links(n, m, half)
    links = [W1, S, W2]
    fns = {"mcfast": lambda: mc.jacobian_chain(links), "numpy": lambda: W2 @ (S @ W1)}
    _composed_peers(fns, _sparse_net, np.zeros(m), _sparse_chain_jax(W1, S, W2))
    return Case(fns, skipped={"torch": "left out (sparse autograd)",
                              "autograd": "no sparse matrices"})


def case_sparse_grad(n=10_000, m=64, half=2):
    """grad_chain through the chain of `case_sparse_chain` against W1ᵀ(Sᵀ(W2ᵀ g)) and
    jax.jit(jax.grad) of g · f(x), f the composed function."""
    W1, S, W2, rng = _sparse_chain_links(n, m, half)
    g = rng.standard_normal(m)
    links = [W1, S, W2]
    fns = {"mcfast": lambda: mc.grad_chain(links, g), "numpy": lambda: W1.T @ (S.T @ (W2.T @ g))}
    _composed_peers(fns, _sparse_net, np.zeros(m), _sparse_chain_jax(W1, S, W2), grad=g)
    return Case(fns, skipped={"torch": "left out (sparse autograd)",
                              "autograd": "no sparse matrices"})


def _bottleneck_links(n):
    from scipy.sparse.linalg import aslinearoperator
    rng = np.random.default_rng(11)
    M1, M2 = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal((n, n)) / np.sqrt(n)
    W, V = rng.standard_normal((3, n)), rng.standard_normal((n, 3))
    return [aslinearoperator(M1), W, V, aslinearoperator(M2)], (M1, W, V, M2), rng


def _bottleneck_jax(dense):
    jax = peer("jax")
    if not jax:
        return ()
    import jax.numpy as jnp
    return tuple(jnp.asarray(a) for a in dense)


def _bottleneck_net(x, M1, W, V, M2):
    return M2 @ (V @ (W @ (M1 @ x)))


def case_bottleneck(n=1000):
    """A bottleneck in the middle: x (n) -> Op1 (n × n, matrix-free) -> W (3 × n) -> V (n × 3)
    -> Op2 (n × n, matrix-free). mcfast applies each operator to 3 vectors; against
    multi_dot of the dense matrices (NumPy) and jax.jit(jax.jacrev / jax.jacfwd) of the
    composed function."""
    links, (M1, W, V, M2), _ = _bottleneck_links(n)
    fns = {"mcfast": lambda: mc.jacobian_chain(links),
           "numpy": lambda: np.linalg.multi_dot([M2, V, W, M1])}
    _composed_peers(fns, _bottleneck_net, np.zeros(n), _bottleneck_jax((M1, W, V, M2)))
    return Case(fns, skipped={"torch": "left out", "autograd": "left out"})


def case_bottleneck_grad(n=1000):
    """grad_chain through the chain of `case_bottleneck` against M1ᵀ(Wᵀ(Vᵀ(M2ᵀ g))) and
    jax.jit(jax.grad) of g · f(x), f the composed function."""
    links, (M1, W, V, M2), rng = _bottleneck_links(n)
    g = rng.standard_normal(n)
    fns = {"mcfast": lambda: mc.grad_chain(links, g),
           "numpy": lambda: M1.T @ (W.T @ (V.T @ (M2.T @ g)))}
    _composed_peers(fns, _bottleneck_net, np.zeros(n), _bottleneck_jax((M1, W, V, M2)),
                    grad=g)
    return Case(fns, skipped={"torch": "left out", "autograd": "left out"})
# --- linear-model losses (one pass over X) against scikit-learn's LinearModelLoss ------------

def _sklearn_model(loss, K=None):
    """scikit-learn's LinearModelLoss for `loss` with an intercept, or None (not installed)."""
    try:
        from sklearn._loss import loss as skl
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    base = {"squared": skl.HalfSquaredError, "logistic": skl.HalfBinomialLoss,
            "poisson": skl.HalfPoissonLoss}.get(loss)
    base = skl.HalfMultinomialLoss(n_classes=K) if loss == "multinomial" else base()
    return LinearModelLoss(base_loss=base, fit_intercept=True)


def _loss_data(rng, loss, n, m, K=None):
    X = rng.standard_normal((n, m))
    if loss == "logistic":
        y = (rng.random(n) < 0.5).astype(float)
    elif loss == "poisson":
        y = rng.poisson(1.0, n).astype(float)
    elif loss == "multinomial":
        y = rng.integers(0, K, n).astype(float)
    else:
        y = rng.standard_normal(n)
    theta = 0.1 * rng.standard_normal((m + 1,) if K is None else (m + 1, K))
    return X, y, theta


def _with_sklearn(fns, loss, X, y, theta, K=None):
    model = _sklearn_model(loss, K)
    if model is not None:
        coef = theta.T.copy() if K else theta
        fns["scikit-learn"] = lambda: model.loss_gradient(coef, X, y, n_threads=2)
    return fns


def case_linear_loss(loss, n=2_000_000, m=32, layout="C"):
    """linear_loss_grad (intercept, l2) against scikit-learn's loss_gradient and the read
    floor (two threads reading a C-ordered X once); F order: the same X Fortran-ordered,
    against the C-order floor, and its peak extra memory (no copy)."""
    rng = np.random.default_rng(10)
    X, y, theta = _loss_data(rng, loss, n, m)
    Xc = X
    if layout == "F":
        X = np.asfortranarray(X)
    out = np.empty_like(theta)

    def fast():
        return mc.linear_loss_grad(X, theta, y, loss=loss, l2=0.5, fit_intercept=True,
                                   out=out)
    case = Case(_with_sklearn({"mcfast": fast}, loss, X, y, theta))
    case.limits["read floor"] = {"mcfast": fast, "read floor": lambda: _e.row_sum(Xc, 2)}
    case.measures["peak extra / X"] = peak_extra_bytes(fast) / X.nbytes
    return case


def case_linear_hessp(n=2_000_000, m=32):
    """LinearLoss(loss="logistic").hessp against the read floor and scikit-learn's
    gradient_hessian_product (its setup and one product)."""
    rng = np.random.default_rng(11)
    X, y, theta = _loss_data(rng, "logistic", n, m)
    obj = mc.LinearLoss(X, y, loss="logistic", fit_intercept=True)
    p = rng.standard_normal(theta.shape)
    fns = {"mcfast": lambda: obj.hessp(theta, p)}
    model = _sklearn_model("logistic")
    if model is not None:
        def sk():
            _, hp = model.gradient_hessian_product(theta, X, y, n_threads=2)
            return hp(p)
        fns["scikit-learn"] = sk
    case = Case(fns)
    case.limits["read floor"] = {"mcfast": fns["mcfast"], "read floor": lambda: _e.row_sum(X, 2)}
    return case


def case_multinomial(n=500_000, m=32, K=8):
    rng = np.random.default_rng(12)
    X, y, theta = _loss_data(rng, "multinomial", n, m, K)
    yl = y.astype(np.intp)
    fns = {"mcfast": lambda: mc.linear_loss_grad(X, theta, yl, loss="multinomial",
                                                 fit_intercept=True)}
    return Case(_with_sklearn(fns, "multinomial", X, y, theta, K))


def case_csr(n=200_000, m=20_000, nnz_row=50):
    """Logistic on a CSR X with 50 stored entries a row against scikit-learn."""
    import scipy.sparse as sp
    rng = np.random.default_rng(13)
    indptr = np.arange(0, (n + 1) * nnz_row, nnz_row, dtype=np.int32)
    indices = rng.integers(0, m, n * nnz_row).astype(np.int32)
    X = sp.csr_matrix((rng.standard_normal(n * nnz_row), indices, indptr), shape=(n, m))
    y = (rng.random(n) < 0.5).astype(float)
    theta = 0.01 * rng.standard_normal(m + 1)
    fns = {"mcfast": lambda: mc.linear_loss_grad(X, theta, y, loss="logistic",
                                                 fit_intercept=True)}
    return Case(_with_sklearn(fns, "logistic", X, y, theta))


def case_rows(n=2_000_000, m=32, batch=4096):
    """A minibatch: rows= of 4,096 random rows against NumPy's X[rows] formula."""
    rng = np.random.default_rng(14)
    X, y, theta = _loss_data(rng, "logistic", n, m)
    rows = rng.integers(0, n, batch)
    coef, b = theta[:m], theta[m]

    def numpy_formula():
        Xb, yb = X[rows], y[rows]
        z = Xb @ coef + b
        loss = np.sum(np.logaddexp(0, z) - yb * z)
        g = 1 / (1 + np.exp(-z)) - yb
        return loss, np.concatenate([Xb.T @ g, [g.sum()]])
    return Case({"mcfast": lambda: mc.linear_loss_grad(X, theta, y, loss="logistic",
                                                       fit_intercept=True, rows=rows),
                 "numpy": numpy_formula})


# (rule, size label, size for the plot, builder, in --quick?)
CASES = [
    ("lstsq_loss_grad", "4×4", 16, lambda: case_lstsq(4, 4), False),
    ("lstsq_loss_grad", "8×8", 64, lambda: case_lstsq(8, 8), True),
    ("lstsq_loss_grad", "64×8", 512, lambda: case_lstsq(64, 8), True),
    ("lstsq_loss_grad", "1,000,000×32", 32_000_000, lambda: case_lstsq(1_000_000, 32), True),
    ("lstsq_loss_grad", "250,000×256", 64_000_000, lambda: case_lstsq(250_000, 256), False),
    ("grad_ax", "4×4", 16, lambda: case_grad_ax(4), True),
    ("grad_ax", "8×8", 64, lambda: case_grad_ax(8), True),
    ("grad_ax", "128×128", 128 ** 2, lambda: case_grad_ax(128), False),
    ("grad_ax", "2048×2048", 2048 ** 2, lambda: case_grad_ax(2048), True),
    ("grad_xa", "8×8", 64, lambda: case_grad_xa(8), False),
    ("grad_xa", "128×128", 128 ** 2, lambda: case_grad_xa(128), False),
    ("grad_xa", "2048×2048", 2048 ** 2, lambda: case_grad_xa(2048), False),
    ("trace_chain", "k=l=i=j=30", 30 ** 4, lambda: case_trace_chain(30), True),
    ("jacobian_chain", "three 4×4", 48, case_chain3, True),
    ("jacobian_chain", "10,000 × three 4×4", 480_000, case_chain3_batched, True),
    ("grad_chain", "10,000 × three 4×4", 480_000, case_grad_chain_batched, True),
    ("jacobian_chain", "MLP n=1024, Diagonals", 5 * 1024 ** 2, case_mlp, False),
    ("grad_ax", "every n×n, n = 2..64", 64 ** 2, case_grad_ax_small, True),
    ("beside NumPy", "grad_ax 128×128 and np.matmul in turn", 128 ** 2,
     lambda: case_beside_numpy_grad_ax(128), True),
    ("beside NumPy", "grad_ax 512×512 and np.matmul in turn", 512 ** 2,
     lambda: case_beside_numpy_grad_ax(512), True),
    ("beside NumPy", "lstsq_loss_grad 200,000×32 after np.matmul 512²", 200_000 * 32,
     case_beside_numpy_lstsq, True),
    *[("beside NumPy", f"np.matmul 512² after {name} {label}", 512 ** 2,
       (lambda name=name: case_matmul_after(name)), True)
      for name, label in THREADED_LABELS.items()],
    ("grad_chain", "3 Kronecker maps, 64²", 3 * 64 ** 3, lambda: case_kron_grad(64, 3), True),
    ("grad_chain", "5 Kronecker maps, 64²", 5 * 64 ** 3, lambda: case_kron_grad(64, 5), False),
    ("grad_chain", "3 Kronecker maps, 256²", 3 * 256 ** 3, lambda: case_kron_grad(256, 3),
     False),
    ("grad_chain", "5 Kronecker maps, 256²", 5 * 256 ** 3, lambda: case_kron_grad(256, 5),
     True),
    ("jacobian_chain", "banded sparse 10⁴ between dense", 64 * 10_000 * 64,
     case_sparse_chain, True),
    ("jacobian_chain", "middle bottleneck, 1000² operators", 3 * 1000 ** 2, case_bottleneck,
     True),
    ("grad_chain", "banded sparse 10⁴ between dense", 2 * 64 * 10_000, case_sparse_grad, False),
    ("grad_chain", "middle bottleneck, 1000² operators", 2 * 1000 ** 2, case_bottleneck_grad,
     False),
    ("linear_loss_grad squared", "2,000,000×32", 64_000_000,
     lambda: case_linear_loss("squared"), False),
    ("linear_loss_grad logistic", "2,000,000×32", 64_000_000,
     lambda: case_linear_loss("logistic"), False),
    ("linear_loss_grad poisson", "2,000,000×32", 64_000_000,
     lambda: case_linear_loss("poisson"), False),
    ("linear_loss_grad logistic, F order", "2,000,000×32", 64_000_000,
     lambda: case_linear_loss("logistic", layout="F"), False),
    ("LinearLoss.hessp logistic", "2,000,000×32", 64_000_000, case_linear_hessp, False),
    ("linear_loss_grad multinomial K=8", "500,000×32", 16_000_000, case_multinomial, False),
    ("linear_loss_grad logistic, CSR", "200,000×20,000, 50/row", 10_000_000, case_csr, False),
    ("linear_loss_grad logistic, rows=", "4,096 of 2,000,000×32", 131_072, case_rows, True),
]
