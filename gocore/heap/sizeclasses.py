"""The slot ``mallocgc`` gives an allocation of n bytes: size classes, tiny blocks, large spans.

The table is ``class_to_size`` of src/runtime/sizeclasses.go (Go 1.19-1.24;
``SizeClassToSize`` of src/internal/runtime/gc/sizeclasses.go from 1.25), the same 68
classes in every release viewcore reads. ``check_against_spans`` verifies it against the
dump's own spans (every in-use small span's ``elemsize`` must be its class's size), so a
runtime with other classes switches the callers off instead of misleading them.

A pointer-free allocation under 16 bytes goes to the tiny allocator (a 16-byte block
shared with other tiny values, src/runtime/malloc.go ``maxTinySize``); from Go 1.22 a small
object with pointers over 512 bytes gets an 8-byte malloc header in its slot; an object over
the largest class (32768, or 32760 with headers) gets its own span of whole pages.
"""

from __future__ import annotations

import numpy as np

CLASS_TO_SIZE = np.array(
    [0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288,
     320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536,
     1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192,
     9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
     27264, 28672, 32768], dtype=np.int64)
MAX_SMALL_SIZE = 32768
MAX_TINY_SIZE = 16          # runtime.maxTinySize
MALLOC_HEADER_SIZE = 8      # runtime.mallocHeaderSize
MIN_SIZE_FOR_MALLOC_HEADER = 512
PAGE_SIZE = 8192            # runtime._PageSize


def alloc_slots(sizes: np.ndarray, scan: np.ndarray, malloc_headers: bool) -> np.ndarray:
    """Return the slot size ``mallocgc(size, typ)`` takes for each request (int64).

    ``scan``: the type has pointers (a scan span). Tiny requests (pointer-free, under 16
    bytes) return 0: they share a 16-byte block, so no slot is theirs alone. Zero-byte
    requests return 0 (``zerobase``, never a heap slot).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    scan = np.asarray(scan, dtype=bool)
    req = sizes.copy()
    if malloc_headers:
        req += np.where(scan & (sizes > MIN_SIZE_FOR_MALLOC_HEADER), MALLOC_HEADER_SIZE, 0)
        small_max = MAX_SMALL_SIZE - MALLOC_HEADER_SIZE
    else:
        small_max = MAX_SMALL_SIZE
    cls = np.searchsorted(CLASS_TO_SIZE, np.minimum(req, MAX_SMALL_SIZE), side="left")
    out = CLASS_TO_SIZE[np.minimum(cls, len(CLASS_TO_SIZE) - 1)]
    large = sizes > small_max
    out = np.where(large, -(-sizes // PAGE_SIZE) * PAGE_SIZE, out)
    out[(sizes <= 0) | (~scan & (sizes < MAX_TINY_SIZE))] = 0
    return out


def check_against_spans(sizeclass: np.ndarray, elemsize: np.ndarray) -> bool:
    """Return whether every (span size class, elemsize) pair of in-use small spans agrees
    with ``CLASS_TO_SIZE``."""
    sc = np.asarray(sizeclass, dtype=np.int64)
    es = np.asarray(elemsize, dtype=np.int64)
    small = (sc > 0) & (sc < len(CLASS_TO_SIZE))
    return bool((CLASS_TO_SIZE[sc[small]] == es[small]).all()) and not (sc >= len(CLASS_TO_SIZE)).any()
