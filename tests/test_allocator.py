"""convprop.allocator: on import, freed memory stays in the process, so a step that reallocates the
same arrays takes no new page faults; CONVPROP_KEEP_FREED_MEMORY=0 and keep_freed_memory(False) give
it back. Each case runs in a fresh interpreter, because the setting is the process's."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

# Allocate, touch and free an 8 MiB array 20 times (as a training step does with its activations),
# after one warm-up round, and print the minor page faults those 20 rounds took.
_FAULTS = """
import resource, sys
import numpy as np
import convprop
if len(sys.argv) > 1:
    convprop.allocator.keep_freed_memory(sys.argv[1] == "on")
def rounds(k):
    for _ in range(k):
        a = np.empty(2 * 2**20, dtype=np.float32)
        a.fill(1.0)
        del a
rounds(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(20)
print(convprop.allocator.is_keeping_freed_memory(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

_PAGES = 8 * 2**20 // 4096  # pages in one 8 MiB array, with 4 KiB pages (fewer with huge pages)

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")


def _faults(*args, env=None) -> tuple[bool, int]:
    environ = {**os.environ, **(env or {})}
    out = subprocess.run([sys.executable, "-c", _FAULTS, *args], env=environ, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    kept, faults = out.stdout.split()
    return kept == "True", int(faults)


@glibc
def test_freed_memory_is_reused_without_page_faults():
    kept, faults = _faults()
    assert kept
    assert faults < 100, f"{faults} page faults in 20 reallocations of a kept 8 MiB block"


@glibc
@pytest.mark.parametrize("how", ["env", "call"])
def test_giving_memory_back_faults_it_in_again(how):
    kept, faults = _faults(env={"CONVPROP_KEEP_FREED_MEMORY": "0"}) if how == "env" else _faults("off")
    assert not kept
    # each round maps the block anew; with 2 MiB huge pages that is 4 faults per round, else 2048
    assert faults >= 20 * 4, f"only {faults} page faults: the memory was not given back"
    if how == "call":  # and switching it on again works as on import
        kept, faults = _faults("on")
        assert kept and faults < 100


def test_arrays_above_every_threshold_still_work():
    a = np.arange(10_000_000, dtype=np.float64)  # 80 MB: above glibc's own largest mmap threshold
    b = a * 2
    del a
    c = np.ones(10_000_000)
    assert b[-1] == 2 * 9_999_999 and c.sum() == 10_000_000


def test_bad_setting_is_named():
    env = {**os.environ, "CONVPROP_KEEP_FREED_MEMORY": "yes"}
    out = subprocess.run([sys.executable, "-c", "import convprop"], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "CONVPROP_KEEP_FREED_MEMORY must be 0 or 1, got 'yes'" in out.stderr.splitlines()[-1]


def test_keep_freed_memory_wants_a_bool():
    from convprop import allocator

    with pytest.raises(TypeError, match="enabled must be True or False, got 'on'"):
        allocator.keep_freed_memory("on")
