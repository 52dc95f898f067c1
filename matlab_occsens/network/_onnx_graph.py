"""Reading an ONNX graph the way MATLAB's importer does: one image input, named layers, outputs.

Independent of the runtime, so the ONNX Runtime and torch backends read a file identically:
which input is the image, its layout (NCHW or NHWC), its size, whether the batch axis is fixed,
the static shapes of every tensor, and a copy of the graph whose outputs are the tensors the user
selected (which also drops every node those outputs do not need).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from .._core.formats import formats_of_rank, input_kind, input_size_of, is_sequence, native_shape, size_names
from ._layers import NodeLayer
from ._onnx_layouts import CHANNELS_FIRST_OPERATORS, derive_layouts

__all__ = ["OnnxGraph"]

_FUNCTION = "importNetworkFromONNX"
_BATCH_PARAM = "batch"
_LAYOUT_NAMES = {
    "BCSS": "NCHW",
    "BSSC": "NHWC",
    "BCSSS": "NCDHW",
    "BSSSC": "NDHWC",
    "BCT": "N×C×T",
    "BTC": "N×T×C",
}


def _quoted(fmt: str) -> str:
    return f'"{fmt}"'


def _dims(value_info: onnx.ValueInfoProto) -> list[int | None] | None:
    """Static dimensions (None where symbolic or unknown), or None when the rank is unknown."""
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    # some exporters (Paddle) write -1 for a dynamic axis
    return [dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None for dim in tensor.shape.dim]


def detect_input_format(dims: list[int | None]) -> str | None:
    """The channels-first or channels-last layout of an input of these static dimensions, when
    they tell them apart, else None.

    The channel axis is axis 1 or the last one: the one that is static and smaller than every
    other non-batch axis (a dynamic size counts as larger). [N,3,224,224] and [N,3,H,W] are
    NCHW, [N,224,224,3] is NHWC; [N,1,48,48,48] is NCDHW; [N,12,T] is N×C×T.
    """
    formats = formats_of_rank(len(dims))
    if formats is None:
        return None

    def channel_like(index: int) -> bool:
        candidate = dims[index]
        others = [size for axis, size in enumerate(dims[1:], start=1) if axis != index]
        return candidate is not None and all(other is None or other > candidate for other in others)

    first, last = channel_like(1), channel_like(len(dims) - 1)
    return formats[0] if first and not last else formats[1] if last and not first else None


def consumers_format(model: onnx.ModelProto, input_name: str, rank: int) -> str | None:
    """The layout the graph itself gives its input, or None where it does not say.

    ONNX defines convolution, pooling and normalisation on channels-first tensors, so an input
    read only by such operators is channels first; one read only by a ``Transpose`` that moves
    its last axis to axis 1 (NHWC to NCHW, N×T×C to N×C×T) is channels last.
    """
    formats = formats_of_rank(rank)
    readers = [node for node in model.graph.node if input_name in node.input]
    if formats is None or not readers:
        return None
    to_channels_first = [0, rank - 1, *range(1, rank - 1)]
    if all(node.op_type in CHANNELS_FIRST_OPERATORS and node.input[0] == input_name for node in readers):
        return formats[0]
    if all(node.op_type == "Transpose" and _perm(node) == to_channels_first for node in readers):
        return formats[1]
    return None


def _perm(node: onnx.NodeProto) -> list[int] | None:
    return next((list(attr.ints) for attr in node.attribute if attr.name == "perm"), None)


def _shown(dims: Sequence[int | None]) -> list[int | str]:
    return ["?" if dim is None else dim for dim in dims]


@dataclass(frozen=True)
class _TensorInfo:
    elem_type: int
    shape: tuple[int | None, ...] | None


class OnnxGraph:
    """An imported ONNX model: its image input, layers, tensor shapes and output selection."""

    def __init__(
        self,
        model: onnx.ModelProto,
        input_format: str | None = None,
        input_size: tuple[int, ...] | None = None,
    ) -> None:
        self.model = model
        initializers = {init.name for init in model.graph.initializer}
        inputs = [value for value in model.graph.input if value.name not in initializers]
        if len(inputs) != 1:
            names = ", ".join(value.name for value in inputs) or "none"
            raise ValueError(
                f"{_FUNCTION}: the network must have exactly one image input; this one has {len(inputs)} ({names})."
            )
        self.input = inputs[0]
        dims = _dims(self.input)
        if dims is None or formats_of_rank(len(dims)) is None:
            raise ValueError(
                f"{_FUNCTION}: the input {self.input.name!r} must be a 4-D image batch (NCHW or NHWC), "
                f"a 5-D volume batch (NCDHW or NDHWC) or a 3-D signal batch (N×C×T or N×T×C); "
                f"its shape is {dims if dims is not None else 'unknown'}."
            )
        if self.input.type.tensor_type.elem_type != TensorProto.FLOAT:
            raise ValueError(
                f"{_FUNCTION}: the input {self.input.name!r} must be float32; its ONNX type is "
                f"{TensorProto.DataType.Name(self.input.type.tensor_type.elem_type)}."
            )
        self.input_format = self._resolve_format(dims, input_format)
        self.input_size = self._resolve_size(dims, input_size)
        self.fixed_batch = dims[0] is not None
        self.layers = tuple(
            NodeLayer(node.name or node.output[0], node.op_type, tuple(node.output)) for node in model.graph.node
        )
        self._tensor_of_layer = {layer.Name: layer.Outputs[0] for layer in self.layers if layer.Outputs}
        self._tensors = {name for layer in self.layers for name in layer.Outputs if name}
        self._info = self._infer_tensor_info()
        self.layouts = derive_layouts(model, self.input.name, self.input_format, self._static_rank)

    # ------------------------------------------------------------------ import-time resolution
    def _resolve_format(self, dims: list[int | None], given: str | None) -> str:
        formats = formats_of_rank(len(dims))
        assert formats is not None  # the rank was checked
        if given is not None:
            if given not in formats:
                raise ValueError(
                    f"{_FUNCTION}: InputDataFormats {given!r} does not fit input {self.input.name!r}, which has "
                    f"{len(dims)} axes {_shown(dims)}; give {formats[0]!r} or {formats[1]!r}."
                )
            return given
        by_size = detect_input_format(dims)
        by_graph = consumers_format(self.model, self.input.name, len(dims))
        if by_size is not None and by_graph is not None and by_size != by_graph:
            raise ValueError(
                f"{_FUNCTION}: input {self.input.name!r} with shape {_shown(dims)} looks {by_size!r} by its "
                f"sizes but the graph reads it as {by_graph!r}; pass InputDataFormats={formats[0]!r} "
                f"(channels on axis 1) or {formats[1]!r} (channels last)."
            )
        if by_size is None:
            raise ValueError(
                f"{_FUNCTION}: cannot tell whether input {self.input.name!r} with shape "
                f"{_shown(dims)} has its channels on axis 1 or last; pass "
                f"InputDataFormats={_quoted(formats[0])} ({_LAYOUT_NAMES[formats[0]]}) or "
                f"{_quoted(formats[1])} ({_LAYOUT_NAMES[formats[1]]})."
            )
        return by_size

    def _resolve_size(self, dims: list[int | None], given: tuple[int, ...] | None) -> tuple[int, ...]:
        fmt = self.input_format
        names = size_names(fmt)
        graph_size = input_size_of(fmt, tuple(dims[1:]))
        shown = f"{_shown(graph_size)} ({'×'.join(names)})"
        if given is None:
            if None in graph_size:
                raise ValueError(
                    f"{_FUNCTION}: input {self.input.name!r} has dynamic size {shown}; pass "
                    f"InputSize=[{' '.join(names)}] for the {input_kind(fmt)}s you will use."
                )
            return graph_size  # type: ignore[return-value]
        without_channels = len(names) - 1 if not is_sequence(fmt) else None
        size: tuple[int | None, ...] = (*given, graph_size[-1]) if len(given) == without_channels else given
        if len(size) != len(names):
            accepted = f"[{' '.join(names)}]" + (f" or [{' '.join(names[:-1])}]" if without_channels else "")
            raise ValueError(
                f"{_FUNCTION}: InputSize must be {accepted} for input {self.input.name!r} ({fmt}); got {list(given)}."
            )
        if None in size:
            raise ValueError(
                f"{_FUNCTION}: the channel count is dynamic in the file; give InputSize=[{' '.join(names)}]."
            )
        for axis, (stated, wanted) in enumerate(zip(graph_size, size)):
            if stated is not None and stated != wanted:
                raise ValueError(
                    f"{_FUNCTION}: InputSize {list(size)} conflicts with the file, whose input "
                    f"{self.input.name!r} is {shown} (dimension {axis + 1})."
                )
        return size  # type: ignore[return-value]

    def _infer_tensor_info(self) -> dict[str, _TensorInfo]:
        """Types and shapes of every tensor for a batch of one image of InputSize."""
        model = copy.deepcopy(self.model)
        _set_dims(model.graph.input, self.input.name, list(native_shape(self.input_format, self.input_size, 1)))
        del model.graph.value_info[:]
        try:
            model = onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:  # an exotic graph: fall back to what the file itself states
            model = self.model
        info: dict[str, _TensorInfo] = {}
        for value in [*model.graph.value_info, *model.graph.output]:
            dims = _dims(value)
            info[value.name] = _TensorInfo(value.type.tensor_type.elem_type, None if dims is None else tuple(dims))
        return info

    # ------------------------------------------------------------------ outputs
    @property
    def graph_outputs(self) -> list[str]:
        return [value.name for value in self.model.graph.output]

    def tensor_name(self, name: str) -> str:
        """The tensor a layer or tensor name refers to (a layer means its first output)."""
        if name in self._tensor_of_layer:
            return self._tensor_of_layer[name]
        if name in self._tensors:
            return name
        shown = ", ".join(layer.Name for layer in self.layers[-8:])
        raise ValueError(
            f"OutputNames: {name!r} is neither a layer nor a tensor of this network (layers end with: "
            f"{shown}; see net.Layers for all {len(self.layers)})."
        )

    def _static_rank(self, tensor: str) -> int | None:
        info = self._info.get(tensor)
        return None if info is None or info.shape is None else len(info.shape)

    def layout(self, name: str, rank: int) -> str | None:
        """The format of layer or tensor ``name`` derived from the input's, or None."""
        return self.layouts.of(self.tensor_name(name), rank)

    def layout_lost_at(self, name: str) -> str | None:
        """The node after which the layout of ``name`` can no longer be followed."""
        return self.layouts.lost_at.get(self.tensor_name(name))

    def static_shape(self, name: str) -> tuple[int | None, ...] | None:
        info = self._info.get(self.tensor_name(name))
        return None if info is None else info.shape

    def selecting(self, names: list[str], batchable: bool) -> onnx.ModelProto:
        """A copy of the model whose graph outputs are ``names``, unused nodes removed.

        With ``batchable`` the batch axis becomes symbolic, so a file saved with batch 1 runs a
        whole mini-batch per call; intermediate shapes are dropped for the runtime to re-infer.
        """
        model = copy.deepcopy(self.model)
        graph = model.graph
        tensors = [self.tensor_name(name) for name in names]
        del graph.output[:]
        for tensor in tensors:
            info = self._info.get(tensor)
            elem_type = info.elem_type if info is not None and info.elem_type else TensorProto.FLOAT
            graph.output.append(onnx.helper.make_tensor_value_info(tensor, elem_type, None))
        _prune(graph, tensors)
        if batchable:
            del graph.value_info[:]
            dims = self.input.type.tensor_type.shape.dim
            dims_after = [_BATCH_PARAM, *[d.dim_value or d.dim_param or None for d in dims[1:]]]
            _set_dims(graph.input, self.input.name, dims_after)
        return model


def _set_dims(values: Any, name: str, dims: list[int | str | None]) -> None:
    for value in values:
        if value.name == name:
            shape = value.type.tensor_type.shape
            del shape.dim[:]
            for dim in dims:
                entry = shape.dim.add()
                if isinstance(dim, (int, np.integer)) and dim:
                    entry.dim_value = int(dim)
                elif isinstance(dim, str):
                    entry.dim_param = dim


def _prune(graph: onnx.GraphProto, outputs: list[str]) -> None:
    """Keep only the nodes the outputs depend on (walking backwards through the node list)."""
    needed = set(outputs)
    kept = []
    for node in reversed(graph.node):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
            for attribute in node.attribute:  # subgraphs (If, Loop) read outer tensors implicitly
                for subgraph in [attribute.g, *attribute.graphs]:
                    needed.update(_outer_names(subgraph))
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _outer_names(graph: onnx.GraphProto) -> set[str]:
    names = {name for node in graph.node for name in node.input}
    for node in graph.node:
        for attribute in node.attribute:
            for subgraph in [attribute.g, *attribute.graphs]:
                names |= _outer_names(subgraph)
    return names
