"""Random small convolutional networks built with onnx.helper, for the incremental-path tests.

A hypothesis strategy draws a stack of layers (convolutions with any kernel, stride, dilation,
explicit or automatic padding and groups; max and average pooling with ceil mode; Pad nodes;
batch norm and activations; residual additions and channel concatenations of two branches)
and a head (global pooling and a dense layer, or the last spatial tensor itself), keeping track
of the tensor size so that every drawn network is valid. ``rank`` is the number of spatial axes:
2 for images (N, C, H, W), 3 for volumes (N, C, D1, D2, D3), 1 for signals (N, C, T); a layer's
kernel and stride are the same on every axis, its padding is drawn per axis and side. With
``nhwc`` the network takes its input channels last and transposes it to channels first, and a
spatial output back, as TensorFlow exports (tf2onnx) do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
ACTIVATIONS = ("Relu", "Clip", "HardSwish", "LeakyRelu", "Sigmoid", None)
SIZES = {1: (6, 40), 2: (6, 20), 3: (5, 10)}
"""The smallest and largest spatial size drawn per axis, by rank (a volume's tests stay quick)."""


@dataclass
class _Builder:
    """Nodes and weights of a network under construction, and its current tensor."""

    rng: np.random.Generator
    channels: int
    sizes: tuple[int, ...]
    tensor: str = "image"
    nodes: list = field(default_factory=list)
    weights: list = field(default_factory=list)

    @property
    def rank(self) -> int:
        return len(self.sizes)

    def name(self, stem: str) -> str:
        return f"{stem}_{len(self.nodes)}"

    def constant(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem) + f"_{len(self.weights)}"
        self.weights.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def add(self, op: str, inputs: list[str], **attrs) -> str:
        output = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(
        self, source: str, channels_in: int, draw, same: bool = False, stride: int | None = None
    ) -> tuple[str, int, tuple[int, ...]]:
        """A convolution on ``source``; returns (output, channels, spatial sizes)."""
        rank = self.rank
        kernel = draw(st.sampled_from([1, 3, 5] if same else [1, 2, 3, 5]))
        dilation = draw(st.sampled_from([1, 2])) if kernel > 1 else 1
        stride = stride if stride is not None else draw(st.integers(1, 3))
        groups = draw(st.sampled_from([1, channels_in]))
        channels_out = channels_in * draw(st.integers(1, 2)) if groups > 1 else draw(st.integers(1, 4))
        extent = (kernel - 1) * dilation + 1
        attrs: dict = {
            "kernel_shape": [kernel] * rank,
            "strides": [stride] * rank,
            "dilations": [dilation] * rank,
            "group": groups,
        }
        if same:
            half = (extent - 1) // 2
            attrs["pads"] = [half] * 2 * rank
        elif dilation == 1 and draw(st.booleans()):  # ONNX Runtime has no dilated "SAME" padding
            attrs["auto_pad"] = draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID"]))
        else:
            attrs["pads"] = [draw(st.integers(0, extent - 1)) for _ in range(2 * rank)]
        sizes = tuple(_out_size(size, attrs, axis, extent) for axis, size in enumerate(self.sizes))
        shape = (channels_out, channels_in // groups, *[kernel] * rank)
        weights = self.constant("w", self.rng.normal(size=shape).astype(np.float32))
        bias = self.constant("b", self.rng.normal(size=channels_out).astype(np.float32))
        return self.add("Conv", [source, weights, bias], **attrs), channels_out, sizes

    def activation(self, source: str, draw) -> str:
        op = draw(st.sampled_from(ACTIVATIONS))
        if op is None:
            return source
        if op == "Clip":
            return self.add("Clip", [source, self.constant("lo", np.float32(0)), self.constant("hi", np.float32(3))])
        return self.add(op, [source])


def _out_size(size: int, attrs: dict, axis: int, extent: int) -> int:
    rank = len(attrs["strides"])
    stride = attrs["strides"][axis]
    mode = attrs.get("auto_pad", "NOTSET")
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        return -(-size // stride)
    pads = attrs.get("pads", [0] * 2 * rank) if mode == "NOTSET" else [0] * 2 * rank
    span = size + pads[axis] + pads[axis + rank] - extent
    if attrs.get("ceil_mode"):
        out = -(-span // stride) + 1
        return out - 1 if (out - 1) * stride >= size + pads[axis] else out
    return span // stride + 1 if span >= 0 else 0


def _layer(builder: _Builder, draw) -> None:
    """Append one drawn layer, or nothing if it would shrink the tensor to nothing."""
    kind = draw(st.sampled_from(["conv", "pool", "pad", "batchnorm", "residual", "concat"]))
    b = builder
    rank = b.rank
    if kind == "conv":
        output, channels, sizes = b.conv(b.tensor, b.channels, draw)
        if min(sizes) < 1:
            b.nodes.pop()
            return
        b.tensor, b.channels, b.sizes = b.activation(output, draw), channels, sizes
    elif kind == "pool":
        op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
        kernel = draw(st.integers(2, 3))
        attrs: dict = {"kernel_shape": [kernel] * rank, "strides": [draw(st.integers(1, 2))] * rank}
        attrs["pads"] = [draw(st.integers(0, kernel - 1)) for _ in range(2 * rank)]
        attrs["ceil_mode"] = int(draw(st.booleans()))
        if op == "AveragePool":
            attrs["count_include_pad"] = int(draw(st.booleans()))
        sizes = tuple(_out_size(size, attrs, axis, kernel) for axis, size in enumerate(b.sizes))
        if min(sizes) >= 1:
            b.tensor, b.sizes = b.add(op, [b.tensor], **attrs), sizes
    elif kind == "pad":
        pads = [draw(st.integers(0, 2)) for _ in range(2 * rank)]  # ONNX's order: every begin, then every end
        begins, ends = pads[:rank], pads[rank:]
        spec = np.array([0, 0, *begins, 0, 0, *ends], np.int64)
        value = b.constant("value", np.float32(draw(st.sampled_from([0.0, -1.5]))))
        b.tensor = b.add("Pad", [b.tensor, b.constant("pads", spec), value], mode="constant")
        b.sizes = tuple(size + begin + end for size, begin, end in zip(b.sizes, begins, ends))
    elif kind == "batchnorm":
        params = [
            b.constant(stem, b.rng.uniform(0.5, 1.5, size=b.channels).astype(np.float32))
            for stem in ("scale", "bias", "mean", "var")
        ]
        b.tensor = b.activation(b.add("BatchNormalization", [b.tensor, *params]), draw)
    elif kind == "residual":
        output, channels, _ = b.conv(b.tensor, b.channels, draw, same=True, stride=1)
        if channels != b.channels:  # a 1x1 projection makes the shapes agree
            shape = (b.channels, channels, *[1] * rank)
            weights = b.constant("w", b.rng.normal(size=shape).astype(np.float32))
            output = b.add("Conv", [output, weights])
        b.tensor = b.add("Add", [b.tensor, b.activation(output, draw)])
    else:
        stride = draw(st.integers(1, 2))
        left, left_channels, sizes = b.conv(b.tensor, b.channels, draw, same=True, stride=stride)
        right, right_channels, _ = b.conv(b.tensor, b.channels, draw, same=True, stride=stride)
        b.tensor = b.add("Concat", [left, right], axis=1)
        b.channels, b.sizes = left_channels + right_channels, sizes


@st.composite
def random_cnns(draw, nhwc: bool = False, rank: int = 2) -> tuple[onnx.ModelProto, tuple[int, ...]]:
    """A random valid CNN and its input's size channels last, ``(*spatial, C)`` ((H, W, C) for
    an image); its output is [N, K] or [N, C, *spatial] ([N, *spatial, C] with ``nhwc``)."""
    channels = draw(st.sampled_from([1, 3]))
    low, high = SIZES[rank]
    sizes = tuple(draw(st.integers(low, high)) for _ in range(rank))
    builder = _Builder(np.random.default_rng(draw(st.integers(0, 2**16))), channels, sizes)
    if nhwc:
        builder.tensor = builder.add("Transpose", ["image"], perm=[0, rank + 1, *range(1, rank + 1)])
    for _ in range(draw(st.integers(1, 4))):
        _layer(builder, draw)
    if not builder.nodes:  # every drawn layer would have emptied the tensor
        builder.tensor = builder.add("Relu", [builder.tensor])
    spatial = [None] * rank
    if draw(st.booleans()):
        pooled = builder.add("GlobalAveragePool", [builder.tensor])
        flat = builder.add("Flatten", [pooled])
        classes = 3
        dense = builder.constant("dense", builder.rng.normal(size=(builder.channels, classes)).astype(np.float32))
        builder.tensor = builder.add("Gemm", [flat, dense])
        output = helper.make_tensor_value_info(builder.tensor, TensorProto.FLOAT, ["N", classes])
    elif nhwc:
        builder.tensor = builder.add("Transpose", [builder.tensor], perm=[0, *range(2, rank + 2), 1])
        output = helper.make_tensor_value_info(builder.tensor, TensorProto.FLOAT, ["N", *spatial, builder.channels])
    else:
        output = helper.make_tensor_value_info(builder.tensor, TensorProto.FLOAT, ["N", builder.channels, *spatial])
    shape = ["N", *sizes, channels] if nhwc else ["N", channels, *sizes]
    graph = helper.make_graph(
        builder.nodes,
        "random_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [output],
        initializer=builder.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, (*sizes, channels)


def seeded_cnn(spatial: tuple[int, ...], channels: int = 2, classes: int = 3, seed: int = 0) -> onnx.ModelProto:
    """A fixed small CNN of any rank with seeded weights, channels first: "conv1" (3 wide, padded)
    and ReLU, a 2-wide max pooling, "local" (3 wide, padded, 6 channels) and ReLU, then global
    average pooling and a dense layer to ``classes`` scores. Selecting "local" gives a spatial output."""
    rng = np.random.default_rng(seed)
    rank = len(spatial)

    def weights(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)

    pads = [1] * 2 * rank
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv1", pads=pads),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2] * rank, strides=[2] * rank),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["local_out"], name="local", pads=pads),
        helper.make_node("Relu", ["local_out"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"], name="gap"),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "dense"], ["scores"], name="dense"),
    ]
    initializers = [
        weights("w1", 4, channels, *[3] * rank),
        weights("b1", 4),
        weights("w2", 6, 4, *[3] * rank),
        weights("b2", 6),
        weights("dense", 6, classes),
    ]
    graph = helper.make_graph(
        nodes,
        "seeded_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, *spatial])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", classes])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
