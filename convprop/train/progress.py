"""A per-epoch progress bar (tqdm when installed) showing running loss, accuracy and images/s."""

from __future__ import annotations

import sys
import time


class EpochProgress:
    """Progress over one epoch's batches.

    Shows a tqdm bar on an interactive terminal; elsewhere (logs, pipes, tests)
    or without tqdm it stays silent, and the trainer prints one line per epoch.
    Use as a context manager; call :meth:`update` after each batch.
    """

    def __init__(self, total: int, desc: str, initial: int = 0, enabled: bool | None = None, file=None):
        self.total = total
        self.start = time.perf_counter()
        self.images = 0
        self._bar = None
        file = file if file is not None else sys.stderr
        if enabled is None:
            enabled = hasattr(file, "isatty") and file.isatty()
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
        if self._bar is not None:
            self._bar.set_postfix_str(
                f"loss={loss:.4f} acc={100 * accuracy:.2f}% {self.images_per_second:.0f} img/s", refresh=False
            )
            self._bar.update(1)

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
