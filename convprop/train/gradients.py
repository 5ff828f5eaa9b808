"""Gradient flow during training: per-layer gradient norms and update-to-weight ratios.

For every layer with parameters of its own (a conv, linear or BatchNorm module, named as
``named_modules()`` names it), every ``every`` steps a :class:`GradientTracker` records

    grad_norm    = ‖∂L/∂θ‖₂                        θ: all of the layer's parameters together
    update_ratio = ‖θ_after − θ_before‖₂ / ‖θ_before‖₂    across one optimizer step

Backpropagation multiplies the incoming gradient by each layer's local gradient on the way back
to the input, so when those factors are small (saturated sigmoids) ``grad_norm`` falls by orders
of magnitude from the last layer to the first: the gradient vanishes. ``update_ratio`` is what the
optimizer did with it; a common rule of thumb wants it near 1e-3 (much less: the layer barely
learns; much more: the step is too large for it).

Example::

    >>> tracker = GradientTracker(model, every=10)
    >>> loss.backward()
    >>> tracker.before_step(step)     # reads ∂L/∂θ, keeps a copy of θ (only on every 10th step)
    >>> optimizer.step()
    >>> tracker.after_step()          # ‖Δθ‖/‖θ‖
    >>> plot_gradients(tracker.records, "gradients.png")
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

# The columns of gradients.csv (and the keys of gradients.json's records): one row per layer per recorded step.
GRADIENT_FIELDS = ("step", "layer", "type", "grad_norm", "weight_norm", "update_ratio")
CSV_NAME, JSON_NAME, PLOT_NAME = "gradients.csv", "gradients.json", "gradients.png"


def _norm(arrays: Iterable[np.ndarray]) -> float:
    """The 2-norm of several arrays taken as one vector, summed in float64.

    float64 because a vanishing gradient of 1e-20 squares to 1e-40, below float32's range.
    """
    total = 0.0
    for a in arrays:
        a = np.asarray(a, dtype=np.float64).ravel()
        total += float(np.dot(a, a))
    return math.sqrt(total)


class GradientTracker:
    """Records, every ``every`` steps, each parameterised layer's gradient norm and update-to-weight ratio.

    Call :meth:`before_step` after ``loss.backward()`` and :meth:`after_step` after
    ``optimizer.step()``; on the other steps both return at once. Reading the gradients and
    copying the weights changes nothing in training.

    Args:
        model: the ``nn.Module`` being trained.
        every: record every ``every``-th step (steps counted from 1). Default: 10.

    Attributes:
        layers: the qualified names of the tracked layers, input side first.
        records: one dict per layer per recorded step, keys :data:`GRADIENT_FIELDS`.
    """

    def __init__(self, model, every: int = 10):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer (record every N steps); got {every!r}")
        self.every = every
        modules = {
            name or type(model).__name__: m
            for name, m in model.named_modules()
            if any(True for _ in m.parameters(recurse=False))
        }
        self._params = {name: list(m.parameters(recurse=False)) for name, m in modules.items()}
        self._types = {name: type(m).__name__ for name, m in modules.items()}
        if not self._params:
            raise ValueError(f"{type(model).__name__} has no parameters: there is no gradient flow to track")
        self.layers = list(self._params)
        self.records: list[dict] = []
        self._pending: tuple[int, dict[str, float], dict[str, list[np.ndarray]]] | None = None

    def before_step(self, step: int) -> None:
        """Before the optimizer step ``step``: on a recorded step, read ‖∂L/∂θ‖ and copy θ."""
        if step % self.every:
            return
        # A parameter that took no part in the loss has no gradient: it contributes 0.
        grads = {
            name: _norm(p._grad_array for p in ps if p._grad_array is not None) for name, ps in self._params.items()
        }
        weights = {name: [p.data.copy() for p in ps] for name, ps in self._params.items()}
        self._pending = (step, grads, weights)

    def after_step(self) -> None:
        """After the optimizer step: append one record per layer (only on a recorded step)."""
        if self._pending is None:
            return
        step, grads, weights = self._pending
        self._pending = None
        for name, ps in self._params.items():
            before = weights[name]
            w = _norm(before)
            dw = _norm(p.data.astype(np.float64) - b for p, b in zip(ps, before, strict=True))
            self.records.append(
                {
                    "step": step,
                    "layer": name,
                    "type": self._types[name],
                    "grad_norm": grads[name],
                    "weight_norm": w,
                    "update_ratio": dw / w if w > 0 else math.nan,
                }
            )

    def series(self, key: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per layer: (steps, values of ``key``) over the recorded steps, e.g. ``series("grad_norm")``."""
        return _series(self.records, key)

    # ---- the run folder ----

    def write(self, folder: str | Path) -> None:
        """Write ``gradients.csv`` and ``gradients.json`` (all records so far) into ``folder``."""
        folder = Path(folder)
        with open(folder / CSV_NAME, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=GRADIENT_FIELDS)
            writer.writeheader()
            writer.writerows(self.records)
        # NaN (a layer whose weights are all zero has no ratio) is written as null: strict JSON.
        records = [{k: (None if v != v else v) for k, v in r.items()} for r in self.records]
        (folder / JSON_NAME).write_text(json.dumps(records, indent=1, allow_nan=False) + "\n")

    def resume(self, folder: str | Path, step: int) -> None:
        """Continue the records of ``folder/gradients.json`` up to ``step`` (the checkpoint's step).

        Records after ``step`` were made after the checkpoint a resumed run starts from: the
        resumed run records those steps again.
        """
        path = Path(folder) / JSON_NAME
        if not path.is_file():
            return
        try:
            records = json.loads(path.read_text())
            kept = [r for r in records if r["step"] <= step]
            self.records = [{k: (math.nan if r[k] is None else r[k]) for k in GRADIENT_FIELDS} for r in kept]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a file of gradient records ({type(exc).__name__}: {exc})") from None


