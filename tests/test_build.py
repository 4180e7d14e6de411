"""setup.py's choices per platform: the native-tuning flag and OpenMP's flags (the real
compiler of this machine probed, as the build does)."""

import ast
import sys
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parent.parent / "setup.py"


@pytest.fixture(scope="module")
def setup_py():
    """setup.py's definitions, without its final setup() call (which would build)."""
    if not SETUP.exists():
        pytest.skip("needs the source tree's setup.py")
    tree = ast.parse(SETUP.read_text(), str(SETUP))
    tree.body = [node for node in tree.body
                 if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                         and getattr(node.value.func, "id", None) == "setup")]
    namespace = {"__file__": str(SETUP), "__name__": "mcfast_setup_under_test"}
    exec(compile(tree, str(SETUP), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("machine, flag", [
    ("x86_64", "-march=native"), ("AMD64", "-march=native"),
    ("aarch64", "-mcpu=native"), ("arm64", "-mcpu=native"), ("armv7l", "-mcpu=native"),
    ("ppc64le", "-mcpu=native")])
def test_native_flag_is_spelled_per_architecture(setup_py, machine, flag):
    """MCFAST_NATIVE=1: clang for aarch64 and Apple's clang reject -march=native."""
    assert setup_py["native_flag"](machine) == flag


def test_openmp_probe_tries_apple_clang_after_fopenmp(setup_py):
    flags = setup_py["OPENMP_FLAGS"]
    assert flags[0] == (["-fopenmp"], ["-fopenmp"])
    assert (["-Xpreprocessor", "-fopenmp"], ["-lomp"]) in flags


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="GCC's -fopenmp on Linux")
def test_openmp_probe_on_this_compiler(setup_py):
    """The build's own probe, on this machine's compiler: GCC takes -fopenmp."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler
    compiler = new_compiler()
    customize_compiler(compiler)
    got = setup_py["openmp_flags"](compiler)
    if got is None:
        pytest.skip("this compiler has no OpenMP")
    assert got == (["-fopenmp"], ["-fopenmp"])


ENGINE_MAX_BYTES = 4_200_000    # issue #19: _engine no larger than the 4.2 MB it once was


def test_engine_extension_within_its_size_limit():
    """The optimised build's _engine (GCC, x86-64: every SIMD level and the mixed
    instantiations) stays under its size limit. Debug, sanitizer and -march=native builds
    and other compilers are sized differently and skipped."""
    import os
    import platform

    from mcfast._kernels import _engine
    from mcfast._kernels._buildinfo import build_info
    info = build_info()
    flags = info["cflags"].split()
    if "-O3" not in flags or any(f.startswith(("-fsanitize", "-march", "-mcpu"))
                                 for f in flags):
        pytest.skip(f"not the optimised portable build ({info['cflags']})")
    if not info["compiler"].startswith("gcc") or platform.machine() != "x86_64":
        pytest.skip("the limit is set for GCC on x86-64")
    size = os.path.getsize(_engine.__file__)
    assert size <= ENGINE_MAX_BYTES, f"_engine is {size:,} bytes > {ENGINE_MAX_BYTES:,}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="GCC on Linux")
def test_module_flags_probe_on_this_compiler(setup_py):
    """_engine's size flags are probed one by one; GCC takes them all, a flag the compiler
    does not know is dropped."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler
    compiler = new_compiler()
    customize_compiler(compiler)
    flags = setup_py["MODULE_FLAGS"]["_engine"]
    got = setup_py["accepted_flags"](compiler, flags + ["-fno-such-option-mcfast"])
    if "gcc" not in " ".join(compiler.compiler_so):
        pytest.skip("the flags are GCC's")
    assert got == flags
