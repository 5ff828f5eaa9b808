"""File-system helpers shared by the atomic writers (dataset downloads, checkpoints)."""

from __future__ import annotations

import os
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
