"""Executables read as the loader maps them: bytes a section does not store are zeros.

A PE section whose VirtualSize exceeds its SizeOfRawData (Go puts .bss at the tail of
.data), and an ELF PT_LOAD whose memsz exceeds its filesz (a NOBITS .bss): reading the
loaded image never runs past the file, and the unstored tail reads as zeros, as the
Windows and Linux loaders make it. Built byte by byte here, each ending right where its
last stored byte ends, so any read past the stored bytes would run off the buffer.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

import core

IMAGE_BASE = 0x140000000
DATA_RVA, DATA_VSIZE, DATA_RAW, DATA_OFF = 0x1000, 0x3000, 0x200, 0x200
PAYLOAD = bytes(range(256)) * 2  # the stored bytes of .data


def _pe() -> bytes:
    """Return a PE32+ image with one section .data: 0x200 bytes stored, 0x3000 loaded."""
    dos = bytearray(0x40)
    dos[:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0x40)
    coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 240, 0x22)
    opt = bytearray(240)
    struct.pack_into("<HBBIIIII", opt, 0, 0x20B, 1, 0, 0, DATA_RAW, DATA_VSIZE - DATA_RAW, 0, 0)
    struct.pack_into("<Q", opt, 24, IMAGE_BASE)
    struct.pack_into("<II", opt, 32, 0x1000, 0x200)       # section / file alignment
    struct.pack_into("<HH", opt, 48, 6, 0)                # subsystem version
    struct.pack_into("<III", opt, 56, DATA_RVA + DATA_VSIZE, 0x200, 0)  # SizeOfImage, headers
    struct.pack_into("<HH", opt, 68, 3, 0)                # console subsystem
    struct.pack_into("<I", opt, 108, 16)                  # NumberOfRvaAndSizes
    sec = struct.pack("<8sIIIIIIHHI", b".data", DATA_VSIZE, DATA_RVA, DATA_RAW, DATA_OFF,
                      0, 0, 0, 0, 0xC0000040)             # initialised data, read, write
    head = bytes(dos) + b"PE\0\0" + coff + bytes(opt) + sec
    return head + bytes(DATA_OFF - len(head)) + PAYLOAD


ELF_VADDR, ELF_FILESZ, ELF_MEMSZ = 0x500000, 0x200, 0x2000


def _elf() -> bytes:
    """Return an ELF64 executable: one RW PT_LOAD (.data stored, .bss NOBITS after it)."""
    shstr = b"\0.data\0.bss\0.shstrtab\0"
    phoff, dataoff = 64, 0x100
    shstroff = dataoff + ELF_FILESZ
    shoff = (shstroff + len(shstr) + 7) & ~7
    ehdr = struct.pack("<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, bytes(7),
                       2, 62, 1, ELF_VADDR, phoff, shoff, 0, 64, 56, 1, 64, 4, 3)
    phdr = struct.pack("<IIQQQQQQ", 1, 6, dataoff, ELF_VADDR, ELF_VADDR, ELF_FILESZ, ELF_MEMSZ, 0x1000)

    def shdr(name, typ, flags, addr, off, size):
        return struct.pack("<IIQQQQIIQQ", name, typ, flags, addr, off, size, 0, 0, 8, 0)

    sections = (shdr(0, 0, 0, 0, 0, 0)
                + shdr(1, 1, 3, ELF_VADDR, dataoff, ELF_FILESZ)                       # .data
                + shdr(7, 8, 3, ELF_VADDR + ELF_FILESZ, shstroff, ELF_MEMSZ - ELF_FILESZ)  # .bss
                + shdr(12, 3, 0, 0, shstroff, len(shstr)))
    body = ehdr + phdr
    body += bytes(dataoff - len(body)) + PAYLOAD + shstr
    body += bytes(shoff - len(body)) + sections
    return body


@pytest.fixture
def pe(tmp_path):
    path = tmp_path / "bss.exe"
    path.write_bytes(_pe())
    return core.exe.open_executable(path, use_cache=False)


@pytest.fixture
def elf(tmp_path):
    path = tmp_path / "bss"
    path.write_bytes(_elf())
    return core.exe.open_executable(path, use_cache=False)


def test_pe_section_stores_its_raw_bytes_only(pe):
    sec = pe.sections[".data"]
    assert (sec.size, sec.stored) == (DATA_VSIZE, DATA_RAW)
    assert sec.offset + sec.stored == len(pe.data)  # the file ends with the stored bytes


def test_pe_loaded_image_is_zero_past_the_raw_bytes(pe):
    addr = IMAGE_BASE + DATA_RVA
    whole = pe.loaded(addr, DATA_VSIZE)
    assert whole.nbytes == DATA_VSIZE
    assert bytes(whole[:DATA_RAW]) == PAYLOAD
    assert not whole[DATA_RAW:].any()
    words = pe.loaded(addr, DATA_VSIZE, "<u8")
    assert words.shape == (DATA_VSIZE // 8,) and not words.flags.writeable
    assert int(words[0]) == int.from_bytes(PAYLOAD[:8], "little")
    # straddling the end of the stored bytes, and wholly past them
    assert pe.read_static(addr + DATA_RAW - 4, 8) == PAYLOAD[-4:] + bytes(4)
    assert pe.read_static(addr + 0x2000, 16) == bytes(16)
    assert pe.section_data(".data") == PAYLOAD + bytes(DATA_VSIZE - DATA_RAW)


def test_pe_loaded_image_ends_with_the_section(pe):
    addr = IMAGE_BASE + DATA_RVA
    assert pe.loaded(addr, DATA_VSIZE + 8) is None
    assert pe.read_static(addr + DATA_VSIZE - 4, 8) is None


def test_stored_bytes_are_zero_copy(pe):
    words = pe.loaded(IMAGE_BASE + DATA_RVA, DATA_RAW, "<u8")
    assert np.shares_memory(words, np.frombuffer(pe.data, dtype=np.uint8))


def test_elf_nobits_reads_as_zeros(elf):
    assert elf.sections[".bss"].nobits and elf.sections[".bss"].stored == 0
    assert elf.sections[".data"].stored == ELF_FILESZ
    img = elf.loaded(ELF_VADDR, ELF_MEMSZ)
    assert bytes(img[:ELF_FILESZ]) == PAYLOAD and not img[ELF_FILESZ:].any()
    assert elf.read_static(ELF_VADDR + ELF_FILESZ - 2, 4) == PAYLOAD[-2:] + bytes(2)
    assert elf.loaded(ELF_VADDR, ELF_MEMSZ + 1) is None


def test_moduledata_is_sought_in_stored_bytes_only(pe):
    """The linker fills moduledata statically: the zero tail is not searched."""
    from gocore.binary.moduledata import _writable_ranges
    assert set(_writable_ranges(pe)) == {(IMAGE_BASE + DATA_RVA, DATA_RAW)}


def test_truncated_elf_segment_is_an_executable_error(tmp_path):
    path = tmp_path / "short"
    data = bytearray(_elf())
    struct.pack_into("<QQ", data, 64 + 32, 0x10000, 0x10000)  # p_filesz past the end of file
    path.write_bytes(bytes(data))
    with pytest.raises(core.errors.ExecutableError, match="truncated ELF"):
        core.exe.open_executable(path, use_cache=False)
