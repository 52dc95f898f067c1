"""How the embedded cluster starts its worker processes: forked from a server that has already
imported Dask and this package, instead of each spawned as a new interpreter that imports them.

A spawned worker imports Dask (about 0.4 s) and then, when the first object of ours reaches it,
this package (about 0.5 s): on two cores, two workers kept both cores busy for about a second
before their first task. The fork server imports both once, in a process of its own started as
soon as the job knows it will need local workers, so its imports overlap the client's own
start-up; each worker is then a fork of it, ready at once. Where there is no fork server
(Windows), workers are spawned as before.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from typing import Any

__all__ = ["PRELOADED", "start_local_workers_early", "worker_start_method"]

PRELOADED = ("distributed", "matlab_occsens.datasets.worker")
"""What the fork server imports before it forks the first worker: everything a task needs."""


def worker_start_method() -> str:
    """The start method for the embedded cluster's workers (Dask's
    ``distributed.worker.multiprocessing-method``), with the fork server started if it is one.

    A fork server that is already running (this process started one before) is used as it is.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(PRELOADED))
    forkserver.ensure_running()
    return "forkserver"


def start_local_workers_early(workers: int | None, scheduler: str | None, client: Any) -> None:
    """Start the fork server now when the job will start local worker processes (no ``client``,
    no ``scheduler``, ``workers`` not 0), so that it imports while the caller reads the model."""
    if client is None and scheduler is None and workers != 0:
        worker_start_method()
