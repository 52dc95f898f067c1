"""The image input layer: the network's input size and its normalisation of raw pixels.

In MATLAB the input layer owns normalisation, so scripts pass raw pixels (0..255) to
``predict`` and ``occlusionSensitivity``, and occluded pixels are filled *before* normalisation.
Keeping that here lets ported scripts keep passing raw pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.formats import channels_last_shape, input_kind, observation_to_channels_last, spatial_size
from .._core.option_table import INPUT_LAYER, option
from .._utils.checks import finite_single, real_array
from .._utils.namevalue import match_string

__all__ = ["ImageInputLayer", "MAX_INPUT_BYTES", "NodeLayer", "NORMALIZATIONS", "check_input_size"]

#: The largest network input a map accepts: 2 GiB for one float32 image (536,870,912 values, e.g.
#: 13,377×13,377×3). A map holds the image, its occluded batch and the network's activations at
#: once, several times one image, so a larger input cannot be computed on a usual machine anyway.
MAX_INPUT_BYTES = 2**31

NORMALIZATIONS: tuple[str, ...] = option("Normalization", INPUT_LAYER).words or ()

#: MATLAB's Type of the input layer of each kind of input.
_TYPES = {"image": "Image Input", "volume": "3-D Image Input", "signal": "Sequence Input"}

_NEEDS = {
    "none": (),
    "zerocenter": ("Mean",),
    "zscore": ("Mean", "StandardDeviation"),
    "rescale-symmetric": ("Min", "Max"),
    "rescale-zero-one": ("Min", "Max"),
}


def _statistic(name: str, value: Any, input_size: tuple[int, ...], input_format: str, function: str) -> np.ndarray:
    """A normalisation statistic as float32 broadcastable to channels-last observations: a
    scalar, C values, or one value per element of X (given in X's layout, ``InputSize``)."""
    expected = "numeric (a scalar, C values or an array of net.InputSize)"
    array = real_array(value, name, function, expected).astype(np.float64)
    shape = channels_last_shape(input_format, input_size)
    channels = shape[-1]
    if array.size == 1:
        shaped = array.reshape((1,) * len(shape))
    elif array.size == channels:
        shaped = array.reshape((*(1,) * (len(shape) - 1), channels))
    elif array.shape == tuple(input_size) or (channels == 1 and array.shape == spatial_size(input_format, input_size)):
        shaped = observation_to_channels_last(array.reshape(input_size), input_format).reshape(shape)
    else:
        raise ValueError(
            f"{function}: {name} must be a scalar, {channels} per-channel values or an "
            f"{'x'.join(map(str, input_size))} array; got shape {array.shape}."
        )
    return finite_single(shaped, function, name)  # normalisation runs in single precision


@dataclass(frozen=True)
class ImageInputLayer:
    """MATLAB's input layer: ``imageInputLayer`` (H×W×C), or as an extension
    ``image3dInputLayer`` (S1×S2×S3×C) or ``sequenceInputLayer`` (C×T), as ``Type`` says, with
    the normalisation of raw values.

    The first of a network's ``Layers``; the importers build it from their ``InputSize``,
    ``Normalization``, ``Mean``, ``StandardDeviation``, ``Min`` and ``Max`` options. The
    statistics are float32 arrays in raw units, either full size or one value per channel
    (``None`` where the normalisation does not use them), held channels last
    (:mod:`~matlab_occsens._core.formats`), as :meth:`normalize` receives observations.
    MATLAB equivalent: ``imageInputLayer`` (``image3dInputLayer``, ``sequenceInputLayer``).

    Parameters
    ----------
    InputSize : tuple of int
        The size of one X: (H, W, C), (S1, S2, S3, C) or (C, T).
    Normalization : {"none", "zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one"}
        MATLAB's normalisation of raw values.
    Mean, StandardDeviation, Min, Max : ndarray of float32 or None
        The statistics the normalisation uses, full size or one value per channel.
    Name : str, default "input"
        The layer's name.
    Type : str, default "Image Input"
        MATLAB's type of the layer: "Image Input", "3-D Image Input" or "Sequence Input".

    Examples
    --------
    >>> from matlab_occsens import importNetworkFromONNX
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    >>> layer = net.Layers[0]
    >>> layer.InputSize, layer.Normalization, layer.Mean.ravel().tolist()
    ((224, 224, 3), 'zscore', [127.0, 127.0, 127.0])
    """

    InputSize: tuple[int, ...]
    Normalization: str = "none"
    Mean: np.ndarray | None = None
    StandardDeviation: np.ndarray | None = None
    Min: np.ndarray | None = None
    Max: np.ndarray | None = None
    Name: str = "input"
    Type: str = "Image Input"

    @classmethod
    def create(
        cls,
        input_size: tuple[int, ...],
        normalization: Any = "none",
        *,
        input_format: str = "BCSS",
        name: str = "input",
        function: str = "imageInputLayer",
        **statistics: Any,
    ) -> ImageInputLayer:
        """Validate the user's Normalization and statistics (given as MATLAB names)."""
        check_input_size(input_size, function)
        method = match_string(normalization, NORMALIZATIONS, "Normalization", function)
        needed = _NEEDS[method]
        given = {key: value for key, value in statistics.items() if value is not None}
        missing = [key for key in needed if key not in given]
        if missing:
            raise ValueError(
                f'{function}: Normalization="{method}" needs {" and ".join(missing)} (in raw pixel '
                f"units, per channel or of net.InputSize), as MATLAB computes them from training data."
            )
        unused = [key for key in given if key not in needed]
        if unused:
            raise ValueError(
                f'{function}: {", ".join(unused)} not used by Normalization="{method}"; '
                f"it uses {', '.join(needed) or 'no statistics'}."
            )
        values = {key: _statistic(key, given[key], input_size, input_format, function) for key in needed}
        if "StandardDeviation" in values and np.any(values["StandardDeviation"] <= 0):
            raise ValueError(f"{function}: StandardDeviation must be positive.")
        if "Max" in values and np.any(values["Max"] <= values["Min"]):
            raise ValueError(f"{function}: Max must be greater than Min for every channel.")
        return cls(
            tuple(int(side) for side in input_size), method, Name=name, Type=_TYPES[input_kind(input_format)], **values
        )

    def _pixel_units(self) -> float | None:
        """The pixel units the statistics are in, as far as they tell: 255 (raw 0..255 pixels) when a
        mean or the rescaling maximum is above 2, 1 (0..1 images) when the means and deviations, or
        the maximum, are at most 1; None otherwise and without statistics."""
        if self.Normalization in ("zerocenter", "zscore"):
            assert self.Mean is not None
            mean = float(np.max(np.abs(self.Mean)))
            spread = 0.0 if self.StandardDeviation is None else float(np.max(self.StandardDeviation))
            return 255.0 if mean > 2 else 1.0 if mean <= 1 and spread <= 1 else None
        if self.Max is not None:
            top = float(np.max(self.Max))
            return 255.0 if top > 2 else 1.0 if top <= 1 else None
        return None

    def pixel_range_note(self, images: np.ndarray) -> str | None:
        """Why ``images`` (raw pixels) look far from the range this normalisation was made for, or
        None: every value within 0..1 for statistics in 0..255 units, or values beyond 1.5 for
        statistics in 0..1 units (a network then runs, and answers nonsense, without a word)."""
        units = self._pixel_units()
        if units is None or images.size == 0:
            return None
        top = float(np.max(images))
        said = f'the input layer\'s Normalization "{self.Normalization}" has statistics in'
        if units == 255 and 0 < top <= 1 and float(np.min(images)) >= 0:
            return (
                f"X's values all lie in 0..1, but {said} 0..255 pixel units: give X in 0..255 (X * 255) or "
                f"the statistics in 0..1 units."
            )
        if units == 1 and top > 1.5:
            return (
                f"X's values go beyond 1, but {said} 0..1 units: give X in 0..1 (X / 255 for 8-bit pixels) or "
                f"the statistics in 0..255 units."
            )
        return None

    def normalize(self, images: np.ndarray) -> np.ndarray:
        """Normalise float32 channels-last observations (their last axes ``(*spatial, C)``);
        returns a new array."""
        method = self.Normalization
        if method == "none":
            return np.array(images, dtype=np.float32)
        if method == "zerocenter":
            return images - self.Mean
        if method == "zscore":
            return (images - self.Mean) / self.StandardDeviation
        assert self.Min is not None and self.Max is not None  # from_options sets both for rescaling
        unit = (images - self.Min) / (self.Max - self.Min)
        return unit if method == "rescale-zero-one" else unit * np.float32(2) - np.float32(1)


def check_input_size(input_size: tuple[int, ...], function: str) -> None:
    """Refuse, at import, an input no map can hold (see :data:`MAX_INPUT_BYTES`)."""
    values = int(np.prod([int(side) for side in input_size], dtype=object))
    if values * 4 > MAX_INPUT_BYTES:
        raise ValueError(
            f"{function}: the network's input {'×'.join(map(str, input_size))} needs {values * 4 / 2**30:.1f} GiB "
            f"per float32 image, more than the {MAX_INPUT_BYTES // 2**30} GiB a map can use (it holds the "
            f"image, its occluded batch and the activations at once); give a smaller InputSize."
        )


@dataclass(frozen=True)
class NodeLayer:
    """One node of the imported graph, listed in ``net.Layers`` after the input layer.

    ``Name`` is what ``net.OutputNames`` accepts to measure that layer, ``Type`` the operator
    (ONNX) or module class (PyTorch), ``Outputs`` the tensors it produces.

    MATLAB equivalent: an entry of a ``dlnetwork``'s ``Layers`` (its ``Name`` and ``Type``);
    ``Outputs`` is an extension.

    Parameters
    ----------
    Name : str
        The node's (or submodule's) name.
    Type : str
        The ONNX operator or the module's class name.
    Outputs : tuple of str
        The tensors the node produces.

    Examples
    --------
    >>> from matlab_occsens import importNetworkFromONNX
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    >>> layer = net.Layers[1]
    >>> layer.Name, layer.Type, layer.Outputs
    ('/Shape', 'Shape', ('/Shape_output_0',))
    """

    Name: str
    Type: str
    Outputs: tuple[str, ...]
