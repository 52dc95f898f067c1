"""Why a probe case differs: read back what MATLAB did and name the docs/specification.md rule it breaks.

The probe networks make MATLAB's raw map legible. With the ``rowcol`` probe and every channel
selected, a mask changes the row channels of exactly the rows it covers and the column channels of
its columns, so each map entry spells out its mask; the channel-sum channels then give the value
it was filled with. Other cases are read by ratio (a time axis averaged, not summed) or by channel
matching. What cannot be read from one case is inferred across cases by ``crosscheck``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from matlab_occsens._hooks import OcclusionOptions, mask_grid, mround, occlusion_options

from .casefile import OcclusionCase
from .probe import FINAL_LAYER, channel_count
from .replay import Replay, as_image

__all__ = ["Finding", "exercised_rules", "explain", "layout", "decode_spans"]

Span = tuple[int, int]  # first and last covered index, 1-based inclusive (MATLAB's view)

_AUTO_FRACTION = {"MaskSize": 0.2, "Stride": 0.1}


@dataclass(frozen=True)
class Finding:
    """A rule (a key of ``rules.RULES``, or None when none explains it) and what MATLAB did."""

    rule: str | None
    text: str
    direct: bool = True


# --- which rules a case depends on ---------------------------------------------------------------


def _given(case: OcclusionCase, name: str) -> np.ndarray | None:
    """The option's numbers as given, or None for "auto" (given or by default)."""
    value = case.options.get(name, "auto")
    return None if isinstance(value, str) else np.ravel(value)


def _effective(case: OcclusionCase, name: str) -> list[int]:
    """MaskSize or Stride per dimension as docs/specification.md resolves it (auto values raised to 1)."""
    given = _given(case, name)
    if given is not None:
        return [int(item) for item in np.broadcast_to(given, (2,))]
    return [max(mround(_AUTO_FRACTION[name] * n), 1) for n in case.input_size[:2]]


def exercised_rules(case: OcclusionCase) -> set[str]:
    """Every rule of ``rules.RULES`` that the case's numbers depend on."""
    height, width = case.input_size[:2]
    clipping = str(case.options.get("MaskClipping", "on")).lower() == "on"
    mask = _effective(case, "MaskSize")
    used = {"output-single", "mask-value", "grid-clipping-on" if clipping else "grid-clipping-off"}
    for name, fraction in _AUTO_FRACTION.items():
        if _given(case, name) is not None:
            continue
        used.add("auto-mround")
        if height != width:
            used.add("auto-per-dimension")
        if min(mround(fraction * n) for n in (height, width)) == 0:
            used.add("auto-raise-to-one")
    if clipping and any(m % 2 == 0 for m in mask):
        used.add("even-mask-before-centre")
    if not clipping and (mask[0] > height or mask[1] > width):
        used.add("mask-larger-off-error")
    fill = _given(case, "MaskValue")
    if case.X.dtype.kind in "iu" and (fill is None or np.any(fill != np.round(fill))):
        used.add("convert-before-occlusion")
    if str(case.options.get("OutputUpsampling", "bicubic")).lower() != "none":
        used.add("upsampling")
    if case.channelIdx.size > 1:
        used.add("channel-order")
    used.add("time-summed" if case.output == "time" else "total-activation")
    return used


# --- mask layouts along one dimension ----------------------------------------------------------

# How masks may be laid out along a dimension: SPEC's two and the alternatives MATLAB might use.
VARIANTS = {
    "on": "centres 1, 1+s, ...; an even mask's extra row before the centre",
    "on-after": "centres 1, 1+s, ...; an even mask's extra row after the centre",
    "off": "full masks from the first row while they fit",
    "off-last": "full masks from the first row, plus one ending on the last row",
}


def layout(size: int, mask: int, stride: int, variant: str) -> list[Span]:
    """Covered spans along one dimension under one of ``VARIANTS``."""
    if variant in ("on", "on-after"):
        before = mask // 2 if variant == "on" else (mask - 1) // 2
        return [(max(c - before, 1), min(c - before + mask - 1, size)) for c in range(1, size + 1, stride)]
    spans = [(top, top + mask - 1) for top in range(1, size - mask + 2, stride)]
    if variant == "off-last" and spans and spans[-1][1] < size:
        spans.append((size - mask + 1, size))
    return spans


