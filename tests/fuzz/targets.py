"""Fuzz targets: one per reader, each run on the bytes a recipe makes from its seed.

A target opens the mutated file the way viewcore does (by magic, on a read-only buffer:
the readers take the mmap ``core.source.map_readonly`` would give them; an anonymous
mmap is the same type) and then asks what a command would ask of the result. It returns
nothing: the outcome is how it ends (see ``classify``):

- ``ok``: it finished (with or without warnings);
- ``error``: it raised ``core.DumpError`` or ``gocore.GoCoreError`` (bad input reported);
- a finding: any other exception; a hang or a memory peak is measured by the worker.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Callable
from pathlib import Path

from .mutate import Recipe, build
from .seeds import load_seed

ROOT = Path(__file__).resolve().parents[2]

#: target -> the seeds it mutates
SEEDS: dict[str, tuple[str, ...]] = {
    "elfcore": ("linux-core", "linux-core-stripped"),
    "minidump": ("minidump-normal", "minidump"),
    "elfexe": ("elf-exe", "elf-exe-stripped", "elf-exe-go119"),
    "peexe": ("pe-exe", "pe-exe-stripped"),
    "pclntab": ("elf-exe", "elf-exe-stripped", "elf-exe-go119", "pe-exe"),
    "dwarf": ("elf-exe", "elf-exe-go119", "pe-exe"),
    "e2e": ("linux-core", "linux-core-stripped", "minidump"),
}


class WorkerSpent(Exception):
    """The worker's own address space is used up by earlier inputs, so this input cannot
    even be built: not the input's fault; the campaign reruns it in a fresh worker."""


def _expected() -> tuple[type, ...]:
    import core
    import gocore
    return (core.DumpError, gocore.GoCoreError)


def _open_exe(name: str, buf):
    """Return the executable in ``buf`` as ``core.open_executable`` would (by magic)."""
    from core.errors import ExecutableError
    from core.exe import ElfExecutable
    magic = bytes(buf[:4])
    if magic == b"\x7fELF":
        return ElfExecutable(name, buf)
    if magic[:2] == b"MZ":
        from core.pe import PeExecutable
        return PeExecutable(name, buf)
    raise ExecutableError(f"{name} is not an executable (neither ELF nor PE)")


def _open_dump(name: str, buf, exe: str | None):
    """Return the Process in ``buf`` as ``core.open_dump`` would (by magic)."""
    from core.errors import UnknownFormat
    magic = bytes(buf[:4])
    if magic == b"\x7fELF":
        from core.elfcore import read_elf_core
        return read_elf_core(name, buf, exe)
    if magic == b"MDMP":
        from core.minidump import read_minidump
        return read_minidump(name, buf, exe)
    raise UnknownFormat(f"{name} is neither an ELF core nor a minidump")


def _each(items, fn: Callable) -> None:
    """Call ``fn`` on each item; a project error on one item does not stop the others
    (a command that lists things reports the bad one and goes on)."""
    expected = _expected()
    for item in items:
        try:
            fn(item)
        except expected:
            pass


def _use_process(proc) -> None:
    """Do what ``threads``, ``mappings`` and ``read`` do with a Process."""
    _each(proc.threads, lambda t: proc.read(t.sp, 64))
    _each(proc.mappings, lambda m: proc.read(m.start, 16))
    for m in proc.mappings:
        _ = (m.start, m.end, m.perms, m.file, m.size)
    _ = list(proc.warnings)


def _use_exe(exe) -> None:
    """Do what the decoders ask of an Executable first."""
    _ = exe.symbols, exe.build_id, exe.has_dwarf
    _each(list(exe.sections)[:64], exe.section_data)
    _each(exe.segments, lambda s: exe.read_static(s.vaddr, 64))
    _each(exe.segments, lambda s: exe.loaded(s.vaddr, 64))
    if exe.format == "pe":
        _ = exe.base_relocations
        _each(exe.segments, lambda s: exe.relocated(s, 0x10000))
    from gocore.binary.buildinfo import read_build_info
    read_build_info(exe)


def run_elfcore(recipe: Recipe, buf) -> None:
    """Open the mutated ELF core (with its executable) and read its threads and mappings."""
    _use_process(_open_dump("fuzz.core", buf, load_seed(recipe.seed).exe))


def run_minidump(recipe: Recipe, buf) -> None:
    """Open the mutated minidump (with its executable) and read its threads and mappings."""
    proc = _open_dump("fuzz.dmp", buf, load_seed(recipe.seed).exe)
    _use_process(proc)
    _ = proc.modules, proc.full_memory


def run_elfexe(recipe: Recipe, buf) -> None:
    """Open the mutated ELF executable; read sections, symbols, build id and build info."""
    _use_exe(_open_exe("fuzz.exe", buf))


run_peexe = run_elfexe


