"""The MATLAB-facing network objects, their input layer and their importers."""

from .base import Network
from .importer import importNetworkFromONNX
from .layers import ImageInputLayer, NodeLayer
from .onnx_network import OnnxNetwork
from .pytorch_importer import importNetworkFromPyTorch

__all__ = [
    "Network",
    "ImageInputLayer",
    "NodeLayer",
    "OnnxNetwork",
    "importNetworkFromONNX",
    "importNetworkFromPyTorch",
]
