"""
A folder of images: the dataset job, its overview and its store
===============================================================

Auditing a classifier means maps for a whole folder, not one photo. The dataset job of
:mod:`matlab_occsens.datasets` runs ``occlusionSensitivity`` over every image on this machine's
cores (or a Dask cluster), writes each map into one Zarr store as soon as it is done, and
resumes where it stopped when run again. The store is an ordinary Zarr group: zarr, dask.array
and xarray read it without this package.
"""

import tempfile
from pathlib import Path

import numpy as np
from skimage import data

from matlab_occsens import imwrite
from matlab_occsens.datasets import imageDatastore, occlusionSensitivityDataset
from matlab_occsens.pretrained import EFFICIENTNET_LITE0, imagenet_classes

# %%
# A folder of photos
# ------------------
#
# Eight of scikit-image's sample photos, in one folder per kind, as a test set would be laid out.
# Gray photos are given three channels by the job, as the command does.
folder = Path(tempfile.mkdtemp())
photos = {
    "animals": ["chelsea"],
    "objects": ["coffee", "rocket", "camera", "coins"],
    "people": ["astronaut"],
    "documents": ["page", "text"],
}
for kind, names in photos.items():
    (folder / "photos" / kind).mkdir(parents=True)
    for name in names:
        imwrite(getattr(data, name)(), folder / "photos" / kind / f"{name}.png")

imds = imageDatastore(folder / "photos", IncludeSubfolders=True, LabelSource="foldernames")
print(imds.countEachLabel())

# %%
# The job
# -------
#
# Each image's top class (``"predicted"``) is explained at MATLAB's default options and written
# into ``results/occlusion.zarr`` as soon as its map is done. The network is given as its ONNX
# file, which every worker reads, with the input layer's options (EfficientNet-Lite0 reads
# ``(x - 127) / 128``). Here two local worker processes compute the maps (the default is one per
# physical core, each pinned to its core; ``workers=0`` computes in this process), and
# ``scheduler=`` or ``client=`` run the same job on a Dask cluster. No
# ``if __name__ == "__main__":`` guard is needed: the local workers run in a process of their own.
model = EFFICIENTNET_LITE0.onnx_path()
images = folder / "photos/*/*.png"
normalization = {"Normalization": "zscore", "Mean": 127, "StandardDeviation": 128}
job = dict(out=folder / "results", import_options=normalization, progress=False)
summary = occlusionSensitivityDataset(model, images, "predicted", workers=2, **job)
print(summary)

# %%
# The command, and the overview
# -----------------------------
#
# The command runs the same job: here on two worker processes, on the same folder and store. It
# finds every image complete (a crashed or interrupted run resumes the same way) and draws the
# sheet of the overlays, each captioned with the image's class (named from ``--classes``, one
# name per line) and score (``--overview``).
import subprocess
import sys

classes = folder / "imagenet_classes.txt"
classes.write_text("\n".join(imagenet_classes()), encoding="utf-8")
command = [sys.executable, "-m", "matlab_occsens", str(model), str(images), "--out", str(folder / "results")]
command += ["--workers", "2", "--overview", "--classes", str(classes), "--quiet"]
command += ["--normalization", "zscore", "--mean", "127", "--std", "128"]
finished = subprocess.run(command, capture_output=True, text=True)
print(finished.stdout, finished.stderr)

import matplotlib.pyplot as plt

from matlab_occsens import imread, imshow

plt.figure(figsize=(9, 9))
imshow(imread(folder / "results" / "overview.png"))
plt.show()

# %%
# The store, read with zarr
# -------------------------
#
# One group: ``maps`` (N×H×W, float32, one chunk per image), the 1-based ``channels`` of each
# map, the ``predicted`` class and its ``score``, and ``status`` (1: done), which a worker
# writes only after the map itself, so an image marked done is whole.
import zarr

store = zarr.open_group(summary.store, mode="r")
names = store.attrs["job"]["images"]
classNames = imagenet_classes()
for name, status, predicted, score in zip(names, store["status"][:], store["predicted"][:], store["score"][:]):
    print(f"{Path(name).name:15s} status {status}  {classNames[predicted - 1]:20s} {score:.2f}")

# %%
# ... with dask.array
# -------------------
#
# Lazy, one chunk per image: statistics over thousands of maps without holding them in memory.
# Here, the mean map over the images the job completed, and where each image's map peaks.
import dask.array as da

maps = da.from_zarr(str(summary.store), component="maps")
done = store["status"][:] == 1
mean_map = maps[done].mean(axis=0).compute()
peaks = maps.reshape(maps.shape[0], -1).argmax(axis=1).compute()
print(mean_map.shape, [divmod(int(peak), maps.shape[2]) for peak in peaks])

# %%
# ... and with xarray
# -------------------
#
# Each array of the store names its dimensions, so xarray opens the store as a Dataset whose
# variables share the image dimension: select, group and reduce by name.
import xarray as xr

ds = xr.open_zarr(summary.store, consolidated=False)
print(ds)
image = ds["maps"].dims[0]
completed = ds["maps"].isel({image: np.flatnonzero(ds["status"].values == 1)})
print(completed.mean(image).shape)
