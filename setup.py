"""Build the optional C fast path for numeric CSV files (sigmoidnet/_csvparse.c).

Everything else is configured in pyproject.toml. The extension is optional: without a C
compiler the install still succeeds and every CSV file is read with pyarrow.
"""

import sys

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sigmoidnet._csvparse",
            ["sigmoidnet/_csvparse.c"],
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
            optional=True,
        )
    ]
)
