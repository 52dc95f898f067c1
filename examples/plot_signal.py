"""
A 1-D signal, with the map beneath it
=====================================

A network with a 1-D input (``Conv1d``, MATLAB's ``sequenceInputLayer``) takes a C × T signal:
C features (channels, sensors) over T time steps. ``occlusionSensitivity`` hides every feature
over ``MaskSize`` time steps at a time, and the map says which moments the network's output
depends on (see :doc:`/volumes-signals`). Here a three-axis sensor records a burst on one axis and
a spike on another; a tiny network with one detector for each must point at the right moment.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

from matlab_occsens import importNetworkFromPyTorch, occlusionSensitivity

# %%
# A signal with two events
# ------------------------
#
# Three features over 600 time steps of noise; a 40-step burst of oscillation on feature 2
# starting at step 380, and a 5-step spike on feature 1 at step 150.
T, burst_start, spike_start = 600, 380, 150
t = np.arange(T)
rng = np.random.default_rng(1)
X = 0.2 * rng.standard_normal((3, T))  # C × T: features × time steps, MATLAB's layout
burst = np.sin(2 * np.pi * np.arange(40) / 8) * np.hanning(40)
X[1, burst_start : burst_start + 40] += 1.5 * burst
X[0, spike_start : spike_start + 5] += 2.0

# %%
# Two detectors
# -------------
#
# A ``Conv1d`` with two filters: filter 1 is the burst itself on feature 2 (a matched filter),
# filter 2 a 5-step box on feature 1. A ReLU with a threshold and the maximum over time make each
# one score: how strongly its event occurs anywhere in the signal.
conv = torch.nn.Conv1d(3, 2, 40, padding=20)
with torch.no_grad():
    conv.weight.zero_()
    conv.weight[0, 1] = torch.from_numpy(burst / np.sum(burst**2))
    conv.weight[1, 0, 17:22] = 0.2
    conv.bias.copy_(torch.tensor([-0.5, -0.8]))
model = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten())

# A signal's InputSize is [C T]; "BCT" says the tensor is N × C × T, as Conv1d takes it.
net = importNetworkFromPyTorch(model, InputSize=[3, T], InputDataFormats="BCT")
print(net.InputSize, net.InputDataFormats, net.Layers[0].Type)

# %%
# The maps
# --------
#
# 20-step masks every 5 steps, filled with each feature's mean (``MaskValue="auto"``). Both
# channels come from the same forward passes: T × 2.
scoreMap = occlusionSensitivity(net, X, [1, 2], MaskSize=20, Stride=5)
print(scoreMap.shape)
for channel, (start, length) in ((1, (burst_start, 40)), (2, (spike_start, 5))):
    peak = int(np.argmax(scoreMap[:, channel - 1]))
    print(f"channel {channel}: the map peaks at step {peak}, the event spans {start}-{start + length - 1}")
    assert start - 10 <= peak < start + length + 10

# %%
# The signal with the map beneath
# -------------------------------
#
# The features on top, each detector's map below on the same time axis; the grey bands mark
# the two events.
fig, axes = plt.subplots(3, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1, 1]})
for feature in range(3):
    axes[0].plot(t, X[feature] - 3 * feature, linewidth=0.8, label=f"feature {feature + 1}")
axes[0].set_yticks([])
axes[0].legend(loc="upper right", fontsize=8)
axes[0].set_title("the signal (C × T = 3 × 600)")
for ax, channel, name in ((axes[1], 1, "burst detector"), (axes[2], 2, "spike detector")):
    ax.fill_between(t, scoreMap[:, channel - 1], color="tab:red", alpha=0.6)
    ax.set_ylabel(f"channel {channel}\n{name}", fontsize=9)
for ax in axes:
    for start, length in ((burst_start, 40), (spike_start, 5)):
        ax.axvspan(start, start + length, color="0.85", zorder=0)
axes[2].set_xlabel("time step")
plt.tight_layout()
plt.show()

# %%
# Whole masks only
# ----------------
#
# With ``MaskClipping="off"`` every mask is 20 steps long and the first starts at the first step
# (no masks cut at the ends: the MATLAB page's advice for word embeddings);
# ``OutputUpsampling="none"`` returns one value per mask, (600 - 20) / 5 + 1 = 117 here.
raw = occlusionSensitivity(net, X, 1, MaskSize=20, Stride=5, MaskClipping="off", OutputUpsampling="none")
print(raw.shape)
starts = np.arange(0, T - 20 + 1, 5)
print("masks that lower the burst score start at steps", starts[raw > 0.5 * raw.max()])
