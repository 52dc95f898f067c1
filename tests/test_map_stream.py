"""Several images in one stream: each image's map is exactly its single-image map, whatever
images share a batch, on every path that builds occluded images; memory does not grow with the
number of requests."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx_builders import (
    clipped_ranges,
    expected_linear_map,
    linear_model,
    spatial_model,
)

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity, predict
from matlab_occsens._backends.ort import OrtEngine
from matlab_occsens._core.grid import mask_grid
from matlab_occsens._core.occlusion import MapRequest, map_request, map_results, score_maps
from matlab_occsens._stream.drive import observe_forwards
from matlab_occsens._stream.job import OcclusionJob
from matlab_occsens._stream.sequence import ImageStream
from matlab_occsens.network._base import EngineKey

H, W, C = 10, 12, 3
WEIGHTS = np.random.default_rng(5).integers(-3, 4, size=(4, C, H, W)).astype(np.float32)
#: (image seed, channels, MaskSize, Stride, MaskValue): different grids and channels
CASES = [
    (1, [1, 2], 4, 3, 7.0),
    (2, [3], [3, 5], [2, 4], 100.0),
    (3, [4, 1, 4], 6, 5, 0.0),
]


def image(seed):
    return np.random.default_rng(seed).integers(0, 256, (H, W, C)).astype(np.float64)


def closed_form(seed, channels, mask, stride, fill):
    mask_h, mask_w = (mask, mask) if np.isscalar(mask) else mask
    stride_h, stride_w = (stride, stride) if np.isscalar(stride) else stride
    expected = expected_linear_map(
        WEIGHTS, image(seed), np.full(C, fill), clipped_ranges(H, mask_h, stride_h), clipped_ranges(W, mask_w, stride_w)
    )
    chosen = expected[..., [channel - 1 for channel in channels]]
    return chosen[..., 0] if len(channels) == 1 else chosen


def requests(net, cases=CASES, **options):
    return [
        map_request(
            net, image(seed), channels, MaskSize=mask, Stride=stride, MaskValue=fill, OutputUpsampling="none", **options
        )
        for seed, channels, mask, stride, fill in cases
    ]


def with_engine(net, engine, environment="cpu"):
    net._engines[EngineKey(tuple(net.OutputNames), environment)] = engine
    return net


def engines():
    """Each path that builds the occluded images: the host (with the batch-size search), the
    ONNX prefix, torch's device builder (both run here on the CPU) and torch's host path."""
    yield "host", lambda: importNetworkFromONNX(linear_model(WEIGHTS))

    def prefix():
        net = importNetworkFromONNX(linear_model(WEIGHTS))
        return with_engine(net, OrtEngine(net.selected_model(), "cpu", input_size=(H, W, C), occlude_on_device=True))

    yield "onnx prefix", prefix

    def torch_device():
        torch = pytest.importorskip("torch")
        from matlab_occsens._backends.torch_engine import TorchEngine

        net = importNetworkFromONNX(linear_model(WEIGHTS), Backend="torch")
        forwards = net.engine("cpu")._forwards
        return with_engine(net, TorchEngine(forwards, torch.device("cpu"), occlude_on_device=True))

    yield "torch device", torch_device

    def torch_host():
        pytest.importorskip("onnx2torch")
        return importNetworkFromONNX(linear_model(WEIGHTS), Backend="torch")

    yield "torch host", torch_host


PATHS = dict(engines())


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("mini_batch_size", [1, 4, 7, 128])
@pytest.mark.parametrize("count", [2, 3])
def test_a_stream_of_several_images_gives_each_image_its_own_map(path, mini_batch_size, count):
    net = PATHS[path]()
    cases = CASES[:count]
    mixed = []
    engine = net.engine("cpu")
    with observe_forwards(engine, lambda batch, seconds: mixed.append(len(batch.parts) > 1)):
        maps = list(
            score_maps(
                net, requests(net, cases, MiniBatchSize=mini_batch_size, ExecutionEnvironment="cpu", Incremental="off")
            )
        )
    assert len(maps) == count
    if mini_batch_size > 1 and path in ("onnx prefix", "torch device"):  # the host paths' sizes are the search's
        assert any(mixed)  # some batch held the end of one image's masks and the start of the next's
    for found, case in zip(maps, cases):
        alone = occlusionSensitivity(
            net,
            image(case[0]),
            case[1],
            MaskSize=case[2],
            Stride=case[3],
            MaskValue=case[4],
            OutputUpsampling="none",
            MiniBatchSize=mini_batch_size,
            ExecutionEnvironment="cpu",
            Incremental="off",
        )
        np.testing.assert_array_equal(found, alone)
        np.testing.assert_array_equal(found, closed_form(*case))  # integers: float32 sums are exact


def test_batches_straddle_images_at_every_offset():
    """Each batch boundary falls at a different place in the images: still each image's map."""
    net = with_engine(
        importNetworkFromONNX(linear_model(WEIGHTS)),
        OrtEngine(
            importNetworkFromONNX(linear_model(WEIGHTS)).selected_model(),
            "cpu",
            input_size=(H, W, C),
            occlude_on_device=True,
        ),
    )
    cases = [(seed, [1 + seed % 4], 4, 3, float(seed)) for seed in range(6)]  # 4×4 masks: 17 images each
    for size in (2, 3, 5, 16, 18, 35):
        parts: list[list[int]] = []

        def seen(batch, _, parts=parts):
            parts.append([len(part) for part in batch.parts])

        with observe_forwards(net.engine("cpu"), seen):
            maps = list(score_maps(net, requests(net, cases, MiniBatchSize=size, ExecutionEnvironment="cpu")))
        assert sum(map(sum, parts)) == 6 * 17 and max(map(sum, parts)) == size
        for found, case in zip(maps, cases):
            np.testing.assert_array_equal(found, closed_form(*case))


