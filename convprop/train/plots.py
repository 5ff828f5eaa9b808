"""Training plots as PNG files: loss/accuracy curves and a confusion matrix.

Uses matplotlib's object-oriented API with the Agg canvas directly, so it never
opens a window and never changes the caller's global pyplot backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _figure(**kwargs):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # an optional extra
        raise RuntimeError("plots need matplotlib: pip install 'convprop[train]'") from exc
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    """Write ``fig`` and return the path of the file written (``cm`` is written as ``cm.png``)."""
    path = Path(path)
    if not path.suffix:  # Figure.savefig would append the default format's extension: say so to the caller
        path = path.with_name(path.name + ".png")
    fig.savefig(path, dpi=100)
    return path


def plot_curves(history: Sequence[dict], path: str | Path, title: str = "") -> Path:
    """Save train/validation loss and accuracy per epoch (two panels) to ``path`` (``.png`` added if it has no suffix).

    ``history`` is a list of per-epoch records with keys ``epoch``, ``train_loss``,
    ``train_acc``, ``val_loss``, ``val_acc`` (accuracies as fractions; the validation
    values are None in a run without validation).
    """
    epochs = [h["epoch"] for h in history]
    fig = _figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    validated = [h for h in history if h["val_acc"] is not None]
    for split, style, records in (("train", "-o", history), ("val", "-s", validated)):
        if records:
            x = [h["epoch"] for h in records]
            ax_loss.plot(x, [h[f"{split}_loss"] for h in records], style, label=split, markersize=4)
            ax_acc.plot(x, [100 * h[f"{split}_acc"] for h in records], style, label=split, markersize=4)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    if validated:
        best = max(validated, key=lambda h: h["val_acc"])
        ax_acc.annotate(
            f"best val {100 * best['val_acc']:.2f}% (best.npz)",
            (best["epoch"], 100 * best["val_acc"]),
            textcoords="offset points",
            xytext=(-10, -25),
            ha="right",
            arrowprops={"arrowstyle": "->"},
        )
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        if epochs:
            ax.set_xticks(epochs if len(epochs) <= 20 else epochs[:: max(1, len(epochs) // 10)])
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Save a confusion matrix (rows: true class, columns: predicted) with counts to ``path``; returns the file.

    Cells are coloured by the row-normalised rate so that classes of different
    sizes are comparable; the number printed in each cell is the raw count.
    """
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.6 * n + 2)
    fig = _figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set(xlabel="predicted", ylabel="true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    colour = "white" if rates[i, j] > 0.5 else "black"
                    ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=colour, fontsize=8)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"{title + ': ' if title else ''}accuracy {100 * accuracy:.2f}%")
    return _save(fig, path)
