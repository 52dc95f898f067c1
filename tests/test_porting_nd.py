"""MONAI's ``OcclusionSensitivity`` and Captum's ``Occlusion`` on volumes and signals, set to the
windows docs/volumes-signals.md maps them to, compute the maps ``occlusionSensitivity`` computes.

Both give every voxel (time step) the mean over the windows covering it, where the map here keeps
one value per window; so each comparison averages our grid over the windows
(:func:`window_average`) and holds it to theirs within 1e-5 of the largest value (torch's float32
arithmetic on both sides, summed in different orders). The window geometry itself is compared
with MONAI's and Captum's own window arithmetic, including where it differs from ours.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from matlab_occsens import importNetworkFromPyTorch, occlusionSensitivity
from matlab_occsens._core.grid import axis_ranges

torch = pytest.importorskip("torch")

VOLUME = (24, 24, 24)
C, T = 3, 100
TOLERANCE = 1e-5  # of the largest value of the map


def window_average(grid, mask, stride, size):
    """Each element's mean over the whole windows covering it, windows from index 0 (MaskClipping
    "off"), from one value per window: Captum's and MONAI's per-element map from ours."""
    total, count = np.zeros(size), np.zeros(size)
    for index in np.ndindex(grid.shape):
        window = tuple(slice(i * s, i * s + m) for i, s, m in zip(index, stride, mask))
        total[window] += grid[index]
        count[window] += 1
    return total / count


def relative_difference(ours, theirs, grid):
    return float(np.abs(ours - theirs).max() / np.abs(grid).max())


def volume_model(outputs=3, seed=0):
    """A non-linear 3-D CNN whose outputs depend on every window (max pooling, then a linear layer)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv3d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool3d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6**3, outputs),
    ).eval()


