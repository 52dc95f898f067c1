"""Volumes and signals: the default (``Incremental="auto"``) against ``"off"``, and against MONAI.

Two random-weight torch networks (seeded), exported to ONNX here with the legacy exporter:

* **volume**: a 3-D CNN (Conv3d, BatchNorm3d, ReLU, MaxPool3d ×3, a fourth convolution, global
  average pooling, a dense layer) on one 48³ volume (1 channel), MaskSize 8, Stride 4, only
  masks that fit (``MaskClipping="off"``): 11³ = 1,331 masks, MaskValue 0. MONAI's
  ``OcclusionSensitivity`` runs the very same torch module with the same windows
  (``mask_size=8, overlap=0.5``: its sliding window steps 8 × (1 − 0.5) = 4 voxels and keeps
  the windows inside the volume) and the same fill (``mode=0.0``, no activation), in one run with
  ours; its map is checked against ours (MONAI averages the outputs of the windows that cover a
  voxel, which our raw map gives exactly: the reference minus the mean drop of those windows).
* **signal**: a 1-D CNN (Conv1d, BatchNorm1d, ReLU, MaxPool1d ×3, a fourth convolution, global
  average pooling, a dense layer) on a 12-feature signal of 2,000 time steps (12-lead ECG at
  200 Hz), MaskSize 40, Stride 4 (a fine grid): 500 masks.

Each timed figure is a whole ``occlusionSensitivity`` call (the map of channel 1), the engines
already built by a small map first. ``"auto"``'s *first* call on a grid includes the analysis,
the plan, the chunk engines and its measurement of both paths on the map's own masks (part of
the map is done by the slower path while it measures); its *next* calls follow the choice.
The multiply-add bounds are printed beside the speed-ups: *plan*, a full pass over what the
chosen plan computes per mask; *ideal*, over what an engine recomputing exactly the changed
outputs of every layer would. Peak memory (RSS) is measured in a fresh process per grid, for a
coarse and the measured grid: it must not grow with the number of masks.

Usage::

    python -m benchmarks.volumes [--repeats 1] [--cases volume signal] [--no-monai]
    python -m benchmarks.volumes --smoke        # seconds, for CI
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import multiprocessing
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity, predict
from matlab_occsens._hooks import derived, ideal_work, mask_grid, plan_for, rest_work, spatial_graph
from matlab_occsens.network import Network

TARGETS = {"volume": 3.0, "signal": 2.0}
"""The speed-up of the default over "off" each case must reach (issue 22)."""
MONAI_TARGET = 10.0
"""How many times faster per forward image than MONAI the default must be on the volume."""


@dataclass(frozen=True)
class Case:
    """A network, its input and its grid, at full size or for a smoke run."""

    name: str
    input_format: str
    shape: tuple[int, ...]
    """The torch module's input, batch first: (1, C, *spatial)."""
    mask: int
    stride: int
    clipping: str
    coarse_stride: int
    """The stride of the coarser grid whose peak memory is compared with the measured one's."""

    @property
    def spatial(self) -> tuple[int, ...]:
        return self.shape[2:]

    def options(self, stride: int | None = None) -> dict:
        return {
            "MaskSize": self.mask,
            "Stride": self.stride if stride is None else stride,
            "MaskClipping": self.clipping,
            "MaskValue": 0,
            "OutputUpsampling": "none",
        }

    def masks(self, stride: int | None = None) -> int:
        rank = len(self.spatial)
        step = self.stride if stride is None else stride
        return len(mask_grid(self.spatial, (self.mask,) * rank, (step,) * rank, self.clipping == "on"))


CASES = {
    "volume": Case("volume", "BCSSS", (1, 1, 48, 48, 48), 8, 4, "off", 8),
    "signal": Case("signal", "BCT", (1, 12, 2000), 40, 4, "on", 16),
}
SMOKE_CASES = {
    "volume": Case("volume", "BCSSS", (1, 1, 12, 12, 12), 4, 2, "off", 8),
    "signal": Case("signal", "BCT", (1, 12, 200), 8, 2, "on", 8),
}


