"""The MATLAB cross-check kit: reference cases made by real MATLAB, replayed with this package.

Not part of the installed package; run it from the repository root (``python -m compat.crosscheck``).
See ``compat/README.md``.
"""
