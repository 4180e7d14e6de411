"""The benchmark suite: every rule side by side with NumPy and the autodiff peers, in one run.

Each case (see `_bench_cases`) builds its inputs once, then mcfast and each contender are
timed interleaved (A, B, C, A, B, C, ...) over many repeats, warm-up excluded; medians
and ratios are reported, with the issue's targets checked from the same run.
`python -m mcfast bench [--quick] [--out DIR]` writes RESULTS.md and a plot into DIR (else a
fresh folder it names); `python bench/run.py` into bench/.
"""

import os
import platform
import sys
import time

import numpy as np

import mcfast as mc
from mcfast._bench_cases import CASES, PEERS, THREADED_LABELS, peer
from mcfast._timing import format_seconds, interleaved_medians

__all__ = ["CASES", "TARGETS", "run", "targets", "results_markdown", "plot", "fresh_outdir",
           "main"]

# (what, rule, size label, mcfast over this contender (or a measure's name), at most)
TARGETS = [
    ("tall, against NumPy", "lstsq_loss_grad", "1,000,000×32", "numpy", 0.55),
    ("tall, against the read floor", "lstsq_loss_grad", "1,000,000×32",
     "mcfast / read floor", 1.3),
    ("tall, peak extra memory (B/row)", "lstsq_loss_grad", "1,000,000×32",
     "peak extra B/row", 0.5),
    ("tall, against NumPy", "lstsq_loss_grad", "250,000×256", "numpy", 0.55),
    ("tall, against the read floor", "lstsq_loss_grad", "250,000×256",
     "mcfast / read floor", 1.2),
    ("tall, peak extra memory (B/row)", "lstsq_loss_grad", "250,000×256",
     "peak extra B/row", 0.5),
    ("tiny, against np.matmul(A.T, G, out=)", "grad_ax", "4×4", "numpy", 0.7),
    ("tiny, against np.matmul(A.T, G, out=)", "grad_ax", "8×8", "numpy", 0.7),
    ("tiny, against the NumPy formula", "lstsq_loss_grad", "8×8", "numpy", 0.5),
    ("BLAS-bound, against NumPy", "grad_ax", "2048×2048", "numpy", 1.1),
    ("BLAS-bound, against NumPy", "grad_xa", "2048×2048", "numpy", 1.1),
    ("against jax.jit(value_and_grad)", "lstsq_loss_grad", "64×8", "jax", 0.1),
    ("chain, against multi_dot", "jacobian_chain", "three 4×4", "numpy multi_dot", 0.5),
    ("chain, against C @ B @ A", "jacobian_chain", "three 4×4", "numpy", 1.0),
    ("stacked, against nested matmul", "jacobian_chain", "10,000 × three 4×4", "numpy", 0.5),
    ("stacked, against nested einsum", "grad_chain", "10,000 × three 4×4", "numpy", 0.5),
    ("MLP, against dense multi_dot", "jacobian_chain", "MLP n=1024, Diagonals", "numpy", 0.6),
    ("small, against np.matmul(A.T, G, out=), worst n", "grad_ax", "every n×n, n = 2..64",
     "mcfast / numpy, worst size", 1.0),
    # linear-model losses (issue 12, restated by issue 19): two threads, intercept
    ("one pass, against the read floor", "linear_loss_grad squared", "2,000,000×32",
     "mcfast / read floor", 1.2),
    ("one pass, against the read floor", "linear_loss_grad logistic", "2,000,000×32",
     "mcfast / read floor", 1.2),
    ("one pass, against the read floor", "linear_loss_grad poisson", "2,000,000×32",
     "mcfast / read floor", 1.2),
    ("F order in place, against the C read floor", "linear_loss_grad logistic, F order",
     "2,000,000×32", "mcfast / read floor", 1.35),
    ("F order, peak extra memory (of X)", "linear_loss_grad logistic, F order",
     "2,000,000×32", "peak extra / X", 0.01),
    ("Hessian product, against the read floor", "LinearLoss.hessp logistic", "2,000,000×32",
     "mcfast / read floor", 1.3),
    ("against scikit-learn LinearModelLoss", "linear_loss_grad logistic", "2,000,000×32",
     "scikit-learn", 0.2),
    # issue 19 restates Poisson against scikit-learn (whose Poisson is within 5× of the
    # floor already) as a bound on the floor itself
    ("against the read floor, in place of scikit-learn", "linear_loss_grad poisson",
     "2,000,000×32", "mcfast / read floor", 1.15),
    ("against scikit-learn LinearModelLoss", "linear_loss_grad multinomial K=8",
     "500,000×32", "scikit-learn", 0.3),
    ("against scikit-learn LinearModelLoss", "linear_loss_grad logistic, CSR",
     "200,000×20,000, 50/row", "scikit-learn", 0.5),
    ("minibatch, against NumPy's X[rows] formula", "linear_loss_grad logistic, rows=",
     "4,096 of 2,000,000×32", "numpy", 0.5),
] + [(f"in one loop with NumPy, against {who} alone", "beside NumPy", label,
      f"{who} / alone, beside {other}", 1.2)
     for label, theirs in (("grad_ax 128×128 and np.matmul in turn", "np.matmul"),
                           ("grad_ax 512×512 and np.matmul in turn", "np.matmul"),
                           ("lstsq_loss_grad 200,000×32 after np.matmul 512²", "np.matmul 512²"))
     for who, other in (("mcfast", theirs), (theirs, "mcfast"))] + [
    ("no mcfast thread spinning after its call (issue 20)", "beside NumPy",
     f"np.matmul 512² after {name} {label}", "np.matmul 512² / alone, beside mcfast", 1.1)
    for name, label in THREADED_LABELS.items()]

