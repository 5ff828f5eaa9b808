"""Suite-wide settings.

PyTorch is only the oracle here; one thread makes its many tiny calls fast and
keeps it from competing with NumPy's BLAS threads on a small machine.
"""

try:
    import torch
except ImportError:  # the tests that need it skip themselves (tests/helpers.require_torch)
    torch = None

if torch is not None:
    torch.set_num_threads(1)
