"""No cache can be turned against the user (issue 10).

The decompression cache (core/source.py) uses only directories of ours that no one else
can write, never follows a symlink, names entries by a hash of the whole compressed file
and checks each against its JSON record; decompression stops at a size limit and at
content that is neither ELF, minidump nor PE, leaving nothing behind. numba's cache
(gocore/heap/domkernels.py), which numba loads with pickle, is used only in such a directory.

The truth each answer is compared with is the fixture's own: its manifest (the pid the
runtime reported) or the bytes of the fixture decompressed here by zstandard itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import zstandard

from core.source import materialize
from tests.conftest import DUMPS, ROOT, Case, fixture_index, run_cli

MiB = 1 << 20
OTHER_UID = 65534  # nobody


def _case(kind: str) -> Case:
    for e in fixture_index():
        if e["go_version"] == "go1.22.10" and e["kind"] == kind and not e.get("stripped"):
            return Case(e, DUMPS)
    pytest.skip(f"no go1.22.10 {kind} fixture")


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    """A fresh $XDG_CACHE_HOME for the test."""
    d = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(d))
    return d


def _truth(path: Path) -> bytes:
    """The decompressed bytes of a fixture, by zstandard alone."""
    with open(path, "rb") as f, zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True) as r:
        return r.read()


def _entry_holding(directory: Path, content: bytes) -> Path:
    """The cache file whose bytes are ``content`` (whatever the naming scheme)."""
    found = [p for p in directory.iterdir() if p.is_file() and p.stat().st_size == len(content)
             and p.read_bytes() == content]
    assert len(found) == 1, found
    return found[0]


def _overview(capsys, core: Path, exe: Path, *extra) -> tuple[int, dict | None, str]:
    status, out, err = run_cli(capsys, core, "--exe", exe, "--json", "overview", *extra)
    return status, (json.loads(out) if status == 0 else None), err


def _error(err: str) -> str:
    """The one ``viewcore: error:`` line of stderr (notes may precede it), without prefix."""
    lines = err.splitlines()
    errors = [ln for ln in lines if ln.startswith("viewcore: error: ")]
    assert len(errors) == 1 and all(ln.startswith("viewcore: ") for ln in lines), err
    return errors[0].removeprefix("viewcore: error: ")


def _give_away(path: Path) -> None:
    """Make ``path`` (and what it holds) another user's: chown as root, else skip."""
    if os.geteuid() != 0:
        pytest.skip("chown to another uid needs root")
    for p in [path, *path.rglob("*")]:
        os.lchown(p, OTHER_UID, OTHER_UID)


