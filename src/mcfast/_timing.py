"""Side-by-side timing: interleaved repeats of competing callables, medians and ratios."""

import time

import numpy as np

__all__ = ["interleaved_medians", "format_seconds"]


def _loops_for(fn, target, clock=time.perf_counter):
    """How many calls of `fn` make one timing sample of about `target` seconds."""
    fn()  # warm-up, not timed
    loops, elapsed = 1, 0.0
    while True:
        t0 = clock()
        for _ in range(loops):
            fn()
        elapsed = clock() - t0
        if elapsed >= target or loops >= 1 << 20:
            return loops
        loops *= 2 if elapsed == 0 else max(2, min(10, int(target / elapsed) + 1))


def interleaved_medians(fns, *, repeats=15, target=0.02, clock=time.perf_counter,
                        settle=0.15, per_turn=3):
    """Median seconds per call of each callable, the contenders taking turns (A, B, A, ...).

    Interleaving makes slow drifts of a noisy machine hit every contender alike, so the
    ratios between the medians are stable even when absolute times move. `clock`:
    wall time by default; ``time.thread_time`` counts only this thread's CPU time (for
    single-threaded calls on a machine shared with other work).

    A turn is `settle` seconds of untimed calls of the contender (at least one), then
    `per_turn` samples of about `target` seconds each; `repeats` samples in all. A
    library's thread pool keeps spinning after its call (OpenMP for milliseconds,
    OpenBLAS's workers for about 0.1 s) and slows whatever runs next: measured here, a
    two-thread mcfast call right after scikit-learn's loss_gradient ran 1.3–1.7× slower
    for about 0.1 s. That cost belongs to switching between libraries, which
    ``_bench_cases.alternation`` measures on its own, not to either contender, so each
    sample times a contender in its steady state, as in a user's loop of its calls.
    """
    loops = [_loops_for(fn, target, clock) for fn in fns]
    samples = [[] for _ in fns]
    while len(samples[0]) < repeats:
        for fn, n, s in zip(fns, loops, samples):
            t0 = time.perf_counter()
            fn()
            while time.perf_counter() - t0 < settle:
                fn()
            for _ in range(min(per_turn, repeats - len(s))):
                t0 = clock()
                for _ in range(n):
                    fn()
                s.append((clock() - t0) / n)
    return [float(np.median(s)) for s in samples]


def format_seconds(t):
    """A time with a unit that keeps three significant digits readable."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"
