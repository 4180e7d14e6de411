"""Benchmark of the Jacobian chains against NumPy and JAX: interleaved medians and ratios, float64.

Run from the repository root:  PYTHONPATH=src python bench/bench_chain.py [--quick] [--links]
                                [--operators] [--mlp]
                                [--stacks [--level=sse2|avx2|avx512] [--n=2,4,...] [--old]]

--links runs only the cases of structured and matrix-free links (issue 13): Kronecker
chains, a banded sparse link between dense layers, the middle-bottleneck chain, the
interleaved loop with NumPy. Each peer is timed against mcfast in a group of its own
(interleaved pairs), so no third library's spinning threads sit between the two.
--operators (issue 21, restated) times the banded-sparse and middle-bottleneck chains
(jacobian_chain and grad_chain) and the Kronecker maps against what a JAX user writes:
jax.jit of jax.jacrev and of jax.jacfwd of the composed function, or of jax.grad of
g · f(x); targets <= 0.5 of the faster JAX, and <= 1.0 of the best peer for Kronecker.
--mlp times the MLP chain (n = 1024, two Diagonals) against jax.jit(jax.jacrev) step by
step: mcfast's plan, JAX's optimized HLO, and one GEMM of each library.
--stacks times stacks of three-link n × n chains (issue 21), two threads, float64 and
float32, at the SIMD level given (default: the level in use, MCFAST_SIMD or the best there is): grad_chain and
tangent_chain on B = 10,000 chains against jax.jit of the same batched expression and,
with >= 64 MB of links, against a two-thread read of as many bytes (_engine.row_sum) and
against a read of the bytes the call must move (/io: the links, the vectors and the
output, 1 + 2 / (3n) times the links: 1.33 at n = 2, 1.22 at n = 3, 1.17 at n = 4) and
against the same bytes moved where the call finds them (/place: _stack's READ, each link
its own array, the vectors read and the output written, over the call's chunks and
threads, without the products: what the arrays' layout costs above /io);
jacobian_chain against jax.jit(W3 @ W2 @ W1) and as a share of the two-thread FMA peak
(a compiled FMA loop, _stack.fma_peak); and one 4 × 4 chain against multi_dot.
--layouts [--level=...] [--n=...] times grad_chain and tangent_chain (in cache and from
memory) and jacobian_chain (in cache) in the one-chain layout against the compact one: the
measurements behind _stack's choice of layout per level (mc_stk_compact_ns).
--one-thread runs everything on one thread (BLAS pools through threadpoolctl, XLA through
XLA_FLAGS): the comparison of the work each library does, for a machine too busy for
multi-threaded BLAS timings to mean anything.
Each run is filed under bench/machines/ by CPU and date (--no-save: not).
"""

import os
import sys

import numpy as np

import mcfast as mc
from mcfast import _bench_cases as cases
from mcfast._timing import format_seconds, interleaved_medians

__all__ = ["main"]


def _report(title, names, fns, target, repeats):
    times = interleaved_medians(fns, repeats=repeats, target=target)
    print(f"\n{title}")
    for name, t in zip(names, times):
        print(f"  {name:<44s} {format_seconds(t):>10s}   {t / times[0]:6.2f}x of mcfast")
    return times


def _pairs(title, case, repeats, target, goal=0.5):
    """mcfast against each contender of a case, one interleaved pair at a time."""
    ratios = _ratios(title, case, repeats, target)
    for name, why in case.skipped.items():
        print(f"  ({name}: {why})")
    fastest = max(ratios, key=ratios.get)          # the peer mcfast is slowest against
    print(f"  against the fastest peer ({fastest}): {ratios[fastest]:.2f}  (target <= {goal})"
          f"  {'ok' if ratios[fastest] <= goal else 'MISSED'}")
    return ratios[fastest]


