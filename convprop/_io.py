"""File-system helpers shared by the atomic writers (dataset downloads, checkpoints, run files)."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename into ``directory`` durable (POSIX); a no-op where folders cannot be opened.

    Windows cannot open folders, but its rename is atomic all the same.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb", **open_kwargs):
    """Open a temporary file beside ``path`` and, when the block ends without an error, move it onto ``path``:
    a reader (or a crash) sees the old file or the new one, never half.

    The temporary file is fsynced before the rename and removed on any failure (stale ones from killed writers
    are removed first); the result gets the permissions ``open()`` would give it, and the rename is made
    durable with :func:`fsync_dir`.
    """
    path = Path(path)
    remove_stale_temp_files(path.parent, path.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file readable by its owner only; give it the permissions open() would.
        os.chmod(tmp_name, 0o666 & ~umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_file`)."""
    with atomic_file(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return Path(path)


def remove_stale_temp_files(directory: Path, name: str) -> None:
    """Delete the temporary files (``.<name>.<random>.tmp``) that an atomic write of ``directory/name`` killed
    midway (kill -9, power loss) left behind. One writer per file is assumed, as in a run folder."""
    for stale in directory.glob(f".{glob.escape(name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def umask() -> int:
    """The process's file-creation mask (the only portable way to read it is to set it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
