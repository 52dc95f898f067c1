"""The older MATLAB call forms of ``occlusionSensitivity``, turned into the current one.

Scripts written for R2019b-R2023 call ``occlusionSensitivity(net, X, label)`` with a class name
and ``occlusionSensitivity(net, X, layerName, channelIdx)``. Both still work here, each with a
one-line :class:`MatlabCompatibilityNote` that shows the recommended spelling, as MATLAB's own
documentation now recommends ``channelIdx`` with ``OutputNames``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .labels import class_channels
from .namevalue import is_text
from .network.base import Network

__all__ = ["MatlabCompatibilityNote", "current_call_form"]

_FUNCTION = "occlusionSensitivity"


class MatlabCompatibilityNote(UserWarning):
    """An older MATLAB call form was used: it works, and the note shows the recommended form.

    A ``UserWarning`` (shown once per call site by default), not a ``DeprecationWarning``:
    nothing is scheduled for removal. Silence it with
    ``warnings.simplefilter("ignore", MatlabCompatibilityNote)``.
    """


def _is_label_list(value: Any) -> bool:
    if is_text(value):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "U" and value.size > 0
    return isinstance(value, Sequence) and bool(value) and all(is_text(item) for item in value)


def current_call_form(
    net: Network, target: Any, args: tuple[Any, ...]
) -> tuple[Network, Any, tuple[Any, ...]]:
    """``(network to measure, channelIdx, name-value args)`` for any of MATLAB's call forms.

    ``target`` is the third argument: channel indices (current form), class names (the label
    form, which needs ``net.Classes``), or a layer name followed by channel indices in ``args``
    (the layer form, which measures a copy of ``net``, so ``net.OutputNames`` stays as it is).
    """
    if not _is_label_list(target):
        return net, target, args
    if is_text(target) and args and not is_text(args[0]):
        return _layer_form(net, str(target), args[0]), args[0], args[1:]
    return net, _label_form(net, target), args


def _layer_form(net: Network, layer: str, channels: Any) -> Network:
    try:
        measured = net.measuring(layer)
    except ValueError as error:
        raise ValueError(
            f"{_FUNCTION}: a name followed by a number is read as the older form "
            f"occlusionSensitivity(net, X, layerName, channelIdx), but {error}"
        ) from None
    warnings.warn(
        f"occlusionSensitivity(net, X, layerName, channelIdx) is an older MATLAB form; the "
        f"recommended form is net.OutputNames = [{layer!r}] then occlusionSensitivity(net, X, "
        f"{channels!r}).",
        MatlabCompatibilityNote,
        stacklevel=4,
    )
    return measured


def _label_form(net: Network, labels: Any) -> list[int]:
    classes = net.Classes
    if classes is None:
        raise TypeError(
            f"{_FUNCTION}: channelIdx must be channel indices (1-based); got the class name(s) {labels!r}, "
            f"but the network has no class names: import it with importNetworkFromONNX(..., Classes=names)."
        )
    output = net.OutputNames[0] if len(net.OutputNames) == 1 else None
    count = net.output_channels(output) if output is not None else None
    if count is not None and count != len(classes):
        raise ValueError(
            f"{_FUNCTION}: net.Classes names {len(classes)} classes but the selected output "
            f"{output!r} has {count} channels; a class name only applies to the class-score output."
        )
    channels = class_channels(labels, classes, _FUNCTION)
    shown = channels[0] if is_text(labels) else channels
    warnings.warn(
        f"occlusionSensitivity(net, X, label) is an older MATLAB form; the recommended form is "
        f"occlusionSensitivity(net, X, channelIdx) with channelIdx = {shown} "
        f"(net.Classes.index(label) + 1).",
        MatlabCompatibilityNote,
        stacklevel=4,
    )
    return channels
