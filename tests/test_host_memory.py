"""Resetting the host peak between phases hands freed heap back to the OS first, as the benchmark does: what a
finished phase freed must not count towards the next phase's peak."""

import ctypes

from trainer_callbacks.memory import HostPeakMemory

BLOCK, BLOCKS = 64 * 1024, 1600  # 100 MB in blocks below glibc's mmap threshold: they come from the heap


def resident_mb() -> float:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) / 1024 for line in handle if line.startswith("VmRSS:"))


def test_reset_does_not_count_freed_heap_towards_the_next_peak():
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    host = HostPeakMemory()
    assert host.resettable
    host.reset()
    before = resident_mb()

    blocks = [libc.malloc(BLOCK) for _ in range(BLOCKS)]
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)  # resident, not just reserved
    pin = libc.malloc(BLOCK)  # above the blocks: glibc's free() alone cannot shrink the heap past it
    for block in blocks:
        libc.free(block)
    assert resident_mb() > before + 80  # freed, yet still resident

    host.reset()
    assert host.peak_mb() < before + 30  # the next phase starts from what is really in use
    libc.free(pin)
