"""The allocator setting `convprop train` applies: accepted by glibc, harmless to results."""

import ctypes.util
import sys

import numpy as np
import pytest

from convprop.train.memory import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None, reason="glibc only")
def test_glibc_accepts_the_setting_and_arrays_still_work():
    assert keep_freed_memory() is True
    a = np.arange(10_000_000, dtype=np.float64)  # 80 MB: above glibc's default mmap threshold
    b = a * 2
    del a
    c = np.ones(10_000_000)
    assert b[-1] == 2 * 9_999_999 and c.sum() == 10_000_000