def test_requests_that_disagree_on_the_batch_start_a_new_stream():
    net = importNetworkFromONNX(linear_model(WEIGHTS))
    one, two, three = requests(net)
    other = map_request(
        net, image(2), [3], MaskSize=[3, 5], Stride=[2, 4], MaskValue=100.0, OutputUpsampling="none", MiniBatchSize=2
    )
    maps = list(score_maps(net, [one, other, two, three]))
    for found, case in zip(maps, [CASES[0], CASES[1], CASES[1], CASES[2]]):
        np.testing.assert_array_equal(found, closed_form(*case))


def test_the_incremental_path_runs_in_its_place_in_the_stream():
    kernel = np.random.default_rng(9).integers(-2, 3, size=(2, 1, 3, 3)).astype(np.float32)
    net = importNetworkFromONNX(spatial_model(kernel, 16, 16))
    pictures = [np.random.default_rng(seed).integers(0, 256, (16, 16)).astype(np.float64) for seed in range(3)]
    modes = ["off", "on", "off"]
    found = list(
        score_maps(
            net,
            [
                map_request(net, picture, [1, 2], MaskSize=3, Stride=2, Incremental=mode, OutputUpsampling="none")
                for picture, mode in zip(pictures, modes)
            ],
        )
    )
    for mode, picture, got in zip(modes, pictures, found):
        alone = occlusionSensitivity(
            net, picture, [1, 2], MaskSize=3, Stride=2, Incremental=mode, OutputUpsampling="none"
        )
        np.testing.assert_allclose(got, alone, rtol=0, atol=1e-3 * np.abs(alone).max())


def test_maps_come_as_soon_as_they_are_done_and_memory_does_not_grow_with_requests():
    """A lazy generator of requests is read only a few requests ahead of the maps given back,
    and the memory in use after many maps is what it was after a few."""
    net = importNetworkFromONNX(linear_model(WEIGHTS))
    template = requests(net, CASES[:1], MiniBatchSize=16)[0]  # 17 images per map
    pulled = 0

    def lazy(count):
        nonlocal pulled
        for _ in range(count):
            pulled += 1
            yield MapRequest(template.image.copy(), template.channels, template.options, template.grid)

    expected = closed_form(*CASES[0])
    in_use = []
    tracemalloc.start()
    try:
        for index, found in enumerate(score_maps(net, lazy(400)), 1):
            assert pulled <= index + 2  # a batch of 16 needs at most the next two requests
            np.testing.assert_array_equal(found, expected)
            if index in (50, 400):
                gc.collect()
                in_use.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert pulled == 400
    assert in_use[1] < in_use[0] + 64 * 1024


