"""Parser for the goroutine traceback the Go runtime prints (GOTRACEBACK=crash, SIGQUIT).

This is the ground truth the goroutine tests compare against, so it is strict: every
line of a goroutine block must be understood or the parse fails.

Format (runtime/traceback.go, Go 1.19–1.27)::

    goroutine 18 gp=0xc000102380 m=nil [chan receive, 2 minutes]:   # gp=/m= since 1.21
    main.recvLoop(0xc00001e0c0)                                      # func(args)
    \t/src/main.go:88 +0x2a fp=0x.. sp=0x.. pc=0x..                     # file:line (+pc offset)
    created by main.main in goroutine 1                              # " in goroutine N" since 1.21
    \t/src/main.go:40 +0x1c5

Inlined calls print as ``name(...)`` with a file:line line but no ``+0x`` offset.
Goroutine 0 is an M's system stack (g0/gsignal), printed for the crashing thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADER = re.compile(r"^goroutine (\d+)(?: gp=(0x[0-9a-f]+) m=(\S+)(?: mp=(0x[0-9a-f]+))?)? \[(.*)\]:$")
FILELINE = re.compile(r"^\t(.*):(\d+)(?: \+0x([0-9a-f]+))?(?: fp=(0x[0-9a-f]+) sp=(0x[0-9a-f]+) pc=(0x[0-9a-f]+))?$")
CREATED = re.compile(r"^created by (.+?)(?: in goroutine (\d+))?$")
CALL = re.compile(r"^(.*)\((.*)\)$")
# Wait durations and thread locks are appended to the reason inside the brackets.
STATUS_SUFFIX = re.compile(r"(, \d+ minutes)?(, locked to thread)?$")


@dataclass
class Frame:
    """One frame: function as printed, file, line, and pc/sp when printed (not inlined)."""

    func: str
    file: str
    line: int
    pc: int | None = None
    sp: int | None = None
    inlined: bool = False


@dataclass
class Goroutine:
    """One goroutine block of the traceback."""

    id: int
    status: str  # the bracketed text without wait duration and "locked to thread"
    wait_minutes: int | None
    gp: int | None
    frames: list[Frame] = field(default_factory=list)
    created_by: str | None = None
    creator_id: int | None = None
    stack_unavailable: bool = False
    elided: bool = False


def parse(text: str) -> dict[int, Goroutine]:
    """Return the goroutines of a runtime traceback by id (goroutine 0, the M stack, excluded)."""
    out: dict[int, Goroutine] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = HEADER.match(lines[i])
        if not m:
            i += 1
            continue
        status = m.group(5)
        minutes = re.search(r", (\d+) minutes", status)
        g = Goroutine(id=int(m.group(1)), status=STATUS_SUFFIX.sub("", status),
                      wait_minutes=int(minutes.group(1)) if minutes else None,
                      gp=int(m.group(2), 16) if m.group(2) else None)
        i += 1
        while i < len(lines) and lines[i].strip():
            line = lines[i]
            if line.startswith("goroutine running on other thread"):
                g.stack_unavailable = True
                i += 1
                continue
            if line.startswith("...") and "frames elided" in line:
                g.elided = True
                i += 1
                continue
            if line.startswith("[originating from goroutine"):
                break  # ancestor tracebacks (GODEBUG=tracebackancestors) are not compared
            created = CREATED.match(line)
            call = CALL.match(line)
            if created is None and call is None:
                break  # the end of the block (e.g. a register dump after goroutine 0)
            fl = FILELINE.match(lines[i + 1]) if i + 1 < len(lines) else None
            if fl is None:
                raise ValueError(f"traceback line {i + 2}: expected '\\tfile:line', got {lines[i + 1]!r}")
            if created:
                g.created_by = created.group(1)
                g.creator_id = int(created.group(2)) if created.group(2) else None
            else:
                g.frames.append(Frame(
                    func=call.group(1), file=fl.group(1), line=int(fl.group(2)),
                    pc=int(fl.group(6), 16) if fl.group(6) else None,
                    sp=int(fl.group(5), 16) if fl.group(5) else None,
                    inlined=fl.group(3) is None))
            i += 2
        if g.id != 0 and g.id not in out:
            out[g.id] = g
    return out
