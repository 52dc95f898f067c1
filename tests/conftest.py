"""Shared fixtures: the real pretrained networks of docs/models.md, built once per test session."""

from __future__ import annotations

import numpy as np
import pytest

from matlab_occsens import importNetworkFromONNX, imresize


@pytest.fixture(scope="session")
def efficientnet():
    """EfficientNet-Lite0 (ImageNet) with its input normalisation, exported once and cached."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="needs the demo extra (see README)")
    from matlab_occsens.pretrained import EFFICIENTNET_LITE0

    return importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    """skimage's coffee photo resized to 224×224 with MATLAB's imresize, as MATLAB's example does."""
    data = pytest.importorskip("skimage.data")
    return imresize(data.coffee(), [224, 224])
