"""Reading an ONNX model the user hands over, safely and with errors that name the file.

Two guarantees: the model reads no file outside its own folder (external data is resolved, after
symbolic links, inside the folder of the model, or inside the folder the user names for a model
given as bytes or a ModelProto), and a model that ONNX Runtime cannot run is refused at import
with its problem, not at the first map with the runtime's raw exception.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator
from pathlib import Path

import onnx
from onnx.external_data_helper import load_external_data_for_model, uses_external_data

__all__ = ["check_runnable", "load_model"]

_FUNCTION = "importNetworkFromONNX"
_TORCH_SUFFIXES = (".pt", ".pt2", ".pth", ".ptl")
#: ONNX Runtime's messages start with a status code and often a source location and signature.
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : (?:\S+:\d+ [^\]]*?\) )?")


def load_model(
    source: str | os.PathLike | bytes | onnx.ModelProto, external_data_folder: str | os.PathLike | None = None
) -> onnx.ModelProto:
    """A private copy of the model with any external data read in, from a path, serialized bytes
    or a ModelProto (the caller's ModelProto is never modified)."""
    if isinstance(source, onnx.ModelProto):
        model, folder = copy.deepcopy(source), external_data_folder
    elif isinstance(source, (bytes, bytearray, memoryview)):
        model, folder = _parse(bytes(source), "the model's bytes"), external_data_folder
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        model, folder = _read_file(path), path.parent if external_data_folder is None else external_data_folder
    else:
        raise TypeError(
            f"{_FUNCTION}: modelfile must be a file path, the model's bytes or an onnx.ModelProto; "
            f"got {type(source).__name__}."
        )
    external = [tensor for tensor in _tensors(model) if uses_external_data(tensor)]
    if external:
        if folder is None:
            raise ValueError(
                f"{_FUNCTION}: the model keeps {len(external)} tensors in external data files "
                f"({_location(external[0])!r}, ...), and a model given as bytes or a ModelProto has no "
                f"folder to find them in; pass ExternalDataFolder=<the folder the model was saved in>."
            )
        _check_locations(external, Path(folder))
        load_external_data_for_model(model, str(folder))
    return model


def _read_file(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise ValueError(f"{_FUNCTION}: modelfile {str(path)!r} does not exist or is not a file.")
    if path.suffix.lower() in _TORCH_SUFFIXES:
        raise ValueError(
            f"{_FUNCTION}: {str(path)!r} is a PyTorch file ({path.suffix}); import it with "
            f"importNetworkFromPyTorch, or export it to ONNX first."
        )
    if path.stat().st_size == 0:
        raise ValueError(f"{_FUNCTION}: {str(path)!r} is empty (0 bytes); it holds no model.")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{_FUNCTION}: {str(path)!r} cannot be read ({error}).") from error
    return _parse(data, repr(str(path)))


def _parse(data: bytes, shown: str) -> onnx.ModelProto:
    if not data:
        raise ValueError(f"{_FUNCTION}: {shown} is empty (0 bytes); it holds no model.")
    try:
        model = onnx.load_from_string(data)
    except Exception as error:  # protobuf's DecodeError and friends for foreign bytes
        raise ValueError(f"{_FUNCTION}: {shown} is not a readable ONNX file ({error}).") from error
    if not model.HasField("graph"):
        raise ValueError(f"{_FUNCTION}: {shown} is not an ONNX model (it has no graph).")
    return model


def _tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of the model that may keep its data outside the file, subgraphs included."""

    def of_graph(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
        yield from graph.initializer
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.HasField("t"):
                    yield attribute.t
                yield from attribute.tensors
                for subgraph in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                    yield from of_graph(subgraph)

    yield from of_graph(model.graph)


def _location(tensor: onnx.TensorProto) -> str:
    return next((entry.value for entry in tensor.external_data if entry.key == "location"), "")


def _check_locations(tensors: list[onnx.TensorProto], folder: Path) -> None:
    """Each external data file must be inside ``folder`` once symbolic links are followed."""
    root = Path(os.path.realpath(folder))
    for tensor in tensors:
        location = _location(tensor)
        resolved = Path(os.path.realpath(root / location))
        if not location or Path(location).is_absolute() or not resolved.is_relative_to(root):
            raise ValueError(
                f"{_FUNCTION}: tensor {tensor.name!r} keeps its data at {location!r}, which resolves to "
                f"{str(resolved)!r}, outside the model's folder {str(root)!r}; a model may only read "
                f"external data from its own folder."
            )
        if not resolved.is_file():
            raise ValueError(
                f"{_FUNCTION}: tensor {tensor.name!r} keeps its data in {location!r}, which is not a file "
                f"in {str(root)!r}."
            )


def check_runnable(model: onnx.ModelProto, shown: str) -> None:
    """Build an ONNX Runtime session for the model once, unoptimised (cheap), and turn its refusal
    (unknown operator or domain, unsupported opset or IR version, cycles, dangling inputs) into a
    ValueError naming the model, before any map is attempted."""
    try:
        import onnxruntime as ort
    except ModuleNotFoundError:  # the torch backend alone: onnx2torch reports what it cannot convert
        return
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's Fail, InvalidGraph, InvalidArgument, ...
        message = _ORT_PREFIX.sub("", str(error).strip()).splitlines()[0]
        raise ValueError(f"{_FUNCTION}: {shown} cannot be run by ONNX Runtime: {message}") from error
