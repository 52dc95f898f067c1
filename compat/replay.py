"""Running a reference case with this package, as the MATLAB user ran it in MATLAB."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matlab_occsens import importNetworkFromONNX, imresize, occlusionSensitivity
from matlab_occsens._hooks import channel_totals
from matlab_occsens.network import Network

from .casefile import Case, ImresizeCase, OcclusionCase
from .probe import FINAL_LAYER, probe_model

__all__ = ["Replay", "replay", "probe_network", "as_image"]


@dataclass(frozen=True)
class Replay:
    """This package's answer to a case: a result or the error it raised.

    ``network`` says where the probe came from ("onnx": MATLAB's exported file; "weights":
    rebuilt from the weights saved in the .mat) and ``totals`` holds its total activation of
    every channel of the selected output on the unoccluded X, to compare with MATLAB's.
    """

    result: np.ndarray | None
    error: str | None
    network: str = ""
    totals: np.ndarray | None = None


def as_image(case: OcclusionCase) -> np.ndarray:
    """X as a float32 H×W×C array (MATLAB drops the channel axis of a one-channel image)."""
    return np.asarray(case.X, dtype=np.float32).reshape(case.input_size)


def probe_network(case: OcclusionCase) -> tuple[Network, str]:
    """The case's probe with ``case.output`` selected: MATLAB's ONNX file when it has that
    layer, otherwise the probe rebuilt from the saved weights."""
    if case.onnx_file is not None and case.onnx_file.is_file():
        net = importNetworkFromONNX(case.onnx_file, InputDataFormats="BCSS")
        try:
            if case.output != FINAL_LAYER[case.probe]:
                net.OutputNames = [case.output]
            return net, "onnx"
        except ValueError:
            pass  # the exporter renamed the layer: the weights say the same thing
    net = importNetworkFromONNX(probe_model(case.weights, case.input_size, case.probe), InputDataFormats="BCSS")
    net.OutputNames = [case.output]
    if case.output == "time":
        net.OutputDataFormats = "BCT"
    return net, "weights"


def _totals(net: Network, image: np.ndarray) -> np.ndarray:
    """Total activation of every channel of the selected output on one image."""
    output = net.engine("cpu").run(net.prepare(image[np.newaxis]))[0]
    fmt = net.output_format(net.OutputNames[0], output.ndim)
    return channel_totals(output, fmt, np.arange(output.shape[fmt.index("C")]))[0]


def replay(case: Case) -> Replay:
    """Run ``case`` with this package; errors the user could cause are caught and returned."""
    if isinstance(case, ImresizeCase):
        target = case.output_size if case.output_size is not None else case.scale
        options = {} if case.antialiasing is None else {"Antialiasing": case.antialiasing}
        return Replay(imresize(case.A, target, case.method, **options), None)
    net, source = probe_network(case)
    totals = _totals(net, as_image(case))
    try:
        scoreMap = occlusionSensitivity(net, case.X, case.channelIdx, **case.options)
    except (ValueError, TypeError) as error:
        return Replay(None, str(error), source, totals)
    return Replay(scoreMap, None, source, totals)
