"""The typed records of a run: where training stands, and the header every checkpoint carries.

A checkpoint's JSON header is :class:`CheckpointHeader` written with :meth:`~CheckpointHeader.to_dict`;
:meth:`~CheckpointHeader.from_dict` reads one back, checking every size it holds before anything is
allocated from it (a doctored header asking for a width of a million is one clear error, not a MemoryError).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from convprop.train.checkpoint import CheckpointError
from convprop.train.config import MAX_CLASSES, MAX_IMAGE_SIDE, MAX_WIDTH


@dataclass
class Position:
    """``epoch`` epochs are complete, ``batch`` batches of the current one are done, ``step`` steps in all."""

    epoch: int = 0
    batch: int = 0
    step: int = 0


@dataclass
class Running:
    """The current epoch's sums: loss (times images), correct predictions, images, wall and CPU seconds."""

    loss: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0


@dataclass
class RunState:
    """Everything about a run's progress that a checkpoint must carry besides weights and generator states."""

    position: Position = field(default_factory=Position)
    running: Running = field(default_factory=Running)
    history: list[dict[str, Any]] = field(default_factory=list)  # one metrics record per finished epoch
    best_val_accuracy: float = -1.0


@dataclass
class ModelRecord:
    """How to build the model again: its name, constructor arguments and, for a model file, path and SHA-256."""

    name: str
    kwargs: dict[str, Any]
    state_keys: list[str] | None = None
    file: str | None = None
    sha256: str | None = None

    def check(self, where) -> None:
        """Refuse arguments no convprop run trains with, before they size an allocation."""
        if not isinstance(self.kwargs, dict):
            raise CheckpointError(f"{where}: the model's arguments are a {type(self.kwargs).__name__}, not an object")
        bounds = {"width": MAX_WIDTH, "input_size": MAX_IMAGE_SIDE, "in_channels": 4, "num_classes": MAX_CLASSES}
        for name, high in bounds.items():
            value = self.kwargs.get(name, 1)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise CheckpointError(f"{where}: the model's {name} is {value!r}; a convprop model has 1..{high}")


@dataclass
class DatasetFacts:
    """What a model needs to know about its training data to be used on new images."""

    name: str
    classes: list[str]
    mean: list[float]
    std: list[float]
    input_shape: list[int]  # (channels, height, width)
    border_brightness: float | None = None  # the training images' background, pixel / 255 (None: older files)
    train_size: int = 0
    val_size: int = 0
    test_size: int = 0

    def check(self, where, num_classes: int | None = None) -> None:
        """Refuse facts that no training run produces (before any of them sizes an allocation)."""
        classes, shape = self.classes, self.input_shape
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
            raise CheckpointError(f"{where}: the header's class names must be a non-empty list of strings")
        if (
            not isinstance(shape, list)
            or len(shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
            or shape[0] not in (1, 3)
            or not all(1 <= v <= MAX_IMAGE_SIDE for v in shape[1:])
        ):
            raise CheckpointError(
                f"{where}: the header's input shape {shape!r} is not (1 or 3 channels, height, width) "
                f"with sides up to {MAX_IMAGE_SIDE}"
            )
        for key in ("mean", "std"):
            if not isinstance(getattr(self, key), list) or len(getattr(self, key)) != shape[0]:
                raise CheckpointError(f"{where}: the header's {key} must have one value per channel ({shape[0]})")
        if num_classes is not None and num_classes != len(classes):
            raise CheckpointError(f"{where}: the model has {num_classes} outputs for {len(classes)} class names")


@dataclass
class CheckpointHeader:
    """The JSON header of a checkpoint written by a :class:`~convprop.train.Trainer`."""

    model: ModelRecord
    dataset: DatasetFacts
    config: dict[str, Any]
    state: RunState
    rng: dict[str, Any]  # bit-generator states of the run's generators, by name
    loader: dict[str, Any]  # the training DataLoader's state_dict()
    convprop_version: str

    def to_dict(self) -> dict[str, Any]:
        model = {k: v for k, v in dataclasses.asdict(self.model).items() if v is not None}
        return {
            "model": model,
            "dataset": dataclasses.asdict(self.dataset),
            "config": self.config,
            "position": dataclasses.asdict(self.state.position),
            "rng": self.rng,
            "loader": self.loader,
            "running": dataclasses.asdict(self.state.running),
            "history": self.state.history,
            "best_val_accuracy": self.state.best_val_accuracy,
            "convprop_version": self.convprop_version,
        }

    @classmethod
    def from_dict(cls, header: dict[str, Any], where) -> CheckpointHeader:
        """The typed header; a missing or mistyped part is a :class:`CheckpointError` naming it."""
        try:
            model = ModelRecord(**header["model"])
            dataset = DatasetFacts(**header["dataset"])
            state = RunState(
                Position(**header["position"]),
                Running(**header["running"]),
                list(header["history"]),
                header["best_val_accuracy"],
            )
            return cls(
                model, dataset, header["config"], state, header["rng"], header["loader"], header["convprop_version"]
            )
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"{where}: not a training checkpoint of this convprop (header: {exc})") from None


def model_record(header: dict[str, Any], where) -> ModelRecord:
    """The checked model record of any checkpoint header (training checkpoints and plain exports alike)."""
    try:
        record = ModelRecord(**header["model"])
    except TypeError as exc:
        raise CheckpointError(f"{where}: the header's model record is malformed ({exc})") from None
    record.check(where)
    return record


def dataset_facts(header: dict[str, Any], where) -> DatasetFacts:
    """The checked dataset facts of a checkpoint header."""
    raw = header.get("dataset")
    if not isinstance(raw, dict):
        raise CheckpointError(f"{where}: the header lacks the dataset facts (name, classes, normalisation)")
    try:
        facts = DatasetFacts(**raw)
    except TypeError as exc:
        raise CheckpointError(
            f"{where}: the header lacks the dataset facts (name, classes, normalisation): {exc}"
        ) from None
    kwargs = header["model"].get("kwargs") if isinstance(header.get("model"), dict) else None
    facts.check(where, kwargs.get("num_classes") if isinstance(kwargs, dict) else None)
    return facts
