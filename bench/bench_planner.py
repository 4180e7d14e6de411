"""The chain planner's multiply-adds against the pure modes on random structured chains (issue 21).

Run from the repository root:  PYTHONPATH=src python bench/bench_planner.py [--chains=200]
                                [--seed=21] [--no-save]

Draws seeded random chains of dense, Diagonal, Kronecker, sparse and matrix-free links
(random lengths and sizes) as the planner sees them (`mcfast._plan.LinkInfo`), and compares
the flops of the planner's plan (``order="optimal"``) with two pairs of pure modes, all
counted by the planner's own cost model (`mcfast._plan`, nothing re-derived here):

* the planner's pure bracketings, ``order="forward"`` (left-deep: every product applies
  the later link to the block so far) and ``order="reverse"`` (right-deep), each product
  costed and computed by the planner;
* the strict modes of an autodiff tool's full Jacobian (jacfwd / jacrev): the identity of
  the input (output) size pushed through every link, d_0 (d_n) applications of each
  link at the planner's cost of one application, `LinkInfo.apply`; all-adjoint is out of
  reach when a matrix-free link has no adjoint products.

Prints the median and worst ratio planner / best pure mode, overall and by chain length
(the DP's exact optimum up to `_plan.DP_MAX` links, the heuristics beyond). No timing: the
flops are exact Python integers, the same on every machine. Each run is filed under
bench/machines/ (--no-save: not).
"""

import sys
import time

import numpy as np

from mcfast import _plan

__all__ = ["random_chain", "flops", "main"]

KINDS = ("dense", "diag", "kron", "sparse", "op")
SIZES = np.unique(np.round(np.logspace(0, np.log10(4096), 60)).astype(int))


def _size(rng):
    return int(rng.choice(SIZES))


def _link(rng, kind, cols):
    """A LinkInfo of `kind` taking `cols` inputs, with random outputs and structure."""
    if kind == "diag":
        return _plan.LinkInfo("diag", cols, cols)
    if kind == "dense":
        return _plan.LinkInfo("dense", _size(rng), cols)
    if kind == "sparse":
        rows = _size(rng)
        density = 10 ** rng.uniform(-4, -0.5)
        nnz = max(min(rows, cols), int(density * rows * cols))     # at least one a row/col
        return _plan.LinkInfo("sparse", rows, cols, min(nnz, rows * cols))
    if kind == "kron":
        divisors = [q for q in range(1, cols + 1) if cols % q == 0]
        qa = int(rng.choice(divisors))
        qb = cols // qa
        pa, pb = (int(rng.choice(SIZES[SIZES <= 64])) for _ in range(2))
        factors = ((pa, qa), (pb, qb))
        return _plan.LinkInfo("kron", pa * pb, cols, _plan.kron_apply(factors), factors)
    rows = _size(rng)                   # matrix-free: rows + cols .. rows·cols per vector
    cost = int(np.exp(rng.uniform(np.log(rows + cols), np.log(max(rows * cols, rows + cols)))))
    forward_only = _plan.FORWARD_ONLY if rng.random() < 0.2 else None
    return _plan.LinkInfo("op", rows, cols, cost, forward_only)


def random_chain(rng):
    """A random chain's LinkInfos (flow order): 2-10 links mostly, up to 40, and one in ten
    past DP_MAX (65-100 links) to exercise the planner's heuristics."""
    u = rng.random()
    n = (int(rng.integers(2, 11)) if u < 0.7 else int(rng.integers(11, 41)) if u < 0.9
         else int(rng.integers(_plan.DP_MAX + 1, 101)))
    weights = rng.dirichlet(np.ones(len(KINDS)))        # each chain its own mix of kinds
    cols, infos = _size(rng), []
    for _ in range(n):
        info = _link(rng, str(rng.choice(KINDS, p=weights)), cols)
        infos.append(info)
        cols = info.rows
    return infos


def flops(infos):
    """{mode: multiply-adds} of the planner's plan, its pure bracketings and the strict
    pure modes (None where a mode cannot run)."""
    d0, dn = infos[0].cols, infos[-1].rows
    strict_adjoint = (None if any(i.factors == _plan.FORWARD_ONLY for i in infos)
                      else sum(dn * i.apply for i in infos))
    return {"planner": _plan.plan(infos)[0],
            "forward": _plan.plan(infos, "forward")[0],
            "reverse": _plan.plan(infos, "reverse")[0],
            "all tangent": sum(d0 * i.apply for i in infos),
            "all adjoint": strict_adjoint}


def _best(f, modes):
    return min(f[m] for m in modes if f[m] is not None)


def _summary(label, ratios):
    r = np.array(ratios, dtype=float)
    return (f"| {label} | {len(r)} | {np.median(r):.3g} | {r.max():.3g} | "
            f"{int((r > 1).sum())} |")


def main(argv=()):
    """Draw the chains, plan them, print the tables."""
    count = next((int(a.split("=")[1]) for a in argv if a.startswith("--chains=")), 200)
    seed = next((int(a.split("=")[1]) for a in argv if a.startswith("--seed=")), 21)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    rows = []
    for _ in range(count):
        infos = random_chain(rng)
        f = flops(infos)
        rows.append((len(infos), f["planner"] / _best(f, ("forward", "reverse")),
                     f["planner"] / _best(f, ("all tangent", "all adjoint")), f, infos))
    print(f"{count} random chains (seed {seed}) of dense, Diagonal, Kronecker, sparse and "
          f"matrix-free links, {min(r[0] for r in rows)}-{max(r[0] for r in rows)} links; "
          f"planned in {time.perf_counter() - t0:.1f} s")
    for title, col in (("planner / best of the pure bracketings (order=\"forward\", "
                        "\"reverse\")", 1),
                       ("planner / best of the strict modes (identity through every link: "
                        "all tangent, all adjoint)", 2)):
        print(f"\n{title}\n")
        print("| chains | count | median | worst | planner worse |")
        print("|---|---|---|---|---|")
        print(_summary("all", [r[col] for r in rows]))
        for lo, hi in ((2, 10), (11, 40), (_plan.DP_MAX + 1, 10 ** 9)):
            part = [r[col] for r in rows if lo <= r[0] <= hi]
            if part:
                name = f"{lo}-{hi} links" if hi < 10 ** 9 else f"over {lo - 1} links"
                print(_summary(name, part))
    worse = [r for r in rows if r[1] > 1 or r[2] > 1]
    for n, r1, r2, f, infos in worse[:5]:
        print(f"\nplanner worse than a pure mode ({n} links): {f}\n  {infos}")
    return rows


if __name__ == "__main__":
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_planner", args):  # filed under bench/machines/ (--no-save: not)
        main(args)
