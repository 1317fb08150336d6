"""The heap found from the spans, checked against the runtime's own accounting.

Spans whose structures read as dead, or are damaged so that validation drops them, would
otherwise vanish without a trace: the heap would look small and whole. The runtime keeps
its own counts, written by different code into different memory than the mspans:

- ``heapArena.pageInUse``: one bit per mSpanInUse span, at its first page (every version,
  with or without DWARF: it is in the layout);
- ``mheap_.pagesInUse``: pages of mSpanInUse spans;
- ``memstats.heapStats``: objects allocated and not freed, per size class.

The last two are read through the layout, so stripped builds are checked as well.

The first two are updated in ``mheap.allocSpan`` / ``freeSpanLocked`` next to the span's
state (src/runtime/mheap.go), so on a healthy dump they match the spans found exactly
(measured on every shipped fixture). The object counts lag behind the alloc bits (see
``stats.runtime_object_counts``): the objects found are never fewer (0 to 2 more per class
on the fixtures). A disagreement is one warning naming both figures: the answer is partial.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core import Gather

from .spans import Arenas, Spans, spans_in_use_by_arenas
from .stats import runtime_figure, runtime_object_counts

if TYPE_CHECKING:
    from ..process import GoProcess


def _mib(nbytes: int) -> str:
    return f"{nbytes / (1 << 20):.1f} MiB"


def check_heap(gp: GoProcess, spans: Spans, arenas: Arenas, gather: Gather, span_of: np.ndarray) -> None:
    """Warn on ``gp``'s process when the in-use spans found, or the allocated objects found
    in them (``span_of``: each object's row in ``spans``, ascending), disagree with the
    runtime's own counts: at most one warning, about the spans if they disagree."""
    if _check_spans(gp, spans, arenas, gather, len(span_of)):
        _check_objects(gp, spans, span_of)


def _check_spans(gp: GoProcess, spans: Spans, arenas: Arenas, gather: Gather, objects: int) -> bool:
    """Return True when the in-use spans found agree with the runtime's counts; else warn, False."""
    inuse = spans.in_use
    found_spans = int(inuse.sum())
    npages = spans.npages[inuse]
    found_pages = int(npages.sum(dtype=np.uint64))
    page = spans.page_size
    counted_spans = spans_in_use_by_arenas(gather, gp.layout, arenas)
    counted_pages = runtime_figure(gp, "runtime.mheap_", "runtime.mheap", "pagesInUse")
    # A thread stopped inside allocSpan or freeSpanLocked may have set the span's state but
    # not yet its pageInUse bit and pagesInUse (they are published after the span is set
    # up): at most one span per thread, of at most the largest size found.
    slack_spans = max(len(gp.process.threads), 1)
    slack_pages = int(np.sort(npages)[-slack_spans:].sum(dtype=np.uint64)) if found_spans else 0
    off_spans = counted_spans is not None and abs(found_spans - counted_spans) > slack_spans
    off_pages = counted_pages is not None and abs(found_pages - counted_pages) > slack_pages
    if not (off_spans or off_pages):
        return True
    says = []
    if counted_spans is not None:
        says.append(f"{counted_spans} spans (heapArena.pageInUse)")
    if counted_pages is not None:
        says.append(f"{_mib(counted_pages * page)} (mheap_.pagesInUse)")
    fewer = (counted_spans or 0) > found_spans or (counted_pages or 0) > found_pages
    why = ("span structures unreadable or damaged" if fewer else
           "spans the runtime does not count as in use: span structures or page bitmaps damaged")
    gp.process.warn(f"heap: {objects} objects in {found_spans} spans ({_mib(found_pages * page)}) "
                    f"found, but the runtime counts {' and '.join(says)} in use: {why}")
    return False


def _check_objects(gp: GoProcess, spans: Spans, span_of: np.ndarray) -> None:
    """Warn when fewer objects are found than the runtime counts, beyond what threads
    stopped mid-sweep explain: sweep installs the new alloc bits before it adds the freed
    objects to smallFreeCount, so each thread can hide at most one span's worth."""
    counted = runtime_object_counts(gp)
    if counted is None:
        return
    small, large = counted
    # objects are sorted by address, spans by base: each span's objects are one run
    per_span = np.diff(np.searchsorted(span_of, np.arange(len(spans) + 1, dtype=span_of.dtype)))
    cls = spans.sizeclass.astype(np.int64)
    nclass = max(len(small), int(cls.max(initial=0)) + 1)
    found = np.bincount(cls, weights=per_span, minlength=nclass).astype(np.int64)
    widest = np.zeros(nclass, dtype=np.int64)
    np.maximum.at(widest, cls[spans.in_use], spans.nelems[spans.in_use])
    threads = max(len(gp.process.threads), 1)
    want = np.zeros(nclass, dtype=np.int64)
    want[:len(small)] = small
    want[0] = large
    short = want - found > threads * np.maximum(widest, 1)
    if not short.any():
        return
    gp.process.warn(f"heap: {int(found[short].sum())} objects found in {int(short.sum())} size "
                    f"classes where the runtime counts {int(want[short].sum())} "
                    "(memstats.heapStats): alloc bits unreadable or damaged")
