"""The type stubs of the compiled modules cannot drift: mypy.stubtest compares them.

Every extension module in mcfast._kernels must have a ``.pyi`` beside it, and stubtest
(which reads the parameter names and kinds of Cython functions through
``inspect.signature``) must find each stub equal to its module.
"""

import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mcfast
import mcfast._kernels

pytest.importorskip("mypy", reason="mypy (in the test extra) runs stubtest")

KERNELS = Path(mcfast._kernels.__file__).parent

# Cython adds these to every module; they are not part of the API
ALLOWLIST = [
    r"mcfast\._kernels\.[a-z_]+\.__pyx_capi__",
    r"mcfast\._kernels\.[a-z_]+\.__test__",
]


def compiled_modules():
    """Names of the extension modules in mcfast._kernels, from their files."""
    names = set()
    for path in KERNELS.iterdir():
        if any(path.name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES):
            names.add(path.name.split(".")[0])
    return sorted(names)


def test_there_are_compiled_modules():
    assert "_linear" in compiled_modules()


def test_py_typed_is_shipped():
    assert (Path(mcfast.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize("name", compiled_modules())
def test_every_compiled_module_has_a_stub(name):
    assert (KERNELS / f"{name}.pyi").is_file(), f"mcfast._kernels.{name} has no .pyi stub"


def test_stubtest(tmp_path):
    modules = [f"mcfast._kernels.{name}" for name in compiled_modules()
               if (KERNELS / f"{name}.pyi").is_file()]
    allow = tmp_path / "allowlist.txt"
    allow.write_text("\n".join(ALLOWLIST) + "\n")
    env = dict(os.environ)
    # the mcfast under test (installed or src/) first, whichever this process imported
    env["PYTHONPATH"] = os.pathsep.join([mcfast.get_include(), env.get("PYTHONPATH", "")])
    env["MYPY_CACHE_DIR"] = str(tmp_path / "mypy_cache")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--allowlist", str(allow), *modules],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
