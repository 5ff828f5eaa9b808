"""``torch.backends``: the accelerator back ends, all absent in a CPU-only library."""

from convprop.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
