"""ONNX files on the torch backend: the graph converted to a torch module by onnx2torch."""

from __future__ import annotations

import onnx
import torch
from onnx import numpy_helper
from onnx2torch import convert

from .torch_engine import TorchEngine, cpu_workers, replicas, torch_device

__all__ = ["onnx_torch_engine"]


def _constants_as_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Move ``Constant`` nodes' tensors into initializers (in place), as onnx2torch expects
    weights there; old exporters (PP-OCR's) keep every weight in a Constant node."""
    graph = model.graph
    constants = [node for node in graph.node if node.op_type == "Constant" and len(node.attribute) == 1]
    movable = [node for node in constants if node.attribute[0].name == "value"]
    for node in movable:
        graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(node.attribute[0].t), node.output[0]))
    moved = {id(node) for node in movable}
    kept = [node for node in graph.node if id(node) not in moved]
    del graph.node[:]
    graph.node.extend(kept)
    return model


def onnx_torch_engine(model: onnx.ModelProto, environment: str, max_batch: int | None = None) -> TorchEngine:
    """An ONNX model (already cut to the selected outputs) converted by onnx2torch."""
    device = torch_device(environment)
    try:
        module = convert(_constants_as_initializers(model))
    except Exception as error:  # onnx2torch raises NotImplementedError, KeyError, ... per operator
        raise ValueError(
            f'importNetworkFromONNX(..., Backend="torch"): onnx2torch cannot convert this network '
            f'({type(error).__name__}: {error}); use Backend="onnxruntime".'
        ) from error
    module = module.eval().to(device)
    return TorchEngine([_GraphOutputs(replica) for replica in replicas(module, cpu_workers(device))], device, max_batch)


class _GraphOutputs:
    """A converted graph's outputs as a list, whether it has one output or several."""

    def __init__(self, module: torch.nn.Module) -> None:
        self._module = module

    def __call__(self, batch: torch.Tensor) -> list[torch.Tensor]:
        result = self._module(batch)
        return list(result) if isinstance(result, (tuple, list)) else [result]
