"""
The top three classes at once: a vector channelIdx
==================================================

A network's top classes often rest on different parts of the image. ``channelIdx`` may be a
vector: ``occlusionSensitivity`` then returns one map per channel, H×W×n in the order given, all
from the same forward passes, so three maps cost what one costs. EfficientNet-Lite0 is unsure
what scikit-image's ``rocket`` is; its three best guesses look at different things.
"""

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

from matlab_occsens import importNetworkFromONNX, imresize, occlusionSensitivity, overlayScoreMap, predict
from matlab_occsens.pretrained import EFFICIENTNET_LITE0, imagenet_classes

net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
classNames = imagenet_classes()
photo = data.rocket()  # 427×640
X = imresize(photo[:, 106:533], net.InputSize[:2])  # the middle square

# %%
# The three best classes
# ----------------------
#
# This network outputs logits; a softmax turns them into probabilities for the titles. In MATLAB:
# ``[~, order] = maxk(scores, 3)``.
scores = predict(net, X)[0]
probabilities = np.exp(scores - scores.max())
probabilities /= probabilities.sum()
top = np.argsort(-scores)[:3] + 1  # 1-based channels
for channel in top:
    print(f"{channel:4d}  {classNames[channel - 1]:20s} {probabilities[channel - 1]:.3f}")

# %%
# One call, three maps
# --------------------
scoreMap = occlusionSensitivity(net, X, top)
print(scoreMap.shape)

fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, channel, index in zip(axes, top, range(3)):
    ax.imshow(overlayScoreMap(X, scoreMap[:, :, index]))
    ax.set_title(f"{classNames[channel - 1]} ({probabilities[channel - 1]:.2f})")
    ax.set_axis_off()
plt.tight_layout()
plt.show()

# %%
# Where they disagree
# -------------------
#
# Each map is on its own scale (as MATLAB's ``imagesc`` draws it). Rescaled to [0, 1] with
# MATLAB's ``rescale``, the difference of two maps shows what separates the two classes.
from matplotlib.colors import ListedColormap

from matlab_occsens import jet, rescale

difference = rescale(scoreMap[:, :, 0]) - rescale(scoreMap[:, :, 1])
fig, ax = plt.subplots(figsize=(5, 4))
ax.imshow(X)
shown = ax.imshow(difference, cmap=ListedColormap(jet()), alpha=0.55, vmin=-1, vmax=1)
fig.colorbar(shown, ax=ax)
ax.set_title(f"{classNames[top[0] - 1]} (red) against {classNames[top[1] - 1]} (blue)")
ax.set_axis_off()
plt.show()
