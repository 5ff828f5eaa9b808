"""Optimizers and learning-rate schedulers with PyTorch's names, defaults and update rules."""

from convprop.optim import lr_scheduler
from convprop.optim.adam import Adam, AdamW
from convprop.optim.optimizer import Optimizer
from convprop.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
