"""Optimizers and learning-rate schedulers with PyTorch's names, defaults and update rules."""

from convprop.optim import lr_scheduler
from convprop.optim.adadelta import Adadelta
from convprop.optim.adagrad import Adagrad
from convprop.optim.adam import Adam, AdamW
from convprop.optim.nadam import NAdam, RAdam
from convprop.optim.optimizer import Optimizer
from convprop.optim.rmsprop import RMSprop
from convprop.optim.sgd import SGD

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "NAdam", "Optimizer", "RAdam", "RMSprop", "lr_scheduler"]