def _leftovers(directory: Path) -> list[str]:
    """Files in ``directory`` other than the empty per-entry lock files."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir()
                  if not (p.name.endswith(".lock") and p.stat().st_size == 0))


# ---------------------------------------------------------------- planted and tampered entries


def test_planted_entry_gives_the_dumps_own_answer(xdg, capsys):
    crash, panic = _case("crash"), _case("panic")
    status, doc, _ = _overview(capsys, crash.core, crash.exe)
    assert status == 0 and doc["pid"] == crash.manifest["pid"]
    # Another dump's bytes are planted where crash's entry is.
    entry = _entry_holding(xdg / "viewcore" / "decompressed", _truth(crash.core))
    entry.write_bytes(_truth(panic.core))
    assert panic.manifest["pid"] != crash.manifest["pid"]
    status, doc, err = _overview(capsys, crash.core, crash.exe)
    assert status == 0, err
    assert doc["pid"] == crash.manifest["pid"]
    assert "cache entry not used, removed" in err


def test_entry_changed_in_the_middle_with_its_mtime_kept_is_rebuilt(xdg):
    crash = _case("crash")
    truth = _truth(crash.core)
    assert len(truth) <= 64 * MiB  # small entries are checked in full on every open
    entry = Path(materialize(crash.core))
    st = entry.stat()
    with open(entry, "r+b") as f:
        f.seek(len(truth) // 2)
        f.write(b"\xff" * 64)
    os.utime(entry, ns=(st.st_atime_ns, st.st_mtime_ns))
    notes = []
    again = Path(materialize(crash.core, notify=notes.append))
    assert again.read_bytes() == truth
    assert any("content digest" in n for n in notes), notes


def test_entry_planted_without_a_record_is_rebuilt(xdg):
    crash, panic = _case("crash"), _case("panic")
    directory = xdg / "viewcore" / "decompressed"
    directory.mkdir(parents=True, mode=0o700)
    key = hashlib.sha256(crash.core.read_bytes()).hexdigest()
    (directory / key).write_bytes(_truth(panic.core))
    assert Path(materialize(crash.core)).read_bytes() == _truth(crash.core)


def test_dump_that_changes_while_decompressed_is_not_cached(xdg, tmp_path, monkeypatch):
    # The key is the hash of a first read; the content comes from a second. A file
    # rewritten in between (here: a first read that saw other bytes) must not be cached
    # under the first read's key.
    import core.source
    crash = _case("crash")
    monkeypatch.setattr(core.source, "_file_sha256", lambda path: hashlib.sha256(b"before").hexdigest())
    with pytest.raises(core.source.DumpError, match="changed while it was being decompressed"):
        materialize(crash.core)
    assert _leftovers(xdg / "viewcore" / "decompressed") == []


def test_symlinked_entry_is_not_followed(xdg, tmp_path):
    crash, panic = _case("crash"), _case("panic")
    truth = _truth(crash.core)
    entry = Path(materialize(crash.core))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(_truth(panic.core))
    entry = _entry_holding(entry.parent, truth)
    entry.unlink()
    entry.symlink_to(elsewhere)
    got = Path(materialize(crash.core))
    assert not got.is_symlink() and got.read_bytes() == truth
    assert elsewhere.read_bytes() == _truth(panic.core)  # the target is left alone


# ---------------------------------------------------------------- cache directories


@pytest.mark.parametrize("which", ["viewcore", "viewcore/decompressed"])
def test_symlinked_cache_directory_is_refused(xdg, tmp_path, capsys, which):
    crash = _case("crash")
    target = tmp_path / "attacker"
    target.mkdir(mode=0o700)
    link = xdg / which
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    status, _, err = _overview(capsys, crash.core, crash.exe)
    assert status == 1
    assert _error(err) == (f"cache directory {link} is a symlink (--no-cache does without the cache)")
    assert list(target.iterdir()) == []


def test_cache_directory_of_another_user_is_refused(xdg, capsys):
    crash = _case("crash")
    root = xdg / "viewcore"
    root.mkdir(parents=True)
    _give_away(root)
    status, _, err = _overview(capsys, crash.core, crash.exe)
    assert status == 1
    assert _error(err) == (f"cache directory {root} is owned by uid {OTHER_UID}, not "
                           f"{os.geteuid()} (--no-cache does without the cache)")


def test_cache_directory_seen_as_another_users_is_refused(xdg, capsys, monkeypatch):
    # The same check without root: the directory is ours, the process claims another uid.
    crash = _case("crash")
    (xdg / "viewcore").mkdir(parents=True)
    uid = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: uid + 1)
    status, _, err = _overview(capsys, crash.core, crash.exe)
    assert status == 1
    assert f"is owned by uid {uid}, not {uid + 1}" in err and err.count("\n") == 1


def test_cache_directory_writable_by_others_is_refused(xdg, capsys):
    crash = _case("crash")
    d = xdg / "viewcore" / "decompressed"
    d.mkdir(parents=True)
    d.chmod(0o777)
    status, _, err = _overview(capsys, crash.core, crash.exe)
    assert status == 1
    assert _error(err) == (f"cache directory {d} is writable by others (mode 0777) "
                           f"(--no-cache does without the cache)")


def test_new_cache_directories_are_private(xdg):
    materialize(_case("crash").core)
    for d in (xdg / "viewcore", xdg / "viewcore" / "decompressed"):
        assert d.stat().st_mode & 0o777 == 0o700


# ---------------------------------------------------------------- keys


def test_compressed_files_alike_in_size_head_and_tail_get_their_own_entries(xdg, tmp_path):
    # Two > 64 MiB .zst files with the same size, first MiB and last MiB, differing in one
    # byte in the middle. Random content is stored as raw blocks, so the difference stays
    # in the middle of the compressed file too; a second frame holds the common tail.
    rand = random.Random(10).randbytes(66 * MiB)
    tail = zstandard.ZstdCompressor().compress(rand[33 * MiB:])
    files, truths = [], []
    for i in (1, 2):
        truth = b"\x7fELF" + rand[:33 * MiB] + bytes([i]) + rand[33 * MiB:]
        p = tmp_path / str(i) / "core.zst"  # one name: only the content tells them apart
        p.parent.mkdir()
        p.write_bytes(zstandard.ZstdCompressor().compress(truth[:4 + 33 * MiB + 1]) + tail)
        files.append(p)
        truths.append(truth)
    a, b = (p.read_bytes() for p in files)
    assert len(a) == len(b) > 64 * MiB and a[:MiB] == b[:MiB] and a[-MiB:] == b[-MiB:] and a != b
    entries = [materialize(p) for p in files]
    assert entries[0] != entries[1]
    for entry, truth in zip(entries, truths):
        assert Path(entry).read_bytes() == truth


def _skippable(payload: bytes) -> bytes:
    """A zstd skippable frame: every decompressor passes over it."""
    return (0x184D2A50).to_bytes(4, "little") + len(payload).to_bytes(4, "little") + payload


def test_gzip_file_is_hashed_whole_while_decompressed(xdg, tmp_path):
    # The compressed bytes are hashed again as they are read: gzip's reader must give
    # the same hash as the key, or the entry would be refused as changed meanwhile.
    crash = _case("crash")
    p = tmp_path / "core.gz"
    p.write_bytes(gzip.compress(_truth(crash.core), compresslevel=1))
    assert Path(materialize(p)).read_bytes() == _truth(crash.core)


def test_zstd_file_that_starts_with_a_skippable_frame(xdg, tmp_path):
    # pzstd writes one first; it is zstd all the same.
    crash = _case("crash")
    p = tmp_path / "core.zst"
    p.write_bytes(_skippable(b"pzstd") + crash.core.read_bytes())
    assert Path(materialize(p)).read_bytes() == _truth(crash.core)


# ---------------------------------------------------------------- decompression bombs


def _zst(path: Path, first: bytes, fill: bytes, size: int) -> Path:
    """Write a .zst of ``first`` followed by ``fill`` repeated to ``size`` bytes."""
    cobj = zstandard.ZstdCompressor(level=1).compressobj()
    block = fill * (MiB // len(fill))
    with open(path, "wb") as f:
        f.write(cobj.compress(first))
        for _ in range((size - len(first)) // MiB):
            f.write(cobj.compress(block))
        f.write(cobj.flush())
    return path


@pytest.fixture
def tmpdir_for_temporaries(tmp_path, monkeypatch) -> Path:
    """Where ``--no-cache`` puts its temporary files during the test."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _where_files_go(xdg: Path, temporaries: Path, no_cache: bool) -> Path:
    return temporaries if no_cache else xdg / "viewcore" / "decompressed"


