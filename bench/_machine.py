"""File each benchmark run under bench/machines/, named by the CPU it ran on and the time.

A figure from one CPU says nothing about another, so every run of a benchmark script
that uses `recorded` leaves a Markdown file: the machine (``lscpu``'s model, family,
caches and the best instruction set), mcfast's version, commit, SIMD level and threads,
the command, then everything the run printed. `write_index` rebuilds
bench/machines/README.md, the side-by-side page the documentation includes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["cpu_facts", "machine_tag", "recorded", "write_index"]

MACHINES = Path(__file__).resolve().parent / "machines"
_LSCPU_KEYS = ("Model name", "Vendor ID", "CPU family", "Model", "CPU(s)",
               "Thread(s) per core", "L1d cache", "L2 cache", "L3 cache")


def cpu_facts() -> dict[str, str]:
    """`lscpu`'s lines that identify a CPU (empty where lscpu is missing), and the best
    instruction-set level the engine finds on it."""
    facts: dict[str, str] = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        key, _, val = line.partition(":")
        if key.strip() in _LSCPU_KEYS and key.strip() not in facts:
            facts[key.strip()] = val.strip()
    from mcfast._simd import simd_info
    facts["best instruction set"] = str(simd_info()["cpu_best"])
    return facts


def machine_tag(facts: dict[str, str]) -> str:
    """A file-name-safe tag: model, family, model number, best instruction set."""
    model = facts.get("Model name") or os.uname().machine
    parts = [model, f"family{facts.get('CPU family', 'x')}",
             f"model{facts.get('Model', 'x')}", facts["best instruction set"]]
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=MACHINES.parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@contextlib.contextmanager
def recorded(bench: str, argv: list[str]):
    """Run the body with its output also written to bench/machines/TAG_DATE_BENCH.md
    (BENCH-at-LEVEL.md when MCFAST_SIMD forces a level below the CPU's best)
    (``--no-save`` in `argv` turns the record off; the flag is removed from `argv`)."""
    if "--no-save" in argv:
        argv.remove("--no-save")
        yield None
        return
    import mcfast
    from mcfast._config import config
    facts = cpu_facts()
    runtime = config()["runtime"]
    stamp = _dt.datetime.now(_dt.timezone.utc)
    MACHINES.mkdir(exist_ok=True)
    level = runtime["simd"]["level"]
    forced = "" if level == facts["best instruction set"] else f"-at-{level}"
    stem = f"{machine_tag(facts)}_{stamp:%Y-%m-%d-%H%M}_{bench}{forced}"
    path = MACHINES / f"{stem}.md"
    buf = io.StringIO()
    old = sys.stdout
    sys.stdout = _Tee(old, buf)
    try:
        yield path
    finally:
        sys.stdout = old
    head = [f"# {bench} on {facts.get('Model name', '?')} (best {facts['best instruction set']},"
            f" run at {level}), {stamp:%Y-%m-%d %H:%M} UTC", ""]
    head += [f"- {k}: {v}" for k, v in facts.items()]
    head += [f"- mcfast {mcfast.__version__} at {_commit() or '?'}, SIMD in use: "
             f"{runtime['simd']['level']}, threads: "
             f"{runtime['threads']['effective_n_threads']}, "
             f"load {os.getloadavg()[0]:.1f}",
             f"- command: `python bench/{bench}.py {' '.join(argv)}`".rstrip(), "",
             "```text", buf.getvalue().rstrip(), "```", ""]
    n = 2
    while path.exists():    # two runs started in one minute: both kept
        path = path.with_name(f"{stem}-{n}.md")
        n += 1
    path.write_text("\n".join(head))
    write_index()
    print(f"(filed as {path.relative_to(MACHINES.parent.parent)})", file=old)


def write_index() -> Path:
    """bench/machines/README.md: every filed run, newest first, one section each."""
    files = sorted((p for p in MACHINES.glob("*.md") if p.name != "README.md"),
                   key=lambda p: p.name.split("_")[1:], reverse=True)
    lines = ["# Benchmark runs by machine", "",
             "Each run of `bench/bench_losses.py` and `bench/bench_chain.py` is filed here "
             "by CPU and date (`bench/_machine.py`). Compare ratios, not times: each ratio "
             "was taken side by side in one run on the machine named.", "",
             "| machine | date | benchmark |", "|---|---|---|"]
    for p in files:
        tag, date, bench = p.stem.split("_", 2)
        lines.append(f"| {tag} | {date} | {bench} (`{p.name}`) |")
    for p in files:
        body = p.read_text().splitlines()
        lines += ["", "#" + body[0]] + body[1:]
    index = MACHINES / "README.md"
    index.write_text("\n".join(lines) + "\n")
    return index
