"""Network objects: what occlusionSensitivity needs from a network, and the backends that run it."""

from .base import Engine, Network
from .importer import importNetworkFromONNX
from .layers import ImageInputLayer, NodeLayer
from .onnx import OnnxNetwork
from .pytorch_importer import importNetworkFromPyTorch

__all__ = [
    "Engine",
    "Network",
    "ImageInputLayer",
    "NodeLayer",
    "OnnxNetwork",
    "importNetworkFromONNX",
    "importNetworkFromPyTorch",
]
