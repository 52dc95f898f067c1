"""The MATLAB-facing network objects, their input layer and their importers.

``importNetworkFromONNX`` returns an :class:`OnnxNetwork` and ``importNetworkFromPyTorch`` a
:class:`TorchModuleNetwork`; both are a :class:`Network`, whose ``Layers`` start with an
:class:`ImageInputLayer` followed by one :class:`NodeLayer` per graph node or module.
``TorchModuleNetwork`` is imported on first use, so torch stays an optional extra.
"""

from typing import Any

from ._base import Network
from ._layers import ImageInputLayer, NodeLayer
from ._onnx_importer import importNetworkFromONNX
from ._onnx_network import OnnxNetwork
from ._pytorch_importer import importNetworkFromPyTorch

__all__ = [
    "ImageInputLayer",
    "Network",
    "NodeLayer",
    "OnnxNetwork",
    "TorchModuleNetwork",
    "importNetworkFromONNX",
    "importNetworkFromPyTorch",
]


def __getattr__(name: str) -> Any:
    if name == "TorchModuleNetwork":  # imports torch
        from ._torch_network import TorchModuleNetwork

        return TorchModuleNetwork
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
