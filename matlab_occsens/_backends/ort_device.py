"""An ONNX graph that occludes its own input, so a GPU builds the occluded batch itself.

Built on the host, a batch of 128 occluded 224×224 images is 77 MB to copy to the device per
call. Given instead the normalised image and fill once, and per call only each mask's covered
ranges (two integers per spatial axis and mask, the ranges of :meth:`OcclusionJob.covered`) and
which of the batch's images each slot occludes, the runtime makes the batch on the device with a
few element-wise operators in front of the network:

    inside_a[n, i]  = ranges[n, a, 0] <= i < ranges[n, a, 1]        (for each spatial axis a)
    masked[n, ...]  = inside_0[n, i] and inside_1[n, j] and ...     (rows and columns of an image)
    image[n]        = Where(masked[n], fill[owners[n]], base[owners[n]])   (all channels)

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

from .._core.formats import channels_first, native_shape, spatial_size

__all__ = ["BASE", "FILL", "MIN_OPSET", "OWNERS", "RANGES", "occluding_model", "onnx_opset"]

BASE = "occsens_base"
FILL = "occsens_fill"
RANGES = "occsens_ranges"
OWNERS = "occsens_owners"
MIN_OPSET = 9

_MASKS = "occsens_masks"


def onnx_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset the model was saved with."""
    return max((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), default=1)


def _inside(axis: int, size: int, shape: list[int]) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """Nodes computing ``inside[n, i] = ranges[n, axis, 0] <= i < ranges[n, axis, 1]`` for
    i < ``size``, reshaped to ``shape`` (broadcastable against the batch)."""
    prefix = f"occsens_axis{axis}"
    index, which, first, last, reshape = (f"{prefix}_{name}" for name in ("index", "which", "first", "last", "shape"))
    constants = [
        numpy_helper.from_array(np.arange(size, dtype=np.int64), index),
        numpy_helper.from_array(np.array(axis, dtype=np.int64), which),  # a scalar: Gather drops the axis
        numpy_helper.from_array(np.array([0], dtype=np.int64), first),
        numpy_helper.from_array(np.array([1], dtype=np.int64), last),
        numpy_helper.from_array(np.array(shape, dtype=np.int64), reshape),
    ]
    nodes = [
        helper.make_node("Gather", [RANGES, which], [f"{prefix}_ranges"], axis=1),
        helper.make_node("Gather", [f"{prefix}_ranges", first], [f"{prefix}_start"], axis=1),
        helper.make_node("Gather", [f"{prefix}_ranges", last], [f"{prefix}_stop"], axis=1),
        helper.make_node("Less", [index, f"{prefix}_start"], [f"{prefix}_before"]),
        helper.make_node("Not", [f"{prefix}_before"], [f"{prefix}_from_start"]),
        helper.make_node("Less", [index, f"{prefix}_stop"], [f"{prefix}_to_stop"]),
        helper.make_node("And", [f"{prefix}_from_start", f"{prefix}_to_stop"], [f"{prefix}_inside"]),
        helper.make_node("Reshape", [f"{prefix}_inside", reshape], [f"{prefix}_grid"]),
    ]
    return nodes, constants, f"{prefix}_grid"


def occluding_model(
    model: onnx.ModelProto, input_name: str, input_format: str, input_size: tuple[int, ...]
) -> onnx.ModelProto:
    """A copy of ``model`` whose image input is replaced by the occluding prefix.

    The new inputs are ``BASE`` and ``FILL`` (``[jobs, ...]`` native-layout images: one image and
    fill per job in the batch), ``OWNERS`` (``[n]`` int64: each slot's job) and ``RANGES``
    (``[n, rank, 2]`` int64, 0-based half-open covered ranges per spatial axis); the image batch
    that ``input_name`` used to receive has one image per slot. ``input_format`` is any of
    :data:`~matlab_occsens._core.formats.INPUT_FORMATS`; ``model`` must have opset
    :data:`MIN_OPSET` or newer.
    """
    opset = onnx_opset(model)
    if opset < MIN_OPSET:
        raise ValueError(f"the occluding prefix needs opset {MIN_OPSET} or newer; the model has {opset}.")
    native = native_shape(input_format, input_size, 1)
    image_shape: list[str | int] = ["jobs", *native[1:]]
    first_spatial = 2 if channels_first(input_format) else 1
    nodes: list[onnx.NodeProto] = []
    constants: list[onnx.TensorProto] = []
    grids = []
    for axis, size in enumerate(spatial_size(input_format, input_size)):
        shape = [-1] + [1] * (len(native) - 1)
        shape[first_spatial + axis] = size
        axis_nodes, axis_constants, inside = _inside(axis, size, shape)
        nodes += axis_nodes
        constants += axis_constants
        grids.append(inside)
    masks = grids[0]
    for index, inside in enumerate(grids[1:], start=1):
        masks_next = _MASKS if index == len(grids) - 1 else f"{_MASKS}_{index}"
        nodes.append(helper.make_node("And", [masks, inside], [masks_next]))
        masks = masks_next
    nodes += [
        helper.make_node("Gather", [FILL, OWNERS], ["occsens_slot_fill"], axis=0),
        helper.make_node("Gather", [BASE, OWNERS], ["occsens_slot_base"], axis=0),
        helper.make_node("Where", [masks, "occsens_slot_fill", "occsens_slot_base"], [input_name]),
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
            helper.make_tensor_value_info(RANGES, TensorProto.INT64, ["masks", len(grids), 2]),
            *kept_inputs,
        ]
    )
    graph.initializer.extend(constants)
    network_nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *network_nodes])
    return occluding
