"""The heap found from the spans, checked against the runtime's own accounting.

Spans whose structures read as dead, or are damaged so that validation drops them, would
otherwise vanish without a trace: the heap would look small and whole. The runtime keeps
its own counts, written by different code into different memory than the mspans:

- ``heapArena.pageInUse``: one bit per mSpanInUse span, at its first page (every version,
  with or without DWARF: it is in the layout);
- ``mheap_.pagesInUse``: pages of mSpanInUse spans (read through DWARF when present).

Both are updated in ``mheap.allocSpan`` / ``freeSpanLocked`` next to the span's state
(src/runtime/mheap.go), so on a healthy dump they match the spans found exactly (measured
on every shipped fixture). A disagreement is one warning naming both figures, and the
answer is partial.
"""

from __future__ import annotations

import numpy as np

from .spans import U64, Arenas, MemGather, Spans, spans_in_use_by_arenas
from .stats import runtime_figure


def _mib(nbytes: int) -> str:
    return f"{nbytes / (1 << 20):.1f} MiB"


def check_heap(gp, spans: Spans, arenas: Arenas, gather: MemGather, objects: int) -> None:
    """Warn once on ``gp``'s process when the in-use spans found (holding ``objects``
    allocated objects) disagree with the runtime's counts of in-use spans and pages."""
    inuse = spans.in_use
    found_spans = int(inuse.sum())
    npages = spans.npages[inuse]
    found_pages = int(npages.sum(dtype=np.uint64))
    page = spans.page_size
    counted_spans = spans_in_use_by_arenas(gather, gp.layout, arenas)
    counted_pages = runtime_figure(gp, "runtime.mheap_", "pagesInUse")
    # A thread stopped inside allocSpan or freeSpanLocked may have set the span's state but
    # not yet its pageInUse bit and pagesInUse (they are published after the span is set
    # up): at most one span per thread, of at most the largest size found.
    slack_spans = max(len(gp.process.threads), 1)
    slack_pages = int(np.sort(npages)[-slack_spans:].sum(dtype=np.uint64)) if found_spans else 0
    off_spans = counted_spans is not None and abs(found_spans - counted_spans) > slack_spans
    off_pages = counted_pages is not None and abs(found_pages - counted_pages) > slack_pages
    if not (off_spans or off_pages):
        return
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
