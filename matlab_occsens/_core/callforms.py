"""The older MATLAB call forms, turned into the current ones.

Scripts written for R2019b-R2023 call ``occlusionSensitivity(net, X, label)`` with a class name
and ``occlusionSensitivity(net, X, layerName, channelIdx)``, and classify images with
``[label, scores] = classify(net, X)``. All still work here, each with a one-line
:class:`MatlabCompatibilityNote` that shows the recommended spelling, as MATLAB's own
documentation now recommends ``channelIdx`` with ``OutputNames``, and ``predict`` with
``scores2label`` in place of ``classify``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._utils.namevalue import is_text
from .._utils.warn import warn_user
from ..network._base import Network
from .labels import class_channels, scores2label
from .predict import predict

__all__ = ["MatlabCompatibilityNote", "classify", "current_call_form"]

_FUNCTION = "occlusionSensitivity"


class MatlabCompatibilityNote(UserWarning):
    """An older MATLAB call form was used: it works, and the note shows the recommended form.

    A ``UserWarning`` (shown once per call site by default), not a ``DeprecationWarning``:
    nothing is scheduled for removal. Like every warning of the package, it names the line of
    your script that led to it.

    Extension: MATLAB accepts its older forms silently; this note helps a ported script move to
    the form current MATLAB documents.

    See Also
    --------
    classify, occlusionSensitivity : The functions with older forms.

    Examples
    --------
    Silence the notes, for a script that must keep MATLAB's older forms:

    >>> import warnings
    >>> from matlab_occsens import MatlabCompatibilityNote
    >>> warnings.simplefilter("ignore", MatlabCompatibilityNote)

    Or turn them into errors, to find the older forms left in a ported script:

    >>> warnings.simplefilter("error", MatlabCompatibilityNote)
    """


def _is_label_list(value: Any) -> bool:
    if is_text(value):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "U" and value.size > 0
    return isinstance(value, Sequence) and bool(value) and all(is_text(item) for item in value)


def current_call_form(net: Network, target: Any, args: tuple[Any, ...]) -> tuple[Network, Any, tuple[Any, ...]]:
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
    warn_user(
        f"occlusionSensitivity(net, X, layerName, channelIdx) is an older MATLAB form; the "
        f"recommended form is net.OutputNames = [{layer!r}] then occlusionSensitivity(net, X, "
        f"{channels!r}).",
        MatlabCompatibilityNote,
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
    channels = class_channels(labels, classes, _FUNCTION, "channelIdx (a class name, as net.Classes)")
    shown = channels[0] if is_text(labels) else channels
    warn_user(
        f"occlusionSensitivity(net, X, label) is an older MATLAB form; the recommended form is "
        f"occlusionSensitivity(net, X, channelIdx) with channelIdx = {shown} "
        f"(net.Classes.index(label) + 1).",
        MatlabCompatibilityNote,
    )
    return channels


def classify(net: Network, X: Any, *args: Any, **kwargs: Any) -> tuple[Any, np.ndarray]:
    """MATLAB's older ``[label, scores] = classify(net, X)``: the top class and all class scores.

    Built on :func:`predict` and :func:`scores2label` with ``net.Classes``, which is what MATLAB
    now recommends writing; a :class:`MatlabCompatibilityNote` says so once per call site.

    MATLAB equivalent: ``classify`` (Deep Learning Toolbox, for ``SeriesNetwork`` and
    ``DAGNetwork``; current releases recommend ``predict`` and ``scores2label``).

    Parameters
    ----------
    net : Network
        A network with ``net.Classes`` (``importNetworkFromONNX(..., Classes=names)``) and one
        selected output holding one score per class.
    X : array_like
        H×W×C for one image or H×W×C×N for N images, raw pixels (as for :func:`predict`).
    *args, **kwargs
        ``MiniBatchSize`` and ``ExecutionEnvironment``, as for :func:`predict`.

    Returns
    -------
    label : str, or ndarray of str with one label per image
        The class with the highest score.
    scores : ndarray of float32, N×K
        Every class score, one row per image, as the network outputs them (probabilities after
        a softmax, logits otherwise).

    Warns
    -----
    MatlabCompatibilityNote
        With the recommended form, ``predict`` then ``scores2label``.

    Examples
    --------
    >>> import warnings
    >>> from skimage import data
    >>> from matlab_occsens import MatlabCompatibilityNote, classify, importNetworkFromONNX, imresize
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0, imagenet_classes
    >>> net = importNetworkFromONNX(
    ...     EFFICIENTNET_LITE0.onnx_path(), Classes=imagenet_classes(), **EFFICIENTNET_LITE0.normalization()
    ... )
    >>> X = imresize(data.coffee(), net.InputSize[:2])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", MatlabCompatibilityNote)
    ...     label, scores = classify(net, X)
    >>> label, scores.shape
    ('espresso', (1, 1000))
    """
    classes = net.Classes if isinstance(net, Network) else None
    if classes is None:
        raise TypeError(
            "classify: net must be a network with class names (net.Classes); import it with "
            "importNetworkFromONNX(..., Classes=names), or use predict without labels."
        )
    scores = predict(net, X, *args, **kwargs)
    if not isinstance(scores, np.ndarray) or scores.ndim != 2 or scores.shape[1] != len(classes):
        size = "several outputs" if isinstance(scores, tuple) else "scores of size " + "x".join(map(str, scores.shape))
        raise ValueError(
            f"classify: the network must give one score per class (N×{len(classes)} for its "
            f"{len(classes)} Classes); it gives {size}. Set net.OutputNames to the class-score output."
        )
    label, _ = scores2label(scores, classes, 2)
    warn_user(
        "[label, scores] = classify(net, X) is an older MATLAB form; the recommended form is "
        "scores = predict(net, X) then label = scores2label(scores, net.Classes, 2).",
        MatlabCompatibilityNote,
    )
    return label, scores
