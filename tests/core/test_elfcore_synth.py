"""The ELF core reader on synthetic cores: threads, overlays, truncation at every boundary."""

from __future__ import annotations

import pytest

import core
from tests.synth.elfcore import SynthCore


def make(tmp_path, synth: SynthCore, name="core"):
    p = tmp_path / name
    p.write_bytes(synth.build())
    return p


def basic() -> SynthCore:
    s = SynthCore()
    s.threads.append((101, {"rip": 0x401000, "rsp": 0xc000001000, "fs_base": 0x7000}, 11))
    s.threads.append((102, {"rip": 0x402000, "rsp": 0xc000002000}, 0))
    s.loads.append((0xc000000000, 0x2000, b"\x11" * 0x1000, 6))  # half saved
    s.loads.append((0xc000002000, 0x1000, b"\x22" * 0x1000, 6))
    return s


def test_threads_registers_and_crash(tmp_path):
    proc = core.open_dump(make(tmp_path, basic()))
    assert [t.tid for t in proc.threads] == [101, 102]
    assert proc.threads[0].pc == 0x401000 and proc.threads[0].sp == 0xc000001000
    assert proc.threads[0].tls_base == 0x7000
    assert proc.signal == 11 and proc.crash_thread is proc.threads[0]
    assert proc.pid == 101


def test_memsz_beyond_filesz_is_absent_not_zero(tmp_path):
    proc = core.open_dump(make(tmp_path, basic()))
    assert proc.read(0xc000000ff8, 8) == b"\x11" * 8
    with pytest.raises(core.UnmappedAddress):
        proc.read(0xc000001000, 8)
    assert proc.read(0xc000002000, 4) == b"\x22" * 4
    m = {x.start: x for x in proc.mappings}
    assert not m[0xc000000000].present and m[0xc000002000].present


def test_truncated_at_every_header_boundary(tmp_path):
    """A core cut inside its ELF or program headers is refused; one cut later opens with what
    it holds (tests/core/test_truncated.py)."""
    data = basic().build()
    for cut in (10, 63, 64, 64 + 56, 64 + 56 * 2 + 3, 64 + 56 * 3 - 1):
        p = tmp_path / f"cut{cut}"
        p.write_bytes(data[:cut])
        with pytest.raises(core.DumpError) as e:
            core.open_dump(p)
        assert "\n" not in str(e.value)


def test_not_an_elf_file(tmp_path):
    p = tmp_path / "junk"
    p.write_bytes(b"hello world" * 100)
    with pytest.raises(core.UnknownFormat, match="neither an ELF core nor a minidump"):
        core.open_dump(p)


def test_compressed_core_is_transparent(tmp_path, monkeypatch):
    import zstandard
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    raw = basic().build()
    p = tmp_path / "core.zst"
    p.write_bytes(zstandard.ZstdCompressor().compress(raw))
    notes = []
    proc = core.open_dump(p, notify=notes.append)
    assert proc.read(0xc000002000, 4) == b"\x22" * 4
    assert any("decompressing zstd" in n for n in notes)
    notes.clear()
    core.open_dump(p, notify=notes.append)  # second open uses the cached copy
    assert notes == []