def decode_spans(scoreMap: np.ndarray, height: int, width: int) -> tuple[list[Span], list[Span]] | None:
    """Rows and columns each mask covered, read from a ``rowcol`` raw map of every channel.

    None when the map is not a grid of contiguous rectangles (then it is not a probe map).
    """
    if scoreMap.ndim != 3 or scoreMap.shape[2] < height + width or 0 in scoreMap.shape:
        return None
    hit = np.abs(scoreMap) > 1e-3
    rows, cols = hit[..., :height], hit[..., height : height + width]
    if not (np.all(rows == rows[:, :1]) and np.all(cols == cols[:1, :])):
        return None
    row_spans = [_span(line) for line in rows[:, 0]]
    col_spans = [_span(line) for line in cols[0, :]]
    if None in row_spans or None in col_spans:
        return None
    return row_spans, col_spans  # type: ignore[return-value]


def _span(line: np.ndarray) -> Span | None:
    (covered,) = np.nonzero(line)
    if covered.size == 0 or covered[-1] - covered[0] + 1 != covered.size:
        return None
    return int(covered[0]) + 1, int(covered[-1]) + 1


def _shown(spans: list[Span], limit: int = 4) -> str:
    text = ", ".join(f"{first}-{last}" for first, last in spans[:limit])
    return f"{text}, ... ({len(spans)} masks)" if len(spans) > limit else text or "none"


# --- explaining one dimension --------------------------------------------------------------------


@dataclass(frozen=True)
class _Axis:
    """One dimension of the port's grid: its name, size, the other size, and its parameters."""

    name: str  # "rows" or "columns"
    size: int
    other: int
    mask: int
    stride: int
    variant: str
    auto: dict[str, bool]

    @property
    def unit(self) -> str:
        return self.name[:-1]


def _fits(axis: _Axis, spans: list[Span]) -> tuple[int, int, str] | None:
    """The (mask, stride, variant) closest to the port's that reproduces MATLAB's spans."""
    lengths = {last - first + 1 for first, last in spans}
    steps = {b[i] - a[i] for a, b in zip(spans, spans[1:]) for i in (0, 1)}
    masks = sorted({axis.mask, *lengths})
    strides = sorted({axis.stride, axis.size, *(step for step in steps if step > 0)})
    candidates = [
        (int(mask != axis.mask) + int(stride != axis.stride) + int(variant != axis.variant), mask, stride, variant)
        for mask in masks
        for stride in strides
        for variant in VARIANTS
        if layout(axis.size, mask, stride, variant) == spans
    ]
    return min(candidates)[1:] if candidates else None


def _parameter_finding(axis: _Axis, option: str, used: int, expected: int) -> Finding:
    grid_rule = "grid-clipping-on" if axis.variant.startswith("on") else "grid-clipping-off"
    if not axis.auto[option]:
        return Finding(grid_rule, f"{axis.name}: MATLAB's masks use {option} {used} where {expected} was given.")
    fraction = _AUTO_FRACTION[option]
    product = fraction * axis.size
    if used == max(mround(fraction * axis.other), 1) and axis.other != axis.size:
        return Finding(
            "auto-per-dimension",
            f"{axis.name}: MATLAB's auto {option} is {used} = round({fraction}*{axis.other}), from the other "
            f"dimension; this port takes each dimension's own size: round({fraction}*{axis.size}) = {expected}.",
        )
    if mround(product) == 0:
        return Finding(
            "auto-raise-to-one",
            f"{axis.name}: round({fraction}*{axis.size}) = 0; MATLAB's auto {option} is {used} where this port "
            f"raises it to 1.",
        )
    kind = " (halves to even)" if used == round(product) else ""
    return Finding(
        "auto-mround",
        f"{axis.name}: MATLAB's auto {option} for {axis.size} {axis.unit}s is {used}{kind}; this port: "
        f"round({fraction}*{axis.size}) = {expected}, halves away from zero.",
    )


