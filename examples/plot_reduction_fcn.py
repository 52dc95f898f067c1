"""
A region of a segmentation, or a maximum: ReductionFcn
======================================================

By default ``occlusionSensitivity`` scores a channel by its total activation: the sum over the
output's spatial axes (MATLAB's rule). ``ReductionFcn`` scores it with any function of its
activations instead (see :doc:`/volumes-signals`). Here: one object of a segmentation, explained
apart from the others, and a feature map's strongest response instead of its total.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle
from scipy import ndimage
from skimage import data

from matlab_occsens import importNetworkFromPyTorch, imresize, jet, occlusionSensitivity, predict

# %%
# A segmentation network
# ----------------------
#
# A semantic segmentation network outputs one channel per class, N × K × H × W, each pixel's
# class probabilities after a softmax. This one is built by hand so that what it does is plain:
# a 5 × 5 convolution scores each pixel's neighbourhood for "background" (dark) and "coin"
# (brightness above a half), and a softmax over the two gives the probabilities. The calls below
# are the same for any segmentation network (torchvision's FCN, a U-Net, an ONNX file).
X = imresize(data.coins(), 0.4)  # scikit-image's coins photo, uint8, 122 × 154

conv = torch.nn.Conv2d(1, 2, 5, padding=2)
with torch.no_grad():
    conv.weight[0].fill_(-10 / 25)  # channel 1, background: 10 × (0.5 − the local mean)
    conv.weight[1].fill_(10 / 25)  # channel 2, coin: 10 × (the local mean − 0.5)
    conv.bias.copy_(torch.tensor([5.0, -5.0]))
segmenter = torch.nn.Sequential(conv, torch.nn.Softmax(dim=1))

# The input layer scales the raw pixels 0..255 to 0..1.
net = importNetworkFromPyTorch(segmenter, InputSize=[*X.shape, 1], Normalization="rescale-zero-one", Min=0, Max=255)
probabilities = predict(net, X)[:, :, :, 0]  # H × W × 2, MATLAB's layout
segmented = probabilities[:, :, 1] > 0.5

# %%
# One coin, and all of them
# -------------------------
#
# The coin channel's total activation, the default score, is the area the network calls "coin"
# over the whole photo: its map lights up every coin. ``ReductionFcn`` receives the channel's
# activations for a batch of occluded images, shape (B, H, W) in MATLAB's layout, and returns
# one score per image: the sum over one coin's box makes the map of that coin alone.
# ``MaskValue=0`` fills each mask with black, darker than any background: a mask erases what
# it covers.
labels = ndimage.label(segmented)[0]
coin = labels[48, 108]  # the coin at row 48, column 108 (0-based), second row from the top
rows, cols = ndimage.find_objects(labels)[coin - 1]
print(f"the coin's box: rows {rows.start}-{rows.stop - 1}, columns {cols.start}-{cols.stop - 1} (0-based)")


def one_coin(activations):
    """The coin probability summed over the box: one number per image."""
    return activations[:, rows, cols].sum(axis=(1, 2))


options = dict(MaskSize=10, Stride=5, MaskValue=0)
whole = occlusionSensitivity(net, X, 2, **options)
region = occlusionSensitivity(net, X, 2, ReductionFcn=one_coin, **options)

# %%
# What the two maps say: the region's map is all within reach of the coin's box (the box grown
# by a mask), while the whole channel's map spreads over every coin.
near = np.zeros(X.shape, bool)
near[max(rows.start - 10, 0) : rows.stop + 10, max(cols.start - 10, 0) : cols.stop + 10] = True
for name, scoreMap in (("one coin", region), ("all coins", whole)):
    positive = np.clip(scoreMap, 0, None)
    print(f"{name}: {positive[near].sum() / positive.sum():.0%} of the map's positive part near the box")
assert np.clip(region, 0, None)[near].sum() > 0.95 * np.clip(region, 0, None).sum()
assert np.clip(whole, 0, None)[near].sum() < 0.2 * np.clip(whole, 0, None).sum()

colors = ListedColormap(jet())
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
axes[0].imshow(X, cmap="gray")
axes[0].contour(segmented, levels=[0.5], colors="yellow", linewidths=0.8)
axes[0].set_title("the network's segmentation (yellow)")
for ax, scoreMap, title in (
    (axes[1], whole, "default: the whole coin channel"),
    (axes[2], region, "ReductionFcn: one coin's box"),
):
    ax.imshow(X, cmap="gray")
    fig.colorbar(ax.imshow(scoreMap, cmap=colors, alpha=0.5), ax=ax, shrink=0.75)
    ax.set_title(title)
box = Rectangle(
    (cols.start - 0.5, rows.start - 0.5), cols.stop - cols.start, rows.stop - rows.start, fill=False, ec="white"
)
axes[2].add_patch(box)
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# A maximum instead of a sum
# --------------------------
#
# On EfficientNet-Lite0 (a real pretrained network, offline), the activation after its last
# convolution: 1280 channels on a 7 × 7 grid (see :doc:`/auto_examples/plot_intermediate_layer`).
# Channel 99 fires over much of the coffee photo, most strongly at the bottom left.
# Its total activation depends on all of it; its maximum, ``ReductionFcn=lambda a: a.max(axis=(1, 2))``,
# on the strongest place. (Where a mask *raises* the maximum elsewhere, the map is negative.)
from matlab_occsens import importNetworkFromONNX
from matlab_occsens.pretrained import EFFICIENTNET_LITE0

efficientnet = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
photo = imresize(data.coffee(), efficientnet.InputSize[:2])
efficientnet.OutputNames = [[layer.Name for layer in efficientnet.Layers if layer.Type == "Clip"][-1]]
channel = 99
activation = predict(efficientnet, photo)[:, :, channel - 1, 0]
print(np.round(activation, 1))

total = occlusionSensitivity(efficientnet, photo, channel)
strongest = occlusionSensitivity(efficientnet, photo, channel, ReductionFcn=lambda a: a.max(axis=(1, 2)))

strongest_cell = tuple(int(i) for i in np.unravel_index(np.argmax(activation), activation.shape))
peak = tuple(int(i) for i in np.unravel_index(np.argmax(strongest), strongest.shape))
print(f"strongest cell {strongest_cell} of the 7 × 7 grid; the maximum's map peaks at pixel {peak}")
assert peak[0] >= 112 and peak[1] < 112  # in the bottom-left quarter, as the strongest cell


fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
for ax, shown, title in (
    (axes[0], imresize(activation, photo.shape[:2], "nearest"), f"channel {channel}'s activation, 7 × 7"),
    (axes[1], total, "default: its total activation"),
    (axes[2], strongest, "ReductionFcn: its maximum"),
):
    ax.imshow(photo)
    fig.colorbar(ax.imshow(shown, cmap=colors, alpha=0.55), ax=ax, shrink=0.75)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
plt.show()