def _interleaved_loop(repeats):
    """A loop alternating jacobian_chain of three 256² links with a NumPy product: each
    call against its time in a loop of its own library alone (issue 11 item 7)."""
    rng = np.random.default_rng(12)
    links = [rng.standard_normal((256, 256)) for _ in range(3)]
    M, N, out = rng.standard_normal((256, 256)), rng.standard_normal((256, 256)), np.empty(
        (256, 256))

    def chain():
        return mc.jacobian_chain(links)

    def numpy_mm():
        return np.matmul(M, N, out=out)

    def mixed():
        chain()
        numpy_mm()
    t_chain, t_np, t_mixed = interleaved_medians([chain, numpy_mm, mixed], repeats=repeats,
                                                 target=0.1)
    print("\ninterleaved loop: jacobian_chain (three 256² links) and a 256² np.matmul")
    print(f"  chain alone {format_seconds(t_chain)}, np.matmul alone {format_seconds(t_np)}, "
          f"alternating {format_seconds(t_mixed)} = {t_mixed / (t_chain + t_np):.2f}x the sum "
          f"alone (target <= 1.2)")


def links_cases(quick):
    """The cases of issue 13, pairwise against NumPy and each installed peer."""
    repeats = 5 if quick else 9
    checks = []
    for n in (64, 256):
        for k in (3, 5):
            if quick and k == 5 and n == 64:
                continue
            checks.append((f"Kronecker {k} maps {n}²", _pairs(
                f"grad_chain through {k} matrix maps Y = A X B, {n}² (Kronecker links)",
                cases.case_kron_grad(n, k), repeats, 0.1)))
    checks.append(("banded sparse", _pairs(
        "jacobian_chain: x (64) -> W1 (10⁴×64) -> banded sparse 10⁴×10⁴ -> W2 (64×10⁴)",
        cases.case_sparse_chain(), repeats, 0.2)))
    checks.append(("middle bottleneck", _pairs(
        "jacobian_chain: middle bottleneck, 1000² matrix-free operators",
        cases.case_bottleneck(), repeats, 0.2)))
    _interleaved_loop(repeats)
    print("\nmcfast over the best peer (target <= 0.5)")
    for name, ratio in checks:
        print(f"  {name:<28s} {ratio:5.2f}  {'ok' if ratio <= 0.5 else 'MISSED'}")


def operators_cases(quick):
    """Issue 21, restated: the operator chains against JAX as a user writes them, jax.jit of
    jax.jacrev / jax.jacfwd of the composed function (jacobian_chain) or of jax.grad of
    g · f(x) (grad_chain), beside NumPy. Targets: the banded-sparse and middle-bottleneck
    chains <= 0.5 of the faster JAX, the Kronecker maps <= 1.0 of the best peer."""
    repeats = 5 if quick else 9
    rows = []

    def jax_best(ratios):
        return max((k for k in ratios if k.startswith("jax")), key=ratios.get)
    for title, case, target, who in (
            ("jacobian_chain: banded sparse 10⁴ between dense (64 in, 64 out)",
             cases.case_sparse_chain(), 0.5, "jax"),
            ("grad_chain: banded sparse 10⁴ between dense", cases.case_sparse_grad(), 0.5,
             "jax"),
            ("jacobian_chain: middle bottleneck, 1000² matrix-free operators",
             cases.case_bottleneck(), 0.5, "jax"),
            ("grad_chain: middle bottleneck, 1000² matrix-free operators",
             cases.case_bottleneck_grad(), 0.5, "jax"),
            *[(f"grad_chain: {k} matrix maps Y = A X B, {n}² (Kronecker links)",
               cases.case_kron_grad(n, k), 1.0, "best")
              for n in (64, 256) for k in (3, 5) if not (quick and n == 64 and k == 5)]):
        ratios = _ratios(title, case, repeats, 0.2 if "Kronecker" not in title else 0.1)
        against = jax_best(ratios) if who == "jax" else max(ratios, key=ratios.get)
        rows.append((title.split(": ", 1)[0], title.split(": ", 1)[1].split(" (")[0],
                     against, ratios[against], target))
    print("\n| chain | rule | against | mcfast / it | target | |")
    print("|---|---|---|---|---|---|")
    for rule, chain, against, ratio, target in rows:
        print(f"| {chain} | {rule} | {against} | {ratio:.2f} | <= {target} | "
              f"{'met' if ratio <= target else 'MISSED'} |")


