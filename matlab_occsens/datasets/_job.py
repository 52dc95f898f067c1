"""The client side of a dataset job: check or create the store, hold its lock, start or reach a
Dask cluster, hand out image indices, follow completions.

The client never touches a map: workers write them into the store, and the client sees only
``(index, failure)`` pairs, so its memory does not depend on the number or size of the maps.
A bounded number of tasks is in flight at a time, which keeps the scheduler small for any number
of images and lets Ctrl-C stop within a task's time. A rerun that finds every image complete
(and every chunk sound, see :mod:`.resume`) writes nothing, not even the lock, so a complete
store on a read-only disk can be resumed; any other run takes the store's lock (:mod:`.lock`)
before its first write and gives it back on every way out.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .._backends.cpu import physical_cores
from .._core.options import FUNCTION
from ._channels import ChannelPlan
from ._cluster import ClusterProcess
from ._explain import JobOptions, explain_images, map_shape
from ._kinds import job_kind
from ._lock import store_lock
from ._network import NetworkDescription, built_network
from ._resume import resume_plan
from ._sources import ImageList
from ._store import DONE, STORE_NAME, MapStore, StoreIdentity, check_place, json_value
from ._worker import CorePinning, host_shares, run_task, write_results

__all__ = ["JobSummary", "check_workers", "local_cluster", "run_job"]

#: Forward passes a task should hold at least, so that several small maps share batches (a map at
#: MATLAB's defaults, 122, is a task of its own); tasks stay at least 4 per worker, so that no worker
#: is left with a long last task while the others wait.
_MASKS_PER_TASK = 64


#: Seconds to wait for a scheduler named by its address to answer, and then for one of its workers.
CONNECT_SECONDS = 10
WORKERS_SECONDS = 20


@dataclass
class JobSummary:
    """What a run of :func:`occlusionSensitivityDataset` did. Images are numbered from 0, as the
    store's arrays number them.

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
    damaged : dict of int to str
        Images complete in the store whose stored chunks were damaged, and what was wrong; this run
        computed them again.
    changed : list of int
        Images complete in the store whose file changed since; this run computed them again.
    notes : list of str
        What else the run had to do (take over a stale lock).

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
    damaged: dict[int, str] = field(default_factory=dict)
    changed: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_workers(workers: Any) -> int | None:
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"{FUNCTION}: workers must be 0 (this process) or more worker processes; got {workers!r}.")
    return workers


@contextmanager
def _client(workers: int, scheduler: str | None, client: Any, cluster: ClusterProcess | None) -> Iterator[Any]:
    """The given client, one to ``scheduler``, or the client of an embedded cluster of ``workers``."""
    if client is not None:
        yield _pinned(client)
        return
    if scheduler is not None:
        with _connected(scheduler) as connected:
            yield _pinned(connected)
        return
    with local_cluster(workers, cluster) as local:
        yield _pinned(local)


async def _identity(address: str) -> dict[str, Any]:
    """What the server at ``address`` says it is, asked as Dask's servers ask each other."""
    from distributed.comm import connect

    comm = await asyncio.wait_for(connect(address, timeout=CONNECT_SECONDS), CONNECT_SECONDS)
    try:
        await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), CONNECT_SECONDS)
        answer = await asyncio.wait_for(comm.read(), CONNECT_SECONDS)
    finally:
        comm.abort()
    return answer if isinstance(answer, dict) else {}


def _check_scheduler(scheduler: str) -> None:
    """Refuse, within :data:`CONNECT_SECONDS`, an address where no Dask scheduler answers (Dask's own
    client would wait for ever on a server that accepts the connection and never answers it)."""
    try:  # in a thread of its own: the caller may run an event loop already (a notebook)
        with ThreadPoolExecutor(1) as thread:
            kind = thread.submit(asyncio.run, _identity(scheduler)).result().get("type")
        reason = f"the server there is a Dask {kind}, not a scheduler" if kind != "Scheduler" else None
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        reason = " ".join(str(error).split()) or f"it did not answer within {CONNECT_SECONDS} s"
    if reason is not None:
        raise ValueError(
            f"scheduler {scheduler!r}: no Dask scheduler answered there ({reason}); give the address "
            f"`dask scheduler` prints, such as tcp://host:8786."
        )


