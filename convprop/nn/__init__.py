"""Neural network layers, PyTorch style: ``convprop.nn.Conv2d``, ``convprop.nn.functional`` (as F), ``init``."""

from convprop.nn import functional, init, utils
from convprop.nn.modules import *  # noqa: F403
from convprop.nn.modules import __all__ as _modules_all

__all__ = ["functional", "init", "utils", *_modules_all]
