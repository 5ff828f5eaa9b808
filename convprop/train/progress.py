"""A per-epoch progress display: a tqdm bar on a terminal or in a notebook, log lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

# Seconds between two progress lines when there is no bar (output piped to a file or a CI log).
LOG_EVERY = 30.0


def in_notebook() -> bool:
    """True inside a Jupyter kernel, where stderr is no terminal but tqdm.auto draws a widget bar."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


class EpochProgress:
    """Progress over one epoch's batches, showing running loss, accuracy and images/s.

    ``enabled=None`` (automatic): a tqdm bar (``tqdm.auto``) on an interactive terminal or in a Jupyter
    notebook; elsewhere (a pipe, a log file, CI) one line through ``log`` every ``log_every`` seconds, so a
    long epoch is never silent. ``True`` forces the bar, ``False`` turns both off. Without tqdm the lines
    are used. Use as a context manager; call :meth:`update` after each batch.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        initial: int = 0,
        enabled: bool | None = None,
        file=None,
        log: Callable[[str], None] | None = None,
        log_every: float = LOG_EVERY,
    ):
        self.total, self.desc, self.done = total, desc, initial
        self.start = self.last_log = time.perf_counter()
        self.images = 0
        self.log, self.log_every = (log if enabled is not False else None), log_every
        self._bar = None
        file = file if file is not None else sys.stderr
        if enabled is None:
            enabled = (hasattr(file, "isatty") and file.isatty()) or in_notebook()
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=total, initial=initial, desc=desc, unit="batch", file=file, dynamic_ncols=True, leave=True
                )

    @property
    def images_per_second(self) -> float:
        elapsed = time.perf_counter() - self.start
        return self.images / elapsed if elapsed > 0 else 0.0

    def update(self, images: int, loss: float, accuracy: float) -> None:
        self.images += images
        self.done += 1
        figures = f"loss={loss:.4f} acc={100 * accuracy:.2f}% {self.images_per_second:.0f} img/s"
        if self._bar is not None:
            self._bar.set_postfix_str(figures, refresh=False)
            self._bar.update(1)
        elif self.log is not None and time.perf_counter() - self.last_log >= self.log_every:
            self.last_log = time.perf_counter()
            self.log(f"{self.desc}: batch {self.done}/{self.total}, {figures}")

    def set_validation(self, loss: float, accuracy: float) -> None:
        """Show the epoch's validation loss and accuracy beside its training figures."""
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self._bar.postfix}, val loss={loss:.4f} val acc={100 * accuracy:.2f}%")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