def _ratios(title, case, repeats, target):
    """mcfast over each contender of a case, one interleaved pair at a time ({name: ratio})."""
    fns = case.fns
    ref = np.asarray(fns["mcfast"]())
    print(f"\n{title}")
    ratios = {}
    for name, fn in fns.items():
        if name == "mcfast":
            continue
        got = np.asarray(fn()).reshape(ref.shape)
        assert np.allclose(got, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max()), name
        t_mc, t_peer = interleaved_medians([fns["mcfast"], fn], repeats=repeats, target=target)
        ratios[name] = t_mc / t_peer
        print(f"  mcfast {format_seconds(t_mc):>10s}   {name:<10s} {format_seconds(t_peer):>10s}"
              f"   mcfast/{name} {t_mc / t_peer:5.2f}", flush=True)
    return ratios


def mlp_case():
    """Issue 21: the MLP chain (n = 1024, W1, D1, W2, D2, W3) against jax.jit(jax.jacrev),
    and each step of both: mcfast's plan (two scalings, two GEMMs through NumPy's BLAS)
    and JAX's optimized HLO (its dots and scalings), with one GEMM of each library."""
    jax = cases.peer("jax")
    import jax.numpy as jnp
    case = cases.case_mlp()
    n = 1024
    rng = np.random.default_rng(7)
    W1, W2, W3 = (rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(3))
    d1, d2 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    links = [W1, mc.Diagonal(d1), W2, mc.Diagonal(d2), W3]
    plan = mc.chain_plan(links)
    print(f"mcfast's plan: {plan}, {plan.flops:,} multiply-adds, steps {plan.steps}")
    args = [jnp.asarray(a) for a in (np.zeros(n), W1, d1, W2, d2, W3)]
    net = lambda x, W1, d1, W2, d2, W3: W3 @ (d2 * (W2 @ (d1 * (W1 @ x))))  # noqa: E731
    hlo = jax.jit(jax.jacrev(net)).lower(*args).compile().as_text()
    ops = [line.split("=", 1)[1].split("(")[0].strip() for line in hlo.splitlines()
           if "ROOT" not in line and " fusion(" in line and "ENTRY" not in line]
    print(f"JAX's optimized HLO (entry): {len(ops)} fusions; dots (1024³ each): "
          f"{hlo.count(' dot(')}, scalings: {hlo.count('multiply(')}, "
          f"identity built: {'iota' in hlo}")
    T1, T3 = W3 * d2, (W3 * d2 @ W2) * d1
    mm = jax.jit(lambda a, b: a @ b)
    jW2, jW3 = jnp.asarray(W2), jnp.asarray(W3)
    eye = jnp.eye(n)
    names = ["mcfast jacobian_chain", "jax.jit(jacrev)", "step 1: W3 * d2 (scaling)",
             "step 2: (W3 D2) @ W2 (np.matmul, OpenBLAS)", "step 4: (...) @ W1 (np.matmul)",
             "jax.jit(a @ b), 1024³", "jax.jit(I @ W3), 1024³"]
    fns = [case.fns["mcfast"], case.fns["jax"], lambda: W3 * d2, lambda: T1 @ W2,
           lambda: T3 @ W1, lambda: cases._ready(mm(jW3, jW2)),
           lambda: cases._ready(mm(eye, jW3))]
    _report("MLP chain n = 1024, and the steps of each library", names, fns, 0.2, 7)


def _stack_pair(fa, fb):
    # 11 repeats: with 5, the in-cache ratios of n = 2 moved 0.5-1.0 from run to run on a
    # noisy 2-core VM (Zen 3, 2026-12-06)
    ta, tb = interleaved_medians([fa, fb], repeats=11, target=0.01, settle=0.05)
    return ta, tb


def _level_arg(argv):
    """--level=sse2|avx2|avx512 as mc_level's value, or None (keep the level in use: the
    CPU's best, or the one MCFAST_SIMD forced at import)."""
    arg = next((a.split("=")[1] for a in argv if a.startswith("--level=")), None)
    return None if arg is None else {"sse2": 0, "avx2": 1, "avx512": 2}[arg]


