"""Results computed once per process (or per index) and kept as long as it lives."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def once_per(fn: Callable[[object], R]) -> Callable[[object], R]:
    """Return ``fn`` memoised on its single argument, held weakly (freed with it)."""
    cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @functools.wraps(fn)
    def wrapper(key):
        got = cache.get(key)
        if got is None:
            got = cache[key] = fn(key)
        return got

    return wrapper
