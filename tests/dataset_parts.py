"""Real parts for the dataset tests: a whole-image linear network (every map known in closed
form), images, the command as a user runs it, clusters started as a user starts them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from onnx_builders import linear_model

import matlab_occsens

#: Where the package under test lives: subprocesses run the same code as the tests.
PACKAGE_ROOT = Path(matlab_occsens.__file__).resolve().parents[1]
SIZE, CLASSES = 16, 4
RNG = np.random.default_rng(11)
WEIGHTS = RNG.normal(size=(CLASSES, 3, SIZE, SIZE)).astype(np.float32)
BIAS = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
STORE_NAME = "occlusion.zarr"


def write_model(path: Path) -> Path:
    path.write_bytes(linear_model(WEIGHTS, BIAS).SerializeToString())
    return path


def images(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8) for _ in range(count)]


def top_class(X: np.ndarray) -> int:
    """The linear network's top-1 class, computed here in float64."""
    return int(np.argmax(np.einsum("kchw,hwc->k", WEIGHTS.astype(np.float64), X.astype(np.float64)) + BIAS)) + 1


def stored(out: Path):
    """The store in ``out``, read with Zarr (imported here: the datasets extra may be missing)."""
    import zarr

    return zarr.open_group(str(out / STORE_NAME), mode="r")


def completed(out: Path) -> int:
    """Maps complete in the store another process is writing (0 until its arrays exist)."""
    if not (out / STORE_NAME / "status" / "zarr.json").exists():
        return 0
    try:
        return int((stored(out)["status"][:] == 1).sum())
    except Exception:  # a chunk being written this very moment
        return 0


def wait_for(condition, seconds: float = 90, step: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s")
        time.sleep(step)


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}


def command(*words: str, **popen) -> subprocess.Popen:
    """``matlab-occsens WORDS`` as a user runs it, on the code under test."""
    return subprocess.Popen(
        [sys.executable, "-m", "matlab_occsens", *words],
        env=environment(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


@contextlib.contextmanager
def dask_cluster(
    folder: Path,
    *,
    workers: int = 1,
    memory_limit: str | None = None,
    environ: dict[str, str] | None = None,
    prefix: list[str] = (),
) -> Iterator[str]:
    """A ``dask scheduler`` and ``workers`` one-thread ``dask worker`` processes started as a user
    starts them, in ``folder`` (their working folder); yields the scheduler's address. ``prefix``
    runs the worker under another command (``unshare ...``)."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = {**environment(), **(environ or {})}
    address_file = folder / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
        + ["--no-dashboard", "--scheduler-file", str(address_file)],
        cwd=folder,
        env=settings,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        wait_for(lambda: address_file.exists() and address_file.stat().st_size > 0, 60)
        address = json.loads(address_file.read_text())["address"]
        limit = ["--memory-limit", memory_limit] if memory_limit else []
        if workers:
            worker = subprocess.Popen(
                [*prefix, sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", *limit]
                + ["--nworkers", str(workers), "--no-dashboard"],
                cwd=folder,
                env=settings,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        yield address
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
