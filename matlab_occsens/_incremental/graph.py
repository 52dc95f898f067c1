"""Which part of an ONNX graph is spatially local, where it can be cut, and the models between cuts.

A node is *local* when each output pixel depends only on a window of input pixels (convolution,
pooling, ``Pad``) or on the same pixel (element-wise layers, batch norm, channel concatenation,
residual additions), and its other operands are constants that do not vary over space. The local
part starts at the input and ends where the graph does something global (global pooling,
``Gemm``, ``Reshape``, attention, squeeze-excitation products, ...). Images, volumes and signals
alike: a tensor of the local part is (N, C, *spatial) with the input's k spatial axes (k = 2, 3
or 1), and every local node reads each spatial axis through a window of its own.

A *cut* is a local tensor through which all data flows: the nodes computing it (its ancestors)
reach the rest of the graph only through it, apart from ``Shape`` nodes, whose values the suffix
model recomputes from the batch size. The incremental path runs the graph as a chain of models
between cuts, so each piece has one input and one output.

Sub-models keep the original nodes, so ONNX Runtime folds and fuses them as it does the whole
graph; only ``auto_pad`` is written out as explicit pads, because "SAME" padding recomputed on a
crop would differ from the padding of the full image.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from .._backends.ort import session_options
from .._core.formats import channels_first, spatial_rank
from .windows import IDENTITY, Window

__all__ = ["LocalNode", "SpatialGraph", "Unsupported"]

_UNARY = frozenset(
    "Abs Acos Acosh Asin Asinh Atan Atanh BatchNormalization Cast Ceil Celu Clip Cos Cosh Dropout Elu Erf "
    "Exp Floor Gelu HardSigmoid HardSwish Identity LeakyRelu Log LRN Mish Neg Reciprocal Relu Round Selu "
    "Shrink Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Tan Tanh ThresholdedRelu".split()
)
_BINARY = frozenset("Add Sub Mul Div Pow Max Min Sum Mean PRelu".split())
_POOLS = frozenset(("MaxPool", "AveragePool"))
FUSABLE = frozenset(("BatchNormalization", "Clip", "HardSigmoid", "HardSwish", "LeakyRelu", "Relu", "Sigmoid", "Tanh"))
"""Element-wise layers that ONNX Runtime folds into a convolution right before them."""
_RANDOM = frozenset(("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"))
_BATCH = "N"


class Unsupported(Exception):
    """The graph, or the part of it asked for, is outside what the incremental path handles."""


@dataclass(frozen=True)
class LocalNode:
    """A local node: its data inputs, its output, and how it reads each spatial axis."""

    index: int
    op_type: str
    inputs: tuple[str, ...]
    output: str
    windows: tuple[Window, ...]
    """One per spatial axis (rows and columns of an image; three for a volume; time for a signal)."""
    macs_per_pixel: int
    """Multiply-adds per output pixel, all channels (0 for element-wise layers)."""
    per_channel: bool = False
    """Each output channel reads only its own input channel (depthwise convolution, pooling)."""


def _attributes(node: onnx.NodeProto) -> dict:
    values = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        values[attribute.name] = value.decode() if isinstance(value, bytes) else value
    return values


def _has_subgraph(node: onnx.NodeProto) -> bool:
    graphs = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    return any(attribute.type in graphs for attribute in node.attribute)


def _same_pads(size: int, window: Window, mode: str) -> tuple[int, int]:
    """Explicit (begin, end) pads of ONNX's auto_pad for an input of ``size``."""
    if mode == "VALID":
        return 0, 0
    total = max((-(-size // window.stride) - 1) * window.stride + window.extent - size, 0)
    begin = total // 2 if mode == "SAME_UPPER" else total - total // 2
    return begin, total - begin


def _sliding_windows(attrs: dict, kernel: tuple[int, ...], size: tuple[int, ...]) -> tuple[Window, ...]:
    """The windows, one per spatial axis, of a Conv or pooling node on an input of spatial ``size``."""
    rank = len(size)
    if len(kernel) != rank:
        raise Unsupported(f"its kernel has {len(kernel)} axes for {rank} spatial axes")
    strides = attrs.get("strides", [1] * rank)
    dilations = attrs.get("dilations", [1] * rank)
    pads = attrs.get("pads", [0] * 2 * rank)
    mode = attrs.get("auto_pad", "NOTSET")
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    windows = []
    for axis in range(rank):
        window = Window(kernel[axis], strides[axis], dilations[axis], pads[axis], pads[axis + rank], ceil_mode)
        if mode != "NOTSET":
            begin, end = _same_pads(size[axis], window, mode)
            window = Window(kernel[axis], strides[axis], dilations[axis], begin, end, ceil_mode)
        windows.append(window)
    return tuple(windows)


class SpatialGraph:
    """An ONNX model seen as a local prefix with cuts, and the sub-models between cuts.

    Parameters
    ----------
    model : onnx.ModelProto
        A model with one image input (batch axis symbolic) and one output, every node needed for
        that output (see ``OnnxGraph.selecting``).
    input_shape : tuple of int
        ``(1, C, *spatial)``, or ``(1, *spatial, C)`` for a channels-last layout: the full input
        the map is computed for.
    input_format : {"BCSS", "BSSC", "BCSSS", "BSSSC", "BCT", "BTC"}
        The input's layout. A channels-last input (NHWC "BSSC", "BSSSC", "BTC") must go through
        a ``Transpose`` to channels first (perm [0, 3, 1, 2] for an image, as tf2onnx and
        ``permute`` wrappers write it) before anything else reads it; the analysis then starts
        after that transpose (:attr:`front_perm`).
    """

    def __init__(self, model: onnx.ModelProto, input_shape: tuple[int, ...], input_format: str = "BCSS") -> None:
        self.model = model
        graph = model.graph
        if len(graph.output) != 1:
            raise Unsupported("the incremental path needs exactly one selected output")
        initializers = {init.name for init in graph.initializer}
        (self.source,) = [value.name for value in graph.input if value.name not in initializers]
        """The model's own input, in the network's layout."""
        self.output = graph.output[0].name
        self._nodes = list(graph.node)
        if any(_has_subgraph(node) for node in self._nodes):
            raise Unsupported("the graph has control flow (If, Loop or Scan)")
        self._constant_nodes, self._values = self._fold_constants()
        self._producer = {
            name: index
            for index, node in enumerate(self._nodes)
            if index not in self._constant_nodes
            for name in node.output
        }
        self._consumers: dict[str, list[int]] = {}
        for index, node in enumerate(self._nodes):
            if index not in self._constant_nodes:
                for name in node.input:
                    self._consumers.setdefault(name, []).append(index)
        self.rank = spatial_rank(input_format)
        """Spatial axes of the input: 2 for an image, 3 for a volume, 1 for a signal."""
        self.shapes, self._types = self._infer_shapes(input_shape)
        self.input = self.source
        """Where the local part starts: the source, or the channels-first tensor its front
        transpose makes."""
        self.front_perm: tuple[int, ...] | None = None
        """The axes the front transpose takes the source's to (None without one)."""
        if not channels_first(input_format):
            self.input, self.front_perm = self._channels_first_front(input_format)
        self.nodes: list[LocalNode] = []
        self.strides: dict[str, tuple[int, ...]] = {self.input: (1,) * self.rank}
        self.stop_reason: str | None = None
        self._find_local_nodes()
        self._ancestors: dict[str, frozenset[int]] = {}
        self.cuts = [name for name in self.strides if self._is_cut(name) and not self._splits_fusion(name)]

    # ------------------------------------------------------------------ constants and shapes
    def _fold_constants(self) -> tuple[set[int], dict[str, np.ndarray]]:
        """Indices of the nodes whose outputs do not depend on the image, and their values."""
        constant = {init.name for init in self.model.graph.initializer}
        indices: set[int] = set()
        for index, node in enumerate(self._nodes):
            inputs = [name for name in node.input if name]
            if node.op_type in _RANDOM or not (inputs or node.op_type == "Constant"):
                continue
            if all(name in constant for name in inputs):
                indices.add(index)
                constant.update(node.output)
        values = {init.name: numpy_helper.to_array(init) for init in self.model.graph.initializer}
        folded = [self._nodes[index] for index in sorted(indices)]
        if folded:
            outputs = [name for node in folded for name in node.output if name]
            graph = helper.make_graph(
                folded,
                "constants",
                [],
                [helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None) for name in outputs],
                initializer=list(self.model.graph.initializer),
            )
            model = helper.make_model(graph, opset_imports=self.model.opset_import)
            model.ir_version = self.model.ir_version
            try:
                results: Any = ReferenceEvaluator(model).run(None, {})
                values.update(zip(outputs, results))
            except Exception as error:  # an operator the reference evaluator lacks, for one
                raise Unsupported(f"its constant subgraphs cannot be evaluated ({error})") from error
        return indices, values

    def _infer_shapes(self, input_shape: tuple[int, ...]) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
        """Shapes and element types of the data tensors for one full image.

        Types come from ONNX shape inference; shapes from running the graph once in ONNX
        Runtime, which is the authority on the sizes its kernels produce (pooling with
        ``ceil_mode``, for one, is not computed alike everywhere).
        """
        data_nodes = [node for index, node in enumerate(self._nodes) if index not in self._constant_nodes]
        used = {name for node in data_nodes for name in node.input}
        initializers = [
            numpy_helper.from_array(np.asarray(value), name) for name, value in self._values.items() if name in used
        ]
        source = helper.make_tensor_value_info(self.source, TensorProto.FLOAT, list(input_shape))
        outputs = list(self.model.graph.output)
        graph = helper.make_graph(data_nodes, "shapes", [source], outputs, initializer=initializers)
        model = helper.make_model(graph, opset_imports=self.model.opset_import)
        model.ir_version = self.model.ir_version
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception as error:  # onnx raises its own error types for graphs it cannot type
            raise Unsupported(f"ONNX shape inference failed ({error})") from error
        infos = [*inferred.graph.value_info, *inferred.graph.output]
        types = {info.name: info.type.tensor_type.elem_type for info in infos}
        types[self.source] = TensorProto.FLOAT
        names = [name for node in data_nodes for name in node.output if types.get(name)]
        del model.graph.output[:]
        model.graph.output.extend(helper.make_tensor_value_info(name, types[name], None) for name in names)
        options = session_options()
        # Unoptimised, so that every intermediate tensor is computed as the graph states it.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            values = session.run(names, {self.source: np.zeros(input_shape, np.float32)})
        except Exception as error:  # the runtime's own error types
            raise Unsupported(f"ONNX Runtime could not run the graph on its own ({error})") from error
        shapes = {name: tuple(value.shape) for name, value in zip(names, values)}
        shapes[self.source] = tuple(input_shape)
        return shapes, types

    def _channels_first_front(self, input_format: str) -> tuple[str, tuple[int, ...]]:
        """The channels-first tensor the channels-last source is transposed to before any other
        node reads it (NHWC to NCHW for an image)."""
        readers = [self._nodes[index] for index in self._consumers.get(self.source, [])]
        data = [node for node in readers if node.op_type != "Shape"]
        perm = _attributes(data[0]).get("perm") if len(data) == 1 and data[0].op_type == "Transpose" else None
        wanted = [0, self.rank + 1, *range(1, self.rank + 1)]
        if perm is None or list(perm) != wanted:
            raise Unsupported(
                f"a channels-last ({input_format}) input must first go through a Transpose to channels "
                f"first{' (NCHW)' if self.rank == 2 else ''} (perm {wanted}); this graph reads it otherwise"
            )
        return data[0].output[0], tuple(perm)

    # ------------------------------------------------------------------ the local part
    def _find_local_nodes(self) -> None:
        for index, node in enumerate(self._nodes):
            if index in self._constant_nodes:
                continue
            data = [name for name in node.input if name and name not in self._values]
            if not data or not all(name in self.strides for name in data):
                continue  # fed by a non-local tensor: part of the suffix, nothing to report
            try:
                windows, macs, per_channel = self._windows(node, data)
                strides = {
                    tuple(step * window.stride for step, window in zip(self.strides[name], windows)) for name in data
                }
                if len(strides) != 1:
                    raise Unsupported("its inputs come from different strides")
                size_in, size_out = self.shapes[data[0]][2:], self.shapes[node.output[0]][2:]
                if tuple(window.out_size(size) for window, size in zip(windows, size_in)) != size_out:
                    raise Unsupported("its output size does not follow from its window (an unknown attribute?)")
            except Unsupported as reason:
                if self.stop_reason is None and node.op_type != "Shape":
                    self.stop_reason = f"{node.op_type} node {node.name or node.output[0]!r}: {reason}"
                continue
            self.nodes.append(LocalNode(index, node.op_type, tuple(data), node.output[0], windows, macs, per_channel))
            self.strides[node.output[0]] = strides.pop()

    def _shape(self, name: str) -> tuple[int, ...]:
        shape = self.shapes.get(name)
        if shape is None or len(shape) != 2 + self.rank:
            raise Unsupported(f"tensor {name!r} is not a {2 + self.rank}-D tensor of known size")
        return shape

    def _windows(self, node: onnx.NodeProto, data: list[str]) -> tuple[tuple[Window, ...], int, bool]:
        """The windows (one per spatial axis), multiply-adds per output pixel and whether each
        output channel reads only its own input channel, for a local node."""
        if any(name and (name in self._consumers or name == self.output) for name in node.output[1:]):
            raise Unsupported("a second output is used")
        attrs = _attributes(node)
        shape_in = self._shape(data[0])
        shape_out = self._shape(node.output[0])
        op = node.op_type
        if op == "Conv":
            if node.input[1] not in self._values or len(data) != 1:
                raise Unsupported("its weights are not constant")
            weights = self._values[node.input[1]].shape
            kernel = tuple(attrs.get("kernel_shape", weights[2:]))
            return _sliding_windows(attrs, kernel, shape_in[2:]), *self.macs_per_pixel(node)
        if op in _POOLS:
            return _sliding_windows(attrs, tuple(attrs["kernel_shape"]), shape_in[2:]), *self.macs_per_pixel(node)
        if op == "Pad":
            return self._pad_windows(node, attrs)
        if op == "Concat":
            if attrs["axis"] not in (1, -1 - self.rank):
                raise Unsupported("it concatenates along a spatial axis")
            if len(data) != len([name for name in node.input if name]):
                raise Unsupported("it concatenates constants")
            return self._identity, 0, False
        if op in _BINARY:
            for name in node.input:
                self._check_operand(name, shape_out)
            return self._identity, 0, False
        if op in _UNARY:
            if len(data) != 1 or data[0] != node.input[0]:
                raise Unsupported("a parameter is computed from the image")
            if attrs.get("training_mode", 0) or (op == "Dropout" and len(node.input) > 2 and node.input[2]):
                raise Unsupported("it runs in training mode")
            return self._identity, 0, False
        raise Unsupported("this operator ends the local part")

    @property
    def _identity(self) -> tuple[Window, ...]:
        return (IDENTITY,) * self.rank

    def _check_operand(self, name: str, shape_out: tuple[int, ...]) -> None:
        """A binary operand must be a same-sized data tensor or a constant constant over space."""
        if name in self._values:
            rank = 2 + self.rank
            shape = (1,) * (rank - self._values[name].ndim) + self._values[name].shape
            if len(shape) > rank or any(size != 1 for size in shape[2:]):
                raise Unsupported(f"the constant {name!r} varies over space")
        elif self._shape(name) != shape_out:
            raise Unsupported("it broadcasts one image tensor over another")

    def _pad_windows(self, node: onnx.NodeProto, attrs: dict) -> tuple[tuple[Window, ...], int, bool]:
        if attrs.get("mode", "constant") != "constant":
            raise Unsupported(f"{attrs['mode']!r} padding reads the image border")
        if len(node.input) > 1:
            value = node.input[2] if len(node.input) > 2 else ""
            if node.input[1] not in self._values or (value and value not in self._values):
                raise Unsupported("its pads are computed from the image")
            pads = self._values[node.input[1]].astype(np.int64).tolist()
        else:
            pads = list(attrs["pads"])
        rank = 2 + self.rank
        axes = list(range(rank))
        if len(node.input) > 3 and node.input[3]:
            if node.input[3] not in self._values:
                raise Unsupported("its axes are computed from the image")
            axes = [int(axis) % rank for axis in self._values[node.input[3]].ravel()]
        begin = dict(zip(axes, pads[: len(axes)]))
        end = dict(zip(axes, pads[len(axes) :]))
        if any(begin.get(axis, 0) or end.get(axis, 0) for axis in (0, 1)):
            raise Unsupported("it pads the batch or channel axis")
        if min(pads) < 0:
            raise Unsupported("it crops (negative pads)")
        windows = tuple(Window(pad_begin=begin.get(axis, 0), pad_end=end.get(axis, 0)) for axis in range(2, rank))
        return windows, 0, False

    def macs_per_pixel(self, node: onnx.NodeProto) -> tuple[int, bool]:
        """Multiply-adds per output pixel (all channels) of a convolution or pooling node, and
        whether each output channel reads only its own input channel (depthwise convolution,
        pooling); (0, False) for any other node. The one count of the cost model and the bounds."""
        if node.op_type == "Conv" and node.input[1] in self._values:
            weights = self._values[node.input[1]].shape
            channels_in = self.shapes.get(node.input[0], (0, 0))[1]
            return int(np.prod(weights)), weights[1] == 1 < channels_in
        out = self.shapes.get(node.output[0])
        if node.op_type in _POOLS and out is not None and len(out) >= 3:
            return out[1] * int(np.prod(_attributes(node)["kernel_shape"])), True
        return 0, False

    def data_nodes(self) -> list[tuple[int, onnx.NodeProto]]:
        """The nodes that depend on the image, with their indices, in graph order."""
        return [(index, node) for index, node in enumerate(self._nodes) if index not in self._constant_nodes]

    def producer(self, tensor: str) -> int | None:
        """Index of the data node computing ``tensor``; None for the input and constants."""
        return self._producer.get(tensor)

    def node(self, index: int) -> onnx.NodeProto:
        """The graph's node ``index``."""
        return self._nodes[index]

    def constant_shape(self, name: str) -> tuple[int, ...] | None:
        """Shape of a constant tensor (initializer or folded), None for image-dependent ones."""
        value = self._values.get(name)
        return None if value is None else tuple(np.shape(value))

    # ------------------------------------------------------------------ cuts
    def ancestors(self, tensor: str) -> frozenset[int]:
        """Indices of the data nodes that ``tensor`` is computed from, its producer included."""
        if tensor not in self._ancestors:
            found: set[int] = set()
            pending = [tensor]
            while pending:
                index = self._producer.get(pending.pop())
                if index is not None and index not in found:
                    found.add(index)
                    pending.extend(self._nodes[index].input)
            self._ancestors[tensor] = frozenset(found)
        return self._ancestors[tensor]

    def _is_cut(self, tensor: str) -> bool:
        if self._types.get(tensor) != TensorProto.FLOAT:
            return False
        inside = self.ancestors(tensor)
        made_inside = {self.source} | {name for index in inside for name in self._nodes[index].output}
        for index, node in enumerate(self._nodes):
            if index in inside or index in self._constant_nodes or node.op_type == "Shape":
                continue
            if any(name in made_inside and name != tensor for name in node.input):
                return False
        return True

    def fuses_into_conv(self, index: int | None) -> bool:
        """Whether data node ``index`` is a convolution, or a batch norm or activation that ONNX
        Runtime folds into the convolution chain right before it."""
        while index is not None and self._nodes[index].op_type in FUSABLE:
            index = self._producer.get(self._nodes[index].input[0])
        return index is not None and self._nodes[index].op_type == "Conv"

    def _splits_fusion(self, tensor: str) -> bool:
        """Whether cutting at ``tensor`` would stop ONNX Runtime from fusing its producer with a
        consumer: a Pad into the convolution after it, or a convolution (with its batch norm and
        activation) with the batch norm, activation or addition after it."""
        producer = self._producer.get(tensor)
        if producer is None:
            return False
        consumers = {self._nodes[index].op_type for index in self._consumers.get(tensor, [])}
        if self._nodes[producer].op_type == "Pad":
            return True
        return self.fuses_into_conv(producer) and bool(consumers & (FUSABLE | {"Add"}))

    def local_nodes_between(self, first: str, last: str) -> list[LocalNode]:
        """The local nodes that compute cut ``last`` from cut ``first``, in graph order."""
        inside = self.ancestors(last) - self.ancestors(first)
        return [node for node in self.nodes if node.index in inside]

    # ------------------------------------------------------------------ sub-models
    def chunk_model(self, first: str, last: str) -> onnx.ModelProto:
        """The model computing cut ``last`` from cut ``first``, for crops of any size."""
        nodes = []
        for local in self.local_nodes_between(first, last):
            node = self._nodes[local.index]
            if _attributes(node).get("auto_pad", "NOTSET") != "NOTSET":
                node = copy.deepcopy(node)
                kept = [attribute for attribute in node.attribute if attribute.name != "auto_pad"]
                del node.attribute[:]
                node.attribute.extend(kept)
                pads = [window.pad_begin for window in local.windows] + [window.pad_end for window in local.windows]
                node.attribute.append(helper.make_attribute("pads", pads))
            nodes.append(node)
        channels = self.shapes[first][1]
        spatial = [f"S{axis + 1}" for axis in range(self.rank)]
        source = helper.make_tensor_value_info(first, TensorProto.FLOAT, [_BATCH, channels, *spatial])
        return self._submodel(nodes, source, last)

    def suffix_model(self, cut: str) -> onnx.ModelProto | None:
        """The model computing the selected output from cut ``cut``; None when the cut is the output."""
        if cut == self.output:
            return None
        inside = self.ancestors(cut)
        made_inside = {self.source} | {name for index in inside for name in self._nodes[index].output}
        nodes: list[onnx.NodeProto] = []
        for index, node in enumerate(self._nodes):
            if index in inside or index in self._constant_nodes:
                continue
            if node.op_type == "Shape" and node.input[0] in made_inside and node.input[0] != cut:
                nodes.extend(self._shape_from_batch(node, cut))
            else:
                nodes.append(node)
        channels = self.shapes[cut][1:]
        source = helper.make_tensor_value_info(cut, TensorProto.FLOAT, [_BATCH, *channels])
        return self._submodel(nodes, source, self.output)

    def _shape_from_batch(self, node: onnx.NodeProto, cut: str) -> list[onnx.NodeProto]:
        """Nodes giving ``Shape(x)`` for a tensor x before the cut: the batch size read from the
        cut, then x's static dimensions (the suffix never sees x itself)."""
        dims = self.shapes.get(node.input[0])
        if dims is None:
            raise Unsupported(f"the size of {node.input[0]!r} is not static")
        rank = len(dims)

        def clamped(value: int) -> int:  # ONNX's rule for Shape's start and end
            return min(max(value + rank if value < 0 else value, 0), rank)

        attrs = _attributes(node)
        start, end = clamped(attrs.get("start", 0)), clamped(attrs.get("end", rank))
        if start > 0 or end <= start:  # no batch axis among the dimensions asked for
            value = numpy_helper.from_array(np.array(dims[start:end], np.int64))
            return [helper.make_node("Constant", [], list(node.output), value=value)]
        prefix = f"{node.output[0]}/incremental"
        rest = np.array(dims[1:end], np.int64)
        return [
            helper.make_node("Shape", [cut], [f"{prefix}/cut_shape"]),
            helper.make_node("Constant", [], [f"{prefix}/zero"], value=numpy_helper.from_array(np.zeros(1, np.int64))),
            helper.make_node("Gather", [f"{prefix}/cut_shape", f"{prefix}/zero"], [f"{prefix}/batch"], axis=0),
            helper.make_node("Constant", [], [f"{prefix}/rest"], value=numpy_helper.from_array(rest)),
            helper.make_node("Concat", [f"{prefix}/batch", f"{prefix}/rest"], list(node.output), axis=0),
        ]

    def _submodel(self, nodes: list[onnx.NodeProto], source: onnx.ValueInfoProto, output: str) -> onnx.ModelProto:
        """A model of ``nodes`` fed by ``source``, with the constant nodes and initializers they use."""
        needed = self._constant_closure(name for node in nodes for name in node.input)
        constants = [self._nodes[index] for index in sorted(needed)]
        used = {name for node in [*constants, *nodes] for name in node.input}
        initializers = [init for init in self.model.graph.initializer if init.name in used]
        graph = helper.make_graph(
            [*constants, *nodes],
            self.model.graph.name or "incremental",
            [source],
            [helper.make_tensor_value_info(output, self._types.get(output, TensorProto.FLOAT), None)],
            initializer=initializers,
        )
        model = helper.make_model(graph, opset_imports=self.model.opset_import)
        model.ir_version = self.model.ir_version
        model.functions.extend(self.model.functions)
        return model

    def _constant_closure(self, names: Iterable[str]) -> set[int]:
        """Indices of the constant nodes that the given tensors are computed from."""
        producer = {name: index for index in self._constant_nodes for name in self._nodes[index].output}
        found: set[int] = set()
        pending = list(names)
        while pending:
            index = producer.get(pending.pop())
            if index is not None and index not in found:
                found.add(index)
                pending.extend(self._nodes[index].input)
        return found
