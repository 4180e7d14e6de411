"""Sphinx configuration of mcfast's documentation (numpydoc, pydata-sphinx-theme, MyST)."""

import os
import sys

import mcfast

# -- project ---------------------------------------------------------------------------
project = "mcfast"
author = "the mcfast developers"
copyright = "the mcfast developers"
release = mcfast.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
templates_path = ["_templates"]

# -- API reference ---------------------------------------------------------------------
# api.rst is written here, at build time, from mcfast.__all__ (and mcfast.dask,
# mcfast.losses), so a name added to __all__ is documented without editing this folder;
# autosummary then writes a page per name into generated/.
autosummary_generate = True
autodoc_typehints = "none"            # numpydoc's Parameters sections give the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

API_GROUPS = [  # (title, modules defining the names, blurb); None: every name left
    ("Linear maps and the trace rule", ("mcfast.linear",),
     "Gradients through Y = AX + B, Y = XA + B, and the definition of ∂z/∂X."),
    ("Least squares", ("mcfast.lstsq",),
     "‖Xθ − y‖² and 2Xᵀ(Xθ − y) in one pass over X, and an objective for scipy.optimize."),
    ("Jacobian chains", ("mcfast.chain", "mcfast.links"),
     "Jn⋯J1 in the cheapest bracketing, vector products through chains, and the kinds of"
     " links beyond dense arrays."),
    ("Linear-model losses", ("mcfast.linear_loss", "mcfast.losses"),
     "The left rule with a pointwise loss: Σ wᵢ ℓ(xᵢᵀθ + b, yᵢ) + l2‖θ‖² and its gradient in"
     " one pass over X, and the losses of ``mcfast.losses``."),
    ("Checks and build facts", None, "Gradient checks, the cimport path, build facts."),
]


API_INTRO = """\
API reference
=============

.. currentmodule:: mcfast

Every public name of ``mcfast`` (``import mcfast as mc``) and of ``mcfast.dask``; this page
is made from their ``__all__`` when the documentation is built. Every function here has a
pure-NumPy twin of the same name and signature in ``mcfast.reference``.

"""


def _api_page():
    """docs/api.rst: one autosummary table per group of public names."""
    import importlib
    names = [n for n in mcfast.__all__ if n not in ("__version__", "reference", "losses")]
    placed, blocks = set(), [API_INTRO]
    for title, module, blurb in API_GROUPS:
        if module is None:
            members = [n for n in names if n not in placed]
        else:
            members = [n for n in names
                       if getattr(getattr(mcfast, n), "__module__", "") in module]
        if "mcfast.losses" in (module or ()):
            try:
                losses = importlib.import_module("mcfast.losses")
            except ImportError:
                continue
            members += [f"losses.{n}" for n in getattr(losses, "__all__", [])]
        if not members:
            continue
        placed.update(members)
        rows = "\n".join(f"   {n}" for n in members)
        blocks.append(f"{title}\n{'-' * len(title)}\n\n{blurb}\n\n.. autosummary::\n"
                      f"   :toctree: generated\n\n{rows}\n")
    import mcfast.dask as mcd
    rows = "\n".join(f"   {n}" for n in mcd.__all__)
    title = "Dask: ``mcfast.dask``"
    blocks.append(f"{title}\n{'-' * len(title)}\n\n"
                  "The same rules on dask arrays chunked by rows (extra ``dask``).\n\n"
                  ".. currentmodule:: mcfast.dask\n\n"
                  f".. autosummary::\n   :toctree: generated\n\n{rows}\n")
    try:
        import mcfast.sklearn as mcs
    except ImportError:       # scikit-learn not installed: the page goes without them
        mcs = None
    if mcs is not None:
        rows = "\n".join(f"   {n}" for n in mcs.__all__)
        title = "scikit-learn estimators: ``mcfast.sklearn``"
        blocks.append(f"{title}\n{'-' * len(title)}\n\n"
                      "scikit-learn's linear models on the one-pass engine (extra "
                      "``sklearn``).\n\n.. currentmodule:: mcfast.sklearn\n\n"
                      ".. autosummary::\n   :toctree: generated\n"
                      f"   :template: autosummary/estimator.rst\n\n{rows}\n")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api.rst")
    text = "\n".join(blocks)
    if not os.path.exists(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


_api_page()

# -- doctests (python -m sphinx -b doctest) ----------------------------------------------
doctest_global_setup = """
import numpy as np
import mcfast as mc
np.set_printoptions(precision=6, suppress=True)
"""

# -- HTML ------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"mcfast {release}"
html_static_path = ["_static"]
html_css_files = ["mcfast.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# pages without sub-pages get no (empty) left sidebar
html_sidebars = {page: [] for page in ("index", "getting_started", "cimport", "dask",
                                      "performance", "changelog")}
