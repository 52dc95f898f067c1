"""Dataset jobs against the forward-pass limit, a loop of occlusionSensitivity and Captum.

One run, one machine: N images (default 32) at MATLAB's defaults on EfficientNet-Lite0. The
cases the targets compare (the in-process job, the command with 2 workers and with 1 one-thread
worker) run in turns, ``--repeats`` times (rotated), and each is the median of its turns; the
others run once.

* **limit**: the same occluded images of all N images (built beforehand, not timed) through one
  plain ONNX Runtime session with its default threads, at the best of a few batch sizes (every
  image's occluded images cost the same passes, so one image's batches run N times);
* **in-process job** (``workers=0``): images -> store in this process, Incremental off and auto;
  and with off once more in pieces of 4 images, each piece right after the limit's passes for 4
  maps: each pair is seconds apart, so a slow spell of the machine seldom splits one (the job's
  fixed costs are then paid once a piece, a stricter test);
* **the command** (``matlab-occsens MODEL DIR --out ...``) as a subprocess, start-up included,
  with 2 workers (off and auto), with 1 one-thread worker (``taskset`` to one core) and with 1
  worker computing on both cores (the alternative to the default of one worker per core);
* **a loop** of ``occlusionSensitivity`` over the images (Incremental off), and **Captum**'s
  ``Occlusion`` in a loop on the same torch model (the ``bench`` extra), same windows;
* **memory**: a worker's peak RSS after 32 and after 1,000 images (coarse grid, one worker).

The machine may be shared: ``uptime``'s load is printed before and after. Each run of a
compared case is bracketed by the limit: a quarter of the maps' passes just before it and a
quarter just after, scaled to N maps; its ratio is the median over turns of its seconds over its
own bracket's limit, and the limit's row is the median of all brackets. On the machine this was
written on, a process that frees gigabytes (a command's workers exiting, each after a 1-2 GB
runtime) slowed the limit's two-thread session for tens of seconds (0.6 s a map became
0.75-1.0 s), which the two one-thread workers did not feel, so the limit around a command read
slow and flattered it. So every bracket and every case starts on a settled machine: idle until a
map of the limit runs within 15 % of the fastest seen (the seconds waited are printed). A second
ratio is printed too: a case's fastest turn over the fastest bracket.
``--smoke`` runs every case on a tiny linear network in seconds.

    python -m benchmarks.dataset [--images 32] [--repeats 3] [--json results.json]
    python -m benchmarks.dataset --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from matlab_occsens import importNetworkFromONNX, imwrite, occlusionSensitivity
from matlab_occsens._hooks import occluded_images, session_options
from matlab_occsens.datasets import occlusionSensitivityDataset
from matlab_occsens.network import Network

from ._common import ROOT, efficientnet_module, tiny_network


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------ cases
#: The better of two maps of the limit this close to the fastest seen (or within
#: :data:`SETTLED_SECONDS` of it, for tiny maps) means the machine has settled.
SETTLED = 1.15
SETTLED_SECONDS = 0.005


class Limit:
    """One plain ONNX Runtime session over one picture's occluded images, at the best of ``sizes``:
    every picture's occluded images cost the same forward passes, so N maps cost N such runs."""

    def __init__(self, net: Network, picture: np.ndarray, sizes: list[int]) -> None:
        import onnxruntime as ort

        model = net.selected_model()  # type: ignore[attr-defined]
        options = session_options()
        self._session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self._name = self._session.get_inputs()[0].name

        def batches(size: int) -> list[np.ndarray]:
            return list(occluded_images(net, picture, size))

        self.fastest = float("inf")
        """The fastest map seen, in seconds."""
        self._batches = batches(sizes[0])
        self.settle()
        best = min(sizes, key=lambda size: min(self._one_map(batches(size)) for _ in range(2)))
        self._batches = batches(best)

    def _one_map(self, prepared: list[np.ndarray] | None = None) -> float:
        seconds = timed(lambda: [self._session.run(None, {self._name: batch}) for batch in prepared or self._batches])
        self.fastest = min(self.fastest, seconds)
        return seconds

    def seconds(self, maps: int) -> float:
        """Seconds for ``maps`` maps' passes."""
        return sum(self._one_map() for _ in range(maps))

    def settle(self, most: float = 60.0) -> float:
        """Wait, idle, until a map runs within :data:`SETTLED` of the fastest seen (at most ``most``
        seconds), and return the seconds waited, probes included (why: the module's docstring)."""
        start = time.perf_counter()
        while time.perf_counter() - start < most:
            probe = min(self._one_map(), self._one_map())
            if probe <= max(SETTLED * self.fastest, self.fastest + SETTLED_SECONDS):
                break
            time.sleep(5)
        return time.perf_counter() - start


