"""Running a network with PyTorch, on the CPU or on a CUDA GPU.

On the CPU a batch goes in without a copy (``torch.from_numpy``) and runs under
``torch.inference_mode`` (no autograd records), split across one worker per physical core, each
computing its share of the images with one thread. Splitting the *images* rather than each
operator avoids a barrier per operator: on an idle machine the two are equally fast, but with
intra-op threads a single busy core elsewhere stalls every barrier (measured in
docs/performance.md, "Threads"). A single image runs on one worker.

On a GPU the occluded batches never cross the bus: each job's image and fill go to the device
once, each batch only its covered ranges (through pinned memory, without waiting), the batch is
made there with one ``torch.where`` (:class:`TorchOccluder`), and each batch's output comes
back through pinned memory while the device already computes the next batch.

This module imports torch; the rest of the package imports it only when a torch network is
built, so torch stays an optional extra.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import torch

from .._core.formats import channels_first
from .._stream.job import Batch, OcclusionJob
from .cpu import physical_cores
from .engine import DeviceOccluder, Engine

__all__ = ["CPU_UNIT", "TorchEngine", "TorchOccluder", "cpu_workers", "forward_alone", "replicas", "torch_device"]

Forward = Callable[[torch.Tensor], list[torch.Tensor]]

#: On a CPU every forward pass has exactly this many images, whatever batch the stream hands
#: over: torch's CPU kernels choose their blocking by batch size, so an image computed among
#: another number of images differs in its last bits (EfficientNet-Lite0: up to 1.4e-6), and the
#: batch-size search, which composes batches differently from call to call, would make two
#: identical calls differ. An image's outputs depend on its pass's size, not on the other images
#: in it. Two: eager torch runs no faster per image in larger passes on a CPU, and a pass of two
#: is a little faster than one image alone (measured in docs/performance.md).
CPU_UNIT = 2


def torch_device(environment: str) -> torch.device:
    """The device for "auto", "cpu" or "gpu"; "gpu" without a usable CUDA device says why."""
    usable = torch.cuda.is_available()
    if environment == "gpu" and not usable:
        reason = (
            "this torch build has no CUDA support (a CPU-only wheel)"
            if torch.version.cuda is None
            else "torch finds no CUDA device (no GPU visible, or the driver is missing)"
        )
        raise ValueError(f'ExecutionEnvironment "gpu": {reason}.')
    return torch.device("cuda") if usable and environment in ("gpu", "auto") else torch.device("cpu")


@contextmanager
def _process_settings() -> Iterator[None]:
    """Compute in full FP32 and give the process its own settings back afterwards.

    The workers change torch's intra-op thread count; TF32 convolutions (on by default for
    cuDNN) keep 10 mantissa bits and would move GPU maps by ~1e-3 from the CPU's, where MATLAB
    computes single precision on either.
    """
    threads = torch.get_num_threads()
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def replicas(module: torch.nn.Module, count: int) -> list[torch.nn.Module]:
    """``module`` and ``count - 1`` copies of its structure that share its weights and buffers,
    so that workers can run (and hook) their own copy at the cost of no extra weights."""
    shared = {id(tensor): tensor for tensor in [*module.parameters(), *module.buffers()]}
    return [module, *(copy.deepcopy(module, dict(shared)) for _ in range(count - 1))]


class TorchOccluder(DeviceOccluder):
    """Makes a stream's occluded batches on the device from each job's image and fill and the
    batch's covered ranges (:meth:`OcclusionJob.covered`).

    ``masked[n, i, j, ...]`` holds where ``ranges[n, a, 0] <= index < ranges[n, a, 1]`` on every
    spatial axis ``a`` (for an image, ``rows[n, 0] <= h < rows[n, 1]`` and the same for columns),
    and the batch is ``where(masked, fill, base)`` over all channels, with each slot's own job's
    image and fill: the same values the host builds.
    """

    def __init__(self, engine: TorchEngine, input_format: str) -> None:
        self._engine = engine
        self._device = engine.torch_device
        self._channels_first = channels_first(input_format)
        self._images: dict[OcclusionJob, tuple[torch.Tensor, torch.Tensor]] = {}
        self._indices: dict[int, torch.Tensor] = {}  # arange(size) on the device, per size

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        """A device copy of ``array`` (the host's array is left alone); on CUDA through pinned
        memory without waiting, so the device is not held up by the copy."""
        if self._device.type == "cuda":
            return torch.from_numpy(np.ascontiguousarray(array)).pin_memory().to(self._device, non_blocking=True)
        return torch.tensor(array, device=self._device)

    def batch(self, batch: Batch) -> torch.Tensor:
        """The images of ``batch``, batch first, in the jobs' layout."""
        jobs = batch.jobs
        kept = {  # jobs compare by identity
            job: self._images[job] if job in self._images else (self._to_device(job.base), self._to_device(job.fill))
            for job in jobs
        }
        self._images = kept  # a job leaves once a batch no longer holds its images
        ranges = self._to_device(batch.ranges)
        if len(jobs) == 1:
            base, fill = kept[jobs[0]]
        else:
            owners = self._to_device(batch.owners)
            base = torch.cat([kept[job][0] for job in jobs])[owners]
            fill = torch.cat([kept[job][1] for job in jobs])[owners]
        first_spatial = 2 if self._channels_first else 1  # the batch axis, then the channels or not
        masked: torch.Tensor | None = None
        for axis in range(ranges.shape[1]):
            size = base.shape[first_spatial + axis]
            index = self._index(size)
            inside = (ranges[:, axis, 0:1] <= index) & (index < ranges[:, axis, 1:2])  # (n, size)
            shape = [len(ranges)] + [1] * (base.dim() - 1)
            shape[first_spatial + axis] = size
            inside = inside.view(shape)
            masked = inside if masked is None else masked & inside
        assert masked is not None  # every grid has at least one axis
        return torch.where(masked, fill, base)

    def _index(self, size: int) -> torch.Tensor:
        if size not in self._indices:
            self._indices[size] = torch.arange(size, device=self._device)
        return self._indices[size]

    def start(self, batch: Batch) -> Callable[[], np.ndarray]:
        with torch.inference_mode():
            # Queued behind the previous batch's copy: the device never waits for the host.
            return _HostCopy(self._engine.outputs(self.batch(batch))[0]).result


class _HostCopy:
    """A device tensor on its way to host memory: into pinned memory, without waiting, on CUDA."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self._done: torch.cuda.Event | None = None
        if tensor.device.type == "cuda":
            self._host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
            self._host.copy_(tensor, non_blocking=True)
            self._done = torch.cuda.Event()
            self._done.record()
        else:
            self._host = tensor

    def result(self) -> np.ndarray:
        if self._done is not None:
            self._done.synchronize()
        return self._host.numpy()


class TorchEngine(Engine):
    """Torch callables mapping an input batch to the selected outputs, on one device.

    ``forwards`` holds one callable per CPU worker (each with its own module replica, see
    :func:`replicas`), or a single one on a GPU.
    """

    def __init__(
        self,
        forwards: Sequence[Forward],
        device: torch.device,
        max_batch: int | None = None,
        *,
        occlude_on_device: bool | None = None,
    ) -> None:
        self._forwards = list(forwards)
        self.torch_device = device
        self.device = "gpu" if device.type == "cuda" else "cpu"
        self.max_batch = max_batch
        self._occlude_on_device = device.type == "cuda" if occlude_on_device is None else occlude_on_device
        self.workers = len(self._forwards)
        self._pool = ThreadPoolExecutor(self.workers, "occsens-torch") if self.workers > 1 else None
        if self._pool is not None:  # the workers end with the engine (a finalizer holds no engine)
            weakref.finalize(self, self._pool.shutdown, wait=False)

    def outputs(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """The selected outputs of a device batch, as device tensors."""
        with _process_settings():
            if batch.device.type != "cpu":
                return forward_alone(self._forwards[0], batch)
            unit = min(CPU_UNIT, self.max_batch or CPU_UNIT)
            units = -(-len(batch) // unit)
            workers = min(self.workers, units)
            if workers == 1 or self._pool is None:
                return forward_alone(self._forwards[0], batch, unit)
            # Each worker takes whole units, so no unit is cut between two workers.
            cuts = [unit * (units * worker // workers) for worker in range(1, workers)]
            shares = batch.tensor_split(cuts)
            parts = list(self._pool.map(forward_alone, self._forwards, shares, [unit] * workers))
        return [torch.cat(pieces) for pieces in zip(*parts)]

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        outputs = self.outputs(torch.from_numpy(batch).to(self.torch_device))
        return [output.cpu().numpy() for output in outputs]

    def device_occluder(self, input_format: str) -> DeviceOccluder | None:
        return TorchOccluder(self, input_format) if self._occlude_on_device else None


def forward_alone(forward: Forward, batch: torch.Tensor, unit: int | None = None) -> list[torch.Tensor]:
    """One worker's share, on one thread on a CPU (inference mode is per thread, so entered here),
    in forward passes of exactly ``unit`` images (the last one padded with copies of the share's
    last image, whose outputs are dropped). A GPU's work does not use the thread count, and
    changing it every batch costs time."""
    if batch.device.type == "cpu":
        torch.set_num_threads(1)
    with torch.inference_mode():
        if unit is None:
            return forward(batch)
        pieces = []
        for start in range(0, len(batch), unit):
            images = batch[start : start + unit]
            real = len(images)
            if real < unit:
                images = torch.cat([images, images[-1:].expand(unit - real, *images.shape[1:])])
            pieces.append([output[:real] for output in forward(images)])
        return [torch.cat(outputs) for outputs in zip(*pieces)]


def cpu_workers(device: torch.device) -> int:
    """Workers for an engine on ``device``: one per physical core on the CPU, one on a GPU."""
    return physical_cores() if device.type == "cpu" else 1
