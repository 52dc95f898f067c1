"""What a worker needs to build the network itself: a small description, never a session.

A description names the model (a file path, the file's bytes, or a network object without any
compiled engine) and how it was imported. A worker builds it once and keeps it for every later
task, so sessions, batch-size searches and incremental plans are paid once per worker, not per
task. Its SHA-256 identifies the model in the store, so a rerun with another model is refused.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._utils.checks import shown
from ..network import Network, importNetworkFromONNX

__all__ = ["NetworkDescription", "describe_network", "built_network"]


@dataclass(frozen=True)
class NetworkDescription:
    """A network as a task carries it."""

    model: str | bytes | Network
    """An ONNX file path (read by the worker: shared file systems), its bytes, or a network object
    without engines (Dask pickles it like any object)."""
    sha256: str
    """SHA-256 of the model file (or bytes, or pickled network object)."""
    import_options: dict[str, Any] = field(default_factory=dict)
    """Options for :func:`importNetworkFromONNX` (Normalization, Mean, InputSize, ...)."""
    output_names: tuple[str, ...] | None = None
    channel_order: str = "RGB"
    """The channel order the network was trained on: images are fitted to it."""

    @property
    def key(self) -> str:
        """Tells the descriptions of different networks apart within one worker."""
        return f"{self.sha256}|{sorted(self.import_options.items())!r}|{self.output_names!r}"

    def build(self) -> Network:
        if isinstance(self.model, Network):
            net = self.model.measuring(self.model.OutputNames)
        else:
            net = importNetworkFromONNX(self.model, **self.import_options)
        if self.output_names is not None:
            net.OutputNames = list(self.output_names)
        return net


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_network(
    net: Network | str | os.PathLike | bytes,
    *,
    output_names: list[str] | None = None,
    channel_order: str = "RGB",
    **import_options: Any,
) -> NetworkDescription:
    """A description of ``net``: a network object, or an ONNX file (path or bytes) with the
    :func:`importNetworkFromONNX` options it is imported with.

    The model is imported here once as well (and kept, see :func:`built_network`), so a bad file
    or option fails before any worker starts.
    """
    if isinstance(net, Network):
        if import_options:
            raise ValueError(
                f"import options ({', '.join(import_options)}) apply to model files, not to a network object."
            )
        bare = net.measuring(net.OutputNames)  # no engine travels
        return NetworkDescription(bare, hashlib.sha256(pickle.dumps(bare)).hexdigest(), {}, None, channel_order)
    if isinstance(net, (str, os.PathLike)):
        path = Path(net).resolve()
        if not path.is_file():
            raise ValueError(f"model file {str(path)!r} does not exist.")
        description = NetworkDescription(
            str(path),
            _file_sha256(path),
            dict(import_options),
            None if output_names is None else tuple(output_names),
            channel_order,
        )
    elif isinstance(net, bytes):
        description = NetworkDescription(
            net,
            hashlib.sha256(net).hexdigest(),
            dict(import_options),
            None if output_names is None else tuple(output_names),
            channel_order,
        )
    else:
        raise TypeError(f"net must be a network object, an ONNX file path or its bytes; got {shown(net)}.")
    built_network(description)
    return description


_BUILT: dict[str, Network] = {}


def built_network(description: NetworkDescription) -> Network:
    """The network of ``description``, built on this process's first use and kept (a worker's for
    every task, the client's for every check before the job starts)."""
    if description.key not in _BUILT:
        _BUILT.clear()  # a worker serves one job's network at a time
        _BUILT[description.key] = description.build()
    return _BUILT[description.key]
