"""
A 3-D volume, shown as slices
=============================

A network with a 3-D input (``Conv3d``, MATLAB's ``image3dInputLayer``) takes an
S1 × S2 × S3 × C volume, and ``occlusionSensitivity`` slides a box-shaped mask through it: the map
is a volume too (see :doc:`/volumes-signals`). Here a tiny 3-D network with two detectors looks at
a synthetic volume holding two blobs, one bright and one dim; the map of each detector must light
up at the blob that detector responds to, and we check that it does. The volume and its maps are
shown as a montage of slices, as MATLAB's ``montage`` shows them.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from skimage.util import montage

from matlab_occsens import importNetworkFromPyTorch, occlusionSensitivity, overlayScoreMap

# %%
# A volume with two blobs
# -----------------------
#
# 32 × 32 × 32 voxels of noise, a bright ball of radius 4 and a dim ball of radius 5.
S = 32
coordinates = np.indices((S, S, S))


def ball(centre, radius):
    """The voxels within ``radius`` of ``centre``."""
    return np.sum((coordinates - np.reshape(centre, (3, 1, 1, 1))) ** 2, axis=0) <= radius**2


bright, dim = ball((10, 20, 22), 4), ball((22, 10, 9), 5)
V = 0.1 * np.random.default_rng(0).standard_normal((S, S, S))
V[bright] += 1.0
V[dim] += 0.4

# %%
# Two detectors
# -------------
#
# One ``Conv3d`` averages each 3 × 3 × 3 neighbourhood, twice, with two thresholds (its biases):
# after the ReLU, channel 1 responds where the local mean exceeds 0.6 (the bright blob only),
# channel 2 where it exceeds 0.2 (both blobs). Averaged over the volume, each is one score.
conv = torch.nn.Conv3d(1, 2, 3, padding=1)
with torch.no_grad():
    conv.weight.fill_(1 / 27)
    conv.bias.copy_(torch.tensor([-0.6, -0.2]))
model = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten())

net = importNetworkFromPyTorch(model, InputSize=[S, S, S, 1])
print(net.InputSize, net.InputDataFormats, net.Layers[0].Type)

# %%
# Both maps from the same masks
# -----------------------------
#
# An 8-voxel cube every 4 voxels along each axis (``MaskSize`` and ``Stride`` take one value for
# all three axes, or one per axis), filled with the volume's mean (``MaskValue="auto"``): 512
# masks. A vector ``channelIdx`` gives S1 × S2 × S3 × 2, both maps from the same forward passes.
scoreMap = occlusionSensitivity(net, V, [1, 2], MaskSize=8, Stride=4)
print(scoreMap.shape)

# %%
# Each map lights up at its blob
# ------------------------------
#
# The bright detector's map peaks inside the bright ball and is zero at the dim one; the other
# map covers both balls.
for channel, inside in ((1, bright), (2, bright | dim)):
    peak = np.unravel_index(np.argmax(scoreMap[..., channel - 1]), V.shape)
    print(f"channel {channel}: peak at voxel {tuple(int(i) for i in peak)}, inside its blob: {inside[peak]}")
    assert inside[peak]
centre_of_dim = (22, 10, 9)
print(
    f"at the dim ball's centre: channel 1 {scoreMap[centre_of_dim][0]:.2g}, channel 2 {scoreMap[centre_of_dim][1]:.2g}"
)
assert abs(scoreMap[centre_of_dim][0]) < 0.01 * scoreMap[..., 0].max()
assert scoreMap[centre_of_dim][1] > 0.1 * scoreMap[..., 1].max()

# %%
# The montage of slices
# ---------------------
#
# Every second plane along the third axis, side by side (``skimage.util.montage`` takes the
# planes first; MATLAB's ``montage`` shows the planes ``V(:,:,k)``). :func:`overlayScoreMap` draws
# each map over the montage of the volume as MATLAB's occlusion pictures do, with one colour
# scale for all slices.
planes = slice(0, S, 2)


def slices(volume):
    """Every second plane of a volume in one picture, 4 planes per row."""
    return montage(np.moveaxis(volume[:, :, planes], 2, 0), grid_shape=(4, 4), padding_width=1, fill=0)


gray = slices((V - V.min()) / (V.max() - V.min()))
fig, axes = plt.subplots(1, 3, figsize=(15, 5.4), layout="constrained")
axes[0].imshow(gray, cmap="gray")
axes[0].set_title("the volume: planes 1, 3, ..., 31")
for ax, channel, name in ((axes[1], 1, "bright-blob detector"), (axes[2], 2, "any-blob detector")):
    ax.imshow(overlayScoreMap(gray, slices(scoreMap[..., channel - 1])))
    ax.set_title(f"channel {channel}: {name}")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# The grid itself
# ---------------
#
# ``OutputUpsampling="none"`` returns one value per mask position, 8 × 8 × 8 here; the default
# ``"bicubic"`` brings it to the volume's size with :func:`~matlab_occsens.imresize3`'s cubic
# kernel, axis by axis, which is why the maps above are smooth.
from matlab_occsens import imresize3

grid = occlusionSensitivity(net, V, [1, 2], MaskSize=8, Stride=4, OutputUpsampling="none")
print(grid.shape)
upsampled = imresize3(grid[..., 0], [S, S, S], "cubic")
print("imresize3 of the grid is the default map:", np.allclose(upsampled, scoreMap[..., 0], rtol=0, atol=1e-7))
