"""The occluded batches every engine runs: built on the host, by an ONNX prefix on the device, or
by torch on the device, they must be the very images docs/specification.md §5 describes, bit for bit, and the
map must not depend on how many go per call."""

from __future__ import annotations

import threading

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx_builders import clipped_ranges, expected_linear_map, linear_model

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity
from matlab_occsens._backends.ort import OrtEngine
from matlab_occsens._core.grid import mask_grid
from matlab_occsens._stream.drive import occluded_outputs
from matlab_occsens._stream.job import OcclusionJob, occluded_batches
from matlab_occsens._stream.run_ahead import run_ahead
from matlab_occsens._stream.sequence import ImageStream
from matlab_occsens.network._base import EngineKey

LAYOUTS = {"BCSS": (0, 3, 1, 2), "BSSC": (0, 1, 2, 3)}


def identity_model(shape: list[int | str], opset: int) -> onnx.ModelProto:
    """A network whose output is its input: what it returns is the batch it was given."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["same"])],
        "identity",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("same", TensorProto.FLOAT, shape)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def expected_images(image, fill, grid, layout):
    """The image, then each mask applied to it by hand (docs/specification.md §5), in the backend layout."""
    images = [image]
    for rows, cols in grid.windows():
        occluded = image.copy()
        occluded[rows[0] : rows[1], cols[0] : cols[1], :] = fill
        images.append(occluded)
    return np.stack(images).transpose(LAYOUTS[layout])


def problem(seed, height, width, channels, layout, mask, stride, clipping, batch):
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((height, width, channels), dtype=np.float32)
    fill = rng.standard_normal(channels, dtype=np.float32)
    grid = mask_grid((height, width), mask, stride, clipping)
    native = image[np.newaxis].transpose(LAYOUTS[layout])
    fill_image = np.broadcast_to(fill, image.shape)[np.newaxis].transpose(LAYOUTS[layout])
    job = OcclusionJob(np.ascontiguousarray(native), np.ascontiguousarray(fill_image), grid, layout, batch)
    return job, expected_images(image, fill, grid, layout)


def collect(stream):
    return np.concatenate([batch.copy() for _, batch in stream])


def streamed(engine, job):
    """``(first image, output)`` of each batch of ``job`` alone, as the stream drives ``engine``."""
    for batch, output in occluded_outputs(engine, ImageStream([job], job.batch_size), job.input_format):
        yield batch.parts[0].first, output


def identity_torch_engine():
    """The torch backend's device path with a network that returns its input, on the CPU."""
    torch = pytest.importorskip("torch")
    from matlab_occsens._backends.torch_engine import TorchEngine

    return TorchEngine([lambda batch: [batch]], torch.device("cpu"), occlude_on_device=True)


shapes = dict(
    seed=st.integers(0, 2**16),
    height=st.integers(1, 12),
    width=st.integers(1, 12),
    channels=st.integers(1, 4),
    layout=st.sampled_from(sorted(LAYOUTS)),
    mask=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    stride=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    clipping=st.just(True),
    batch=st.integers(1, 9),
)


@settings(max_examples=60, deadline=None)
@given(**shapes)
def test_host_batches_are_the_occluded_images(**case):
    job, expected = problem(**case)
    firsts = [first for first, _ in occluded_batches(job)]
    assert firsts == list(range(0, len(job.grid) + 1, job.batch_size))
    np.testing.assert_array_equal(collect(occluded_batches(job)), expected)


@settings(max_examples=60, deadline=None)
@given(**shapes, sizes=st.lists(st.integers(1, 9), min_size=1, max_size=6))
def test_batches_of_changing_sizes_are_the_occluded_images(sizes, **case):
    """As the batch-size search streams them: the buffer grows, and its slots are still repaired."""
    job, expected = problem(**case)
    asked = iter(sizes * len(expected))
    batches = occluded_batches(job, lambda remaining: min(next(asked), remaining))
    np.testing.assert_array_equal(collect(batches), expected)


@settings(max_examples=25, deadline=None)
@given(**shapes, opset=st.sampled_from([9, 11, 13, 17]))
def test_the_onnx_prefix_builds_the_same_images(opset, **case):
    """The GPU path of ONNX Runtime, run here with the CPU provider: only the device differs."""
    job, expected = problem(**case)
    height, width, channels = case["height"], case["width"], case["channels"]
    shape = ["N", channels, height, width] if case["layout"] == "BCSS" else ["N", height, width, channels]
    engine = OrtEngine(
        identity_model(shape, opset), "cpu", input_size=(height, width, channels), occlude_on_device=True
    )
    firsts = [first for first, _ in streamed(engine, job)]
    assert firsts == list(range(0, len(job.grid) + 1, job.batch_size))
    np.testing.assert_array_equal(collect(streamed(engine, job)), expected)


@settings(max_examples=25, deadline=None)
@given(**shapes)
def test_torch_builds_the_same_images_on_the_device(**case):
    """The GPU path of the torch backend, run here on the CPU device."""
    job, expected = problem(**case)
    occluder = identity_torch_engine().device_occluder(job.input_format)
    built = np.concatenate([occluder.batch(batch).numpy() for batch in ImageStream([job], job.batch_size).batches()])
    np.testing.assert_array_equal(built, expected)


def test_masks_that_do_not_fit_leave_the_image_untouched_where_they_do_not_reach():
    """MaskClipping "off" with a tail no mask reaches; the prefix must not occlude it."""
    job, expected = problem(3, 11, 9, 3, "BCSS", (4, 3), (3, 2), False, 4)
    engine = OrtEngine(identity_model(["N", 3, 11, 9], 17), "cpu", input_size=(11, 9, 3), occlude_on_device=True)
    np.testing.assert_array_equal(collect(streamed(engine, job)), expected)
    assert np.array_equal(expected[:, :, 10, :], np.repeat(job.base[:, :, 10, :], len(expected), axis=0))


