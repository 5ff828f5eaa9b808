"""Suite-wide settings and shared fixtures.

PyTorch is only the oracle here; one thread makes its many tiny calls fast and
keeps it from competing with NumPy's BLAS threads on a small machine.
"""

import pytest

import convprop.data.datasets as datasets_mod

try:
    import torch
except ImportError:  # the tests that need it skip themselves (tests/helpers.require_torch)
    torch = None

if torch is not None:
    torch.set_num_threads(1)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data location is visible: HOME, $CONVPROP_DATA and the system directory point into tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CONVPROP_DATA", raising=False)
    monkeypatch.delenv("CONVPROP_DATA_URL", raising=False)
    monkeypatch.setattr(datasets_mod, "SYSTEM_DATA_DIR", tmp_path / "system")
    return tmp_path
