"""Training: the fit/evaluate loop with exact resume, safe checkpoints, plots, and the helpers behind
``convprop train``, ``convprop evaluate`` and ``convprop predict``.

Example:
    >>> from convprop.train import TrainConfig, Trainer
    >>> trainer = Trainer(TrainConfig(model="lenet5", epochs=1), "runs/demo")   # doctest: +SKIP
    >>> summary = trainer.fit()                                                 # doctest: +SKIP
"""

from convprop.train.checkpoint import Checkpoint, CheckpointError, load_checkpoint, load_model_state, save_checkpoint
from convprop.train.config import DATASET_DEFAULTS, TrainConfig, resolve_config
from convprop.train.threads import set_num_threads
from convprop.train.trainer import EvalResult, Trainer, TrainingInterrupted, evaluate_model

__all__ = [
    "DATASET_DEFAULTS",
    "Checkpoint",
    "CheckpointError",
    "EvalResult",
    "TrainConfig",
    "Trainer",
    "TrainingInterrupted",
    "evaluate_model",
    "load_checkpoint",
    "load_model_state",
    "resolve_config",
    "save_checkpoint",
    "set_num_threads",
]