def stacks_cases(argv):
    """The table of issue 21: n × {grad, tangent, jacobian} × {float64, float32}."""
    from mcfast._kernels import _chain, _engine, _stack
    level = _level_arg(argv)
    sizes = next((tuple(int(x) for x in a.split("=")[1].split(",")) for a in argv
                  if a.startswith("--n=")), (2, 3, 4, 6, 8, 12, 16, 24, 32))
    if "--old" in argv:                 # the general batched path, for comparison
        from mcfast import _stacks
        _stacks.ENABLED = False
    if level is not None:               # else the level in use (MCFAST_SIMD or the best)
        for kernels in (_stack, _engine, _chain):
            kernels.set_simd_level(level)
    jax = cases.peer("jax")
    import jax.numpy as jnp
    ready = cases._ready
    nthreads = 2
    # the CPU's peak (its best level: fma_peak has no loop below AVX2), at any level in use
    in_use = _stack.set_simd_level(-1)
    peak = max(_stack.fma_peak(nthreads) for _ in range(5))
    _stack.set_simd_level(in_use)
    print(f"stacks of three n × n links, {nthreads} threads, SIMD level "
          f"{_stack.simd_level()[2]}; FMA peak {peak / 1e9:.1f} GFlop/s (float64)")
    print("  in cache: B = 10,000 chains, against jax.jit; from memory: >= 64 MB of links, "
          "against a two-thread read of as many bytes (/read) and of the links, vectors and "
          "output together (/io, the bytes the call must move), and of those bytes in place "
          "(/place: each link its own array, the output written; _stack.READ)")
    print("  jac %peak: as a user calls it (a fresh output: its pages faulted in and zeroed "
          "by the OS inside the call); out= %peak: into one reused output (the kernel); "
          "both timed without JAX in the group")
    print(f"  {'dtype':7s} {'n':>3s} | {'grad/JAX':>8s} {'grad/read':>9s} {'/io':>5s} "
          f"{'/place':>6s} | {'tan/JAX':>8s} {'tan/read':>8s} {'/io':>5s} {'/place':>6s} | "
          f"{'jac/JAX':>8s} {'jac %peak':>9s} "
          f"{'out= %peak':>9s}")
    rng = np.random.default_rng(21)
    grad_j = jax.jit(lambda A, B, C, g: jnp.einsum("bi,bij->bj", jnp.einsum(
        "bi,bij->bj", jnp.einsum("bi,bij->bj", g, C), B), A))
    tan_j = jax.jit(lambda A, B, C, t: jnp.einsum("bij,bj->bi", C, jnp.einsum(
        "bij,bj->bi", B, jnp.einsum("bij,bj->bi", A, t))))
    jac_j = jax.jit(lambda A, B, C: C @ B @ A)
    for dtype in (np.float64, np.float32):
        for n in sizes:
            item = np.dtype(dtype).itemsize
            row = [f"  {np.dtype(dtype).name:7s} {n:3d} |"]
            A, B, C = (rng.standard_normal((10_000, n, n)).astype(dtype) for _ in range(3))
            v = rng.standard_normal((10_000, n)).astype(dtype)
            jA, jB, jC, jv = (jnp.asarray(x) for x in (A, B, C, v))
            big = -(-(64 << 20) // (3 * n * n * item))
            M = [rng.standard_normal((big, n, n)).astype(dtype) for _ in range(3)]
            vm = rng.standard_normal((big, n)).astype(dtype)
            X = np.ones((3 * big, n * n), dtype=dtype)
            # the links, the vectors and the output: the bytes a call must move
            X_io = np.ones((-(-(3 * big * n * n + 2 * big * n) // (n * n)), n * n), dtype=dtype)
            out_place = np.empty((big, n), dtype=dtype)

            def place():
                _stack.stack_chain(M, (False,) * 3, (n * n,) * 3, vm, n, out_place, n, big,
                                   _stack.READ)
            for fn, jf in ((mc.grad_chain, grad_j), (mc.tangent_chain, tan_j)):
                got = fn([A, B, C], v)
                assert np.allclose(got, np.asarray(jf(jA, jB, jC, jv)), rtol=1e-3, atol=1e-3)
                t_mc, t_j = _stack_pair(lambda: fn([A, B, C], v),
                                        lambda: ready(jf(jA, jB, jC, jv)))
                t_mm, t_read, t_io, t_place = interleaved_medians(
                    [lambda: fn(M, vm), lambda: _engine.row_sum(X, nthreads),
                     lambda: _engine.row_sum(X_io, nthreads), place],
                    repeats=11, target=0.01, settle=0.05)
                row.append(f" {t_mc / t_j:8.2f} {t_mm / t_read:9.2f} {t_mm / t_io:5.2f} "
                           f"{t_mm / t_place:6.2f} |")
            t_mc, t_j = _stack_pair(lambda: mc.jacobian_chain([A, B, C]),
                                    lambda: ready(jac_j(jA, jB, jC)))
            # the share of the peak in a group without JAX (its pool's threads, spinning
            # after a call, take cores from whatever runs next on a two-core machine)
            res = np.empty((10_000, n, n), dtype=dtype)
            t_fresh, t_out = _stack_pair(lambda: mc.jacobian_chain([A, B, C]),
                                         lambda: mc.jacobian_chain([A, B, C], out=res))
            flops = 2 * 2 * n ** 3 * 10_000
            share, share_out = (flops / t / (peak * (8 // item)) for t in (t_fresh, t_out))
            row.append(f" {t_mc / t_j:8.2f} {100 * share:8.0f}% {100 * share_out:8.0f}%")
            print("".join(row), flush=True)
            del M, vm, X, X_io, out_place
    A, B, C = (rng.standard_normal((4, 4)) for _ in range(3))
    t_mc, t_np = _stack_pair(lambda: mc.jacobian_chain([A, B, C]),
                             lambda: np.linalg.multi_dot([C, B, A]))
    print(f"  one 4 × 4 chain: jacobian_chain {format_seconds(t_mc)}, multi_dot "
          f"{format_seconds(t_np)}, ratio {t_mc / t_np:.2f} (target <= 0.25 and <= 1 µs)")


def layouts_cases(argv):
    """The one-chain layout's time over the compact layout's, per n and dtype: grad and
    tangent in cache and from memory, jacobian (into a reused out=) in cache; the input of
    _stack's per-level choice (mc_stk_compact_ns in mc_stack.h)."""
    from mcfast._kernels import _stack
    level = _level_arg(argv)
    sizes = next((tuple(int(x) for x in a.split("=")[1].split(",")) for a in argv
                  if a.startswith("--n=")), (2, 3, 4, 5, 6, 7, 8))
    if level is not None:
        _stack.set_simd_level(level)
    print(f"one-chain / compact layout, SIMD level {_stack.simd_level()[2]}, 2 threads "
          "(below 1: one chain at a time is faster)")
    rng = np.random.default_rng(21)
    every = range(17)

    def run(fn, compact):
        def call():
            old = _stack.set_compact_ns(*((every, every) if compact else ((), ())))
            try:
                return fn()
            finally:
                _stack.set_compact_table(old)
        return call

    for dtype in (np.float64, np.float32):
        for n in sizes:
            for where in ("cache", "memory"):
                item = np.dtype(dtype).itemsize
                b = 10_000 if where == "cache" else -(-(64 << 20) // (3 * n * n * item))
                M = [rng.standard_normal((b, n, n)).astype(dtype) for _ in range(3)]
                vm = rng.standard_normal((b, n)).astype(dtype)
                fns = [lambda: mc.grad_chain(M, vm), lambda: mc.tangent_chain(M, vm)]
                if where == "cache":
                    res = np.empty((b, n, n), dtype=dtype)
                    fns.append(lambda: mc.jacobian_chain(M, out=res))
                ts = interleaved_medians([run(fn, c) for fn in fns for c in (True, False)],
                                         repeats=7, target=0.01)
                jac = f"  jacobian {ts[5] / ts[4]:5.2f}" if len(ts) > 4 else ""
                print(f"  {np.dtype(dtype).name:7s} n={n:2d} {where:6s}  grad {ts[1] / ts[0]:5.2f}"
                      f"  tangent {ts[3] / ts[2]:5.2f}{jac}", flush=True)


def main(argv=()):
    """Run the three speed cases of issue 3 (and a few more) and print the ratios."""
    quick = "--quick" in argv
    if "--one-thread" in argv:
        os.environ["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1):
            return main([a for a in argv if a != "--one-thread"])
    if "--links" in argv:
        return links_cases(quick)
    if "--mlp" in argv:
        return mlp_case()
    if "--operators" in argv:
        return operators_cases(quick)
    if "--stacks" in argv:
        return stacks_cases(argv)
    if "--layouts" in argv:
        return layouts_cases(argv)
    repeats = 7 if quick else 15
    rng = np.random.default_rng(0)
    checks = []

    # 1. three 4x4 links
    A, B, C = (rng.standard_normal((4, 4)) for _ in range(3))
    assert np.allclose(mc.jacobian_chain([A, B, C]), C @ B @ A)
    t = _report("three 4x4 links (unbatched)",
                ["mc.jacobian_chain([A, B, C])", "np.linalg.multi_dot([C, B, A])", "C @ B @ A"],
                [lambda: mc.jacobian_chain([A, B, C]), lambda: np.linalg.multi_dot([C, B, A]),
                 lambda: C @ B @ A], 0.02, repeats)
    checks += [("4x4 chain vs multi_dot", t[0] / t[1], 0.5),
               ("4x4 chain vs C @ B @ A", t[0] / t[2], 1.0)]

    # 2. 10,000 stacked chains of three 4x4 links, and grad_chain on them
    A, B, C = (rng.standard_normal((10_000, 4, 4)) for _ in range(3))
    g = rng.standard_normal((10_000, 4))
    assert np.allclose(mc.jacobian_chain([A, B, C]), np.matmul(np.matmul(C, B), A))
    ein = lambda: np.einsum("...i,...ij->...j",          # noqa: E731
                            np.einsum("...i,...ij->...j",
                                      np.einsum("...i,...ij->...j", g, C), B), A)
    assert np.allclose(mc.grad_chain([A, B, C], g), ein())
    t = _report("10,000 stacked chains of three 4x4 links",
                ["mc.jacobian_chain([A, B, C])", "np.matmul(np.matmul(C, B), A)"],
                [lambda: mc.jacobian_chain([A, B, C]), lambda: np.matmul(np.matmul(C, B), A)],
                0.05, repeats)
    checks.append(("batched chain vs np.matmul", t[0] / t[1], 0.5))
    t = _report("grad_chain on the same",
                ["mc.grad_chain([A, B, C], g)", "nested np.einsum"],
                [lambda: mc.grad_chain([A, B, C], g), ein], 0.05, repeats)
    checks.append(("batched grad_chain vs einsum", t[0] / t[1], 0.5))

    # 3. Jacobian of a 3-layer MLP, n = 1024: W1, Diagonal, W2, Diagonal, W3
    n = 1024
    W1, W2, W3 = (rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(3))
    d1, d2 = rng.uniform(0.1, 1, n), rng.uniform(0.1, 1, n)
    links = [W1, mc.Diagonal(d1), W2, mc.Diagonal(d2), W3]
    dense = [W3, np.diag(d2), W2, np.diag(d1), W1]
    assert np.allclose(mc.jacobian_chain(links), np.linalg.multi_dot(dense))
    t = _report("Jacobian of a 3-layer MLP, n = 1024",
                ["mc.jacobian_chain([W1, D1, W2, D2, W3])", "np.linalg.multi_dot (dense diag)"],
                [lambda: mc.jacobian_chain(links), lambda: np.linalg.multi_dot(dense)],
                0.3, 5 if quick else 9)
    checks.append(("MLP chain vs multi_dot", t[0] / t[1], 0.6))

    print("\nratio (mcfast / NumPy), target")
    for name, ratio, goal in checks:
        print(f"  {name:<34s} {ratio:5.2f}  (<= {goal})  {'ok' if ratio <= goal else 'MISSED'}")


if __name__ == "__main__":
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_chain", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