@contextmanager
def _connected(scheduler: str) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler`` that has a worker, or a clear error within seconds."""
    from distributed import Client

    _check_scheduler(scheduler)
    connected = Client(scheduler, timeout=CONNECT_SECONDS)
    try:
        try:
            connected.wait_for_workers(1, timeout=WORKERS_SECONDS)
        except TimeoutError:
            raise ValueError(
                f"scheduler {scheduler!r} has no workers (none joined within {WORKERS_SECONDS} s); start them with "
                f"`dask worker {scheduler} --nthreads 1`."
            ) from None
        yield connected
    finally:
        connected.close(timeout=CONNECT_SECONDS)


@contextmanager
def local_cluster(workers: int, started: ClusterProcess | None = None) -> Iterator[Any]:
    """A client of the job's embedded cluster of ``workers`` one-thread worker processes
    (:mod:`.cluster`): ``started`` if it has that many, else one started now. The cluster ends on
    every way out."""
    from distributed import Client

    if started is not None and started.workers != workers:
        started.close()
        started = None
    cluster = started if started is not None else ClusterProcess(workers)
    try:
        with Client(cluster.address(), timeout=CONNECT_SECONDS) as local:
            yield local
    finally:
        cluster.close()


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
    options: JobOptions,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    restart: bool = False,
    progress: bool = True,
    cluster: ClusterProcess | None = None,
) -> JobSummary:
    """Compute every missing map of ``images`` into the store in ``out``; see
    :func:`~matlab_occsens.datasets.occlusionSensitivityDataset`.

    ``workers=0`` computes in this process, without Dask; ``cluster`` is an embedded cluster
    started early (:class:`.cluster.ClusterProcess`), used when the job starts local workers.
    """
    net = built_network(description)
    shape = map_shape(net, options, plan.width)
    recorded = {
        **options.given,
        "ImportOptions": description.import_options,
        "OutputNames": net.OutputNames,
        "ChannelOrder": description.channel_order,
    }  # all that changes a map besides the model file
    options_record = {k: json_value(v) for k, v in recorded.items()}
    identity = StoreIdentity(images.names, description.sha256, options_record, plan.rule, shape, job_kind(net))
    directory = Path(out).resolve()  # absolute: a worker would resolve a relative path in its own folder
    path = directory / STORE_NAME
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--out {str(directory)!r} is a file, not a folder.")
    check_place(path)
    if not restart and path.exists():  # read only: a complete store is left untouched
        existing = MapStore.open_checked(path, identity)
        if _all_done(existing) and not resume_plan(existing, images.entries).todo:
            return JobSummary(path, len(images), len(images))
    directory.mkdir(parents=True, exist_ok=True)
    summary = JobSummary(path, len(images), 0)
    with store_lock(directory, summary.notes):
        if restart or not path.exists():
            store = MapStore.create(path, identity)
        else:
            store = MapStore.open_checked(path, identity, mode="r+")
        resume = resume_plan(store, images.entries)
        summary.skipped = len(images) - len(resume.todo)
        summary.damaged, summary.changed = resume.damaged, resume.changed
        if resume.todo:
            _compute(
                description,
                images,
                plan,
                options,
                store,
                resume.todo,
                summary,
                workers,
                scheduler,
                client,
                cluster,
                progress,
            )
    return summary


def _all_done(store: MapStore) -> bool:
    """Whether every completion record says done (the full check of :func:`.resume_plan` follows)."""
    try:
        return bool(np.all(store.status() == DONE))
    except Exception:  # a damaged record: the full check names it
        return True


def _compute(
    description: NetworkDescription,
    images: ImageList,
    plan: ChannelPlan,
    options: JobOptions,
    store: MapStore,
    todo: list[int],
    summary: JobSummary,
    workers: int | None,
    scheduler: str | None,
    client: Any,
    cluster: ClusterProcess | None,
    progress: bool,
) -> None:
    count = workers if workers is not None else physical_cores()
    per_task = max(1, min(math.ceil(_MASKS_PER_TASK / (options.masks + 1)), len(todo) // (4 * max(count, 1))))
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
            net = built_network(description)
            results = explain_images(net, items, options, description.channel_order)
            for outcome in write_results(store, store.job_id, results):
                _count(summary, bar, [outcome])
        else:
            with _client(count, scheduler, client, cluster) as dask_client:
                _follow(dask_client, description, store, items, options, per_task, summary, bar)
    finally:
        bar.close()


def _count(summary: JobSummary, bar: tqdm, outcome: list[tuple[int, str | None]]) -> None:
    failed = {index: error for index, error in outcome if error is not None}
    summary.failures.update(failed)
    summary.computed += len(outcome) - len(failed)
    bar.update(len(outcome))


def _attempts(client: Any) -> str:
    """How often the scheduler runs a task whose worker dies before giving it up, in words."""
    import dask

    try:
        allowed = int(client.run_on_scheduler(dask.config.get, "distributed.scheduler.allowed-failures"))
    except Exception:
        return "every time it was tried"
    return {0: "once", 1: "twice"}.get(allowed, f"{allowed + 1} times")


def _follow(
    client: Any,
    description: NetworkDescription,
    store: MapStore,
    items: list[Any],
    options: JobOptions,
    per_task: int,
    summary: JobSummary,
    bar: tqdm,
) -> None:
    """Keep a few tasks per worker in flight and count each finished one.

    A task whose workers keep dying (Dask gives it up: ``KilledWorker``) is split into one task per
    image. Dask also gives up the tasks that merely waited on a dying worker, so an image whose own
    task is given up is tried once more at the end, alone on the cluster: if its worker dies then,
    the image is recorded as failed. One image that kills its worker (out of memory while decoding,
    say) does not stop the others.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    chunks = iter(_tasks(items, per_task))
    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    shipped = client.scatter(description, broadcast=True) if not isinstance(description.model, str) else description
    job_id, held, suspects, submitted = store.job_id, {}, [], []

    def submit(chunk: list[Any]) -> Any:
        future = client.submit(run_task, shipped, str(store.path), job_id, chunk, options, pure=False)
        held[future.key] = chunk
        submitted.append(future)
        return future

    running = as_completed([submit(chunk) for chunk in _take(chunks, 2 * workers)])
    try:
        for future in running:
            chunk = held.pop(future.key)
            try:
                _count(summary, bar, future.result())
            except KilledWorker:
                for item in chunk if len(chunk) > 1 else []:
                    running.add(submit([item]))
                suspects += [chunk] if len(chunk) == 1 else []
            for next_chunk in _take(chunks, 1):  # a finished task, or one given up, frees its place
                running.add(submit(next_chunk))
        for chunk in suspects:  # alone now: a worker that dies was killed by this image
            try:
                outcome = submit(chunk).result()
            except KilledWorker:
                ((index, _, _),) = chunk
                reason = f"its worker died while computing it, {_attempts(client)} (out of memory?)"
                store.mark_failed(job_id, index, reason)
                outcome = [(index, reason)]
            _count(summary, bar, outcome)
    except BaseException:
        client.cancel([future for future in running.futures])
        for future in submitted:  # while the client runs: a future freed after it closed says so on stderr
            future.release()
        raise


def _take(iterator: Iterator[Any], count: int) -> list[Any]:
    taken = []
    for _ in range(count):
        try:
            taken.append(next(iterator))
        except StopIteration:
            break
    return taken