def _variant_finding(axis: _Axis, variant: str, mask: int, stride: int) -> Finding:
    if {axis.variant, variant} == {"on", "on-after"}:
        after, before = layout(axis.size, mask, stride, "on-after"), layout(axis.size, mask, stride, "on")
        index = next(index for index, pair in enumerate(zip(after, before)) if pair[0] != pair[1])
        centre = 1 + index * stride
        return Finding(
            "even-mask-before-centre",
            f"{axis.name}: MATLAB puts the extra {axis.unit} of the even {mask}-{axis.unit} mask after its centre: "
            f"centred on {axis.unit} {centre} it covers {after[index][0]}-{after[index][1]}, where this port "
            f"covers {before[index][0]}-{before[index][1]}.",
        )
    if {axis.variant, variant} == {"off", "off-last"}:
        return Finding(
            "grid-clipping-off",
            f"{axis.name}: MATLAB adds a last full mask at {axis.unit}s {axis.size - mask + 1}-{axis.size}, "
            f"which the stride {stride} does not reach.",
        )
    rule = "grid-clipping-on" if axis.variant.startswith("on") else "grid-clipping-off"
    return Finding(rule, f"{axis.name}: MATLAB lays out the masks as: {VARIANTS[variant]}.")


def _explain_axis(axis: _Axis, spans: list[Span]) -> Iterator[Finding]:
    ours = layout(axis.size, axis.mask, axis.stride, axis.variant)
    if spans == ours:
        return
    fit = _fits(axis, spans)
    if fit is None:
        rule = "grid-clipping-on" if axis.variant.startswith("on") else "grid-clipping-off"
        yield Finding(rule, f"{axis.name}: MATLAB's masks cover {_shown(spans)}; this port's cover {_shown(ours)}.")
        return
    mask, stride, variant = fit
    if mask != axis.mask:
        yield _parameter_finding(axis, "MaskSize", mask, axis.mask)
    if stride != axis.stride and len(spans) > 1:
        yield _parameter_finding(axis, "Stride", stride, axis.stride)
    if variant != axis.variant:
        yield _variant_finding(axis, variant, mask, stride)


# --- the case-level readers ---------------------------------------------------------------------


def _port_options(case: OcclusionCase) -> OcclusionOptions:
    return occlusion_options(as_image(case), (), dict(case.options))


def _all_probe_channels(case: OcclusionCase) -> bool:
    count = channel_count(case.input_size, case.output)
    return case.output == FINAL_LAYER.get(case.probe) and np.array_equal(case.channelIdx, np.arange(1, count + 1))


def _raw(case: OcclusionCase) -> bool:
    return str(case.options.get("OutputUpsampling", "bicubic")).lower() == "none"


def _geometry(case: OcclusionCase, options: OcclusionOptions) -> list[Finding] | None:
    """Findings about mask positions; None when MATLAB's map cannot be read as mask spans."""
    height, width = case.input_size[:2]
    decoded = decode_spans(case.scoreMap, height, width)
    if decoded is None:
        return None
    variant = "on" if options.mask_clipping else "off"
    findings = []
    for index, (name, spans) in enumerate(zip(("rows", "columns"), decoded)):
        axis = _Axis(
            name,
            case.input_size[index],
            case.input_size[1 - index],
            options.mask_size[index],
            options.stride[index],
            variant,
            {option: _given(case, option) is None for option in _AUTO_FRACTION},
        )
        findings.extend(_explain_axis(axis, spans))
    return findings


def _fill(case: OcclusionCase, options: OcclusionOptions) -> list[Finding]:
    """The value MATLAB filled each channel with, read from the channel-sum channels."""
    height, width, channels = case.input_size
    image = as_image(case).astype(np.float64)
    grid = mask_grid((height, width), options.mask_size, options.stride, options.mask_clipping)
    drops = case.scoreMap.reshape(len(grid), -1)[:, height + width :]  # the channel-sum channels
    estimates = np.empty((len(grid), channels))
    for index, ((r0, r1), (c0, c1)) in enumerate(grid.windows()):
        covered = image[r0:r1, c0:c1].sum(axis=(0, 1))
        estimates[index] = (covered - drops[index]) / ((r1 - r0) * (c1 - c0))
    fill = estimates.mean(axis=0)
    if np.max(np.abs(estimates - fill)) > 1e-3 * max(1.0, float(np.max(np.abs(fill)))):
        return []  # not one value per channel: the masks themselves differ
    ours = options.mask_value
    if np.allclose(fill, ours, rtol=1e-4, atol=1e-3):
        return []
    shown = ", ".join(f"{value:.4f}" for value in fill)
    expected = ", ".join(f"{value:.4f}" for value in ours)
    rounded = np.clip(np.floor(ours + 0.5), 0, 255)
    if case.X.dtype.kind in "iu" and np.allclose(fill, rounded, atol=1e-3):
        return [
            Finding(
                "convert-before-occlusion",
                f"MATLAB fills the {case.X.dtype.name} image with [{shown}], the fill [{expected}] rounded to "
                f"{case.X.dtype.name}: it occludes X before converting it to single.",
            )
        ]
    return [Finding("mask-value", f"MATLAB fills the channels with [{shown}] where this port fills with [{expected}].")]


