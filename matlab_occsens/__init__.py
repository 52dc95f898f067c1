"""MATLAB's occlusionSensitivity for Python: same call, same options, same numbers.

MATLAB's names, options, defaults, 1-based channels and H×W×C images, on ONNX Runtime or torch:

>>> from skimage import data
>>> from matlab_occsens import importNetworkFromONNX, imresize, occlusionSensitivity
>>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
>>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
>>> scoreMap = occlusionSensitivity(net, imresize(data.coffee(), net.InputSize[:2]), 968)  # "espresso"
>>> scoreMap.shape
(224, 224)
"""

from ._core.callforms import MatlabCompatibilityNote, classify
from ._core.labels import scores2label
from ._core.occlusion import occlusionSensitivity
from ._core.predict import predict
from ._version import __version__ as __version__  # the one version, also read by pyproject.toml
from .image import imread, imresize, imresize3, imshow, imwrite, jet, overlayScoreMap, rescale
from .network import importNetworkFromONNX, importNetworkFromPyTorch

__all__ = [
    "occlusionSensitivity",
    "importNetworkFromONNX",
    "importNetworkFromPyTorch",
    "imresize",
    "imresize3",
    "predict",
    "scores2label",
    "classify",
    "rescale",
    "imread",
    "imwrite",
    "jet",
    "overlayScoreMap",
    "imshow",
    "MatlabCompatibilityNote",
]