# ---------------------------------------------------------------------------------- the networks
def module(case: Case):
    """The seeded random-weight torch module of a case (batch norms with random statistics)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    rank = len(case.spatial)
    conv, norm, pool = {3: (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d), 1: (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d)}[
        rank
    ]
    widths = [case.shape[1], 16, 32, 64, 64] if rank == 3 else [case.shape[1], 32, 64, 128, 128]
    kernels = [3, 3, 3, 3] if rank == 3 else [7, 5, 5, 3]
    layers: list = []
    for index, (width_in, width_out, kernel) in enumerate(zip(widths, widths[1:], kernels)):
        layers += [conv(width_in, width_out, kernel, padding=kernel // 2), norm(width_out), nn.ReLU()]
        if index < 3:
            layers.append(pool(2))
    pooling = nn.AdaptiveAvgPool3d(1) if rank == 3 else nn.AdaptiveAvgPool1d(1)
    model = nn.Sequential(*layers, pooling, nn.Flatten(), nn.Linear(widths[-1], 2)).eval()
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, norm):
                layer.running_mean.uniform_(-0.2, 0.2)
                layer.running_var.uniform_(0.5, 1.5)
    return model


def exported(case: Case, model) -> bytes:
    """The module as an ONNX file's bytes (legacy exporter, opset 17, any batch size)."""
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            torch.zeros(case.shape),
            buffer,
            input_names=["input"],
            output_names=["scores"],
            dynamic_axes={"input": {0: "N"}, "scores": {0: "N"}},
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def observation(case: Case) -> np.ndarray:
    """A seeded input in MATLAB's layout: S1×S2×S3 for the one-channel volume, C×T for the signal."""
    values = np.random.default_rng(1).normal(size=case.shape[1:]).astype(np.float32)
    return values[0] if case.input_format == "BCSSS" else values


