"""What fixed-size forward passes cost the torch backend on a CPU, and that they give the same bits.

The torch engine computes every image in a pass of exactly ``CPU_UNIT`` images (padding a share's
last pass), so a map does not depend on how the batch-size search composed its batches. This
script times one worker's share computed whole (as before) and in units, interleaved share by
share so that load from other processes falls on both alike, and checks that two identical
calls of ``occlusionSensitivity`` give identical maps. EfficientNet-Lite0 (needs the demo extra)::

    python -m benchmarks.torch_units --repeats 5
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from matlab_occsens import importNetworkFromPyTorch, imresize, occlusionSensitivity
from matlab_occsens._hooks import CPU_UNIT, forward_alone
from matlab_occsens.pretrained import EFFICIENTNET_LITE0

from ._common import efficientnet_module


def share_costs(model, shares: list[int], repeats: int) -> dict[tuple[int, int | None], float]:
    """Least seconds per image of each share size, computed whole (None) and in units."""
    import torch

    def forward(batch):
        return [model(batch)]

    best: dict[tuple[int, int | None], float] = {}
    for repeat in range(repeats + 1):  # the first round warms every shape up
        for share in shares:
            batch = torch.randn(share, 3, 224, 224)
            for unit in (None, CPU_UNIT):
                start = time.perf_counter()
                forward_alone(forward, batch, unit)
                seconds = (time.perf_counter() - start) / share
                if repeat:
                    best[share, unit] = min(best.get((share, unit), np.inf), seconds)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (the least time is kept)")
    parser.add_argument("--smoke", action="store_true", help="one round, small shares, one map pair (seconds)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    model = efficientnet_module()
    shares = [1, 2] if args.smoke else [1, 2, 3, 4, 8]
    print(f"load {os.getloadavg()}; one worker, one thread; EfficientNet-Lite0 224x224")
    costs = share_costs(model, shares, 1 if args.smoke else args.repeats)
    for share in shares:
        whole, units = costs[share, None], costs[share, CPU_UNIT]
        print(f"share of {share}: whole {whole * 1e3:.1f} ms/image, passes of {CPU_UNIT} {units * 1e3:.1f} ms/image "
              f"({units / whole:.2f}x)")  # fmt: skip
    statistics = {key: value for key, value in EFFICIENTNET_LITE0.normalization().items() if key != "InputSize"}
    net = importNetworkFromPyTorch(model, InputSize=[224, 224, 3], **statistics)
    from skimage.data import coffee

    image = imresize(coffee(), [224, 224])
    options = dict(MaskSize=45, Stride=64 if args.smoke else 32, ExecutionEnvironment="cpu")
    first = occlusionSensitivity(net, image, 968, **options)
    second = occlusionSensitivity(net, image, 968, **options)
    print(f"two identical calls: {'identical bits' if np.array_equal(first, second) else 'DIFFERENT'}")
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
