"""occlusionSensitivity against the hardware limit, Captum and MONAI: speed and memory.

One run, one machine, one real network: EfficientNet-Lite0 (ImageNet) on skimage's coffee photo
at 224×224, class "espresso". Grids: MATLAB's defaults (mask 45, stride 22: 121 masks + the
unoccluded image) and, with ``--fine``, MaskSize 15 Stride 4 (3,136 masks).

* **The limit of an engine**: the very images occlusionSensitivity runs (built beforehand, not
  timed), pushed through the same ONNX Runtime session / the same torch model with nothing else
  timed, at the best batch size among 1, 2, 4, ..., 128. For torch the limit is the faster of
  plain eager calls (torch's own threads) and our engine's workers.
* **occlusionSensitivity** on each backend (ONNX Runtime; torch through importNetworkFromPyTorch on
  the same nn.Module Captum and MONAI get), warm calls, as a ratio to that engine's limit. Each
  repetition times the limit and the call back to back, and the ratio is the median of those
  pairs: the machine may be shared, and a pair sees the same load.
* **Captum** ``Occlusion`` (perturbations_per_eval 1 and 128) and **MONAI**
  ``OcclusionSensitivity`` (n_batch 128) on the same model and input, with the number of images
  they forward (counted by a wrapper), the time per forward image and its ratio to ours.
* **Peak memory** (``--memory``): each case in its own process, so each peak is clean: RSS once the
  model is loaded, and the peak during one map; ONNX Runtime at 121 masks and at 50,176 (stride 1).

Run from the repository root (needs the ``bench`` and ``demo`` extras)::

    python -m benchmarks.occlusion_benchmark --fine --memory --json docs/performance.json
    python -m benchmarks.occlusion_benchmark --smoke     # checks the script in seconds

It reads the package's internals only through ``matlab_occsens._hooks`` (docs/architecture.md):
``batch_search`` and ``occluded_images``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from matlab_occsens import importNetworkFromONNX, importNetworkFromPyTorch, occlusionSensitivity
from matlab_occsens._hooks import batch_search, physical_cores
from matlab_occsens.network import Network
from matlab_occsens.pretrained import EFFICIENTNET_LITE0

from ._common import (
    ESPRESSO,
    GRIDS,
    SMOKE_GRID,
    Subject,
    coffee,
    efficientnet_module,
    masks,
    occluded_chunks,
    statistics_options,
    subject,
)

T = TypeVar("T")
# Captum and MONAI slide windows without MATLAB's edge clipping: their nearest settings.
WINDOWS = {"default": (45, 22), "fine": (15, 4)}
SIZES = [1, 2, 4, 8, 16, 32, 64, 128]
CLEAN = 0.10  # a sample is clean when other processes used under this share of the machine


# ---------------------------------------------------------------------------------- shared machine
class Interference:
    """The share of the machine's CPU time other processes (and the hypervisor) took while the
    block ran, from /proc: busy time of all CPUs minus this process's own."""

    def __enter__(self) -> Interference:
        self._start = self._ticks(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        (busy, own), start = self._start
        now_busy, now_own = self._ticks()
        available = (time.perf_counter() - start) * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
        self.share = max(0.0, ((now_busy - busy) - (now_own - own)) / available)

    @staticmethod
    def _ticks() -> tuple[int, int]:
        cpu = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = sum(cpu) - cpu[3] - cpu[4]  # all but idle and iowait; steal counts as taken
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return busy, int(own[11]) + int(own[12])  # utime + stime of every thread


QUIET_WAIT = 600.0  # most seconds to wait for a quiet machine before each timed try


def wait_for_quiet(deadline: float) -> float:
    """Sleep until other processes leave the CPUs alone for two seconds (or until ``deadline``);
    returns the share they took during the last check."""
    while True:
        with Interference() as load:
            time.sleep(2.0)
        if load.share < CLEAN or time.monotonic() > deadline:
            return load.share
        time.sleep(8.0)


def least_disturbed(sample: Callable[[], T], repeats: int, tries: int = 4) -> tuple[list[T], list[float]]:
    """``repeats`` results of ``sample()`` and the interference each saw: each try waits for a
    quiet moment first (at most :data:`QUIET_WAIT`), and the least disturbed of up to ``tries``
    times as many tries are kept, stopping as soon as ``repeats`` tries were clean."""
    taken: list[tuple[float, T]] = []
    while len(taken) < tries * repeats and sum(share < CLEAN for share, _ in taken) < repeats:
        wait_for_quiet(time.monotonic() + QUIET_WAIT)
        with Interference() as load:
            value = sample()
        taken.append((load.share, value))
    chosen = sorted(taken, key=lambda item: item[0])[:repeats]
    return [value for _, value in chosen], [share for share, _ in chosen]


# ---------------------------------------------------------------------------------- timing
def run_seconds(
    run: Callable[[np.ndarray], object], chunks: list[np.ndarray] | Iterator[np.ndarray], size: int
) -> float:
    """Time spent in ``run`` alone, for all images in batches of ``size`` (chunks are multiples)."""
    spent = 0.0
    for chunk in chunks:
        for first in range(0, len(chunk), size):
            batch = chunk[first : first + size]
            start = time.perf_counter()
            run(batch)
            spent += time.perf_counter() - start
    return spent


def limit_sweep(
    run: Callable[[np.ndarray], object], images: list[np.ndarray], repeats: int, sizes=SIZES
) -> dict[int, float]:
    """Median ms per image at each batch size over ``images``, from the least disturbed passes."""
    count = sum(len(chunk) for chunk in images)
    result = {}
    for size in sizes:
        run(images[0][:size])  # first run of a shape: plans memory, picks kernels
        values, _ = least_disturbed(lambda size=size: 1000 * run_seconds(run, images, size) / count, repeats, tries=2)
        result[size] = statistics.median(values)
    return result


def occsens_ms(net: Network, image: np.ndarray, grid: str, incremental: str = "off") -> float:
    """One warm map, ms per forward image; by default with every image a full forward pass (the
    path the limit measures), ``incremental="auto"`` for the package's default."""
    start = time.perf_counter()
    occlusionSensitivity(net, image, ESPRESSO, Incremental=incremental, **GRIDS[grid])
    return 1000 * (time.perf_counter() - start) / (masks(grid) + 1)


def torch_runs(s: Subject) -> dict[str, Callable[[np.ndarray], object]]:
    import torch

    threads = physical_cores()

    def eager(batch: np.ndarray) -> object:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return s.model(torch.from_numpy(batch))

    return {"eager": eager, "engine": s.torch_net.engine("auto").run}


def paired(limit_run, net, s, grid, sizes, repeats, incremental: bool) -> dict:
    """Limit and occlusionSensitivity back to back (and, with ``incremental``, the default
    Incremental="auto" too); medians and the median paired ratio over the ``repeats`` least
    disturbed pairs. The limit of a pair is its fastest of ``sizes`` (the sweep's best few), so
    that a sweep disturbed by other processes cannot pick a slow size; each occlusionSensitivity
    figure is the fastest of as many calls."""
    count = masks(grid) + 1

    def pair() -> tuple[float, ...]:
        # Best of as many runs on each side: the limit's fastest size (one run each) against
        # occlusionSensitivity's fastest of as many calls, so that neither side's figure is a
        # minimum over more samples of the machine's noise than the other's.
        limit = min(run_seconds(limit_run, occluded_chunks(net, s.image, grid), size) for size in sizes)
        modes = ["off", "auto"] if incremental else ["off"]
        calls = [min(occsens_ms(net, s.image, grid, mode) for _ in sizes) for mode in modes]
        return (1000 * limit / count, *calls)

    pairs, shares = least_disturbed(pair, repeats, tries=4 if grid == "default" else 1)  # fine: minutes a try
    result = {
        "limit_ms": statistics.median(times[0] for times in pairs),
        "occsens_ms": statistics.median(times[1] for times in pairs),
        "ratio": statistics.median(times[1] / times[0] for times in pairs),
        "pairs": pairs,
        "interference": shares,
    }
    if incremental:
        result["incremental_ms"] = statistics.median(times[2] for times in pairs)
        result["incremental_ratio"] = statistics.median(times[2] / times[0] for times in pairs)
    return result


def engines_section(s: Subject, grids: list[str], repeats: int) -> dict:
    """Limits (best batch size) and occlusionSensitivity per backend and grid."""
    ort_session = s.ort.engine("auto").session
    ort_input = ort_session.get_inputs()[0].name

    def ort_run(batch: np.ndarray) -> object:
        return ort_session.run(None, {ort_input: batch})

    runs = {"onnxruntime": {"session": ort_run}, "torch": torch_runs(s)}
    nets = {"onnxruntime": s.ort, "torch": s.torch_net}
    results: dict = {}
    for backend, net in nets.items():
        default_images = list(occluded_chunks(net, s.image, "default"))
        sweeps = {name: limit_sweep(run, default_images, max(2, repeats // 2)) for name, run in runs[backend].items()}
        ranked = sorted(((n, b) for n, sweep in sweeps.items() for b in sweep), key=lambda nb: sweeps[nb[0]][nb[1]])
        name = ranked[0][0]
        sizes = [b for n, b in ranked if n == name][:3]  # its three best batch sizes
        start = time.perf_counter()
        occlusionSensitivity(net, s.image, ESPRESSO, Incremental="off")  # engine built, batch searched
        cold = time.perf_counter() - start
        sizer = batch_search(net.engine("auto"))
        for _ in range(5):  # the search spans calls when a map has fewer images than it needs
            if sizer.settled:
                break
            occlusionSensitivity(net, s.image, ESPRESSO, Incremental="off")
        results[backend] = {
            "sweeps": sweeps,
            "limit_by": name,
            "limit_batches": sizes,
            "first_call_s": cold,
            "chosen_batch": sizer.best(128),
            "largest_searched": sizer.largest_tried,
        }
        for grid in grids:
            for mode in ("off", "auto"):  # warm-up on this grid (auto: the incremental engines built)
                occlusionSensitivity(net, s.image, ESPRESSO, Incremental=mode, **GRIDS[grid])
            turns = repeats if grid == "default" else max(2, repeats // 2)
            results[backend][grid] = paired(runs[backend][name], net, s, grid, sizes, turns, backend == "onnxruntime")
            shown = results[backend][grid]
            incremental = (
                f"; Incremental auto {shown['incremental_ms']:.2f} ms/img, ratio {shown['incremental_ratio']:.3f}"
                if "incremental_ms" in shown
                else ""
            )
            print(
                f"  {backend:12s} {grid:8s} limit {shown['limit_ms']:7.2f} ms/img ({name}, batches {sizes}); "
                f"occlusionSensitivity {shown['occsens_ms']:7.2f} ms/img; ratio {shown['ratio']:.3f}{incremental} "
                f"(others took at most {max(shown['interference']):.0%} of the CPUs)",
                flush=True,
            )
    return results


# ---------------------------------------------------------------------------------- Captum, MONAI
class Counting:
    """Wraps the model and counts the images it forwards."""

    def __init__(self, model) -> None:
        self.model = model
        self.images = 0

    def __call__(self, batch):
        self.images += batch.shape[0]
        return self.model(batch)


def torch_input(s: Subject):
    import torch

    x = s.image.astype(np.float32)  # as occlusionSensitivity takes it
    return torch.from_numpy(s.ort.prepare(x[np.newaxis])), x


def captum_map(s: Subject, grid: str, per_eval: int) -> int:
    import torch
    from captum.attr import Occlusion

    tensor, x = torch_input(s)
    fill = s.ort.prepare(np.broadcast_to(x.mean(axis=(0, 1), dtype=np.float64).astype(np.float32), x.shape)[np.newaxis])
    counting = Counting(s.model)
    window, stride = WINDOWS[grid]
    with torch.no_grad():
        Occlusion(counting).attribute(
            tensor,
            sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride),
            baselines=torch.from_numpy(fill),
            target=ESPRESSO - 1,
            perturbations_per_eval=per_eval,
        )
    return counting.images


def monai_map(s: Subject, grid: str, n_batch: int) -> int:
    import torch
    from monai.visualize import OcclusionSensitivity

    tensor, _ = torch_input(s)
    counting = Counting(s.model)
    window, stride = WINDOWS[grid]
    # MONAI steps by int(window * (1 - overlap)); this overlap gives the same stride.
    overlap = 1 - (stride + 0.5) / window
    module = torch.nn.Module()
    module.forward = counting  # MONAI wants an nn.Module
    occlusion = OcclusionSensitivity(
        module, mask_size=window, n_batch=n_batch, verbose=False, mode="mean_img", overlap=overlap, activate=False
    )
    with torch.no_grad():
        occlusion(tensor)
    return counting.images


OTHERS = {
    "Captum Occlusion, perturbations_per_eval 1": lambda s, grid: captum_map(s, grid, 1),
    "Captum Occlusion, perturbations_per_eval 128": lambda s, grid: captum_map(s, grid, 128),
    "MONAI OcclusionSensitivity, n_batch 128": lambda s, grid: monai_map(s, grid, 128),
}


def others_section(s: Subject, grids: list[str], repeats: int) -> dict:
    results: dict = {}
    for method in OTHERS.values():
        method(s, "default")  # warm-up: the first call of each batch shape is slower
    for grid in grids:
        for name, method in OTHERS.items():

            def timed() -> tuple[float, int]:
                start = time.perf_counter()
                images = method(s, grid)  # noqa: B023 (called at once)
                return time.perf_counter() - start, images

            samples, shares = least_disturbed(timed, *((repeats, 4) if grid == "default" else (1, 1)))
            seconds, images = statistics.median(seconds for seconds, _ in samples), samples[0][1]
            results.setdefault(grid, {})[name] = {
                "images": images,
                "seconds": seconds,
                "ms_per_image": 1000 * seconds / images,
                "interference": shares,
            }
            print(f"  {name:46s} {grid:8s} {images:5d} images, {1000 * seconds / images:7.2f} ms/img", flush=True)
    return results


# ---------------------------------------------------------------------------------- memory
def rss() -> tuple[float, float]:
    """(current, peak) resident set of this process in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


MEMORY_CASES = {
    "onnxruntime, 121 masks": ("ort", {"Incremental": "off"}),
    "onnxruntime, 50,176 masks (stride 1)": ("ort", {"Stride": 1, "Incremental": "off"}),
    "onnxruntime, 50,176 masks, Incremental auto": ("ort", {"Stride": 1}),
    "torch backend, 121 masks": ("torch", {}),
    "Captum, perturbations_per_eval 128": ("captum", {}),
    "MONAI, n_batch 128": ("monai", {}),
}


def memory_case(name: str) -> dict:
    """Runs in a fresh process: load, note RSS, make one map, note the peak."""
    kind, options = MEMORY_CASES[name]
    image = coffee()
    if kind == "ort":
        net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
        net.engine("auto")
    else:
        model = efficientnet_module()
        net = importNetworkFromPyTorch(model, InputSize=[224, 224, 3], **statistics_options())
        net.engine("auto")
    loaded, _ = rss()
    if kind in ("ort", "torch"):
        occlusionSensitivity(net, image, ESPRESSO, **options)
    else:
        s = Subject(image=image, ort=net, torch_net=net, model=model)
        (captum_map(s, "default", 128) if kind == "captum" else monai_map(s, "default", 128))
    _, peak = rss()
    return {"loaded_mb": loaded, "peak_mb": peak, "growth_mb": peak - loaded}


def memory_section(cases: list[str]) -> dict:
    results = {}
    for name in cases:
        output = subprocess.run(
            [sys.executable, "-m", __spec__.name, "--memory-case", name], capture_output=True, text=True, check=True
        ).stdout
        results[name] = json.loads(output.strip().splitlines()[-1])
        shown = results[name]
        print(
            f"  {name:40s} loaded {shown['loaded_mb']:7.0f} MB, peak {shown['peak_mb']:7.0f} MB "
            f"(+{shown['growth_mb']:.0f})",
            flush=True,
        )
    return results


# ---------------------------------------------------------------------------------- report
def machine() -> dict:
    import onnxruntime
    import torch

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
    }
    for package in ("captum", "monai"):
        with contextlib.suppress(ImportError):
            versions[package] = __import__(package).__version__
    return {"cpu": model, "physical_cores": physical_cores(), "logical_cpus": os.cpu_count(), "versions": versions}


def table(results: dict) -> str:
    grids = [grid for grid in GRIDS if grid in results["engines"]["onnxruntime"]]
    ours = {grid: results["engines"]["onnxruntime"][grid]["occsens_ms"] for grid in grids}
    ort_limit = {grid: results["engines"]["onnxruntime"][grid]["limit_ms"] for grid in grids}
    lines = [
        "| grid | method | forward images | ms per forward image | vs ONNX Runtime limit | ours is faster by |",
        "|---|---|---|---|---|---|",
    ]
    for grid in grids:
        count = masks(grid) + 1
        for backend, label in (("onnxruntime", "ONNX Runtime"), ("torch", "torch")):
            entry = results["engines"][backend]
            lines.append(
                f"| {grid} | {label} limit ({entry['limit_by']}, best of batches {entry['limit_batches']}) | {count} | "
                f"{entry[grid]['limit_ms']:.2f} | {entry[grid]['limit_ms'] / ort_limit[grid]:.2f}× | |"
            )
            lines.append(
                f"| {grid} | occlusionSensitivity, {label} | {count} | {entry[grid]['occsens_ms']:.2f} | "
                f"{entry[grid]['occsens_ms'] / ort_limit[grid]:.3f}× "
                f"(paired vs own limit: {entry[grid]['ratio']:.3f}×) | |"
            )
            if "incremental_ms" in entry[grid]:
                lines.append(
                    f'| {grid} | occlusionSensitivity, {label}, Incremental "auto" (the default) | {count} | '
                    f"{entry[grid]['incremental_ms']:.2f} | {entry[grid]['incremental_ratio']:.3f}× (paired) | |"
                )
        for name, entry in results.get("others", {}).get(grid, {}).items():
            lines.append(
                f"| {grid} | {name} | {entry['images']} | {entry['ms_per_image']:.2f} | "
                f"{entry['ms_per_image'] / ort_limit[grid]:.2f}× | {entry['ms_per_image'] / ours[grid]:.1f}× |"
            )
    if results.get("memory"):
        lines += ["", "| memory case | RSS with the model loaded | peak | growth |", "|---|---|---|---|"]
        for name, entry in results["memory"].items():
            lines.append(
                f"| {name} | {entry['loaded_mb']:.0f} MB | {entry['peak_mb']:.0f} MB | {entry['growth_mb']:.0f} MB |"
            )
    return "\n".join(lines)


def smoke(args: argparse.Namespace) -> None:
    """Shrink every knob so that the whole script runs in seconds."""
    global QUIET_WAIT, CLEAN
    QUIET_WAIT, CLEAN = 0.0, float("inf")  # no waiting; every try counts as clean
    SIZES[:] = [1, 4]
    GRIDS["default"] = SMOKE_GRID
    args.repeats, args.fine, args.memory, args.skip_others = 1, False, False, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fine", action="store_true", help="also MaskSize 15 Stride 4 (3,136 masks; minutes)")
    parser.add_argument(
        "--memory", action="store_true", help="peak memory, one process per case (50,176 masks: minutes)"
    )
    parser.add_argument("--skip-others", action="store_true", help="leave out Captum and MONAI")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (medians are reported)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny run (4 masks, one repetition, batch sizes 1 and 4, no waiting for a quiet machine, "
        "no Captum/MONAI): checks the script, not the figures",
    )
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        smoke(args)
    warnings.simplefilter("ignore")  # onnx2torch and torch deprecation notices
    if args.memory_case:
        print(json.dumps(memory_case(args.memory_case)))
        return
    grids = ["default", "fine"] if args.fine else ["default"]
    results: dict = {"machine": machine(), "load_before": os.getloadavg(), "repeats": args.repeats}
    print(
        f"{results['machine']['cpu']}, {results['machine']['physical_cores']} physical cores; "
        f"load {results['load_before']}"
    )
    s = subject()
    print("engines (limit = same images, same session, nothing else; ratios paired per repetition):")
    results["engines"] = engines_section(s, grids, args.repeats)
    if not args.skip_others:
        print("Captum and MONAI on the same nn.Module and input:")
        results["others"] = others_section(s, grids, max(1, args.repeats // 2))
    if args.memory:
        print("peak memory (one process per case):")
        results["memory"] = memory_section(list(MEMORY_CASES))
    results["load_after"] = os.getloadavg()
    print(f"load after: {results['load_after']}\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
