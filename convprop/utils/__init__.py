"""``torch.utils``: ``convprop.utils.data`` holds ``Dataset``, ``TensorDataset`` and a PyTorch-style ``DataLoader``."""

from convprop.utils import data

__all__ = ["data"]
