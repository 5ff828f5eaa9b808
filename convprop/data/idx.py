"""Reading and writing the IDX format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <ndim>``, then
``ndim`` big-endian uint32 dimension sizes, then the elements in row-major
order, big-endian. The files are usually gzip-compressed; the reader looks at
the first bytes, not at the file name, so a decompressed file that kept its
``.gz`` name (or the reverse) is read correctly.

The header is validated before any data is read, and the expected size then
bounds the decompression, so a corrupt header or a gzip bomb cannot make the
reader allocate more than the header announces.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from convprop.data.errors import DatasetError

# IDX type code -> big-endian NumPy dtype (from the format's description on the MNIST page).
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# Deflate's best case: 1032 bytes out per byte in. A header that promises more than the file could hold
# this way is corrupt, and is refused before anything is allocated or decompressed.
_MAX_DEFLATE_RATIO = 1032


class _Source:
    """Reads bytes from a raw or gzip file, decompressing no more than asked for."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._size = os.fstat(self._file.fileno()).st_size
        self.compressed = self._file.read(2) == _GZIP_MAGIC
        self._file.seek(0)
        self.stream_truncated = False
        # wbits=16+MAX_WBITS: expect a gzip header and trailer (CRC and length are checked by zlib).
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.compressed else None

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the data."""
        if not self.compressed:
            # Bounded by the file size: a corrupt header may announce terabytes.
            return self._file.read(min(n, self._size - self._file.tell()))
        parts, have = [], 0
        while have < n:
            if self._inflater.eof:
                # A gzip file may hold several members one after the other.
                rest = self._inflater.unused_data + self._file.read(_CHUNK)
                if not rest:
                    break
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                compressed = rest
            else:
                compressed = self._inflater.unconsumed_tail or self._file.read(_CHUNK)
                if not compressed:
                    self.stream_truncated = True
                    break
            try:
                out = self._inflater.decompress(compressed, n - have)
            except zlib.error as exc:
                raise DatasetError(f"{self.path}: corrupt gzip stream ({exc})") from None
            parts.append(out)
            have += len(out)
        return b"".join(parts)

    def could_hold(self, n: int) -> bool:
        """False when a gzip file is too small to decompress to ``n`` bytes (a raw file's reads are bounded
        by its size, and a short one is reported as truncated)."""
        return not self.compressed or n <= _MAX_DEFLATE_RATIO * self._size

    def at_end(self) -> bool:
        """True when nothing follows what was read (reading to the end also checks the gzip CRC)."""
        if self.compressed:
            while not self._inflater.eof:
                compressed = self._inflater.unconsumed_tail or self._file.read(_CHUNK)
                if not compressed:
                    raise DatasetError(f"{self.path}: truncated gzip stream: the gzip trailer is missing")
                try:
                    if self._inflater.decompress(compressed, 1):
                        return False
                except zlib.error as exc:
                    raise DatasetError(f"{self.path}: corrupt gzip stream ({exc})") from None
            return not (self._inflater.unused_data or self._file.read(1))
        return not self._file.read(1)

    def close(self):
        self._file.close()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a native-endian NumPy array.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz`` or ``train-images-idx3-ubyte``.

    Returns:
        An array of the shape and type the header declares, e.g. ``uint8`` of shape
        ``(60000, 28, 28)`` for an MNIST training image file.

    Raises:
        DatasetError: the file is not IDX (bad magic number, unknown type code, zero
            dimensions), is truncated (raw or gzip), has bytes after the data, or its gzip
            stream is corrupt. The message names the file and what is wrong.
        FileNotFoundError: the file does not exist.

    Example:
        >>> labels = read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
        >>> labels.shape, labels.dtype
        ((10000,), dtype('uint8'))
    """
    path = Path(path)
    src = _Source(path)
    try:
        magic = src.read(4)
        if len(magic) < 4:
            raise DatasetError(f"{path}: not an IDX file: {len(magic)} bytes, shorter than the 4-byte magic number")
        if magic[:2] != b"\0\0":
            raise DatasetError(
                f"{path}: not an IDX file: bad magic number 0x{magic.hex()} (expected 0x0000<type><ndim>)"
            )
        code, ndim = magic[2], magic[3]
        if code not in IDX_DTYPES:
            known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
            raise DatasetError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known})")
        if ndim == 0:
            raise DatasetError(f"{path}: IDX header declares 0 dimensions")
        header = src.read(4 * ndim)
        if len(header) < 4 * ndim:
            raise DatasetError(
                f"{path}: truncated: the header declares {ndim} dimensions but only {len(header)} of their "
                f"{4 * ndim} bytes are present"
            )
        shape = tuple(int(d) for d in np.frombuffer(header, ">u4"))
        dtype = IDX_DTYPES[code]
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if not src.could_hold(expected):
            raise DatasetError(
                f"{path}: corrupt header: it declares {'x'.join(map(str, shape))} values ({expected} bytes), "
                f"more than the {path.stat().st_size}-byte file can hold"
            )
        body = src.read(expected)
        if len(body) < expected:
            dims = "x".join(map(str, shape))
            how = " (the gzip stream is cut short: an interrupted download?)" if src.stream_truncated else ""
            raise DatasetError(
                f"{path}: truncated: expected {4 + 4 * ndim + expected} bytes ({4 + 4 * ndim}-byte header + "
                f"{dims} {dtype.newbyteorder('=').name} values), found {4 + 4 * ndim + len(body)}{how}"
            )
        if not src.at_end():
            raise DatasetError(
                f"{path}: unexpected bytes after the {'x'.join(map(str, shape))} values the header declares"
            )
    finally:
        src.close()
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip-compressed when ``compress`` is True (default: the name ends in .gz).

    Args:
        path: destination file.
        array: at least 1-D, of a type IDX can hold (uint8, int8, int16, int32, float32, float64).
        compress: gzip the file; ``None`` decides by the ``.gz`` suffix.

    Returns:
        The path written.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise TypeError(
            f"write_idx: IDX cannot hold dtype {array.dtype}; use one of uint8, int8, int16, int32, float32, float64"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: array must have 1 to 255 dimensions, got shape {array.shape}")
    code = _CODES[native]
    data = (
        bytes([0, 0, code, array.ndim])
        + np.asarray(array.shape, ">u4").tobytes()
        + np.ascontiguousarray(array, IDX_DTYPES[code]).tobytes()
    )
    if compress if compress is not None else path.suffix == ".gz":
        # mtime=0 makes the output byte-for-byte reproducible.
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
