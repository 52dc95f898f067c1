"""The picture MATLAB's example draws, as an RGB array: the image, the map over it, a colour bar.

MATLAB shows an occlusion map with::

    imshow(X); hold on; imagesc(scoreMap, AlphaData=0.5); colormap jet; colorbar

Each step has a documented rule, reproduced here without a plotting library: ``imshow``'s
display range per class, ``jet``'s formula, ``imagesc``'s scaling of the data to the colour
limits (CLim = [min max] of the map), and alpha blending. The result is an ordinary uint8 array
that can be saved with :func:`~matlab_occsens.image._imageio.imwrite`; matplotlib is only needed to
show it on screen (:func:`imshow`).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .._utils.checks import fits_in_memory, integer_vector, real_array, shown
from .._utils.namevalue import is_text, match_string, parse_name_value

__all__ = [
    "jet",
    "overlayScoreMap",
    "imshow",
    "auto_clim",
    "colorbar_panel",
    "colormap_indices",
    "display_rgb",
    "to_uint8",
]

_FUNCTION = "overlayScoreMap"
_OPTIONS: dict[str, Any] = {"AlphaData": 0.5, "Colormap": "jet", "CLim": "auto", "Colorbar": True}

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = 255
_BLACK = (0, 0, 0)


def jet(m: int = 256) -> np.ndarray:
    """MATLAB's ``jet(m)``: dark blue, blue, cyan, yellow, red, dark red; m×3 in [0, 1].

    The colours of MATLAB's occlusion pictures; ``matplotlib.colors.ListedColormap(jet())``
    gives them to matplotlib.

    MATLAB equivalent: ``jet`` (MATLAB), row for row.

    Parameters
    ----------
    m : int, default 256
        Number of colours; 256 is MATLAB's default length when no figure is open.

    Returns
    -------
    ndarray of float64, shape (m, 3)
        Rows of red, green, blue intensities, computed with MATLAB's formula (four ramps of
        ``ceil(m/4)`` steps), so ``jet(64)`` and ``jet(256)`` equal MATLAB's row for row.

    Examples
    --------
    >>> from matlab_occsens import jet
    >>> jet(4)
    array([[0., 0., 1.],
           [0., 1., 1.],
           [1., 1., 0.],
           [1., 0., 0.]])
    >>> jet().shape
    (256, 3)
    """
    count = integer_vector(m, "m", "jet", minimum=0)[0]
    fits_in_memory((count, 3), 8, "m", "jet")
    colors = np.zeros((count, 3))
    if count == 0:
        return colors
    steps = math.ceil(count / 4)
    ramp = np.concatenate([np.arange(1, steps + 1), np.full(steps - 1, steps), np.arange(steps, 0, -1)]) / steps
    green = math.ceil(steps / 2) - (count % 4 == 1) + np.arange(1, ramp.size + 1)  # 1-based rows
    red, blue = green + steps, green - steps
    green, red, blue = green[green <= count], red[red <= count], blue[blue >= 1]
    colors[red - 1, 0] = ramp[: red.size]
    colors[green - 1, 1] = ramp[: green.size]
    colors[blue - 1, 2] = ramp[ramp.size - blue.size :]
    return colors


def colormap_indices(C: np.ndarray, clim: tuple[float, float], m: int) -> np.ndarray:
    """0-based colormap rows for data ``C`` under MATLAB's scaled mapping.

    MATLAB's documented rule: ``index = fix((C - cmin) / (cmax - cmin) * m) + 1``, clamped to
    1..m, so values at or below cmin take the first colour and values at or above cmax the last.
    """
    cmin, cmax = clim
    scaled = np.fix((np.asarray(C, dtype=np.float64) - cmin) / (cmax - cmin) * m)
    return np.clip(scaled, 0, m - 1).astype(np.intp)


def display_rgb(X: Any, function: str = _FUNCTION) -> np.ndarray:
    """X as ``imshow`` shows it: H×W×3 float64 in [0, 1].

    The display range follows the class, as in MATLAB: uint8 0..255, uint16 0..65535, int16
    -32768..32767, logical 0..1, floating point 0..1 (values outside are clipped). Grayscale
    (H×W or H×W×1) is shown gray.
    """
    array = real_array(X, "X", function, "an H×W or H×W×3 image array", logical=True)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)) or 0 in array.shape:
        raise ValueError(f"{function}: X must be an H×W grayscale or H×W×3 RGB image; got shape {array.shape}.")
    if array.dtype == np.bool_ or array.dtype.kind == "f":
        unit = np.clip(array.astype(np.float64), 0.0, 1.0)
    elif array.dtype in (np.uint8, np.uint16, np.int16):
        info = np.iinfo(array.dtype)
        unit = (array.astype(np.float64) - info.min) / (info.max - info.min)
    else:
        raise TypeError(f"{function}: X must be uint8, uint16, int16, logical or floating point; got {array.dtype}.")
    if not np.all(np.isfinite(unit)):
        raise ValueError(f"{function}: X contains NaN.")
    return unit if unit.ndim == 3 else np.repeat(unit[:, :, np.newaxis], 3, axis=2)


def _score_plane(scoreMap: Any, size: tuple[int, int]) -> np.ndarray:
    array = real_array(scoreMap, "scoreMap", _FUNCTION, "a numeric array", logical=True)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise ValueError(
            f"{_FUNCTION}: scoreMap must be one H×W map; got shape {array.shape}. For several channels "
            f"draw one at a time, e.g. scoreMap[:, :, 0]."
        )
    if array.shape != size:
        raise ValueError(
            f"{_FUNCTION}: scoreMap is {array.shape[0]}x{array.shape[1]} but X is {size[0]}x{size[1]}; "
            f'compute it with OutputUpsampling "bicubic" or "nearest", or resize it with imresize.'
        )
    plane = array.astype(np.float64)
    if not np.all(np.isfinite(plane)):
        raise ValueError(f"{_FUNCTION}: scoreMap contains NaN or Inf.")
    return plane


def _colormap(value: Any) -> np.ndarray:
    if is_text(value):
        match_string(value, ("jet",), "Colormap", _FUNCTION)
        return jet()
    colors = real_array(value, "Colormap", _FUNCTION, '"jet" or an m×3 array of RGB rows').astype(np.float64)
    if colors.ndim != 2 or colors.shape[1] != 3 or len(colors) == 0:
        raise ValueError(f'{_FUNCTION}: Colormap must be "jet" or an m×3 array of RGB rows; got {shown(value)}.')
    if not np.all((colors >= 0) & (colors <= 1)):
        raise ValueError(f"{_FUNCTION}: Colormap values must lie in [0, 1].")
    return colors


def auto_clim(values: np.ndarray) -> tuple[float, float]:
    """The colour limits ``imagesc`` sets: [min max] of the data."""
    low, high = float(np.min(values)), float(np.max(values))
    # A constant map has no range to scale to; centre it (MATLAB leaves this case unspecified).
    return (low - 1.0, high + 1.0) if low == high else (low, high)


def _clim(value: Any, plane: np.ndarray) -> tuple[float, float]:
    """The colour limits: [min max] of the map as ``imagesc`` sets them, or the user's pair."""
    if is_text(value):
        match_string(value, ("auto",), "CLim", _FUNCTION)
        return auto_clim(plane)
    pair = real_array(value, "CLim", _FUNCTION, '"auto" or [cmin cmax]').astype(np.float64).ravel()
    if pair.size != 2 or not np.all(np.isfinite(pair)) or pair[0] >= pair[1]:
        raise ValueError(f'{_FUNCTION}: CLim must be "auto" or [cmin cmax] with cmin < cmax; got {shown(value)}.')
    return float(pair[0]), float(pair[1])


