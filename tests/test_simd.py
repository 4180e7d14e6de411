"""MCFAST_SIMD: read once at import, forces a level the CPU has, refuses unknown names."""

import json
import os
import subprocess
import sys

import pytest

from mcfast import _simd
from mcfast._kernels import _engine


def _run(code, value):
    env = dict(os.environ)
    if value is None:
        env.pop("MCFAST_SIMD", None)
    else:
        env["MCFAST_SIMD"] = value
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


_LEVEL = ("import json, warnings, mcfast; "
          "from mcfast._kernels import _engine, _hessian, _stack; "
          "from mcfast._config import config; "
          "assert _engine.simd_level()[0] == _stack.simd_level()[0] == _hessian.simd_level(); "
          "print(json.dumps([_engine.simd_level()[0], config()['runtime']['simd']]))")


@pytest.mark.parametrize("value, level", [("sse2", 0), ("baseline", 0), ("AVX2", 1),
                                          ("avx512", 2), (" native ", -1), ("", -1),
                                          (None, -1)])
def test_level_from_env(value, level):
    assert _simd.level_from_env(value) == level


@pytest.mark.parametrize("value", ["avx", "sse4", "1", "avx-512"])
def test_unknown_value_is_refused(value):
    with pytest.raises(ValueError, match="MCFAST_SIMD"):
        _simd.level_from_env(value)
    res = _run("import mcfast", value)
    assert res.returncode != 0 and "names no instruction-set level" in res.stderr


def test_every_level_the_cpu_has_is_forced_at_import():
    best = _engine.simd_level()[1]
    names = ("sse2", "avx2", "avx512")[:best + 1] if _simd.LEVEL_NAMES[0] == "sse2" \
        else ("baseline",)
    for level, name in enumerate(names):
        res = _run(_LEVEL, name)
        assert res.returncode == 0, res.stderr
        got, info = json.loads(res.stdout)
        assert got == level
        assert info == {"level": _simd.LEVEL_NAMES[level],
                        "cpu_best": _simd.LEVEL_NAMES[best], "MCFAST_SIMD": name}
    res = _run(_LEVEL, None)
    got, info = json.loads(res.stdout)
    assert got == best and info["MCFAST_SIMD"] is None


def test_a_level_the_cpu_lacks_warns_and_uses_the_best():
    best = _engine.simd_level()[1]
    if best == 2 or _simd.LEVEL_NAMES[0] != "sse2":
        pytest.skip("this CPU has every level MCFAST_SIMD can name")
    res = _run("import warnings; warnings.simplefilter('error'); import mcfast", "avx512")
    assert res.returncode != 0 and "has no avx512 level" in res.stderr
    res = _run(_LEVEL, "avx512")
    assert json.loads(res.stdout)[0] == best


def test_info_names_the_level():
    res = _run("import mcfast; mcfast.show_config()", "sse2")
    line = [ln for ln in res.stdout.splitlines() if ln.strip().startswith("simd")]
    assert line and "sse2" in line[0] and "MCFAST_SIMD='sse2'" in line[0]
