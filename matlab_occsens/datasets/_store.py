"""The Zarr store of a dataset job: one chunk per image, every chunk checksummed, nothing
half-written or damaged read as done.

Layout (one group, ``<DIR>/occlusion.zarr``, store format 2), every array with named dimensions
(Zarr 3's ``dimension_names``, which xarray reads):

- ``maps`` (image, row, column[, channel]): float32, one chunk per image; NaN until computed.
  A job of volumes (extension) stores (image, s1, s2, s3[, channel]), MATLAB's S1×S2×S3, and a
  job of signals (image, time[, channel]); ``image`` numbers the items of every kind.
- ``channels`` (image, channel): int32, the 1-based channels each map shows.
- ``predicted``, ``score`` (image): the 1-based top-1 class of each image and its probability
  (0 and NaN where the output is not a class-score vector).
- ``file_stamp`` (image, stamp): the size in bytes and the modification time (ns) of the file
  each map was computed from, read before the file was (0, 0 for arrays); a file that changed
  since is computed again.
- ``failure`` (image): why an image failed, "" otherwise. One chunk per image, so recording a
  failure writes that image's chunk only.
- ``status`` (image): int8, the completion record: 0 not done, 1 done, 2 failed. A worker
  writes it only after the image's other chunks, so after a crash at any point an image is
  either complete (status 1) or computed again by the next run.
- attributes: ``format``, the package and its version, ``job`` (the image names, the options, the
  model's SHA-256, the channel rule, the map shape) and ``job_id``, drawn when the store is
  created (and kept in ``status``'s attributes too, a small file): every write checks it, so a
  worker left over from another job cannot write here.

Every chunk ends with a CRC-32C of its bytes (Zarr's ``crc32c`` codec), so a flipped byte or a
truncated chunk fails to read instead of giving another map; :mod:`.resume` checks the chunks of
every completed image before a rerun skips it. Every image has chunks of its own, so workers
write side by side without locks; one job writes a store at a time (:mod:`.lock`).
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import __version__
from .._utils.install import install_command

try:
    import zarr
    from zarr.codecs import Crc32cCodec, ZstdCodec
except ModuleNotFoundError as missing:  # datasets are an extra
    raise ImportError(f"dataset jobs need Zarr and Dask: {install_command('datasets')}") from missing

__all__ = [
    "DONE",
    "FAILED",
    "PENDING",
    "STORE_NAME",
    "ARRAYS",
    "MapStore",
    "StoreIdentity",
    "StoreMismatch",
    "StoreUnusable",
    "json_value",
]

STORE_NAME = "occlusion.zarr"
PENDING, DONE, FAILED = 0, 1, 2
FORMAT = 2
"""The store format this version writes and reads (1: before checksums, stamps and job ids)."""

#: The arrays of a store: what each holds per image beyond the image axis, its type and dimensions.
ARRAYS = ("maps", "channels", "predicted", "score", "file_stamp", "failure", "status")
_RESTART = "start it over with --restart (restart=True in Python) or choose another --out DIR"


class StoreMismatch(ValueError):
    """The existing store was made for another model, other options or other images."""


class StoreUnusable(ValueError):
    """What is at the store's place cannot be used: not a store, damaged metadata, another format."""


class JobChanged(RuntimeError):
    """The store now holds another job than the one a worker writes for."""


@dataclass(frozen=True)
class StoreIdentity:
    """What makes two runs the same job: a rerun with the same identity resumes."""

    images: tuple[str, ...]
    model_sha256: str
    options: dict[str, Any]
    channels: dict[str, Any]
    map_shape: tuple[int, ...]
    kind: str = "image"
    """What the items are, the network's input: "image", "volume" or "signal"."""

    def record(self) -> dict[str, Any]:
        recorded = {
            "images": list(self.images),
            "model_sha256": self.model_sha256,
            "options": self.options,
            "channels": self.channels,
            "map_shape": list(self.map_shape),
        }
        return recorded if self.kind == "image" else {**recorded, "input": self.kind}


#: The names of a map's axes of one channel, per kind of item.
MAP_DIMENSIONS = {"image": ("row", "column"), "volume": ("s1", "s2", "s3"), "signal": ("time",)}


