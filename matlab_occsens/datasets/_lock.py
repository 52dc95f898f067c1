"""One writer per store: a lock file beside it, taken before any write and given back on every way out.

Two runs writing one store would mix their maps (a ``--restart`` with other options started while
a first run writes leaves maps of both under one record). So a run that writes takes
``<DIR>/occlusion.zarr.lock`` first: a file naming its host, process id, the start time of that
process and its command line, created whole in one step (written under a temporary name, then
hard-linked to the lock's name, which fails if the lock exists). Another run finding it refuses,
naming the run that holds it. A lock whose process is gone (killed, the machine restarted) is
stale: on the same host that is checked (the process id is not running, or now belongs to a
process started at another time) and the lock is taken over; on another host it cannot be, and
the refusal says how to remove it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

__all__ = ["StoreBusy", "store_lock"]

LOCK_NAME = "occlusion.zarr.lock"


class StoreBusy(RuntimeError):
    """Another run writes the store."""


def _process_start(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def _command_line() -> str:
    try:
        return shlex.join(psutil.Process().cmdline())
    except (psutil.Error, OSError):
        return shlex.join(sys.argv)


def _owner() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "process_start": _process_start(os.getpid()),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": _command_line(),
        "token": uuid.uuid4().hex,
    }


def _read(path: Path) -> dict[str, Any] | None:
    """The lock's record, or None when it is gone or unreadable."""
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _is_stale(record: dict[str, Any]) -> bool:
    """Whether the lock's process is certainly gone (only knowable on its own host)."""
    if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
        return False
    started = _process_start(record["pid"])
    if started is None:
        return True
    recorded = record.get("process_start")
    return isinstance(recorded, (int, float)) and abs(started - recorded) > 1.0  # the id was reused


def _holder(record: dict[str, Any] | None, path: Path) -> str:
    if record is None:
        return f"another run (its lock {path} is unreadable)"
    return (
        f"process {record.get('pid')} on {record.get('host')} since {record.get('started')} ({record.get('command')!r})"
    )


def _create(path: Path, record: dict[str, Any]) -> bool:
    """Create the lock whole with ``record``; False if it exists."""
    temporary = path.with_name(f".{path.name}.{record['token']}.tmp")
    try:
        with open(temporary, "x") as file:
            json.dump(record, file)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _take_over(path: Path, stale: dict[str, Any]) -> None:
    """Move a stale lock out of the way, unless another run replaced it meanwhile (then put back)."""
    moved = path.with_name(f".{path.name}.{uuid.uuid4().hex}.stale")
    try:
        os.rename(path, moved)
    except FileNotFoundError:
        return  # another run took it over first
    if _read(moved) == stale:
        moved.unlink()
    else:  # a live lock was moved: put it back (the link fails only if yet another run holds the name)
        with contextlib.suppress(OSError):
            os.link(moved, path)
        moved.unlink()


@contextlib.contextmanager
def store_lock(directory: Path, notes: list[str] | None = None) -> Iterator[None]:
    """Hold the lock of the store in ``directory`` while the block runs.

    Raises
    ------
    StoreBusy
        Another run holds it, named in the message.
    OSError
        The lock cannot be written (a read-only or full disk), with the folder named.
    """
    path = directory / LOCK_NAME
    record = _owner()
    for _ in range(10):
        try:
            taken = _create(path, record)
        except OSError as error:
            raise OSError(error.errno, f"cannot write the store's lock in {directory} ({error.strerror})") from error
        if taken:
            break
        held = _read(path)
        if held is not None and _is_stale(held):
            if notes is not None:
                notes.append(f"took over the lock of {_holder(held, path)}, which is no longer running")
            _take_over(path, held)
            continue
        if held is None and not path.exists():
            continue  # given back meanwhile
        remedy = (
            ""
            if held is not None and held.get("host") == socket.gethostname()
            else (f"; if it is no longer running, delete {path}")
        )
        raise StoreBusy(
            f"{directory / 'occlusion.zarr'} is being written by {_holder(held, path)}; wait for it to end{remedy}."
        )
    else:
        raise StoreBusy(f"could not take the lock {path}: other runs keep taking it.")
    try:
        yield
    finally:
        if (_read(path) or {}).get("token") == record["token"]:
            with contextlib.suppress(OSError):
                path.unlink()
