"""``runtime.firstmoduledata`` found without symbols, and runtime globals found by disassembly.

The linker fills ``firstmoduledata`` statically (in ``.noptrdata``, or its own ``.go.module``
section from Go 1.26), so the executable alone is enough; a dump holds the same bytes. The
first word is the ``pcHeader`` address, so we scan writable data for that word and validate
the slices and ranges that follow against the pclntab header and the segments.

The struct's layout is one generated table per family (``MODULEDATA_LAYOUTS``, from the DWARF
of each release's ``runtime.moduledata``, see tools/gen_layout_tables.py); the family is
picked by which layout validates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.exe import Executable

from ..errors import GoCoreError
from ..generated.layout_tables import MODULEDATA_LAYOUTS
from .pclntab import PcHeader, Pclntab, PclntabError, find_pclntab, open_pclntab, parse_header

log = logging.getLogger(__name__)

ReadFn = Callable[[int, int], "bytes | None"]


class ModuleDataError(GoCoreError):
    """``runtime.firstmoduledata`` cannot be found or does not validate."""


# family -> {field: (offset, size)} of the runtime.moduledata fields read here
# (layout.MODULEDATA_FIELDS), one family per layout, generated from each release's DWARF.
# The slice fields (ptr, len, cap) are those of _ELEM_SIZE; every other field is one word.
LAYOUTS: dict[str, dict[str, tuple[int, int]]] = {
    family: entry["fields"] for family, entry in MODULEDATA_LAYOUTS.items()}
OFFSETS = {family: {name: off for name, (off, _) in fields.items()}
           for family, fields in LAYOUTS.items()}

# Element sizes of the slices in words (w) and bytes (b), to check that each slice's bytes
# are mapped: ftab is []functab{entryoff, funcoff uint32}, textsectmap []textsect{3 uintptr}.
_ELEM_SIZE = {"funcnametab": (0, 1), "cutab": (0, 4), "filetab": (0, 1), "pctab": (0, 1),
              "pclntable": (0, 1), "ftab": (0, 8), "textsectmap": (3, 0), "typelinks": (0, 4),
              "itablinks": (1, 0)}

_SIZES = {family: max(off + size for off, size in fields.values()) for family, fields in LAYOUTS.items()}


@dataclass(frozen=True)
class ModuleData:
    """The addresses held by ``runtime.firstmoduledata`` (link-time; slices as (addr, len))."""

    addr: int
    family: str
    pc_header: int
    funcnametab: tuple[int, int]
    cutab: tuple[int, int]
    filetab: tuple[int, int]
    pctab: tuple[int, int]
    pclntable: tuple[int, int]
    ftab: tuple[int, int]
    findfunctab: int
    minpc: int
    maxpc: int
    text: int
    etext: int
    noptrdata: int
    enoptrdata: int
    data: int
    edata: int
    bss: int
    ebss: int
    noptrbss: int
    enoptrbss: int
    end: int
    gcdata: int
    gcbss: int
    types: int
    etypes: int
    rodata: int
    gofunc: int
    textsectmap: tuple[int, int]
    typelinks: tuple[int, int] | None = None   # absent from Go 1.27
    itablinks: tuple[int, int] | None = None   # absent from Go 1.27
    covctrs: int | None = None                 # Go 1.20+
    ecovctrs: int | None = None
    epclntab: int | None = None                # Go 1.26+
    typedesclen: int | None = None             # Go 1.27+
    itaboffset: int | None = None              # Go 1.27+
    itabsize: int | None = None                # Go 1.27+

    def section_of(self, addr: int) -> str | None:
        """Return which Go data range holds ``addr`` (``data``, ``bss``, ...), or None."""
        for name in ("noptrdata", "data", "bss", "noptrbss"):
            if getattr(self, name) <= addr < getattr(self, "e" + name):
                return name
        return None


def _decode(buf: bytes, family: str, addr: int, byte_order: str) -> ModuleData:
    """Return the ModuleData for raw struct bytes ``buf`` read as layout ``family``."""
    vals: dict[str, object] = {}
    for name, (off, size) in LAYOUTS[family].items():
        if name in _ELEM_SIZE:  # a slice: three words
            w = size // 3
            vals[name] = tuple(int.from_bytes(buf[o:o + w], byte_order)
                               for o in range(off, off + size, w))
        else:
            vals[name] = int.from_bytes(buf[off:off + size], byte_order)
    fields = {k: (v[0], v[1]) if isinstance(v, tuple) else v for k, v in vals.items()}
    fields["pc_header"] = fields.pop("pcHeader")
    md = ModuleData(addr=addr, family=family, **fields)
    object.__setattr__(md, "_caps", {k: v[2] for k, v in vals.items() if isinstance(v, tuple)})
    return md


def _problems(md: ModuleData, caps: dict[str, int], hdr, mapped: Callable[[int], bool]) -> list[str]:
    """Return what is wrong with ``md`` as the moduledata of pclntab ``hdr`` (empty if fine)."""
    bad: list[str] = []
    word = hdr.ptr_size
    base = hdr.addr
    expect = {"funcnametab": base + hdr.funcname_offset, "cutab": base + hdr.cu_offset,
              "filetab": base + hdr.filetab_offset, "pctab": base + hdr.pctab_offset,
              "pclntable": base + hdr.pcln_offset, "ftab": base + hdr.pcln_offset}
    for name, want in expect.items():
        if getattr(md, name)[0] != want:
            bad.append(f"{name} at {getattr(md, name)[0]:#x}, want {want:#x}")
    for name, (p, n) in [(k, getattr(md, k)) for k in caps]:
        if n > caps[name] or caps[name] > 1 << 32:
            bad.append(f"{name} len {n} cap {caps[name]}")
        elif n and not (mapped(p) and mapped(p + n * (_ELEM_SIZE[name][0] * word + _ELEM_SIZE[name][1]) - 1)):
            bad.append(f"{name} of {n} elements at {p:#x} is not mapped")
    if md.ftab[1] != hdr.nfunc + 1:
        bad.append(f"ftab has {md.ftab[1]} entries, want {hdr.nfunc + 1}")
    if md.cutab[1] > hdr.filetab_offset - hdr.cu_offset:  # the linker stores its byte size
        bad.append("cutab length disagrees with the header")
    # What holds in any link order: the internal linker puts noptrdata, data, bss and
    # noptrbss in that order, an external linker (cgo, Debian's builds) puts .data before
    # .noptrdata, and a PIE moves types into .data.rel.ro. So each range must be
    # well-formed and mapped at both ends, the data ranges must not overlap, and
    # runtime.end must close them all.
    ranges = [("text", md.text, md.etext), ("noptrdata", md.noptrdata, md.enoptrdata),
              ("data", md.data, md.edata), ("bss", md.bss, md.ebss),
              ("noptrbss", md.noptrbss, md.enoptrbss), ("types", md.types, md.etypes)]
    for name, lo, hi in ranges:
        if not 0 < lo <= hi or not mapped(lo) or (hi > lo and not mapped(hi - 1)):
            bad.append(f"{name} range {lo:#x}-{hi:#x}")
    if not md.text <= md.minpc < md.maxpc <= md.etext + 1:
        bad.append(f"minpc/maxpc {md.minpc:#x}/{md.maxpc:#x} outside text")
    data = sorted((lo, hi, name) for name, lo, hi in ranges[1:5] if lo < hi)
    for (_, hi, a), (lo, _, b) in zip(data, data[1:]):
        if lo < hi:
            bad.append(f"data ranges {a} and {b} overlap")
    if data and not (max(hi for _, hi, _ in data) <= md.end and mapped(md.end - 1)):
        bad.append(f"end {md.end:#x} does not close the data ranges")
    for name in ("gcdata", "gcbss", "gofunc", "rodata", "findfunctab"):
        if not mapped(getattr(md, name)):
            bad.append(f"{name} {getattr(md, name):#x} is not mapped")
    span = md.etypes - md.types
    if md.typedesclen is not None and not 0 <= md.typedesclen <= span:
        bad.append(f"typedesclen {md.typedesclen:#x} exceeds the types range")
    if md.itaboffset is not None and not (0 <= md.itaboffset and md.itaboffset + md.itabsize <= span):
        bad.append(f"itabs {md.itaboffset:#x}+{md.itabsize:#x} exceed the types range")
    if not 1 <= md.textsectmap[1] <= 64:
        bad.append(f"textsectmap has {md.textsectmap[1]} entries")
    return bad


def _pclntab_header(exe: Executable, pclntab_addr: int):
    raw = exe.read_static(pclntab_addr, 72)
    if raw is None:
        raise ModuleDataError(f"{exe.path}: pclntab at {pclntab_addr:#x} is not in the file")
    return parse_header(raw, pclntab_addr)


def read_moduledata(read: ReadFn, addr: int, pclntab_header: PcHeader, mapped: Callable[[int], bool],
                    families: list[str] | None = None, *, byte_order: str) -> ModuleData:
    """Return the moduledata at ``addr`` read through ``read`` (an executable or a dump),
    its words in ``byte_order`` ("little" or "big").

    Tries each layout family (all unless ``families`` names some) and returns the first
    that validates; raises ``ModuleDataError`` naming the problems of the family that came
    closest (fewest problems) otherwise.
    """
    closest: tuple[int, str] | None = None
    for family in families or list(LAYOUTS):
        buf = read(addr, _SIZES[family])
        if buf is None or len(buf) < _SIZES[family]:
            raise ModuleDataError(f"moduledata at {addr:#x} is unreadable")
        md = _decode(buf, family, addr, byte_order)
        problems = _problems(md, md._caps, pclntab_header, mapped)  # type: ignore[attr-defined]
        if not problems:
            return md
        if closest is None or len(problems) < closest[0]:
            closest = (len(problems), f"{family}: " + "; ".join(problems))
    raise ModuleDataError(f"moduledata at {addr:#x} does not validate ({closest[1]})")


def _writable_ranges(exe: Executable) -> list[tuple[int, int]]:
    """Return ``(vaddr, size)`` of the initialised writable data moduledata may live in,
    best first: the linker fills it statically, so only bytes the file stores count
    (never a section's zero-filled .bss tail)."""
    out = []
    for name in (".go.module", ".noptrdata", ".data"):
        sec = exe.sections.get(name)
        if sec is not None and sec.stored:
            out.append((sec.addr, sec.stored))
    for seg in exe.segments:
        if "w" in seg.perms and seg.filesz:
            out.append((seg.vaddr, seg.filesz))
    return out


def find_moduledata(exe: Executable, pclntab_addr: int | None = None) -> ModuleData:
    """Return ``runtime.firstmoduledata`` of the executable, found without symbols.

    Scans ``.go.module``/``.noptrdata``/``.data`` (then every writable segment) for a word
    equal to the pclntab address and returns the first candidate that validates. When the
    symbol ``runtime.firstmoduledata`` exists, the result must be at that address.
    """
    if pclntab_addr is None:
        try:
            pclntab_addr = find_pclntab(exe)
        except PclntabError as e:
            raise ModuleDataError(str(e)) from e
    hdr = _pclntab_header(exe, pclntab_addr)

    def mapped(a: int) -> bool:
        return any(s.vaddr <= a < s.vaddr + s.memsz for s in exe.segments)

    tried: set[int] = set()
    errors: list[str] = []
    needle = np.uint64(pclntab_addr)
    w = exe.ptr_size
    for vaddr, size in _writable_ranges(exe):
        start = (-vaddr) % w
        words = exe.loaded(vaddr + start, max(0, size - start), exe.word_dtype)
        if words is None:
            continue
        for i in np.flatnonzero(words == needle):
            cand = vaddr + start + w * int(i)
            if cand in tried:
                continue
            tried.add(cand)
            try:
                md = read_moduledata(exe.read_static, cand, hdr, mapped, byte_order=exe.byte_order)
            except ModuleDataError as e:
                errors.append(str(e))
                continue
            sym = exe.symbols.get("runtime.firstmoduledata")
            if sym is not None and sym[0] != md.addr:
                raise ModuleDataError(f"{exe.path}: moduledata found at {md.addr:#x} but symbol "
                                      f"runtime.firstmoduledata is at {sym[0]:#x}")
            return md
    detail = errors[0] if errors else f"no word equal to {pclntab_addr:#x} in writable data"
    raise ModuleDataError(f"{exe.path}: runtime.firstmoduledata not found: {detail}")


def load_module(exe: Executable, warn: Callable[[str], None] | None = None) -> tuple[Pclntab, ModuleData]:
    """Return the executable's pclntab (with text start and gofunc set) and its moduledata.

    ``warn`` receives what is wrong with the pclntab where it still answers.
    """
    addr = find_pclntab(exe)
    md = find_moduledata(exe, addr)
    return open_pclntab(exe, addr=addr, text_start=md.text, gofunc=md.gofunc, warn=warn), md


# --- runtime globals in stripped binaries -----------------------------------------------

RUNTIME_GLOBALS = ("runtime.allgs", "runtime.allglen", "runtime.allglock", "runtime.allm",
                   "runtime.mheap_", "runtime.memstats", "runtime.sched", "runtime.buildVersion")


class _Insn:
    """One decoded instruction: address, mnemonic, RIP-relative target, call target, regs."""

    __slots__ = ("addr", "mnemonic", "target", "call", "reg", "mem_base", "imm")

    def __init__(self, addr, mnemonic, target, call, reg, mem_base, imm):
        self.addr, self.mnemonic, self.target, self.call = addr, mnemonic, target, call
        self.reg, self.mem_base, self.imm = reg, mem_base, imm


def _reg64(name: str | None) -> str | None:
    """Return the 64-bit register name for ``name`` (``ecx`` -> ``rcx``, ``r9d`` -> ``r9``)."""
    if name is None:
        return None
    if name.startswith("e") and len(name) == 3:
        return "r" + name[1:]
    return name[:-1] if name.startswith("r") and name[-1] in "dwb" and name[1:-1].isdigit() else name


def _disassemble(exe: Executable, pclntab: Pclntab, name: str) -> list[_Insn] | None:
    """Return the decoded instructions of function ``name`` (amd64 or arm64), or None if absent."""
    f = pclntab.lookup(name)
    if f is None:
        return None
    code = exe.read_static(f.entry, f.end - f.entry)
    if code is None:
        return None
    if exe.goarch == "arm64":
        return _disassemble_arm64(pclntab, code, f.entry)
    import capstone
    from capstone import x86

    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    cs.detail = True
    out = []
    for ins in cs.disasm(code, f.entry):
        target = call = reg = mem_base = imm = None
        for op in ins.operands:
            if op.type == x86.X86_OP_MEM:
                if op.mem.base == x86.X86_REG_RIP:
                    target = ins.address + ins.size + op.mem.disp
                elif op.mem.index == 0 and op.mem.disp == 0:
                    mem_base = ins.reg_name(op.mem.base)
            elif op.type == x86.X86_OP_REG and reg is None:
                reg = _reg64(ins.reg_name(op.reg))
            elif op.type == x86.X86_OP_IMM:
                imm = op.imm
                if ins.mnemonic == "call":
                    callee = pclntab.find_func(op.imm)
                    call = callee.name if callee is not None else None
        out.append(_Insn(ins.address, ins.mnemonic, target, call, reg, _reg64(mem_base), imm))
    return out


def _disassemble_arm64(pclntab: Pclntab, code: bytes, entry: int) -> list[_Insn]:
    """Return arm64 code as _Insn records: ``ADRP+ADD`` is a ``lea`` of its target, loads
    and stores through an ADRP-based register carry the global they access (arm64code)."""
    from .arm64code import decode

    out = []
    for ins in decode(code, entry):
        call = None
        if ins.call is not None:
            callee = pclntab.find_func(ins.call)
            call = callee.name if callee is not None else None
        mnemonic = "lea" if ins.mnemonic == "add" and ins.target is not None else ins.mnemonic
        out.append(_Insn(ins.addr, mnemonic, ins.target, call, ins.reg, ins.mem_base, ins.imm))
    return out


# The register a function's first (pointer) argument is passed in under ABIInternal.
_FIRST_ARG = {"amd64": "rax", "arm64": "x0"}


def _arg_before_call(insns: list[_Insn], callee: str, arg: str = "rax") -> int | None:
    """Return the ``lea`` target (amd64 RIP-relative, arm64 ADRP+ADD) loaded into the
    first-argument register ``arg`` just before the first call to ``callee``."""
    for i, ins in enumerate(insns):
        if ins.call == callee:
            for prev in reversed(insns[max(0, i - 4): i]):
                if prev.mnemonic == "lea" and prev.reg == arg and prev.target is not None:
                    return prev.target
            return None
    return None


def _allg_globals(insns: list[_Insn]) -> dict[str, int]:
    """Return allgs (the slice read at +0/+8/+16), allglock and allglen from ``allgadd``."""
    out: dict[str, int] = {}
    targets = {i.target for i in insns if i.target is not None}
    slices = sorted(t for t in targets if t + 8 in targets and t + 16 in targets)
    if slices:
        out["runtime.allgs"] = slices[0]
    lock = next((insns[i - 1].target for i in range(1, len(insns))
                 if insns[i].call in ("runtime.lock2", "runtime.lock") and insns[i - 1].mnemonic == "lea"),
                None)
    if lock is not None:
        out["runtime.allglock"] = lock
        # allglen is stored (atomically) last, just before unlock(&allglock).
        unlock = next((i for i in range(len(insns) - 1, -1, -1)
                       if insns[i].call in ("runtime.unlock2", "runtime.unlock")), None)
        if unlock is not None:
            before = [i.target for i in insns[:unlock] if i.target not in (None, lock)]
            if before:
                out["runtime.allglen"] = before[-1]
    return out


def _atomic_store_target(insns: list[_Insn], arg: str = "rax") -> int | None:
    """Return the global stored with ``atomicstorep`` (``lea rax, X; call runtime.atomicwb``;
    arm64: x0), or by xchg (amd64) / stlr (arm64)."""
    t = _arg_before_call(insns, "runtime.atomicwb", arg)
    if t is not None:
        return t
    for ins in insns:
        if ins.mnemonic in ("xchg", "stlr") and ins.target is not None:
            return ins.target
    return None


def _is_atomic_add(mnemonic: str) -> bool:
    """Return whether ``mnemonic`` adds to memory atomically: amd64 ``lock xadd``, arm64
    ``ldadd`` and its ordered forms (``ldaddal``)."""
    return mnemonic.endswith("xadd") or mnemonic.startswith("ldadd")


def _xadd_target(insns: list[_Insn], addend: int) -> int | None:
    """Return the global of the first atomic add (``lock xadd``, arm64 ``ldadd``) of a
    register just set to ``addend``.

    The memory operand is RIP-relative or a register loaded by a nearby ``lea``.
    """
    for i, ins in enumerate(insns):
        if not _is_atomic_add(ins.mnemonic):
            continue
        window = insns[max(0, i - 12): i]
        if not any(p.mnemonic == "mov" and p.reg == ins.reg and p.imm == addend for p in window):
            continue
        if ins.target is not None:
            return ins.target
        for prev in reversed(window):
            if prev.mnemonic == "lea" and prev.reg == ins.mem_base and prev.target is not None:
                return prev.target
    return None


def _build_version_by_content(exe: Executable, md: ModuleData, version: str) -> int | None:
    """Return the address of a Go string header in data whose bytes equal ``version``."""
    want = version.encode()
    for lo, hi in ((md.data, md.edata), (md.noptrdata, md.enoptrdata)):
        raw = exe.read_static(lo, hi - lo)
        if not raw:
            continue
        w = exe.ptr_size
        words = np.frombuffer(raw, dtype=exe.word_dtype, count=len(raw) // w)
        for i in np.flatnonzero(words[1:] == len(want)):
            ptr = int(words[i])
            if exe.read_static(ptr, len(want)) == want:
                return lo + w * int(i)
    return None


def find_runtime_globals(exe: Executable, pclntab: Pclntab, md: ModuleData, *,
                         use_symbols: bool = True, go_version: str | None = None) -> dict[str, int]:
    """Return ``{name: address}`` for the runtime globals in ``RUNTIME_GLOBALS`` that can be found.

    With symbols (and ``use_symbols``) they come from the symbol table. Otherwise from the
    code that touches them (amd64 or arm64): ``allgadd`` (allgs, allglen, allglock), ``mcommoninit``
    (allm, stored with atomicstorep), ``mallocinit`` (``&mheap_`` passed to
    ``(*mheap).init``), ``(*mheap).allocSpan`` (``&memstats.heapStats`` passed to
    ``(*consistentHeapStats).acquire``), ``newproc1`` (``sched.goidgen``, offset 0, bumped with lock xadd) and
    ``schedinit`` (``buildVersion.len = 7`` for "unknown"), or, for buildVersion, the data
    word pair pointing at ``go_version``. Each address must lie in data, bss or noptrbss.
    """
    syms = exe.symbols if use_symbols else {}
    if syms and all(n in syms for n in RUNTIME_GLOBALS):
        return {n: syms[n][0] for n in RUNTIME_GLOBALS}
    found: dict[str, int] = {}
    arg = _FIRST_ARG.get(exe.goarch)
    if arg is not None:
        insns = _disassemble(exe, pclntab, "runtime.allgadd")
        if insns:
            found.update(_allg_globals(insns))
        insns = _disassemble(exe, pclntab, "runtime.mcommoninit")
        if insns and (t := _atomic_store_target(insns, arg)) is not None:
            found["runtime.allm"] = t
        insns = _disassemble(exe, pclntab, "runtime.mallocinit")
        if insns and (t := _arg_before_call(insns, "runtime.(*mheap).init", arg)) is not None:
            found["runtime.mheap_"] = t
        insns = _disassemble(exe, pclntab, "runtime.(*mheap).allocSpan")
        # stats := memstats.heapStats.acquire(); heapStats is mstats's first field in
        # every release (the layout tables: offset 0), so its address is memstats's
        if insns and (t := _arg_before_call(insns, "runtime.(*consistentHeapStats).acquire", arg)) is not None:
            found["runtime.memstats"] = t
        insns = _disassemble(exe, pclntab, "runtime.newproc1")
        # pp.goidcache = sched.goidgen.Add(_GoidCacheBatch = 16); goidgen is field 0
        if insns and (t := _xadd_target(insns, 16)) is not None:
            found["runtime.sched"] = t
        insns = _disassemble(exe, pclntab, "runtime.schedinit")
        bv = _build_version_from_schedinit(exe, insns or [])
        if bv is not None:
            found["runtime.buildVersion"] = bv
    if "runtime.buildVersion" not in found and go_version:
        bv = _build_version_by_content(exe, md, go_version)
        if bv is not None:
            found["runtime.buildVersion"] = bv
    for name in list(found):
        if md.section_of(found[name]) is None:
            log.warning("%s candidate %#x is outside data/bss; dropped", name, found[name])
            del found[name]
    for name in RUNTIME_GLOBALS:
        if name in syms:
            found[name] = syms[name][0]
    return found


def _build_version_from_schedinit(exe: Executable, insns: list[_Insn]) -> int | None:
    """Return buildVersion from ``if buildVersion == "" { buildVersion = "unknown" }``.

    The store of the length 7 goes to ``buildVersion+8``; the candidate must hold a Go
    string header whose bytes are readable (the linker initialises it statically).
    """
    for i, ins in enumerate(insns):
        if ins.mnemonic != "mov" or ins.target is None or ins.reg is not None:
            continue
        if ins.imm != 7:  # mov qword ptr [rip + X], 7 (len("unknown"))
            continue
        prev_cmp = any(p.mnemonic == "cmp" and p.target == ins.target for p in insns[max(0, i - 3): i])
        if not prev_cmp:
            continue
        hdr = exe.read_words(ins.target - 8, 2)
        if hdr is None:
            continue
        ptr, n = hdr
        if 0 < n < 256 and exe.read_static(ptr, n):
            return ins.target - 8
    return None
