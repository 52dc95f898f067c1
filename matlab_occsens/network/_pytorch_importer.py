"""``importNetworkFromPyTorch``: MATLAB's importer, for a PyTorch module or a saved model file.

The options are checked here, before torch is imported (which takes seconds), so that a wrong
option fails at once and importing matlab_occsens never imports torch.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core.formats import INPUT_FORMATS, input_size_of, size_names
from .._core.option_table import INPUT_LAYER, with_options
from .._utils.checks import integer_vector, shown
from .._utils.namevalue import is_text, match_string, parse_name_value
from ._import_options import INPUT_LAYER_OPTIONS, apply_output_formats, input_layer
from ._optional import require_torch

if TYPE_CHECKING:
    import torch

    from ._torch_network import TorchModuleNetwork

__all__ = ["importNetworkFromPyTorch"]

_FUNCTION = "importNetworkFromPyTorch"
_OPTIONS: dict[str, Any] = {
    "InputSize": None,
    "PyTorchInputSizes": None,
    "InputDataFormats": None,  # channels first, of the kind InputSize's length says
    "OutputNames": None,
    "OutputDataFormats": None,
    **INPUT_LAYER_OPTIONS,
}


def _input_size(options: dict[str, Any], input_format: str | None) -> tuple[tuple[int, ...], str]:
    """``InputSize`` in MATLAB's layout and the input format, from ``InputSize`` or MATLAB's
    ``PyTorchInputSizes`` (the tensor's own shape); without ``InputDataFormats`` the input is
    channels first (PyTorch's own convention) of the kind the size's length says: an image
    ([H W C]) or a volume ([S1 S2 S3 C]). A signal's [C T] needs its format named, as a
    two-number InputSize could be a mistyped image size."""
    size, torch_size = options["InputSize"], options["PyTorchInputSizes"]
    if size is not None and torch_size is not None:
        raise ValueError(f"{_FUNCTION}: give InputSize or PyTorchInputSizes, not both.")
    if size is not None:
        if input_format is None:
            values = _sizes(size, "InputSize", (3, 4), "[H W C]", "[S1 S2 S3 C]")
            return values, "BCSS" if len(values) == 3 else "BCSSS"
        return integer_vector(size, "InputSize", _FUNCTION, lengths=(len(input_format) - 1,)), input_format
    if torch_size is not None:
        if input_format is None:
            shape = _sizes(torch_size, "PyTorchInputSizes", (4, 5), "[N C H W]", "[N C S1 S2 S3]")
            input_format = "BCSS" if len(shape) == 4 else "BCSSS"
        else:
            shape = integer_vector(torch_size, "PyTorchInputSizes", _FUNCTION, lengths=(len(input_format),))
        return input_size_of(input_format, shape[1:]), input_format  # type: ignore[return-value]
    names = " ".join(size_names(input_format or "BCSS"))
    raise ValueError(
        f"{_FUNCTION}: a PyTorch model does not record its image size; give InputSize=[{names}] "
        f"(or MATLAB's PyTorchInputSizes, the input tensor's size such as [1 C H W])."
    )


def _sizes(value: Any, argument: str, lengths: tuple[int, int], image: str, volume: str) -> tuple[int, ...]:
    """An image's or a volume's size (``lengths``: theirs) when no InputDataFormats says which."""
    count = np.size(value) if not is_text(value) else 0
    if count not in lengths:
        raise ValueError(
            f"{_FUNCTION}: {argument} must be {lengths[0]} integers {image} for an image or {lengths[1]} "
            f'{volume} for a volume (a signal\'s needs InputDataFormats="BCT" or "BTC"); got {shown(value)}.'
        )
    return integer_vector(value, argument, _FUNCTION, lengths=(count,))


@with_options(INPUT_LAYER)
def importNetworkFromPyTorch(
    modelfile: torch.nn.Module | str | os.PathLike, *args: Any, **kwargs: Any
) -> TorchModuleNetwork:
    """Wrap a PyTorch model as a MATLAB-style network object (torch backend).

    The model is copied and runs in inference mode; the network object behaves as the one
    :func:`importNetworkFromONNX` returns, with module names as layer names.

    MATLAB equivalent: ``importNetworkFromPyTorch`` (Deep Learning Toolbox Converter for PyTorch
    Models), with ``imageInputLayer``'s normalisation options; an ``nn.Module`` and ``.pt2``
    files are extensions (MATLAB takes TorchScript files), and so are volumes and signals.

    Parameters
    ----------
    modelfile : torch.nn.Module, or path
        The model itself, or a TorchScript file (``torch.jit.save``, as MATLAB's importer takes)
        or an exported program (``torch.export.save``, ``.pt2``). It is copied, never modified,
        and runs in inference mode (``eval()``).

        A TorchScript file is a program: its ``forward`` runs what its author wrote and can read
        or write any file you can, so load one only from someone you trust. A ``.pt2`` file is
        refused (ValueError) unless it holds only plain tensors and data, because
        ``torch.export.load`` would unpickle pickled weights and evaluate Python found in the
        file. Safe to take from strangers: ONNX files (``importNetworkFromONNX``) and ``.pt2``
        files with tensor weights.
    InputSize : [H W C], [S1 S2 S3 C] or [C T]
        The size of one observation X: an image; extension: a volume, or a signal's features ×
        time steps (with ``InputDataFormats`` "BCT" or "BTC"). Required unless
        ``PyTorchInputSizes`` is given.
    PyTorchInputSizes : [N C H W], [N C S1 S2 S3] or [N C T]
        MATLAB's option: the size of the model's input tensor (``[N H W C]`` for "BSSC").
    InputDataFormats : {"BCSS", "BSSC", "BCSSS", "BSSSC", "BCT", "BTC"}, optional
        Layout of the model's input: "BCSS" is PyTorch's NCHW, "BSSC" NHWC; extension: "BCSSS"
        (NCDHW, as Conv3d takes) and "BSSSC" for volumes, "BCT" (N×C×T, as Conv1d takes) and
        "BTC" for signals. Default: channels first, "BCSS" for an image's size and "BCSSS"
        for a volume's.
    OutputNames : str or list of str, default ``[""]``
        Modules whose outputs are measured, named as ``model.named_modules()`` names them;
        ``""`` is the whole model. A TorchScript model offers only ``""``.
    OutputDataFormats : str or list of str, optional
        MATLAB format of each output ("BC", "BCSS", "BTC", ...). Default, as far as a module
        tells: convolution, pooling and normalisation modules are channels-first, other 4-D
        outputs are in ``InputDataFormats``, 2-D outputs are "BC"; any other rank (a
        transformer's N×tokens×features) must be given.
    {options}
    *args
        The options above as MATLAB name-value pairs (``"InputSize", [224 224 3]``); names and
        string values are case-insensitive and may be abbreviated.
    **kwargs
        The options above as keywords.

    Returns
    -------
    net : TorchModuleNetwork
        ``net.InputSize`` is (H, W, C), (S1, S2, S3, C) or (C, T), the size of one X;
        ``net.OutputNames`` and ``net.OutputDataFormats`` are settable.

    Raises
    ------
    ValueError
        A ``.pt2`` file that holds anything but plain tensors and data, a file that is not a
        PyTorch model, a model whose ``forward`` takes more than one input (as
        :func:`importNetworkFromONNX` refuses a graph with two inputs), or an option that does not
        fit the model.

    See Also
    --------
    importNetworkFromONNX : ONNX files, run by ONNX Runtime (or torch).

    Examples
    --------
    A small convolutional classifier; any module (here the ReLU, named "1") can be measured:

    >>> import numpy as np
    >>> import torch
    >>> from matlab_occsens import importNetworkFromPyTorch, occlusionSensitivity
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
    ... )
    >>> net = importNetworkFromPyTorch(model, InputSize=[32, 32, 3], Normalization="rescale-zero-one", Min=0, Max=255)
    >>> net.OutputNames = ["1"]
    >>> X = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    >>> occlusionSensitivity(net, X, 5, MaskSize=8, Stride=8).shape
    (32, 32)
    """
    options = parse_name_value(_FUNCTION, _OPTIONS, args, kwargs)
    given_format = options["InputDataFormats"]
    if given_format is not None:
        given_format = match_string(given_format, INPUT_FORMATS, "InputDataFormats", _FUNCTION)
    input_size, input_format = _input_size(options, given_format)
    layer = input_layer(options, input_size, input_format, "input", _FUNCTION)
    require_torch(_FUNCTION)
    from ._torch_network import TorchModuleNetwork, load_module

    module, name = load_module(modelfile)
    net = TorchModuleNetwork(module, layer, input_format, options["OutputNames"], name)
    apply_output_formats(net, options["OutputDataFormats"])
    return net
