"""``torch.backends.cudnn``: NVIDIA's cuDNN, never available here.

Its flags keep PyTorch's defaults so that code which sets them (``cudnn.benchmark = True``, as in
pytorch/examples' DCGAN) runs; on a CPU-only library they change nothing.
"""

benchmark = False
deterministic = False
enabled = True  # as in PyTorch, where it means "use cuDNN where it is available"
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    return None
