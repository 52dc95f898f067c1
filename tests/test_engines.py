"""Engines: how they choose their batch size (never changing a map), their sessions, their reuse."""

from __future__ import annotations

import numpy as np
import pytest

from matlab_occsens import occlusionSensitivity, predict
from matlab_occsens.network.batching import MEMORY_BUDGET, MIN_SEARCH_IMAGES, BatchSizer, candidate_sizes


class CostModel:
    """A network whose run time per call is ``overhead + size * per_image(size)``, on a clock
    that only this network advances, and whose arena keeps ``bytes_per_image`` times the largest
    batch it ran: the search is tested without timing noise."""

    def __init__(self, per_image, bytes_per_image=1000):
        self.now = 0.0
        self.per_image = per_image
        self.bytes_per_image = bytes_per_image
        self.calls: list[int] = []

    def clock(self) -> float:
        return self.now

    def memory(self) -> int:
        return 50_000_000 + self.bytes_per_image * max(self.calls, default=0)

    def run(self, batch: np.ndarray) -> None:
        self.calls.append(len(batch))
        self.now += 0.001 + len(batch) * self.per_image(len(batch))

    def sizer(self) -> BatchSizer:
        return BatchSizer(clock=self.clock, memory=self.memory)


def u_shaped(size: int) -> float:
    """Fastest at 8 images per call (cache effects past it), as CPUs behave."""
    return 0.010 * (1 + abs(np.log2(size) - 3) / 4)


def test_candidate_sizes():
    assert candidate_sizes(1) == [1]
    assert candidate_sizes(8) == [1, 2, 4, 8]
    assert candidate_sizes(100) == [1, 2, 4, 8, 16, 32, 64, 100]


def test_the_fastest_size_is_chosen_and_the_search_stops_past_it():
    model = CostModel(u_shaped)
    sizer = model.sizer()
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=128, images=10_000) == 8
    tried = sorted(set(model.calls))
    assert tried[:4] == [1, 2, 4, 8] and max(tried) < 128  # stopped once sizes got clearly slower


def test_the_limit_is_respected_and_measurements_are_kept():
    model = CostModel(u_shaped)
    sizer = model.sizer()
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=3, images=10_000) == 3
    calls = len(model.calls)
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=3, images=10_000) == 3
    assert len(model.calls) == calls  # measured once per engine
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=128, images=10_000) == 8


def test_the_search_stays_within_its_memory_budget():
    """Always faster with more images per call, but 10 MB per image: 16 (160 MB) is the
    largest size tried, as 32 would need 320 MB."""
    model = CostModel(lambda size: 0.010 / size**0.1, bytes_per_image=10 * 2**20)
    sizer = model.sizer()
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=128, images=10_000) == 16
    assert max(model.calls) == 16 and sizer.largest_tried == 16
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=128, images=10_000) == 16
    assert max(model.calls) == 16  # not tried again
    assert MEMORY_BUDGET == 256 * 2**20


def test_a_small_job_runs_at_the_limit_without_a_search():
    model = CostModel(u_shaped)
    sizer = model.sizer()
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=40, images=MIN_SEARCH_IMAGES - 1) == 40
    assert model.calls == []
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=40, images=MIN_SEARCH_IMAGES) == 8
    assert sizer.choose(model.run, np.zeros((1, 3)), limit=40, images=5) == 8  # measured: reused


def test_the_search_does_not_depend_on_the_job():
    """The largest batch ever run (what sets the memory peak) is the same for every job."""
    runs = []
    for images in (MIN_SEARCH_IMAGES, 121, 50_176):
        model = CostModel(u_shaped)
        model.sizer().choose(model.run, np.zeros((1, 3)), limit=128, images=images)
        runs.append(model.calls)
    assert runs[0] == runs[1] == runs[2]


def test_ort_maps_do_not_depend_on_the_batch_size(efficientnet, coffee):
    """ONNX Runtime computes each image of a batch alone: the maps agree to the last bit, and
    with the map computed one occluded image at a time through predict."""
    options = dict(MaskSize=60, Stride=50, OutputUpsampling="none")
    maps = [occlusionSensitivity(efficientnet, coffee, [968, 505], MiniBatchSize=size, **options) for size in (1, 3, 128)]
    for other in maps[1:]:
        np.testing.assert_array_equal(other, maps[0])
    image = coffee.astype(np.float32)
    fill = image.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)
    occluded = []
    for centre_row in range(0, 224, 50):
        for centre_col in range(0, 224, 50):
            copy = image.copy()
            copy[max(centre_row - 30, 0) : centre_row + 30, max(centre_col - 30, 0) : centre_col + 30] = fill
            occluded.append(copy)
    scores = predict(efficientnet, np.stack([image, *occluded], axis=3), MiniBatchSize=1)[:, [967, 504]]
    expected = (scores[0] - scores[1:]).reshape(5, 5, 2)
    np.testing.assert_array_equal(maps[0], expected)


def test_the_engine_keeps_its_choice(efficientnet, coffee):
    engine = efficientnet.engine("auto")
    first = occlusionSensitivity(efficientnet, coffee, 968, MaskSize=45, Stride=28, OutputUpsampling="none")
    measured = dict(engine._sizer._seconds)
    assert measured and max(measured) <= 64
    second = occlusionSensitivity(efficientnet, coffee, 968, MaskSize=45, Stride=28, OutputUpsampling="none")
    assert engine._sizer._seconds == measured
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("mini_batch_size", [1, 2])
def test_mini_batch_size_bounds_the_choice(efficientnet, coffee, mini_batch_size):
    engine = efficientnet.engine("auto")
    chosen = engine.batch_size(mini_batch_size, efficientnet.prepare(coffee[np.newaxis].astype(np.float32)), 121)
    assert 1 <= chosen <= mini_batch_size


def test_an_auto_engine_serves_requests_for_its_device(efficientnet):
    auto = efficientnet.engine("auto")
    assert efficientnet.engine(auto.device) is auto


def test_sessions_use_one_thread_per_physical_core():
    from matlab_occsens.network.cpu import physical_cores
    from matlab_occsens.network.onnx import session_options

    options = session_options()
    assert options.intra_op_num_threads == physical_cores() >= 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