def _series(records: Sequence[dict], key: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, tuple[list, list]] = {}
    for r in records:
        steps, values = out.setdefault(r["layer"], ([], []))
        steps.append(r["step"])
        values.append(r[key])
    return {name: (np.array(s), np.array(v, dtype=float)) for name, (s, v) in out.items()}


def plot_gradients(records: Sequence[dict], path: str | Path, title: str = "") -> Path:
    """Save the gradient flow to ``path``: one line per layer over steps, log scale; returns the file.

    Left: ‖∂L/∂θ‖ per layer; right: the update-to-weight ratio ‖Δθ‖/‖θ‖ with a dotted line at
    1e-3. Colours run from dark (the input side) to yellow (the output side), so a vanishing
    gradient shows as dark lines far below the bright ones.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from convprop.train.plots import _figure, _save

    grads, ratios = _series(records, "grad_norm"), _series(records, "update_ratio")
    names = list(grads)
    types = {r["layer"]: r["type"] for r in records}
    colours = colormaps["viridis"](np.linspace(0, 1, max(len(names), 1)))
    fig = _figure(figsize=(12, 4.5), layout="constrained")
    ax_g, ax_r = fig.subplots(1, 2, sharex=True)
    for name, colour in zip(names, colours, strict=False):
        label = f"{name} ({types[name]})"
        ax_g.plot(*grads[name], color=colour, label=label, linewidth=1.2)
        ax_r.plot(*ratios[name], color=colour, label=label, linewidth=1.2)
    ax_r.axhline(1e-3, color="grey", linestyle=":", linewidth=1, label="1e-3")
    ax_g.set(xlabel="step", ylabel="‖∂L/∂θ‖₂", title="gradient norm per layer", yscale="log")
    ax_r.set(xlabel="step", ylabel="‖Δθ‖ / ‖θ‖", title="update-to-weight ratio per layer", yscale="log")
    for ax in (ax_g, ax_r):
        ax.grid(alpha=0.3, which="both")
    if len(names) <= 16:
        ax_r.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, title="layer (input side first)")
    else:  # a legend of dozens of layers hides the plot: show the depth as a colour scale instead
        scale = ScalarMappable(Normalize(0, len(names) - 1), colormaps["viridis"])
        fig.colorbar(scale, ax=ax_r, label=f"layer: 0 ({names[0]}) … {len(names) - 1} ({names[-1]})")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


__all__ = ["CSV_NAME", "GRADIENT_FIELDS", "JSON_NAME", "PLOT_NAME", "GradientTracker", "plot_gradients"]
