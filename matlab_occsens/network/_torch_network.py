"""Networks defined in PyTorch, as MATLAB-style network objects.

A user's ``torch.nn.Module`` (or a saved TorchScript or ``torch.export`` file) is copied, put in
inference mode and wrapped with the image input layer the user describes. ``OutputNames`` are
module names as ``named_modules()`` gives them, with ``""`` for the whole model; a submodule's
output is read with a forward hook, and the forward pass stops as soon as every selected
output is in, so measuring an early layer does not pay for the rest of the network.

This module imports torch: the package reaches it only through
:func:`~matlab_occsens.network._pytorch_importer.importNetworkFromPyTorch`.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from .._backends.engine import Engine, batches_correctly
from .._backends.torch_engine import TorchEngine, cpu_workers, replicas, torch_device
from .._core.formats import is_sequence, native_shape
from ._base import Network, warn_unbatchable
from ._layers import ImageInputLayer, NodeLayer
from ._pt2_archive import check_pt2_archive

__all__ = ["ROOT", "ModuleOutputs", "TorchModuleNetwork", "load_module"]

#: The whole model's output in ``OutputNames`` (``named_modules()`` names the model itself "").
ROOT = ""
_FUNCTION = "importNetworkFromPyTorch"


#: torch modules whose output is (N, C, spatial...) by definition.
_CHANNELS_FIRST_MODULES = (
    torch.nn.modules.conv._ConvNd,
    torch.nn.modules.batchnorm._BatchNorm,
    torch.nn.modules.instancenorm._InstanceNorm,
    torch.nn.modules.pooling._MaxPoolNd,
    torch.nn.modules.pooling._AvgPoolNd,
    torch.nn.modules.pooling._AdaptiveAvgPoolNd,
    torch.nn.modules.pooling._AdaptiveMaxPoolNd,
    torch.nn.GroupNorm,
    torch.nn.LocalResponseNorm,
    torch.nn.PixelShuffle,
    torch.nn.PixelUnshuffle,
)


class _AllCaptured(Exception):
    """Raised by a forward hook once every selected output is in: the rest is not needed."""


Hook = Callable[[torch.nn.Module, Any, Any], None]


@contextmanager
def _hooks(modules: dict[str, torch.nn.Module], hook_for: Callable[[str], Hook]) -> Iterator[None]:
    """Forward hooks on ``modules`` (``hook_for(name)`` each) while the block runs, then none."""
    handles = [module.register_forward_hook(hook_for(name)) for name, module in modules.items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class ModuleOutputs:
    """Call a module and return the outputs of the selected submodules, in ``names`` order.

    Hooks are added for each call and removed after it, so the module carries none between
    calls; each worker has its own module replica, so calls never share hooks.
    """

    def __init__(self, module: torch.nn.Module, names: Sequence[str]) -> None:
        self._module = module
        self._names = list(names)
        self._hooked = {name: module.get_submodule(name) for name in self._names if name != ROOT}
        self._stop_early = ROOT not in self._names

    def __call__(self, batch: torch.Tensor) -> list[torch.Tensor]:
        captured: dict[str, Any] = {}

        def keeper(name: str) -> Hook:
            def hook(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
                captured[name] = output
                if self._stop_early and len(captured) == len(self._hooked):
                    raise _AllCaptured

            return hook

        with _hooks(self._hooked, keeper), contextlib.suppress(_AllCaptured):
            captured[ROOT] = self._module(batch)
        return [captured[name] for name in self._names]

    def check(self, probe: torch.Tensor) -> None:
        """Run the whole model once and require each selected module to run exactly once and
        return a tensor (a module used twice per pass has no single output to measure)."""
        calls = dict.fromkeys(self._hooked, 0)
        outputs: dict[str, Any] = {}

        def counter(name: str) -> Hook:
            def hook(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
                calls[name] += 1
                outputs[name] = output

            return hook

        with _hooks(self._hooked, counter):
            outputs[ROOT] = self._module(probe)
        for name, count in calls.items():
            if count != 1:
                raise ValueError(
                    f"OutputNames: module {name!r} runs {count} times per forward pass, so it has no "
                    f"single output to measure; name a module that runs once."
                )
        for name in self._names:
            if not isinstance(outputs[name], torch.Tensor):
                shown = "the model" if name == ROOT else f"module {name!r}"
                raise ValueError(
                    f"OutputNames: {shown} returns {type(outputs[name]).__name__}, not a tensor; "
                    f"name a module that returns one tensor."
                )


class TorchModuleNetwork(Network):
    """A PyTorch module imported by :func:`importNetworkFromPyTorch`.

    A :class:`Network` whose ``Layers`` list the module's submodules by the names
    ``named_modules()`` gives them; ``OutputNames`` ``[""]`` is the whole model. Not built directly.

    MATLAB equivalent: the ``dlnetwork`` that MATLAB's ``importNetworkFromPyTorch`` returns.

    Parameters
    ----------
    module : torch.nn.Module
        The model (a copy, in inference mode).
    input_layer : ImageInputLayer
        The input layer: size and normalisation.
    input_format : {"BCSS", "BSSC", "BCSSS", "BSSSC", "BCT", "BTC"}
        The layout of the module's input.
    output_names : sequence of str, optional
        The submodules whose outputs are selected; default the whole module.
    name : str, default "network"
        ``Name``.

    See Also
    --------
    importNetworkFromPyTorch

    Examples
    --------
    >>> import torch
    >>> from matlab_occsens import importNetworkFromPyTorch
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    >>> net = importNetworkFromPyTorch(model, InputSize=[32, 32, 3])
    >>> type(net).__name__, [layer.Name for layer in net.Layers[1:]], net.OutputNames
    ('TorchModuleNetwork', ['0', '1'], [''])
    """

    _function = _FUNCTION

    def __init__(
        self,
        module: torch.nn.Module,
        input_layer: ImageInputLayer,
        input_format: str,
        output_names: Sequence[str] | None = None,
        name: str = "network",
    ) -> None:
        self._module = module
        self._modules = dict(module.named_modules())
        layers = [NodeLayer(key, type(sub).__name__, (key,)) for key, sub in self._modules.items() if key]
        super().__init__(input_layer, input_format, input_layer.Name, layers, [ROOT])
        self.Name = name
        if output_names is not None:
            self.OutputNames = output_names

    @property
    def Backend(self) -> str:
        """Extension: the runtime that computes the forward passes."""
        return "torch"

    def _check_output_name(self, name: str) -> None:
        if name == ROOT:
            return
        if isinstance(self._module, torch.jit.ScriptModule):
            raise ValueError(
                f"OutputNames: {name!r}: a TorchScript model runs as one compiled unit that forward "
                f'hooks cannot look into, so only its output ("") can be measured; import the '
                f"nn.Module itself to measure a layer."
            )
        if name not in self._modules:
            shown = ", ".join(repr(key) for key in list(self._modules)[-8:])
            raise ValueError(
                f"OutputNames: {name!r} is not a module of this network; names are those of "
                f'named_modules() ("" is the whole model), ending with {shown} (see net.Layers).'
            )

    def _static_shape(self, name: str) -> tuple[int | None, ...] | None:
        return None  # a module states no shapes; the first forward pass tells

    def _derived_format(self, name: str, rank: int) -> str | None:
        """A module has no graph to follow, so only two things are known: torch's convolution,
        pooling and normalisation modules return channels-first tensors, and an output of any
        other module with the input's rank is taken in the model's input layout
        (``InputDataFormats``). Any other rank (a transformer's N×tokens×features) needs
        ``OutputDataFormats``."""
        module = self._module if name == ROOT else self._modules[name]
        if isinstance(module, _CHANNELS_FIRST_MODULES):  # a signal's Conv1d keeps its time axis
            return "BC" + ("T" if is_sequence(self._input_format) else "S") * (rank - 2)
        return self._input_format if rank == len(self._input_format) else None

    def _build_engine(self, environment: str) -> Engine:
        device = torch_device(environment)
        module = self._module if device.type == "cpu" else copy.deepcopy(self._module).to(device)
        outputs = [ModuleOutputs(replica, self._output_names) for replica in replicas(module, cpu_workers(device))]
        with torch.inference_mode():
            outputs[0].check(torch.zeros(native_shape(self._input_format, self.InputSize, 1), device=device))
        engine = TorchEngine(outputs, device)
        if batches_correctly(engine, self._input_format, self.InputSize):
            return engine
        warn_unbatchable(self.Name)  # e.g. traced or exported with the batch size fixed at 1
        return TorchEngine(outputs, device, max_batch=1)


def load_module(modelfile: Any) -> tuple[torch.nn.Module, str]:
    """A private inference-mode copy of ``modelfile`` and a name for it.

    ``modelfile`` is an ``nn.Module``, a TorchScript file (``torch.jit.save``; MATLAB's
    traced ``.pt``) or a ``torch.export`` file (``.pt2``). A ``.pt2`` file is checked first to
    hold only tensors and data (:func:`.pt2_archive.check_pt2_archive`); a TorchScript file is a
    program and runs as its author wrote it.
    """
    if isinstance(modelfile, torch.nn.Module):
        module, name = copy.deepcopy(modelfile), type(modelfile).__name__
    elif isinstance(modelfile, (str, os.PathLike)):
        path = Path(modelfile)
        if not path.is_file():
            raise ValueError(f"{_FUNCTION}: modelfile {str(path)!r} does not exist or is not a file.")
        if path.suffix == ".pt2":
            check_pt2_archive(path)  # torch.export.load would unpickle or evaluate what it finds
        try:
            if path.suffix == ".pt2":
                module = torch.export.load(str(path)).module()
            else:
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:  # torch raises RuntimeError, pickle errors, ... for foreign files
            raise ValueError(
                f"{_FUNCTION}: {str(path)!r} is neither a TorchScript file (torch.jit.save) nor an "
                f"exported program (torch.export.save, .pt2) ({type(error).__name__}: {error})."
            ) from error
        name = path.stem
    else:
        raise TypeError(
            f"{_FUNCTION}: modelfile must be a torch.nn.Module or the path of a TorchScript (.pt) or "
            f"exported (.pt2) model; got {type(modelfile).__name__}."
        )
    try:
        module.eval()
    except NotImplementedError:  # exported programs keep the mode they were exported in
        pass
    required = _required_inputs(module)
    if required is not None and len(required) > 1:
        raise ValueError(
            f"{_FUNCTION}: the network must have exactly one image input; this one has {len(required)} "
            f"({', '.join(required)})."
        )
    return module, name


def _required_inputs(module: torch.nn.Module) -> list[str] | None:
    """The inputs ``module``'s forward must be given (those without a default), or None where it
    does not say; checked at import, as importNetworkFromONNX checks a graph's inputs."""
    if isinstance(module, torch.jit.ScriptModule):
        try:
            arguments = module.forward.schema.arguments[1:]  # type: ignore[attr-defined]  # [0] is the module
        except (AttributeError, RuntimeError):
            return None
        return [argument.name for argument in arguments if not argument.has_default_value()]
    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [item.name for item in parameters if item.default is inspect.Parameter.empty and item.kind in kinds]