# ---------------------------------------------------------------------------------- measuring
def timed(call: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def bounds(net: Network, case: Case) -> tuple[float, float]:
    """The multiply-add bounds of the default's plan and of an ideal incremental engine."""
    rank = len(case.spatial)
    grid = mask_grid(case.spatial, (case.mask,) * rank, (case.stride,) * rank, case.clipping == "on")
    graph = spatial_graph(net)
    plan = plan_for(net, grid, 8, forced=True)
    return plan.macs_speedup, rest_work(graph, graph.input).multiply_adds / ideal_work(graph, grid).multiply_adds


def peak_rss(onnx_bytes: bytes, case: Case, stride: int) -> float:
    """Peak resident memory (MB) of a fresh process that computes one default map on the grid:
    Linux's high-water mark of this process image (``getrusage``'s maximum would carry the
    parent's over from the fork that started it)."""
    net = importNetworkFromONNX(onnx_bytes, InputDataFormats=case.input_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        occlusionSensitivity(net, observation(case), 1, **case.options(stride))
    status = Path("/proc/self/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def monai_map(model, case: Case) -> tuple[float, int, np.ndarray]:
    """MONAI's OcclusionSensitivity on the module, same windows and fill: (seconds, images
    forwarded, its map of channel 1)."""
    import torch
    from monai.visualize import OcclusionSensitivity

    images = [0]
    hook = model.register_forward_pre_hook(lambda _, inputs: images.__setitem__(0, images[0] + len(inputs[0])))
    overlap = 1 - case.stride / case.mask  # MONAI's windows step mask_size × (1 − overlap)
    explainer = OcclusionSensitivity(
        model, mask_size=case.mask, n_batch=16, verbose=False, mode=0.0, overlap=overlap, activate=False
    )
    volume = torch.from_numpy(observation(case)[np.newaxis, np.newaxis])
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            sensitivity, _ = explainer(volume)
            seconds = time.perf_counter() - start
    finally:
        hook.remove()
    return seconds, images[0], np.asarray(sensitivity[0, 0])


def monai_from_ours(raw: np.ndarray, reference: float, case: Case) -> np.ndarray:
    """MONAI's map computed from our raw map: each voxel's mean output over the windows covering
    it (our raw map is the reference minus each window's output)."""
    rank = len(case.spatial)
    grid = mask_grid(case.spatial, (case.mask,) * rank, (case.stride,) * rank, False)
    covers = []
    for size, ranges in zip(case.spatial, grid.axes):
        cover = np.zeros((size, len(ranges)))
        for window, (start, stop) in enumerate(ranges):
            cover[start:stop, window] = 1
        covers.append(cover)
    drops = np.einsum("ai,bj,ck,ijk->abc", *covers, raw.astype(np.float64))
    counts = np.einsum("a,b,c->abc", *[cover.sum(axis=1) for cover in covers])
    return reference - drops / counts


@dataclass(frozen=True)
class MonaiRun:
    """MONAI's map, timed between two default calls (a load that changes during its minutes
    falls on the calls around it too)."""

    seconds: float
    images: int
    """Forward images MONAI ran (its windows; it runs no unoccluded pass)."""
    ours: tuple[float, float]
    """Seconds of the default call just before and just after."""
    difference: float
    """Its map's largest difference from the one computed from ours, over its largest value."""

    def per_image_ratio(self, masks: int) -> float:
        """How many times longer MONAI takes per forward image than the default calls around it."""
        return (self.seconds / self.images) / (statistics.mean(self.ours) / (masks + 1))


@dataclass
class Row:
    case: Case
    off: list[float]
    first: float
    default: list[float]
    chose: str
    plan_bound: float
    ideal_bound: float
    error: float
    """The default map's largest difference from "off"'s, over the largest value of that map."""
    output_error: float
    """The same difference over the largest unoccluded output (random weights give maps tiny
    next to the output, whose float32 rounding then shows in the map)."""
    peaks: tuple[float, float]
    monai: MonaiRun | None = None
    load: tuple[float, float] = (0.0, 0.0)

    @property
    def speedup(self) -> float:
        return statistics.median(self.off) / statistics.median(self.default)


def measure(case: Case, repeats: int, with_monai: bool) -> Row:
    load_before = os.getloadavg()[0]
    model = module(case)
    onnx_bytes = exported(case, model)
    net = importNetworkFromONNX(onnx_bytes, InputDataFormats=case.input_format)
    X = observation(case)
    coarse = case.options(stride=max(case.spatial))  # one or a few masks: builds the ordinary engine
    occlusionSensitivity(net, X, 1, Incremental="off", **coarse)
    first, default_map = timed(lambda: occlusionSensitivity(net, X, 1, **case.options()))
    choices = list(derived(net).choices.values())  # what the first call measured, if it did
    off: list[float] = []
    default: list[float] = []
    for _ in range(repeats):  # in turns, so that both meet the same load
        seconds, off_map = timed(lambda: occlusionSensitivity(net, X, 1, Incremental="off", **case.options()))
        off.append(seconds)
        default.append(timed(lambda: occlusionSensitivity(net, X, 1, **case.options()))[0])
    difference = float(np.abs(default_map - off_map).max())
    error, output_error = difference / np.abs(off_map).max(), difference / np.abs(predict(net, X)).max()
    plan_bound, ideal_bound = bounds(net, case)
    context = multiprocessing.get_context("spawn")
    peaks = []
    for stride in (case.coarse_stride, case.stride):
        with ProcessPoolExecutor(1, mp_context=context) as pool:  # a fresh process per grid
            peaks.append(pool.submit(peak_rss, onnx_bytes, case, stride).result())
    chose = ("on" if choices[-1].incremental_wins else "off") if choices else "off, unmeasured"
    row = Row(case, off, first, default, chose, plan_bound, ideal_bound, error, output_error, (peaks[0], peaks[1]))
    if with_monai and case.input_format == "BCSSS":
        before = timed(lambda: occlusionSensitivity(net, X, 1, **case.options()))[0]
        seconds, images, theirs = monai_map(model, case)
        after = timed(lambda: occlusionSensitivity(net, X, 1, **case.options()))[0]
        reference = float(np.ravel(predict(net, X))[0])
        ours = monai_from_ours(off_map, reference, case)
        difference = float(np.abs(theirs - ours).max() / np.abs(theirs).max())
        row.monai = MonaiRun(seconds, images, (before, after), difference)
    row.load = (load_before, os.getloadavg()[0])
    return row


def report(rows: list[Row]) -> None:
    print(
        "| case | masks | off s | default s (first call) | speed-up | chose | plan bound | ideal bound "
        "| max error (map / output) | peak RSS (coarse / measured grid) | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        case = row.case
        print(
            f"| {case.name} {'×'.join(map(str, case.shape[1:]))} | {case.masks()} "
            f"| {statistics.median(row.off):.2f} | {statistics.median(row.default):.2f} ({row.first:.2f}) "
            f"| **{row.speedup:.2f}x** | {row.chose} | {row.plan_bound:.2f}x | {row.ideal_bound:.2f}x "
            f"| {row.error:.1e} / {row.output_error:.1e} | {row.peaks[0]:.0f} / {row.peaks[1]:.0f} MB "
            f"({case.masks(case.coarse_stride)} / {case.masks()} masks) | {row.load[0]:.1f}-{row.load[1]:.1f} |"
        )
    for row in rows:
        if row.monai is None:
            continue
        run, masks = row.monai, row.case.masks()
        print(
            f"\nMONAI OcclusionSensitivity (same module in torch, mask_size={row.case.mask}, "
            f"overlap={1 - row.case.stride / row.case.mask:g}, n_batch=16): {run.seconds:.2f} s for {run.images} "
            f"forward images, {1000 * run.seconds / run.images:.2f} ms each; the default calls just before and "
            f"after it {run.ours[0]:.2f} s and {run.ours[1]:.2f} s for {masks + 1} forward images, "
            f"{1000 * statistics.mean(run.ours) / (masks + 1):.2f} ms each: **{run.per_image_ratio(masks):.1f}x** "
            f"faster. Its map against ours: {run.difference:.1e} of its largest value."
        )


def verdicts(rows: list[Row]) -> None:
    """Whether each case meets the targets of issue 22 (full-size runs only)."""
    for row in rows:
        target = TARGETS[row.case.name]
        first = statistics.median(row.off) / row.first
        verdict = "met" if row.speedup >= target and row.error <= 1e-4 else "NOT met"
        print(
            f"{row.case.name}: default {row.speedup:.2f}x off (its first call on the grid, which analyses, plans "
            f"and measures, {first:.2f}x; target {target:.0f}x with the same map within 1e-4): {verdict}"
        )
        if row.monai is not None:
            faster = row.monai.per_image_ratio(row.case.masks())
            print(
                f"{row.case.name}: {faster:.1f}x faster than MONAI per forward image (target {MONAI_TARGET:.0f}x): "
                f"{'met' if faster >= MONAI_TARGET else 'NOT met'}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="timed calls of each path, in turns")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--no-monai", action="store_true", help="skip MONAI's run (about 3 minutes here)")
    parser.add_argument("--smoke", action="store_true", help="small inputs and grids: checks the script in seconds")
    args = parser.parse_args()
    cases = SMOKE_CASES if args.smoke else CASES
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load}; python {sys.version.split()[0]}\n", flush=True)
    with_monai = not args.no_monai
    if with_monai and importlib.util.find_spec("monai") is None:
        if not args.smoke:
            parser.error('MONAI is not installed: pip install -e ".[bench]", or leave it out with --no-monai')
        print("MONAI is not installed (the bench extra): its run is left out of this smoke run\n")
        with_monai = False
    rows = [measure(cases[name], args.repeats, with_monai) for name in args.cases]
    report(rows)
    if not args.smoke:
        verdicts(rows)


if __name__ == "__main__":
    main()
