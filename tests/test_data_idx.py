"""IDX reader and writer: round trips and every kind of damaged file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from convprop.data import DatasetError, read_idx, write_idx
from convprop.data.idx import IDX_DTYPES

DTYPES = [dt.newbyteorder("=") for dt in IDX_DTYPES.values()]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(7)
    for ndim in (1, 2, 3, 4):
        shape = tuple(rng.integers(1, 6, size=ndim))
        info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
        a = rng.uniform(max(info.min, -1e6), min(info.max, 1e6), size=shape).astype(dtype)
        path = write_idx(tmp_path / f"a{ndim}.idx", a, compress=compress)
        b = read_idx(path)
        assert b.dtype == dtype and b.dtype.isnative
        assert b.shape == shape
        np.testing.assert_array_equal(a, b)


def test_header_layout_is_the_idx_format(tmp_path):
    """Bytes as the MNIST page describes them: 0 0 type ndim, big-endian dims, big-endian data."""
    path = write_idx(tmp_path / "x", np.array([[1, 2, 3], [4, 5, 256]], np.int32), compress=False)
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 2])
    assert raw[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert raw[12:16] == (1).to_bytes(4, "big") and raw[-4:] == (256).to_bytes(4, "big")


def test_gzip_is_detected_by_content_not_name(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "gz-without-suffix", a, compress=True)), a)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "raw-with-suffix.gz", a, compress=False)), a)


def test_multi_member_gzip(tmp_path):
    raw = write_idx(tmp_path / "r", np.arange(100, dtype=np.uint8).reshape(10, 10), compress=False).read_bytes()
    (tmp_path / "m.gz").write_bytes(gzip.compress(raw[:37]) + gzip.compress(raw[37:]))
    np.testing.assert_array_equal(read_idx(tmp_path / "m.gz"), np.arange(100).reshape(10, 10))


def _images_bytes(n=5, h=4, w=3) -> bytes:
    return bytes([0, 0, 8, 3]) + np.array([n, h, w], ">u4").tobytes() + bytes(range(n * h * w))


def _expect_error(tmp_path, data: bytes, match: str, compress: bool):
    path = tmp_path / ("bad.gz" if compress else "bad")
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DatasetError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x00\x01\x08\x03" + _images_bytes()[4:], r"bad magic number 0x00010803"),
        (b"\x1f\x00\x08\x03" + _images_bytes()[4:], r"bad magic number"),
        (b"\x00\x00\x07\x03" + _images_bytes()[4:], r"unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", r"declares 0 dimensions"),
        (b"\x00\x00", r"shorter than the 4-byte magic number"),
        (_images_bytes()[:10], r"header declares 3 dimensions but only 6 of their 12 bytes"),
        (_images_bytes()[:-1], r"truncated: expected 76 bytes \(16-byte header \+ 5x4x3 uint8 values\), found 75"),
        (_images_bytes()[:16], r"expected 76 bytes .* found 16"),
        (_images_bytes() + b"\x00", r"unexpected bytes after the 5x4x3 values"),
        # The header says 6 images but the data holds 5: the declared dims do not match the length.
        (bytes([0, 0, 8, 3]) + np.array([6, 4, 3], ">u4").tobytes() + bytes(60), r"expected 88 bytes"),
    ],
    ids=[
        "magic",
        "magic-not-gzip",
        "type-code",
        "zero-dims",
        "tiny",
        "short-header",
        "short-data",
        "no-data",
        "extra-byte",
        "wrong-dims",
    ],
)
def test_corrupt_files(tmp_path, data, match, compress):
    _expect_error(tmp_path, data, match, compress)


def test_truncated_gzip_stream(tmp_path):
    """An interrupted download of a .gz file: the message says the stream is cut short, with byte counts."""
    a = np.random.default_rng(0).integers(0, 256, size=(200, 28, 28), dtype=np.uint8)
    full = write_idx(tmp_path / "full.gz", a).read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(DatasetError, match=r"truncated: expected 156816 bytes .* found \d+ \(the gzip stream is cut"):
        read_idx(cut)


def test_gzip_missing_trailer_and_corrupt_stream(tmp_path):
    full = write_idx(tmp_path / "full.gz", np.arange(50, dtype=np.uint8)).read_bytes()
    (tmp_path / "notrailer.gz").write_bytes(full[:-8])  # data complete, CRC and length missing
    with pytest.raises(DatasetError, match="gzip trailer is missing"):
        read_idx(tmp_path / "notrailer.gz")
    damaged = bytearray(full)
    damaged[-8] ^= 0xFF  # wrong CRC
    (tmp_path / "crc.gz").write_bytes(bytes(damaged))
    with pytest.raises(DatasetError, match="corrupt gzip stream"):
        read_idx(tmp_path / "crc.gz")


def test_huge_declared_size_does_not_allocate(tmp_path):
    """A header announcing ~16 TB of data fails fast with a clear message (no MemoryError)."""
    data = bytes([0, 0, 8, 3]) + np.array([2**16, 2**16, 2**12], ">u4").tobytes() + bytes(100)
    _expect_error(tmp_path, data, r"truncated: expected 17592186044432 bytes", compress=False)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


def test_write_idx_rejects_unsupported(tmp_path):
    with pytest.raises(TypeError, match="IDX cannot hold dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
