"""ONNX Runtime as a backend: session settings, providers, and the engine that runs a stream's
batches through one session (on a GPU, with the occluded batches made on the device)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx

from .._utils.install import install_command, pip_command

try:
    import onnxruntime as ort
except ModuleNotFoundError as missing:  # the runtime is an extra: [cpu] or [gpu], never both
    raise ImportError(
        f"matlab-occsens needs ONNX Runtime: {install_command('cpu')} "
        f"(or {install_command('gpu')} for onnxruntime-gpu on CUDA)."
    ) from missing

from .._stream.job import Batch, OcclusionJob
from .cpu import physical_cores
from .engine import DeviceOccluder, Engine
from .ort_device import BASE, FILL, MIN_OPSET, OWNERS, RANGES, occluding_model, onnx_opset
from .ort_errors import out_of_memory_said

__all__ = ["OrtEngine", "ort_providers", "session_options"]

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


#: TF32 convolutions keep 10 mantissa bits: maps would move by ~1e-3 between CPU and GPU.
#: MATLAB computes single precision on the GPU, so the CUDA provider is asked for full FP32.
_CUDA_OPTIONS = {"use_tf32": "0"}


def ort_providers(environment: str) -> list[str | tuple[str, dict[str, str]]]:
    """The providers to ask ONNX Runtime for; "gpu" fails here when no CUDA provider exists."""
    has_cuda = _CUDA in ort.get_available_providers()
    if environment == "gpu" and not has_cuda:
        raise ValueError(
            'ExecutionEnvironment "gpu": this onnxruntime has no CUDA provider (only '
            f"{', '.join(ort.get_available_providers())}). Install the GPU build (onnxruntime-gpu) in place of "
            f"onnxruntime: "
            f"{pip_command('uninstall', '-y', 'onnxruntime')} && {install_command('gpu')}"
        )
    return [(_CUDA, _CUDA_OPTIONS), _CPU] if has_cuda and environment in ("gpu", "auto") else [_CPU]


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Settings for streaming many same-sized batches through one session (measured in
    docs/performance.md; most match ONNX Runtime's defaults, which are set here on purpose).

    ``threads`` (default: one per physical core) is 1 for the incremental path's sessions, which
    run one per core side by side; spinning is then pointless and is turned off."""
    options = ort.SessionOptions()
    # Constant folding, Conv+BatchNorm+activation fusion and, on CPU, the blocked NCHWc layout.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Image networks are chains of operators: a parallel executor would only add scheduling.
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = physical_cores() if threads is None else threads
    # Workers spin between the ~100 short operators of a small batch instead of sleeping and
    # waking (faster at small batches: docs/performance.md, "Threads").
    spinning = "1" if options.intra_op_num_threads > 1 else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
    # Every batch of a map has the same shape: plan the activations' memory once and reuse it
    # from the arena, instead of asking the system allocator for each operator of each batch.
    options.enable_mem_pattern = True
    options.enable_cpu_mem_arena = True
    options.log_severity_level = 3
    return options


class OrtEngine(Engine):
    """One ONNX Runtime session computing the selected outputs.

    On a GPU the occluded batches are made by the device itself (:mod:`.ort_device`) in a
    second session, bound to the device with I/O binding.
    """

    def __init__(
        self,
        model: onnx.ModelProto,
        environment: str,
        max_batch: int | None = None,
        *,
        input_size: tuple[int, ...] | None = None,
        occlude_on_device: bool | None = None,
        threads: int | None = None,
    ) -> None:
        self._providers = ort_providers(environment)
        self.session = ort.InferenceSession(
            model.SerializeToString(), session_options(threads), providers=self._providers
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
        wanted = self.device == "gpu" if occlude_on_device is None else occlude_on_device
        self._occluding_source = model if wanted and input_size is not None and onnx_opset(model) >= MIN_OPSET else None
        self._input_size = input_size
        self._occluders: dict[str, _OrtOccluder] = {}
        self._release = False

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        with out_of_memory_said(len(batch)):
            return self.session.run(self._outputs, {self._input: batch})

    def run_streamed(self, batch: np.ndarray) -> np.ndarray:
        options = None
        if self._release:
            # The arena keeps what the largest batch needed; a run with shrinkage on hands what
            # this size does not need back to the system.
            self._release = False
            options = ort.RunOptions()
            options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        with out_of_memory_said(len(batch)):
            return self.session.run(self._outputs, {self._input: batch}, options)[0]

    def release_memory(self) -> None:
        self._release = True

    def device_occluder(self, input_format: str) -> DeviceOccluder | None:
        if self._occluding_source is None or self._input_size is None:
            return None
        if input_format not in self._occluders:
            model = occluding_model(self._occluding_source, self._input, input_format, self._input_size)
            session = ort.InferenceSession(model.SerializeToString(), session_options(), providers=self._providers)
            self._occluders[input_format] = _OrtOccluder(session, self._outputs[0], self.device)
        return self._occluders[input_format]


class _OrtOccluder(DeviceOccluder):
    """The occluding prefix's session: each job's image and fill go to the device once (while
    the job is in the stream), each batch only its covered ranges and slot owners."""

    def __init__(self, session: ort.InferenceSession, output: str, device: str) -> None:
        self._session = session
        self._output = output
        self._device = "cuda" if device == "gpu" else "cpu"
        self._images: dict[OcclusionJob, tuple[ort.OrtValue, ort.OrtValue]] = {}

    def _on_device(self, batch: Batch) -> tuple[ort.OrtValue, ort.OrtValue]:
        """The batch's jobs' images and fills as device values ([jobs, ...] each)."""
        jobs = batch.jobs
        kept = {  # jobs compare by identity
            job: self._images[job] if job in self._images else (self._value(job.base), self._value(job.fill))
            for job in jobs
        }
        self._images = kept  # a job leaves once a batch no longer holds its images
        if len(jobs) == 1:
            return kept[jobs[0]]
        stack = [np.concatenate([job.base for job in jobs]), np.concatenate([job.fill for job in jobs])]
        return self._value(stack[0]), self._value(stack[1])

    def _value(self, images: np.ndarray) -> ort.OrtValue:
        return ort.OrtValue.ortvalue_from_numpy(images, self._device, 0)

    def start(self, batch: Batch) -> Callable[[], np.ndarray]:
        base, fill = self._on_device(batch)
        binding = self._session.io_binding()
        binding.bind_ortvalue_input(BASE, base)
        binding.bind_ortvalue_input(FILL, fill)
        binding.bind_cpu_input(OWNERS, batch.owners)
        binding.bind_cpu_input(RANGES, np.ascontiguousarray(batch.ranges))
        binding.bind_output(self._output)
        with out_of_memory_said(len(batch)):
            self._session.run_with_iobinding(binding)
        output = binding.copy_outputs_to_cpu()[0]
        return lambda: output