def _ratio(matlab: np.ndarray, ours: np.ndarray) -> float | None:
    """The single factor c with matlab = c * ours, if there is one."""
    if matlab.shape != ours.shape or not np.any(ours):
        return None
    factor = float(np.sum(matlab * ours) / np.sum(ours * ours))
    return factor if np.allclose(matlab, factor * ours, rtol=1e-4, atol=1e-4 * np.max(np.abs(matlab))) else None


def _reduction(case: OcclusionCase, ours: np.ndarray) -> list[Finding]:
    """A time or spatial axis averaged instead of summed shows as a constant factor."""
    factor = _ratio(case.scoreMap.astype(np.float64), ours.astype(np.float64))
    if factor is None or np.isclose(factor, 1.0):
        return []
    height, width = case.input_size[:2]
    if case.output == "time":
        if np.isclose(factor * width, 1.0, rtol=1e-4):
            text = f"MATLAB averages the time axis: its map is this port's divided by the {width} time steps."
        else:
            text = f"MATLAB's map is {factor:.6g} times this port's: it does not sum the time axis."
        return [Finding("time-summed", text)]
    mean = np.isclose(factor * height * width, 1.0, rtol=1e-4)
    steps = f" (1/{height * width}: the mean over the {height}x{width} positions)" if mean else ""
    return [Finding("total-activation", f"MATLAB's map is {factor:.6g} times this port's{steps}.")]


def _channel_order(case: OcclusionCase, ours: np.ndarray) -> list[Finding]:
    """Which requested channel each of MATLAB's maps is, when they are not in channelIdx's order."""
    matlab = case.scoreMap if case.scoreMap.ndim == 3 else case.scoreMap[..., np.newaxis]
    mine = ours if ours.ndim == 3 else ours[..., np.newaxis]
    if matlab.shape[:2] != mine.shape[:2]:
        return []
    requested = [int(item) for item in case.channelIdx]
    found = []
    for slot in range(matlab.shape[2]):
        same = [
            index
            for index in range(mine.shape[2])
            if np.allclose(matlab[..., slot], mine[..., index], rtol=1e-4, atol=1e-3)
        ]
        if not same:
            return []
        found.append(requested[same[0]])
    if found == requested:
        return []
    return [Finding("channel-order", f"MATLAB returns the maps of channels {found} for channelIdx {requested}.")]


def _rejections(case: OcclusionCase, replayed: Replay) -> list[Finding]:
    used = exercised_rules(case)
    if case.error and "auto-raise-to-one" in used:
        return [
            Finding(
                "auto-raise-to-one",
                f"MATLAB raises an error ({case.error}) where the auto MaskSize or Stride round to 0 on this "
                f"{case.input_size[0]}x{case.input_size[1]} input; this port raises them to 1.",
            )
        ]
    if replayed.error and "mask-larger-off-error" in used:
        return [
            Finding(
                "mask-larger-off-error",
                f"MATLAB returns a {'x'.join(map(str, case.scoreMap.shape))} map where this port raises an error "
                f'(the mask does not fit the image and MaskClipping is "off").',
            )
        ]
    return []


def explain(case: OcclusionCase, replayed: Replay) -> list[Finding]:
    """What MATLAB did differently in a failing occlusion case, as far as this case alone shows."""
    if case.error or replayed.error:
        return _rejections(case, replayed)
    ours = replayed.result
    findings = _channel_order(case, ours)
    if findings:
        return findings
    if case.probe == "rowtime" or case.output != FINAL_LAYER.get(case.probe):
        return _reduction(case, ours)
    if not (_raw(case) and _all_probe_channels(case)):
        return []
    options = _port_options(case)
    geometry = _geometry(case, options)
    if geometry:
        return geometry
    return _fill(case, options) if case.scoreMap.shape == ours.shape else []
