"""Build the example: the only mcfast-specific line is include_path=[mcfast.get_include()]."""
from Cython.Build import cythonize
from setuptools import Extension, setup

import mcfast

setup(
    name="mcfast-downstream-example",
    ext_modules=cythonize(
        [Extension("gdfit", ["gdfit.pyx"])],
        include_path=[mcfast.get_include()],   # finds mcfast/kernels.pxd
        compiler_directives={"language_level": 3},
    ),
)
