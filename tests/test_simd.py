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


# every kernel family run once: the chain's small products (one 4 × 4 chain, and a batch
# of 9 × 9 chains, a size the stacks do not serve), its vector blocks (grad of that
# batch), one vector through a large dense link, a stack of 8 × 8 chains, and the
# register tiles of grad_ax's Aᵀ G (_linear)
_FAMILIES = ("import json, numpy as np, mcfast; "
             "from mcfast import _simd; from mcfast._kernels import _chain; "
             "r = np.random.default_rng(0); "
             "mcfast.jacobian_chain([r.standard_normal((4, 4)) for _ in range(3)]); "
             "S = [r.standard_normal((40, 9, 9)) for _ in range(3)]; "
             "mcfast.jacobian_chain(S); mcfast.grad_chain(S, r.standard_normal((40, 9))); "
             "_chain.vector_link(r.standard_normal((300, 200)), r.standard_normal(300), "
             "True, 2); "
             "mcfast.tangent_chain([r.standard_normal((40, 8, 8)) for _ in range(3)], "
             "r.standard_normal((40, 8))); "
             "mcfast.grad_ax(r.standard_normal((12, 8)), r.standard_normal((12, 20))); "
             "print(json.dumps(_simd.kernel_levels()))")


def test_every_kernel_family_runs_at_the_forced_level():
    # MCFAST_SIMD reaches every family: the dispatch each extension picks, and the level
    # the kernels that ran were compiled for (no family picks its own at load time)
    best = _engine.simd_level()[1]
    names = ("sse2", "avx2", "avx512")[:best + 1] if _simd.LEVEL_NAMES[0] == "sse2" \
        else ("baseline",)
    for level, name in [*enumerate(names), (best, None)]:
        res = _run(_FAMILIES, name)
        assert res.returncode == 0, res.stderr
        got = json.loads(res.stdout)
        assert got["selected"] == dict.fromkeys(
            ("engine", "hessian", "stack", "chain", "linear"), level), (name, got)
        assert got["ran"] == dict.fromkeys(("stack", "gemm", "vec", "mv", "at_g"), level), \
            (name, got)
