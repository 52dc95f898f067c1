"""Volumes and signals as files: read them, fit them to a network, write their maps, draw them.

The command explains one volume (``.npy``, NIfTI) or one signal (``.npy``, CSV) with these small
functions, one job each, so that the dataset job can call the same ones per item:

- ``arrays.py``: ``.npy`` files read without running code, their size checked from the header
  first, and the checks every reader shares (the file exists, the values are finite numbers);
- ``nifti.py``: NIfTI volumes through nibabel (the ``volumes`` extra), and a map written back
  with the input's affine and header geometry;
- ``signal_csv.py``: a signal from a CSV of T rows (time steps) × C columns (features);
- ``read.py``: a volume or a signal from any of its files, chosen by the file's suffix;
- ``fit.py``: the read array made ready for ``net.InputSize`` (a volume resized with
  ``imresize3``; a signal of another length refused);
- ``pictures.py``: a volume's map over a montage of its slices, a signal with its map beneath.

docs/specification.md §9.8 states the rules; docs/volumes-signals.md shows them to users.
"""
