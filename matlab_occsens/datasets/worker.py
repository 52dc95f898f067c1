"""What runs inside a Dask worker: keep to its own cores, build the network once, write maps.

A worker process of the embedded cluster is pinned to its own cores (every thread it has, so the
threads it starts later inherit the pinning); ONNX Runtime then counts those cores only
(``physical_cores`` reads the process's affinity), so K one-core workers on K cores run K compute
threads in all, not K times the machine's core count.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from ..backends.cpu import physical_cores
from .explain import explain_images
from .network import NetworkDescription, built_network
from .sources import ImageEntry
from .store import MapStore

__all__ = ["CorePinning", "pin_process", "run_task"]


def pin_process(cpus: Sequence[int]) -> None:
    """Pin every thread of this process to ``cpus`` (``os.sched_setaffinity(0)`` moves only the caller)."""
    for thread in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(thread), set(cpus))
        except OSError:  # a thread that ended meanwhile
            pass
    physical_cores.cache_clear()


class CorePinning(WorkerPlugin):
    """Pins each worker of the embedded cluster to its share of the cores, by worker name."""

    name = "matlab-occsens-core-pinning"

    def __init__(self, cores: dict[str, list[int]]) -> None:
        self.cores = cores

    def setup(self, worker: Any) -> None:
        cpus = self.cores.get(str(worker.name))
        if cpus and hasattr(os, "sched_setaffinity"):
            pin_process(cpus)


_STORES: dict[str, MapStore] = {}


def run_task(
    description: NetworkDescription,
    store_path: str,
    items: list[tuple[int, ImageEntry, tuple[int, ...] | None]],
    options: dict[str, Any],
) -> list[tuple[int, str | None]]:
    """Compute and store the maps of ``items``; return ``(index, failure reason or None)`` per image."""
    net = built_network(description)
    if store_path not in _STORES:
        _STORES.clear()
        _STORES[store_path] = MapStore(store_path)
    return write_results(_STORES[store_path], explain_images(net, items, options, description.channel_order))


def write_results(store: MapStore, results: Any) -> list[tuple[int, str | None]]:
    """Write each result to ``store`` as it comes (map first, completion record last)."""
    outcome = []
    for result in results:
        if result.failed:
            store.mark_failed(result.index)
        else:
            store.write(result.index, result.scoremap, result.channels, result.predicted, result.score)
        outcome.append((result.index, result.error))
    return outcome