def test_a_real_network_gives_each_image_its_single_image_map(efficientnet, coffee):
    flipped = np.ascontiguousarray(coffee[:, ::-1])
    options = {"MaskSize": 60, "Stride": 50, "OutputUpsampling": "none", "Incremental": "off", "MiniBatchSize": 16}
    pairs = [(coffee, [968, 505]), (flipped, 505), (coffee, 968)]
    maps = list(score_maps(efficientnet, (map_request(efficientnet, x, ch, **options) for x, ch in pairs)))
    for found, (x, ch) in zip(maps, pairs):
        alone = occlusionSensitivity(efficientnet, x, ch, **options)
        np.testing.assert_allclose(found, alone, rtol=0, atol=1e-5 * np.abs(alone).max())
    np.testing.assert_allclose(maps[0][..., 0], maps[2], rtol=0, atol=1e-5 * np.abs(maps[2]).max())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_map_request_validates_before_any_inference():
    net = importNetworkFromONNX(linear_model(WEIGHTS))
    with pytest.raises(ValueError, match="channelIdx"):
        map_request(net, image(1), 5)
    with pytest.raises(ValueError, match="OutputNames"):
        map_request(net, image(1), "scores", 1)
    assert not net._engines


@settings(max_examples=80, deadline=None)
@given(
    masks=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1, max_size=6),
    limit=st.integers(1, 12),
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=5),
)
def test_a_stream_numbers_every_image_of_every_job_once_in_order(masks, limit, sizes):
    """Whatever the batch sizes: each job's images 0..len-1 in order, jobs in order, every batch
    as large as asked (up to the images left), the covered ranges those of OcclusionJob.covered."""
    base = np.zeros((1, 1, 4, 4), np.float32)
    jobs = [OcclusionJob(base, base, mask_grid((4, 4), (2, 2), shape, True), "BCSS", limit) for shape in masks]
    stream = ImageStream(iter(jobs), limit)
    asked = iter(sizes * sum(len(job) for job in jobs))
    seen, calls = [], []

    def next_size(limit, remaining):
        calls.append((min(next(asked), limit), remaining))  # as the batch-size search asks: at most the limit
        return calls[-1][0]

    for batch in stream.batches(next_size):
        assert len(batch) == sum(len(part) for part in batch.parts) == min(calls[-1])
        for part in batch.parts:
            covered = part.job.covered(part.first, part.stop)
            np.testing.assert_array_equal(batch.ranges[part.slot : part.slot + len(part)], covered)
            seen += [(part.serial, image) for image in range(part.first, part.stop)]
    assert seen == [(serial, image) for serial, job in enumerate(jobs) for image in range(len(job))]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # "on" must not fall back to the ordinary path
@pytest.mark.parametrize("incremental", ["off", "on"])
@pytest.mark.parametrize("output", ["scores", "local"])
def test_each_map_comes_with_the_output_for_the_unoccluded_image(incremental, output):
    """The reference every map computes is what predict gives for the image, in MATLAB's layout
    (N×C for class scores, H×W×C×N for a spatial layer), on the ordinary and incremental paths."""
    kernel = np.random.default_rng(8).normal(size=(4, C, 3, 3))
    net = importNetworkFromONNX(spatial_model(kernel, H, W))
    if output == "local":
        net.OutputNames = ["local"]
    pictures = [image(seed) for seed in (1, 2, 3)]
    wanted = [map_request(net, X, [2], MaskSize=3, Stride=2, Incremental=incremental) for X in pictures]
    results = list(map_results(net, wanted))
    assert len(results) == 3
    for result, X, request in zip(results, pictures, wanted):
        expected = predict(net, X)
        assert result.reference.shape == expected.shape
        np.testing.assert_allclose(result.reference, expected, rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(result.scoremap, next(score_maps(net, [request])))
