"""The MATLAB-facing network object, whatever runtime computes it.

A runtime supplies an :class:`~matlab_occsens._backends.engine.Engine` for the selected outputs;
everything else (MATLAB properties, normalisation, layouts, choosing outputs) lives here once,
so the occlusion logic never knows which backend runs.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backends.engine import Engine
from .._core.formats import spatial_rank, to_native
from .._core.labels import class_names_argument
from .._core.options import ENVIRONMENTS
from .._utils.checks import shown
from .._utils.kept_cache import KeptCache
from .._utils.namevalue import is_text, match_string
from .._utils.warn import warn_user
from ._layers import ImageInputLayer, NodeLayer

__all__ = [
    "EngineKey",
    "Network",
    "check_output_format",
    "warn_unbatchable",
]

_FORMAT_LETTERS = set("SCBTU")


@dataclass(frozen=True)
class EngineKey:
    """An engine of a network: the output selection it computes and the environment asked for."""

    outputs: tuple[str, ...]
    environment: str


#: Engines kept per network object: one per environment asked for (auto, cpu, gpu).
ENGINES_KEPT = 3
#: Output selections whose views :meth:`Network.measuring` keeps (each with its own engines).
VIEWS_KEPT = 8


def warn_unbatchable(name: str) -> None:
    """Tell the user why their map runs one image per call."""
    warn_user(
        f"{name}: the network's batch axis is fixed and it cannot run several images per "
        "call, so every image is a separate call (slower, same values).",
        RuntimeWarning,
    )


def check_output_format(fmt: Any, where: str) -> str:
    """Validate a MATLAB data format such as "BC", "BCSS" or "BSSC" for a batch-first tensor."""
    if not is_text(fmt):
        raise TypeError(f'{where} must be a string such as "BCSS"; got {type(fmt).__name__}.')
    text = str(fmt).upper()
    if not text or set(text) - _FORMAT_LETTERS or text[0] != "B" or text.count("B") != 1 or text.count("C") > 1:
        raise ValueError(
            f"{where} must use the letters S, C, B, T, U with B first (ONNX tensors are batch first) "
            f'and at most one C, e.g. "BC", "BCSS", "BSSC"; got {str(fmt)!r}.'
        )
    return text


class Network(ABC):
    """A MATLAB ``dlnetwork``-like object: ``InputSize``, ``OutputNames``, ``Layers``.

    What both importers return, whatever runtime computes it (:class:`OnnxNetwork`,
    :class:`TorchModuleNetwork`); not built directly. ``OutputNames`` may be set to any layer
    (node) or tensor name of the graph; that is how an intermediate layer's channels are measured.
    MATLAB equivalent: the ``dlnetwork`` an importer returns.

    Parameters
    ----------
    input_layer : ImageInputLayer
        The input layer: size and normalisation.
    input_format : {"BCSS", "BSSC", "BCSSS", "BSSSC", "BCT", "BTC"}
        The layout of the backend's input.
    input_name : str
        The backend's input name.
    layers : sequence of NodeLayer
        One entry per graph node (or submodule).
    output_names : sequence of str
        The outputs selected at first.

    See Also
    --------
    importNetworkFromONNX, importNetworkFromPyTorch

    Examples
    --------
    >>> from matlab_occsens import importNetworkFromONNX
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    >>> net.InputSize, net.InputNames, net.OutputNames
    ((224, 224, 3), ['input'], ['logits'])
    >>> net.Layers[0].Normalization, net.Layers[1].Type
    ('zscore', 'Shape')
    """

    _function = "network"

    def __init__(
        self,
        input_layer: ImageInputLayer,
        input_format: str,
        input_name: str,
        layers: Sequence[NodeLayer],
        output_names: Sequence[str],
    ) -> None:
        self._input_layer = input_layer
        self._input_format = input_format
        self._input_name = input_name
        self._layers = tuple(layers)
        self._output_names = list(output_names)
        self._output_formats: dict[str, str] = {}
        self._engines: KeptCache[EngineKey, Engine] = KeptCache(ENGINES_KEPT)
        self._views: KeptCache[tuple[str, ...], Network] = KeptCache(VIEWS_KEPT)
        self._classes: tuple[str, ...] | None = None

    # ------------------------------------------------------------------ MATLAB properties
    @property
    def InputSize(self) -> tuple[int, ...]:
        """The size of one observation X in MATLAB's layout: H×W×C for an image, S1×S2×S3×C
        for a volume, C×T (features × time steps) for a signal."""
        return self._input_layer.InputSize

    @property
    def InputNames(self) -> list[str]:
        """The backend's input name, in a list (MATLAB's ``InputNames``)."""
        return [self._input_name]

    @property
    def InputDataFormats(self) -> str:
        """Layout of the backend's input: "BCSS" (NCHW) or "BSSC" (NHWC) for images, "BCSSS" or
        "BSSSC" for volumes, "BCT" or "BTC" for signals."""
        return self._input_format

    @property
    def Layers(self) -> list[ImageInputLayer | NodeLayer]:
        """The input layer first, then one entry per graph node."""
        return [self._input_layer, *self._layers]

    @property
    def OutputNames(self) -> list[str]:
        """The selected outputs: any layer or tensor names of the graph."""
        return list(self._output_names)

    @OutputNames.setter
    def OutputNames(self, names: str | Sequence[str]) -> None:
        listed = [names] if is_text(names) else list(names) if isinstance(names, (Sequence, np.ndarray)) else []
        if not listed or not all(is_text(name) for name in listed):
            raise TypeError(f"OutputNames must be a layer name or a list of names; got {shown(names)}.")
        for name in listed:
            self._check_output_name(str(name))
        self._output_names = [str(name) for name in listed]
        self._engines.clear()
        self._views.clear()

    @property
    def OutputDataFormats(self) -> list[str | None]:
        """MATLAB data format of each selected output: as set, else derived from the input's
        through the network; None where its rank is not yet known or its layout cannot be derived
        (measuring it then asks for a format)."""
        return [self._output_format(name) for name in self._output_names]

    @OutputDataFormats.setter
    def OutputDataFormats(self, formats: str | Sequence[str]) -> None:
        if not (is_text(formats) or isinstance(formats, (Sequence, np.ndarray))):
            raise TypeError(f'OutputDataFormats must be a format such as "BC" or a list of them; got {shown(formats)}.')
        listed = [formats] if is_text(formats) else list(formats)
        if len(listed) != len(self._output_names):
            raise ValueError(
                f"OutputDataFormats needs one format per output name ({len(self._output_names)}); got {len(listed)}."
            )
        for name, fmt in zip(self._output_names, listed):
            self._output_formats[name] = check_output_format(fmt, "OutputDataFormats")
        self._views.clear()  # views copied the formats

    @property
    def Classes(self) -> list[str] | None:
        """Names of the output's channels (``importNetworkFromONNX(..., Classes=names)``), or None.

        They let older MATLAB scripts name a class instead of a channel index.
        """
        return None if self._classes is None else list(self._classes)

    @Classes.setter
    def Classes(self, names: Sequence[str] | None) -> None:
        count = self.output_channels(self._output_names[0]) if len(self._output_names) == 1 else None
        self._classes = None if names is None else class_names_argument(names, count, self._function)
        self._views.clear()  # views copied the class names

    # ------------------------------------------------------------------ used by the algorithms
    def measuring(self, names: str | Sequence[str]) -> Network:
        """A view of this network whose ``OutputNames`` are ``names``; this one is left as it is.

        The view of each selection is kept (the :data:`VIEWS_KEPT` most recent, until this
        network's own ``OutputNames``, ``OutputDataFormats`` or ``Classes`` change), so that
        repeated calls measuring the same layer reuse its engines and their batch-size search.
        """
        listed = [names] if is_text(names) else list(names)
        if not listed or not all(is_text(name) for name in listed):
            raise TypeError(f"OutputNames must be a layer name or a list of names; got {names!r}.")
        key = tuple(str(name) for name in listed)
        for name in key:
            self._check_output_name(name)
        return self._views.kept(key, lambda: self._view(key))

    def _view(self, names: tuple[str, ...]) -> Network:
        view = copy.copy(self)
        view._output_formats = dict(self._output_formats)
        view._engines = KeptCache(ENGINES_KEPT)
        view._views = KeptCache(VIEWS_KEPT)
        view.OutputNames = list(names)
        return view

    def output_format(self, name: str, rank: int) -> str:
        """The data format of output ``name`` whose tensor has ``rank`` axes: the one the user
        set, else the one derived from the input's through the network; never a guess."""
        fmt = self._output_format(name, rank)
        if fmt is None:
            raise self._format_needed(name, rank)
        if len(fmt) != rank:
            raise ValueError(
                f"OutputDataFormats {fmt!r} for output {name!r} has {len(fmt)} letters but the tensor has {rank} axes."
            )
        return fmt

    def _output_format(self, name: str, rank: int | None = None) -> str | None:
        if name in self._output_formats:
            return self._output_formats[name]
        rank = rank if rank is not None else self._static_rank(name)
        if rank is None:
            return None
        if rank <= 2:
            return "BC"[:rank]  # batch first, so a second axis can only be the channels
        return self._derived_format(name, rank)

    def _format_needed(self, name: str, rank: int) -> ValueError:
        """The refusal to measure an output whose layout the network does not tell.

        A format is suggested only where one is nearly always right (a transformer's N×tokens×
        features behind an image input); for spatial tensors either order is common (a Swin stage
        is N×H×W×C behind an N×C×H×W input), and a volume's or a signal's inner tensors have no
        likelier layout, so the shape and both formats are given instead of a guess.
        """
        where = self._format_lost_at(name)
        asked = (
            f"OutputDataFormats: the layout of output {name!r} ({rank} axes) cannot be derived from the "
            f"input's{f' (it is lost at the {where})' if where else ''}, so which axis holds the channels "
            f"is unknown; set net.OutputDataFormats (or OutputDataFormats= at import)"
        )
        if rank == 3 and spatial_rank(self._input_format) == 2:  # tokens, as transformers lay them out
            return ValueError(
                f'{asked}, likely \'BTC\': "BTC" for a transformer\'s tokens (N×tokens×features), "BCT" if the '
                f"features come first."
            )
        shape = self._static_shape(name)
        shown = "×".join("?" if size is None else str(size) for size in shape) if shape else f"{rank}-axis"
        inner = ("T" if rank == 3 else "S") * (rank - 2)
        return ValueError(
            f'{asked} to the format of this {shown} tensor: "B{inner}C" if its channels are on its last '
            f'axis, "BC{inner}" if they are on axis 2.'
        )

    def output_channels(self, name: str) -> int | None:
        """Channel count of output ``name`` when the graph states it; None if only a run can tell.

        An output whose rank is known but whose layout cannot be derived is refused here, before
        any inference."""
        shape = self._static_shape(name)
        if shape is None:
            return None
        fmt = self._output_format(name, len(shape))
        if fmt is None:
            raise self._format_needed(name, len(shape))
        if "C" not in fmt or len(fmt) != len(shape):
            return None
        return shape[fmt.index("C")]

    def warn_pixel_range(self, images: np.ndarray, function: str) -> None:
        """Warn when raw-pixel ``images`` are far from the range the input normalisation implies."""
        note = self._input_layer.pixel_range_note(images)
        if note is not None:
            warn_user(f"{function}: {note}")

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """Normalise float32 channels-last observations (N×H×W×C, N×S1×S2×S3×C, N×T×C; see
        :mod:`~matlab_occsens._core.formats`) and put them in the backend's input layout."""
        return to_native(self._input_layer.normalize(images), self._input_format)

    def engine(self, environment: str) -> Engine:
        """The compiled engine for the current outputs on ``environment`` (cached)."""
        environment = match_string(environment, ENVIRONMENTS, "ExecutionEnvironment", self._function)
        outputs = tuple(self._output_names)

        def build() -> Engine:
            # An "auto" engine that landed on the requested device serves it: no second session.
            auto = self._engines.get(EngineKey(outputs, "auto"))
            return auto if auto is not None and auto.device == environment else self._build_engine(environment)

        return self._engines.kept(EngineKey(outputs, environment), build)

    # ------------------------------------------------------------------ backend hooks
    @abstractmethod
    def _check_output_name(self, name: str) -> None:
        """Raise ValueError unless ``name`` is a layer or tensor of the graph."""

    @abstractmethod
    def _static_shape(self, name: str) -> tuple[int | None, ...] | None:
        """Shape of output ``name`` for a batch of one, as far as the graph states it."""

    def _static_rank(self, name: str) -> int | None:
        shape = self._static_shape(name)
        return None if shape is None else len(shape)

    @abstractmethod
    def _derived_format(self, name: str, rank: int) -> str | None:
        """The format of output ``name`` (of ``rank`` > 2 axes) as the network tells it, or None."""

    def _format_lost_at(self, name: str) -> str | None:
        """Where the network stops telling the layout of ``name`` (for the error), if known."""
        return None

    @abstractmethod
    def _build_engine(self, environment: str) -> Engine:
        """Compile the graph for the selected outputs on "auto", "cpu" or "gpu"."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} InputSize={'x'.join(map(str, self.InputSize))} "
            f"InputDataFormats={self._input_format!r} OutputNames={self._output_names!r} "
            f"Normalization={self._input_layer.Normalization!r} layers={len(self._layers)}>"
        )