def command_seconds(model: Path, folder: Path, out: Path, words: list[str], cores: str | None = None) -> float:
    argv = [sys.executable, "-m", "matlab_occsens", str(model), str(folder), "--out", str(out), "--quiet", *words]
    if cores is not None:
        argv = ["taskset", "-c", cores, *argv]
    shutil.rmtree(out, ignore_errors=True)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=environment, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def captum_seconds(pictures: list[np.ndarray], net: Network, window: int, stride: int, target: int) -> float | None:
    try:
        import torch
        from captum.attr import Occlusion

    except ImportError:
        return None
    model = efficientnet_module()

    def run() -> None:
        occlusion = Occlusion(model)
        with torch.no_grad():
            for X in pictures:
                x = X.astype(np.float32)  # as occlusionSensitivity takes it
                fill = x.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)
                baseline = torch.from_numpy(net.prepare(np.broadcast_to(fill, x.shape)[np.newaxis]))
                occlusion.attribute(
                    torch.from_numpy(net.prepare(x[np.newaxis])),
                    baselines=baseline,
                    sliding_window_shapes=(3, window, window),
                    strides=(3, stride, stride),
                    target=target - 1,
                    perturbations_per_eval=32,
                )

    return timed(run)


def worker_peak_rss(
    model: Path, files: list[str], options: dict[str, object], out: Path, imports: dict[str, object]
) -> float:
    """Peak RSS (MiB) of one fresh worker process after computing ``files``."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        shutil.rmtree(out, ignore_errors=True)
        occlusionSensitivityDataset(
            model, files, 1, out=out, client=client, progress=False, import_options=imports, **options
        )
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return max(peaks.values()) / 1024


# ------------------------------------------------------------------------------------------ subject
def subject(smoke: bool, count: int, work: Path) -> tuple[Path, Network, list[np.ndarray], dict[str, object]]:
    if smoke:
        rng = np.random.default_rng(0)
        model = tiny_network(work / "linear.onnx", rng)
        pictures = [rng.integers(0, 256, (32, 32, 3)).astype(np.uint8) for _ in range(count)]
        return model, importNetworkFromONNX(model), pictures, {}
    from skimage import data

    from matlab_occsens import imresize
    from matlab_occsens.pretrained import EFFICIENTNET_LITE0

    model = EFFICIENTNET_LITE0.onnx_path()
    base = imresize(data.coffee(), [224, 224])
    rng = np.random.default_rng(0)
    pictures = [np.roll(base, int(rng.integers(0, 224)), axis=1) for _ in range(count)]  # distinct images
    words = []
    for flag, values in EFFICIENTNET_LITE0.normalization().items():
        name = {
            "InputSize": "--input-size",
            "Normalization": "--normalization",
            "Mean": "--mean",
            "StandardDeviation": "--std",
        }[flag]
        words += [name, *map(str, np.ravel(values).tolist())]
    extra = {"words": words, "options": EFFICIENTNET_LITE0.normalization()}
    return model, importNetworkFromONNX(model, **EFFICIENTNET_LITE0.normalization()), pictures, extra


INTERLEAVED = "in-process job, Incremental off, in 4-image pieces"


def paired_ratio(cases: list[float], limits: list[float]) -> float:
    """The median over turns of a case's seconds over the limit measured around it."""
    return statistics.median(case / limit for case, limit in zip(cases, limits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds on a tiny network (CI)")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="turns of the cases the ratios compare (median)")
    parser.add_argument("--memory-images", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    count = 4 if args.smoke else args.images
    print(f"load before: {load()}  cores: {len(os.sched_getaffinity(0))}")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        model, net, pictures, extra = subject(args.smoke, count, work)
        folder = work / "images"
        folder.mkdir()
        for index, picture in enumerate(pictures):
            imwrite(picture, folder / f"{index:04d}.png")
        words = list(extra.get("words", []))
        imports = dict(extra.get("options", {}))  # type: ignore[call-overload]
        files = sorted(str(path) for path in folder.glob("*.png"))
        one_core = str(min(os.sched_getaffinity(0)))

        def in_process(mode: str, some: list[str] | None = None) -> float:
            return timed(
                lambda: occlusionSensitivityDataset(
                    model,
                    files if some is None else some,
                    1,
                    out=work / "inproc",
                    workers=0,
                    restart=True,
                    progress=False,
                    import_options=imports,
                    Incremental=mode,
                )
            )

        def command(workers: int, mode: str, cores: str | None = None) -> float:
            flags = [*words, "--channel", "1", "--workers", str(workers), "--incremental", mode]
            return command_seconds(model, folder, work / "cmd", flags, cores)

        sizes = [2, 4, 8, 16, 32] if not args.smoke else [4]
        limit = Limit(net, pictures[0], sizes)
        bracket = max(1, count // 4)
        runs: dict[str, list[float]] = {}
        limits: dict[str, list[float]] = {}
        brackets: list[float] = []  # every case's limit around it (the pieces' own limits aside)

        def measure(name: str, case: Callable[[], float | None]) -> None:
            """Run ``case`` between two quarters of the limit, each on a settled machine; keep both,
            scaled to N maps."""
            waited = limit.settle()
            before = limit.seconds(bracket)
            seconds = case()
            waited += limit.settle()
            around = (before + limit.seconds(bracket)) / (2 * bracket) * count
            if seconds is None:
                print(f"  ... {name}: skipped", flush=True)
                return
            runs.setdefault(name, []).append(seconds)
            limits.setdefault(name, []).append(around)
            brackets.append(around)
            print(
                f"  ... {name}: {seconds:.2f} s, limit around it {around:.2f} s  (settling {waited:.0f} s; "
                f"load {load()})",
                flush=True,
            )

        rotated: dict[str, Callable[[], float]] = {  # the ratios' cases, taken in turns
            "in-process job, Incremental off": lambda: in_process("off"),
            "in-process job, Incremental auto": lambda: in_process("auto"),
            "command, 2 workers, Incremental off": lambda: command(2, "off"),
            "command, 2 workers, Incremental auto": lambda: command(2, "auto"),
            "command, 1 one-thread worker, Incremental off": lambda: command(1, "off", one_core),
        }
        for repeat in range(1 if args.smoke else args.repeats):
            names = list(rotated)
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                measure(name, rotated[name])
        # The same job in small pieces, each between the limit's maps for as many images: pairs
        # seconds apart, which a 20-second run cannot be, at the price of the job's fixed costs per piece.
        piece = min(4, count)
        pieces = [files[first : first + piece] for first in range(0, count - piece + 1, piece)]
        limit.settle()
        for some in pieces:
            limits.setdefault(INTERLEAVED, []).append(limit.seconds(len(some)) * count / len(some))
            runs.setdefault(INTERLEAVED, []).append(in_process("off", some) * count / len(some))
        print(f"  ... {INTERLEAVED}: {sum(runs[INTERLEAVED]) / len(pieces):.2f} s for {count} images", flush=True)
        if not args.smoke:  # the default's alternative: one worker computing with every core
            measure("command, 1 two-thread worker, Incremental off", lambda: command(1, "off"))
        measure(
            "loop of occlusionSensitivity, Incremental off",
            lambda: timed(lambda: [occlusionSensitivity(net, X, 1, Incremental="off") for X in pictures]),
        )
        if not args.smoke:
            measure(
                "Captum Occlusion loop (perturbations_per_eval 32)",
                lambda: captum_seconds(pictures, net, 45, 22, 1),
            )
        memory_count = 12 if args.smoke else args.memory_images
        coarse = {"MaskSize": 112, "Stride": 112} if not args.smoke else {}
        image = [files[0]]
        small_count = min(32, memory_count // 2)
        small = worker_peak_rss(model, image * small_count, coarse, work / "mem", imports)
        large = worker_peak_rss(model, image * memory_count, coarse, work / "mem", imports)
    limit_row = statistics.median(brackets)
    print(f"{count} images; limit {limit_row:.2f} s (median of its brackets; fastest {min(brackets):.2f} s)")
    results = {name: statistics.median(seconds) for name, seconds in runs.items()}
    ratios = {name: paired_ratio(runs[name], limits[name]) for name in runs}
    fastest = {
        name: min(seconds) / min(brackets if name != INTERLEAVED else limits[name]) for name, seconds in runs.items()
    }
    print(f"  {'case':<52} {'median':>9}  {'x limit':>7}  {'fastest':>7}  images/s")
    for name, seconds in results.items():
        print(f"  {name:<52} {seconds:7.2f} s  {ratios[name]:7.2f}  {fastest[name]:7.2f}  {count / seconds:8.2f}")
    one, two = runs["command, 1 one-thread worker, Incremental off"], runs["command, 2 workers, Incremental off"]
    scaling = paired_ratio(one, two)
    print(f"  2 workers / 1 one-thread worker, images/s: {scaling:.2f}x")
    print(
        f"  worker peak RSS: {small:.0f} MiB after {small_count} images, {large:.0f} MiB after {memory_count} "
        f"({large / small:.3f}x)"
    )
    print(f"load after: {load()}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "images": count,
                    "limit": limit_row,
                    "seconds": results,
                    "turns": runs,
                    "limits_around_turns": limits,
                    "ratios_to_limit": ratios,
                    "fastest_to_fastest_limit": fastest,
                    "worker_peak_mib": [small, large],
                    "load": load(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
