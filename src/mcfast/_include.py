"""get_include: the folder to add to a Cython build's include path to cimport mcfast."""

from pathlib import Path

__all__ = ["get_include"]


def get_include() -> str:
    """The folder holding ``mcfast/kernels.pxd``, for ``cimport mcfast.kernels``.

    Like ``numpy.get_include()``: pass it to ``cythonize(..., include_path=[...])`` so
    that Cython finds ``mcfast/kernels.pxd`` (the public cimport API) and the
    ``mcfast/_kernels/*.pxd`` files it cimports. It is the parent folder of the
    installed ``mcfast`` package (``site-packages`` for a normal install).

    Returns
    -------
    str
        Absolute path of the folder that contains the ``mcfast`` package.

    Examples
    --------
    >>> import os, mcfast as mc
    >>> os.path.isfile(os.path.join(mc.get_include(), "mcfast", "kernels.pxd"))
    True
    """
    return str(Path(__file__).resolve().parent.parent)
