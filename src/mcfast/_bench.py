"""The benchmark suite: every rule side by side with NumPy and the autodiff peers, in one run.

Each case builds its inputs once, then times mcfast and each contender interleaved
(A, B, A, B, ...) over many repeats; medians and ratios (contender / mcfast is the
speed-up) are reported. Peers (JAX, PyTorch, HIPS autograd) run when installed and are
noted as skipped otherwise. `python -m mcfast bench [--quick]` or `python bench/run.py`.
"""

import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import mcfast as mc
from mcfast._timing import format_seconds, interleaved_medians

__all__ = ["CASES", "run", "main"]


# --- peers: imported only when installed ---------------------------------------------------

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
    """The peer module (or None when not installed), imported once."""
    if name not in _loaded:
        _loaded[name] = PEERS[name]()
    return _loaded[name]


def _block(x):
    """Wait for a JAX result (a no-op for everything else)."""
    return x.block_until_ready() if hasattr(x, "block_until_ready") else x


# --- cases ---------------------------------------------------------------------------------

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
        fns["jax"] = lambda: _block(f(jt, jX, jy)[1])
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
    if n >= 100_000:
        fns["read floor"] = _read_floor(X)
    return fns


def _read_floor(X):
    """Time to read X once with two threads, each summing half of it (memory-bound)."""
    half = X.shape[0] // 2
    parts = (X[:half], X[half:])
    pool = ThreadPoolExecutor(2)
    return lambda: list(pool.map(np.sum, parts))


def case_grad_ax(n):
    """grad_ax(A, G, out=out) against np.matmul(A.T, G, out=out)."""
    rng = np.random.default_rng(1)
    A, G = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    fns = {"mcfast": lambda: mc.grad_ax(A, G, out=out),
           "numpy": lambda: np.matmul(A.T, G, out=out)}
    jax = peer("jax")
    if jax:
        import jax.numpy as jnp
        jA, jG, jX = jnp.asarray(A), jnp.asarray(G), jnp.zeros((n, n))
        f = jax.jit(lambda A, G, X: jax.vjp(lambda X: A @ X, X)[1](G)[0])
        fns["jax"] = lambda: _block(f(jA, jG, jX))
    torch = peer("torch")
    if torch:
        tA, tG = torch.from_numpy(A), torch.from_numpy(G)
        tX = torch.zeros((n, n), dtype=torch.float64, requires_grad=True)

        def torch_autograd():
            tX.grad = None
            (tA @ tX).backward(tG)
            return tX.grad
        fns["torch"] = torch_autograd
    return fns


def case_grad_xa(n):
    """grad_xa(G, A, out=out) against np.matmul(G, A.T, out=out)."""
    rng = np.random.default_rng(2)
    A, G = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    return {"mcfast": lambda: mc.grad_xa(G, A, out=out),
            "numpy": lambda: np.matmul(G, A.T, out=out)}


def case_trace_chain(k):
    """trace_chain on k×k Y over k×k X against np.tensordot."""
    rng = np.random.default_rng(3)
    G, D = rng.standard_normal((k, k)), rng.standard_normal((k, k, k, k))
    out = np.empty((k, k))
    return {"mcfast": lambda: mc.trace_chain(G, D, out=out),
            "numpy": lambda: np.tensordot(G, D, axes=2),
            "numpy einsum": lambda: np.einsum("kl,klij->ij", G, D)}


def case_chain3():
    """A chain of three 4×4 links against multi_dot and C @ B @ A."""
    rng = np.random.default_rng(4)
    A, B, C = (rng.standard_normal((4, 4)) for _ in range(3))
    links = [A, B, C]
    return {"mcfast": lambda: mc.jacobian_chain(links),
            "numpy multi_dot": lambda: np.linalg.multi_dot([C, B, A]),
            "numpy": lambda: C @ B @ A}


def case_chain3_batched(batch=10_000):
    """10,000 stacked chains of three 4×4 links against nested np.matmul."""
    rng = np.random.default_rng(5)
    A, B, C = (rng.standard_normal((batch, 4, 4)) for _ in range(3))
    links = [A, B, C]
    return {"mcfast": lambda: mc.jacobian_chain(links),
            "numpy": lambda: np.matmul(np.matmul(C, B), A)}


def case_grad_chain_batched(batch=10_000):
    """grad_chain on 10,000 stacked chains of three 4×4 links against nested einsum."""
    rng = np.random.default_rng(6)
    A, B, C = (rng.standard_normal((batch, 4, 4)) for _ in range(3))
    g = rng.standard_normal((batch, 4))
    links = [A, B, C]

    def numpy_einsum():
        v = np.einsum("bij,bi->bj", C, g)
        v = np.einsum("bij,bi->bj", B, v)
        return np.einsum("bij,bi->bj", A, v)
    return {"mcfast": lambda: mc.grad_chain(links, g), "numpy": numpy_einsum}