def signal_model(outputs=4, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv1d(C, 8, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.MaxPool1d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * T // 4, outputs),
    ).eval()


@pytest.fixture(scope="module")
def volume():
    return np.random.default_rng(0).random(VOLUME).astype(np.float32)


@pytest.fixture(scope="module")
def signal():
    return np.random.default_rng(1).standard_normal((C, T)).astype(np.float32)  # C × T


def monai_map(model, x, **parameters):
    """MONAI's map of every output, and the unoccluded outputs."""
    from monai.visualize import OcclusionSensitivity

    with warnings.catch_warnings(), torch.no_grad():
        # monai 1.6.1 indexes tensors with lists, which torch warns about; the numbers are not affected
        warnings.filterwarnings("ignore", message="Using a non-tuple sequence for multidimensional indexing")
        occluded, _ = OcclusionSensitivity(model, verbose=False, **parameters)(x)
        return occluded[0].numpy(), model(x)[0].numpy()


# --------------------------------------------------------------------------- MONAI


def test_monai_windows_with_overlap_half_are_our_stride_averaged(volume):
    pytest.importorskip("monai")
    model = volume_model()
    grid = occlusionSensitivity(
        importNetworkFromPyTorch(model, InputSize=[*VOLUME, 1]),
        volume,
        [1, 2, 3],
        MaskSize=8,
        Stride=4,
        MaskClipping="off",
        MaskValue=0,
        OutputUpsampling="none",
    )
    assert grid.shape == (5, 5, 5, 3)
    occluded, unoccluded = monai_map(
        model, torch.from_numpy(volume)[None, None], mask_size=8, overlap=0.5, mode=0.0, activate=False
    )
    for channel in range(3):
        ours = window_average(grid[..., channel], [8] * 3, [4] * 3, VOLUME)
        drop = unoccluded[channel] - occluded[channel]
        assert relative_difference(ours, drop, grid[..., channel]) < TOLERANCE


def test_monai_per_axis_masks_mean_image_and_sigmoid(volume):
    """mask_size per axis with overlap 0.5 is one stride per axis; "mean_img" of a one-channel
    volume is MaskValue "auto"; activate=True on a one-channel input is a sigmoid of every output."""
    pytest.importorskip("monai")
    # More contrast than the other tests' volume: a sigmoid's drops are small beside its outputs,
    # and both sides round their float32 difference; fourfold drops keep that well inside 1e-5.
    volume = 4 * volume
    model = volume_model()
    activated = torch.nn.Sequential(model, torch.nn.Sigmoid())
    grid = occlusionSensitivity(
        importNetworkFromPyTorch(activated, InputSize=[*VOLUME, 1]),
        volume,
        [1, 3],
        MaskSize=[8, 6, 4],
        Stride=[4, 3, 2],
        MaskClipping="off",
        OutputUpsampling="none",
    )
    assert grid.shape == (5, 7, 11, 2)
    occluded, _ = monai_map(
        model, torch.from_numpy(volume)[None, None], mask_size=(8, 6, 4), overlap=0.5, mode="mean_img", activate=True
    )
    with torch.no_grad():
        unoccluded = torch.sigmoid(model(torch.from_numpy(volume)[None, None]))[0].numpy()
    for column, channel in enumerate([0, 2]):
        ours = window_average(grid[..., column], [8, 6, 4], [4, 3, 2], VOLUME)
        drop = unoccluded[channel] - occluded[channel]
        assert relative_difference(ours, drop, grid[..., column]) < TOLERANCE


def test_monai_tiling_windows_are_our_nearest_map(volume):
    """overlap=0 on a volume the masks tile: every voxel lies in one window, so the map needs no
    averaging: OutputUpsampling "nearest" is MONAI's map, subtracted from the unoccluded output."""
    pytest.importorskip("monai")
    model = volume_model()
    ours = occlusionSensitivity(
        importNetworkFromPyTorch(model, InputSize=[*VOLUME, 1]),
        volume,
        2,
        MaskSize=8,
        Stride=8,
        MaskClipping="off",
        MaskValue=0.5,
        OutputUpsampling="nearest",
    )
    occluded, unoccluded = monai_map(
        model, torch.from_numpy(volume)[None, None], mask_size=8, overlap=0.0, mode=0.5, activate=False
    )
    drop = unoccluded[1] - occluded[1]
    assert ours.shape == VOLUME
    assert relative_difference(ours, drop, ours) < TOLERANCE


def test_monai_windows_on_a_signal(signal):
    pytest.importorskip("monai")
    model = signal_model()
    grid = occlusionSensitivity(
        importNetworkFromPyTorch(model, InputSize=[C, T], InputDataFormats="BCT"),
        signal,
        [1, 2, 3, 4],
        MaskSize=10,
        Stride=5,
        MaskClipping="off",
        MaskValue=0,
        OutputUpsampling="none",
    )
    assert grid.shape == (19, 4)
    occluded, unoccluded = monai_map(
        model, torch.from_numpy(signal)[None], mask_size=10, overlap=0.5, mode=0.0, activate=False
    )
    for channel in range(4):
        ours = window_average(grid[:, channel], [10], [5], (T,))
        drop = unoccluded[channel] - occluded[channel]
        assert relative_difference(ours, drop, grid[:, channel]) < TOLERANCE


@pytest.mark.parametrize(
    ("size", "mask", "overlap"), [(24, 8, 0.5), (24, 6, 0.5), (48, 8, 0.5), (23, 8, 0.5), (30, 16, 0.6)]
)
def test_monai_windows_are_ours_when_the_remainder_is_whole(size, mask, overlap):
    """MONAI's step is int(mask·(1 − overlap)); where the step divides size − mask, its windows are
    MaskClipping "off"'s; otherwise it adds one, moved back to end at the border."""
    pytest.importorskip("monai")
    from monai.data.utils import dense_patch_slices
    from monai.inferers.utils import _get_scan_interval

    step = _get_scan_interval((size,), (mask,), 1, (overlap,))[0]
    assert step == max(int(mask * (1 - overlap)), 1)
    theirs = [(window[0].start, window[0].stop) for window in dense_patch_slices((size,), (mask,), (step,))]
    ours = [tuple(pair) for pair in axis_ranges(size, mask, step, False).tolist()]
    if (size - mask) % step == 0:
        assert theirs == ours
    else:
        assert theirs == [*ours, (size - mask, size)]


# --------------------------------------------------------------------------- Captum


def test_captum_windows_on_a_volume_are_our_grid_averaged(volume):
    captum = pytest.importorskip("captum.attr")
    model = volume_model()
    grid = occlusionSensitivity(
        importNetworkFromPyTorch(model, InputSize=[*VOLUME, 1]),
        volume,
        [1, 2, 3],
        MaskSize=[8, 6, 4],
        Stride=[4, 3, 4],
        MaskClipping="off",
        MaskValue=0.25,
        OutputUpsampling="none",
    )
    occlusion = captum.Occlusion(model)
    for channel in range(3):
        attributions = occlusion.attribute(
            torch.from_numpy(volume)[None, None],
            sliding_window_shapes=(1, 8, 6, 4),
            strides=(1, 4, 3, 4),
            baselines=0.25,
            target=channel,
            perturbations_per_eval=32,
        )
        ours = window_average(grid[..., channel], [8, 6, 4], [4, 3, 4], VOLUME)
        assert relative_difference(ours, attributions[0, 0].numpy(), grid[..., channel]) < TOLERANCE


def test_captum_windows_on_a_signal_with_a_baseline_per_feature(signal):
    captum = pytest.importorskip("captum.attr")
    model = signal_model()
    fill = np.array([0.5, -1.0, 2.0])
    grid = occlusionSensitivity(
        importNetworkFromPyTorch(model, InputSize=[C, T], InputDataFormats="BCT"),
        signal,
        [2, 4],
        MaskSize=10,
        Stride=5,
        MaskClipping="off",
        MaskValue=fill,
        OutputUpsampling="none",
    )
    baselines = torch.tensor(fill, dtype=torch.float32).reshape(1, C, 1)
    for column, target in enumerate([1, 3]):
        attributions = captum.Occlusion(model).attribute(
            torch.from_numpy(signal)[None],
            sliding_window_shapes=(C, 10),
            strides=(C, 5),
            baselines=baselines,
            target=target,
        )[0]
        assert np.array_equal(attributions[0].numpy(), attributions[2].numpy())  # every feature alike
        ours = window_average(grid[:, column], [10], [5], (T,))
        assert relative_difference(ours, attributions[0].numpy(), grid[:, column]) < TOLERANCE


def test_captum_element_targets_and_reduced_outputs_are_reduction_fcns(signal):
    """A segmentation-like output N × K × T: Captum's tuple target (k, t) is one element,
    ReductionFcn a[:, t]; a forward_func summing a region is ReductionFcn summing it."""
    captum = pytest.importorskip("captum.attr")
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        torch.nn.Conv1d(C, 6, 7, padding=3), torch.nn.ReLU(), torch.nn.Conv1d(6, 3, 7, padding=3)
    ).eval()
    net = importNetworkFromPyTorch(model, InputSize=[C, T], InputDataFormats="BCT")
    x = torch.from_numpy(signal)[None]
    options = dict(MaskSize=10, Stride=5, MaskClipping="off", MaskValue=0, OutputUpsampling="none")

    element = occlusionSensitivity(net, signal, 2, ReductionFcn=lambda a: a[:, 40], **options)
    theirs = captum.Occlusion(model).attribute(x, sliding_window_shapes=(C, 10), strides=(C, 5), target=(1, 40))
    assert np.abs(element).max() > 0
    ours = window_average(element, [10], [5], (T,))
    assert relative_difference(ours, theirs[0, 0].numpy(), element) < TOLERANCE

    region = occlusionSensitivity(net, signal, 3, ReductionFcn=lambda a: a[:, 20:60].sum(axis=1), **options)
    theirs = captum.Occlusion(lambda inputs: model(inputs)[:, 2, 20:60].sum(dim=1)).attribute(
        x, sliding_window_shapes=(C, 10), strides=(C, 5)
    )
    ours = window_average(region, [10], [5], (T,))
    assert relative_difference(ours, theirs[0, 0].numpy(), region) < TOLERANCE


@pytest.mark.parametrize(("size", "mask", "stride"), [(24, 8, 4), (24, 6, 3), (100, 10, 5), (23, 8, 4), (30, 7, 7)])
def test_captum_windows_are_ours_when_the_remainder_is_whole(size, mask, stride):
    """Captum's windows, read from the inputs it runs: from index 0, every stride, until one
    reaches the border; where the stride divides size − mask they are MaskClipping "off"'s,
    otherwise its last one is cut at the border."""
    captum = pytest.importorskip("captum.attr")
    seen = []

    def forward(inputs):
        seen.extend(np.flatnonzero(row == 0) for row in inputs[:, 0].numpy())
        return inputs.sum(dim=(1, 2))

    captum.Occlusion(forward).attribute(torch.ones(1, 1, size), sliding_window_shapes=(1, mask), strides=(1, stride))
    theirs = [(int(hidden[0]), int(hidden[-1]) + 1) for hidden in seen if hidden.size]
    ours = [tuple(pair) for pair in axis_ranges(size, mask, stride, False).tolist()]
    if (size - mask) % stride == 0:
        assert theirs == ours
    else:
        assert theirs[:-1] == ours and theirs[-1] == (ours[-1][0] + stride, size)
