"""
MaskSize, Stride, MaskClipping and the upsamplings, side by side
================================================================

Each option of ``occlusionSensitivity`` changes the map in a way that is easiest to see. Here
every panel is the map of the same class on the same photo, scikit-image's ``chelsea``, which
EfficientNet-Lite0 calls an "Egyptian cat"; one option changes per row, the others keep MATLAB's
defaults (``MaskSize`` a fifth of the image, ``Stride`` a tenth, ``MaskClipping="on"``,
``OutputUpsampling="bicubic"``).
"""

import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap
from skimage import data

from matlab_occsens import importNetworkFromONNX, imresize, jet, occlusionSensitivity
from matlab_occsens.pretrained import EFFICIENTNET_LITE0, imagenet_classes

net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
photo = data.chelsea()  # 300×451
X = imresize(photo[:, 75:375], net.InputSize[:2])  # the middle square, to 224×224
channel = imagenet_classes().index("Egyptian cat") + 1
print(channel)


def show_row(axes, maps, titles):
    """Each map over the photo in MATLAB's colours, scaled to its own range (as imagesc)."""
    for ax, scoreMap, title in zip(axes, maps, titles):
        ax.imshow(X)
        height, width = X.shape[:2]
        # extent lays a map of any size (the K_h×K_w of "none" too) over the image's pixels
        ax.imshow(
            scoreMap,
            cmap=ListedColormap(jet()),
            alpha=0.55,
            extent=(-0.5, width - 0.5, height - 0.5, -0.5),
            interpolation="nearest",
        )
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()


# %%
# MaskSize
# --------
#
# The occluding square. A small mask finds small parts (an eye, an ear) but hides too little of a
# large object to change the score much; a large one finds the whole animal and blurs the
# details.
sizes = [15, 45, 90]
fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
show_row(
    axes,
    [occlusionSensitivity(net, X, channel, MaskSize=size) for size in sizes],
    [f"MaskSize={size}" + (' ("auto")' if size == 45 else "") for size in sizes],
)
plt.show()

# %%
# Stride
# ------
#
# The step between mask positions, vertical then horizontal (``Stride=[a b]``). Each position is
# one forward pass: 45 pixels give 5 × 5 = 25 passes, MATLAB's 22 give 121, 8 give 784. A fine
# stride samples the same map more densely; it does not make the mask smaller.
strides = [45, 22, 8]
fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
show_row(
    axes,
    [occlusionSensitivity(net, X, channel, Stride=stride) for stride in strides],
    [f"Stride={stride}" + (' ("auto")' if stride == 22 else "") for stride in strides],
)
plt.show()

# %%
# MaskClipping
# ------------
#
# ``"on"`` (MATLAB's default) centres the first mask on the first pixel, so masks are cut at the
# border and the border is occluded as often as the middle; ``"off"`` starts masks at the first
# pixel and keeps only those that fit, so there are fewer positions and the border is seen by
# fewer masks. ``OutputUpsampling="none"`` shows the positions themselves, one value each.
clipped = occlusionSensitivity(net, X, channel, MaskClipping="on", OutputUpsampling="none")
fitting = occlusionSensitivity(net, X, channel, MaskClipping="off", OutputUpsampling="none")
print(clipped.shape, fitting.shape)
fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.3))
show_row(
    axes,
    [clipped, fitting],
    [f'MaskClipping="on": {clipped.shape[0]}×{clipped.shape[1]}', f'"off": {fitting.shape[0]}×{fitting.shape[1]}'],
)
plt.show()

# %%
# OutputUpsampling
# ----------------
#
# The map has one value per mask position; ``"bicubic"`` (the default) resizes it to the image
# with MATLAB's ``imresize``, ``"nearest"`` repeats each value over its block, and ``"none"``
# returns the positions alone (11 × 11 here), for your own resizing or for comparing grids.
methods = ["bicubic", "nearest", "none"]
maps = [occlusionSensitivity(net, X, channel, OutputUpsampling=method) for method in methods]
print([scoreMap.shape for scoreMap in maps])
fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
show_row(axes, maps, [f'OutputUpsampling="{method}"' for method in methods])
plt.show()

# %%
# MaskValue
# ---------
#
# What fills the mask: by default each channel's mean over the image (``"auto"``), so a mask
# looks like a flat patch of the photo's average colour. Black (0) or white (255) fills are
# patches the network may read as objects of their own, and shift the map.
values = ["auto", 0, 255]
fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
show_row(
    axes,
    [occlusionSensitivity(net, X, channel, MaskValue=value) for value in values],
    [f"MaskValue={value!r}" for value in values],
)
plt.show()
