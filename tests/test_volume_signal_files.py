"""Volumes and signals as files (matlab_occsens._volumes_signals): real files on disk, real nibabel.

Each reader's good files give exactly the array written; each bad file (wrong rank, NaN, objects,
complex values, too large, truncated, not the format) is refused with one message naming the file,
before anything is unpickled or allocated. A NIfTI map written back reads back with the input's
affine, header geometry and grid. The pictures put each map value where its voxel or time step is.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import nibabel
import numpy as np
import pytest

from matlab_occsens import imresize, imresize3
from matlab_occsens._volumes_signals.fit import fit_signal, fit_volume
from matlab_occsens._volumes_signals.nifti import map_on_input_grid, nifti_bytes
from matlab_occsens._volumes_signals.pictures import (
    montage,
    montage_planes,
    signal_picture,
    time_columns,
    volume_picture,
)
from matlab_occsens._volumes_signals.read import Signal, Volume, file_stem, read_signal, read_volume
from matlab_occsens.image._display import jet, to_uint8

AFFINE = np.array([[0.0, 0.0, 2.5, -30.0], [-1.5, 0.0, 0.0, 40.0], [0.0, 2.0, 0.0, -12.0], [0.0, 0.0, 0.0, 1.0]])
MiB = 2**20


def nifti_file(path: Path, values: np.ndarray, image_class=nibabel.Nifti1Image, **header) -> Path:
    image = image_class(values, AFFINE)
    for key, value in header.items():
        image.header[key] = value
    nibabel.save(image, path)
    return path


# --- .npy -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 6, 7), (5, 6, 7, 2)])
def test_a_npy_volume_is_read_as_written_in_its_own_class(tmp_path, shape):
    values = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    np.save(tmp_path / "v.npy", values)
    volume = read_volume(tmp_path / "v.npy", 256 * MiB)
    assert volume.values.dtype == np.int16 and volume.nifti is None
    np.testing.assert_array_equal(volume.values, values)


def test_a_npy_signal_is_c_by_t_and_a_vector_is_one_feature(tmp_path):
    np.save(tmp_path / "s.npy", np.arange(12.0).reshape(3, 4))
    np.save(tmp_path / "v.npy", np.arange(5.0))
    np.testing.assert_array_equal(read_signal(tmp_path / "s.npy", None).values, np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(read_signal(tmp_path / "v.npy", None).values, [np.arange(5.0)])


class Planted:
    """Unpickling this writes a file: proof that a reader ran code from the file."""

    marker = ""

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "ran"))


def test_an_object_npy_is_refused_from_its_header_and_never_unpickled(tmp_path):
    Planted.marker = str(tmp_path / "ran.txt")
    array = np.empty((2, 2, 2), dtype=object)
    array[...] = Planted()
    np.save(tmp_path / "evil.npy", array, allow_pickle=True)
    for reader in (read_volume, read_signal):
        with pytest.raises(ValueError, match=r"evil\.npy' holds Python objects .* a file must not run code"):
            reader(tmp_path / "evil.npy", None)
    assert not (tmp_path / "ran.txt").exists()


@pytest.mark.parametrize(
    "values, message",
    [
        (np.zeros((4, 4, 4), np.complex64), r"holds complex64 values; expected real numbers"),
        (np.array([["a", "b"]]), r"holds <U1 values; expected real numbers"),
        (np.zeros((4, 4)), r"holds a 2-D array \(4x4\); a volume is S1xS2xS3 or S1xS2xS3xC\."),
        (np.zeros((1, 2, 4, 4, 4)), r"holds a 5-D array .* \(one volume per file\)"),
    ],
)
def test_a_bad_npy_volume_is_refused_naming_the_file(tmp_path, values, message):
    np.save(tmp_path / "bad.npy", values)
    with pytest.raises(ValueError, match=r"^'.*bad\.npy' " + message):
        read_volume(tmp_path / "bad.npy", None)


def test_a_bad_npy_signal_is_refused_naming_the_file(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4)))
    with pytest.raises(
        ValueError, match=r"bad\.npy' holds a 3-D array \(2x3x4\); a signal is CxT .*one signal per file"
    ):
        read_signal(tmp_path / "bad.npy", None)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_nan_inf_and_values_beyond_single_precision_are_refused_with_the_first_index(tmp_path, bad):
    values = np.zeros((3, 4, 5))
    values[1, 2, 3] = bad
    values[2, 0, 0] = bad
    np.save(tmp_path / "v.npy", values)
    with pytest.raises(ValueError, match=r"v\.npy' contains NaN, Inf .*\(2 of 60; the first at index \(1, 2, 3\)"):
        read_volume(tmp_path / "v.npy", None)


def test_a_npy_announcing_more_than_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as file:  # a header for 8 TB of float64 and no data at all
        np.lib.format.write_array_header_1_0(
            file, {"descr": "<f8", "fortran_order": False, "shape": (10000, 10000, 10000)}
        )
    with pytest.raises(
        ValueError,
        match=r"huge\.npy' holds a 10000x10000x10000 array, 7.45e\+03 GiB once read, more than the limit of "
        r"256 MiB; raise it with --max-image-bytes",
    ):
        read_volume(path, 256 * MiB)
    np.save(tmp_path / "small.npy", np.zeros((4, 4, 4)))  # 512 bytes
    with pytest.raises(ValueError, match=r"512 bytes once read, more than the limit of 500 bytes"):
        read_volume(tmp_path / "small.npy", 500)
    assert read_volume(tmp_path / "small.npy", 512).values.shape == (4, 4, 4)


def test_a_truncated_or_foreign_npy_is_refused(tmp_path):
    np.save(tmp_path / "whole.npy", np.zeros((8, 8, 8)))
    data = (tmp_path / "whole.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.npy").write_text("1,2,3\n")
    with pytest.raises(ValueError, match=r"cut\.npy' is not a whole \.npy file"):
        read_volume(tmp_path / "cut.npy", None)
    with pytest.raises(ValueError, match=r"text\.npy' is not a \.npy file numpy's np\.save writes"):
        read_volume(tmp_path / "text.npy", None)
    with pytest.raises(ValueError, match=r"missing\.npy' does not exist or is not a file"):
        read_volume(tmp_path / "missing.npy", None)


def test_a_file_of_another_kind_names_the_suffixes_read(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    with pytest.raises(ValueError, match=r"a volume network reads \.npy, \.nii or \.nii\.gz files; got 'photo\.png'"):
        read_volume(tmp_path / "photo.png", None)
    with pytest.raises(ValueError, match=r"a signal network reads \.npy or \.csv files; got 'photo\.png'"):
        read_signal(tmp_path / "photo.png", None)


def test_file_stems_drop_both_suffixes_of_nii_gz():
    assert [file_stem(name) for name in ("a/brain.nii.gz", "b.NII", "c.npy", "d.csv", "e.tar.gz")] == [
        "brain",
        "b",
        "c",
        "d",
        "e.tar",
    ]


# --- NIfTI ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
@pytest.mark.parametrize("image_class", [nibabel.Nifti1Image, nibabel.Nifti2Image])
def test_a_nifti_volume_is_read_in_the_files_own_index_order(tmp_path, name, image_class):
    values = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # distinct along every axis
    volume = read_volume(nifti_file(tmp_path / name, values, image_class), None)
    assert volume.values.dtype == np.int16 and volume.notes == []
    np.testing.assert_array_equal(volume.values, values)  # V[i, j, k] as stored, as niftiread
    assert volume.nifti.image_class is image_class and volume.nifti.compressed == name.endswith(".gz")
    np.testing.assert_array_equal(volume.nifti.affine, AFFINE)


def test_a_4d_nifti_is_channels_and_trailing_singletons_are_dropped(tmp_path):
    values = np.random.default_rng(0).random((4, 5, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(read_volume(nifti_file(tmp_path / "c.nii", values), None).values, values)
    five = read_volume(nifti_file(tmp_path / "five.nii", values[..., np.newaxis]), None)
    assert five.values.shape == (4, 5, 6, 2)


def test_a_niftis_scaling_is_applied_and_said(tmp_path):
    stored = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    image = nibabel.Nifti1Image(stored, AFFINE)
    image.header.set_slope_inter(0.5, -3.0)
    nibabel.save(image, tmp_path / "scaled.nii")
    volume = read_volume(tmp_path / "scaled.nii", None)
    np.testing.assert_array_equal(volume.values, stored * 0.5 - 3.0)
    assert volume.notes == [
        "applied the file's scaling (scl_slope 0.5, scl_inter -3) as nibabel and MONAI read NIfTI; MATLAB's "
        "niftiread returns the stored values"
    ]


@pytest.mark.parametrize(
    "values, message",
    [
        (np.zeros((3, 4, 5, 2, 3), np.float32), r"is a 5-D NIfTI image \(3x4x5x2x3\); .*dimensions beyond the fourth"),
        (np.zeros((3, 4), np.float32), r"is a 2-D NIfTI image \(3x4\); a volume network takes three spatial"),
        (np.zeros((3, 4, 5), np.complex64), r"holds complex64 values; expected real numbers"),
        (np.full((3, 4, 5), np.nan, np.float32), r"contains NaN, Inf or values beyond single precision \(60 of 60"),
    ],
)
def test_a_bad_nifti_is_refused_naming_the_file(tmp_path, values, message):
    with pytest.raises(ValueError, match=r"^'.*bad\.nii\.gz' " + message):
        read_volume(nifti_file(tmp_path / "bad.nii.gz", values), None)


def test_an_rgb_nifti_is_refused(tmp_path):
    rgb = np.zeros((3, 4, 5), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nibabel.save(nibabel.Nifti1Image(rgb, AFFINE), tmp_path / "rgb.nii")
    with pytest.raises(ValueError, match=r"rgb\.nii' holds .* values; expected real numbers"):
        read_volume(tmp_path / "rgb.nii", None)


def test_a_nifti_announcing_more_than_the_limit_is_refused_from_its_header(tmp_path):
    path = nifti_file(tmp_path / "big.nii.gz", np.zeros((64, 64, 64), np.float32))  # 1 MiB of float32
    with pytest.raises(
        ValueError, match=r"big\.nii\.gz' holds a 64x64x64 NIfTI volume, 1 MiB once read, more than the limit of 1 KiB"
    ):
        read_volume(path, 1024)
    header = nibabel.Nifti1Header()  # a header announcing 4 GiB, followed by no data at all
    header.set_data_shape((1024, 1024, 1024))
    header.set_data_dtype(np.float32)
    with gzip.open(tmp_path / "bomb.nii.gz", "wb") as file:
        file.write(header.binaryblock + b"\0" * 4)
    with pytest.raises(ValueError, match=r"bomb\.nii\.gz' holds a 1024x1024x1024 NIfTI volume, 4 GiB once read"):
        read_volume(tmp_path / "bomb.nii.gz", 256 * MiB)


def test_a_truncated_or_foreign_nifti_is_refused(tmp_path):
    data = gzip.decompress(nifti_file(tmp_path / "v.nii.gz", np.ones((16, 16, 16), np.float32)).read_bytes())
    (tmp_path / "cut.nii").write_bytes(data[: len(data) - 100])
    (tmp_path / "cut.nii.gz").write_bytes(gzip.compress(data)[:-50])
    (tmp_path / "text.nii").write_text("not a volume at all")
    for name in ("cut.nii", "cut.nii.gz"):
        with pytest.raises(ValueError, match=rf"{name.replace('.', '[.]')}' cannot be read as a NIfTI file \("):
            read_volume(tmp_path / name, None)
    with pytest.raises(ValueError, match=r"text\.nii' is not a NIfTI-1 or NIfTI-2 file"):
        read_volume(tmp_path / "text.nii", None)


def test_without_nibabel_a_nifti_asks_for_the_volumes_extra(tmp_path, monkeypatch):
    path = nifti_file(tmp_path / "v.nii", np.ones((3, 3, 3), np.float32))
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(
        ImportError, match=r"reading NIfTI volumes needs nibabel, in the \[volumes\] extra: .*pip install .*\[volumes\]"
    ):
        read_volume(path, None)


# --- a NIfTI map written back -------------------------------------------------------------------------


def read_back(data: bytes, compressed: bool) -> nibabel.Nifti1Image:
    return nibabel.Nifti1Image.from_bytes(gzip.decompress(data) if compressed else data)


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_a_map_written_back_has_the_inputs_affine_geometry_and_grid(tmp_path, name):
    stored = np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8)
    image = nibabel.Nifti1Image(stored, AFFINE)
    image.header.set_xyzt_units("mm", "sec")
    image.header.set_qform(AFFINE, code=1)
    image.header.set_slope_inter(2.0, 1.0)
    image.header["cal_max"] = 500
    image.header.extensions.append(nibabel.nifti1.Nifti1Extension(6, b"a comment"))
    nibabel.save(image, tmp_path / name)
    source = read_volume(tmp_path / name, None).nifti
    scoreMap = np.random.default_rng(1).standard_normal((6, 7, 8)).astype(np.float32)
    data = nifti_bytes(map_on_input_grid(scoreMap, source, "bicubic"), source)
    assert (data[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_back(data, name.endswith(".gz"))
    np.testing.assert_array_equal(back.affine, AFFINE)
    assert back.header.get_data_dtype() == np.float32 and back.shape == (6, 7, 8)
    np.testing.assert_array_equal(np.asarray(back.dataobj), scoreMap)  # unscaled, exact
    original = nibabel.load(tmp_path / name).header
    for field in ("pixdim", "xyzt_units", "qform_code", "sform_code", "quatern_b", "srow_x", "srow_y", "srow_z"):
        np.testing.assert_array_equal(back.header[field], original[field], err_msg=field)
    assert float(back.header["cal_max"]) == 0 and len(back.header.extensions) == 0
    assert back.header["descrip"].item() == b"occlusionSensitivity scoreMap"


def test_a_resized_map_goes_back_to_the_inputs_grid_with_the_upsamplings_kernel(tmp_path):
    source = read_volume(nifti_file(tmp_path / "v.nii.gz", np.ones((10, 12, 9), np.float32)), None).nifti
    rng = np.random.default_rng(2)
    small = rng.standard_normal((8, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(map_on_input_grid(small, source, "bicubic"), imresize3(small, [10, 12, 9], "cubic"))
    np.testing.assert_array_equal(map_on_input_grid(small, source, "nearest"), imresize3(small, [10, 12, 9], "nearest"))
    two = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)  # a grid, OutputUpsampling "none", 2 channels
    on_grid = map_on_input_grid(two, source, "none")
    assert on_grid.shape == (10, 12, 9, 2)
    np.testing.assert_array_equal(on_grid[..., 1], imresize3(two[..., 1], [10, 12, 9], "nearest"))
    back = read_back(nifti_bytes(on_grid, source), True)
    assert back.shape == (10, 12, 9, 2)
    np.testing.assert_array_equal(back.affine, AFFINE)
    np.testing.assert_array_equal(np.asarray(back.dataobj), on_grid)


# --- CSV signals --------------------------------------------------------------------------------------


def test_a_csv_of_t_rows_and_c_columns_is_the_c_by_t_signal(tmp_path):
    table = np.array([[1.5, -2, 3], [4, 5e-3, 6], [7, 8, 9], [10, 11, 12]])  # T = 4 rows, C = 3 columns
    (tmp_path / "plain.csv").write_text("\n".join(",".join(f"{v:g}" for v in row) for row in table) + "\n")
    (tmp_path / "header.csv").write_bytes(
        b'\xef\xbb\xbf"x (m)",y,z\r\n'
        + b"\r\n".join(b",".join(f"{v:g}".encode() for v in row) for row in table)
        + b"\r\n\r\n"
    )
    for name, names in (("plain.csv", None), ("header.csv", ("x (m)", "y", "z"))):
        signal = read_signal(tmp_path / name, None)
        np.testing.assert_array_equal(signal.values, table.T)
        assert signal.names == names and signal.from_csv
    (tmp_path / "one.csv").write_text("value\n1\n2\n3")  # one column, no final newline
    np.testing.assert_array_equal(read_signal(tmp_path / "one.csv", None).values, [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b\n1,2\n3,x\n", r"line 3, column 2: 'x' is not a number"),
        ("1,2\n3\n", r"line 2 has 1 fields where the first has 2"),
        ("1,2\n3,\n", r"line 2, column 2: '' is not a number"),
        ("1;2;3\n4;5;6\n", r"line 2, column 1: '4;5;6' is not a number \(fields must be separated by commas\)"),
        ("", r"holds no time steps \(no rows of numbers\)"),
        ("a,b\n", r"holds no time steps \(no rows of numbers after its header\)"),
        ("a,b\n1,2\n3,nan\n", r"contains NaN, Inf .*the first in data row 2 after the header, column 2"),
    ],
)
def test_a_bad_csv_is_refused_naming_the_file_and_the_line(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(ValueError, match=r"^'.*bad\.csv' .*" + message):
        read_signal(tmp_path / "bad.csv", None)


def test_a_csv_larger_than_the_limit_is_refused_before_parsing(tmp_path):
    (tmp_path / "long.csv").write_text("a,b,c\n" + "1,2,3\n" * 1000)
    with pytest.raises(
        ValueError, match=r"long\.csv' holds a 1001x3 signal table, 23.5 KiB once read, more than the limit of 1 KiB"
    ):
        read_signal(tmp_path / "long.csv", 1024)
    (tmp_path / "wide.csv").write_text(",".join(["1"] * 600_000))  # one line longer than a read chunk
    with pytest.raises(ValueError, match=r"wide\.csv' holds a 1x600000 signal table, 4.58 MiB once read"):
        read_signal(tmp_path / "wide.csv", MiB)


# --- fitting to the network ---------------------------------------------------------------------------


def test_a_volume_of_another_size_is_resized_with_imresize3_channel_by_channel():
    values = np.random.default_rng(3).random((10, 12, 9, 2)).astype(np.float32)
    fitted = fit_volume(Volume(values), (8, 8, 8, 2), "'v.npy'")
    for channel in range(2):
        np.testing.assert_array_equal(fitted.pixels[..., channel], imresize3(values[..., channel], [8, 8, 8]))
    assert fitted.notes == ["resized 10x12x9 to 8x8x8 with imresize3 (cubic), as an image is resized with imresize"]
    same = fit_volume(Volume(values[..., 0]), (10, 12, 9, 1), "'v.npy'")
    assert same.notes == [] and same.pixels.shape == (10, 12, 9, 1)
    np.testing.assert_array_equal(same.pixels[..., 0], values[..., 0])


def test_a_volume_with_other_channels_is_refused_with_the_likely_fix():
    with pytest.raises(
        ValueError, match=r"'v.npy' has 8 channel\(s\) \(2x8x8x8\) but the network takes 1 \(net.InputSize 8x8x8x1\)\.$"
    ):
        fit_volume(Volume(np.zeros((2, 8, 8, 8))), (8, 8, 8, 1), "'v.npy'")
    with pytest.raises(ValueError, match=r"It looks like CxS1xS2xS3 \(channels first\).*np\.moveaxis\(V, 0, -1\)"):
        fit_volume(Volume(np.zeros((2, 8, 8, 8))), (8, 8, 8, 2), "'v.npy'")


def test_a_signal_is_never_resampled_and_each_mismatch_says_what_to_do():
    signal = np.zeros((3, 50))
    assert fit_signal(Signal(signal), (3, 50), "'s'").pixels is signal
    cases = [
        (
            Signal(np.zeros((3, 40))),
            r"has 40 time steps and the network takes 3 feature\(s\) x 50 time steps .* does not resample "
            r"signals: crop or resample it to 50 steps, or, .* give --input-size 3 40\.$",
        ),
        (
            Signal(np.zeros((50, 3))),
            r"is 50x3 \(CxT\) .* it looks like TxC \(time steps first\); signals are CxT: save X\.T\.$",
        ),
        (
            Signal(np.zeros((50, 3)), from_csv=True),
            r"its rows must be time steps and its columns features: transpose the table\.$",
        ),
        (Signal(np.zeros((2, 50))), r"has 2 features \(rows of the CxT array\) and the network takes 3"),
        (
            Signal(np.vstack([np.arange(50), np.ones((3, 50))]), ("", "a", "b", "c"), True),
            r"has 4 columns \(features\) .* Its first column looks like a row index, which pandas' to_csv "
            r"writes: save with index=False\.$",
        ),
    ]
    for given, message in cases:
        with pytest.raises(ValueError, match=r"^'s' .*" + message):
            fit_signal(given, (3, 50), "'s'")


# --- pictures -----------------------------------------------------------------------------------------


def test_a_montage_shows_every_plane_or_36_evenly_spaced_left_to_right_then_down():
    np.testing.assert_array_equal(montage_planes(20), np.arange(20))
    shown = montage_planes(100)
    assert shown.size == 36 and shown[0] == 0 and shown[-1] == 99 and np.all(np.diff(shown) >= 2)
    planes = np.arange(5)[:, np.newaxis, np.newaxis] * np.ones((5, 2, 3))
    sheet = montage(planes, 3, fill=-1)
    assert sheet.shape == (4, 9)
    np.testing.assert_array_equal(sheet[::2, ::3], [[0, 1, 2], [3, 4, -1]])


def blend(colour: np.ndarray, gray: float) -> np.ndarray:
    """overlayScoreMap's pixel: half the colour, half the gray image."""
    return to_uint8(0.5 * colour + 0.5 * gray)


