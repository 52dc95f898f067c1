"""What a warm occlusionSensitivity call spends outside the network's forward calls.

The limit comparison of ``occlusion_benchmark.py`` times the call and the bare forward passes one
after the other; on a shared machine their difference is often smaller than the load's swings.
This script times both parts *inside the same calls*: every forward call of the engine is timed
where the call makes it, and the rest of the call (arguments, normalisation, building the
occluded batches, channel totals, upsampling, the batch-size bookkeeping) is the overhead. Load
then slows both parts alike, and the overhead's share is measured to a fraction of a percent.

It does not judge the batch size the call chose (the limit comparison does). EfficientNet-Lite0
on coffee, class "espresso", both backends, the default and the fine grid, ``Incremental="off"``::

    python -m benchmarks.overhead --repeats 5
    python -m benchmarks.overhead --smoke      # checks the script in seconds

The forward calls are timed through the documented hook ``stream.drive.observe_forwards``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

from matlab_occsens import occlusionSensitivity
from matlab_occsens._hooks import observe_forwards
from matlab_occsens.network import Network

from ._common import ESPRESSO, GRIDS, SMOKE_GRID, masks, subject


def split_call(net: Network, image: np.ndarray, grid: str) -> tuple[float, float]:
    """(seconds of one warm call, seconds of it inside the engine's forward calls)."""
    seconds: list[float] = []
    with observe_forwards(net.engine("auto"), lambda batch, spent: seconds.append(spent)):
        start = time.perf_counter()
        occlusionSensitivity(net, image, ESPRESSO, Incremental="off", **GRIDS[grid])
        whole = time.perf_counter() - start
    return whole, sum(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-fine", action="store_true", help="MATLAB's default grid only")
    parser.add_argument(
        "--smoke", action="store_true", help="4 masks, one warm-up and one timed call: checks the script"
    )
    args = parser.parse_args()
    if args.smoke:  # 4 masks, one repetition
        args.repeats, args.no_fine = 1, True
        GRIDS["default"] = SMOKE_GRID
    warnings.simplefilter("ignore")
    s = subject()
    grids = ["default"] if args.no_fine else ["default", "fine"]
    print("| backend | grid | forward images | ms per call | of which forward calls | outside them |")
    print("|---|---|---|---|---|---|")
    for backend, net in (("ONNX Runtime", s.ort), ("torch", s.torch_net)):
        for grid in grids:
            for _ in range(1 if args.smoke else 4):  # engine built, batch size searched
                occlusionSensitivity(net, s.image, ESPRESSO, Incremental="off", **GRIDS[grid])
            calls = [split_call(net, s.image, grid) for _ in range(args.repeats)]
            total = statistics.median(whole for whole, _ in calls)
            share = statistics.median((whole - inside) / whole for whole, inside in calls)
            print(
                f"| {backend} | {grid} | {masks(grid) + 1} | {1000 * total:.0f} | {100 * (1 - share):.2f}% | "
                f"{100 * share:.2f}% |",
                flush=True,
            )


if __name__ == "__main__":
    main()
