"""What runs inside a Dask worker: keep to its own cores, build the network once, write maps.

A worker process of the embedded cluster is pinned to its own cores (every thread it has, so the
threads it starts later inherit the pinning); ONNX Runtime then counts those cores only
(``physical_cores`` reads the process's affinity), so K one-core workers on K cores run K compute
threads in all, not K times the machine's core count.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from .._backends.cpu import allowed_cpus, core_of, physical_cores
from ._explain import JobOptions, explain_images
from ._network import NetworkDescription, built_network
from ._sources import ImageEntry
from ._store import MapStore

__all__ = ["CorePinning", "StoreNotVisible", "cpu_share", "host_shares", "pin_process", "run_task", "write_results"]


def pin_process(cpus: Sequence[int]) -> None:
    """Pin every thread of this process to ``cpus`` (``os.sched_setaffinity(0)`` moves only the caller)."""
    for thread in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(thread), set(cpus))
        except OSError:  # a thread that ended meanwhile
            pass
    physical_cores.cache_clear()


def cpu_share(position: int, count: int) -> list[int]:
    """The CPUs of this process's whole physical cores that worker ``position`` of ``count`` on
    this machine takes: a contiguous share when there are enough cores, else one core shared in turn."""
    by_core: dict[object, list[int]] = {}
    for cpu in sorted(allowed_cpus()):
        by_core.setdefault(core_of(cpu) or cpu, []).append(cpu)
    cores = list(by_core.values())
    if count >= len(cores):
        return cores[position % len(cores)]
    return [cpu for index, core in enumerate(cores) if index * count // len(cores) == position for cpu in core]


class CorePinning(WorkerPlugin):
    """Pins each worker to its share of its machine's cores: ``shares`` maps a worker's name to its
    position among the workers of its host and their number (names survive a worker's restart)."""

    name = "matlab-occsens-core-pinning"

    def __init__(self, shares: dict[str, tuple[int, int]]) -> None:
        self.shares = shares

    def setup(self, worker: Any) -> None:
        share = self.shares.get(str(worker.name))
        if share is not None and hasattr(os, "sched_setaffinity"):
            pin_process(cpu_share(*share))


def host_shares(workers: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Each worker's (position, count) among the workers on its host, from the scheduler's worker info."""
    by_host: dict[str, list[str]] = {}
    for info in workers.values():
        by_host.setdefault(str(info.get("host")), []).append(str(info.get("name")))
    return {name: (position, len(names)) for names in by_host.values() for position, name in enumerate(sorted(names))}


_STORES: dict[str, MapStore] = {}


class StoreNotVisible(RuntimeError):
    """A worker cannot see the store (workers need it at the same path as the client)."""


def _store(path: str, job_id: str) -> MapStore:
    """The store at ``path`` (absolute, as the client sends it), opened once per worker and job (a
    store started over is another job: its arrays are opened afresh)."""
    key = f"{path}|{job_id}"
    if key not in _STORES:
        if not os.path.isfile(os.path.join(path, "zarr.json")):
            raise StoreNotVisible(
                f"the worker on {socket.gethostname()} (working folder {os.getcwd()}) cannot see the store "
                f"{path}: every worker must reach --out at the same path as the command (a shared file system)."
            )
        _STORES.clear()
        _STORES[key] = MapStore(path)
    return _STORES[key]


def run_task(
    description: NetworkDescription,
    store_path: str,
    job_id: str,
    items: list[tuple[int, ImageEntry, tuple[int, ...] | None]],
    options: JobOptions,
) -> list[tuple[int, str | None]]:
    """Compute and store the maps of ``items`` for job ``job_id``; return ``(index, failure reason
    or None)`` per image."""
    store = _store(store_path, job_id)
    store.check_job(job_id)
    net = built_network(description)
    return write_results(store, job_id, explain_images(net, items, options, description.channel_order))


def write_results(store: MapStore, job_id: str, results: Any) -> list[tuple[int, str | None]]:
    """Write each result to ``store`` as it comes (map first, completion record last)."""
    outcome = []
    for result in results:
        if result.failed:
            store.mark_failed(job_id, result.index, result.error)
        else:
            store.write(
                job_id, result.index, result.scoremap, result.channels, result.predicted, result.score, result.stamp
            )
        outcome.append((result.index, result.error))
    return outcome
