"""Where convprop's arrays get their memory: freed blocks are kept for the next step instead of returned.

A training step allocates the same large arrays every time (activations, gradients, im2col columns),
and frees them all by the end of the step. With glibc's default settings, large blocks are ``mmap``s
of their own (from 128 KiB, a threshold glibc raises as such blocks are freed, to at most 32 MiB),
and free memory at the top of the heap is given back: either way, the next step's array is new
memory that the kernel zeroes page by page on first touch. That was 10,000-11,000 page faults per
vggsmall training step (batch 128) and 18,000-20,000 per resnet8 step, measured with
``getrusage``'s minor faults; keeping the memory took them to 0-2 and the step from 228-239 ms to
167-192 ms (vggsmall, resnet8 524-564 ms to 447-477 ms; 1 thread, convprop alone in its process,
2-core AMD EPYC, 2026-11-30). PyTorch run in the same process hides most of this, because its own
allocations raise glibc's adaptive threshold; a user's convprop process has no such neighbour.

So on import, on Linux with glibc, convprop sets two of glibc's ``mallopt`` parameters to 1 GiB:

- ``M_MMAP_THRESHOLD``: blocks up to that size come from the heap, where a freed block is reused by
  the next allocation of its size, instead of each being an ``mmap`` of its own;
- ``M_TRIM_THRESHOLD``: up to that much free memory at the top of the heap stays mapped instead of
  being returned to the kernel after every step.

The process then keeps its peak memory for reuse until it exits, as PyTorch's CUDA caching allocator
does with GPU memory; the peak itself does not grow. This is a process-wide setting, applied on
import because a PyTorch-style training loop written by a user pays the page faults as much as
``convprop train`` does. Set ``CONVPROP_KEEP_FREED_MEMORY=0`` before importing convprop, or call
``keep_freed_memory(False)``, to set glibc's defaults back (128 KiB for both, without glibc's own
run-time adjustment of them). On other C libraries (macOS, musl) nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# glibc's mallopt parameter numbers (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

KEEP_THRESHOLD = 2**30  # every activation of the bundled models stays on the heap
DEFAULT_THRESHOLD = 128 * 2**10  # glibc's default for both


def _mallopt():
    """glibc's ``mallopt``, or None where the C library has none (macOS, musl, Windows)."""
    if os.name != "posix":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    fn = getattr(libc, "mallopt", None)
    if fn is None or not hasattr(libc, "gnu_get_libc_version"):  # glibc only: musl's mallopt is a no-op stub
        return None
    fn.argtypes, fn.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return fn


_kept = False


def keep_freed_memory(enabled: bool = True) -> bool:
    """Keep freed memory in the process for reuse (``True``, convprop's default) or give it back to
    the kernel right away (``False``, glibc's fixed defaults). Returns whether the C library took it;
    False where it is not glibc."""
    global _kept
    if not isinstance(enabled, bool):
        raise TypeError(f"keep_freed_memory: enabled must be True or False, got {enabled!r}")
    mallopt = _mallopt()
    if mallopt is None:
        return False
    threshold = KEEP_THRESHOLD if enabled else DEFAULT_THRESHOLD
    ok = bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, threshold))
    _kept = enabled and ok
    return ok


def is_keeping_freed_memory() -> bool:
    """Whether :func:`keep_freed_memory` is in effect in this process."""
    return _kept


def _keep_from_env() -> bool:
    raw = os.environ.get("CONVPROP_KEEP_FREED_MEMORY", "1")
    if raw not in ("0", "1"):
        raise ValueError(f"CONVPROP_KEEP_FREED_MEMORY must be 0 or 1, got {raw!r}")
    return raw == "1"


if _keep_from_env():  # on import: convprop's default (see the module docstring)
    keep_freed_memory(True)
