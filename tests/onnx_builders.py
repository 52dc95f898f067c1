"""Small ONNX graphs with known answers, built with onnx.helper for the tests.

A convolution whose kernel covers the whole image is a linear map x -> W·x + b per output
channel, so its occlusion map has a closed form the tests compute independently:
drop(mask) = sum over the covered pixels of W * (x - fill).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _model(nodes, inputs, outputs, initializers, name="linear"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def linear_model(
    weights: np.ndarray,
    bias: np.ndarray | None = None,
    layout: str = "BCSS",
    batch: int | str = "N",
    flatten: bool = True,
) -> onnx.ModelProto:
    """One whole-image convolution: weights (K, C, H, W) -> output [N, K] (or [N, K, 1, 1]).

    ``layout="BSSC"`` takes NHWC input and transposes it inside the graph; ``batch`` is a
    symbolic name or a fixed size (1 for fixed-batch files).
    """
    channels_out, channels, height, width = weights.shape
    bias = np.zeros(channels_out, np.float32) if bias is None else bias
    shape = [batch, channels, height, width] if layout == "BCSS" else [batch, height, width, channels]
    nodes, source = [], "image"
    if layout == "BSSC":
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"))
        source = "nchw"
    nodes.append(helper.make_node("Conv", [source, "W", "B"], ["conv"], name="whole_image_conv"))
    out_shape = [batch, channels_out, 1, 1]
    final = "conv"
    if flatten:
        nodes.append(helper.make_node("Flatten", ["conv"], ["scores"], axis=1, name="flatten"))
        out_shape, final = [batch, channels_out], "scores"
    return _model(
        nodes,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(final, TensorProto.FLOAT, out_shape)],
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "B"),
        ],
    )


def spatial_model(kernel: np.ndarray, height: int, width: int, batch: int | str = "N") -> onnx.ModelProto:
    """A 'same'-padded small convolution (layer "local", output [N, K, H, W]) followed by a
    global sum pooling to [N, K]; selecting "local" gives an intermediate output with space."""
    channels_out, channels, kh, kw = kernel.shape
    pads = [kh // 2, kw // 2, kh - 1 - kh // 2, kw - 1 - kw // 2]
    nodes = [
        helper.make_node("Conv", ["image", "K"], ["local_out"], pads=pads, name="local"),
        helper.make_node("ReduceSum", ["local_out", "axes"], ["scores"], keepdims=0, name="total"),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, channels, height, width])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, channels_out])],
        [
            numpy_helper.from_array(kernel.astype(np.float32), "K"),
            numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        ],
        name="spatial",
    )


def expected_linear_map(
    weights: np.ndarray, image: np.ndarray, fill: np.ndarray, rows: list[tuple[int, int]], cols: list[tuple[int, int]]
) -> np.ndarray:
    """Closed-form raw map of :func:`linear_model`: K_h × K_w × K, computed in float64.

    ``image`` is H×W×C; ``rows``/``cols`` are 0-based half-open covered ranges.
    """
    contribution = np.einsum("kchw,hwc->hwk", weights.astype(np.float64), image - fill)
    out = np.empty((len(rows), len(cols), weights.shape[0]))
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            out[i, j] = contribution[r0:r1, c0:c1].sum(axis=(0, 1))
    return out


def pointwise_then_linear_model(pointwise: np.ndarray, weights: np.ndarray) -> onnx.ModelProto:
    """A 1×1 convolution (layer "pointwise", pointwise.shape[0] channels) feeding a whole-image
    convolution with ``weights`` (K, M, H, W) and a Flatten to [N, K]: an intermediate layer whose
    channel count differs from the output's."""
    channels_out, middle, height, width = weights.shape
    channels = pointwise.shape[1]
    nodes = [
        helper.make_node("Conv", ["image", "P"], ["mid"], name="pointwise"),
        helper.make_node("Conv", ["mid", "W"], ["conv"], name="whole_image_conv"),
        helper.make_node("Flatten", ["conv"], ["scores"], axis=1, name="flatten"),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, height, width])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", channels_out])],
        [
            numpy_helper.from_array(pointwise.astype(np.float32), "P"),
            numpy_helper.from_array(weights.astype(np.float32), "W"),
        ],
        name="pointwise_linear",
    )


def clipped_ranges(size: int, mask: int, stride: int) -> list[tuple[int, int]]:
    """0-based covered ranges along one axis with MaskClipping "on" (docs/specification.md §4)."""
    return [(max(c - mask // 2, 0), min(c - mask // 2 + mask, size)) for c in range(0, size, stride)]


def linear_model_nd(weights: np.ndarray, layout: str, batch: int | str = "N", flatten: bool = True) -> onnx.ModelProto:
    """One whole-input convolution of a volume or a signal: weights (K, C, *spatial) -> [N, K].

    ``layout`` is "BCSSS" or "BCT" (the input as Conv takes it), or "BSSSC" or "BTC" (channels
    last, moved to axis 1 by a Transpose inside the graph). Without ``flatten`` the output is
    the convolution's [N, K, 1, ...].
    """
    channels_out, channels, *spatial = weights.shape
    rank = 2 + len(spatial)
    channels_first = layout[1] == "C"
    shape = [batch, channels, *spatial] if channels_first else [batch, *spatial, channels]
    nodes, source = [], "signal"
    if not channels_first:
        perm = [0, rank - 1, *range(1, rank - 1)]
        nodes.append(helper.make_node("Transpose", ["signal"], ["channels_first"], perm=perm, name="to_channels_first"))
        source = "channels_first"
    nodes.append(helper.make_node("Conv", [source, "W", "B"], ["conv"], name="whole_input_conv"))
    out_shape, final = [batch, channels_out, *[1] * len(spatial)], "conv"
    if flatten:
        nodes.append(helper.make_node("Flatten", ["conv"], ["scores"], axis=1, name="flatten"))
        out_shape, final = [batch, channels_out], "scores"
    return _model(
        nodes,
        [helper.make_tensor_value_info("signal", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(final, TensorProto.FLOAT, out_shape)],
        [
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(np.zeros(channels_out, np.float32), "B"),
        ],
        name="linear_nd",
    )


def expected_linear_map_nd(
    weights: np.ndarray, observation: np.ndarray, fill: np.ndarray, axes: list[list[tuple[int, int]]]
) -> np.ndarray:
    """Closed-form raw map of :func:`linear_model_nd`: K_1 × ... × K_k × K, in float64.

    ``observation`` is channels last, (*spatial, C); ``axes`` holds each axis's 0-based
    half-open covered ranges. Each mask's drop is the sum over its covered positions of
    W · (x − fill), computed position by position here.
    """
    rank = observation.ndim - 1
    letters = "xyz"[:rank]
    contribution = np.einsum(f"kc{letters},{letters}c->{letters}k", weights.astype(np.float64), observation - fill)
    grid_shape = [len(ranges) for ranges in axes]
    out = np.empty((*grid_shape, weights.shape[0]))
    for position in np.ndindex(*grid_shape):
        window = tuple(slice(*axes[axis][index]) for axis, index in enumerate(position))
        out[position] = contribution[window].reshape(-1, weights.shape[0]).sum(axis=0)
    return out
