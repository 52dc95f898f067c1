"""
The channels of an intermediate layer
=====================================

``occlusionSensitivity`` measures whatever output the network is set to give: set
``net.OutputNames`` to any layer (or tensor) of the ONNX graph and ``channelIdx`` picks that
layer's channels. The map then says which parts of the image a feature of the network depends
on, not only a class. Only the part of the graph up to that layer runs.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from skimage import data

from matlab_occsens import importNetworkFromONNX, imresize, jet, occlusionSensitivity, predict
from matlab_occsens.pretrained import EFFICIENTNET_LITE0

net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
X = imresize(data.astronaut(), net.InputSize[:2])

# %%
# Choose a layer
# --------------
#
# ``net.Layers`` lists the graph's nodes after the input layer, with their names and operator
# types, as MATLAB's ``net.Layers`` does. Here: the activation after EfficientNet-Lite0's last
# convolution, 1280 channels on a 7 × 7 grid, the features its classifier reads.
layers = [layer.Name for layer in net.Layers[1:] if layer.Type == "Clip"]
print(len(layers), "activation layers; the last:", layers[-1])
net.OutputNames = [layers[-1]]
print(net.OutputNames, net.OutputDataFormats)

# %%
# Its channels
# ------------
#
# ``predict`` gives the layer's output for the image in MATLAB's layout, H×W×C×N. The four
# channels with the largest total activation on this photo are the ones to look at.
activations = predict(net, X)[:, :, :, 0]
print(activations.shape)
totals = activations.sum(axis=(0, 1))
channels = np.argsort(-totals)[:4] + 1  # 1-based, as channelIdx
print(channels)

# %%
# Their occlusion maps
# --------------------
#
# A vector ``channelIdx`` gives one map per channel from the same forward passes (H×W×n).
# Each map is the drop of the channel's total activation when a mask hides a region. Beside it,
# where the channel fires: its 7 × 7 activation, resized to the image. A channel can fire in one
# place and depend on another.
maps = occlusionSensitivity(net, X, channels)
print(maps.shape)

colors = ListedColormap(jet())
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
for column, channel in enumerate(channels):
    fired = imresize(activations[:, :, channel - 1], X.shape[:2], "nearest")
    for ax, layer_image, title in (
        (axes[0, column], fired, f"channel {channel}: activation"),
        (axes[1, column], maps[:, :, column], f"channel {channel}: occlusion"),
    ):
        ax.imshow(X)
        ax.imshow(layer_image, cmap=colors, alpha=0.55)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
plt.tight_layout()
plt.show()

# %%
# MATLAB's older layer form
# -------------------------
#
# Scripts written for MATLAB R2019b to R2023 name the layer in the call instead:
# ``occlusionSensitivity(net, X, layerName, channelIdx)``. It works here too, with a
# :class:`~matlab_occsens.MatlabCompatibilityNote` showing the current form, and leaves
# ``net.OutputNames`` as it was.
import warnings

from matlab_occsens import MatlabCompatibilityNote

net.OutputNames = ["logits"]
with warnings.catch_warnings(record=True) as notes:
    warnings.simplefilter("always", MatlabCompatibilityNote)
    older = occlusionSensitivity(net, X, layers[-1], int(channels[0]))
print(np.allclose(older, maps[:, :, 0], rtol=0, atol=1e-5 * np.abs(maps[:, :, 0]).max()))
print(notes[0].message)
print(net.OutputNames)
