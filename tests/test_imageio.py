"""imread / imwrite: MATLAB's arrays (RGB order, gray as H×W, the file's class) from OpenCV files."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matlab_occsens import imread, imwrite
from matlab_occsens.image._header import read_header

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def rgb() -> np.ndarray:
    image = np.zeros((5, 7, 3), np.uint8)
    image[..., 0] = 250  # red
    image[..., 1] = np.arange(7, dtype=np.uint8) * 30
    image[..., 2] = 3
    return image


def test_color_file_is_rgb(tmp_path, rgb):
    path = tmp_path / "c.png"
    assert cv2.imwrite(str(path), rgb[:, :, ::-1])  # OpenCV writes BGR
    read = imread(path)
    assert read.dtype == np.uint8 and read.shape == (5, 7, 3)
    np.testing.assert_array_equal(read, rgb)


def test_gray_stays_two_dimensional_and_16_bit_stays_uint16(tmp_path):
    gray16 = (np.arange(35).reshape(5, 7) * 1800).astype(np.uint16)
    path = tmp_path / "g.png"
    cv2.imwrite(str(path), gray16)
    read = imread(str(path))
    assert read.dtype == np.uint16 and read.shape == (5, 7)
    np.testing.assert_array_equal(read, gray16)


def test_alpha_is_dropped_or_returned_as_the_third_output(tmp_path, rgb):
    alpha = np.full((5, 7), 77, np.uint8)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.dstack([rgb[:, :, ::-1], alpha]))
    np.testing.assert_array_equal(imread(path), rgb)
    image, cmap, read_alpha = imread(path, nargout=3)
    np.testing.assert_array_equal(image, rgb)
    assert cmap.shape == (0, 3)
    np.testing.assert_array_equal(read_alpha, alpha)
    image, cmap = imread(path, nargout=2)
    assert image.shape == (5, 7, 3) and cmap.shape == (0, 3)


def test_no_alpha_gives_an_empty_alpha(tmp_path, rgb):
    path = tmp_path / "c.jpg"
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    _, _, alpha = imread(path, nargout=3)
    assert alpha.shape == (0, 0)


def test_gray_png_with_transparency_is_gray_like_matlab(tmp_path):
    Image = pytest.importorskip("PIL.Image")  # OpenCV cannot write a gray+alpha PNG
    pixels = np.dstack([np.arange(12, dtype=np.uint8).reshape(3, 4) * 20, np.full((3, 4), 9, np.uint8)])
    path = tmp_path / "la.png"
    Image.fromarray(pixels, "LA").save(path)
    image, _, alpha = imread(path, nargout=3)
    assert image.shape == (3, 4)
    np.testing.assert_array_equal(image, pixels[:, :, 0])
    np.testing.assert_array_equal(alpha, pixels[:, :, 1])


def test_non_ascii_path(tmp_path, rgb):
    path = tmp_path / "café ☕.png"
    imwrite(rgb, path)
    np.testing.assert_array_equal(imread(path), rgb)


def test_imwrite_round_trips_and_follows_matlab_classes(tmp_path, rgb):
    imwrite(rgb, tmp_path / "rgb.png")
    np.testing.assert_array_equal(imread(tmp_path / "rgb.png"), rgb)
    imwrite(rgb[:, :, :1], tmp_path / "one.png")
    np.testing.assert_array_equal(imread(tmp_path / "one.png"), rgb[:, :, 0])
    imwrite(np.array([[0.0, 0.5, 1.0, 2.0, -1.0, 0.002]]), tmp_path / "float.png")  # [0,1] -> uint8, clipped
    np.testing.assert_array_equal(imread(tmp_path / "float.png"), [[0, 128, 255, 255, 0, 1]])
    imwrite(np.array([[True, False]]), tmp_path / "bool.png")
    np.testing.assert_array_equal(imread(tmp_path / "bool.png"), [[255, 0]])
    deep = np.array([[0, 65535], [1000, 40000]], np.uint16)
    imwrite(deep, tmp_path / "deep.png")
    np.testing.assert_array_equal(imread(tmp_path / "deep.png"), deep)


def test_imwrite_does_not_modify_its_input(tmp_path, rgb):
    before = rgb.copy()
    imwrite(rgb, tmp_path / "x.png")
    np.testing.assert_array_equal(rgb, before)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda d: imread(d / "missing.png"), ValueError, r"imread: file '.*missing\.png' does not exist"),
        (lambda d: imread(d), ValueError, r"does not exist or is not a file"),
        (lambda d: imread(42), TypeError, r"imread: filename must be a path"),
        (lambda d: imread(d / "text.png"), ValueError, r"is not an image file OpenCV can decode"),
        (lambda d: imread(d / "empty.png"), ValueError, r"is not an image file OpenCV can decode"),
        (lambda d: imread(d / "text.png", nargout=4), ValueError, r"nargout must be 1, 2 or 3"),
        (lambda d: imwrite(np.zeros((2, 2, 2), np.uint8), d / "x.png"), ValueError, r"H×W or H×W×3"),
        (lambda d: imwrite(np.zeros((2, 2), np.int32), d / "x.png"), TypeError, r"uint8, uint16, logical"),
        (lambda d: imwrite(np.zeros((2, 2)), d / "x.unknown"), ValueError, r"cannot write uint8 images as '\.unknown'"),
        (lambda d: imwrite(np.full((2, 2), np.nan), d / "x.png"), ValueError, r"NaN or Inf"),
        (lambda d: imwrite(np.zeros((2, 2)), d / "no" / "dir.png"), ValueError, r"cannot write '.*dir\.png'"),
    ],
)
def test_errors_name_the_function_and_the_problem(tmp_path, call, error, words):
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(error, match=words):
        call(tmp_path)


def test_floating_point_tiff_stays_float32(tmp_path, rgb):
    values = rgb.astype(np.float32) / 255
    cv2.imwrite(str(tmp_path / "f.tif"), values[:, :, ::-1])
    read = imread(tmp_path / "f.tif")
    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, values)


# --- the decoded size, read from the header before decoding ---------------------------------------


def zeros_png(path, height: int, width: int) -> None:
    """A real 8-bit gray PNG of zeros, compressed row block by row block (never whole in memory)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    compressor = zlib.compressobj(9)
    rows = bytes(1000 * (width + 1))  # filter byte 0 and zero pixels, 1000 rows at a time
    parts = [compressor.compress(rows) for _ in range(height // 1000)]
    parts += [compressor.compress(bytes((height % 1000) * (width + 1))), compressor.flush()]
    with open(path, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        file.write(chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def test_a_crafted_zeros_png_is_a_real_image(tmp_path):
    zeros_png(tmp_path / "z.png", 2500, 1200)
    image = imread(tmp_path / "z.png")
    assert image.shape == (2500, 1200) and image.dtype == np.uint8 and not image.any()


def test_a_tiny_png_of_30000x30000_is_refused_from_its_header_with_little_memory(tmp_path):
    path = tmp_path / "bomb.png"
    zeros_png(path, 30000, 30000)
    assert path.stat().st_size < 2**20  # 0.9 MB on disk, 900 MB decoded
    probe = (
        "import resource, sys\n"
        "from matlab_occsens import imread\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    imread(sys.argv[1])\n"
        "except ValueError as error:\n"
        "    print(error)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    message, growth_mib = done.stdout.splitlines()
    assert message == (
        f"imread: {str(path)!r} is a 30000x30000 PNG image with 1 channel(s), 858 MiB once decoded, more than "
        f"MaxImageBytes (256 MiB); raise MaxImageBytes to read it."
    )
    assert int(growth_mib) < 20, done.stdout  # the file's bytes and nothing like 858 MiB


def test_max_image_bytes_raises_or_lifts_the_limit(tmp_path):
    zeros_png(tmp_path / "z.png", 300, 200)  # 60000 bytes decoded
    with pytest.raises(ValueError, match=r"200x300 PNG image .* 58.6 KiB once decoded, more than MaxImageBytes"):
        imread(tmp_path / "z.png", MaxImageBytes=59999)
    assert imread(tmp_path / "z.png", MaxImageBytes=60000).shape == (300, 200)
    assert imread(tmp_path / "z.png", MaxImageBytes=None).shape == (300, 200)
    with pytest.raises(ValueError, match=r"MaxImageBytes must be a positive number of bytes or None; got 0"):
        imread(tmp_path / "z.png", MaxImageBytes=0)
    with pytest.raises(TypeError, match=r"MaxImageBytes must be a positive number of bytes or None; got '1G'"):
        imread(tmp_path / "z.png", MaxImageBytes="1G")


def big_endian_tiff(rgb: np.ndarray) -> bytes:
    """An uncompressed RGB TIFF in Motorola byte order (BitsPerSample stored out of line)."""
    height, width, _ = rgb.shape
    entries = [
        (256, 3, 1, width),
        (257, 3, 1, height),
        (258, 3, 3, 8 + 2 + 10 * 12 + 4),
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, 8 + 2 + 10 * 12 + 4 + 6),
        (277, 3, 1, 3),
        (278, 3, 1, height),
        (279, 4, 1, rgb.nbytes),
        (284, 3, 1, 1),
    ]
    ifd = struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack(">HHI", tag, kind, count) + (
            struct.pack(">HH", value, 0) if kind == 3 and count == 1 else struct.pack(">I", value)
        )
    return b"MM\x00*" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0) + struct.pack(">HHH", 8, 8, 8) + rgb.tobytes()


def _pillow_save(array, path, **options):
    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(array).save(path, **options)


@pytest.mark.parametrize(
    "name, shape, dtype, write",
    [
        ("gray.png", (13, 21), np.uint8, "cv2"),
        ("rgb.png", (13, 21, 3), np.uint8, "cv2"),
        ("rgba.png", (13, 21, 4), np.uint8, "cv2"),
        ("deep.png", (13, 21, 3), np.uint16, "cv2"),
        ("gray.jpg", (13, 21), np.uint8, "cv2"),
        ("rgb.jpg", (13, 21, 3), np.uint8, "cv2"),
        ("progressive.jpg", (13, 21, 3), np.uint8, "pillow-progressive"),
        ("exif.jpg", (13, 21, 3), np.uint8, "pillow-exif"),
        ("rgb.bmp", (13, 21, 3), np.uint8, "cv2"),
        ("gray.bmp", (13, 21), np.uint8, "cv2"),
        ("rgba.bmp", (13, 21, 4), np.uint8, "pillow"),
        ("rgb.tif", (13, 21, 3), np.uint8, "cv2"),
        ("deep.tif", (13, 21), np.uint16, "cv2"),
        ("float.tif", (13, 21, 3), np.float32, "cv2"),
        ("big-endian.tif", (13, 21, 3), np.uint8, "big-endian"),
        ("lossy.webp", (13, 21, 3), np.uint8, "cv2"),
        ("lossless.webp", (13, 21, 3), np.uint8, "cv2-lossless"),
        ("alpha.webp", (13, 21, 4), np.uint8, "cv2"),
        ("gray.pgm", (13, 21), np.uint8, "cv2"),
        ("deep.pgm", (13, 21), np.uint16, "cv2"),
        ("rgb.ppm", (13, 21, 3), np.uint8, "cv2"),
    ],
)
def test_the_header_gives_the_decoded_size_of_every_format(tmp_path, name, shape, dtype, write):
    rng = np.random.default_rng(3)
    array = (rng.random(shape) * (1 if dtype == np.float32 else 200)).astype(dtype)
    path = tmp_path / name
    if write == "cv2":
        assert cv2.imwrite(str(path), array)
    elif write == "cv2-lossless":
        assert cv2.imwrite(str(path), array, [cv2.IMWRITE_WEBP_QUALITY, 101])
    elif write == "pillow-progressive":
        _pillow_save(array, path, progressive=True)
    elif write == "pillow-exif":
        _pillow_save(array, path, exif=b"Exif\x00\x00" + bytes(3000))  # an APP1 segment before the frame
    elif write == "big-endian":
        path.write_bytes(big_endian_tiff(array))
    else:
        _pillow_save(array, path)
    header = read_header(path.read_bytes())
    decoded = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    assert header is not None and (header.height, header.width) == decoded.shape[:2] == shape[:2]
    assert header.decoded_bytes >= decoded.nbytes
    assert header.decoded_bytes <= decoded.nbytes * 3  # rounded up at most from gray to a colour palette
    assert np.array_equal(imread(path, MaxImageBytes=header.decoded_bytes).shape[:2], shape[:2])


def test_damaged_or_unknown_headers_are_not_guessed(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    assert cv2.imwrite(str(tmp_path / "x.png"), rgb)
    data = (tmp_path / "x.png").read_bytes()
    assert read_header(data[:20]) is None  # cut inside IHDR
    assert read_header(b"GIF89a" + bytes(20)) is None
    assert read_header(b"\xff\xd8\xff\xda" + bytes(20)) is None  # scan data before any frame
    assert read_header(b"P6\n0 5\n255\n") is None  # zero width
    assert read_header(data[:25] + b"\x05" + data[26:]) is None  # colour type 5 does not exist
    if not cv2.haveImageReader(str(tmp_path / "x.png")):
        pytest.skip("this OpenCV has no PNG reader")
    assert cv2.imwrite(str(tmp_path / "x.hdr"), rgb.astype(np.float32))  # Radiance HDR: no header read here
    with pytest.raises(
        ValueError,
        match=r"cannot read the image size of '.*x\.hdr' from its header .* "
        r"pass MaxImageBytes=None",
    ):
        imread(tmp_path / "x.hdr")
    assert imread(tmp_path / "x.hdr", MaxImageBytes=None).shape == (4, 6, 3)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF", b"P6"]),
    st.binary(max_size=64),
)
def test_any_bytes_after_a_known_signature_give_a_header_or_none_never_an_error(signature, rest):
    header = read_header(signature + rest)
    assert header is None or (header.height > 0 and header.width > 0 and header.decoded_bytes > 0)