@pytest.mark.parametrize("no_cache", [False, True], ids=["cache", "no-cache"])
def test_garbage_bomb_stops_at_the_first_chunk(xdg, tmp_path, tmpdir_for_temporaries, capsys, no_cache):
    bomb = _zst(tmp_path / "bomb.core.zst", b"", b"A", 64 * MiB)
    assert bomb.stat().st_size < 64 * 1024
    argv = [bomb, "overview"] + (["--no-cache"] if no_cache else [])
    status, out, err = run_cli(capsys, *argv)
    assert status == 1 and out == ""
    assert _error(err) == (f"{bomb}: decompressed data is neither an ELF file, a minidump nor "
                           f"a PE executable (it starts with 41414141)")
    assert _leftovers(_where_files_go(xdg, tmpdir_for_temporaries, no_cache)) == []


@pytest.mark.parametrize("no_cache", [False, True], ids=["cache", "no-cache"])
def test_bomb_stops_at_max_decompressed(xdg, tmp_path, tmpdir_for_temporaries, capsys, no_cache):
    bomb = _zst(tmp_path / "bomb.core.zst", b"\x7fELF", b"\x01", 64 * MiB)
    argv = [bomb, "--max-decompressed", "8M", "overview"] + (["--no-cache"] if no_cache else [])
    status, out, err = run_cli(capsys, *argv)
    assert status == 1 and out == ""
    assert _error(err) == (f"{bomb} decompresses to more than 8.0 MiB (the limit set): "
                           f"stopped, nothing kept (--max-decompressed SIZE sets the limit)")
    assert _leftovers(_where_files_go(xdg, tmpdir_for_temporaries, no_cache)) == []


class _FakeStatvfs:
    """What os.statvfs returns, with ``free`` bytes available."""

    def __init__(self, free: int):
        self.f_bavail, self.f_frsize = free // 4096, 4096


def test_default_limit_is_the_free_space_less_a_margin(xdg, tmp_path, capsys, monkeypatch):
    bomb = _zst(tmp_path / "bomb.core.zst", b"\x7fELF", b"\x01", 64 * MiB)
    monkeypatch.setattr(os, "statvfs", lambda path: _FakeStatvfs(32 * MiB))
    status, _, err = run_cli(capsys, bomb, "overview")
    d = xdg / "viewcore" / "decompressed"
    assert status == 1
    assert _error(err) == (f"{bomb} decompresses to more than 16.0 MiB (the free space of {d} "
                           f"less 16.0 MiB): stopped, nothing kept (--max-decompressed SIZE sets the limit)")
    assert _leftovers(d) == []


def test_a_raised_limit_still_leaves_free_disk(xdg, tmp_path, capsys, monkeypatch):
    bomb = _zst(tmp_path / "bomb.core.zst", b"\x7fELF", b"\x01", 64 * MiB)
    monkeypatch.setattr(os, "statvfs", lambda path: _FakeStatvfs(32 * MiB))
    status, _, err = run_cli(capsys, bomb, "--max-decompressed", "1T", "overview")
    d = xdg / "viewcore" / "decompressed"
    assert status == 1
    assert _error(err) == (f"{bomb}: decompressing it would leave less than 16.0 MiB free in "
                           f"{d}: stopped, nothing kept")
    assert _leftovers(d) == []


