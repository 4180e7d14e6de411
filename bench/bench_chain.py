"""Benchmark of the Jacobian chains against NumPy: interleaved medians and ratios, float64.

Run from the repository root:  PYTHONPATH=src python bench/bench_chain.py [--quick]
"""

import sys

import numpy as np

import mcfast as mc
from mcfast._timing import format_seconds, interleaved_medians

__all__ = ["main"]


def _report(title, names, fns, target, repeats):
    times = interleaved_medians(fns, repeats=repeats, target=target)
    print(f"\n{title}")
    for name, t in zip(names, times):
        print(f"  {name:<44s} {format_seconds(t):>10s}   {t / times[0]:6.2f}x of mcfast")
    return times


def main(argv=()):
    """Run the three speed cases of issue 3 (and a few more) and print the ratios."""
    quick = "--quick" in argv
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
    main(sys.argv[1:])
