"""``imageDatastore``: MATLAB's name for a list of image files, read one at a time.

A migrating script builds one from folders, files or wildcards, often with labels taken from the
folder names, and then loops over ``numel(imds.Files)`` calling ``readimage``. The parts of
MATLAB's object such a script uses are here, with MATLAB's defaults: subfolders are left out
unless asked for, a folder contributes only files with image extensions, and ``Files`` is sorted.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._utils.checks import shown
from .._utils.namevalue import is_text, match_string, parse_name_value
from ..image._imageio import imread

__all__ = ["ImageDatastore", "imageDatastore", "IMAGE_EXTENSIONS"]

_FUNCTION = "imageDatastore"

#: The extensions ``imformats`` lists that OpenCV also decodes (MATLAB's default FileExtensions).
IMAGE_EXTENSIONS = (
    ".bmp",
    ".gif",
    ".jpeg",
    ".jpg",
    ".jp2",
    ".pbm",
    ".pgm",
    ".png",
    ".pnm",
    ".ppm",
    ".ras",
    ".tif",
    ".tiff",
    ".webp",
)

_OPTIONS: dict[str, Any] = {"IncludeSubfolders": False, "FileExtensions": None, "LabelSource": "none", "Labels": None}


def _extensions(value: Any) -> tuple[str, ...]:
    if value is None:
        return IMAGE_EXTENSIONS
    listed = [value] if is_text(value) else list(value)
    if not listed or not all(is_text(item) and str(item).startswith(".") for item in listed):
        raise ValueError(
            f'{_FUNCTION}: FileExtensions must be an extension such as ".png" or a list of them '
            f"(each starting with a dot); got {shown(value)}."
        )
    return tuple(str(item).lower() for item in listed)


def _visible(name: str, pattern: str) -> bool:
    """glob's rule: a wildcard matches a hidden name only when it starts with a dot itself."""
    return not name.startswith(".") or pattern.startswith(".")


def _folders_below(root: Path, hidden: bool = True) -> Iterator[Path]:
    """``root`` and every folder below it, each real folder once: a link back to a folder already
    entered (a loop) is not followed again. ``hidden=False`` leaves hidden folders out, as glob's
    ``**`` does."""
    entered: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            identity = folder.stat()
        except OSError:
            continue
        if (identity.st_dev, identity.st_ino) in entered:
            continue
        entered.add((identity.st_dev, identity.st_ino))
        yield folder
        try:
            with os.scandir(folder) as entries:
                below = sorted(
                    entry.name for entry in entries if entry.is_dir() and (hidden or _visible(entry.name, ""))
                )
        except OSError:
            continue
        stack.extend(folder / name for name in reversed(below))


def _wildcard(pattern: str) -> list[Path]:
    """What a wildcard names, by glob's rules (``*``, ``?``, ``[...]`` within a name, ``**`` for any
    depth of folders), each real file or folder once, however many links lead to it."""
    anchor, *parts = Path(pattern).parts if Path(pattern).is_absolute() else (".", *Path(pattern).parts)
    found = [Path(anchor)]
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if part == "**":
            found = [folder for start in found if start.is_dir() for folder in _folders_below(start, hidden=False)]
            if last:  # a final ** matches files at any depth too
                found += [file for folder in found for file in _entries(folder, "*", folders_only=False)]
            continue
        if not glob.has_magic(part):
            found = [path / part for path in found if os.path.lexists(path / part)]
            continue
        found = [match for folder in found for match in _entries(folder, part, folders_only=not last)]
    return _once(found)


def _entries(folder: Path, pattern: str, folders_only: bool, hidden: bool = False) -> list[Path]:
    """The entries of ``folder`` whose names match ``pattern`` (one path component); hidden names
    only with ``hidden`` or a pattern that starts with a dot."""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if not folders_only or entry.is_dir()]
    except OSError:
        return []
    return [
        folder / name
        for name in sorted(names)
        if (hidden or _visible(name, pattern)) and fnmatch.fnmatchcase(name, pattern)
    ]


def _once(paths: list[Path]) -> list[Path]:
    """``paths`` sorted, each real file or folder once (the first name that leads to it)."""
    unique: dict[str, Path] = {}
    for path in sorted(paths):
        unique.setdefault(os.path.realpath(path), path)
    return sorted(unique.values())


def _has_extension(path: Path, extensions: tuple[str, ...]) -> bool:
    """Whether the name ends with one of ``extensions``, compared without case: a double suffix
    such as ``.nii.gz`` counts whole (``Path.suffix`` would give ``.gz``); a name that is only an
    extension (``.png``) has none, as for ``Path.suffix``."""
    name = path.name.lower()
    return any(name.endswith(extension) and len(name) > len(extension) for extension in extensions)


