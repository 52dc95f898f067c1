"""The probe networks: linear networks whose occlusion map says which pixels each mask covered.

The same networks are built in MATLAB by ``compat/matlab/probeNetwork.m``. Every weight is 0 or 1
and the input layer does no normalisation, so with integer pixels every activation is an exact
integer in single precision, in MATLAB and here alike:

- ``pixels``: 1×1 convolution, identity (an intermediate output with the full H×W extent);
- ``rows``: [H 1] convolution with H filters, filter r picks row r, so its channel r, summed over
  its W positions, is the sum of image row r; ``rowsum`` (channel-wise [1 W] convolution of ones)
  does that sum inside the network;
- ``cols`` and ``colsum``: the same for the W columns;
- ``planes``: [H W] convolution with C filters, filter k sums input channel k;
- ``probe``: depth concatenation of ``rowsum``, ``colsum``, ``planes``: H + W + C channels.

With ``MaskValue=0`` a mask changes exactly the row channels of the rows it covers and the column
channels of its columns, so the raw map spells out every mask. The ``rowtime`` probe stops at
``rows`` and reads it as H channels over W time steps (output ``time``, format "CBT" in MATLAB).

Weights are kept in MATLAB's layout (h×w×inputChannels×filters, and ×groups for the grouped
layers), as the MATLAB script saves them.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["PROBE_LAYERS", "FINAL_LAYER", "probe_weights", "probe_model", "weight_shapes", "channel_count"]

OPSET = 13

PROBE_LAYERS = {
    "rowcol": ("pixels", "rows", "rowsum", "cols", "colsum", "planes"),
    "rowtime": ("pixels", "rows"),
}
FINAL_LAYER = {"rowcol": "probe", "rowtime": "time"}
_GROUPED = ("rowsum", "colsum")


def weight_shapes(size: tuple[int, int, int]) -> dict[str, tuple[int, ...]]:
    """MATLAB-layout shape of every probe weight for an H×W×C input."""
    height, width, channels = size
    return {
        "pixels": (1, 1, channels, channels),
        "rows": (height, 1, channels, height),
        "rowsum": (1, width, 1, 1, height),
        "cols": (1, width, channels, width),
        "colsum": (height, 1, 1, 1, width),
        "planes": (height, width, channels, channels),
    }


def channel_count(size: tuple[int, int, int], output: str) -> int:
    """Number of channels of a probe layer's output."""
    height, width, channels = size
    return {"probe": height + width + channels, "pixels": channels, "time": height}[output]


def probe_weights(size: tuple[int, int, int], probe: str) -> dict[str, np.ndarray]:
    """The probe's weights in MATLAB layout, as ``probeNetwork.m`` builds them."""
    height, width, channels = size
    shapes = weight_shapes(size)
    weights = {name: np.zeros(shapes[name], np.float32) for name in PROBE_LAYERS[probe]}
    weights["pixels"][0, 0] = np.eye(channels)
    for row in range(height):
        weights["rows"][row, 0, :, row] = 1
    if probe == "rowcol":
        weights["rowsum"][:] = 1
        weights["colsum"][:] = 1
        for col in range(width):
            weights["cols"][0, col, :, col] = 1
        for channel in range(channels):
            weights["planes"][:, :, channel, channel] = 1
    return weights


def _onnx_kernel(name: str, matlab: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """MATLAB h×w×in×out (×groups) weights as ONNX out×in×h×w.

    ``shape`` restores the trailing singleton dimensions that a .mat file drops.
    """
    array = np.reshape(np.asarray(matlab, np.float32), shape)
    if name in _GROUPED:
        height, width, per_group_in, per_group_out, groups = shape
        return np.transpose(array, (4, 3, 2, 0, 1)).reshape(groups * per_group_out, per_group_in, height, width)
    return np.transpose(array, (3, 2, 0, 1))


def probe_model(weights: dict[str, np.ndarray], size: tuple[int, int, int], probe: str) -> onnx.ModelProto:
    """The probe as an NCHW ONNX graph whose nodes and tensors carry MATLAB's layer names."""
    height, width, channels = size
    shapes = weight_shapes(size)
    sources = {
        "pixels": "input",
        "rows": "pixels",
        "rowsum": "rows",
        "cols": "pixels",
        "colsum": "cols",
        "planes": "pixels",
    }
    nodes, initializers = [], []
    for name in PROBE_LAYERS[probe]:
        kernel = _onnx_kernel(name, weights[name], shapes[name])
        initializers += [
            numpy_helper.from_array(kernel, f"{name}_W"),
            numpy_helper.from_array(np.zeros(kernel.shape[0], np.float32), f"{name}_B"),
        ]
        group = {"group": kernel.shape[0]} if name in _GROUPED else {}
        nodes.append(helper.make_node("Conv", [sources[name], f"{name}_W", f"{name}_B"], [name], name=name, **group))
    if probe == "rowcol":
        nodes.append(helper.make_node("Concat", ["rowsum", "colsum", "planes"], ["probe"], axis=1, name="probe"))
        output = helper.make_tensor_value_info("probe", TensorProto.FLOAT, ["N", height + width + channels, 1, 1])
    else:
        initializers.append(numpy_helper.from_array(np.array([2], np.int64), "time_axes"))
        nodes.append(helper.make_node("Squeeze", ["rows", "time_axes"], ["time"], name="time"))
        output = helper.make_tensor_value_info("time", TensorProto.FLOAT, ["N", height, width])
    graph = helper.make_graph(
        nodes,
        f"probe_{probe}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, height, width])],
        [output],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
