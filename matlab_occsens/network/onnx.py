"""Networks imported from ONNX, run by ONNX Runtime (the default and, on CPU, fastest engine)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import onnx

try:
    import onnxruntime as ort
except ModuleNotFoundError as missing:  # the runtime is an extra: [cpu] or [gpu], never both
    raise ImportError(
        'matlab-occsens needs ONNX Runtime: pip install "matlab-occsens[cpu]" '
        '(or "matlab-occsens[gpu]" for onnxruntime-gpu on CUDA).'
    ) from missing

from .base import Engine, Network, native_shape
from .layers import ImageInputLayer
from .onnx_graph import OnnxGraph

__all__ = ["OnnxNetwork", "OrtEngine", "ort_providers"]

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


def ort_providers(environment: str) -> list[str]:
    """The providers to ask ONNX Runtime for; "gpu" fails here when no CUDA provider exists."""
    has_cuda = _CUDA in ort.get_available_providers()
    if environment == "gpu" and not has_cuda:
        raise ValueError(
            'ExecutionEnvironment "gpu": this onnxruntime has no CUDA provider (only '
            f"{', '.join(ort.get_available_providers())}). Install the GPU build with "
            '`pip install "matlab-occsens[gpu]"` (onnxruntime-gpu, in place of onnxruntime).'
        )
    return [_CUDA, _CPU] if has_cuda and environment in ("gpu", "auto") else [_CPU]


class OrtEngine(Engine):
    """One ONNX Runtime session computing the selected outputs."""

    def __init__(
        self,
        model: onnx.ModelProto,
        environment: str,
        max_batch: int | None = None,
        config: dict[str, str] | None = None,
        threads: int | None = None,
    ) -> None:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        for key, value in (config or {}).items():  # ONNX Runtime session config entries
            options.add_session_config_entry(key, value)
        if threads is not None:  # threads per call (default: one per core)
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            model.SerializeToString(), options, providers=ort_providers(environment)
        )
        self.device = "gpu" if self.session.get_providers()[0] == _CUDA else "cpu"
        if environment == "gpu" and self.device != "gpu":
            raise ValueError(
                'ExecutionEnvironment "gpu": onnxruntime has a CUDA provider but could not use it '
                "(no CUDA device visible, or the CUDA/cuDNN libraries failed to load)."
            )
        self.max_batch = max_batch
        self._input = self.session.get_inputs()[0].name
        self._outputs = [output.name for output in self.session.get_outputs()]

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self._outputs, {self._input: batch})


def _batches_correctly(engine: Engine, probe: np.ndarray) -> bool:
    """Whether a batch of two gives the two single-image results (a rewritten batch axis can
    silently break graphs that reshape with a hard-coded batch of 1)."""
    try:
        together = engine.run(probe)
        alone = [engine.run(probe[index : index + 1]) for index in range(len(probe))]
    except Exception:  # the runtime rejects the rewritten graph: it cannot batch
        return False
    for position, output in enumerate(together):
        singles = np.concatenate([result[position] for result in alone])
        if output.shape != singles.shape or not np.allclose(output, singles, rtol=1e-4, atol=1e-5):
            return False
    return True


class OnnxNetwork(Network):
    """A network imported by :func:`importNetworkFromONNX` and run by ONNX Runtime."""

    _function = "importNetworkFromONNX"

    def __init__(
        self,
        graph: OnnxGraph,
        input_layer: ImageInputLayer,
        output_names: Sequence[str] | None = None,
        name: str = "network",
    ) -> None:
        super().__init__(
            input_layer,
            graph.input_format,
            graph.input.name,
            graph.layers,
            graph.graph_outputs,
        )
        self._graph = graph
        self.Name = name
        if output_names is not None:
            self.OutputNames = output_names

    def _check_output_name(self, name: str) -> None:
        self._graph.tensor_name(name)

    def _static_shape(self, name: str) -> tuple[int | None, ...] | None:
        return self._graph.static_shape(name)

    def selected_model(self) -> onnx.ModelProto:
        """A copy of the model computing only the selected outputs, with a symbolic batch axis."""
        return self._graph.selecting(self._output_names, batchable=True)

    def _build_engine(self, environment: str) -> Engine:
        engine = OrtEngine(self._graph.selecting(self._output_names, batchable=True), environment)
        if not self._graph.fixed_batch:
            return engine
        probe = np.random.default_rng(0).standard_normal(
            native_shape(self.InputDataFormats, self.InputSize, 2), dtype=np.float32
        )
        if _batches_correctly(engine, probe):
            return engine
        warnings.warn(
            f"{self.Name}: the graph's batch axis is fixed and it cannot run several images per "
            "call, so every image is a separate call (slower, same values).",
            RuntimeWarning,
            stacklevel=4,
        )
        return OrtEngine(self._graph.selecting(self._output_names, batchable=False), environment, max_batch=1)
