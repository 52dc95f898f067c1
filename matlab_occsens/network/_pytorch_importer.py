"""``importNetworkFromPyTorch``: MATLAB's importer, for a PyTorch module or a saved model file.

The options are checked here, before torch is imported (which takes seconds), so that a wrong
option fails at once and importing matlab_occsens never imports torch.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._core.option_table import INPUT_LAYER, with_options
from .._utils.checks import integer_vector
from .._utils.namevalue import match_string, parse_name_value
from ._base import INPUT_FORMATS
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
    "InputDataFormats": "BCSS",
    "OutputNames": None,
    "OutputDataFormats": None,
    **INPUT_LAYER_OPTIONS,
}


def _input_size(options: dict[str, Any], input_format: str) -> tuple[int, int, int]:
    """H×W×C from ``InputSize`` or from MATLAB's ``PyTorchInputSizes`` (the tensor's own shape)."""
    size, torch_size = options["InputSize"], options["PyTorchInputSizes"]
    if size is not None and torch_size is not None:
        raise ValueError(f"{_FUNCTION}: give InputSize or PyTorchInputSizes, not both.")
    if size is not None:
        return integer_vector(size, "InputSize", _FUNCTION, lengths=(3,))  # type: ignore[return-value]
    if torch_size is not None:
        shape = integer_vector(torch_size, "PyTorchInputSizes", _FUNCTION, lengths=(4,))
        return (shape[2], shape[3], shape[1]) if input_format == "BCSS" else shape[1:]  # type: ignore[return-value]
    raise ValueError(
        f"{_FUNCTION}: a PyTorch model does not record its image size; give InputSize=[H W C] "
        f"(or MATLAB's PyTorchInputSizes=[1 C H W])."
    )


@with_options(INPUT_LAYER)
def importNetworkFromPyTorch(
    modelfile: torch.nn.Module | str | os.PathLike, *args: Any, **kwargs: Any
) -> TorchModuleNetwork:
    """Wrap a PyTorch model as a MATLAB-style network object (torch backend).

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
    InputSize : [H W C]
        Image size. Required unless ``PyTorchInputSizes`` is given.
    PyTorchInputSizes : [N C H W]
        MATLAB's option: the size of the model's input tensor (``[N H W C]`` for "BSSC").
    InputDataFormats : {"BCSS", "BSSC"}, default "BCSS"
        Layout of the model's input: "BCSS" is PyTorch's NCHW, "BSSC" NHWC.
    OutputNames : str or list of str, default ``[""]``
        Modules whose outputs are measured, named as ``model.named_modules()`` names them;
        ``""`` is the whole model. A TorchScript model offers only ``""``.
    OutputDataFormats : str or list of str, optional
        MATLAB format of each output ("BC", "BCSS", "BTC", ...). Default, as far as a module
        tells: convolution, pooling and normalisation modules are channels-first, other 4-D
        outputs are in ``InputDataFormats``, 2-D outputs are "BC"; any other rank (a
        transformer's N×tokens×features) must be given.
    {options}

    Returns
    -------
    net : TorchModuleNetwork
        ``net.InputSize`` is (H, W, C); ``net.OutputNames`` is settable.

    Examples
    --------
    >>> net = importNetworkFromPyTorch(model, InputSize=[224, 224, 3], Normalization="zscore",
    ...     Mean=[123.675, 116.28, 103.53], StandardDeviation=[58.395, 57.12, 57.375])  # doctest: +SKIP
    >>> net.OutputNames = ["features.6"]  # measure an intermediate block  # doctest: +SKIP
    """
    options = parse_name_value(_FUNCTION, _OPTIONS, args, kwargs)
    input_format = match_string(options["InputDataFormats"], INPUT_FORMATS, "InputDataFormats", _FUNCTION)
    input_size = _input_size(options, input_format)
    layer = input_layer(options, input_size, "input", _FUNCTION)
    require_torch(_FUNCTION)
    from ._torch_network import TorchModuleNetwork, load_module

    module, name = load_module(modelfile)
    net = TorchModuleNetwork(module, layer, input_format, options["OutputNames"], name)
    apply_output_formats(net, options["OutputDataFormats"])
    return net