def _layout(
    count: int, map_shape: tuple[int, ...], kind: str = "image"
) -> dict[str, tuple[tuple[int, ...], str, tuple[str, ...]]]:
    """Each array's shape, data type and dimension names for ``count`` items of ``kind`` whose
    maps are ``map_shape``."""
    axes = MAP_DIMENSIONS[kind]
    width = 1 if len(map_shape) == len(axes) else map_shape[-1]
    spatial = axes if len(map_shape) == len(axes) else (*axes, "channel")
    return {
        "maps": ((count, *map_shape), "float32", ("image", *spatial)),
        "channels": ((count, width), "int32", ("image", "channel")),
        "predicted": ((count,), "int32", ("image",)),
        "score": ((count,), "float32", ("image",)),
        "file_stamp": ((count, 2), "int64", ("image", "stamp")),
        "failure": ((count,), "string", ("image",)),
        "status": ((count,), "int8", ("image",)),
    }


_FILL: dict[str, Any] = {"float32": np.nan, "int32": 0, "int64": 0, "int8": PENDING, "string": ""}


def _differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    said = []
    kinds = (stored.get("input", "image"), wanted.get("input", "image"))
    if kinds[0] != kinds[1]:
        said.append(f"the kind of input ({kinds[0]}s in the store, {kinds[1]}s now)")
    if stored.get("model_sha256") != wanted["model_sha256"]:
        said.append(
            f"the model (SHA-256 {str(stored.get('model_sha256'))[:12]}... in the store, "
            f"{wanted['model_sha256'][:12]}... now)"
        )
    if stored.get("options") != wanted["options"]:
        found = stored.get("options")
        old: dict[str, Any] = found if isinstance(found, dict) else {}
        changed = sorted(
            name for name in set(old) | set(wanted["options"]) if old.get(name) != wanted["options"].get(name)
        )
        said.append(
            "the options ("
            + ", ".join(
                f"{name}: {old.get(name)!r} in the store, {wanted['options'].get(name)!r} now" for name in changed
            )
            + ")"
        )
    if stored.get("channels") != wanted["channels"]:
        said.append(f"the channels ({stored.get('channels')!r} in the store, {wanted['channels']!r} now)")
    if stored.get("images") != wanted["images"]:
        listed = stored.get("images")
        old_images: list[Any] = listed if isinstance(listed, list) else []
        new = wanted["images"]
        first = next((i for i, (a, b) in enumerate(zip(old_images, new)) if a != b), min(len(old_images), len(new)))
        said.append(
            f"the image list ({len(old_images)} images in the store, {len(new)} now; first difference at image {first})"
        )
    if stored.get("map_shape") != wanted["map_shape"] and not said:
        said.append(f"the map size ({stored.get('map_shape')} in the store, {wanted['map_shape']} now)")
    return said


def check_place(path: Path) -> None:
    """Refuse what cannot be a store at ``path``: a file, a dangling link."""
    if path.is_symlink() and not path.exists():
        raise StoreUnusable(
            f"{path} is a symbolic link to {str(path.readlink())!r}, which does not exist; remove the link or "
            f"choose another --out DIR."
        )
    if path.exists() and not path.is_dir():
        raise StoreUnusable(f"{path} is a file, not a store; move it away or choose another --out DIR.")


def _group_metadata(path: Path) -> dict[str, Any]:
    """The store's attributes, read from its ``zarr.json`` with every way it can be wrong said."""
    metadata_file = path / "zarr.json"
    if not metadata_file.is_file():
        raise StoreUnusable(
            f"{path} is not a store made by matlab-occsens (it has no zarr.json); choose another --out DIR."
        )
    try:
        metadata = json.loads(metadata_file.read_bytes())
    except (OSError, ValueError) as error:
        raise StoreUnusable(f"{path}: its metadata (zarr.json) is damaged ({error}); {_RESTART}.") from error
    attributes = metadata.get("attributes") if isinstance(metadata, dict) else None
    if not isinstance(attributes, dict):
        raise StoreUnusable(f"{path}: its metadata (zarr.json) is damaged (no attributes); {_RESTART}.")
    if attributes.get("package") != "matlab-occsens":
        raise StoreUnusable(f"{path} is not a store made by matlab-occsens; choose another --out DIR.")
    if attributes.get("format") != FORMAT:
        made = f"matlab-occsens {attributes.get('version')}" if isinstance(attributes.get("version"), str) else "?"
        raise StoreUnusable(
            f"{path} is in store format {attributes.get('format')!r} (written by {made}); this version reads "
            f"format {FORMAT} only: {_RESTART}."
        )
    if not isinstance(attributes.get("job"), dict) or not isinstance(attributes.get("job_id"), str):
        raise StoreUnusable(f"{path}: its metadata (zarr.json) is damaged (the job record is missing); {_RESTART}.")
    return attributes


