"""The distribution name (mcfast-kernels; "mcfast" on PyPI is another project) is the same everywhere."""

import importlib.metadata
import json
import pathlib
import re
import subprocess
import sys

import pytest

import mcfast as mc
from mcfast._version import __distribution__

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _canonical(name):
    """PEP 503 normalisation: case and runs of -_. do not matter to pip."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _toml(path):
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads(path.read_text())


def _requirement_names(requirements):
    return [_canonical(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in requirements]


def test_the_name_is_not_the_unrelated_pypi_project():
    assert _canonical(__distribution__) == "mcfast-kernels"


def test_pyproject_names_the_distribution():
    project = _toml(ROOT / "pyproject.toml")["project"]
    assert _canonical(project["name"]) == _canonical(__distribution__)
    for extra, reqs in project.get("optional-dependencies", {}).items():
        # an extra that pulls in another extra names the package by its distribution
        assert "mcfast" not in _requirement_names(reqs), extra


def test_downstream_example_requires_the_distribution():
    cfg = _toml(ROOT / "examples" / "downstream" / "pyproject.toml")
    for reqs in (cfg["build-system"]["requires"], cfg["project"]["dependencies"]):
        names = _requirement_names(reqs)
        assert _canonical(__distribution__) in names and "mcfast" not in names


def test_readme_and_info_give_the_name():
    assert f"`{__distribution__}`" in (ROOT / "README.md").read_text()
    out = subprocess.run([sys.executable, "-m", "mcfast", "info", "--json"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert json.loads(out)["distribution"] == __distribution__


def test_installed_metadata_agrees():
    """When mcfast runs from an installed distribution, its metadata has our name and version."""
    owners = importlib.metadata.packages_distributions().get("mcfast", [])
    here = pathlib.Path(mc.__file__).resolve().parent
    for name in owners:
        dist = importlib.metadata.distribution(name)
        files = [pathlib.Path(dist.locate_file(f)).resolve() for f in dist.files or []]
        if any(f.parent == here for f in files):
            assert _canonical(dist.metadata["Name"]) == _canonical(__distribution__)
            assert dist.version == mc.__version__
            return
    pytest.skip("mcfast is imported from a source tree, not an installed distribution")