def run_pclntab(recipe: Recipe, buf) -> None:
    """Open the pclntab and moduledata of the mutated executable; look up functions,
    lines and inlined frames as a traceback does."""
    from gocore.binary.moduledata import load_module
    from gocore.binary.pclntab import open_pclntab
    exe = _open_exe("fuzz.exe", buf)
    tab = open_pclntab(exe)
    names = tab.names
    n = tab.nfunc
    sample = sorted({0, 1, n // 3, n // 2, n - 2, n - 1} & set(range(n)))

    def frames(i: int) -> None:
        f = tab.func(i)
        _ = f.name, f.entry
        tab.file_line(f.entry)
        tab.inlined_frames(f.entry + 1)
    _each(sample, frames)
    _ = tab.func_id_names, len(names)
    _, md = load_module(exe)
    md.section_of(md.text)


def run_dwarf(recipe: Recipe, buf) -> None:
    """Read the mutated executable's DWARF: types, globals, constants, and the variables
    of a few functions by pc, as the typing of frames does."""
    from gocore.binary.dwarf import load_dwarf
    exe = _open_exe("fuzz.exe", buf)
    d = load_dwarf(exe)
    _ = len(d.types.types), d.go_version, len(d.globals), len(d.constants)
    for g in list(d.globals.values())[:32]:
        _ = d.types.types[g.type].name if 0 <= g.type < len(d.types.types) else None
    pcs = _function_pcs(recipe.seed)

    def function(pc: int) -> None:
        fn = d.function(pc=pc)
        if fn is not None:
            _ = [(v.name, v.type) for v in fn.vars], fn.closure_vars
    _each(pcs, function)


_PCS: dict[str, list[int]] = {}


def _function_pcs(seed: str) -> list[int]:
    """Return a few function entry pcs of the unmutated seed (from its pclntab)."""
    got = _PCS.get(seed)
    if got is None:
        from gocore.binary.pclntab import open_pclntab
        tab = open_pclntab(_open_exe("seed", load_seed(seed).original))
        n = tab.nfunc
        got = _PCS[seed] = [int(tab.entries[i]) + 4 for i in range(0, n, max(n // 24, 1))]
    return got


def run_e2e(recipe: Recipe, buf) -> None:
    """Open the mutated dump as ``overview`` and ``histogram`` do: gocore.load, the
    summary (goroutines, live heap) and the histogram."""
    import gocore
    proc = _open_dump("fuzz.core", buf, load_seed(recipe.seed).exe)
    gp = gocore.load(proc)
    s = gp.summary()
    _ = s.goroutines, s.heap_objects, gp.partial, list(gp.warnings)
    if s.heap_objects is not None:
        gp.histogram()


TARGETS: dict[str, Callable[[Recipe, object], None]] = {
    "elfcore": run_elfcore, "minidump": run_minidump, "elfexe": run_elfexe, "peexe": run_peexe,
    "pclntab": run_pclntab, "dwarf": run_dwarf, "e2e": run_e2e,
}


class Hang(BaseException):
    """Raised by the worker's CPU timer in a target that runs too long (a BaseException,
    so a reader's or a library's ``except Exception`` does not turn it into an answer)."""


def _project_frame(tb) -> tuple[str, str, int]:
    """Return (module path, function, line) of the innermost frame in the project's
    packages (core, gocore, viewcore), else the innermost frame."""
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if _in_project(f.filename)]
    f = (ours or frames)[-1]
    return _rel(f.filename), f.name, f.lineno


def _in_project(filename: str) -> bool:
    rel = _rel(filename)
    return rel.split("/", 1)[0] in ("core", "gocore", "viewcore")


def _rel(filename: str) -> str:
    try:
        return str(Path(filename).resolve().relative_to(ROOT))
    except ValueError:
        parts = Path(filename).parts
        return "/".join(parts[-2:])


def run(recipe: Recipe) -> dict:
    """Run ``recipe`` in this process; return its outcome: ``{"outcome": "ok" | "error" |
    "exception" | "hang", ...}`` with the exception type, message, the innermost project
    frame and the traceback's last frames for the last two."""
    seed = load_seed(recipe.seed)
    try:
        buf = build(seed, recipe.ops)
    except (OSError, MemoryError):   # the worker's own address space, not the input's fault:
        gc.collect()                 # free earlier inputs held in reference cycles, retry
        try:
            buf = build(seed, recipe.ops)
        except (OSError, MemoryError) as e:
            raise WorkerSpent(str(e)) from e
    try:
        TARGETS[recipe.target](recipe, buf)
    except _expected() as e:
        return {"outcome": "error", "type": type(e).__name__, "message": str(e)[:300]}
    except Hang as e:
        return finding_result("hang", e)
    except MemoryError as e:
        return finding_result("memory", e)
    except Exception as e:  # noqa: BLE001 - the fuzzer's job is to catch what the readers do not
        return finding_result("exception", e)
    return {"outcome": "ok"}


def finding_result(outcome: str, e: BaseException) -> dict:
    """Return the outcome record of a finding: type, message, innermost project frame and
    the traceback's last frames."""
    module, func, line = _project_frame(e.__traceback__)
    frames = traceback.extract_tb(e.__traceback__)
    return {"outcome": outcome, "type": type(e).__name__, "message": str(e)[:300],
            "module": module, "function": func, "line": line,
            "frames": [f"{_rel(f.filename)}:{f.lineno} {f.name}" for f in frames[-8:]]}


def finding_class(result: dict) -> str:
    """Return the class of a finding: outcome, exception type and innermost project frame
    (``exception ValueError core/elfcore.py:_read_notes``)."""
    return f"{result['outcome']} {result.get('type', '')} {result.get('module', '?')}:{result.get('function', '?')}"
