"""Reading and writing the binary version of CIFAR-10 (``cifar-10-binary.tar.gz``).

Each batch file is a sequence of 3073-byte records: one label byte (0-9), then
the 32x32 image as 1024 red, 1024 green and 1024 blue bytes, each channel in
row-major order, which is exactly one (3, 32, 32) NCHW image. The pickled
"python version" of CIFAR-10 is deliberately not supported: unpickling a
downloaded file can run arbitrary code.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convprop.data.errors import DatasetError

CIFAR_SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + int(np.prod(CIFAR_SHAPE))
ARCHIVE_DIR = "cifar-10-batches-bin"
# Each batch file of the official data set holds 10000 records; larger ones are refused before they are read.
MAX_BATCH_BYTES = 10000 * RECORD_BYTES


def _check_size(size: int, name: str) -> None:
    if size > MAX_BATCH_BYTES:
        raise DatasetError(
            f"{name}: {size} bytes, more than a CIFAR-10 batch holds (10000 records, {MAX_BATCH_BYTES} bytes)"
        )


def parse_cifar_batch(data: bytes, name: str, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Decode the bytes of one binary CIFAR batch into uint8 images (N, 3, 32, 32) and int64 labels (N,).

    ``name`` is only used in error messages (the file or archive member).
    """
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise DatasetError(
            f"{name}: not a CIFAR-10 binary batch: {len(data)} bytes is not a positive multiple of the "
            f"{RECORD_BYTES}-byte record (1 label byte + 3x32x32 pixels); truncated?"
        )
    records = np.frombuffer(data, np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DatasetError(f"{name}: record {bad} has label {labels[bad]}, expected 0..{num_classes - 1}")
    return records[:, 1:].reshape(-1, *CIFAR_SHAPE), labels


def read_cifar_batches(paths: Sequence[str | os.PathLike]) -> tuple[np.ndarray, np.ndarray]:
    """Read and concatenate binary CIFAR-10 batch files (e.g. ``data_batch_1.bin`` ... ``data_batch_5.bin``).

    Returns:
        ``(images, labels)``: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``.

    Raises:
        DatasetError: a file's size is not a whole number of records, or a label is not 0-9.
    """
    for p in paths:
        _check_size(Path(p).stat().st_size, str(p))
    parts = [parse_cifar_batch(Path(p).read_bytes(), str(p)) for p in paths]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def read_cifar_archive(archive: str | os.PathLike, members: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read batch files straight out of ``cifar-10-binary.tar.gz`` without extracting anything to disk.

    ``members`` are base names such as ``"test_batch.bin"``, looked up under ``cifar-10-batches-bin/``.
    Reading in memory sidesteps the path-traversal risks of extracting a tar archive.
    """
    archive = Path(archive)
    wanted = {f"{ARCHIVE_DIR}/{m}": m for m in members}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:
                if info.name in wanted and info.isfile():
                    _check_size(info.size, f"{archive}:{info.name}")
                    found[wanted[info.name]] = tar.extractfile(info).read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise DatasetError(f"{archive}: unreadable CIFAR-10 archive ({exc}); truncated or corrupt?") from None
    missing = [m for m in members if m not in found]
    if missing:
        raise DatasetError(f"{archive}: the archive has no {', '.join(f'{ARCHIVE_DIR}/{m}' for m in missing)}")
    parts = [parse_cifar_batch(found[m], f"{archive}:{ARCHIVE_DIR}/{m}") for m in members]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def write_cifar_batch(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write uint8 images (N, 3, 32, 32) and labels (N,) as one binary CIFAR batch file."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.shape[1:] != CIFAR_SHAPE:
        raise ValueError(
            f"write_cifar_batch: images must be uint8 of shape (N, 3, 32, 32), got {images.dtype} {images.shape}"
        )
    if labels.shape != images.shape[:1] or labels.min(initial=0) < 0 or labels.max(initial=0) > 255:
        raise ValueError(
            f"write_cifar_batch: labels must be (N,) = {images.shape[:1]} values in 0..255, got shape {labels.shape}"
        )
    records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
    path = Path(path)
    path.write_bytes(records.tobytes())
    return path


def write_cifar_archive(archive: str | os.PathLike, files: dict[str, bytes]) -> Path:
    """Pack ``{base name: bytes}`` as ``cifar-10-batches-bin/<name>`` members of a .tar.gz (for tests and mirrors)."""
    archive = Path(archive)
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{ARCHIVE_DIR}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive
