"""Downloading a dataset file safely: SHA-256 verified, atomically moved into place.

The file is streamed into a temporary file in the destination directory, flushed
to disk (fsync), its SHA-256 compared with the known digests, and only then
renamed onto the final name with ``os.replace`` (atomic on POSIX and Windows).
Any failure (network error, connection closed mid-body, a short body, a
checksum mismatch, Ctrl-C) deletes the temporary file, so a half-written file is
never left under a name a later run would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Collection
from pathlib import Path

from convprop._io import fsync_dir
from convprop.data.errors import DatasetError

_CHUNK = 1 << 16


class DownloadError(DatasetError):
    """A file could not be fetched (offline, HTTP error, interrupted transfer)."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _progress_bar(total: int | None, name: str, enabled: bool):
    """A tqdm bar on stderr, or a no-op context when tqdm is absent or progress is off."""
    if enabled:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)
    return _NoBar()


class _NoBar:
    def update(self, n):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def download_file(
    url: str,
    dest: str | os.PathLike,
    sha256: str | Collection[str],
    progress: bool = True,
    timeout: float = 60.0,
    deadline: float = 3600.0,
    min_rate: float = 1024.0,
    rate_window: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest``, verifying its SHA-256 before the file appears under that name.

    Args:
        url: what to fetch (http, https or file).
        dest: the final path; its directory is created if needed.
        sha256: the expected hex digest, or several accepted digests (e.g. the same
            data compressed by two publishers).
        progress: show a tqdm progress bar on stderr (when tqdm is installed).
        timeout: seconds to wait for the server at each network operation.
        deadline: seconds the whole download may take (a server trickling bytes never times out otherwise).
        min_rate: bytes per second the server must average over every ``rate_window`` seconds.
        rate_window: the span, in seconds, over which ``min_rate`` is measured.

    Returns:
        ``dest`` as a Path.

    Raises:
        DownloadError: the server could not be reached, answered with an error, or
            closed the connection before sending the whole body; or ``dest``'s directory
            is not writable.
        DatasetError: the data arrived but its SHA-256 matches none of ``sha256``.
        In every case no file is left at ``dest`` or beside it.
    """
    dest = Path(dest)
    accepted = {sha256.lower()} if isinstance(sha256, str) else {s.lower() for s in sha256}
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise DownloadError(f"cannot write the download of {url} into {dest.parent}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    guard = _RateGuard(url, deadline, min_rate, rate_window)
                    with _progress_bar(total, dest.name, progress) as bar:
                        # read1: whatever has arrived (read(n) would wait for all n bytes of a trickle).
                        for chunk in iter(lambda: response.read1(_CHUNK), b""):
                            out.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
                            guard.check(len(chunk), received)
            except (OSError, http.client.HTTPException) as exc:
                # URLError and HTTPError are OSErrors; IncompleteRead (connection closed before
                # Content-Length bytes) is an HTTPException.
                raise DownloadError(f"could not download {url}: {_describe(exc)}") from exc
            if total is not None and received != total:
                raise DownloadError(f"could not download {url}: the transfer stopped after {received} of {total} bytes")
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual not in accepted:
            raise DatasetError(
                f"checksum mismatch for {url}: SHA-256 {actual}, expected {' or '.join(sorted(accepted))}; "
                "the file was discarded (a corrupted download or a changed file on the server)"
            )
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(dest.parent)
    return dest


class _RateGuard:
    """Stops a download that runs past its deadline or stays below a minimum rate (bytes per second)."""

    def __init__(self, url: str, deadline: float, min_rate: float, window: float):
        self.url, self.deadline, self.min_rate, self.window = url, deadline, min_rate, window
        self.start = self.window_start = time.monotonic()
        self.window_bytes = 0

    def check(self, new_bytes: int, received: int) -> None:
        now = time.monotonic()
        if now - self.start > self.deadline:
            raise DownloadError(
                f"could not download {self.url}: not finished after {self.deadline:g} s ({received} bytes received)"
            )
        self.window_bytes += new_bytes
        span = now - self.window_start
        if span >= self.window:
            rate = self.window_bytes / span
            if rate < self.min_rate:
                raise DownloadError(
                    f"could not download {self.url}: the server sent {rate:.0f} bytes/s over {span:.0f} s, "
                    f"below the minimum of {self.min_rate:g} bytes/s"
                )
            self.window_start, self.window_bytes = now, 0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, http.client.IncompleteRead):
        return f"the connection closed after {len(exc.partial)} bytes, {exc.expected} more were expected"
    return str(exc) or type(exc).__name__
