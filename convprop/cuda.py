"""``torch.cuda``'s queries, answered for a CPU-only library, so device-picking code runs unchanged."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """No CUDA generator to seed (``convprop.manual_seed`` seeds the CPU one)."""


manual_seed_all = manual_seed
