"""python -m mcfast: a short tour of the rules (default), `info`, or `bench`."""

import argparse
import sys
import time

import numpy as np

import mcfast as mc
from mcfast._timing import format_seconds, interleaved_medians


def say(text=""):
    print(text, flush=True)


def _kernel_threads(n, m, itemsize=8):
    """Threads mcfast's least-squares kernel runs on for an (n, m) X (None if unknown)."""
    try:
        from mcfast.lstsq import _plan
        return int(_plan(n, m, 0, itemsize)[1])
    except Exception:  # the planner's internals changed: say less rather than fail
        return None


def _numpy_threads():
    """Threads of NumPy's BLAS, via threadpoolctl when installed (None if unknown)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for lib in threadpool_info():
        if lib.get("user_api") == "blas" and "numpy" in lib.get("filepath", ""):
            return lib.get("num_threads")
    return None


def _threads_line(n, m):
    k, b = _kernel_threads(n, m), _numpy_threads()
    return (f"threads: mcfast's kernel {k if k is not None else '?'} at this size, NumPy's "
            f"BLAS {b if b is not None else '? (pip install threadpoolctl to see)'}")


def _sklearn():
    """scikit-learn's modules the tour compares with, or None when it is not installed."""
    try:
        from sklearn.linear_model import LinearRegression
    except ImportError:
        return None
    return LinearRegression


def tour_fit():
    """Fit least squares with scipy.optimize driven by mc.LeastSquares and by the NumPy
    objective; medians after a warm-up, beside the direct solvers."""
    from scipy.optimize import minimize
    rng = np.random.default_rng(0)
    n, m = 5000, 20
    X = rng.standard_normal((n, m))
    y = X @ rng.standard_normal(m) + 0.1 * rng.standard_normal(n)
    obj = mc.LeastSquares(X, y)
    best = np.linalg.lstsq(X, y, rcond=None)[0]

    def numpy_obj(t):
        r = X @ t - y
        return r @ r, 2 * (X.T @ r)

    def numpy_hessp(t, p):
        return 2 * (X.T @ (X @ p))

    say(f"1. Least squares with scipy.optimize.minimize(..., jac=True), X {n} x {m}: the "
        "objective mc.LeastSquares(X, y)")
    say("   beside the NumPy objective r = X @ θ - y; (r @ r, 2 * X.T @ r); medians of 7 "
        "fits after a warm-up")
    for method, extra, np_extra in (("L-BFGS-B", {}, {}),
                                    ("trust-ncg", {"hessp": obj.hessp},
                                     {"hessp": numpy_hessp})):
        def fit_mc():
            return minimize(obj, np.zeros(m), jac=True, method=method, tol=1e-12, **extra)

        def fit_np():
            return minimize(numpy_obj, np.zeros(m), jac=True, method=method, tol=1e-12,
                            **np_extra)
        res = fit_mc()
        t_mc, t_np = interleaved_medians([fit_mc, fit_np], repeats=7, target=0.0)
        err = np.max(np.abs(res.x - best)) / np.max(np.abs(best))
        say(f"   {method:9s}: {res.nfev:3d} evaluations, mcfast {format_seconds(t_mc):>8s}, "
            f"NumPy {format_seconds(t_np):>8s}, max |θ - lstsq θ| / max |θ| = {err:.1e}")
    solvers = [("np.linalg.lstsq", lambda: np.linalg.lstsq(X, y, rcond=None))]
    LinearRegression = _sklearn()
    if LinearRegression is not None:
        solvers.append(("scikit-learn LinearRegression(fit_intercept=False).fit",
                        lambda: LinearRegression(fit_intercept=False).fit(X, y)))
    times = interleaved_medians([f for _, f in solvers], repeats=7, target=0.0)
    for i, ((name, _), t) in enumerate(zip(solvers, times)):
        say(f"   {'direct solvers, for scale:' if i == 0 else '':27s} {name} {format_seconds(t)}")
    if LinearRegression is None:
        say(f"   {'':27s} (scikit-learn not installed)")
    say(f"   {_threads_line(n, m)}")


