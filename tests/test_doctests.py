"""The Examples sections of the docstrings run: every public mcfast module's doctests pass.

Also checks that each public function has a numpydoc docstring with the sections the
project promises (Parameters, Returns, Examples).
"""

import doctest
import importlib
import inspect

import numpy as np
import pytest

import mcfast

# every public module that exists in this build (lstsq, chain, dask land separately)
CANDIDATES = ["mcfast", "mcfast.linear", "mcfast.lstsq", "mcfast.chain", "mcfast.gradcheck",
              "mcfast._config", "mcfast._include", "mcfast.reference", "mcfast.dask",
              "mcfast.linear_loss", "mcfast.losses", "mcfast.links",
              "mcfast.sklearn", "mcfast.sklearn._logistic", "mcfast.sklearn._poisson",
              "mcfast.sklearn._ridge"]


def _present(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


MODULES = [name for name in CANDIDATES if _present(name)]


def test_every_module_of_a_public_name_is_doctested():
    """A module added later would otherwise keep examples nobody runs."""
    defining = {getattr(getattr(mcfast, n), "__module__", None) or getattr(mcfast, n).__name__
                for n in mcfast.__all__ if n != "__version__"}
    assert defining <= set(MODULES), defining - set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name, capsys):
    module = importlib.import_module(name)
    with np.printoptions(legacy="1.25"):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS
                                 | doctest.NORMALIZE_WHITESPACE, verbose=False)
    out = capsys.readouterr().out
    assert result.failed == 0, f"{result.failed} doctest failure(s) in {name}:\n{out}"


def public_functions():
    """(name, object) of every public function/class exported by mcfast (and mcfast.dask)."""
    for module in ("mcfast", "mcfast.dask", "mcfast.sklearn"):
        if module not in MODULES:
            continue
        mod = importlib.import_module(module)
        prefix = module.removeprefix("mcfast").lstrip(".")
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield (f"{prefix}.{name}" if prefix else name), obj


@pytest.mark.parametrize("name,obj", list(public_functions()), ids=lambda x: str(x))
def test_public_docstrings_are_numpydoc(name, obj):
    doc = inspect.getdoc(obj) or ""
    # numpydoc: a class documents its constructor and has no Returns section
    sections = ("Examples",) if inspect.isclass(obj) else ("Returns", "Examples")
    missing = [s for s in sections if f"{s}\n-" not in doc]
    params = {k: p for k, p in inspect.signature(obj).parameters.items() if k != "self"}
    if params and "Parameters\n-" not in doc:
        missing.append("Parameters")
    if "Examples\n-" in doc and ">>>" not in doc:
        missing.append("an Examples section with >>> lines")
    assert not missing, f"mcfast.{name}: docstring lacks {', '.join(missing)}"
