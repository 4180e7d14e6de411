"""Time to the same optimum: mcfast.sklearn beside scikit-learn and glum, five fits.

Run from the repository root (timings under the exclusive lock on a shared machine):
    PYTHONPATH=src python bench/bench_fits.py [--small] [--case NAME ...] [--repeats R]
                                              [--solvers TEXT ...]

Each case: first every solver fits at a tight tolerance (1e-10) and the best objective
of all, f*, is the target. Then each solver fits from scratch at tol = 1e-4, 1e-5, ...
until its objective is within 1e-8 relative of f* (scikit-learn's objective: the mean
loss plus its penalty; Poisson as the mean half deviance, so f* > 0); that fit is timed
(median of R interleaved repeats, the rung 1e-10 reused from the first pass). A solver
that never gets there is reported with the closest it got. Solvers that form the m × m
Hessian (newton-cholesky, glum's irls-cd) are left out where m > 1,000; glum where it is
not installed (and for the multinomial case, which it does not fit). ``--solvers``
times a subset (a run per group keeps each run short); mcfast's most precise solver
always joins the tight pass, so every run's f* is the same.

Cases (full scale; --small divides the rows by 20):
  logistic      binary logistic, C=1, dense 1e6 × 32
  sparse        binary logistic, C=1, CSR 2e5 × 2e4, 50 stored entries a row
  multinomial   K = 8, C=1, dense 5e5 × 32
  poisson       Poisson, alpha=1e-4, dense 1e6 × 32
  onehot        Poisson, alpha=1e-4, CSR 6e5 × 320: seven one-hot categorical variables
                (glum's 'wide insurance' shape)
"""

import argparse
import os
import platform
import time
import warnings

import numpy as np
import scipy.sparse as sp

import mcfast as mc
from mcfast.sklearn import LogisticRegression, PoissonRegressor

__all__ = ["make_case", "solvers", "run_case", "main"]

CASES = ("logistic", "sparse", "multinomial", "poisson", "onehot")
TIGHT, GAP = 1e-10, 1e-8
LADDER = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)
HESSIAN_MAX_M = 1000


def _onehot(rng, n, levels):
    """CSR of n rows, one 1 per categorical variable (levels per variable)."""
    offsets = np.cumsum([0] + list(levels[:-1]))
    cols = np.column_stack([rng.integers(0, k, n) + o for k, o in zip(levels, offsets)])
    k = len(levels)
    return sp.csr_matrix((np.ones(n * k), cols.ravel(), np.arange(0, n * k + 1, k)),
                         shape=(n, sum(levels)))


def make_case(name, scale=1.0, seed=0):
    """(X, y, family, reg): family "binomial", "multinomial" or "poisson"; reg is C
    (logistic) or alpha (Poisson)."""
    rng = np.random.default_rng(seed)
    if name == "logistic":
        n = int(1e6 * scale)
        X = rng.standard_normal((n, 32))
        z = X @ (0.3 * rng.standard_normal(32)) + 0.5
        return X, (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64), "binomial", 1.0
    if name == "sparse":
        n, m, k = int(2e5 * scale), 20_000, 50
        X = sp.csr_matrix((rng.standard_normal(n * k), rng.integers(0, m, n * k),
                           np.arange(0, n * k + 1, k)), shape=(n, m))
        X.sum_duplicates()
        z = X @ (0.3 * rng.standard_normal(m))
        return X, (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64), "binomial", 1.0
    if name == "multinomial":
        n = int(5e5 * scale)
        X = rng.standard_normal((n, 32))
        Z = X @ (0.3 * rng.standard_normal((32, 8)))
        return X, np.argmax(Z + rng.gumbel(size=Z.shape), axis=1), "multinomial", 1.0
    if name == "poisson":
        n = int(1e6 * scale)
        X = 0.3 * rng.standard_normal((n, 32))
        y = rng.poisson(np.exp(X @ (0.3 * rng.standard_normal(32)) - 0.5))
        return X, y.astype(np.float64), "poisson", 1e-4
    if name == "onehot":
        n = int(6e5 * scale)
        X = _onehot(rng, n, [100, 80, 60, 40, 25, 10, 5])
        y = rng.poisson(np.exp(X @ (0.3 * rng.standard_normal(X.shape[1])) - 1.0))
        return X, y.astype(np.float64), "poisson", 1e-4
    raise ValueError(f"unknown case {name!r}; choose from {', '.join(CASES)}")


def _theta(coef, intercept, family):
    """θ in mcfast's layout from coef_ and intercept_."""
    if family == "multinomial":
        return np.vstack([np.asarray(coef).T, np.asarray(intercept)[None, :]])
    return np.append(np.ravel(coef), intercept)


def objective(X, y, family, reg):
    """θ -> scikit-learn's objective: mean loss + penalty (Poisson: mean half deviance)."""
    n = X.shape[0]
    if family == "poisson":
        loss = mc.LinearLoss(X, y, loss="poisson", l2=reg * n / 2, fit_intercept=True)
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
        const = float(np.sum(ylogy - y))
        return lambda theta: (loss(theta)[0] + const) / n
    kind = "logistic" if family == "binomial" else "multinomial"
    loss = mc.LinearLoss(X, y, loss=kind, l2=1 / (2 * reg), fit_intercept=True)
    return lambda theta: loss(theta)[0] / n


