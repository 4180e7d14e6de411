"""The engine's instruction-set level: the best the CPU has, or the one MCFAST_SIMD forces.

``MCFAST_SIMD`` is read once, when mcfast is imported, for tests and benchmarks that
compare levels on one machine: ``sse2`` (the x86-64 baseline; ``baseline`` names it on
every platform), ``avx2`` (AVX2 with FMA) or ``avx512``; unset, empty or ``native``
means the best level this CPU has. A level the CPU lacks cannot run: the best one it has
is used instead, with a ``RuntimeWarning`` saying so. Any other value is an error, so a
typo never benchmarks the wrong kernels in silence.
"""

from __future__ import annotations

import os
import platform
import warnings

from ._kernels import _chain, _engine, _hessian, _linear, _stack

__all__ = ["LEVEL_NAMES", "level_from_env", "simd_info", "kernel_levels"]

ENV = "MCFAST_SIMD"
# the engine's levels, in order (mc_simd.h: 0 baseline, 1 AVX2+FMA, 2 AVX-512)
_X86 = ("sse2", "avx2", "avx512")
LEVEL_NAMES = _X86 if platform.machine().lower() in ("x86_64", "amd64") else ("baseline",)
_ALIASES = {"baseline": 0, **{name: level for level, name in enumerate(_X86)}}


def level_from_env(value: str | None) -> int:
    """The level a value of MCFAST_SIMD asks for: -1 for the best there is, else 0, 1 or 2.

    Parameters
    ----------
    value : str or None
        The variable's value (None when it is unset).

    Returns
    -------
    int
        The requested level; the caller clips it to what the CPU has.

    Raises
    ------
    ValueError
        When the value names no level.
    """
    if value is None or value.strip().lower() in ("", "native"):
        return -1
    key = value.strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"{ENV}={value!r} names no instruction-set level: use one of "
                         "sse2, avx2, avx512 (or baseline), or native / unset for the "
                         "best this CPU has")
    return _ALIASES[key]


def _apply(value: str | None) -> None:
    """Set the engine's level from a value of MCFAST_SIMD (see the module docstring)."""
    want = level_from_env(value)
    # every extension with levels
    for kernels in (_engine, _hessian, _stack, _chain, _linear):
        kernels.set_simd_level(want)
    got, best, _ = _engine.simd_level()
    if want > best:
        warnings.warn(f"{ENV}={value!r}: this CPU has no {_X86[want]} "
                      f"level; using {_name(got)}", RuntimeWarning, stacklevel=3)


def _name(level: int) -> str:
    return LEVEL_NAMES[level] if level < len(LEVEL_NAMES) else LEVEL_NAMES[-1]


def simd_info() -> dict[str, object]:
    """The level in use, the best the CPU has, and MCFAST_SIMD's value (None if unset)."""
    level, best, _ = _engine.simd_level()
    return {"level": _name(level), "cpu_best": _name(best), ENV: os.environ.get(ENV)}


def kernel_levels() -> dict[str, object]:
    """The level each kernel family dispatches to now, and the levels the last calls ran at.

    Returns
    -------
    dict
        ``"selected"``: the level each extension's dispatch picks (engine, hessian, stack,
        chain, linear); ``"ran"``: the level the kernels last run were compiled for, per
        family (``"stack"``, the chain's ``"gemm"``, ``"vec"``, ``"mv"`` and the linear
        rules' ``"at_g"``; -1 for none yet). Levels as in ``LEVEL_NAMES``' order (0
        baseline, 1 AVX2+FMA, 2 AVX-512).
    """
    return {"selected": {"engine": _engine.simd_level()[0],
                         "hessian": _hessian.simd_level(),
                         "stack": _stack.simd_level()[0], "chain": _chain.simd_level()[0],
                         "linear": _linear.simd_level()[0]},
            "ran": {"stack": _stack.ran_level(), **_chain.ran_levels(),
                    **_linear.ran_levels()}}


_apply(os.environ.get(ENV))
