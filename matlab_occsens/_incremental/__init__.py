"""Internal: exact incremental inference for occlusion maps (a non-MATLAB extension).

A mask changes a small window of the image, and in a convolutional network the change spreads
only as far as the layers' windows reach. This package recomputes, for every mask, only the
activations the mask can change, on crops that include the real image border wherever zero
padding matters, and runs the rest of the network (after the last useful cut) as usual. The
values are those of the ordinary forward pass up to float rounding; anything the analysis does
not understand falls back to the ordinary path.

``occlusionSensitivity(..., Incremental="auto" | "on" | "off")`` chooses it; the rules are in
:mod:`.policy`, the measured choice of "auto" in :mod:`.auto`, what is kept between calls in
:mod:`.cache`.
"""
