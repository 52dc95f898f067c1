"""``importNetworkFromONNX``: MATLAB's importer, with the input layer given as options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from .._core.formats import INPUT_FORMATS
from .._core.option_table import INPUT_LAYER, with_options
from .._utils.checks import integer_vector
from .._utils.namevalue import match_string, parse_name_value
from ._import_options import INPUT_LAYER_OPTIONS, apply_output_formats, input_layer
from ._onnx_file import check_runnable, load_model
from ._onnx_graph import OnnxGraph
from ._onnx_network import BACKENDS, OnnxNetwork
from ._optional import require_torch

__all__ = ["importNetworkFromONNX"]

_FUNCTION = "importNetworkFromONNX"
_OPTIONS: dict[str, Any] = {
    "InputDataFormats": None,
    "OutputDataFormats": None,
    "InputSize": None,
    "OutputNames": None,
    **INPUT_LAYER_OPTIONS,
    "Classes": None,
    "Backend": "onnxruntime",  # extension: or "torch" (onnx2torch)
    "ExternalDataFolder": None,  # extension: where a model given as bytes keeps its external data
}


@with_options(INPUT_LAYER)
def importNetworkFromONNX(
    modelfile: str | os.PathLike | bytes | onnx.ModelProto, *args: Any, **kwargs: Any
) -> OnnxNetwork:
    """Import an ONNX network of images, volumes or signals as a MATLAB-style network object.

    The file is checked once at import, so a model ONNX Runtime cannot run is refused here with
    its problem, and nothing in it runs as code. The input layer normalises raw pixels, as
    MATLAB's ``imageInputLayer`` does.

    MATLAB equivalent: ``importNetworkFromONNX`` (Deep Learning Toolbox Converter for ONNX Model
    Format), with ``imageInputLayer``'s normalisation options; ``Backend`` and
    ``ExternalDataFolder`` are extensions.

    Parameters
    ----------
    modelfile : path, bytes or onnx.ModelProto
        The ONNX model. The caller's ModelProto is copied, never modified. The model is checked
        once at import (ONNX Runtime builds it unoptimised), so a file it cannot run is refused
        here with its problem. External data is read only from inside the model's folder, after
        symbolic links are followed.
    InputDataFormats : {"BCSS", "BSSC", "BCSSS", "BSSSC", "BCT", "BTC"}, optional
        Layout of the ONNX input: "BCSS" for NCHW images, "BSSC" for NHWC; extension: "BCSSS"
        (N×C×D1×D2×D3) and "BSSSC" for volumes, "BCT" (N×C×T, as Conv1d takes) and "BTC" for
        signals. Detected from the input's static shape when unambiguous (and refused where
        the graph reads it the other way); required otherwise.
    InputSize : [H W C] or [H W]; [S1 S2 S3 C] or [S1 S2 S3]; [C T], optional
        The size of one observation X in MATLAB's layout: an image, a volume (extension), or a
        signal's features × time steps (extension); required when the file leaves a size
        dynamic.
    OutputNames : str or list of str, optional
        Layers (node names) or tensors to output; default: the graph's outputs. Set it later
        with ``net.OutputNames = ...`` to measure an intermediate layer.
    OutputDataFormats : str or list of str, optional
        MATLAB format of each output ("BC", "BCSS", "BSSC", "BTC", ...). Default: derived from
        the input's layout through the graph (a Transpose moves axes, convolutions are NCHW);
        where the graph cannot tell (after a Reshape to tokens), measuring the output asks for it.
    {options}
    Classes : list of str, optional
        One name per channel of the output, in channel order (as MATLAB's older
        ``importONNXNetwork`` took them). Stored as ``net.Classes``; they let older scripts call
        ``occlusionSensitivity(net, X, label)``.
    Backend : {"onnxruntime", "torch"}, default "onnxruntime"
        Extension: the runtime that computes the forward passes. "torch" converts the graph
        with onnx2torch (the ``[torch]`` extra); both give the same maps.
    ExternalDataFolder : path, optional
        Extension: the folder holding the external data files of a model given as bytes or an
        ``onnx.ModelProto`` (such a model has no folder of its own, and one with external data
        is refused without this); for a file, default its own folder.
    *args
        The options above as MATLAB name-value pairs (``"Normalization", "zscore"``); names and
        string values are case-insensitive and may be abbreviated.
    **kwargs
        The options above as keywords.

    Returns
    -------
    net : OnnxNetwork
        ``net.InputSize`` is (H, W, C), or (S1, S2, S3, C) or (C, T): the size of one X;
        ``net.Layers[0]`` is the input layer; ``net.OutputNames``, ``net.OutputDataFormats`` and
        ``net.Classes`` are settable.

    Raises
    ------
    ValueError
        A file that is empty, not ONNX (a PyTorch file points to
        :func:`importNetworkFromPyTorch`), that ONNX Runtime cannot run, whose external data
        lies outside its folder, or an option that does not fit the model.

    See Also
    --------
    importNetworkFromPyTorch : The same network object for a PyTorch model.
    matlab_occsens.pretrained : Real networks that work offline.

    Examples
    --------
    >>> from matlab_occsens import importNetworkFromONNX
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> net = importNetworkFromONNX(
    ...     EFFICIENTNET_LITE0.onnx_path(), Normalization="zscore", Mean=127, StandardDeviation=128
    ... )
    >>> net.InputSize, net.InputDataFormats, net.OutputNames
    ((224, 224, 3), 'BCSS', ['logits'])

    Any layer's output can be measured instead of the network's:

    >>> net.OutputNames = ["/_conv_head/Conv"]
    >>> net.OutputDataFormats
    ['BCSS']
    """
    options = parse_name_value(_FUNCTION, _OPTIONS, args, kwargs)
    input_format = options["InputDataFormats"]
    if input_format is not None:
        input_format = match_string(input_format, INPUT_FORMATS, "InputDataFormats", _FUNCTION)
    backend = match_string(options["Backend"], BACKENDS, "Backend", _FUNCTION)
    if backend == "torch":
        require_torch(_FUNCTION, "onnx2torch")
    input_size = options["InputSize"]
    if input_size is not None:
        input_size = integer_vector(input_size, "InputSize", _FUNCTION, lengths=(2, 3, 4))
    model = load_model(modelfile, options["ExternalDataFolder"])
    graph = OnnxGraph(model, input_format, input_size)
    layer = input_layer(options, graph.input_size, graph.input_format, graph.input.name, _FUNCTION)
    path = Path(modelfile) if isinstance(modelfile, (str, os.PathLike)) else None
    check_runnable(model, "the model" if path is None else repr(str(path)))
    name = graph.model.graph.name if path is None else path.stem
    net = OnnxNetwork(graph, layer, options["OutputNames"], name=name or "network", backend=backend)
    apply_output_formats(net, options["OutputDataFormats"])
    if options["Classes"] is not None:
        net.Classes = options["Classes"]
    return net
