"""Build script: packages minidl and minidl_kernels, and compiles the Cython kernels under kernels/cython/.

Metadata and dependencies live in pyproject.toml; this file only declares what setuptools cannot read there:
the mapping of the kernels/ folder to the package ``minidl_kernels`` and the compiled extensions.
"""

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

CYTHON_KERNELS = ["scatter", "im2col"]

extensions = [
    Extension(
        f"minidl_kernels.cython.{name}",
        [f"kernels/cython/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for name in CYTHON_KERNELS
]

setup(
    packages=find_packages(include=["minidl", "minidl.*"])
    + ["minidl_kernels"]
    + [f"minidl_kernels.{sub}" for sub in find_packages("kernels")],
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    package_data={"minidl_kernels.cython": ["*.pyx"]},
)
