"""The client side of a dataset job: create or resume the store, start or reach a Dask cluster,
hand out image indices, follow completions.

The client never touches a map: workers write them into the store, and the client sees only
``(index, failure)`` pairs, so its memory does not depend on the number or size of the maps.
A bounded number of tasks is in flight at a time, which keeps the scheduler small for any number
of images and lets Ctrl-C stop within a task's time.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .._backends.cpu import physical_cores
from .._core.options import FUNCTION
from .channels import ChannelPlan
from .explain import explain_images, job_grid, map_shape
from .network import NetworkDescription, built_network
from .sources import ImageList
from .store import DONE, MapStore, StoreIdentity, json_value
from .worker import CorePinning, host_shares, run_task, write_results
from .worker_start import worker_start_method

__all__ = ["JobSummary", "local_cluster", "run_job"]

#: Forward passes a task should hold at least, so that several small maps share batches (a map at
#: MATLAB's defaults, 122, is a task of its own); tasks stay at least 4 per worker, so that no worker
#: is left with a long last task while the others wait.
_MASKS_PER_TASK = 64


@dataclass
class JobSummary:
    """What a run of :func:`occlusionSensitivityDataset` did.

    Extension: the dataset job has no MATLAB counterpart.

    Parameters
    ----------
    store : Path
        The Zarr store the maps are in (``out/occlusion.zarr``).
    total : int
        Images in the job.
    skipped : int
        Images already complete in the store from an earlier run.
    computed : int
        Images whose maps this run computed.
    failures : dict of int to str
        Image index (0-based) and the reason, for this run's failed images.

    Examples
    --------
    >>> from pathlib import Path
    >>> from matlab_occsens.datasets import JobSummary
    >>> summary = JobSummary(Path("results/occlusion.zarr"), 10, skipped=8, computed=1, failures={4: "not an image"})
    >>> summary.total - summary.skipped - summary.computed == len(summary.failures)
    True
    """

    store: Path
    total: int
    skipped: int
    computed: int = 0
    failures: dict[int, str] = field(default_factory=dict)


@contextmanager
def _client(workers: int, scheduler: str | None, client: Any) -> Iterator[Any]:
    """The given client, one to ``scheduler``, or an embedded LocalCluster of ``workers`` processes."""
    from distributed import Client

    if client is not None:
        yield _pinned(client)
        return
    if scheduler is not None:
        with Client(scheduler) as connected:
            yield _pinned(connected)
        return
    with local_cluster(workers) as local:
        yield _pinned(local)


@contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A client of the job's embedded cluster: a LocalCluster of ``workers`` one-thread worker
    processes, forked from a server that has imported the package (:mod:`.worker_start`), with
    Dask's bookkeeping that only a dashboard would show turned down."""
    import dask
    from distributed import Client, LocalCluster

    settings = dask.config.set(
        {
            # Dask's statistical profiler (for its dashboard, not started here) samples every thread's
            # stack every 10 ms, taking the GIL from the compute thread (docs/datasets.md: up to ~8 %
            # more CPU a map in a worker whose other threads were not pinned with it).
            "distributed.worker.profile.enabled": False,
            # Every event loop checks 50 times a second whether it was blocked, only to log it: half
            # of an idle cluster's CPU (docs/datasets.md).
            "distributed.admin.tick.interval": "1s",
            "distributed.worker.multiprocessing-method": worker_start_method(),
        }
    )
    with (
        settings,
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
        ) as cluster,
        Client(cluster) as local,
    ):
        yield local


def _pinned(client: Any) -> Any:
    """``client`` with each of its workers pinned to its share of its machine's cores, so that the
    runtimes of the workers on one machine start one compute thread per core between them."""
    client.register_plugin(CorePinning(host_shares(client.scheduler_info().get("workers", {}))))
    return client


def _tasks(items: list[Any], per_task: int) -> list[list[Any]]:
    return [items[first : first + per_task] for first in range(0, len(items), per_task)]


def run_job(
    description: NetworkDescription,
    images: ImageList,
    plan: ChannelPlan,
    options: dict[str, Any],
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    restart: bool = False,
    progress: bool = True,
) -> JobSummary:
    """Compute every missing map of ``images`` into the store in ``out``; see
    :func:`~matlab_occsens.datasets.occlusionSensitivityDataset`.

    ``workers=0`` computes in this process, without Dask.
    """
    net = built_network(description)
    shape = map_shape(net, options, plan.width)
    recorded = {
        **options,
        "ImportOptions": description.import_options,
        "OutputNames": net.OutputNames,
        "ChannelOrder": description.channel_order,
    }  # all that changes a map besides the model file
    identity = StoreIdentity(
        images.names, description.sha256, {k: json_value(v) for k, v in recorded.items()}, plan.rule, shape
    )
    store = MapStore.open_for(out, identity, restart)
    todo = np.flatnonzero(store.status() != DONE).tolist()
    summary = JobSummary(store.path, len(images), len(images) - len(todo))
    store.clear_failures(todo)
    if not todo:
        return summary
    count = workers if workers is not None else physical_cores()
    masks = len(job_grid(net, options)[0]) + 1
    per_task = max(1, min(math.ceil(_MASKS_PER_TASK / masks), len(todo) // (4 * max(count, 1))))
    items = [(index, images.entries[index], plan.of(index)) for index in todo]
    bar = tqdm(
        total=len(images),
        initial=summary.skipped,
        unit="image",
        desc=FUNCTION,
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    try:
        if workers == 0 and scheduler is None and client is None:
            for index, error in write_results(store, explain_images(net, items, options, description.channel_order)):
                _count(summary, store, bar, [(index, error)])
        else:
            with _client(count, scheduler, client) as dask_client:
                _follow(dask_client, description, str(store.path), items, options, per_task, summary, store, bar)
    finally:
        bar.close()
    return summary


def _count(summary: JobSummary, store: MapStore, bar: tqdm, outcome: list[tuple[int, str | None]]) -> None:
    failed = {index: error for index, error in outcome if error is not None}
    if failed:
        store.record_failures(failed)
        summary.failures.update(failed)
    summary.computed += len(outcome) - len(failed)
    bar.update(len(outcome))


def _follow(
    client: Any,
    description: NetworkDescription,
    store_path: str,
    items: list[Any],
    options: dict[str, Any],
    per_task: int,
    summary: JobSummary,
    store: MapStore,
    bar: tqdm,
) -> None:
    """Keep a few tasks per worker in flight and count each finished one."""
    from distributed import as_completed

    chunks = iter(_tasks(items, per_task))
    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    shipped = client.scatter(description, broadcast=True) if not isinstance(description.model, str) else description

    def submit(chunk: list[Any]) -> Any:
        return client.submit(run_task, shipped, store_path, chunk, options, pure=False)

    running = as_completed([submit(chunk) for chunk in _take(chunks, 2 * workers)])
    try:
        for future in running:
            _count(summary, store, bar, future.result())
            for chunk in _take(chunks, 1):
                running.add(submit(chunk))
    except BaseException:
        client.cancel(list(running.futures))
        raise


def _take(iterator: Iterator[Any], count: int) -> list[Any]:
    taken = []
    for _ in range(count):
        try:
            taken.append(next(iterator))
        except StopIteration:
            break
    return taken
