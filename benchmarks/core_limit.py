"""The forward-pass limit of one pinned one-thread session per core, in processes side by side.

What a dataset job's workers can at best reach: each core runs its own process, pinned to it,
with a one-thread ONNX Runtime session and nothing else, over its share of N maps' forward
passes at MATLAB's defaults on EfficientNet-Lite0 (122 occluded images and the unoccluded one a
map), at several batch sizes. The plain two-thread session of ``benchmarks/dataset.py``'s limit
is printed beside it, on the same images, and one core's share computed by its process alone
(how much the cores slow each other down). Inputs are random (the passes cost the same).

    python -m benchmarks.core_limit [--maps 32] [--sizes 1 2 4 8 16]
    python -m benchmarks.core_limit --smoke     # seconds, for CI
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np

IMAGES_PER_MAP = 123  # MATLAB's default 11 x 11 grid on 224 x 224, and the unoccluded image


def _session(threads: int):
    import onnxruntime as ort

    from matlab_occsens._hooks import session_options
    from matlab_occsens.pretrained import EFFICIENTNET_LITE0

    options = session_options(threads)
    return ort.InferenceSession(str(EFFICIENTNET_LITE0.onnx_path()), options, providers=["CPUExecutionProvider"])


def maps_seconds(maps: int, size: int, threads: int) -> float:
    """Seconds for ``maps`` maps' passes through one session of ``threads`` threads."""
    session = _session(threads)
    name = session.get_inputs()[0].name
    rng = np.random.default_rng(size)
    full = rng.normal(size=(size, 3, 224, 224)).astype(np.float32)
    rest = full[: IMAGES_PER_MAP % size or size].copy()
    for batch in (full, rest):  # first runs of both shapes, not timed
        session.run(None, {name: batch})
    start = time.perf_counter()
    for _ in range(maps):
        for _ in range(IMAGES_PER_MAP // size):
            session.run(None, {name: full})
        if IMAGES_PER_MAP % size:
            session.run(None, {name: rest})
    return time.perf_counter() - start


def _pinned(core: int, maps: int, size: int, ready: object, go: object, results: object) -> None:
    os.sched_setaffinity(0, {core})
    ready.put(core)  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]  # every process imported: they start together
    results.put(maps_seconds(maps, size, 1))  # type: ignore[attr-defined]


def per_core_seconds(maps: int, size: int, cores: list[int]) -> float:
    """Wall time for ``maps`` maps split over one pinned one-thread process per core of ``cores``."""
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    shares = [maps // len(cores) + (index < maps % len(cores)) for index in range(len(cores))]
    processes = [
        context.Process(target=_pinned, args=(core, share, size, ready, go, results))
        for core, share in zip(cores, shares)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get()
    go.set()
    seconds = max(results.get() for _ in processes)
    for process in processes:
        process.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--maps", type=int, default=32)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--smoke", action="store_true", help="2 maps at one batch size")
    args = parser.parse_args()
    if args.smoke:
        args.maps, args.sizes = 2, [4]
    cores = len(os.sched_getaffinity(0))
    print(f"{args.maps} maps of {IMAGES_PER_MAP} passes, {cores} cores; load {os.getloadavg()[0]:.2f}")
    allowed = sorted(os.sched_getaffinity(0))
    print(
        "| batch size | one pinned one-thread process per core | one session, a thread per core | "
        "one core's share, that process alone (the others idle) |"
    )
    print("|---|---|---|---|")
    for size in args.sizes:
        split = per_core_seconds(args.maps, size, allowed)
        shared = maps_seconds(args.maps, size, cores)
        alone = per_core_seconds(args.maps // cores, size, allowed[:1])
        print(f"| {size} | {split:.2f} s | {shared:.2f} s | {alone:.2f} s |", flush=True)


if __name__ == "__main__":
    main()
