"""MATLAB's ``imresize``, reproduced number for number.

``occlusionSensitivity`` upsamples its coarse map with ``imresize(map, [H W], method)``, so the
port needs MATLAB's resampler exactly (docs/specification.md §7). No Python library gives it: OpenCV's
``INTER_CUBIC`` uses the cubic kernel with a = -0.75 and replicates border pixels (0.2-0.4 off on
an 11×11 → 224×224 map), its nearest modes place samples differently, and scikit-image's
``resize`` interpolates with B-splines. This module follows MATLAB's separable algorithm
instead: per-dimension weight tables (Keys cubic with a = -0.5, triangle, box, Lanczos), kernel
stretching for antialiasing, mirrored borders, the smaller-scale dimension first, and a cast
back to the input's class after every pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from .._utils.checks import fits_in_memory, real_array, shown
from .._utils.namevalue import is_text, match_string, parse_name_value

__all__ = ["KERNEL_OF_METHOD", "SUPPORTED_DTYPES", "imresize", "resized_axes"]

_FUNCTION = "imresize"

Kernel = Callable[[np.ndarray], np.ndarray]
# How one dimension is resized: source indices (nearest-neighbour path) or a tap matrix.
Plan: TypeAlias = np.ndarray | sparse.csr_matrix

# MATLAB's method names, in MATLAB's order, and the kernel each one uses. "nearest" differs from
# "box" only in its antialiasing default.
_METHODS = ("nearest", "bilinear", "bicubic", "box", "triangle", "cubic", "lanczos2", "lanczos3")
KERNEL_OF_METHOD = {
    "nearest": "box",
    "bilinear": "triangle",
    "bicubic": "cubic",
    "box": "box",
    "triangle": "triangle",
    "cubic": "cubic",
    "lanczos2": "lanczos2",
    "lanczos3": "lanczos3",
}

# The classes MATLAB's imresize accepts (besides logical, handled apart). It rejects int64 and
# uint64 and has no half precision, so float16 and 64-bit integers are rejected here too.
SUPPORTED_DTYPES = tuple(
    np.dtype(name) for name in ("float64", "float32", "uint8", "uint16", "uint32", "int8", "int16", "int32")
)

_DEFAULTS = {"Antialiasing": None, "Method": None, "OutputSize": None, "Scale": None}


# --- kernels: MATLAB's formulas, evaluated in the same order of operations ----------------------


def _box(x: np.ndarray) -> np.ndarray:
    return ((-0.5 <= x) & (x < 0.5)).astype(np.float64)


def _triangle(x: np.ndarray) -> np.ndarray:
    return (x + 1) * ((-1 <= x) & (x < 0)) + (1 - x) * ((0 <= x) & (x <= 1))


def _cubic(x: np.ndarray) -> np.ndarray:
    # Powers as products: the same bits on every CPU (np.power may use SIMD approximations).
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    return (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1) + (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * (
        (1 < absx) & (absx <= 2)
    )


def _lanczos(lobes: int) -> Kernel:
    eps = np.finfo(np.float64).eps

    def kernel(x: np.ndarray) -> np.ndarray:
        pix = np.pi * x
        value = (np.sin(pix) * np.sin(pix / lobes) + eps) / ((np.pi**2 * (x * x) / lobes) + eps)
        return value * (np.abs(x) < lobes)

    return kernel


_KERNELS: dict[str, tuple[Kernel, float]] = {
    "box": (_box, 1.0),
    "triangle": (_triangle, 2.0),
    "cubic": (_cubic, 4.0),
    "lanczos2": (_lanczos(2), 4.0),
    "lanczos3": (_lanczos(3), 6.0),
}


# --- public function ----------------------------------------------------------------------------


def imresize(A: ArrayLike, *args: Any, **options: Any) -> np.ndarray:
    """Resize an image exactly as MATLAB's ``imresize`` does.

    MATLAB equivalent: ``imresize`` (Image Processing Toolbox), number for number, including its
    antialiasing when shrinking; tested against MATLAB's own outputs.

    Only the first two dimensions (rows, columns) are resized; trailing dimensions (channels,
    observations, ...) are kept. The call forms are MATLAB's::

        imresize(A, scale)                      # scalar scale: size = ceil(scale * size)
        imresize(A, [m, n])                     # one of m, n may be NaN: keep the aspect ratio
        imresize(A, [m, n], "bilinear")         # method after the scale or size
        imresize(A, [m, n], Method="nearest", Antialiasing=False)
        imresize(A, "OutputSize", [m, n], "Method", "box")   # MATLAB name-value pairs

    Parameters
    ----------
    A : array_like, shape (H, W, ...)
        The image: float64, float32, uint8, uint16, uint32, int8, int16, int32 or bool, with at
        least two dimensions and no empty one. It is never modified.
    *args
        MATLAB's positional arguments, in this order, each optional:

        - ``scale_or_size``: a positive scale factor, or the output size ``[m, n]`` (sizes
          that are not integers are rounded up, as in MATLAB);
        - ``method``: ``"bicubic"`` (default), ``"bilinear"``, ``"nearest"``, or one of the
          kernel names ``"cubic"``, ``"triangle"``, ``"box"``, ``"lanczos2"``, ``"lanczos3"``;
        - name-value pairs such as ``"OutputSize", [m, n]``.
    **options
        The name-value options as keywords. Names and string values are matched
        case-insensitively, and a unique prefix is enough.

        Antialiasing : bool
            Stretch the kernel when shrinking. Defaults to False for ``"nearest"`` and True
            for every other method (``"box"`` included, as in MATLAB).
        Method : str
            Same as the positional ``method``.
        OutputSize : sequence of 2 floats
            Same as the positional size.
        Scale : float or sequence of 2 floats
            Row and column scale factors. Given together with ``OutputSize``, the scale sets
            the sampling positions and ``OutputSize`` the number of samples (MATLAB's rule).

    Returns
    -------
    numpy.ndarray
        A new array of shape ``(m, n, ...)`` and the input's dtype. Integer results are rounded
        half away from zero and saturated; bool input is resized as uint8 (0/255) and
        thresholded with ``> 128``, as MATLAB does for logical images.

    Raises
    ------
    TypeError
        For a dtype MATLAB does not resize, or a non-numeric scale, size or option value.
    ValueError
        For a bad scale or size, an unknown method or option, or a value given twice.

    Notes
    -----
    Not ported: indexed images (``imresize(X, map, ...)``, ``Colormap``, ``Dither``), custom
    ``{f, w}`` kernels and categorical arrays. A scale, size or method given both positionally
    and by name is an error here, where MATLAB quietly lets the name-value pair win.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.arange(16, dtype=float).reshape(4, 4)
    >>> imresize(A, [3, 3]).round(6)
    array([[ 0.750552,  2.100442,  3.450331],
           [ 6.15011 ,  7.5     ,  8.84989 ],
           [11.549669, 12.899558, 14.249448]])
    >>> imresize(A, 0.5, "nearest")
    array([[ 5.,  7.],
           [13., 15.]])
    >>> imresize(A, [2, np.nan], Antialiasing=False).shape
    (2, 2)
    """
    image = _as_image(A)
    size_arg, method_arg, pairs = split_positional(args, _METHODS, _FUNCTION)
    params = parse_name_value(_FUNCTION, _DEFAULTS, pairs, options)
    method = resolve_method(method_arg, params["Method"], _METHODS, "bicubic", _FUNCTION)
    antialiasing = resolve_antialiasing(params["Antialiasing"], method, _FUNCTION)
    scale, output_size = _resolve_scale_and_size(size_arg, params, image.shape[:2])
    fits_in_memory((*output_size, *image.shape[2:]), 8, "scale or output size", _FUNCTION)  # float64 work

    is_bool = image.dtype == np.bool_
    work = image.astype(np.uint8) * np.uint8(255) if is_bool else image
    work = resized_axes(work, output_size, scale, KERNEL_OF_METHOD[method], antialiasing)
    return work > 128 if is_bool else work


def resized_axes(
    image: np.ndarray, output_size: Sequence[int], scale: Sequence[float], kernel_name: str, antialiasing: bool
) -> np.ndarray:
    """A new contiguous array: ``image``'s leading ``len(scale)`` axes resized, one separable pass
    each, trailing axes kept. The axis of the smallest scale goes first, in axis order on a tie
    (MATLAB's stable sort), and each pass casts back to the image's class. ``imresize``,
    ``imresize3`` and the map upsampling of signals and volumes all resize through here."""
    work = image
    for axis in sorted(range(len(scale)), key=lambda axis: scale[axis]):
        plan = _pass_plan(work.shape[axis], output_size[axis], scale[axis], kernel_name, antialiasing)
        work = _resize_axis(work, axis, plan)
    if work is image:  # every pass was skipped: still hand back a new array
        work = image.copy()
    return np.ascontiguousarray(work)


# --- argument handling --------------------------------------------------------------------------


def _as_image(A: ArrayLike) -> np.ndarray:
    image = real_array(A, "A", _FUNCTION, "a numeric or logical image array", logical=True)
    if image.dtype != np.bool_ and image.dtype not in SUPPORTED_DTYPES:
        names = ", ".join(str(dtype) for dtype in SUPPORTED_DTYPES)
        raise TypeError(f"{_FUNCTION}: A must have dtype {names} or bool (MATLAB's classes); got {image.dtype}.")
    if image.ndim < 2:
        raise ValueError(
            f"{_FUNCTION}: A must have at least 2 dimensions (rows, columns); got shape "
            f"{image.shape}. Reshape a vector to (1, n) or (n, 1) first."
        )
    if image.size == 0:
        raise ValueError(f"{_FUNCTION}: A must not be empty; got shape {image.shape}.")
    return image


def split_positional(
    args: tuple[Any, ...], methods: tuple[str, ...], function: str
) -> tuple[Any, Any, tuple[Any, ...]]:
    """Split ``args`` into (scale or size, method, name-value pairs), as MATLAB does.

    The first string is the method if it names one of ``methods``, otherwise it starts the
    name-value pairs. Anything before it is the scale or size (at most one argument).
    """
    first_text = next((k for k, arg in enumerate(args) if is_text(arg)), len(args))
    before, rest = args[:first_text], args[first_text:]
    if len(before) > 1:
        raise ValueError(
            f"{function}: expected at most one scale or size argument before the method and "
            f"options; got {len(before)} positional arguments ({', '.join(map(shown, before))})."
        )
    size_arg = before[0] if before else None
    # An odd number of trailing arguments cannot all be pairs: the first must be the method,
    # and if it does not name one, the method check gives the clearer error.
    if rest and (_names_method(rest[0], methods) or len(rest) % 2):
        return size_arg, rest[0], rest[1:]
    return size_arg, None, rest


def _names_method(text: Any, methods: tuple[str, ...]) -> bool:
    lowered = str(text).lower()
    return bool(lowered) and sum(name.startswith(lowered) for name in methods) == 1


def resolve_method(positional: Any, named: Any, methods: tuple[str, ...], default: str, function: str) -> str:
    """The method given positionally or as ``Method=`` (not both), else ``default``."""
    if positional is not None and named is not None:
        raise ValueError(f"{function}: the method is given twice (as {positional!r} and Method={named!r}).")
    given = positional if positional is not None else named
    if given is None:
        return default
    return match_string(given, methods, "method", function)


def resolve_antialiasing(value: Any, method: str, function: str) -> bool:
    """``Antialiasing``: as given, else on for every method except nearest (MATLAB's default)."""
    if value is None:
        return method != "nearest"
    flag = real_array(value, "Antialiasing", function, "true or false", logical=True)
    if flag.size == 1 and np.all(np.isfinite(flag)):
        return bool(flag.ravel()[0])
    raise TypeError(f"{function}: Antialiasing must be true or false; got {shown(value)}.")


def _resolve_scale_and_size(
    size_arg: Any, params: dict[str, Any], in_size: tuple[int, int]
) -> tuple[tuple[float, float], tuple[int, int]]:
    """MATLAB's rules linking scale and output size; returns both per dimension."""
    scale, size = None, None
    if size_arg is not None:
        values = _numeric_vector(size_arg, "scale or output size")
        if values.size == 1:
            scale = _checked_scale(values, "scale")
        elif values.size == 2:
            size = _checked_size(values, "output size")
        else:
            raise ValueError(
                f"{_FUNCTION}: scale or output size must be a positive scalar or a 2-element "
                f"[rows, columns] vector; got {values.size} elements."
            )
    for name, current in (("Scale", scale), ("OutputSize", size)):
        if params[name] is not None and current is not None:
            raise ValueError(f"{_FUNCTION}: {name} is given twice (positionally and as {name}=...).")
    if params["Scale"] is not None:
        scale = _checked_scale(_numeric_vector(params["Scale"], "Scale"), "Scale")
    if params["OutputSize"] is not None:
        size = _checked_size(_numeric_vector(params["OutputSize"], "OutputSize"), "OutputSize")
    if scale is None and size is None:
        raise ValueError(
            f"{_FUNCTION}: give a scale or an output size, e.g. imresize(A, 0.5) or imresize(A, [224, 224])."
        )
    return _complete_scale_and_size(scale, size, in_size)


def _numeric_vector(value: Any, argument: str) -> np.ndarray:
    return real_array(value, argument, _FUNCTION, "real numbers").astype(np.float64).ravel()


def _checked_scale(values: np.ndarray, argument: str) -> np.ndarray:
    if values.size not in (1, 2) or not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(
            f"{_FUNCTION}: {argument} must be a positive finite scalar or 2-element vector; got {values.tolist()}."
        )
    return np.broadcast_to(values, (2,))


def _checked_size(values: np.ndarray, argument: str) -> np.ndarray:
    valid = values.size == 2 and np.all(np.isnan(values) | (np.isfinite(values) & (values > 0)))
    if not valid or np.all(np.isnan(values)):
        raise ValueError(
            f"{_FUNCTION}: {argument} must be 2 positive finite numbers [rows, columns], one of "
            f"which may be NaN; got {values.tolist()}."
        )
    return values


def _complete_scale_and_size(
    scale: np.ndarray | None, size: np.ndarray | None, in_size: tuple[int, int]
) -> tuple[tuple[float, float], tuple[int, int]]:
    """Fill in whichever of scale and size is missing, with MATLAB's arithmetic."""
    rows, cols = in_size
    given_dim = None
    if size is not None:
        size = size.copy()
        if np.isnan(size[0]):
            size[0], given_dim = size[1] * rows / cols, 1
        elif np.isnan(size[1]):
            size[1], given_dim = size[0] * cols / rows, 0
        size = np.ceil(size)
    if scale is None:
        assert size is not None  # the caller gives at least one of the two
        if given_dim is None:
            scale = size / np.array(in_size, dtype=np.float64)
        else:
            scale = np.full(2, size[given_dim] / in_size[given_dim])
    if size is None:
        size = np.ceil(scale * np.array(in_size, dtype=np.float64))
    return (float(scale[0]), float(scale[1])), (int(size[0]), int(size[1]))


# --- the resampling -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _pass_plan(in_length: int, out_length: int, scale: float, kernel_name: str, antialiasing: bool) -> Plan:
    """How one dimension is resized, cached: an occlusion run resizes many maps alike.

    Either the source index of each output, when every output copies one input pixel
    (MATLAB's nearest-neighbour path, which does no arithmetic and no cast), or the tap matrix.
    """
    kernel, width = _KERNELS[kernel_name]
    indices, weights = _contributions(in_length, out_length, scale, kernel, width, antialiasing)
    if weights.shape[1] == 1 and np.all(weights == 1):
        source = indices[:, 0]
        source.flags.writeable = False
        return source
    return _tap_matrix(indices, weights, in_length)


def _contributions(
    in_length: int,
    out_length: int,
    scale: float,
    kernel: Kernel,
    width: float,
    antialiasing: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """0-based input indices and weights, one row per output pixel (MATLAB's ``contributions``)."""
    weight_of = kernel
    if scale < 1 and antialiasing:
        weight_of, width = _stretched(kernel, scale), width / scale
    u = np.arange(1, out_length + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    indices = left[:, None] + np.arange(int(np.ceil(width)) + 2)
    weights = weight_of(u[:, None] - indices)
    weights = weights / _row_sums(weights)[:, None]
    indices = _mirror(indices.astype(np.intp) - 1, in_length)
    used = np.any(weights != 0, axis=0)
    return indices[:, used], weights[:, used]


def _row_sums(weights: np.ndarray) -> np.ndarray:
    """Each row's sum, added left to right like MATLAB's column-major ``sum(weights, 2)``."""
    total = np.zeros(weights.shape[0])
    for column in weights.T:
        total += column
    return total


def _stretched(kernel: Kernel, scale: float) -> Kernel:
    """The antialiasing kernel ``scale * kernel(scale * t)``, ``1/scale`` times wider."""

    def stretched(t: np.ndarray) -> np.ndarray:
        return scale * kernel(scale * t)

    return stretched


def _mirror(indices: np.ndarray, length: int) -> np.ndarray:
    """Fold 0-based indices into 0..length-1, repeating the edge pixel (period 2*length)."""
    folded = np.mod(indices, 2 * length)
    return np.where(folded < length, folded, 2 * length - 1 - folded)


def _resize_axis(array: np.ndarray, axis: int, plan: Plan) -> np.ndarray:
    """One separable pass along ``axis``; the result may be a non-contiguous view.

    Weighted sums are formed in float64 and cast back to the array's class.
    """
    if isinstance(plan, np.ndarray):
        if np.array_equal(plan, np.arange(array.shape[axis])):
            return array
        return np.take(array, plan, axis=axis)
    lines = np.moveaxis(array, axis, 0)
    sums = plan @ lines.reshape(lines.shape[0], -1)
    resized = _cast_like(sums, array.dtype).reshape(plan.shape[0], *lines.shape[1:])
    return np.moveaxis(resized, 0, axis)


def _tap_matrix(indices: np.ndarray, weights: np.ndarray, in_length: int) -> sparse.csr_matrix:
    """The pass as a sparse (out x in) matrix that keeps every tap, in tap order.

    Its product adds ``weight * pixel`` tap by tap for each output, like MATLAB's loop: the sums
    do not depend on how many channels share the pass, and a NaN or Inf reaches only the
    outputs whose taps include it (a dense matrix would spread it through ``0 * NaN``).
    """
    out_length, taps = weights.shape
    row_starts = np.arange(0, out_length * taps + 1, taps)
    return sparse.csr_matrix((weights.ravel(), indices.ravel(), row_starts), shape=(out_length, in_length))


def _cast_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """MATLAB's conversion of a double result to ``dtype``: round half away, saturate."""
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    whole = np.trunc(values)
    rounded = whole + np.sign(values) * (np.abs(values - whole) >= 0.5)
    info = np.iinfo(dtype)
    return np.clip(rounded, info.min, info.max).astype(dtype)
