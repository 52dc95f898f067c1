"""Incremental="auto" measures both paths on the map's own masks; NHWC graphs; the caches.

Whichever path "auto" takes, and however it splits a map between the two, the map is the
ordinary one within 1e-5 of its largest value, every image computed once.
"""

from __future__ import annotations

import gc
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper
from onnx_builders import spatial_model
from random_cnns import random_cnns, seeded_cnn

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity
from matlab_occsens._core.formats import channels_last_shape
from matlab_occsens._core.grid import mask_grid
from matlab_occsens._incremental import auto, cache
from matlab_occsens._incremental.cache import derived
from matlab_occsens._incremental.policy import incremental_forward, plan_for, spatial_graph
from matlab_occsens._incremental.runner import IncrementalForward
from matlab_occsens._stream.drive import occluded_outputs
from matlab_occsens._stream.job import OcclusionJob
from matlab_occsens._stream.sequence import ImageStream
from matlab_occsens._utils.kept_cache import KeptCache

TOLERANCE = 1e-5


def assert_same_map(got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE * float(np.abs(expected).max()))


def conv_net(height: int = 20, width: int = 24):
    kernel = np.random.default_rng(1).normal(size=(4, 3, 3, 3)).astype(np.float32)
    return importNetworkFromONNX(spatial_model(kernel, height, width))


