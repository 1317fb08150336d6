"""The one parser of Go version strings; what they are compared against lives in facts.py."""

from __future__ import annotations

import re
from typing import NamedTuple


class GoVersion(NamedTuple):
    """A Go release number read from a version string: ``go1.22.10`` is ``(1, 22, 10)``."""

    major: int
    minor: int
    patch: int = 0

    @property
    def release(self) -> str:
        """Return ``"1.22"``: the key of the built-in layout and wait-reason tables."""
        return f"{self.major}.{self.minor}"


# "go1.22.10", "go1.23rc1", "go1.25.5 X:nodwarf5", "devel go1.26-abcdef ...", or a bare "1.22"
_VERSION_RE = re.compile(r"(?:^|go)(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_go_version(text: str | None) -> GoVersion | None:
    """Return ``(1, 22, 10)`` for ``"go1.22.10"``; None when no ``goN.M`` is found.

    Tolerates pre-releases (``go1.23rc1`` -> (1, 23, 0)), experiment suffixes
    (``go1.25.5 X:nodwarf5``), devel strings that name a base version
    (``devel go1.26-abcdef ...`` -> (1, 26, 0)) and a bare ``"1.22"``; a bare
    ``devel +abc`` gives None.
    """
    m = _VERSION_RE.search((text or "").strip())
    if m is None:
        return None
    return GoVersion(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))


def as_go_version(version: GoVersion | str | None) -> GoVersion | None:
    """Return ``version`` parsed (a GoVersion is returned as it is; None stays None)."""
    if version is None or isinstance(version, GoVersion):
        return version
    return parse_go_version(version)