def _files_at(location: str, subfolders: bool, extensions: tuple[str, ...]) -> list[Path]:
    """The files one location names: a file, a folder's image files, or a wildcard's matches.

    A name that exists is that file or folder, even when it holds wildcard characters
    (``a[1].png``); only a name that does not exist is read as a wildcard.
    """
    path = Path(location)
    if not path.exists() and glob.has_magic(location):
        matches = _wildcard(location)
        if not matches:
            raise ValueError(f"{_FUNCTION}: no file or folder matches {location!r}.")
        found = []
        for match in matches:  # a wildcard may match folders: their files count, as in MATLAB
            found += _files_at(str(match), subfolders, extensions) if match.is_dir() else [match]
        return [path for path in _once(found) if _has_extension(path, extensions)]
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"{_FUNCTION}: {location!r} is neither a file nor a folder.")
    folders = _folders_below(path) if subfolders else iter([path])
    found = [file for folder in folders for file in _entries(folder, "*", False, hidden=True) if file.is_file()]
    return [file for file in _once(found) if _has_extension(file, extensions)]


class ImageDatastore:
    """Image files named once and read one at a time (MATLAB's ``ImageDatastore``).

    Made by :func:`imageDatastore`; the dataset functions take it as their ``images``.

    MATLAB equivalent: the ``ImageDatastore`` object (MATLAB), with its ``Files`` and ``Labels``
    properties and its functions as methods (1-based indices); ``ReadFcn`` and remote locations
    are not ported.

    Parameters
    ----------
    files : sequence of path
        The image files, in order.
    labels : sequence of str, optional
        One label per file.

    Attributes
    ----------
    Files : list of str
        Absolute paths, sorted, as MATLAB lists them.
    Labels : ndarray of str or None
        One label per file (``LabelSource="foldernames"``: the name of the file's folder), or None.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skimage import data
    >>> from matlab_occsens import imwrite
    >>> folder = Path(tempfile.mkdtemp())
    >>> for label, name in [("cats", "chelsea"), ("cups", "coffee"), ("people", "astronaut")]:
    ...     (folder / "photos" / label).mkdir(parents=True)
    ...     imwrite(getattr(data, name)(), folder / "photos" / label / f"{name}.png")
    >>> from matlab_occsens.datasets import imageDatastore
    >>> imds = imageDatastore(folder / "photos", IncludeSubfolders=True, LabelSource="foldernames")
    >>> imds.countEachLabel()
    {'cats': 1, 'cups': 1, 'people': 1}
    >>> imds.readimage(2).shape  # 1-based, as MATLAB's readimage(imds, 2)
    (400, 600, 3)
    >>> while imds.hasdata():  # MATLAB's while hasdata(imds), X = read(imds)
    ...     X = imds.read()
    >>> imds.subset([1, 3]).Labels.tolist()
    ['cats', 'people']
    """

    def __init__(self, files: Sequence[Path], labels: Sequence[str] | None) -> None:
        self.Files = [str(Path(file).resolve()) for file in files]
        self.Labels = None if labels is None else np.asarray(labels, dtype=str)
        self._next = 0

    def __len__(self) -> int:
        return len(self.Files)

    def __repr__(self) -> str:
        labels = "none" if self.Labels is None else f"{len(set(self.Labels.tolist()))} labels"
        return f"<ImageDatastore {len(self.Files)} files, {labels}>"

    def readimage(self, i: int) -> np.ndarray:
        """Image ``i`` (1-based, as in MATLAB), read with :func:`~matlab_occsens.imread`.

        Parameters
        ----------
        i : int
            The file's position in ``Files``, from 1.

        Returns
        -------
        ndarray
            The image, as :func:`~matlab_occsens.imread` returns it.
        """
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 1 <= i <= len(self.Files):
            raise ValueError(f"readimage: i must be an integer in 1..{len(self.Files)} (1-based); got {shown(i)}.")
        return imread(self.Files[int(i) - 1])

    def hasdata(self) -> bool:
        """Whether :meth:`read` has files left.

        Returns
        -------
        bool
            True until every file has been read since the last :meth:`reset`.
        """
        return self._next < len(self.Files)

    def read(self) -> np.ndarray:
        """The next image in ``Files`` order; :meth:`reset` starts again.

        Returns
        -------
        ndarray
            The image, as :func:`~matlab_occsens.imread` returns it.

        Raises
        ------
        ValueError
            Every file has been read.
        """
        if not self.hasdata():
            raise ValueError("read: no more data in the datastore; call reset(imds) to read again.")
        self._next += 1
        return self.readimage(self._next)

    def reset(self) -> None:
        """Start :meth:`read` again from the first file."""
        self._next = 0

    def countEachLabel(self) -> dict[str, int]:
        """Files per label, in sorted label order (MATLAB returns a table).

        Returns
        -------
        dict of str to int
            Each label and its number of files.
        """
        if self.Labels is None:
            raise ValueError('countEachLabel: the datastore has no labels (LabelSource="foldernames").')
        return dict(sorted(Counter(self.Labels.tolist()).items()))

    def subset(self, indices: Any) -> ImageDatastore:
        """A datastore of the files at 1-based ``indices`` (or a logical vector).

        Parameters
        ----------
        indices : array_like of int or bool
            Positions in ``Files`` from 1, or one true or false per file.

        Returns
        -------
        ImageDatastore
            Those files, with their labels.
        """
        chosen = np.asarray(indices)
        positions = np.flatnonzero(chosen) if chosen.dtype == np.bool_ else chosen.astype(np.int64).ravel() - 1
        if positions.size and (positions.min() < 0 or positions.max() >= len(self.Files)):
            raise ValueError(f"subset: indices must lie in 1..{len(self.Files)}; got {shown(indices)}.")
        labels = None if self.Labels is None else self.Labels[positions].tolist()
        return ImageDatastore([Path(self.Files[p]) for p in positions.tolist()], labels)


