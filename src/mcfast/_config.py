"""show_config: mcfast's version, how its kernels were built, the BLAS in use, the platform."""

import json as _json
import platform
import sys

import numpy as np
import scipy

from ._version import __version__

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


def config():
    """Everything `show_config` prints, as a dict."""
    from ._kernels._buildinfo import build_info
    return {
        "mcfast": __version__,
        "build": build_info(),
        "runtime": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "machine": platform.machine(), "numpy": np.__version__,
                    "scipy": scipy.__version__},
        "blas": _blas(),
    }


def show_config(json=False):
    """Print mcfast's version, build (compiler, OpenMP, Cython/NumPy), BLAS and platform.

    Parameters
    ----------
    json : bool, optional
        Print JSON instead of the readable listing.

    Returns
    -------
    None

    Examples
    --------
    >>> import mcfast as mc
    >>> mc.show_config()  # doctest: +ELLIPSIS
    mcfast ...
    """
    cfg = config()
    if json:
        print(_json.dumps(cfg, indent=2))
        return
    print(f"mcfast {cfg['mcfast']}")
    for section in ("build", "runtime"):
        print(f"{section}:")
        for k, val in cfg[section].items():
            print(f"  {k:20s} {val}")
    print("blas:")
    if isinstance(cfg["blas"], str):
        print(f"  {cfg['blas']}")
    else:
        for lib in cfg["blas"]:
            print("  " + ", ".join(f"{k}={val}" for k, val in lib.items()))