def is_store_folder(path: Path) -> bool:
    """Whether ``path`` holds a store (or the remains of one) and nothing else, so that
    ``--restart`` may delete it: a ``zarr.json`` and folders named as the arrays of some format."""
    if not path.is_dir() or path.is_symlink() or not (path / "zarr.json").is_file():
        return False
    return all(entry.name == "zarr.json" or (entry.is_dir() and entry.name in ARRAYS) for entry in path.iterdir())


class MapStore:
    """One job's store, opened by the client to create or check it and by each worker to write."""

    def __init__(self, path: str | Path, mode: Literal["r", "r+"] = "r+") -> None:
        self.path = Path(path)
        self.group = zarr.open_group(str(self.path), mode=mode)
        self._arrays: dict[str, zarr.Array] = {}

    @classmethod
    def create(cls, path: Path, identity: StoreIdentity) -> MapStore:
        """A new, empty store for ``identity`` at ``path`` (which must not exist or be a store)."""
        check_place(path)
        if path.exists():
            if not is_store_folder(path):
                raise StoreUnusable(
                    f"{path} is not a store made by matlab-occsens (it holds other files), so --restart "
                    f"leaves it as it is; move it away or choose another --out DIR."
                )
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        group = zarr.open_group(str(path), mode="w-")
        job_id = uuid.uuid4().hex
        for name, (shape, dtype, dimensions) in _layout(
            len(identity.images), identity.map_shape, identity.kind
        ).items():
            group.create_array(
                name,
                shape=shape,
                chunks=(1, *shape[1:]),
                dtype=str if dtype == "string" else dtype,
                fill_value=_FILL[dtype],
                compressors=[ZstdCodec(), Crc32cCodec()] if name == "maps" else [Crc32cCodec()],
                dimension_names=dimensions,
                attributes={"job_id": job_id} if name == "status" else None,
            )
        group.attrs.update(
            {
                "format": FORMAT,
                "package": "matlab-occsens",
                "version": __version__,
                "job": identity.record(),
                "job_id": job_id,
            }
        )
        return cls(path)

    @classmethod
    def for_reading(cls, path: Path) -> MapStore:
        """The store at ``path`` to read (exports, pictures), once its format is checked."""
        check_place(path)
        _group_metadata(path)
        return cls(path, mode="r")

    @classmethod
    def open_checked(cls, path: Path, identity: StoreIdentity, mode: Literal["r", "r+"] = "r") -> MapStore:
        """The existing store at ``path``, checked: its format, its job against ``identity``, and
        each array's shape, type and checksums against what that job needs.

        Raises :class:`StoreMismatch` naming what differs, or :class:`StoreUnusable` saying what is
        wrong with it; neither writes anything.
        """
        check_place(path)
        attributes = _group_metadata(path)
        said = _differences(attributes["job"], identity.record())
        if said:
            raise StoreMismatch(f"{path} holds another job: it differs in {'; '.join(said)}; {_RESTART}.")
        try:
            store = cls(path, mode)
            layout = _layout(len(identity.images), identity.map_shape, identity.kind)
            for name, (shape, dtype, dimensions) in layout.items():
                store._check_array(name, shape, dtype, dimensions)
            if store.array("status").attrs.get("job_id") != attributes["job_id"]:
                raise StoreUnusable(f"{path}: its metadata is damaged (two job ids); {_RESTART}.")
        except StoreUnusable:
            raise
        except Exception as error:  # zarr's own reading of damaged array metadata
            raise StoreUnusable(
                f"{path}: its metadata is damaged ({' '.join(str(error).split())}); {_RESTART}."
            ) from error
        return store

    def _check_array(self, name: str, shape: tuple[int, ...], dtype: str, dimensions: tuple[str, ...]) -> None:
        found = self.group.get(name)
        if not isinstance(found, zarr.Array):
            raise StoreUnusable(f"{self.path}: its array {name!r} is missing; {_RESTART}.")
        kind = "string" if found.dtype.kind in "OTU" else str(found.dtype)
        checked = any(isinstance(codec, Crc32cCodec) for codec in found.compressors)
        fill = found.fill_value.item() if isinstance(found.fill_value, np.generic) else found.fill_value
        filled = fill == _FILL[dtype] or (isinstance(fill, float) and np.isnan(fill) and np.isnan(_FILL[dtype]))
        wanted = (shape, dtype, (1, *shape[1:]), dimensions, True, True)
        given = (found.shape, kind, found.chunks, getattr(found.metadata, "dimension_names", None), checked, filled)
        if given != wanted:
            raise StoreUnusable(
                f"{self.path}: the metadata of its array {name!r} was changed (shape {found.shape}, type {kind}, "
                f"chunks {found.chunks}, fill value {fill!r}; this job needs shape {shape}, type {dtype}, chunks "
                f"{(1, *shape[1:])}, fill value {_FILL[dtype]!r}, checksums); {_RESTART}."
            )

    def __len__(self) -> int:
        return int(self.array("status").shape[0])

    def array(self, name: str) -> zarr.Array:
        """One of the store's arrays (:data:`ARRAYS`), its metadata read once (a store started over
        by another run is another job: :meth:`check_job` refuses it before any write)."""
        if name not in self._arrays:
            found = self.group[name]
            assert isinstance(found, zarr.Array)
            self._arrays[name] = found
        return self._arrays[name]

    def read(self, name: str, index: int | slice | None = None) -> np.ndarray:
        """Array ``name`` as numpy: all images, or image(s) ``index``."""
        return np.asarray(self.array(name)[slice(None) if index is None else index])

    def status(self) -> np.ndarray:
        return self.read("status")

    def chunk_file(self, name: str, index: int) -> Path:
        """Where image ``index``'s chunk of array ``name`` lies (if it was written)."""
        found = self.array(name)
        return self.path / name / found.metadata.encode_chunk_key((index,) + (0,) * (found.ndim - 1))

    def attribute(self, name: str, default: Any = None) -> Any:
        return dict(self.group.attrs).get(name, default)

    @property
    def job(self) -> dict[str, Any]:
        return dict(self.attribute("job"))

    @property
    def kind(self) -> str:
        """What the items are: "image", "volume" or "signal"."""
        return str(self.job.get("input", "image"))

    @property
    def job_id(self) -> str:
        return str(self.attribute("job_id"))

    def check_job(self, job_id: str) -> None:
        """Refuse to write unless the store on disk still holds job ``job_id`` (read afresh: another
        run may have started it over since this store object was opened)."""
        try:  # the copy in the status array's small metadata, not the group's (which lists every image)
            held = json.loads((self.path / "status" / "zarr.json").read_bytes())["attributes"]["job_id"]
        except (OSError, ValueError, KeyError, TypeError):
            held = None
        if held != job_id:
            raise JobChanged(
                f"{self.path} now holds another job than the one this task computes for (it was started "
                f"over); the task's maps are not written."
            )

    def write(
        self,
        job_id: str,
        index: int,
        scoremap: np.ndarray,
        channels: np.ndarray,
        predicted: int,
        score: float,
        stamp: tuple[int, int],
    ) -> None:
        """Write image ``index``'s map and metadata, then its completion record (in that order)."""
        self.check_job(job_id)
        self.array("maps")[index] = scoremap
        self.array("channels")[index] = channels
        self.array("predicted")[index] = predicted
        self.array("score")[index] = score
        self.array("file_stamp")[index] = np.asarray(stamp, np.int64)
        self.array("failure")[index] = ""  # the fill value: an earlier failure's chunk is removed
        self.array("status")[index] = DONE

    def mark_failed(self, job_id: str, index: int, reason: str) -> None:
        """Record why image ``index`` failed, then its completion record."""
        self.check_job(job_id)
        self.array("failure")[index] = reason
        self.array("status")[index] = FAILED

    def failures(self) -> dict[int, str]:
        """Image index -> reason, for every failed image."""
        failed = np.flatnonzero(self.status() == FAILED).tolist()
        return {index: str(self.read("failure", index)) for index in failed}


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