def solvers(family, m, reg, n):
    """{name: fit(X, y, tol) -> θ} of the solvers that run on this case."""
    out = {}
    big = m > HESSIAN_MAX_M
    mc_cls = PoissonRegressor if family == "poisson" else LogisticRegression
    mc_kw = {"alpha": reg} if family == "poisson" else {"C": reg}
    for solver in ("lbfgs", "newton-cholesky"):
        if solver == "newton-cholesky" and big:
            continue

        def fit(X, y, tol, solver=solver):
            est = mc_cls(solver=solver, tol=tol, max_iter=10_000, **mc_kw).fit(X, y)
            return _theta(est.coef_, est.intercept_, family)
        out[f"mcfast {solver}"] = fit
    from sklearn import linear_model as lm
    sk_cls = lm.PoissonRegressor if family == "poisson" else lm.LogisticRegression
    for solver in ("lbfgs", "newton-cholesky"):
        if solver == "newton-cholesky" and big:
            continue

        def fit(X, y, tol, solver=solver):
            est = sk_cls(solver=solver, tol=tol, max_iter=10_000, **mc_kw).fit(X, y)
            return _theta(est.coef_, est.intercept_, family)
        out[f"scikit-learn {solver}"] = fit
    try:
        from glum import GeneralizedLinearRegressor
    except ImportError:
        return out
    if family == "multinomial":
        return out
    # glum minimises 1/(2 Σs) deviance + α/2 ‖w‖², scikit-learn's GLM form; for the
    # binomial the deviance is twice the log-loss, so α = 1 / (C n)
    alpha = reg if family == "poisson" else 1 / (reg * n)
    for solver in ("lbfgs", "irls-cd"):
        if solver == "irls-cd" and big:
            continue

        def fit(X, y, tol, solver=solver):
            est = GeneralizedLinearRegressor(family=family, alpha=alpha, l1_ratio=0,
                                             solver=solver, gradient_tol=tol,
                                             max_iter=10_000).fit(X, y)
            return _theta(est.coef_, est.intercept_, family)
        out[f"glum {solver}"] = fit
    return out


def _timed(fit, X, y, tol):
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theta = fit(X, y, tol)
    return time.perf_counter() - t, theta


def run_case(name, scale=1.0, repeats=3, only=None, log=print):
    """Rows (solver, tol, seconds, relative gap) of one case, and f*.

    ``only``: substrings of the solvers to time (mcfast's most precise solver always
    joins the tight pass that finds f*)."""
    X, y, family, reg = make_case(name, scale)
    n, m = X.shape
    f = objective(X, y, family, reg)
    every = solvers(family, m, reg, n)
    reference = "mcfast newton-cholesky" if m <= HESSIAN_MAX_M else "mcfast lbfgs"
    fits = {s: fit for s, fit in every.items()
            if not only or any(o in s for o in only)}
    log(f"## {name}: {family}, X {'CSR ' if sp.issparse(X) else ''}{n:,} x {m:,}")
    tight = {}
    for s, fit in {reference: every[reference], **fits}.items():   # pass 1: f*
        sec, theta = _timed(fit, X, y, TIGHT)
        tight[s] = (sec, f(theta))
        log(f"   tight {s:28s} {sec:8.2f} s  f = {tight[s][1]:.12g}")
    fstar = min(v for _, v in tight.values())
    chosen = {}
    for s, fit in fits.items():                      # pass 2: the tolerance ladder
        for tol in LADDER:
            if tol == TIGHT:
                sec, value = tight[s]
            else:
                sec, theta = _timed(fit, X, y, tol)
                value = f(theta)
            gap = (value - fstar) / abs(fstar)
            chosen[s] = (tol, [sec], gap)
            if gap <= GAP:
                break
        log(f"   {s:28s} tol {chosen[s][0]:.0e}: {sec:8.2f} s, gap {gap:.1e}")
    for _ in range(repeats - 1):                     # pass 3: interleaved repeats
        for s, fit in fits.items():
            chosen[s][1].append(_timed(fit, X, y, chosen[s][0])[0])
    return [(s, tol, float(np.median(secs)), gap) for s, (tol, secs, gap) in chosen.items()], fstar


def table(name, rows):
    """Markdown rows: time, ratio to the fastest peer that reached the optimum."""
    peers = [sec for s, _, sec, gap in rows if not s.startswith("mcfast") and gap <= GAP]
    best = min(peers) if peers else None
    lines = []
    for s, tol, sec, gap in rows:
        ok = "" if gap <= GAP else f" (gap {gap:.0e})"
        ratio = f"{sec / best:.2f}×" if best else "–"
        lines.append(f"| {name} | {s} | {tol:.0e} | {sec:.2f} s{ok} | {ratio} |")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="rows / 20: a quick run")
    ap.add_argument("--case", nargs="*", choices=CASES, default=list(CASES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--solvers", nargs="*", default=None, metavar="TEXT",
                    help="time only the solvers whose names contain one of these")
    args = ap.parse_args(argv)
    scale = 0.05 if args.small else 1.0
    lines = ["| case | solver | tol | time to f* | / fastest peer |",
             "|---|---|---|---|---|"]
    for name in args.case:
        rows, fstar = run_case(name, scale, args.repeats, args.solvers)
        lines += table(name, rows)
        print(f"   f* = {fstar:.15g}")
    cpu = platform.processor() or platform.machine()
    print(f"\n{os.cpu_count()} CPUs ({cpu}); time to the objective within {GAP:g} "
          f"relative of the best tight fit; median of {args.repeats}")
    print("\n".join(lines))


if __name__ == "__main__":
    import sys
    from _machine import recorded
    args = sys.argv[1:]
    with recorded("bench_fits", args):    # filed under bench/machines/ (--no-save: not)
        main(args)
