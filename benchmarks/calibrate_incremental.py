"""Fit the incremental path's cost model (matlab_occsens/_incremental/cost.py) to this machine.

Every chunk of up to four cuts of each real network, on the crops two grids need, and every
suffix, is timed in ONNX Runtime with one thread, in CPU seconds of the calling thread (so other
programs on a shared machine hardly disturb it); the per-mask times are fitted by non-negative
least squares on relative error to the work features (dense and per-channel multiply-adds,
values read and written, output rows, nodes). Paste the printed constants into ``CPU_COSTS``::

    python -m benchmarks.calibrate_incremental [--networks efficientnet-lite0 ...]
    python -m benchmarks.calibrate_incremental --smoke    # one network, one grid, short chunks: checks the script
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import onnxruntime as ort
from scipy.optimize import nnls

from matlab_occsens import importNetworkFromONNX
from matlab_occsens._hooks import Work, chunk_between, mask_grid, rest_work, spatial_graph
from matlab_occsens.pretrained import PRETRAINED

SPAN = 4
"""Longest chunk timed, in cuts."""
GRIDS = ((15, 4), (45, 22))


def thread_seconds(model, name: str, batch: np.ndarray, repeats: int = 3) -> float:
    """Best CPU seconds per image of one single-threaded session call."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    session.run(None, {name: batch})
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        session.run(None, {name: batch})
        times.append(time.thread_time() - start)
    return min(times) / len(batch)


def samples(
    name: str, grids: tuple[tuple[int, int], ...] = GRIDS, span: int = SPAN, images: int = 64
) -> list[tuple[Work, float]]:
    """(work per image, measured seconds per image) for the chunks and suffixes of a network."""
    spec = PRETRAINED[name]
    net = importNetworkFromONNX(spec.onnx_path(), **spec.normalization())
    graph = spatial_graph(net)
    rng = np.random.default_rng(0)
    found = []
    for cut in graph.cuts:
        model = graph.suffix_model(cut)
        if model is not None:
            batch = rng.standard_normal((8, *graph.shapes[cut][1:]), dtype=np.float32)
            found.append((rest_work(graph, cut), thread_seconds(model, cut, batch)))
    height, width = net.InputSize[:2]
    for mask, stride in grids:
        grid = mask_grid((height, width), (min(mask, height), mask), (stride, stride), True)
        for j in range(1, len(graph.cuts)):
            for i in range(max(0, j - span), j):
                chunk = chunk_between(graph, grid, graph.cuts[i], graph.cuts[j])
                shape = (images, graph.shapes[chunk.first][1], *(axis.length for axis in chunk.axes))
                batch = rng.standard_normal(shape, dtype=np.float32)
                model = graph.chunk_model(chunk.first, chunk.last)
                found.append((chunk.work, thread_seconds(model, chunk.first, batch)))
    return found


def calibrate(networks: list[str], **sampling) -> None:
    found = [sample for name in networks for sample in samples(name, **sampling)]
    features = np.array([work.features for work, _ in found])
    seconds = np.array([measured for _, measured in found])
    coefficients, _ = nnls(features / seconds[:, None], np.ones(len(seconds)))
    ratio = features @ coefficients / seconds
    low, middle, high = np.percentile(ratio, [10, 50, 90])
    print(f"{len(found)} timings; predicted/measured: median {middle:.2f}, 10% {low:.2f}, 90% {high:.2f}")
    names = ("mac", "window_mac", "read", "write", "row", "boundary", "node (per image)")
    print("single-thread seconds per unit:", ", ".join(f"{n}={c:.3g}" for n, c in zip(names, coefficients)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="*", default=list(PRETRAINED), help="networks of the pretrained registry")
    parser.add_argument("--smoke", action="store_true", help="one network, one grid, chunks of one cut (seconds)")
    args = parser.parse_args()
    if args.smoke:
        calibrate(["efficientnet-lite0"], grids=GRIDS[1:], span=1, images=2)
        return
    calibrate([name for name in args.networks if name in PRETRAINED])


if __name__ == "__main__":
    main()
