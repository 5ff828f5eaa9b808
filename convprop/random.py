"""Random number generation, PyTorch style, on NumPy's ``Generator``.

:class:`Generator` *is* an ``np.random.Generator`` with ``torch.Generator``'s
methods (``manual_seed``, ``initial_seed``, ``get_state``/``set_state``), so it
goes wherever a ``generator=`` argument is taken. Weight initialisation, dropout
and the random factories (``convprop.randn``...) draw from the generator they are
given, or else from :data:`default_generator`, which :func:`manual_seed` seeds.
NumPy's global random state is never read or written.
"""

from __future__ import annotations

import numpy as np


def _check_seed(seed, op: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__} {seed!r}")
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"{op}: seed must be within [-2**63, 2**64), got {seed}")
    return int(seed) % 2**64  # torch maps negative seeds the same way


class Generator(np.random.Generator):
    """A seeded stream of random numbers, like ``torch.Generator`` (device: CPU only).

    Example::

        >>> g = Generator().manual_seed(0)
        >>> convprop.randn(2, generator=g).shape
        (2,)
    """

    def __init__(self, device="cpu"):
        from convprop.dtypes import check_device

        check_device(device, "Generator")
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        super().__init__(np.random.PCG64(seed))
        self._seed = seed

    def manual_seed(self, seed) -> Generator:
        """Restart the stream from ``seed``; returns the generator."""
        self._seed = _check_seed(seed, "manual_seed")
        self.bit_generator.state = np.random.PCG64(self._seed).state
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The bit generator's state (a JSON-friendly dict)."""
        return self.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed) -> Generator:
    """Seed :data:`default_generator`, as ``torch.manual_seed``; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def resolve(generator, op: str = "generator") -> np.random.Generator:
    """``generator`` if one is given (it wins), else the default generator."""
    if generator is None:
        return default_generator
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"{op}: generator must be a convprop.Generator or numpy.random.Generator, got {type(generator).__name__}"
        )
    return generator
