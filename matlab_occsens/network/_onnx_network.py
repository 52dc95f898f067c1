"""Networks imported from ONNX, run by ONNX Runtime (the default and, on CPU, fastest engine)."""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from .._backends.engine import Engine, batches_correctly
from .._backends.ort import OrtEngine
from ._base import Network, warn_unbatchable
from ._layers import ImageInputLayer
from ._onnx_graph import OnnxGraph

__all__ = ["BACKENDS", "OnnxNetwork"]

BACKENDS = ("onnxruntime", "torch")


class OnnxNetwork(Network):
    """A network imported by :func:`importNetworkFromONNX`, run by ONNX Runtime or by torch
    (through onnx2torch); both backends compute the same selected tensors.

    A :class:`Network` whose ``Layers`` list the graph's nodes; ``Backend`` says which runtime
    computes it. Not built directly.

    MATLAB equivalent: the ``dlnetwork`` that MATLAB's ``importNetworkFromONNX`` returns;
    ``Backend`` is an extension.

    Parameters
    ----------
    graph : OnnxGraph
        The checked ONNX graph.
    input_layer : ImageInputLayer
        The input layer: size and normalisation.
    output_names : sequence of str, optional
        The outputs to select; default the graph's outputs.
    name : str, default "network"
        ``Name``: the file's stem.
    backend : {"onnxruntime", "torch"}, default "onnxruntime"
        The runtime that computes the forward passes.

    See Also
    --------
    importNetworkFromONNX

    Examples
    --------
    >>> from matlab_occsens import importNetworkFromONNX
    >>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
    >>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
    >>> type(net).__name__, net.Backend, net.OutputDataFormats
    ('OnnxNetwork', 'onnxruntime', ['BC'])
    """

    _function = "importNetworkFromONNX"

    def __init__(
        self,
        graph: OnnxGraph,
        input_layer: ImageInputLayer,
        output_names: Sequence[str] | None = None,
        name: str = "network",
        backend: str = "onnxruntime",
    ) -> None:
        super().__init__(
            input_layer,
            graph.input_format,
            graph.input.name,
            graph.layers,
            graph.graph_outputs,
        )
        self._graph = graph
        self._backend = backend
        self.Name = name
        if output_names is not None:
            self.OutputNames = output_names

    @property
    def Backend(self) -> str:
        """Extension: "onnxruntime" or "torch", the runtime that computes the forward passes."""
        return self._backend

    def _check_output_name(self, name: str) -> None:
        self._graph.tensor_name(name)

    def _static_shape(self, name: str) -> tuple[int | None, ...] | None:
        return self._graph.static_shape(name)

    def _derived_format(self, name: str, rank: int) -> str | None:
        return self._graph.layout(name, rank)

    def _format_lost_at(self, name: str) -> str | None:
        return self._graph.layout_lost_at(name)

    def selected_model(self) -> onnx.ModelProto:
        """A copy of the model computing only the selected outputs, with a symbolic batch axis."""
        return self._graph.selecting(self._output_names, batchable=True)

    def _build_engine(self, environment: str) -> Engine:
        engine = self._compile(environment, batchable=True)
        if not self._graph.fixed_batch:
            return engine
        if batches_correctly(engine, self.InputDataFormats, self.InputSize):
            return engine
        warn_unbatchable(self.Name)
        return self._compile(environment, batchable=False)

    def _compile(self, environment: str, batchable: bool) -> Engine:
        model = self._graph.selecting(self._output_names, batchable=batchable)
        max_batch = None if batchable else 1
        if self._backend == "torch":
            from .._backends.onnx2torch_engine import onnx_torch_engine  # torch is an optional extra

            return onnx_torch_engine(model, environment, max_batch)
        return OrtEngine(model, environment, max_batch, input_size=self.InputSize)
