"""This checkout against an earlier revision: the same single-image calls, in turns, one run.

Each turn is a fresh process of one side (this checkout, or REV checked out in a temporary git
worktree) that imports the package, loads the network, makes one call (timed: the first call
pays the analyses and searches a fresh process pays) and then ``--calls`` more (timed one by
one). Sides alternate for ``--turns`` turns, so that both meet the same load; the figures are
medians over every turn. Default: ``occlusionSensitivity`` at MATLAB's defaults on
EfficientNet-Lite0 with the default ``Incremental="auto"`` (the speed most users get).

    python -m benchmarks.against_revision c9270ca [--turns 4] [--calls 8] [--incremental auto]
    python -m benchmarks.against_revision --smoke     # HEAD against this checkout, one turn of one call
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: What one turn runs, in a fresh interpreter that imports the side's checkout (its ``PYTHONPATH``).
TURN = """
import json, sys, time
import numpy as np
from skimage import data
from matlab_occsens import imresize, importNetworkFromONNX, occlusionSensitivity
from matlab_occsens.pretrained import EFFICIENTNET_LITE0 as spec
calls, incremental = int(sys.argv[1]), sys.argv[2]
net = importNetworkFromONNX(spec.onnx_path(), **spec.normalization())
X = imresize(data.coffee(), [224, 224])
seconds = []
for call in range(calls + 1):
    start = time.perf_counter()
    occlusionSensitivity(net, np.roll(X, 7 * call, axis=1), 1, Incremental=incremental)
    seconds.append(time.perf_counter() - start)
print(json.dumps(seconds))
"""


def turn(checkout: Path, calls: int, incremental: str) -> list[float]:
    argv = [sys.executable, "-c", TURN, str(calls), incremental]
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=tempfile.gettempdir(), env=environment)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", nargs="?", default="HEAD", help="the earlier revision (any name git understands)")
    parser.add_argument("--turns", type=int, default=4, help="turns of each side")
    parser.add_argument("--calls", type=int, default=8, help="calls after the first, per turn")
    parser.add_argument("--incremental", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--smoke", action="store_true", help="one turn of one call per side: checks the script")
    args = parser.parse_args()
    if args.smoke:
        args.turns, args.calls = 1, 1
    with tempfile.TemporaryDirectory() as scratch:
        earlier = Path(scratch) / "earlier"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(earlier), args.revision], check=True)
        try:
            sides = {args.revision: earlier, "this checkout": ROOT}
            first: dict[str, list[float]] = {name: [] for name in sides}
            later: dict[str, list[float]] = {name: [] for name in sides}
            for number in range(args.turns):
                names = list(sides) if number % 2 == 0 else list(sides)[::-1]
                for name in names:
                    seconds = turn(sides[name], args.calls, args.incremental)
                    first[name].append(seconds[0])
                    later[name].extend(seconds[1:])
                    later_median = statistics.median(seconds[1:])
                    print(f"  turn {number + 1}, {name}: first {seconds[0]:.3f} s, then {later_median:.3f} s")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(earlier)], check=True)
    print(f"\nIncremental={args.incremental!r}, MATLAB defaults, EfficientNet-Lite0, medians over {args.turns} turns:")
    print("| side | first call | later calls |\n|---|---|---|")
    for name in sides:
        print(f"| {name} | {statistics.median(first[name]):.3f} s | {statistics.median(later[name]):.3f} s |")
    ratio = statistics.median(later["this checkout"]) / statistics.median(later[args.revision])
    print(f"later calls, this checkout / {args.revision}: {ratio:.3f}")


if __name__ == "__main__":
    main()
