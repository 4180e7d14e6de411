"""show_config: mcfast's version, how its kernels were built, the BLAS in use, the platform."""

import json as _json
import platform
import sys

from typing import Any

import numpy as np
import scipy

from ._version import __distribution__, __version__

__all__ = ["config", "show_config"]


def _blas():
    """The BLAS libraries loaded in this process, via threadpoolctl when installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install threadpoolctl to see the BLAS)"
    return [{k: d.get(k) for k in ("internal_api", "version", "num_threads", "filepath",
                                   "threading_layer", "architecture")}
            for d in threadpool_info() if d.get("user_api") in ("blas", "openmp")]


def _kernel_blas():
    """The BLAS mcfast's kernels call: SciPy's, through scipy.linalg.cython_blas."""
    try:
        blas = scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except Exception:  # an old or unusual SciPy build: say so rather than fail
        name = "unknown"
    return f"{name} (SciPy's, via scipy.linalg.cython_blas)"


def config() -> dict[str, Any]:
    """Everything `show_config` prints, as a dict (what ``python -m mcfast info --json`` prints).

    Returns
    -------
    dict
        ``"mcfast"``: the version; ``"distribution"``: the name pip knows it by
        (``mcfast-kernels``); ``"build"``: how the kernels were compiled (compiler,
        cflags, ``openmp`` = the ``_OPENMP`` date or 0 when built without OpenMP,
        ``openmp_enabled``, the Cython and NumPy versions used); ``"runtime"``: Python,
        platform, NumPy, SciPy, ``kernel_blas`` (the BLAS the kernels call) and
        ``threads``, what the OpenMP kernels would use if called now from this thread
        (``omp_get_max_threads()``, which ``threadpoolctl.threadpool_limits`` and
        ``OMP_NUM_THREADS`` set, capped by ``cpu_count``, the CPUs of this process's
        affinity; 1 when ``forked_child``) and ``simd``, the engine's instruction-set
        level in use, the best this CPU has and ``MCFAST_SIMD`` (which forces a lower
        one; None when unset); ``"blas"``: the BLAS/OpenMP libraries loaded
        in the process (from ``threadpoolctl``, or a note when it is not installed).

    Examples
    --------
    >>> from mcfast._config import config
    >>> cfg = config()
    >>> sorted(cfg)
    ['blas', 'build', 'distribution', 'mcfast', 'runtime']
    >>> cfg["build"]["openmp_enabled"] == (cfg["build"]["openmp"] > 0)
    True
    >>> from threadpoolctl import threadpool_limits
    >>> with threadpool_limits(1):
    ...     config()["runtime"]["threads"]["effective_n_threads"]
    1
    """
    from ._kernels._buildinfo import build_info
    from ._kernels._threads import thread_info
    from ._simd import simd_info
    build = build_info()
    build["openmp_enabled"] = build["openmp"] > 0
    return {
        "mcfast": __version__,
        "distribution": __distribution__,
        "build": build,
        "runtime": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "machine": platform.machine(), "numpy": np.__version__,
                    "scipy": scipy.__version__, "kernel_blas": _kernel_blas(),
                    "threads": thread_info(), "simd": simd_info()},
        "blas": _blas(),
    }


def show_config(json: bool = False) -> None:
    """Print mcfast's version, build (compiler, OpenMP, Cython/NumPy), BLAS and platform.

    The same as ``python -m mcfast info`` (``--json`` for ``json=True``). Include its
    output in bug reports and next to benchmark results.

    Parameters
    ----------
    json : bool, optional
        Print JSON instead of the readable listing.

    Returns
    -------
    None
        It prints to standard output; `config` returns the same facts as a dict.

    Examples
    --------
    >>> import mcfast as mc
    >>> mc.show_config()  # doctest: +ELLIPSIS
    mcfast ...
    build:
      compiler ...
    >>> mc.show_config(json=True)  # doctest: +ELLIPSIS
    {
      "mcfast": ...
    """
    cfg = config()
    if json:
        print(_json.dumps(cfg, indent=2))
        return
    print(f"mcfast {cfg['mcfast']} (distribution {cfg['distribution']})")
    for section in ("build", "runtime"):
        print(f"{section}:")
        for k, val in cfg[section].items():
            if section == "build" and k == "openmp":
                val = f"on (_OPENMP {val})" if val else "off"
            elif k == "openmp_enabled":
                continue
            elif k == "threads":
                val = (f"{val['effective_n_threads']} (OpenMP max {val['omp_max_threads']}, "
                       f"{val['cpu_count']} CPUs in the affinity mask"
                       f"{', forked child: serial' if val['forked_child'] else ''})")
            elif k == "simd":
                forced = val["MCFAST_SIMD"]
                val = (f"{val['level']} (this CPU's best: {val['cpu_best']}"
                       f"{f', MCFAST_SIMD={forced!r}' if forced is not None else ''})")
            print(f"  {k:20s} {val}")
    print("blas:")
    if isinstance(cfg["blas"], str):
        print(f"  {cfg['blas']}")
    else:
        for lib in cfg["blas"]:
            print("  " + ", ".join(f"{k}={val}" for k, val in lib.items()))
