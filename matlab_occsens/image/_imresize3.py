"""MATLAB's ``imresize3``: a volume resized axis by axis with ``imresize``'s kernels.

MATLAB documents ``imresize3`` with the same methods, the same antialiasing rule and the same
separable resampling as ``imresize``, for three axes instead of two, so the port reuses the
weight tables of :mod:`._imresize` exactly (docs/specification.md §9.6). No MATLAB output checks
these numbers; each pass is checked against ``imresize`` along that axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._utils.checks import fits_in_memory, real_array, shown
from .._utils.namevalue import parse_name_value
from ._imresize import (
    KERNEL_OF_METHOD,
    SUPPORTED_DTYPES,
    resized_axes,
    resolve_antialiasing,
    resolve_method,
    split_positional,
)

__all__ = ["imresize3"]

_FUNCTION = "imresize3"
_METHODS = ("nearest", "linear", "cubic", "box", "triangle", "lanczos2", "lanczos3")
_KERNELS = {**KERNEL_OF_METHOD, "linear": "triangle"}
_DEFAULTS = {"Antialiasing": None, "Method": None, "OutputSize": None, "Scale": None}


def imresize3(V: ArrayLike, *args: Any, **options: Any) -> np.ndarray:
    """Resize a 3-D volume as MATLAB's ``imresize3`` does.

    The call forms are MATLAB's::

        imresize3(V, scale)                        # size = ceil(scale * size) on every axis
        imresize3(V, [r, c, p])                    # rows, columns, planes
        imresize3(V, [r, c, p], "nearest")         # method after the scale or size
        imresize3(V, Scale=[2, 2, 0.5], Method="linear", Antialiasing=False)

    MATLAB equivalent: ``imresize3`` (Image Processing Toolbox). Each axis is resized with
    :func:`imresize`'s kernels, one axis after another; the order of the passes is assumed
    (docs/specification.md §9).

    Parameters
    ----------
    V : array_like, shape (r, c, p)
        The volume: float64, float32, uint8, uint16, uint32, int8, int16 or int32, three
        dimensions, none empty. It is never modified.
    *args
        MATLAB's positional arguments, in this order, each optional: the scale (a positive
        scalar) or the output size ``[r, c, p]`` (sizes that are not integers are rounded
        up); the method, ``"cubic"`` (default), ``"linear"``, ``"nearest"``, ``"box"``,
        ``"triangle"``, ``"lanczos2"`` or ``"lanczos3"``; then name-value pairs.
    **options
        Name-value options (case-insensitive names and values; unique prefixes accepted).

        Antialiasing : bool
            Stretch the kernel along an axis that shrinks. Default: True, except for
            ``"nearest"``.
        Method : str
            Same as the positional method.
        OutputSize : sequence of 3 numbers
            Same as the positional size.
        Scale : float or sequence of 3 floats
            One scale for every axis, or one per axis. Given with ``OutputSize``, the scale
            sets the sampling positions and ``OutputSize`` the number of samples.

    Returns
    -------
    numpy.ndarray
        A new array of the input's dtype; integer results are rounded half away from zero and
        saturated.

    Notes
    -----
    Each axis is resized with ``imresize``'s rule along that axis (docs/specification.md §7:
    sampling positions, kernels, mirrored borders, a cast after each pass), the axis of the
    smallest scale first and in axis order on a tie. Not ported: categorical volumes, and NaN
    entries in the output size.

    Examples
    --------
    >>> import numpy as np
    >>> V = np.arange(8, dtype=float).reshape(2, 2, 2)
    >>> imresize3(V, 2, "nearest")[:, :, 0]
    array([[0., 0., 2., 2.],
           [0., 0., 2., 2.],
           [4., 4., 6., 6.],
           [4., 4., 6., 6.]])
    >>> imresize3(V, [3, 3, 3], "linear")[1]
    array([[2. , 2.5, 3. ],
           [3. , 3.5, 4. ],
           [4. , 4.5, 5. ]])
    """
    volume = _as_volume(V)
    size_arg, method_arg, pairs = split_positional(args, _METHODS, _FUNCTION)
    params = parse_name_value(_FUNCTION, _DEFAULTS, pairs, options)
    method = resolve_method(method_arg, params["Method"], _METHODS, "cubic", _FUNCTION)
    antialiasing = resolve_antialiasing(params["Antialiasing"], method, _FUNCTION)
    scale, output_size = _scale_and_size(size_arg, params, volume.shape)
    fits_in_memory(output_size, 8, "scale or output size", _FUNCTION)  # float64 work
    return resized_axes(volume, output_size, scale, _KERNELS[method], antialiasing)


def _as_volume(V: ArrayLike) -> np.ndarray:
    volume = real_array(V, "V", _FUNCTION, "a 3-D numeric array")
    if volume.dtype not in SUPPORTED_DTYPES:
        names = ", ".join(str(dtype) for dtype in SUPPORTED_DTYPES)
        raise TypeError(f"{_FUNCTION}: V must have dtype {names} (MATLAB's classes); got {volume.dtype}.")
    if volume.ndim != 3:
        raise ValueError(
            f"{_FUNCTION}: V must be a 3-D volume (rows, columns, planes); got shape {volume.shape}"
            f"{'; resize an image with imresize' if volume.ndim == 2 else ''}."
        )
    if volume.size == 0:
        raise ValueError(f"{_FUNCTION}: V must not be empty; got shape {volume.shape}.")
    return volume


def _numbers(value: Any, argument: str) -> np.ndarray:
    return real_array(value, argument, _FUNCTION, "positive real numbers").astype(np.float64).ravel()


def _scale_and_size(
    size_arg: Any, params: dict[str, Any], in_size: tuple[int, ...]
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """MATLAB's rules linking scale and output size, per axis."""
    scale = size = None
    if size_arg is not None:
        values = _numbers(size_arg, "scale or output size")
        if values.size == 1:
            scale = _positive(values, "scale", (1,))
        elif values.size == 3:
            size = _positive(values, "output size", (3,))
        else:
            raise ValueError(
                f"{_FUNCTION}: scale or output size must be a positive scalar or a 3-element "
                f"[rows, columns, planes] vector; got {values.size} elements."
            )
    for name, current in (("Scale", scale), ("OutputSize", size)):
        if params[name] is not None and current is not None:
            raise ValueError(f"{_FUNCTION}: {name} is given twice (positionally and as {name}=...).")
    if params["Scale"] is not None:
        scale = _positive(_numbers(params["Scale"], "Scale"), "Scale", (1, 3))
    if params["OutputSize"] is not None:
        size = _positive(_numbers(params["OutputSize"], "OutputSize"), "OutputSize", (3,))
    if scale is None and size is None:
        raise ValueError(
            f"{_FUNCTION}: give a scale or an output size, e.g. imresize3(V, 0.5) or imresize3(V, [64, 64, 32])."
        )
    if size is not None:
        size = np.ceil(size)
    if scale is None:
        assert size is not None
        scale = size / np.array(in_size, dtype=np.float64)
    scale = np.broadcast_to(scale, (3,))
    if size is None:
        size = np.ceil(scale * np.array(in_size, dtype=np.float64))
    return tuple(float(value) for value in scale), tuple(int(value) for value in size)


def _positive(values: np.ndarray, argument: str, counts: tuple[int, ...]) -> np.ndarray:
    if values.size not in counts or not np.all(np.isfinite(values) & (values > 0)):
        wanted = " or ".join(f"{count} positive finite number{'s' if count > 1 else ''}" for count in counts)
        raise ValueError(f"{_FUNCTION}: {argument} must be {wanted}; got {shown(values.tolist())}.")
    return values
