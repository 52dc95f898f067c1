"""An ONNX graph that occludes its own input, so a GPU builds the occluded batch itself.

Built on the host, a batch of 128 occluded 224×224 images is 77 MB to copy to the device per
call. Given instead the normalised image and fill once, and per call only each mask's covered
rows and columns (four integers per mask, the ranges of :meth:`OcclusionJob.covered`) and
which of the batch's images each slot occludes, the runtime makes the batch on the device with a
few element-wise operators in front of the network:

    inside_rows[n, h] = rows[n, 0] <= h < rows[n, 1]          (the same for columns)
    masked[n, h, w]   = inside_rows[n, h] and inside_cols[n, w]
    image[n]          = Where(masked[n], fill[owners[n]], base[owners[n]])   (all channels)

A batch may hold the images of several jobs (``base`` and ``fill`` then have one image per job);
an unoccluded image has the empty range [0, 0).

``Where`` copies values exactly, so the network sees bit for bit the images the host would build.
Only operators from opset 9 on are used (no Slice, Unsqueeze or GreaterOrEqual, whose forms
changed between opsets), so the prefix fits any model of opset 9 or newer.
"""

from __future__ import annotations

import copy

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["BASE", "COLS", "FILL", "MIN_OPSET", "OWNERS", "ROWS", "occluding_model", "onnx_opset"]

BASE = "occsens_base"
FILL = "occsens_fill"
ROWS = "occsens_rows"
COLS = "occsens_cols"
OWNERS = "occsens_owners"
MIN_OPSET = 9

_MASKS = "occsens_masks"


def onnx_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset the model was saved with."""
    return max((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), default=1)


def _inside(prefix: str, ranges: str, size: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """Nodes computing ``inside[n, i] = ranges[n, 0] <= i < ranges[n, 1]`` for i < ``size``."""
    index, first, last = f"{prefix}_index", f"{prefix}_first", f"{prefix}_last"
    constants = [
        numpy_helper.from_array(np.arange(size, dtype=np.int64), index),
        numpy_helper.from_array(np.array([0], dtype=np.int64), first),
        numpy_helper.from_array(np.array([1], dtype=np.int64), last),
    ]
    nodes = [
        helper.make_node("Gather", [ranges, first], [f"{prefix}_start"], axis=1),
        helper.make_node("Gather", [ranges, last], [f"{prefix}_stop"], axis=1),
        helper.make_node("Less", [index, f"{prefix}_start"], [f"{prefix}_before"]),
        helper.make_node("Not", [f"{prefix}_before"], [f"{prefix}_from_start"]),
        helper.make_node("Less", [index, f"{prefix}_stop"], [f"{prefix}_to_stop"]),
        helper.make_node("And", [f"{prefix}_from_start", f"{prefix}_to_stop"], [f"{prefix}_inside"]),
    ]
    return nodes, constants, f"{prefix}_inside"


def occluding_model(
    model: onnx.ModelProto, input_name: str, input_format: str, input_size: tuple[int, int, int]
) -> onnx.ModelProto:
    """A copy of ``model`` whose image input is replaced by the occluding prefix.

    The new inputs are ``BASE`` and ``FILL`` (``[jobs, ...]`` native-layout images: one image and
    fill per job in the batch), ``OWNERS`` (``[n]`` int64: each slot's job) and ``ROWS`` and
    ``COLS`` (``[n, 2]`` int64, 0-based half-open covered ranges); the image batch that
    ``input_name`` used to receive has one image per slot. ``input_format`` is
    "BCSS" or "BSSC"; ``model`` must have opset :data:`MIN_OPSET` or newer.
    """
    opset = onnx_opset(model)
    if opset < MIN_OPSET:
        raise ValueError(f"the occluding prefix needs opset {MIN_OPSET} or newer; the model has {opset}.")
    height, width, channels = input_size
    image_shape: list[str | int] = (
        ["jobs", channels, height, width] if input_format == "BCSS" else ["jobs", height, width, channels]
    )
    row_shape, col_shape = (
        ([-1, 1, height, 1], [-1, 1, 1, width])
        if input_format == "BCSS"
        else (
            [-1, height, 1, 1],
            [-1, 1, width, 1],
        )
    )
    row_nodes, row_constants, inside_rows = _inside("occsens_row", ROWS, height)
    col_nodes, col_constants, inside_cols = _inside("occsens_col", COLS, width)
    constants = [
        *row_constants,
        *col_constants,
        numpy_helper.from_array(np.array(row_shape, dtype=np.int64), "occsens_row_shape"),
        numpy_helper.from_array(np.array(col_shape, dtype=np.int64), "occsens_col_shape"),
    ]
    nodes = [
        *row_nodes,
        *col_nodes,
        helper.make_node("Reshape", [inside_rows, "occsens_row_shape"], ["occsens_row_grid"]),
        helper.make_node("Reshape", [inside_cols, "occsens_col_shape"], ["occsens_col_grid"]),
        helper.make_node("And", ["occsens_row_grid", "occsens_col_grid"], [_MASKS]),
        helper.make_node("Gather", [FILL, OWNERS], ["occsens_slot_fill"], axis=0),
        helper.make_node("Gather", [BASE, OWNERS], ["occsens_slot_base"], axis=0),
        helper.make_node("Where", [_MASKS, "occsens_slot_fill", "occsens_slot_base"], [input_name]),
    ]
    occluding = copy.deepcopy(model)
    graph = occluding.graph
    kept_inputs = [value for value in graph.input if value.name != input_name]
    del graph.input[:]
    graph.input.extend(
        [
            helper.make_tensor_value_info(BASE, TensorProto.FLOAT, image_shape),
            helper.make_tensor_value_info(FILL, TensorProto.FLOAT, image_shape),
            helper.make_tensor_value_info(OWNERS, TensorProto.INT64, ["masks"]),
            helper.make_tensor_value_info(ROWS, TensorProto.INT64, ["masks", 2]),
            helper.make_tensor_value_info(COLS, TensorProto.INT64, ["masks", 2]),
            *kept_inputs,
        ]
    )
    graph.initializer.extend(constants)
    network_nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *network_nodes])
    return occluding
