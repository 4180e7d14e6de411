"""The single source of mcfast's version string and its distribution name on PyPI."""

__version__ = "0.2.0"

# What `pip install` names (pyproject.toml's [project] name); the import name is `mcfast`.
# "mcfast" on PyPI is an unrelated project.
__distribution__ = "mcfast-kernels"