# columns of the results table, in this order; other contenders go to the last column
_COLUMNS = ["numpy", "jax", "torch", "autograd"]


def _threads():
    """BLAS and OpenMP thread counts, as threadpoolctl sees them (when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return ", ".join(f"{d['internal_api']} {d.get('version')} ({os.path.basename(d['filepath'])})"
                     f": {d['num_threads']} threads" for d in threadpool_info())


def _settle_allocator():
    """Put glibc's malloc in the state of any long-running program before timing.

    glibc serves blocks above its mmap threshold (128 KiB at start) with fresh pages,
    faulted in on every call, and raises the threshold once such a block is freed. A
    new process timing NumPy's mid-size temporaries (1.3 MB in the stacked chains)
    would pay those faults (measured here: nested matmul 1.9 ms cold, 0.65 ms settled)
    until the first peer happened to free one; freeing a 16 MB block now settles it
    for every contender alike.
    """
    block = np.ones(2 << 20)
    del block


def run(quick=False, log=print, cases=None):
    """Run the cases (default: CASES, those marked quick with quick=True); return rows
    (rule, size, plot size, {contender: median seconds}, Case)."""
    _settle_allocator()
    rows = []
    todo = [c for c in (CASES if cases is None else cases) if c[4] or not quick]
    for i, (rule, label, size, build, _) in enumerate(todo, 1):
        log(f"[{i}/{len(todo)}] {rule} {label} ...")
        t0 = time.perf_counter()
        case = build()
        names = list(case.fns)
        medians = interleaved_medians([case.fns[k] for k in names], repeats=5 if quick else 21,
                                      target=0.005 if quick else 0.02,
                                      settle=0.02 if quick else 0.15)
        times = dict(zip(names, medians))
        for name, group in case.limits.items():
            t_mc, t_limit = interleaved_medians([group["mcfast"], group[name]],
                                                repeats=5 if quick else 21,
                                                target=0.005 if quick else 0.02,
                                                settle=0.02 if quick else 0.15)
            case.measures[f"{name} time"] = t_limit
            case.measures[f"mcfast / {name}"] = t_mc / t_limit
        rows.append((rule, label, size, times, case))
        others = "  ".join(f"{k} {format_seconds(t)} ({t / times['mcfast']:.2f}×)"
                           for k, t in times.items() if k != "mcfast")
        extra = "".join(f"  {k} {_measure(k, v)}" for k, v in case.measures.items())
        log(f"      mcfast {format_seconds(times['mcfast'])}  {others}{extra}  "
            f"[{time.perf_counter() - t0:.1f} s]")
        case.fns.clear()          # free the inputs before the next case
        case.limits.clear()
    return rows


def targets(rows):
    """[(what, rule, size, contender, value, bound, met)] for the targets this run covers."""
    found = {(r[0], r[1]): r for r in rows}
    out = []
    for what, rule, size, against, bound in TARGETS:
        row = found.get((rule, size))
        if row is None:
            continue
        times, case = row[3], row[4]
        if against in case.measures:
            value = case.measures[against]
        elif against in times:
            value = times["mcfast"] / times[against]
        else:
            continue               # the contender (a peer) is not installed
        out.append((what, rule, size, against, value, bound, value <= bound))
    return out


def _measure(name, value):
    """A measure for the table: a time (a limit's own), a ratio, or bytes per row."""
    if name.endswith(" time") or name.endswith(" after mcfast") or name.endswith(" alone") \
            or name.startswith("mcfast after "):
        return format_seconds(value)
    return f"{value:.3g}×" if " / " in name else f"{value:.3g}"


def _cell(times, name):
    t = times.get(name)
    return "" if t is None else f"{format_seconds(t)} ({t / times['mcfast']:.2f}×)"


def results_markdown(rows, quick):
    """RESULTS.md: machine facts, the table of times and ratios, and the targets."""
    cfg = mc._config.config()
    skipped = [k for k in PEERS if peer(k) is None]
    lines = [
        "# mcfast benchmark results", "",
        f"Produced by `python -m mcfast bench{' --quick' if quick else ''}` on "
        f"{time.strftime('%Y-%m-%d')}: float64, medians of {5 if quick else 21} interleaved "
        "repeats (mcfast and its contenders in turn), warm-up excluded.",
        "Each cell is the contender's median time and, in brackets, its time over "
        "mcfast's: above 1× means mcfast is faster.", "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {_cpu_name()}, "
        f"{platform.platform()}",
        f"- Python {sys.version.split()[0]}, NumPy {np.__version__}, mcfast {mc.__version__} "
        f"(build: {cfg['build']['compiler']}, {cfg['build']['cflags']}, OpenMP "
        f"{'on' if cfg['build']['openmp'] else 'off'}, "
        f"{cfg['runtime']['threads']['effective_n_threads']} threads)",
        f"- threads: {_threads()}",
        "- peers: " + ", ".join(f"{k} {_version(k)}" for k in PEERS if peer(k) is not None)
        + (f"; not installed: {', '.join(skipped)}" if skipped else ""), "",
        "| rule | size | mcfast | NumPy | JAX (jit) | PyTorch (autograd) | autograd | other |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rule, label, _, times, case in rows:
        cells = [_cell(times, k) for k in _COLUMNS]
        for k, why in case.skipped.items():
            if k in _COLUMNS and peer(k) is not None:
                cells[_COLUMNS.index(k)] = f"— ({why})"
        other = "; ".join(f"{k} {_cell(times, k)}" for k in times
                          if k != "mcfast" and k not in _COLUMNS)
        other += "".join(f"; {k} {_measure(k, v)}" for k, v in case.measures.items())
        lines.append(f"| {rule} | {label} | {format_seconds(times['mcfast'])} | "
                     + " | ".join(cells) + f" | {other.lstrip('; ')} |")
    lines += ["", "## Targets", "",
              "mcfast's time over the contender's (or the measure itself), from this run.", "",
              "| target | rule | size | against | measured | at most | |",
              "|---|---|---|---|---|---|---|"]
    for what, rule, size, against, value, bound, met in targets(rows):
        lines.append(f"| {what} | {rule} | {size} | {against} | {value:.3g} | {bound} | "
                     f"{'met' if met else '**missed**'} |")
    return "\n".join(lines) + "\n"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:          # not installed as a distribution (a source checkout)
        mod = peer(name)
        mod = mod[0] if isinstance(mod, tuple) else mod
        return getattr(mod, "__version__", "?")


def plot(rows, path):
    """Speed-up over NumPy (the linear-model losses: over scikit-learn) against problem
    size, one line per rule (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    by_rule = {}
    for rule, label, size, times, _ in rows:
        if "numpy" in times:
            by_rule.setdefault(rule, []).append((size, times["numpy"] / times["mcfast"], label))
        elif "scikit-learn" in times:     # the losses: scikit-learn's LinearModelLoss
            by_rule.setdefault("linear-model losses (vs scikit-learn)", []).append(
                (size, times["scikit-learn"] / times["mcfast"],
                 rule.replace("linear_loss_grad ", "")))
    for rule, pts in by_rule.items():
        pts.sort()
        style = "s" if "scikit-learn" in rule else "o-"    # losses: one point per loss
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=rule)
        for size, speedup, label in pts:
            ax.annotate(label, (size, speedup), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("problem size (elements of the largest operand)")
    ax.set_ylabel("speed-up (peer time / mcfast time)")
    ax.set_title("mcfast against NumPy (losses: scikit-learn), float64, interleaved medians")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def fresh_outdir(parent="."):
    """A new folder ``mcfast-bench-YYYYmmdd-HHMMSS`` (``-2``, ``-3``... when taken) in `parent`."""
    stem = os.path.join(parent, time.strftime("mcfast-bench-%Y%m%d-%H%M%S"))
    path, n = stem, 1
    while True:
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            n += 1
            path = f"{stem}-{n}"


def main(quick=False, outdir=None):
    """Run the suite, print progress, write RESULTS.md and speedup.png into `outdir`.

    `outdir` is created when missing; None makes a fresh folder (`fresh_outdir`) in the
    current directory, so that no file of the user's is overwritten.
    """
    if outdir is None:
        outdir = fresh_outdir()
    else:
        os.makedirs(outdir, exist_ok=True)
    print(f"mcfast bench: results go to {os.path.abspath(outdir)}", flush=True)
    print(f"mcfast bench{' --quick' if quick else ''}: threads: {_threads()}", flush=True)
    rows = run(quick, log=lambda s: print(s, flush=True))
    md = os.path.join(outdir, "RESULTS.md")
    with open(md, "w") as f:
        f.write(results_markdown(rows, quick))
    png = os.path.join(outdir, "speedup.png")
    print(f"wrote {md}" + (f" and {png}" if plot(rows, png) else " (no matplotlib: no plot)"))
    for what, rule, size, against, value, bound, met in targets(rows):
        print(f"  {'met   ' if met else 'MISSED'} {rule} {size} {what}: {value:.3g} "
              f"(at most {bound})")
    return rows