def _alpha(value: Any, size: tuple[int, int]) -> np.ndarray:
    array = real_array(value, "AlphaData", _FUNCTION, "a number or an H×W array in [0, 1]", logical=True)
    if array.size != 1 and array.shape != size:
        raise ValueError(f"{_FUNCTION}: AlphaData must be a scalar or {size[0]}x{size[1]}; got shape {array.shape}.")
    alpha = array.astype(np.float64).reshape(size if array.size != 1 else (1, 1))
    if not np.all((alpha >= 0) & (alpha <= 1)):
        raise ValueError(f"{_FUNCTION}: AlphaData must lie in [0, 1]; got {shown(value)}.")
    return alpha[:, :, np.newaxis]


def to_uint8(unit: np.ndarray) -> np.ndarray:
    """[0, 1] intensities to uint8, rounding halves up (MATLAB's im2uint8)."""
    return np.floor(unit * 255.0 + 0.5).astype(np.uint8)


def overlayScoreMap(X: Any, scoreMap: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    """The RGB picture of ``imshow(X); hold on; imagesc(scoreMap, AlphaData=0.5); colormap jet; colorbar``.

    The picture MATLAB's documentation draws of an occlusion map, as one array to save with
    :func:`imwrite` or show with :func:`imshow`.

    Extension: MATLAB draws these layers into a figure; this returns the picture itself.

    Parameters
    ----------
    X : array_like
        The image the map was computed on, H×W×3 RGB or H×W grayscale, shown with ``imshow``'s
        display range for its class (uint8 0..255, floating point 0..1).
    scoreMap : array_like
        One H×W map, e.g. the output of :func:`occlusionSensitivity` for one channel.
    AlphaData : float or H×W array, default 0.5
        Opacity of the coloured map: each pixel is ``alpha * colour + (1 - alpha) * image``.
    Colormap : "jet" or m×3 array, default "jet"
        "jet" is MATLAB's ``jet(256)``.
    CLim : "auto" or [cmin cmax], default "auto"
        Data values of the first and last colour; "auto" is [min max] of the map, as ``imagesc``
        sets it (a constant map gets [c-1 c+1]: the middle colour).
    Colorbar : bool, default True
        Append a colour bar with tick labels on the right, as MATLAB's ``colorbar``.
    *args
        The options above as MATLAB name-value pairs (``"AlphaData", 0.6``).
    **kwargs
        The options above as keywords.

    Returns
    -------
    ndarray of uint8
        H×W×3 RGB, or H×(W + bar width)×3 with the colour bar. Save it with ``imwrite``.

    See Also
    --------
    jet : The colours.

    Examples
    --------
    Any H×W map over its image; here a bump centred on the cup of the coffee photo:

    >>> import numpy as np
    >>> from skimage import data
    >>> from matlab_occsens import overlayScoreMap
    >>> X = data.coffee()
    >>> rows, columns = np.mgrid[0:400, 0:600]
    >>> scoreMap = np.exp(-((rows - 150) ** 2 + (columns - 280) ** 2) / 80**2)
    >>> picture = overlayScoreMap(X, scoreMap)
    >>> picture.shape[0], picture.shape[1] > 600, picture.dtype
    (400, True, dtype('uint8'))
    >>> overlayScoreMap(X, scoreMap, AlphaData=0.6, Colorbar=False).shape
    (400, 600, 3)
    """
    options = parse_name_value(_FUNCTION, _OPTIONS, args, kwargs)
    image = display_rgb(X)
    plane = _score_plane(scoreMap, image.shape[:2])
    colors = _colormap(options["Colormap"])
    clim = _clim(options["CLim"], plane)
    alpha = _alpha(options["AlphaData"], image.shape[:2])
    colorbar = options["Colorbar"]
    if not isinstance(colorbar, (bool, np.bool_)):
        raise TypeError(f"{_FUNCTION}: Colorbar must be True or False; got {shown(colorbar)}.")
    painted = colors[colormap_indices(plane, clim, len(colors))]
    blended = to_uint8(alpha * painted + (1.0 - alpha) * image)
    if not colorbar:
        return blended
    return np.concatenate([blended, colorbar_panel(blended.shape[0], clim, colors)], axis=1)


def _tick_values(clim: tuple[float, float], most: int) -> tuple[np.ndarray, int]:
    """Round tick values inside ``clim`` and the decimals that show them.

    Steps are 1, 2 or 5 × 10^k: the finest that keeps the ticks to ``most``, made finer still
    when fewer than two ticks would fall inside a narrow ``clim``.
    """
    low, high = clim
    raw = (high - low) / max(most - 1, 1)
    top = math.floor(math.log10(raw)) + 1
    steps = [factor * 10.0**exponent for exponent in range(top, top - 6, -1) for factor in (5, 2, 1)]
    start = max(index for index, step in enumerate(steps) if step >= raw * (1 - 1e-9))
    for step in steps[start:]:
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        if last > first:
            break
    return np.arange(first, last + 1) * step, max(0, -math.floor(math.log10(step) + 1e-9))


def colorbar_panel(height: int, clim: tuple[float, float], colors: np.ndarray) -> np.ndarray:
    """An H-row colour bar panel: a gap, the colormap (largest value on top), ticks and labels."""
    scale = min(max(height / 450, 0.3), 0.8)
    thickness = 1 if scale < 0.6 else 2
    (_, text_height), baseline = cv2.getTextSize("0", _FONT, scale, thickness)
    ticks, decimals = _tick_values(clim, max(2, height // (2 * text_height + 4)))
    labels = [f"{round(tick, decimals) + 0.0:g}" for tick in ticks]  # + 0.0 turns -0 into 0
    label_width = max(cv2.getTextSize(label, _FONT, scale, thickness)[0][0] for label in labels)
    bar = max(8, round(height / 16))
    gap, tick = max(4, bar // 2), max(2, bar // 4)
    panel = np.full((height, gap + bar + tick + 2 + label_width + 3, 3), _WHITE, np.uint8)
    low, high = clim
    from_top = np.round(np.arange(height - 1, -1, -1) * ((len(colors) - 1) / max(height - 1, 1))).astype(np.intp)
    rows = to_uint8(colors[from_top])  # the last colour on top, the first at the bottom
    panel[:, gap : gap + bar] = rows[:, np.newaxis, :]
    for value, label in zip(ticks, labels):
        y = min(max(round((high - value) / (high - low) * (height - 1)), 0), height - 1)
        panel[y, gap + bar : gap + bar + tick] = 0
        baseline_y = min(max(y + text_height // 2, text_height), height - 1 - baseline // 2)
        cv2.putText(panel, label, (gap + bar + tick + 2, baseline_y), _FONT, scale, _BLACK, thickness, cv2.LINE_AA)
    return panel


def imshow(I: Any) -> Any:  # noqa: E741  (MATLAB's argument name)
    """Show an image in the current matplotlib axes, as MATLAB's ``imshow`` (no axes, true size ratio).

    MATLAB equivalent: ``imshow(I)`` (Image Processing Toolbox), for an RGB or grayscale image;
    it draws into the current matplotlib axes instead of a MATLAB figure.

    Parameters
    ----------
    I : array_like
        H×W×3 RGB or H×W grayscale, with ``imshow``'s display range for its class; typically
        the output of :func:`overlayScoreMap`.

    Returns
    -------
    matplotlib.image.AxesImage
        In a script, call ``matplotlib.pyplot.show()`` to open the window.

    Raises
    ------
    ImportError
        matplotlib is not installed (it is optional: ``pip install matplotlib``).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skimage import data
    >>> from matlab_occsens import imshow
    >>> shown = imshow(data.coffee())
    >>> shown.get_array().shape
    (400, 600, 3)
    >>> plt.close()
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "imshow needs matplotlib, which matlab-occsens does not install: pip install matplotlib "
            "(or save the picture with imwrite instead)."
        ) from error
    axes = plt.gca()
    shown_image = axes.imshow(display_rgb(I, "imshow"), interpolation="nearest")
    axes.set_axis_off()
    return shown_image
