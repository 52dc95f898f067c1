"""Name-value options every importer shares: the image input layer and the output formats."""

from __future__ import annotations

from typing import Any

from .._core.option_table import INPUT_LAYER, defaults
from .._utils.namevalue import is_text
from ._base import Network
from ._layers import ImageInputLayer

__all__ = ["INPUT_LAYER_OPTIONS", "apply_output_formats", "input_layer"]

#: MATLAB's imageInputLayer options, in raw pixel units (see :class:`ImageInputLayer`), with their defaults.
INPUT_LAYER_OPTIONS: dict[str, Any] = defaults(INPUT_LAYER)


def input_layer(
    options: dict[str, Any], input_size: tuple[int, ...], input_format: str, name: str, function: str
) -> ImageInputLayer:
    """The validated input layer from parsed options holding :data:`INPUT_LAYER_OPTIONS`."""
    return ImageInputLayer.create(
        input_size,
        options["Normalization"],
        input_format=input_format,
        name=name,
        function=function,
        Mean=options["Mean"],
        StandardDeviation=options["StandardDeviation"],
        Min=options["Min"],
        Max=options["Max"],
    )


def apply_output_formats(net: Network, formats: Any) -> None:
    """Set ``OutputDataFormats`` from one format for every output or a list; None keeps the default."""
    if formats is not None:
        net.OutputDataFormats = [formats] * len(net.OutputNames) if is_text(formats) else formats