def case_mlp(n=1024):
    """Jacobian of a 3-layer MLP (W1, Diagonal, W2, Diagonal, W3) against dense multi_dot."""
    rng = np.random.default_rng(7)
    W1, W2, W3 = (rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(3))
    d1, d2 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    links = [W1, mc.Diagonal(d1), W2, mc.Diagonal(d2), W3]
    D1, D2 = np.diag(d1), np.diag(d2)
    return {"mcfast": lambda: mc.jacobian_chain(links),
            "numpy": lambda: np.linalg.multi_dot([W3, D2, W2, D1, W1])}


# (rule, size label, size for the plot, builder, in --quick?)
CASES = [
    ("lstsq_loss_grad", "8×8", 64, lambda: case_lstsq(8, 8), True),
    ("lstsq_loss_grad", "4×4", 16, lambda: case_lstsq(4, 4), False),
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
]


def _threads():
    """BLAS and OpenMP thread counts, as threadpoolctl sees them (when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return ", ".join(f"{d['internal_api']} {d.get('version')}: {d['num_threads']} threads"
                     for d in threadpool_info())


def run(quick=False, log=print):
    """Run the cases; return rows (rule, size, plot size, {contender: median seconds})."""
    rows = []
    todo = [c for c in CASES if c[4] or not quick]
    for i, (rule, label, size, build, _) in enumerate(todo, 1):
        log(f"[{i}/{len(todo)}] {rule} {label} ...")
        fns = build()
        names = list(fns)
        t0 = time.perf_counter()
        medians = interleaved_medians([fns[k] for k in names], repeats=5 if quick else 21,
                                      target=0.005 if quick else 0.02)
        times = dict(zip(names, medians))
        rows.append((rule, label, size, times))
        others = "  ".join(f"{k} {format_seconds(t)} ({t / times['mcfast']:.2f}×)"
                           for k, t in times.items() if k != "mcfast")
        log(f"      mcfast {format_seconds(times['mcfast'])}  {others}  "
            f"[{time.perf_counter() - t0:.1f} s]")
        del fns
    return rows


def results_markdown(rows, quick):
    """The results table (speed-up = contender time / mcfast time) with machine facts."""
    cfg = mc._config.config()
    skipped = [k for k in PEERS if peer(k) is None]
    lines = [
        "# mcfast benchmark results", "",
        f"Produced by `python -m mcfast bench{' --quick' if quick else ''}` on "
        f"{time.strftime('%Y-%m-%d')}: medians of interleaved repeats, float64.",
        "A ratio is the contender's time over mcfast's: above 1 means mcfast is faster.", "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"- Python {sys.version.split()[0]}, NumPy {np.__version__}, mcfast {mc.__version__} "
        f"(build: {cfg['build']['compiler']}, {cfg['build']['cflags']}, OpenMP "
        f"{'on' if cfg['build']['openmp'] else 'off'}, "
        f"{cfg['build']['openmp_max_threads']} threads)",
        f"- threads: {_threads()}",
        f"- peers: " + ", ".join(f"{k} {_version(k)}" for k in PEERS if peer(k) is not None)
        + (f"; not installed: {', '.join(skipped)}" if skipped else ""), "",
        "| rule | size | mcfast | contenders (time, ratio) |", "|---|---|---|---|",
    ]
    for rule, label, _, times in rows:
        others = "; ".join(f"{k} {format_seconds(t)} ({t / times['mcfast']:.2f}×)"
                           for k, t in times.items() if k != "mcfast")
        lines.append(f"| {rule} | {label} | {format_seconds(times['mcfast'])} | {others} |")
    return "\n".join(lines) + "\n"


def _version(name):
    mod = peer(name)
    mod = mod[0] if isinstance(mod, tuple) else mod
    return getattr(mod, "__version__", "?")


def plot(rows, path):
    """Speed-up over NumPy against problem size, one line per rule (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    by_rule = {}
    for rule, label, size, times in rows:
        if "numpy" in times:
            by_rule.setdefault(rule, []).append((size, times["numpy"] / times["mcfast"], label))
    for rule, pts in by_rule.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=rule)
        for size, speedup, label in pts:
            ax.annotate(label, (size, speedup), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("problem size (elements of the largest operand)")
    ax.set_ylabel("speed-up over NumPy (NumPy time / mcfast time)")
    ax.set_title("mcfast against NumPy, float64, medians of interleaved repeats")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(quick=False, outdir=None):
    """Run the suite, print progress, write RESULTS.md and speedup.png into `outdir`."""
    if outdir is None:
        outdir = "bench" if os.path.isdir("bench") else "."
    print(f"mcfast bench{' --quick' if quick else ''}: threads: {_threads()}", flush=True)
    rows = run(quick, log=lambda s: print(s, flush=True))
    md = os.path.join(outdir, "RESULTS.md")
    with open(md, "w") as f:
        f.write(results_markdown(rows, quick))
    png = os.path.join(outdir, "speedup.png")
    print(f"wrote {md}" + (f" and {png}" if plot(rows, png) else " (no matplotlib: no plot)"))
    return rows