def tour_rules():
    """Each rule of the table on a small example, checked against finite differences."""
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    W1, W2, b = rng.standard_normal((5, 3)), rng.standard_normal((2, 5)), rng.standard_normal(5)
    x, g = rng.standard_normal(3), rng.standard_normal(2)
    M, yv = rng.standard_normal((6, 3)), rng.standard_normal(6)

    def net(x):
        return W2 @ np.tanh(W1 @ x + b)

    def links(x):
        return [W1, mc.Diagonal(1 - np.tanh(W1 @ x + b) ** 2), W2]

    def dY_dX(X):  # Y = tanh(A X): ∂Y_kl/∂X_ij = (1 - tanh²)_kl A_ki δ_lj
        T = np.tanh(A @ X)
        return np.einsum("kl,ki,lj->klij", 1 - T ** 2, A, np.eye(X.shape[1]))

    X3 = rng.standard_normal((3, 2))
    checks = [
        ("vector chain", "∂y/∂x = J3 J2 J1 (tanh MLP), one output row",
         lambda x: net(x)[0], lambda x: mc.jacobian_chain(links(x))[0], x),
        ("scalar chain", "∂z/∂x = J1ᵀ J2ᵀ J3ᵀ g (never forms J3 J2 J1)",
         lambda x: g @ net(x), lambda x: mc.grad_chain(links(x), g), x),
        ("least squares", "∂l/∂θ = 2 Xᵀ(Xθ − y)",
         lambda t: np.sum((M @ t - yv) ** 2), lambda t: mc.lstsq_grad(M, t, yv), x),
        ("scalar over matrix", "∂z/∂X_ij = Σ G_kl ∂Y_kl/∂X_ij, Y = tanh(AX)",
         lambda X: np.sum(np.sin(np.tanh(A @ X))),
         lambda X: mc.trace_chain(np.cos(np.tanh(A @ X)), dY_dX(X)), X3),
        ("left linear map", "Y = AX + B ⇒ ∂z/∂X = Aᵀ ∂z/∂Y, z = Σ sin Y",
         lambda X: np.sum(np.sin(A @ X + B)),
         lambda X: mc.grad_ax(A, np.cos(A @ X + B)), X3),
        ("right linear map", "Y = XA + B ⇒ ∂z/∂X = ∂z/∂Y Aᵀ, z = Σ sin Y",
         lambda X: np.sum(np.sin(X @ A.T + B.T)),
         lambda X: mc.grad_xa(np.cos(X @ A.T + B.T), A.T), X3.T),
    ]
    say("2. Each rule against fourth-order central differences (mc.check_grad)")
    for rule, formula, f, grad, at in checks:
        say(f"   {rule:19s}{formula:47s} rel. error {mc.check_grad(f, grad, at):.1e}")


def _sklearn_loss_grad(X, y):
    """scikit-learn's loss-and-gradient call for squared error (its ½·mean), or None."""
    try:
        from sklearn._loss.loss import HalfSquaredError
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:  # not installed, or its private layout moved
        return None
    loss = LinearModelLoss(base_loss=HalfSquaredError(), fit_intercept=False)
    return lambda theta: loss.loss_gradient(theta, X, y)


