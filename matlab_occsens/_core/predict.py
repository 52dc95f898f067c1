"""``predict``: the selected outputs for one image or a batch, in MATLAB layout."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._utils.checks import finite_single, integer_vector
from .._utils.namevalue import match_string, parse_name_value
from ..network._base import Network
from .activations import to_matlab_layout
from .formats import is_sequence, spatial_rank
from .options import ENVIRONMENTS, image_values, layout_hint

__all__ = ["predict", "selected_outputs"]

_FUNCTION = "predict"
_OPTIONS: dict[str, Any] = {"MiniBatchSize": 128, "ExecutionEnvironment": "auto"}


def _images(X: Any, input_size: tuple[int, ...], input_format: str) -> np.ndarray:
    """X (one observation, or a stack of them along a trailing axis) as float32 channels-last
    observations, N×H×W×C, N×S1×S2×S3×C or N×T×C."""
    if spatial_rank(input_format) != 2:
        return _observations(X, input_size, input_format)
    array = image_values(X, _FUNCTION)
    height, width, channels = input_size
    if array.ndim == 2 and channels == 1:
        array = array[:, :, np.newaxis]
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[:3] != (height, width, channels):
        raise ValueError(
            f"{_FUNCTION}: X must be {height}x{width}x{channels} (net.InputSize) or "
            f"{height}x{width}x{channels}xN; got {'x'.join(map(str, np.shape(X))) or 'a scalar'}: "
            f"{layout_hint(np.shape(X), input_size, batch=True)}"
        )
    return finite_single(np.moveaxis(array, 3, 0), _FUNCTION, "X")


def _observations(X: Any, input_size: tuple[int, ...], input_format: str) -> np.ndarray:
    """A volume (S1×S2×S3×C[×N]) or a signal (C×T[×N]); extension: the stack along a trailing
    axis, as for images."""
    array = image_values(X, _FUNCTION)
    size = tuple(input_size)
    channels = size[0] if is_sequence(input_format) else size[-1]
    if channels == 1 and array.ndim == len(size) - 1:  # one channel given without its axis
        array = array[np.newaxis] if is_sequence(input_format) else array[..., np.newaxis]
    if array.ndim == len(size):
        array = array[..., np.newaxis]
    if array.ndim != len(size) + 1 or array.shape[:-1] != size:
        shown = "x".join(map(str, size))
        raise ValueError(
            f"{_FUNCTION}: X must be {shown} (net.InputSize) or {shown}xN; got "
            f"{'x'.join(map(str, np.shape(X))) or 'a scalar'}."
        )
    stack = np.moveaxis(array, -1, 0)
    return finite_single(np.swapaxes(stack, 1, 2) if is_sequence(input_format) else stack, _FUNCTION, "X")


def predict(net: Network, X: Any, *args: Any, **kwargs: Any) -> np.ndarray | tuple[np.ndarray, ...]:
    """Run the network on raw-pixel images X and return its selected output(s).

    MATLAB equivalent: ``predict`` (Deep Learning Toolbox), for a ``dlnetwork`` and numeric
    images, returning MATLAB's numeric layout.

    Parameters
    ----------
    net : Network
        From :func:`importNetworkFromONNX` or :func:`importNetworkFromPyTorch`; the input
        layer normalises the pixels.
    X : array_like
        H×W×C for one image or H×W×C×N for N images (MATLAB layout), any real numeric type
        (converted to single precision).
        Extension: S1×S2×S3×C[×N] for a volume network, C×T[×N] for a signal network.
    MiniBatchSize : int, default 128
        Images per forward call.
    ExecutionEnvironment : {"auto", "cpu", "gpu"}, default "auto"
        Where the network runs; "auto" uses a GPU when the backend can.
    *args
        The options above as MATLAB name-value pairs (``"MiniBatchSize", 32``).
    **kwargs
        The options above as keywords.

    Returns
    -------
    scores : ndarray of float32, or a tuple with one array per entry of ``net.OutputNames``
        N×C for feature outputs (one row per observation); H×W×C×N for spatial outputs.

    See Also
    --------
    scores2label : The class with the highest score.

    Examples
    --------
    >>> from skimage import data
    >>> from matlab_occsens import importNetworkFromONNX, imresize, predict
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    >>> X = imresize(data.coffee(), net.InputSize[:2])
    >>> scores = predict(net, X)  # this network's output is 1000 logits
    >>> scores.shape, int(scores.argmax()) + 1  # 968 is "espresso"
    ((1, 1000), 968)
    """
    options = parse_name_value(_FUNCTION, _OPTIONS, args, kwargs)
    batch_size = integer_vector(options["MiniBatchSize"], "MiniBatchSize", _FUNCTION)[0]
    environment = match_string(options["ExecutionEnvironment"], ENVIRONMENTS, "ExecutionEnvironment", _FUNCTION)
    images = _images(X, net.InputSize, net.InputDataFormats)
    net.warn_pixel_range(images, _FUNCTION)
    outputs = selected_outputs(net, images, batch_size, environment)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def selected_outputs(net: Network, images: np.ndarray, batch_size: int, environment: str) -> list[np.ndarray]:
    """``predict`` after its argument checks: the selected outputs, in MATLAB's layout, of float32
    channels-last raw observations ``images`` (N×H×W×C for images; for callers that checked their
    arguments once for many images)."""
    engine = net.engine(environment)
    batch_size = min(batch_size, engine.max_batch or batch_size)
    parts = [engine.run(net.prepare(images[first : first + batch_size])) for first in range(0, len(images), batch_size)]
    outputs = []
    for index, name in enumerate(net.OutputNames):
        joined = np.concatenate([part[index] for part in parts])
        outputs.append(to_matlab_layout(joined, net.output_format(name, joined.ndim)))
    return outputs