# ---------------------------------------------------------------------- NHWC graphs
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    network=random_cnns(nhwc=True),
    mask=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    stride=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    seed=st.integers(0, 2**16),
)
def test_an_nhwc_front_gives_the_ordinary_map(network, mask, stride, seed):
    """A TensorFlow-style graph (NHWC input, Transpose to NCHW, the layers, back to NHWC): the
    analysis starts after the front transpose and the map is the ordinary one."""
    model, (height, width, channels) = network
    net = importNetworkFromONNX(model, InputDataFormats="BSSC")
    graph = spatial_graph(net)
    assert graph.front_perm == (0, 3, 1, 2) and graph.input != graph.source
    if len(graph.cuts) < 2:
        return
    image = np.random.default_rng(seed).uniform(0, 255, (height, width, channels))
    output = net.OutputNames[0]
    count = net.output_channels(output) or graph.shapes[graph.output][-1]
    options = {"MaskSize": list(mask), "Stride": list(stride), "OutputUpsampling": "none"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback notice would fail the test
        incremental = occlusionSensitivity(net, image, list(range(1, count + 1)), Incremental="on", **options)
    ordinary = occlusionSensitivity(net, image, list(range(1, count + 1)), Incremental="off", **options)
    assert_same_map(incremental, ordinary)


def test_an_nhwc_twin_gets_the_plan_of_its_nchw_twin():
    """The same layers behind an NHWC input plan the same chunks, predicted as fast."""
    kernel = np.random.default_rng(2).normal(size=(4, 3, 3, 3)).astype(np.float32)
    nchw = importNetworkFromONNX(spatial_model(kernel, 20, 24))
    model = spatial_model(kernel, 20, 24)
    (source,) = model.graph.input
    dims = source.type.tensor_type.shape.dim
    n, c, h, w = (dim.dim_param or dim.dim_value for dim in dims)
    del model.graph.input[:]
    model.graph.input.append(helper.make_tensor_value_info("nhwc", 1, [n, h, w, c]))
    model.graph.node.insert(0, helper.make_node("Transpose", ["nhwc"], [source.name], perm=[0, 3, 1, 2]))
    nhwc = importNetworkFromONNX(model, InputDataFormats="BSSC")
    grid = mask_grid((20, 24), (5, 5), (2, 2), True)
    twins = [plan_for(net, grid, 8, forced=True) for net in (nchw, nhwc)]
    assert [len(plan.chunks) for plan in twins] == [len(twins[0].chunks)] * 2 and twins[0].chunks
    assert twins[1].predicted_speedup == pytest.approx(twins[0].predicted_speedup, rel=0.01)
    image = np.random.default_rng(3).uniform(0, 255, (20, 24, 3))
    maps = [occlusionSensitivity(net, image, [1, 2], MaskSize=5, Stride=2, Incremental="on") for net in (nchw, nhwc)]
    assert_same_map(maps[1], maps[0])


# ---------------------------------------------------------------------- "auto" measures
def _job(net, grid, seed=4):
    shape = channels_last_shape(net.InputDataFormats, tuple(net.InputSize))
    image = np.random.default_rng(seed).uniform(0, 255, (1, *shape)).astype(np.float32)
    fill = np.full_like(image, 80.0)
    return OcclusionJob(net.prepare(image), net.prepare(fill), grid, net.InputDataFormats, 8)


HOLD = 0.1
"""Seconds each batch of the held-up path waits: it loses by far, however busy the machine (the
incremental path's batches wait side by side, one per worker)."""


class _SlowIncremental(IncrementalForward):
    """The real incremental passes, each batch held up: the ordinary path must win."""

    def _batch(self, *args):
        time.sleep(HOLD)
        return super()._batch(*args)


def _ordinary(engine):
    """A job's images through the ordinary stream, in the job's numbering."""

    def images(job):
        for batch, output in occluded_outputs(engine, ImageStream([job], job.batch_size), job.input_format):
            for part in batch.parts:
                yield part.first, output[part.slot : part.slot + len(part)]

    return images


def _slow_ordinary(engine):
    def images(job):
        for first, output in _ordinary(engine)(job):
            time.sleep(HOLD)
            yield first, output

    return images


MEASURED_GRIDS = {
    "image": ((20, 24), (3, 3), (2, 2)),  # 120 masks
    "volume": ((10, 12, 8), (3, 3, 3), (2, 3, 2)),  # 5 × 4 × 4 = 80 masks
    "signal": ((200,), (9,), (2,)),  # 100 masks
}


def _measured_setup(kind: str = "image"):
    """A job of 80 to 120 masks on a small convolutional network (an image's, a volume's or a
    signal's), with its engine and its "auto" passes."""
    size, mask, stride = MEASURED_GRIDS[kind]
    fmt = {"image": "BCSS", "volume": "BCSSS", "signal": "BCT"}[kind]
    net = conv_net() if kind == "image" else importNetworkFromONNX(seeded_cnn(size), InputDataFormats=fmt)
    engine = net.engine("cpu")
    grid = mask_grid(size, mask, stride, True)
    job = _job(net, grid)
    forward = incremental_forward(net, engine, grid, "auto", 8, "test")
    assert forward is not None
    return engine, job, forward


@pytest.mark.parametrize("kind", list(MEASURED_GRIDS))
@pytest.mark.parametrize("slow", ["ordinary", "incremental"])
def test_a_measured_map_has_every_image_once_and_the_ordinary_values(slow, kind):
    """Whichever path wins, the map is split between the two without a gap or a repeat, and
    the faster is remembered: on images, volumes (the trial's rows are the grid's slices along
    its first axis) and signals."""
    engine, job, forward = _measured_setup(kind)
    if slow == "incremental":
        forward.__class__ = _SlowIncremental
    ordinary = _slow_ordinary(engine) if slow == "ordinary" else _ordinary(engine)
    choices: KeptCache = KeptCache(4)
    seen = np.zeros(len(job), int)
    got: dict[int, np.ndarray] = {}
    for first, output in auto.measured_outputs(ordinary, forward, job, choices, "grid"):
        seen[first : first + len(output)] += 1
        got[first] = output.copy()
    assert next(iter(got)) == 0  # the unoccluded image first: the map scores it before any mask
    np.testing.assert_array_equal(seen, 1)
    expected = np.concatenate([output for _, output in sorted(_ordinary(engine)(job), key=lambda item: item[0])])
    assert_same_map(np.concatenate([got[first] for first in sorted(got)]), expected)
    assert choices.get("grid").incremental_wins == (slow == "ordinary")


def test_a_far_slower_ordinary_path_is_measured_on_one_batch_a_turn():
    """An ordinary turn stops once it has run as long as the incremental turn before it: a held
    batch outlasts a whole incremental turn, so each turn runs one ordinary batch (not as many
    images as the incremental turn, which would take the front's 25 images in its first turn),
    and the rest of the front goes incremental."""
    engine, job, forward = _measured_setup()
    batches = []

    def ordinary(job):
        for first, output in _slow_ordinary(engine)(job):
            batches.append(len(output))
            yield first, output

    seen = np.zeros(len(job), int)
    for first, output in auto.measured_outputs(ordinary, forward, job, KeptCache(4), "grid"):
        seen[first : first + len(output)] += 1
    np.testing.assert_array_equal(seen, 1)
    assert len(batches) == auto.TURNS and sum(batches) < 25


def test_auto_remembers_its_choice_and_measures_again_now_and_then():
    net = conv_net()
    image = np.random.default_rng(5).uniform(0, 255, (20, 24, 3))
    options = {"MaskSize": 3, "Stride": 2, "OutputUpsampling": "none"}
    ordinary = occlusionSensitivity(net, image, [1, 3], Incremental="off", **options)
    assert_same_map(occlusionSensitivity(net, image, [1, 3], **options), ordinary)
    (first,) = list(derived(net).choices.values())
    assert first.calls == 0
    for calls in range(1, auto.RECHECK_EVERY + 1):
        assert_same_map(occlusionSensitivity(net, image, [1, 3], **options), ordinary)
        assert list(derived(net).choices.values()) == [first] and first.calls == calls
    occlusionSensitivity(net, image, [1, 3], **options)
    (again,) = list(derived(net).choices.values())
    assert again is not first and again.calls == 0


def test_a_confirmed_choice_is_measured_less_often_and_an_overturned_one_soon_again():
    engine, job, forward = _measured_setup()
    slow = {"side": "ordinary"}

    def ordinary(job):
        for first, output in _ordinary(engine)(job):
            if slow["side"] == "ordinary":
                time.sleep(HOLD)
            yield first, output

    class Switchable(IncrementalForward):
        def _batch(self, *args):
            if slow["side"] == "incremental":
                time.sleep(HOLD)
            return super()._batch(*args)

    forward.__class__ = Switchable
    choices: KeptCache = KeptCache(4)

    def measured_call():
        for _ in auto.measured_outputs(ordinary, forward, job, choices, "grid"):
            pass
        return choices.get("grid")

    intervals = []
    for _ in range(5):
        choice = measured_call()
        assert choice.incremental_wins and choice.calls == 0
        intervals.append(choice.interval)
        choice.calls = choice.interval  # the calls that follow without measuring
    assert intervals == [min(auto.RECHECK_EVERY * 2**k, auto.RECHECK_MOST) for k in range(5)]
    assert intervals[-1] == auto.RECHECK_MOST
    slow["side"] = "incremental"  # the load changed: the other path is faster now
    choice = measured_call()
    assert not choice.incremental_wins and choice.interval == auto.RECHECK_EVERY


def test_incremental_batches_start_on_multiples_of_the_batch_size():
    """A measuring turn that starts mid-grid runs the batch shapes of a whole map (a new shape
    costs every engine a first run's planning), and an empty range runs nothing."""
    net = conv_net()
    grid = mask_grid((20, 24), (3, 3), (2, 2), True)  # 120 masks
    job = _job(net, grid)
    forward = incremental_forward(net, net.engine("cpu"), grid, "on", 8, "test")
    assert forward is not None and forward.batch_size == 8
    forward.reference(job.base)
    assert [(first, len(output)) for first, output in forward.outputs(job.fill, grid, 5, 30)] == [
        (5, 3),
        (8, 8),
        (16, 8),
        (24, 6),
    ]
    assert list(forward.outputs(job.fill, grid, 7, 7)) == []


def test_small_maps_keep_the_ordinary_path_without_analysis():
    net = conv_net()
    grid = mask_grid((20, 24), (8, 8), (6, 6), True)  # 16 masks
    assert incremental_forward(net, net.engine("cpu"), grid, "auto", 8, "test") is None
    assert derived(net).graph is None


# ---------------------------------------------------------------------- the caches
def test_plans_are_kept_for_the_latest_grids_only():
    net = conv_net()
    grids = [mask_grid((20, 24), (3, 3), (stride, stride), True) for stride in range(1, cache.PLANS_KEPT + 3)]
    plans = [plan_for(net, grid, 8, forced=True) for grid in grids]
    assert len(derived(net).plans) == cache.PLANS_KEPT
    assert plan_for(net, grids[-1], 8, forced=True) is plans[-1]  # kept
    assert plan_for(net, grids[0], 8, forced=True) is not plans[0]  # dropped, planned again


def test_what_is_derived_is_kept_per_output_selection_and_freed_with_the_network():
    net = conv_net()
    scores, selected = spatial_graph(net), net.OutputNames
    net.OutputNames = "local"
    assert spatial_graph(net) is not scores and spatial_graph(net).output == "local_out"
    net.OutputNames = selected
    assert spatial_graph(net) is scores  # kept while the selection is among the latest
    entries = len(cache._DERIVED)
    del net, scores
    gc.collect()
    assert len(cache._DERIVED) == entries - 1
