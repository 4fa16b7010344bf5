"""HTTP range requests of one resource (RFC 9110, section 14): the ``Range`` header of a
request read against the resource's size. Pure, no I/O.

One range is served (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``); a header naming several ranges,
another unit or malformed is ignored (the whole resource is sent, as the RFC allows), and a range
that starts beyond the end is unsatisfiable (416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ByteRange", "Unsatisfiable", "parse_range"]

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(ValueError):
    """The range lies outside the resource (answer 416 with ``Content-Range: bytes */size``)."""


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, end)`` of a resource of *size* bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range *header* asks for, clipped to *size*; None to send the whole resource."""
    if not header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None  # several ranges, another unit, or malformed: ignored
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(0, size - n), size, size)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise Unsatisfiable(header)
    end = size if not last else min(size, int(last) + 1)
    return ByteRange(start, end, size)
