"""The data format of every tensor of an ONNX graph, derived from the input's, never guessed.

MATLAB knows the format of each activation ("SSCB", "CB", ...) because each layer states what it
does to its input's. An ONNX graph says it through its operators: element-wise operators and
slicing keep their input's layout, convolution, pooling and normalisation are defined on NCHW (so
their output is channels-first whatever came in), a ``Transpose`` moves axes as its ``perm`` says,
reductions drop or keep their axes, and a batch-first tensor of two axes is always (batch,
channel). Where a node does something the layout cannot be followed through (a ``Reshape`` to
tokens, an unknown operator), the tensors after it have no derived format, and measuring them
needs ``OutputDataFormats``: see :meth:`~matlab_occsens.network._base.Network.output_format`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import onnx
from onnx import numpy_helper

__all__ = ["CHANNELS_FIRST_OPERATORS", "Layouts", "derive_layouts"]

#: Operators whose output has the layout of their first input (unary, slicing, normalising along
#: an axis they are told, resampling the axes they are told).
_LIKE_FIRST = {
    "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Cast", "CastLike", "Ceil", "Celu", "Clip", "Cos",
    "Cosh", "CumSum", "DequantizeLinear", "Dropout", "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid",
    "HardSwish", "Hardmax", "Identity", "IsInf", "IsNaN", "LayerNormalization", "LeakyRelu", "Log", "LogSoftmax",
    "LpNormalization", "MeanVarianceNormalization", "Mish", "Neg", "Not", "Pad", "QuantizeLinear", "Reciprocal",
    "Relu", "Resize", "Round", "Selu", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Slice", "Softmax", "Softplus",
    "Softsign", "Split", "Sqrt", "Swish", "Tan", "Tanh", "ThresholdedRelu", "Tile", "Trilu", "Upsample",
}  # fmt: skip
#: Operators that only forward their input: forwarding a constant gives a constant (exporters put
#: an ``Identity`` between a model's parameters and the nodes that use them).
_FORWARDS = {"Identity"}
#: Broadcasting operators: the layout of their inputs that have the output's rank, if they agree
#: (constants and lower-rank operands are broadcast into it and carry no layout).
_ELEMENTWISE = {
    "Add", "And", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Div", "Equal", "Expand", "Greater",
    "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Mean", "Min", "Mod", "Mul", "Or", "PRelu", "Pow", "Sub",
    "Sum", "Where", "Xor",
}  # fmt: skip
#: Operators ONNX defines on channels-first tensors (N, C, spatial...).
CHANNELS_FIRST_OPERATORS = {
    "AveragePool", "BatchNormalization", "Col2Im", "Conv", "ConvInteger", "ConvTranspose", "DeformConv",
    "DepthToSpace", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "GroupNormalization",
    "InstanceNormalization", "LRN", "LpPool", "MaxPool", "MaxUnpool", "QLinearConv", "SpaceToDepth",
}  # fmt: skip
_REDUCTIONS = {
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
    "ReduceProd", "ReduceSum", "ReduceSumSquare",
}  # fmt: skip


@dataclass(frozen=True)
class Layouts:
    """Derived formats by tensor name, and for a tensor without one the node where it was lost."""

    formats: dict[str, str]
    lost_at: dict[str, str]

    def of(self, tensor: str, rank: int) -> str | None:
        fmt = self.formats.get(tensor)
        return fmt if fmt is not None and len(fmt) == rank else None


def derive_layouts(
    model: onnx.ModelProto, input_name: str, input_format: str, rank_of: Callable[[str], int | None]
) -> Layouts:
    """Follow the input's format through the graph; ``rank_of`` gives a tensor's static rank."""
    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = next((attr.t for attr in node.attribute if attr.name == "value"), None)
            if value is not None:
                constants[node.output[0]] = value
    formats = {input_name: input_format}
    lost_at: dict[str, str] = {}
    for node in _in_order(graph.node):
        if node.op_type in _FORWARDS and node.input and node.input[0] in constants:
            constants[node.output[0]] = constants[node.input[0]]  # a constant still: no layout to lose
            continue
        derived = _derive(node, formats, constants, rank_of)
        shown = f"{node.op_type} node {node.name or node.output[0]!r}"
        for index, output in enumerate(node.output):
            rank = rank_of(output)
            fmt = derived[index] if index < len(derived) else None
            if rank is not None and rank <= 2:
                fmt = "BC"[:rank]
            if fmt is not None and (rank is None or len(fmt) == rank) and fmt.startswith("B"):
                formats[output] = fmt
            elif output:
                lost_at[output] = next((lost_at[name] for name in node.input if name in lost_at), shown)
    return Layouts(formats, lost_at)


def _in_order(nodes: Sequence[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """The nodes in an order where each comes after the nodes it reads (files need not be sorted)."""
    producer = {output: index for index, node in enumerate(nodes) for output in node.output if output}
    order: list[onnx.NodeProto] = []
    state = [0] * len(nodes)  # 0 new, 1 on the stack, 2 placed
    for start in range(len(nodes)):
        stack = [start]
        while stack:
            index = stack[-1]
            if state[index] == 0:
                state[index] = 1
                stack.extend(
                    producer[name] for name in nodes[index].input if name in producer and state[producer[name]] == 0
                )
            else:
                stack.pop()
                if state[index] == 1:
                    state[index] = 2
                    order.append(nodes[index])
    return order


def _attribute(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _axes(node: onnx.NodeProto, constants: dict[str, onnx.TensorProto]) -> list[int] | None:
    """A node's ``axes``, from its attribute (older opsets) or its constant second input."""
    axes = _attribute(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        tensor = constants.get(node.input[1])
        axes = None if tensor is None else numpy_helper.to_array(tensor).ravel().tolist()
    return None if axes is None else [int(axis) for axis in axes]


def _derive(
    node: onnx.NodeProto,
    formats: dict[str, str],
    constants: dict[str, onnx.TensorProto],
    rank_of: Callable[[str], int | None],
) -> list[str | None]:
    """The formats of the node's outputs (None where they cannot be derived)."""
    op = node.op_type
    first = formats.get(node.input[0]) if node.input else None
    outputs = len(node.output)
    if node.domain not in ("", "ai.onnx"):
        return []
    if op in CHANNELS_FIRST_OPERATORS:
        rank = rank_of(node.output[0])
        rank = rank if rank is not None else (len(first) if first else None)
        if rank is None or rank < 3:
            return [None] * outputs
        # the axes after the channels keep their letters ("BCT" stays "BCT"); otherwise space
        inner = first[2:] if first is not None and len(first) == rank and first.startswith("BC") else "S" * (rank - 2)
        return ["BC" + inner] * outputs
    if op in _LIKE_FIRST:
        return [first] * outputs
    if op in _ELEMENTWISE:
        rank = rank_of(node.output[0])
        if rank is None:  # the graph states no shape here: the largest operand's rank
            rank = max((len(formats[name]) for name in node.input if name in formats), default=None)
        known = {formats[name] for name in node.input if name in formats and len(formats[name]) == rank}
        full_rank = [name for name in node.input if name and name not in constants and rank_of(name) == rank]
        unknown = [name for name in full_rank if name not in formats]
        return [known.pop() if len(known) == 1 and not unknown else None]
    if op == "Transpose" and first is not None:
        perm = _attribute(node, "perm") or list(reversed(range(len(first))))
        return ["".join(first[axis] for axis in perm)]
    if op == "Concat":
        concatenated = {formats.get(name) for name in node.input if name}
        return [concatenated.pop() if len(concatenated) == 1 else None]
    if op in _REDUCTIONS or op in ("ArgMax", "ArgMin"):
        if first is None or _attribute(node, "keepdims", 1):
            return [first]
        axes = [_attribute(node, "axis", 0)] if op in ("ArgMax", "ArgMin") else _axes(node, constants)
        if axes is None:
            return [None]
        dropped = {axis % len(first) for axis in axes}
        return ["".join(letter for axis, letter in enumerate(first) if axis not in dropped)]
    if op == "Squeeze" and first is not None:
        axes = _axes(node, constants)
        if axes is None:
            return [None]
        dropped = {axis % len(first) for axis in axes}
        return ["".join(letter for axis, letter in enumerate(first) if axis not in dropped)]
    if op == "Unsqueeze" and first is not None:
        axes = _axes(node, constants)
        if axes is None:
            return [None]
        letters = list(first)
        rank = len(first) + len(axes)
        for axis in sorted(axis % rank for axis in axes):
            letters.insert(axis, "U")
        return ["".join(letters)]
    if op == "MatMul" and first is not None and len(node.input) > 1:
        weights = constants.get(node.input[1])
        two_d = weights is not None and len(weights.dims) == 2
        return [first if two_d and first.endswith("C") else None]  # the feature axis stays last
    return []
