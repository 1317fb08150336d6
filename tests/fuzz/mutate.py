"""Recipes: a seed plus a few named changes, made at random from a fixed seed.

A recipe is data (JSON): ``{"target", "seed", "ops"}`` where each op is one of

- ``{"field": "phdr[2].p_filesz", "value": 4294967295}``: set an integer field;
- ``{"field": "section[.gopclntab]", "rel": 1234, "bytes": "ff00"}``: write bytes inside a
  region field;
- ``{"vaddr": 0x5a2c40, "bytes": "0000000000000080"}``: write dump memory (cores);
- ``{"at": 4096, "bytes": "41"}``: write at a file offset;
- ``{"truncate": 123456}``: cut the file.

Fields are resolved by name against the seed, so a recipe states what was changed and
still means the same after the fixture is regenerated. ``Mutator.recipe(i)`` is a pure
function of (campaign seed, target, i): a campaign is reproducible input by input.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .layout import Field
from .seeds import Seed

#: how each target spends its mutations: (field-name prefixes it favours, op weights)
FOCUS: dict[str, tuple[str, ...]] = {
    "elfcore": ("ehdr.", "phdr[", "note@", "shdr["),
    "minidump": ("hdr.", "dir[", "thread", "module", "memlist", "mem64", "meminfo", "sysinfo",
                 "exception", "misc", "stream"),
    "elfexe": ("ehdr.", "phdr[", "shdr[", "section[.note", "section[.symtab", "section[.strtab",
               "section[.go.buildinfo", "section[.shstrtab", "section[.zdebug", "section[.debug_info"),
    "peexe": ("dos.", "coff.", "opt.", "datadir[", "sec[", "sym[", "strtab", "section[.reloc",
              "section[.symtab", "section[.data", "section[.rdata"),
    "pclntab": ("pclntab.", "functab[", "func[", "section[.gopclntab", "section[.rdata",
                "section[.noptrdata", "section[.data"),
    "dwarf": ("cu[", "section[.debug_info", "section[.debug_abbrev", "section[.debug_str",
              "section[.debug_loc", "section[.debug_addr", "section[.debug_line_str"),
    "e2e": (),
}


def interesting(orig: int, width: int, size: int, rng: random.Random) -> int:
    """Return a value for an integer field of ``width`` bytes that was ``orig``: a limit,
    a neighbour, a multiple, the file size or noise."""
    top = (1 << (8 * width)) - 1
    choices = [0, 1, top, top >> 1, (top >> 1) + 1, orig + 1, orig - 1, orig * 2, orig // 2,
               orig + rng.randrange(1, 4097), orig ^ (1 << rng.randrange(8 * width)),
               rng.getrandbits(8 * width), size, size + 1, size - 1]
    if width >= 4:
        choices += [0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x10000]
    if width == 8:
        choices += [1 << 63, (1 << 63) - 1, 1 << 32, 1 << 40]
    return rng.choice(choices) & top


@dataclass
class Op:
    """One change; see the module docstring for the forms (exactly one of the keys)."""

    field: str | None = None
    value: int | None = None
    rel: int | None = None
    vaddr: int | None = None
    at: int | None = None
    data: bytes | None = None
    truncate: int | None = None

    def to_json(self) -> dict:
        """Return the op as a JSON object (bytes as hex)."""
        out = {k: v for k, v in (("field", self.field), ("value", self.value), ("rel", self.rel),
                                 ("vaddr", self.vaddr), ("at", self.at), ("truncate", self.truncate))
               if v is not None}
        if self.data is not None:
            out["bytes"] = self.data.hex()
        return out

    @classmethod
    def from_json(cls, d: dict) -> "Op":
        """Return the op of a JSON object made by ``to_json``."""
        return cls(field=d.get("field"), value=d.get("value"), rel=d.get("rel"), vaddr=d.get("vaddr"),
                   at=d.get("at"), truncate=d.get("truncate"),
                   data=bytes.fromhex(d["bytes"]) if "bytes" in d else None)

    def describe(self) -> str:
        """Return the op as one short phrase, e.g. ``phdr[2].p_filesz = 0xffffffff``."""
        if self.truncate is not None:
            return f"truncate to {self.truncate:#x}"
        if self.value is not None:
            return f"{self.field} = {self.value:#x}"
        where = (f"{self.field}+{self.rel:#x}" if self.field else
                 f"mem[{self.vaddr:#x}]" if self.vaddr is not None else f"file[{self.at:#x}]")
        return f"{where} := {self.data.hex()}"


@dataclass
class Recipe:
    """A target, a seed and the ops that make one input from it."""

    target: str
    seed: str
    ops: list[Op]

    def to_json(self) -> dict:
        """Return the recipe as a JSON object."""
        return {"target": self.target, "seed": self.seed, "ops": [o.to_json() for o in self.ops]}

    @classmethod
    def from_json(cls, d: dict) -> "Recipe":
        """Return the recipe of a JSON object made by ``to_json``."""
        return cls(d["target"], d["seed"], [Op.from_json(o) for o in d["ops"]])

    def describe(self) -> str:
        """Return the recipe as one line."""
        return f"{self.target} on {self.seed}: " + "; ".join(o.describe() for o in self.ops)


def resolve(seed: Seed, ops: list[Op]) -> tuple[int, list[tuple[int, bytes]]]:
    """Return (file size, patches as (offset, bytes)) for ``ops`` applied to ``seed``."""
    size = seed.size
    patches = []
    for op in ops:
        if op.truncate is not None:
            size = min(size, op.truncate)
        elif op.field is not None:
            f = seed.by_name.get(op.field)
            if f is None:
                raise KeyError(f"seed {seed.name} has no field {op.field}")
            if op.value is not None:
                patches.append((f.offset, op.value.to_bytes(f.width, "little")))
            else:
                patches.append((f.offset + op.rel, op.data))
        elif op.vaddr is not None:
            off = seed.offset_of(op.vaddr)
            if off is None:
                raise KeyError(f"seed {seed.name} holds no byte at {op.vaddr:#x}")
            patches.append((off, op.data))
        else:
            patches.append((op.at, op.data))
    return size, patches


def build(seed: Seed, ops: list[Op]):
    """Return the mutated file (an anonymous mmap) that ``ops`` make from ``seed``."""
    size, patches = resolve(seed, ops)
    return seed.build(size, patches)


class Mutator:
    """Makes the i-th recipe of a campaign for one (target, seed)."""

    def __init__(self, target: str, seed: Seed, campaign_seed: int):
        self.target = target
        self.seed = seed
        self.campaign_seed = campaign_seed
        focus = FOCUS[target]
        fields = seed.fields
        self.ints = [f for f in fields if f.width and f.name.startswith(focus)] or [f for f in fields if f.width]
        self.regions = [f for f in fields if not f.width and f.size > 0 and f.name.startswith(focus)]
        self.pointers = seed.pointer_words if target == "e2e" else None
        if self.pointers is not None:
            # Words outside the Go heap arena (0xc000000000...) are the runtime's own
            # structures: globals such as mheap_ and allgs, mspans, heapArena metadata.
            vaddrs = [seed.vaddr_of(int(o)) or 0 for o in self.pointers]
            outside = [o for o, v in zip(self.pointers, vaddrs) if not 0xC000000000 <= v < 0xC100000000]
            self.runtime_pointers = outside or list(self.pointers)

    def recipe(self, i: int) -> Recipe:
        """Return recipe number ``i`` (a pure function of the campaign seed and ``i``)."""
        rng = random.Random(f"{self.campaign_seed}:{self.target}:{self.seed.name}:{i}")
        n = rng.choice((1, 1, 1, 2, 2, 3, 4))
        return Recipe(self.target, self.seed.name, [self._op(rng) for _ in range(n)])

    def _op(self, rng: random.Random) -> Op:
        kinds = ["int"] * 5 + ["region"] * 3 + ["truncate"] + ["anywhere"]
        if self.pointers is not None and len(self.pointers):
            kinds = ["pointer"] * 6 + ["length"] * 3 + ["int"] * 2 + ["truncate"]
        kind = rng.choice(kinds)
        if kind == "int" and self.ints:
            f = rng.choice(self.ints)
            orig = int.from_bytes(self.seed.original[f.offset:f.end], "little")
            return Op(field=f.name, value=interesting(orig, f.width, self.seed.size, rng))
        if kind == "region" and self.regions:
            f = rng.choice(self.regions)
            rel, data = self._bytes(rng, f.size, self.seed.original[f.offset:f.end])
            return Op(field=f.name, rel=rel, data=data)
        if kind == "length":   # the word after a pointer: a slice's len or cap, a count
            off = int(rng.choice(self.runtime_pointers)) + rng.choice((8, 16))
            orig = self._word(off)
            value = interesting(orig, 8, self.seed.size, rng)
            return self._memory_op(off, value.to_bytes(8, "little"))
        if kind == "pointer":
            pool = self.runtime_pointers if rng.random() < 0.6 else self.pointers
            off = int(rng.choice(pool))
            orig = self._word(off)
            value = rng.choice([0, 1, orig + 8, orig - 8, orig + rng.randrange(1, 1 << 16), orig ^ (1 << rng.randrange(48)),
                                1 << 63, (1 << 64) - 1, 0xFFFFFFFF, orig << 1,
                                self._word(int(rng.choice(self.pointers)))])
            return self._memory_op(off, (value & ((1 << 64) - 1)).to_bytes(8, "little"))
        if kind == "truncate":
            if rng.random() < 0.5:   # at a field's start or end: a header or table cut short
                f = rng.choice(self.ints + self.regions)
                cut = rng.choice((f.offset, f.end)) + rng.choice((0, 0, -1, 1, -8, 8))
            else:
                cut = rng.randrange(64, max(self.seed.size, 65))
            return Op(truncate=max(0, cut))
        rel, data = self._bytes(rng, self.seed.size, None)
        return Op(at=rel, data=data)

    def _word(self, off: int) -> int:
        """Return the little-endian 8-byte word at file offset ``off`` of the seed."""
        return int.from_bytes(self.seed.original[off:off + 8], "little")

    def _memory_op(self, off: int, data: bytes) -> Op:
        """Return a write of ``data`` at file offset ``off``, named by its dump address
        when the offset holds memory."""
        vaddr = self.seed.vaddr_of(off)
        return Op(vaddr=vaddr, data=data) if vaddr is not None else Op(at=off, data=data)

    @staticmethod
    def _bytes(rng: random.Random, size: int, orig) -> tuple[int, bytes]:
        """Return (offset, bytes) for a small write in a region of ``size`` bytes."""
        how = rng.randrange(4)
        if how == 0:   # one bit
            rel = rng.randrange(size)
            old = orig[rel] if orig is not None else 0
            return rel, bytes([old ^ (1 << rng.randrange(8))])
        if how == 1:   # one random byte
            return rng.randrange(size), bytes([rng.randrange(256)])
        width = rng.choice((4, 8))
        rel = rng.randrange(max(size - width, 1)) & ~(width - 1)
        value = rng.choice((0, (1 << 8 * width) - 1, 1 << (8 * width - 1), 0xFFFFFFFF, rng.getrandbits(8 * width)))
        if how == 2:
            return rel, (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
        return rel, bytes(rng.randrange(256) for _ in range(rng.randrange(2, 17)))   # a short run