def imageDatastore(
    location: str | os.PathLike | Sequence[str | os.PathLike], *args: Any, **kwargs: Any
) -> ImageDatastore:
    """A datastore of the image files at ``location`` (files, folders or wildcards), as in MATLAB.

    MATLAB equivalent: ``imageDatastore`` (MATLAB), with its ``IncludeSubfolders``,
    ``FileExtensions``, ``LabelSource`` and ``Labels`` options.

    Parameters
    ----------
    location : path, wildcard, or a list of them
        A folder contributes its files with an extension in ``FileExtensions``; ``*`` and ``**``
        wildcards are expanded; files are listed as given.
    IncludeSubfolders : bool, default False
        Also take the files of every subfolder of a folder.
    FileExtensions : str or list of str, default: the image formats
        Extensions (with the dot) a folder's files must have.
    LabelSource : {"none", "foldernames"}, default "none"
        "foldernames" labels each file with the name of the folder it is in.
    Labels : sequence of str, optional
        One label per file, given directly.
    *args
        The options above as MATLAB name-value pairs (``"IncludeSubfolders", True``).
    **kwargs
        The options above as keywords.

    Returns
    -------
    ImageDatastore
        The files, sorted, and their labels.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skimage import data
    >>> from matlab_occsens import imwrite
    >>> folder = Path(tempfile.mkdtemp())
    >>> for label, name in [("cats", "chelsea"), ("cups", "coffee"), ("people", "astronaut")]:
    ...     (folder / "photos" / label).mkdir(parents=True)
    ...     imwrite(getattr(data, name)(), folder / "photos" / label / f"{name}.png")
    >>> from matlab_occsens.datasets import imageDatastore
    >>> imds = imageDatastore(folder / "photos", IncludeSubfolders=True, LabelSource="foldernames")
    >>> [Path(file).name for file in imds.Files]
    ['chelsea.png', 'coffee.png', 'astronaut.png']
    >>> imds.Labels.tolist()
    ['cats', 'cups', 'people']
    """
    options = parse_name_value(_FUNCTION, _OPTIONS, args, kwargs)
    subfolders = options["IncludeSubfolders"]
    if not isinstance(subfolders, (bool, np.bool_)):
        raise TypeError(f"{_FUNCTION}: IncludeSubfolders must be true or false; got {shown(subfolders)}.")
    extensions = _extensions(options["FileExtensions"])
    source = match_string(options["LabelSource"], ("none", "foldernames"), "LabelSource", _FUNCTION)
    locations = [location] if isinstance(location, (str, os.PathLike)) else list(location)
    if not locations or not all(isinstance(item, (str, os.PathLike)) for item in locations):
        raise TypeError(f"{_FUNCTION}: location must be a path, a wildcard or a list of them; got {shown(location)}.")
    files = [file for item in locations for file in _files_at(os.fspath(item), bool(subfolders), extensions)]
    if not files:
        raise ValueError(f"{_FUNCTION}: no files with extensions {', '.join(extensions)} at {shown(location)}.")
    labels = options["Labels"]
    if labels is not None:
        labels = [str(label) for label in (labels.tolist() if isinstance(labels, np.ndarray) else labels)]
        if len(labels) != len(files):
            raise ValueError(f"{_FUNCTION}: Labels has {len(labels)} entries for {len(files)} files.")
    elif source == "foldernames":
        labels = [Path(file).resolve().parent.name for file in files]
    return ImageDatastore(files, labels)
