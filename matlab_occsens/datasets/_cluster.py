"""The embedded cluster: a Dask LocalCluster in a process of its own, on the loopback only.

Why a process of its own, started as ``python cluster.py`` (this file, run by its path):

- Its worker processes are started by ``multiprocessing``, which re-runs the main script of the
  process that starts them in each of them. Started from the caller, a script without an
  ``if __name__ == "__main__":`` guard would start a cluster again inside every worker, and none
  would start ("Nanny failed to start"). This process's main is this file, whose guard is below.
- It runs in a session of its own, so Ctrl-C at a terminal reaches the caller only; the caller
  stops the workers itself, and no worker prints a traceback.
- It ends with the caller however the caller ends: the caller kills its process group when the
  job is over, and should the caller die first, the cluster reads the end of its standard input
  and closes.

Every server it starts (scheduler, nannies, workers, the scheduler's HTTP server) listens on
127.0.0.1 only. Its workers are forked from Python's fork server, which imports Dask and the
package once first (a spawned worker would import both itself: about a second of both cores on
two), where there is one (not on Windows). Their event loops check whether they were blocked
once a second instead of 50 times (only to log it), and Dask's statistical profiler (for a
dashboard) is off: see docs/datasets.md. A task whose worker dies twice is given up (Dask's
``allowed-failures``), and the job records its images as failed.

The top of this file imports the standard library only: the process imports Dask, not the
package, and reaches the caller's modules through the caller's ``sys.path``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

__all__ = ["ClusterProcess", "LOOPBACK", "PRELOADED"]

LOOPBACK = "127.0.0.1"
PRELOADED = ("distributed", "matlab_occsens.datasets._worker")
"""What the fork server imports before it forks the first worker: everything a task needs."""
#: Seconds the cluster process may take to start before the job gives up on it.
START_SECONDS = 120


class ClusterProcess:
    """A running embedded cluster of ``workers`` one-thread worker processes, started at once;
    :meth:`address` waits for it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        settings = {"workers": workers, "sys_path": sys.path}
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C at a terminal reaches the caller only
            text=True,
        )
        self._address: str | None = None

    def address(self) -> str:
        """The scheduler's address once the cluster runs (raises if it could not start)."""
        if self._address is None:
            stdout = self._process.stdout
            assert stdout is not None
            said: list[str] = []  # the cluster prints its address once it runs
            reader = threading.Thread(target=lambda: said.append(stdout.readline()), daemon=True)
            reader.start()
            reader.join(START_SECONDS)
            if not said or not said[0]:
                self.close()
                raise RuntimeError(
                    f"the local Dask cluster did not start within {START_SECONDS} s (exit status "
                    f"{self._process.returncode}; its messages are above)."
                )
            self._address = json.loads(said[0])["address"]
        return self._address

    def close(self) -> None:
        """End the cluster and its workers at once (killed: a worker between two writes leaves the
        store as a crash would, which the store is made for, and an idle one loses nothing)."""
        if self._process.poll() is None:
            _kill_group(self._process.pid)
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def _kill_group(pid: int) -> None:
    """Kill the cluster process and every worker it forked (its session's process group)."""
    if hasattr(os, "killpg"):
        try:
            os.killpg(pid, 9)
        except OSError:
            pass
    else:  # pragma: no cover - Windows: the process only; its workers see their nanny go
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def _start_method() -> str:
    """Start the fork server now, so that its imports run while this process imports Dask."""
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(PRELOADED))
    forkserver.ensure_running()
    return "forkserver"


def _serve(settings: dict[str, Any]) -> None:
    """Run the cluster until the caller closes standard input."""
    method = _start_method()
    import logging

    import dask
    from distributed import LocalCluster

    with dask.config.set(
        {
            "distributed.worker.profile.enabled": False,
            "distributed.admin.tick.interval": "1s",
            "distributed.worker.multiprocessing-method": method,
            "distributed.scheduler.allowed-failures": 1,
        }
    ):
        with LocalCluster(
            n_workers=settings["workers"],
            threads_per_worker=1,
            processes=True,
            host=LOOPBACK,
            dashboard_address=f"{LOOPBACK}:0",
            worker_dashboard_address=None,
            silence_logs=logging.CRITICAL,
        ) as cluster:
            print(json.dumps({"address": cluster.scheduler_address}), flush=True)
            sys.stdin.read()  # until the caller closes it, or dies


if __name__ == "__main__":
    given = json.loads(sys.argv[1])
    sys.path[:] = given["sys_path"]  # the caller's modules, not this file's folder
    try:
        _serve(given)
    except KeyboardInterrupt:
        pass
