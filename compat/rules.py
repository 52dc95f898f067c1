"""The docs/specification.md rules a cross-check case can blame, each with how sure the specification is of it.

A failing case names rules from this catalogue, so a MATLAB user's report points at one line of
docs/specification.md rather than at a number. The seven ``assumed`` rules are the rows of docs/specification.md §8.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Rule", "RULES", "ASSUMED"]


@dataclass(frozen=True)
class Rule:
    """One rule of docs/specification.md: where it is, how it is known ("doc", "assumed", ...), what it says."""

    id: str
    section: str
    tag: str
    statement: str

    def __str__(self) -> str:
        return f"docs/specification.md {self.section} [{self.tag}] {self.statement}"


RULES: dict[str, Rule] = {
    item.id: item
    for item in (
        Rule(
            "grid-clipping-on",
            "§4",
            "doc",
            'MaskClipping="on": centres at 1, 1+s, ... <= H; each mask covers c-floor(m/2) .. '
            "c-floor(m/2)+m-1, cut to the image",
        ),
        Rule(
            "grid-clipping-off",
            "§4",
            "doc",
            'MaskClipping="off": full masks with top rows 1, 1+s, ... while the mask fits; no '
            "extra mask for the trailing rows",
        ),
        Rule(
            "even-mask-before-centre",
            "§4",
            "assumed",
            'an even mask under MaskClipping="on" puts its extra row (column) before the centre',
        ),
        Rule(
            "mask-larger-off-error", "§4", "assumed", 'a mask larger than the image with MaskClipping="off" is an error'
        ),
        Rule(
            "auto-mround",
            "§3",
            "doc",
            "auto MaskSize = round(0.2*size), Stride = round(0.1*size), rounding halves away from zero",
        ),
        Rule(
            "auto-per-dimension",
            "§3",
            "assumed",
            "auto MaskSize and Stride are computed for each dimension from its own size",
        ),
        Rule(
            "auto-raise-to-one",
            "§3",
            "assumed",
            "auto MaskSize and Stride that round to 0 on tiny inputs are raised to 1",
        ),
        Rule(
            "convert-before-occlusion",
            "§2",
            "assumed",
            "X is converted to single before it is occluded, so a uint8 image is filled with the "
            "unrounded channel mean",
        ),
        Rule(
            "mask-value",
            "§3",
            "doc",
            'MaskValue fills every covered pixel of channel k with its k-th value; "auto" is the channel mean of X',
        ),
        Rule(
            "channel-order",
            "§2",
            "spec",
            "a vector channelIdx gives one map per entry, in the order given, repeats included",
        ),
        Rule(
            "total-activation",
            "§5",
            "doc",
            "the score of a channel is its total activation: the sum over every spatial position",
        ),
        Rule("time-summed", "§5", "assumed", "a time axis of the selected output is summed like a spatial one"),
        Rule("output-single", "§5", "assumed", "scoreMap is single (float32)"),
        Rule(
            "upsampling",
            "§6",
            "doc",
            'OutputUpsampling "bicubic"/"nearest" is imresize(rawMap, [H W], method) with no other alignment',
        ),
        Rule("imresize", "§7", "matlab", "imresize reproduces MATLAB's imresize exactly"),
    )
}

ASSUMED: tuple[str, ...] = tuple(key for key, item in RULES.items() if item.tag == "assumed")
