"""The one exception the data package raises for bad or missing data files."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset file is missing, corrupt, truncated or inconsistent, or could not be downloaded.

    The message always names the file (or the files and directories involved)
    and what is wrong with it, so a user can fix it without reading a traceback.
    """