def tour_timing():
    """Side-by-side medians of mcfast, the NumPy formula and scikit-learn on the
    least-squares loss and gradient."""
    say("3. Timing, least-squares loss and gradient, medians of interleaved repeats after a "
        "warm-up")
    say("   NumPy: r = X @ θ - y; (r @ r, 2 * X.T @ r)")
    have_sk = _sklearn_loss_grad(np.zeros((1, 1)), np.zeros(1)) is not None
    say("   scikit-learn: LinearModelLoss(HalfSquaredError()).loss_gradient (½ the mean: the "
        "same passes over X)" if have_sk else "   scikit-learn: not installed")
    rng = np.random.default_rng(2)
    for n, m, repeats in ((8, 8, 15), (1_000_000, 32, 7)):
        say(f"   n = {n:,}, m = {m}: preparing...", )
        X = rng.standard_normal((n, m))
        theta, y = rng.standard_normal(m), rng.standard_normal(n)

        def numpy_formula():
            r = X @ theta - y
            return r @ r, 2 * (X.T @ r)

        out = np.empty(m)
        fns = [lambda: mc.lstsq_loss_grad(X, theta, y, out=out), numpy_formula]
        sk = _sklearn_loss_grad(X, y)
        if sk is not None:
            fns.append(lambda: sk(theta))
        times = interleaved_medians(fns, repeats=repeats, target=0.02 if n < 1000 else 0.0)
        t_mc, t_np = times[:2]
        line = (f"   n = {n:,}, m = {m}: mcfast {format_seconds(t_mc):>9s}   NumPy "
                f"{format_seconds(t_np):>9s} (mcfast/NumPy {t_mc / t_np:.2f})")
        if sk is not None:
            line += (f"   scikit-learn {format_seconds(times[2]):>9s} "
                     f"(mcfast/scikit-learn {t_mc / times[2]:.2f})")
        say(line)
        say(f"      {_threads_line(n, m)}")


def tour_estimators():
    """mcfast.sklearn's LogisticRegression beside scikit-learn's on the same data and
    tolerance: time to fit and the largest coefficient difference."""
    say("4. mcfast.sklearn.LogisticRegression beside scikit-learn's, X 200,000 x 32, "
        "tol=1e-8, medians of 3 fits")
    try:
        from sklearn.linear_model import LogisticRegression as SkLogistic
        from mcfast.sklearn import LogisticRegression
    except ImportError:
        say("   (scikit-learn >= 1.6 not installed: pip install 'mcfast-kernels[sklearn]')")
        return
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200_000, 32))
    y = (rng.random(200_000) < 1 / (1 + np.exp(-X @ (0.3 * rng.standard_normal(32)))))
    for solver in ("lbfgs", "newton-cholesky"):
        ours = LogisticRegression(solver=solver, tol=1e-8)
        ref = SkLogistic(solver=solver, tol=1e-8)
        t_mc, t_sk = interleaved_medians([lambda: ours.fit(X, y), lambda: ref.fit(X, y)],
                                         repeats=3, target=0.0)
        err = np.max(np.abs(ours.coef_ - ref.coef_)) / np.max(np.abs(ref.coef_))
        say(f"   {solver:16s}: mcfast {format_seconds(t_mc):>8s}, scikit-learn "
            f"{format_seconds(t_sk):>8s} ({t_sk / t_mc:.1f}x), max |coef difference| / "
            f"max |coef| = {err:.0e}")
    say("   more: bench/bench_fits.py, the time to the same optimum beside scikit-learn "
        "and glum")


def tour():
    say(f"mcfast {mc.__version__}: the chain rules of matrix calculus as compiled kernels\n")
    t0 = time.perf_counter()
    tour_fit()
    say()
    tour_rules()
    say()
    tour_timing()
    say()
    tour_estimators()
    say(f"\nDone in {time.perf_counter() - t0:.1f} s. More: python -m mcfast info | bench")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mcfast", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("tour", help="the rules on small examples, a fit, a timing (default)")
    info = sub.add_parser("info", help="version, build, BLAS and platform")
    info.add_argument("--json", action="store_true", help="print JSON")
    bench = sub.add_parser("bench", help="the benchmark suite (RESULTS.md and a plot)")
    bench.add_argument("--quick", action="store_true", help="a short run (< 1 minute)")
    bench.add_argument("--out", metavar="DIR", default=None,
                       help="write RESULTS.md and speedup.png into DIR (created if missing); "
                            "default: a new folder mcfast-bench-DATE-TIME here")
    args = parser.parse_args(argv)
    if args.command in (None, "tour"):
        tour()
    elif args.command == "info":
        mc.show_config(json=args.json)
    else:
        from mcfast import _bench
        _bench.main(quick=args.quick, outdir=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
