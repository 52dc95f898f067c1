"""The package's version, in one place: pyproject.toml reads it at build time (without importing
the package), ``matlab_occsens.__version__`` and ``matlab-occsens --version`` re-export it, and
every dataset store records it."""

__version__ = "0.1.0"
