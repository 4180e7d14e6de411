"""mypy --strict on a user's script: every public name is typed, results are not Any, mistakes are caught."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

import mcfast as mc

HERE = pathlib.Path(__file__).resolve().parent / "typing"
SCRIPT, BAD = HERE / "user_script.py", HERE / "bad_usage.py"

# what a user's mypy configuration would hold: SciPy ships no stubs
CONFIG = """\
[mypy]
strict = True
[mypy-scipy.*]
ignore_missing_imports = True
[mypy-mcfast.*]
# an installed package's own errors are never reported; so too from a source tree
ignore_errors = True
"""


def normalise(revealed):
    """mypy's revealed type, short: no module prefixes, no shape, float32/float64 by name."""
    t = re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", revealed)
    t = re.sub(r"floating\[_32Bit\]", "float32", t)
    t = re.sub(r"floating\[_64Bit\]", "float64", t)
    return re.sub(r"ndarray\[(?:tuple\[Any, \.\.\.\]|Any), ", "ndarray[", t)


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory):
    pytest.importorskip("mypy")
    tmp = tmp_path_factory.mktemp("mypy")
    (tmp / "mypy.ini").write_text(CONFIG)
    env = dict(os.environ)
    root = pathlib.Path(mc.get_include())
    env.pop("MYPYPATH", None)
    if root.name not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = str(root)     # mcfast from a source tree (PYTHONPATH=src)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(tmp / "mypy.ini"),
         "--cache-dir", str(tmp / "cache"), "--no-error-summary", "--show-error-codes",
         str(SCRIPT), str(BAD)],
        capture_output=True, text=True, env=env, timeout=600)
    assert "error: Cannot find implementation or library stub" not in proc.stdout, proc.stdout
    return proc.stdout.splitlines()


def _lines(path, output, kind):
    found = {}
    for line in output:
        m = re.match(r"(.*?):(\d+): (error|note): (.*)", line)
        if m and pathlib.Path(m.group(1)).name == path.name and m.group(3) == kind:
            found.setdefault(int(m.group(2)), []).append(m.group(4))
    return found


def test_user_script_reveals_the_documented_types(mypy_output):
    expected = {i: m.group(1) for i, line in enumerate(SCRIPT.read_text().splitlines(), 1)
                if (m := re.search(r"  # T: (.+)$", line))}
    notes = _lines(SCRIPT, mypy_output, "note")
    revealed = {i: normalise(re.match(r'Revealed type is "(.*)"', n[0]).group(1))
                for i, n in notes.items() if n[0].startswith("Revealed type is")}
    assert revealed == expected


def test_user_script_has_no_errors(mypy_output):
    assert _lines(SCRIPT, mypy_output, "error") == {}, "\n".join(mypy_output)


def test_mistakes_are_errors(mypy_output):
    expected = {i: m.group(1) for i, line in enumerate(BAD.read_text().splitlines(), 1)
                if (m := re.search(r"  # E: ([\w-]+)$", line))}
    errors = _lines(BAD, mypy_output, "error")
    got = {i: sorted({re.search(r"\[([\w-]+)\]$", e).group(1) for e in es})
           for i, es in errors.items()}
    assert got == {i: [code] for i, code in expected.items()}, "\n".join(mypy_output)


def test_user_script_uses_every_public_name():
    """A name added to __all__ without annotations would be Any to users: list it here."""
    import mcfast.dask as mcd
    text = SCRIPT.read_text()
    for name in mc.__all__:
        if name not in ("reference",):
            assert f"mc.{name}" in text, name
    assert "reference." in text
    for name in mcd.__all__:
        assert f"mcd.{name}" in text, name


def test_user_script_runs():
    subprocess.run([sys.executable, str(SCRIPT)], check=True, capture_output=True, timeout=300)