def test_the_unoccluded_image_rides_in_the_first_batch(monkeypatch):
    """No call of its own for the reference (on a GPU a one-image call costs nearly a batch):
    with the device-side occluder, the engine's plain ``run`` is never called."""
    weights = np.random.default_rng(5).standard_normal((2, 3, 10, 12))
    image = np.random.default_rng(6).uniform(0, 255, (10, 12, 3))
    net = importNetworkFromONNX(linear_model(weights))
    engine = OrtEngine(net.selected_model(), "cpu", input_size=(10, 12, 3), occlude_on_device=True)
    monkeypatch.setitem(net._engines, EngineKey(tuple(net.OutputNames), "cpu"), engine)
    monkeypatch.setattr(engine, "run", lambda batch: pytest.fail(f"a separate call for {len(batch)} image(s)"))
    found = occlusionSensitivity(
        net,
        image,
        [1, 2],
        MaskSize=4,
        Stride=3,
        MaskValue=7,
        OutputUpsampling="none",
        ExecutionEnvironment="cpu",
        Incremental="off",
    )
    expected = expected_linear_map(weights, image, np.full(3, 7.0), clipped_ranges(10, 4, 3), clipped_ranges(12, 4, 3))
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-3)


def test_run_ahead_keeps_order_and_starts_the_next_item_early():
    started = []
    next_started = threading.Event()

    def work(item):
        started.append(item)
        if item == 1:
            next_started.set()
        return item * 10

    results = []
    for item, result in run_ahead(work, range(5)):
        if item == 0:  # item 1 runs while item 0 is handled: waiting for it must not deadlock
            assert next_started.wait(timeout=30)
        results.append((item, result))
    assert results == [(item, item * 10) for item in range(5)]
    assert started == list(range(5))


def test_run_ahead_passes_errors_on():
    def work(item):
        if item == 2:
            raise RuntimeError("item 2 failed")
        return item

    seen = []
    with pytest.raises(RuntimeError, match="item 2 failed"):
        for item, _ in run_ahead(work, range(5)):
            seen.append(item)
    assert seen == [0, 1]


ND_FORMATS = {1: ("BCT", "BTC"), 2: ("BCSS", "BSSC"), 3: ("BCSSS", "BSSSC")}


@st.composite
def nd_cases(draw):
    """A signal, image or volume job with its images occluded by hand (§5, §9.3)."""
    rank = draw(st.sampled_from([1, 2, 3]))
    spatial = tuple(draw(st.lists(st.integers(1, 7 if rank == 3 else 12), min_size=rank, max_size=rank)))
    channels = draw(st.integers(1, 3))
    fmt = draw(st.sampled_from(ND_FORMATS[rank]))
    mask = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    stride = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    clipping = draw(st.booleans())
    if not clipping:  # every axis must hold at least one full mask
        mask = tuple(min(m, s) for m, s in zip(mask, spatial))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    image = rng.standard_normal((*spatial, channels), dtype=np.float32)  # channels last
    fill = rng.standard_normal(channels, dtype=np.float32)
    grid = mask_grid(spatial, mask, stride, clipping)
    expected = [image]
    for window in grid.windows():
        occluded = image.copy()
        occluded[tuple(slice(*pair) for pair in window)] = fill
        expected.append(occluded)
    to_native = (lambda array: np.moveaxis(array, -1, 1)) if fmt[1] == "C" else (lambda array: array)
    native = np.ascontiguousarray(to_native(image[np.newaxis]))
    fill_image = np.ascontiguousarray(to_native(np.broadcast_to(fill, image.shape)[np.newaxis]))
    job = OcclusionJob(native, fill_image, grid, fmt, draw(st.integers(1, 9)))
    return job, np.ascontiguousarray(to_native(np.stack(expected)))


@settings(max_examples=80, deadline=None)
@given(case=nd_cases(), sizes=st.lists(st.integers(1, 9), min_size=1, max_size=4))
def test_host_batches_of_signals_images_and_volumes_are_the_occluded_images(case, sizes):
    job, expected = case
    np.testing.assert_array_equal(collect(occluded_batches(job)), expected)
    asked = iter(sizes * len(expected))
    np.testing.assert_array_equal(collect(occluded_batches(job, lambda left: min(next(asked), left))), expected)


@settings(max_examples=30, deadline=None)
@given(case=nd_cases(), opset=st.sampled_from([9, 13, 17]))
def test_the_onnx_prefix_builds_the_same_signals_and_volumes(case, opset):
    job, expected = case
    shape = ["N", *job.base.shape[1:]]
    fmt = job.input_format
    spatial = job.base.shape[2:] if fmt[1] == "C" else job.base.shape[1:-1]
    channels = job.base.shape[1] if fmt[1] == "C" else job.base.shape[-1]
    size = (channels, *spatial) if "T" in fmt else (*spatial, channels)
    engine = OrtEngine(identity_model(shape, opset), "cpu", input_size=size, occlude_on_device=True)
    np.testing.assert_array_equal(collect(streamed(engine, job)), expected)


@settings(max_examples=30, deadline=None)
@given(case=nd_cases())
def test_torch_builds_the_same_signals_and_volumes_on_the_device(case):
    job, expected = case
    occluder = identity_torch_engine().device_occluder(job.input_format)
    built = np.concatenate([occluder.batch(batch).numpy() for batch in ImageStream([job], job.batch_size).batches()])
    np.testing.assert_array_equal(built, expected)
