"""Result files written as one set: after any failure the old set or the new set is there, whole.

A map's files (``.npy``, ``.mat``, overlays) belong together; a full disk or a Ctrl-C between two
writes must not leave a new ``.npy`` beside an old ``.mat``, nor a truncated file where a good one
was. So every file is first written under a temporary name in the same folder and flushed to disk;
only when all are written are they renamed over the old ones (a rename within a folder is atomic),
with the old files kept as backups until the last rename succeeded and Ctrl-C held back meanwhile.
What remains unprotected is the process being killed outright (SIGKILL, power loss) in the
microseconds of the renames.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["check_writable", "replaced_together", "write_together"]


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def check_writable(directory: str | os.PathLike, argument: str) -> Path:
    """Create ``directory`` if needed and prove a file can be written there, before any long work.

    Raises
    ------
    ValueError
        The folder cannot be created or written (read-only, a file in the way, no permission),
        with ``argument`` (the flag or parameter) named in the message.
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise ValueError(f"{argument}: {str(target)!r} is a file, not a folder.")
    probe = target / f".write-check.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        target.mkdir(parents=True, exist_ok=True)
        with open(probe, "xb") as file:
            file.write(b"\0")
            os.fsync(file.fileno())
    except OSError as error:
        raise ValueError(f"{argument}: cannot write in {str(target)!r} ({_reason(error)}).") from error
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)  # on every way out: a full disk fails the write, not the create
    return target


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends, then deliver them (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is not None:  # None: installed outside Python, cannot be put back
            previous[number] = signal.signal(number, lambda caught, frame: received.append(caught))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for caught in received:
            signal.raise_signal(caught)


def _fsync_directory(directory: Path) -> None:
    if os.name == "posix":  # the renames themselves reach the disk
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _restore(target: Path, backup: Path | None) -> None:
    """Put the old file back (or remove a new file that had no old one)."""
    if backup is None:
        target.unlink(missing_ok=True)
    elif target.exists() and os.path.samefile(backup, target):
        backup.unlink()  # the rename never happened; renaming a hard link onto itself would do nothing
    else:
        os.replace(backup, target)


def _commit(pairs: list[tuple[Path, Path]], token: str) -> None:
    """Rename each temporary over its target; on a failed rename put every old file back."""
    done: list[tuple[Path, Path | None]] = []  # (target, backup of the old file or None)
    try:
        for temporary, target in pairs:
            backup = None
            if target.exists():
                backup = target.with_name(f".{target.name}.{token}.old")
                try:
                    os.link(target, backup)  # the old file stays in place meanwhile
                except OSError:
                    os.replace(target, backup)  # a file system without hard links
            done.append((target, backup))
            os.replace(temporary, target)
    except BaseException:
        for target, backup in reversed(done):
            with contextlib.suppress(OSError):
                _restore(target, backup)
        raise
    for _, backup in done:
        if backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()


def _fsync_file(path: Path) -> None:
    with open(path, "r+b") as file:
        os.fsync(file.fileno())


@contextlib.contextmanager
def replaced_together(directory: str | os.PathLike, names: Sequence[str]) -> Iterator[list[Path]]:
    """Temporary paths in ``directory`` for the files ``names``, for a writer that streams them.

    When the block ends without error they are flushed to disk and renamed over ``names`` as one
    set; on any error (the block's or a rename's) they are removed and the folder holds exactly
    the files it held before.
    """
    folder = Path(directory)
    token = f"{os.getpid()}.{uuid.uuid4().hex}"
    pairs = [(folder / f".{name}.{token}.tmp", folder / name) for name in names]
    try:
        yield [temporary for temporary, _ in pairs]
        for temporary, _ in pairs:
            _fsync_file(temporary)
        with _interrupts_held():
            _commit(pairs, token)
    finally:
        for temporary, _ in pairs:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # durability only: the set is already whole
        _fsync_directory(folder)


def write_together(directory: str | os.PathLike, contents: Mapping[str, bytes]) -> list[Path]:
    """Write ``contents`` (file name -> bytes) into ``directory`` as one set; return the paths.

    Raises
    ------
    OSError
        A file could not be written or renamed (its reason in the message); the folder then
        holds exactly the files it held before.
    """
    folder = Path(directory)
    try:
        with replaced_together(folder, list(contents)) as temporaries:
            for temporary, data in zip(temporaries, contents.values()):
                with open(temporary, "xb") as file:
                    file.write(data)
    except OSError as error:
        raise OSError(
            f"cannot write the results in {str(folder)!r} ({_reason(error)}); the files there are unchanged."
        ) from error
    return [folder / name for name in contents]
