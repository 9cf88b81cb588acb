"""Keep freed memory for reuse, so a week's temporaries do not page-fault every week.

A step allocates and frees the same few arrays of 1–10 MB every week. glibc's malloc serves blocks
that large from fresh ``mmap`` pages and returns them on ``free``, so every week the kernel maps
and zeroes them again: at national scale ~4,300 page faults and ~13 ms of a ~55 ms step
(``benchmarks/run.py``). Raising the mmap and trim thresholds keeps such blocks on the heap for
the next week. The setting is process-wide and only raises how much freed memory the process keeps
(at most the size of one week's temporaries); elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 512 * 1024 * 1024

_done = False


def retain_freed_memory() -> bool:
    """Ask glibc to serve blocks up to 32 MB from the heap and keep freed memory.

    Once per process; returns whether the setting took effect.
    """
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
