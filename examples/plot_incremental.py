"""
Incremental inference: the same map, faster, measured here
==========================================================

A mask changes a small window of the image, and in a convolutional network the change spreads
only as far as the layers' windows reach. With ``Incremental="on"`` each mask recomputes only
the activations it can change, and the map is the same as MATLAB's way of running the whole
network for every mask (``"off"``). The default, ``"auto"``, measures both on the map's own
masks and keeps the faster. This page times both on the machine that built it (see
:doc:`/incremental` for how it works).
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from skimage import data

from matlab_occsens import importNetworkFromONNX, imresize, jet, occlusionSensitivity
from matlab_occsens.pretrained import EFFICIENTNET_LITE0

net = importNetworkFromONNX(EFFICIENTNET_LITE0.onnx_path(), **EFFICIENTNET_LITE0.normalization())
X = imresize(data.coffee(), net.InputSize[:2])
options = dict(MaskSize=15, Stride=11)  # 21 × 21 = 441 masks, each a forward pass when "off"

# %%
# Time both
# ---------
#
# The first call of each path builds what it keeps for the network (the session; for
# ``"on"`` the graph's analysis and its plan), so it runs once before timing. Then the two
# paths run in turns, so that both meet the same load from anything else on the machine, and
# each keeps its fastest turn.
maps = {mode: occlusionSensitivity(net, X, 968, Incremental=mode, **options) for mode in ("off", "on")}
seconds = {"off": [], "on": []}
for _turn in range(2):
    for mode in ("off", "on"):
        start = time.perf_counter()
        occlusionSensitivity(net, X, 968, Incremental=mode, **options)
        seconds[mode].append(time.perf_counter() - start)
best = {mode: min(times) for mode, times in seconds.items()}
print(f"this machine: {os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f}")
for mode, times in seconds.items():
    print(f'Incremental="{mode}": ' + ", ".join(f"{t:.2f}" for t in times) + " s")
print(f"speed-up: {best['off'] / best['on']:.2f}x")

# %%
# The same map
# ------------
#
# The maps agree to float32 rounding (ONNX Runtime may pick other kernels for a crop than for
# the whole image); the tests hold every difference under 1e-5 of the map's largest value.
difference = np.abs(maps["on"] - maps["off"]).max() / np.abs(maps["off"]).max()
print(f"largest difference over the map's largest value: {difference:.1e}")

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1, 0.8]})
for ax, mode in zip(axes, ("off", "on")):
    ax.imshow(X)
    ax.imshow(maps[mode], cmap=ListedColormap(jet()), alpha=0.55)
    ax.set_title(f'Incremental="{mode}": {best[mode]:.2f} s')
    ax.set_axis_off()
axes[2].bar(["off", "on"], [best["off"], best["on"]], color=["tab:gray", "tab:blue"])
axes[2].set_ylabel("seconds per map (fastest turn)")
axes[2].set_title(f"{best['off'] / best['on']:.2f}x faster")
plt.tight_layout()
plt.show()

# %%
# What "auto" chose
# -----------------
#
# ``"auto"`` (the default) measures both paths on its first call for a network and grid, on
# masks the map needs anyway, and follows the faster one; it measures again now and then, since
# the better path changes with the machine's load. A map of under 64 masks (MATLAB's default
# grid has 121) keeps the ordinary path.
start = time.perf_counter()
automatic = occlusionSensitivity(net, X, 968, **options)
print(
    f'Incremental="auto": {time.perf_counter() - start:.2f} s, the same map: '
    f"{np.abs(automatic - maps['off']).max() / np.abs(maps['off']).max():.1e}"
)
