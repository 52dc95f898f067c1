"""The older layer call form against the OutputNames form, on repeated calls.

``occlusionSensitivity(net, X, layerName, channelIdx)`` measures a view of ``net`` for that
layer; the view of each selection is kept, so repeated calls reuse its engine and batch-size
search and cost what ``net.OutputNames = [layerName]`` then ``occlusionSensitivity(net, X, ch)``
costs. EfficientNet-Lite0 on coffee, a grid of 4 masks (the per-call costs dominate), calls of
the two forms interleaved so that load from other processes falls on both alike::

    python -m benchmarks.layer_form --calls 40
    python -m benchmarks.layer_form --smoke
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

from matlab_occsens import importNetworkFromONNX, occlusionSensitivity
from matlab_occsens.pretrained import EFFICIENTNET_LITE0

from ._common import ESPRESSO, coffee

#: 2 × 2 masks on 224 × 224.
GRID = {"MaskSize": 150, "Stride": 112, "OutputUpsampling": "none", "Incremental": "off"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="timed calls of each form")
    parser.add_argument("--smoke", action="store_true", help="a few calls: checks the script")
    args = parser.parse_args()
    calls = 3 if args.smoke else args.calls
    warnings.simplefilter("ignore")  # the compatibility note of the layer form
    image = coffee()
    layered = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    layer = layered.OutputNames[0]
    layered.OutputNames = [layered.Layers[-2].Name]  # the layer form must not depend on this
    selected = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    selected.OutputNames = [layer]
    forms = {
        "layer form": lambda: occlusionSensitivity(layered, image, layer, ESPRESSO, **GRID),
        "OutputNames form": lambda: occlusionSensitivity(selected, image, ESPRESSO, **GRID),
    }
    for run in forms.values():  # engines built, batch-size searches started
        for _ in range(3):
            run()
    times: dict[str, list[float]] = {name: [] for name in forms}
    for _ in range(calls):
        for name, run in forms.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    medians = {name: 1000 * statistics.median(samples) for name, samples in times.items()}
    print(f"load average {os.getloadavg()[0]:.2f}; {calls} interleaved calls of each form, 4 masks")
    for name, ms in medians.items():
        print(f"  {name:17s} {ms:7.2f} ms per call (median)")
    print(f"  ratio layer / OutputNames: {medians['layer form'] / medians['OutputNames form']:.3f}")


if __name__ == "__main__":
    main()
