"""Cache directories that no other user controls.

A cache is only as trustworthy as the directory it sits in: whoever can write there can
plant an entry (a decompressed dump that answers for another one, a pickle that numba
would run). So viewcore's cache directories are created mode 0700 and, created or found,
each one from the cache root down is refused when it is a symlink, is not a directory, is
owned by another uid, or is writable by group or others. The directory holding the root
(``$XDG_CACHE_HOME``, often ``~/.cache``, possibly ``/tmp``) may belong to anyone, but
must not let others rename the root away: it is refused when others may write to it and
it has no sticky bit. Directories above that are not checked (a home whose parent others
can write to is a problem no cache check can fix).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import DumpError


class CacheDirError(DumpError):
    """A cache directory that cannot be used: another user could control it, or it cannot
    be created. The message names the directory and the reason."""


def check_dir(path: Path) -> None:
    """Return None if ``path`` is a real directory of ours that only we can write to.

    Raises CacheDirError naming the first problem (``lstat``: a symlink is never followed).
    """
    try:
        st = os.lstat(path)
    except OSError as e:
        raise CacheDirError(f"cache directory {path} cannot be examined: {e.strerror}") from e
    if stat.S_ISLNK(st.st_mode):
        raise CacheDirError(f"cache directory {path} is a symlink")
    if not stat.S_ISDIR(st.st_mode):
        raise CacheDirError(f"cache directory {path} is not a directory")
    if st.st_uid != os.geteuid():
        raise CacheDirError(f"cache directory {path} is owned by uid {st.st_uid}, not {os.geteuid()}")
    if st.st_mode & 0o022:
        raise CacheDirError(f"cache directory {path} is writable by others "
                            f"(mode {stat.S_IMODE(st.st_mode):04o})")


def _check_parent(path: Path) -> None:
    """Refuse a parent of the cache root that others may write to without the sticky bit."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise CacheDirError(f"cache directory {path} cannot be examined: {e.strerror}") from e
    if st.st_mode & 0o002 and not st.st_mode & stat.S_ISVTX:
        raise CacheDirError(f"cache directory {path} is writable by others and not sticky "
                            f"(mode {stat.S_IMODE(st.st_mode):04o})")


def _make(path: Path) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise CacheDirError(f"cache directory {path} cannot be created: {e.strerror}") from e


def private_dir(root: Path, *parts: str) -> Path:
    """Return ``root/parts...``, each directory from ``root`` down created (mode 0700) if
    missing and checked with ``check_dir``; ``root``'s parent is created if missing and
    must not be writable by others without the sticky bit.

    Raises CacheDirError naming the first directory that fails.
    """
    try:
        os.makedirs(root.parent, mode=0o700, exist_ok=True)
    except OSError as e:
        raise CacheDirError(f"cache directory {root.parent} cannot be created: {e.strerror}") from e
    _check_parent(root.parent)
    path = root
    _make(path)
    check_dir(path)
    for part in parts:
        path = path / part
        _make(path)
        check_dir(path)
    return path