def test_a_volumes_picture_puts_each_voxels_value_on_its_plane_and_place():
    volume = np.full((8, 6, 5), 3.0)
    volume[0, 0, 0] = 7.0  # gray: 0.5 everywhere but one voxel (1.0) and the darkest (0.0)
    volume[7, 5, 4] = -1.0
    scoreMap = np.zeros((8, 6, 5))
    scoreMap[2, 3, 4] = 1.0  # the largest value: jet's last colour, on plane 5 (index 4)
    picture = volume_picture(volume, scoreMap)
    factor, columns = 480 // (3 * 6), 3  # 5 planes: 3 columns, 2 rows of 8x6 tiles: 16 x 18, enlarged 26 times
    assert picture.shape[0] == 2 * 8 * factor and picture.shape[1] > columns * 6 * factor
    colors = jet()

    def pixel(plane: int, i: int, j: int) -> np.ndarray:
        row, column = divmod(plane, columns)
        return picture[(row * 8 + i) * factor + factor // 2, (column * 6 + j) * factor + factor // 2]

    np.testing.assert_array_equal(pixel(4, 2, 3), blend(colors[-1], 0.5))
    np.testing.assert_array_equal(pixel(4, 2, 2), blend(colors[0], 0.5))
    np.testing.assert_array_equal(pixel(1, 2, 3), blend(colors[0], 0.5))
    np.testing.assert_array_equal(pixel(0, 0, 0), blend(colors[0], 1.0))
    np.testing.assert_array_equal(pixel(4, 7, 5), blend(colors[0], 0.0))
    empty = picture[8 * factor :, 2 * 6 * factor : 3 * 6 * factor]  # the sixth cell: no plane
    assert np.all(empty == 255)


def test_a_grid_map_is_drawn_enlarged_over_its_volume():
    grid = np.arange(8.0).reshape(2, 2, 2)
    np.testing.assert_array_equal(
        volume_picture(np.zeros((4, 4, 4)), grid),
        volume_picture(np.zeros((4, 4, 4)), imresize3(grid, [4, 4, 4], "nearest")),
    )


def test_a_signals_picture_puts_each_time_steps_value_in_its_columns():
    steps = 50
    signal = np.vstack([np.sin(np.arange(steps) / 3), np.arange(steps, dtype=float)])
    scoreMap = np.zeros(steps)
    scoreMap[17] = 2.0
    picture = signal_picture(signal, scoreMap)
    columns = time_columns(steps)
    assert columns.size == 450 and np.array_equal(columns, np.repeat(np.arange(steps), 9))
    strip = picture[-1, : columns.size]
    colors = jet()
    np.testing.assert_array_equal(strip[columns == 17], np.tile(to_uint8(colors[-1]), (9, 1)))
    np.testing.assert_array_equal(strip[columns != 17], np.tile(to_uint8(colors[0]), (441, 1)))
    assert picture.shape[0] == 2 * 64 + 6 + 64  # two features: bands of 64 pixels (the most), then the strip
    plot = picture[: 2 * 64, : columns.size].astype(int)
    blue = plot[..., 2] - plot[..., 0] > 60  # MATLAB's first line colour, anti-aliased on white
    orange = plot[..., 0] - plot[..., 2] > 60  # its second
    assert blue[:64].sum() > 400 and not blue[64:].any()  # feature 1 on top, in its own band
    assert orange[64:].sum() > 400 and not orange[:64].any()
    left, right = np.flatnonzero(orange[64:, 10]), np.flatnonzero(orange[64:, -10])  # feature 2 rises
    assert left.min() > right.max()


def test_a_long_signal_shares_pixel_columns_and_a_grid_map_is_drawn_enlarged():
    columns = time_columns(10000)
    assert columns.size == 4096 and columns[0] == 1 and columns[-1] == 9998
    signal = np.random.default_rng(4).standard_normal((1, 30))
    grid = np.array([0.0, 1.0, 3.0])
    np.testing.assert_array_equal(
        signal_picture(signal, grid), signal_picture(signal, imresize(grid[:, np.newaxis], [30, 1], "nearest")[:, 0])
    )
