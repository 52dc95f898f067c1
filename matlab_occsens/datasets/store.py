"""The Zarr store of a dataset job: one chunk per image, and nothing half-written read as done.

Layout (one group, ``<DIR>/occlusion.zarr``):

- ``maps``: float32, N×H×W (one channel) or N×H×W×n, one chunk per image; NaN until computed.
- ``channels``: int32 N×n, the 1-based channels each map shows.
- ``predicted``, ``score``: the 1-based top-1 class of each image and its probability
  (0 and NaN where the output is not a class-score vector).
- ``status``: int8 per image, the completion record: 0 not done, 1 done, 2 failed. A worker
  writes it only after the image's map and metadata, so after a crash at any point an image is
  either complete (status 1) or recomputed by the next run.
- attributes: the image names, the options, the model's SHA-256, the package version, the
  channel rule, and the reason of every failed image.

Every image has chunks of its own, so workers write side by side without locks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import __version__
from .._utils.install import install_command

try:
    import zarr
except ModuleNotFoundError as missing:  # datasets are an extra
    raise ImportError(f"dataset jobs need Zarr and Dask: {install_command('datasets')}") from missing

__all__ = ["DONE", "FAILED", "PENDING", "STORE_NAME", "MapStore", "StoreIdentity", "StoreMismatch", "json_value"]

STORE_NAME = "occlusion.zarr"
PENDING, DONE, FAILED = 0, 1, 2
_FORMAT = 1


class StoreMismatch(ValueError):
    """The existing store was made for another model, other options or other images."""


@dataclass(frozen=True)
class StoreIdentity:
    """What makes two runs the same job: a rerun with the same identity resumes."""

    images: tuple[str, ...]
    model_sha256: str
    options: dict[str, Any]
    channels: dict[str, Any]
    map_shape: tuple[int, ...]

    def record(self) -> dict[str, Any]:
        return {
            "images": list(self.images),
            "model_sha256": self.model_sha256,
            "options": self.options,
            "channels": self.channels,
            "map_shape": list(self.map_shape),
        }


def _differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    said = []
    if stored.get("model_sha256") != wanted["model_sha256"]:
        said.append(
            f"the model (SHA-256 {str(stored.get('model_sha256'))[:12]}... in the store, "
            f"{wanted['model_sha256'][:12]}... now)"
        )
    if stored.get("options") != wanted["options"]:
        changed = sorted(
            name
            for name in set(stored.get("options", {})) | set(wanted["options"])
            if stored.get("options", {}).get(name) != wanted["options"].get(name)
        )
        said.append(
            "the options ("
            + ", ".join(
                f"{name}: {stored.get('options', {}).get(name)!r} in the store, {wanted['options'].get(name)!r} now"
                for name in changed
            )
            + ")"
        )
    if stored.get("channels") != wanted["channels"]:
        said.append(f"the channels ({stored.get('channels')!r} in the store, {wanted['channels']!r} now)")
    if stored.get("images") != wanted["images"]:
        old, new = stored.get("images", []), wanted["images"]
        first = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
        said.append(
            f"the image list ({len(old)} images in the store, {len(new)} now; first difference at image {first + 1})"
        )
    if stored.get("map_shape") != wanted["map_shape"] and not said:
        said.append(f"the map size ({stored.get('map_shape')} in the store, {wanted['map_shape']} now)")
    return said


class MapStore:
    """One job's store, opened by the client to create or check it and by each worker to write."""

    def __init__(self, path: str | Path, mode: Literal["r", "r+"] = "r+") -> None:
        self.path = Path(path)
        self.group = zarr.open_group(str(self.path), mode=mode)

    @classmethod
    def open_for(cls, directory: str | Path, identity: StoreIdentity, restart: bool = False) -> MapStore:
        """The store in ``directory`` for ``identity``: created, or checked against what it holds.

        Raises :class:`StoreMismatch` naming what differs, unless ``restart`` starts it over.
        """
        path = Path(directory) / STORE_NAME
        wanted = identity.record()
        if path.exists() and not restart:
            store = cls(path)
            stored = store.attribute("job")
            if stored is None:
                raise StoreMismatch(f"{path} is not a store made by matlab-occsens; choose another --out DIR.")
            said = _differences(stored, wanted)
            if said:
                raise StoreMismatch(
                    f"{path} holds another job: it differs in "
                    + "; ".join(said)
                    + ". Use another --out DIR, or start it over with --restart."
                )
            return store
        Path(directory).mkdir(parents=True, exist_ok=True)
        group = zarr.open_group(str(path), mode="w")
        count, shape = len(identity.images), identity.map_shape
        group.create_array("maps", shape=(count, *shape), chunks=(1, *shape), dtype="float32", fill_value=np.nan)
        width = 1 if len(shape) == 2 else shape[2]
        group.create_array("channels", shape=(count, width), chunks=(1, width), dtype="int32", fill_value=0)
        group.create_array("predicted", shape=(count,), chunks=(1,), dtype="int32", fill_value=0)
        group.create_array("score", shape=(count,), chunks=(1,), dtype="float32", fill_value=np.nan)
        group.create_array("status", shape=(count,), chunks=(1,), dtype="int8", fill_value=PENDING)
        group.attrs.update(
            {"format": _FORMAT, "package": "matlab-occsens", "version": __version__, "job": wanted, "failures": {}}
        )
        return cls(path)

    def __len__(self) -> int:
        return int(self.array("status").shape[0])

    def array(self, name: str) -> zarr.Array:
        """One of the store's arrays: maps, channels, predicted, score, status."""
        found = self.group[name]
        assert isinstance(found, zarr.Array)
        return found

    def read(self, name: str, index: int | None = None) -> np.ndarray:
        """Array ``name`` as numpy: all images, or image ``index``."""
        return np.asarray(self.array(name)[slice(None) if index is None else index])

    def status(self) -> np.ndarray:
        return self.read("status")

    def attribute(self, name: str, default: Any = None) -> Any:
        return dict(self.group.attrs).get(name, default)

    def write(self, index: int, scoremap: np.ndarray, channels: np.ndarray, predicted: int, score: float) -> None:
        """Write image ``index``'s map and metadata, then its completion record (in that order)."""
        self.array("maps")[index] = scoremap
        self.array("channels")[index] = channels
        self.array("predicted")[index] = predicted
        self.array("score")[index] = score
        self.array("status")[index] = DONE

    def mark_failed(self, index: int) -> None:
        self.array("status")[index] = FAILED

    def record_failures(self, reasons: dict[int, str]) -> None:
        """Add ``{index: reason}`` to the store's list of failed images (client only)."""
        failures = dict(self.attribute("failures", {}))
        failures.update({str(index): reason for index, reason in reasons.items()})
        self.group.attrs["failures"] = failures

    def clear_failures(self, indices: list[int]) -> None:
        failures = {
            key: value for key, value in dict(self.attribute("failures", {})).items() if int(key) not in set(indices)
        }
        self.group.attrs["failures"] = failures

    def failures(self) -> dict[int, str]:
        return {int(key): str(value) for key, value in dict(self.attribute("failures", {})).items()}

    @property
    def job(self) -> dict[str, Any]:
        return dict(self.attribute("job"))


def json_value(value: Any) -> Any:
    """An option's value as JSON keeps it (arrays as lists), for the store's record."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    json.dumps(value)
    return value
