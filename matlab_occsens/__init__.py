"""MATLAB's occlusionSensitivity for Python: same call, same options, same numbers.

>>> from matlab_occsens import importNetworkFromONNX, occlusionSensitivity  # doctest: +SKIP
>>> scoreMap = occlusionSensitivity(net, X, 968)                            # doctest: +SKIP
"""

from .callforms import MatlabCompatibilityNote, classify
from .image import imread, imresize, imshow, imwrite, jet, overlayScoreMap, rescale
from .labels import scores2label
from .network import importNetworkFromONNX, importNetworkFromPyTorch
from .occlusion import occlusionSensitivity
from .predict import predict

__all__ = [
    "occlusionSensitivity",
    "importNetworkFromONNX",
    "importNetworkFromPyTorch",
    "imresize",
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
