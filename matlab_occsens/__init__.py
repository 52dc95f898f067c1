"""MATLAB's occlusionSensitivity for Python: same call, same options, same numbers.

>>> from matlab_occsens import importNetworkFromONNX, occlusionSensitivity  # doctest: +SKIP
>>> scoreMap = occlusionSensitivity(net, X, 968)                            # doctest: +SKIP
"""

from ._core.callforms import MatlabCompatibilityNote, classify
from ._core.labels import scores2label
from ._core.occlusion import occlusionSensitivity
from ._core.predict import predict
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
__version__ = "0.1.0"