@pytest.mark.parametrize("text,size", [("64G", 64 << 30), ("500M", 500 << 20), ("1.5GiB", 3 << 29),
                                       ("4096", 4096), ("2kb", 2048)])
def test_max_decompressed_sizes(text, size):
    from viewcore.cli import parse_size
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["0", "abc", "-5M", "12X"])
def test_max_decompressed_rejects_nonsense(capsys, text):
    status, _, err = run_cli(capsys, "core", f"--max-decompressed={text}", "overview")
    assert status == 2 and "invalid size" in err


# ---------------------------------------------------------------- numba's cache


# What numba does before it compiles _grow for (int32[:], int64): look in its cache.
# (Compiling itself would add seconds and nothing to the test.)
_NUMBA_RUN = """
from numba.core import types
from numba.core.typing import signature
from gocore.heap import domkernels as dominators
print(dominators._numba.config.CACHE_DIR)
sig = signature(types.int32[::1], types.int32[::1], types.int64)
assert dominators._grow._cache.load_overload(sig, dominators._grow.targetctx) is None
"""


def _numba_index_path() -> str:
    """Where numba looks for ``_grow``'s cache index, relative to its cache directory."""
    from gocore.heap import domkernels as dominators
    index = dominators._grow._cache._cache_file._index_path
    return os.path.relpath(index, dominators._numba.config.CACHE_DIR)


class _Payload:
    """Unpickling this creates the directory ``marker``: proof that a planted pickle ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _plant_numba_index(cache: Path, marker: Path) -> None:
    index = cache / _numba_index_path()
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_bytes(pickle.dumps(_Payload(marker)))


def _run_numba(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", _NUMBA_RUN], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("setup", ["user-dir-of-another-uid", "viewcore-dir-writable-by-others",
                                   "tmp-fallback-of-another-user"])
def test_planted_numba_cache_is_not_loaded(tmp_path, setup):
    marker = tmp_path / "pickle-ran"
    xdg, tmp = tmp_path / "xdg", tmp_path / "tmp"
    tmp.mkdir()
    env = {"XDG_CACHE_HOME": str(xdg), "TMPDIR": str(tmp)}
    if setup == "user-dir-of-another-uid":
        planted = tmp_path / "numba-cache"
        _plant_numba_index(planted, marker)
        _give_away(planted)
        env["NUMBA_CACHE_DIR"] = str(planted)
        why = f"cache directory {planted} is owned by uid {OTHER_UID}"
    elif setup == "viewcore-dir-writable-by-others":
        planted = xdg / "viewcore" / "numba"
        _plant_numba_index(planted, marker)
        planted.chmod(0o777)
        why = f"cache directory {planted} is writable by others (mode 0777)"
    else:
        # ~/.cache cannot be used, and /tmp/viewcore-numba was made by someone else.
        xdg.write_text("not a directory")
        planted = tmp / "viewcore-numba"
        _plant_numba_index(planted, marker)
        planted.chmod(0o777)
        if os.geteuid() == 0:
            _give_away(planted)
        why = f"cache directory {xdg} cannot be"
    run = _run_numba(tmp_path, **env)
    assert run.returncode == 0, run.stderr
    assert not marker.exists()
    used = Path(run.stdout.split("\n")[0])
    assert used != planted and not used.is_relative_to(planted)
    assert used.name.startswith("viewcore-numba-")
    assert f"numba's cache is not used: {why}" in run.stderr
    assert not os.path.exists(used)  # the private stand-in is removed at exit


def test_planted_numba_index_runs_when_the_directory_is_trusted(tmp_path):
    # The control for the test above: the same plant in a directory that passes the
    # checks (only its owner could have planted it) is loaded, so the plant is where
    # numba looks and the test above is not vacuous.
    marker = tmp_path / "pickle-ran"
    planted = tmp_path / "numba-cache"
    planted.mkdir(mode=0o700)
    _plant_numba_index(planted, marker)
    run = _run_numba(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"), NUMBA_CACHE_DIR=str(planted))
    assert run.stdout.split("\n")[0] == str(planted)
    assert marker.exists()


def test_numba_cache_in_a_checked_directory(tmp_path, monkeypatch):
    from gocore.heap.domkernels import _numba_cache_dir
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    d = tmp_path / "xdg" / "viewcore" / "numba"
    assert _numba_cache_dir() == str(d)
    assert d.stat().st_mode & 0o777 == 0o700
    mine = tmp_path / "mine"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(mine))
    assert _numba_cache_dir() == str(mine)  # the user's choice, checked
    (mine / "gocore_0123").symlink_to(tmp_path)
    assert _numba_cache_dir() != str(mine)  # a subdirectory numba would use is a symlink
