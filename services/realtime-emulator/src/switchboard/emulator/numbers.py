"""Identifiers as people say them and recognisers write them: digit groups split by spaces, dots,
commas or hyphens ("101 506", "108.975", "104, 48", "1-0-3-4-5-4") are read every way they can
be put together, and the reading that fits what the tool's schema asks for (its pattern, length,
bounds, and a "six-digit" or "such as 100001" in its description) wins. Pure logic, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from switchboard.emulator.text import normalize

__all__ = ["SPAN_RE", "NumberShape", "Reading", "digit_spans", "read_identifier", "readings"]

_COUNT_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16,
}  # fmt: skip
#: "a six-digit number", "five digits", "6 digit code"
_LENGTH_RE = re.compile(r"\b([a-z]+|\d{1,2})[- ]digits?\b", re.I)
#: "such as 100001", "e.g. 98101", "like 4471"
_EXAMPLE_RE = re.compile(r"\b(?:such as|e\.g\.?|for example|like)\s+#?(\d{2,})\b", re.I)
#: groups of digits with only separators between them: spaces, dots, commas, hyphens, slashes
SPAN_RE = re.compile(r"\d+(?:(?:\s*[.,/]\s*|\s*-\s*|\s+)\d+)*")


@dataclass(frozen=True)
class NumberShape:
    """What an identifier argument should look like, read from its JSON schema."""

    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None
    example_length: int | None = None

    @classmethod
    def from_schema(cls, schema: dict[str, Any]) -> NumberShape:
        description = str(schema.get("description") or "")
        length = None
        match = _LENGTH_RE.search(description)
        if match:
            word = match.group(1).lower()
            length = int(word) if word.isdigit() else _COUNT_WORDS.get(word)
        example = _EXAMPLE_RE.search(description)
        pattern = schema.get("pattern")
        return cls(
            length=length,
            min_length=_int_or_none(schema.get("minLength")),
            max_length=_int_or_none(schema.get("maxLength")),
            pattern=pattern if isinstance(pattern, str) else None,
            minimum=_float_or_none(schema.get("minimum")),
            maximum=_float_or_none(schema.get("maximum")),
            exclusive_maximum=_float_or_none(schema.get("exclusiveMaximum")),
            example_length=len(example.group(1)) if example else None,
        )

    @property
    def expected_length(self) -> int | None:
        """The digit count a reading should have, if the schema says (exactly or by example)."""
        if self.length is not None:
            return self.length
        if self.min_length is not None and self.min_length == self.max_length:
            return self.min_length
        exact = re.fullmatch(r"\^?(?:\\d|\[0-9\])\{(\d+)\}\$?", self.pattern or "")
        if exact:
            return int(exact.group(1))
        return self.example_length

    @property
    def asks_for_digits(self) -> bool:
        """The schema describes a string of digits (a length in digits, or a digit pattern)."""
        return self.length is not None or bool(
            self.pattern and re.search(r"\\d|\[0-9\]", self.pattern)
        )

    def allows(self, digits: str) -> bool:
        """*digits* breaks none of the schema's hard limits (pattern, lengths, bounds)."""
        if self.pattern is not None:
            try:
                if re.search(self.pattern, digits) is None:
                    return False
            except re.error:
                pass
        if self.min_length is not None and len(digits) < self.min_length:
            return False
        if self.max_length is not None and len(digits) > self.max_length:
            return False
        value = int(digits)
        if self.minimum is not None and value < self.minimum:
            return False
        if self.maximum is not None and value > self.maximum:
            return False
        return not (self.exclusive_maximum is not None and value >= self.exclusive_maximum)

    def fits(self, digits: str) -> bool:
        """*digits* is allowed and has the expected length (when one is known)."""
        expected = self.expected_length
        return self.allows(digits) and (expected is None or len(digits) == expected)


@dataclass(frozen=True)
class Reading:
    """One way to read digits out of the text: groups ``first..last`` of span ``span`` joined."""

    digits: str
    span: int
    first: int
    last: int
    groups_in_span: int

    @property
    def whole_span(self) -> bool:
        return self.first == 0 and self.last == self.groups_in_span - 1


def digit_spans(text: str) -> list[list[str]]:
    """The digit groups of *text* (already normalised), split into spans: groups separated only by
    spaces, dots, commas, slashes or hyphens belong to one span."""
    return [re.findall(r"\d+", m.group(0)) for m in SPAN_RE.finditer(text)]


def readings(text: str) -> list[Reading]:
    """Every reading of every span: each run of consecutive groups joined, in text order."""
    out: list[Reading] = []
    for index, groups in enumerate(digit_spans(text)):
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                digits = "".join(groups[first : last + 1])
                out.append(Reading(digits, index, first, last, len(groups)))
    return out


def read_identifier(
    text: str, schema: dict[str, Any], *, normalized: bool = False, strict: bool = False
) -> str | None:
    """The digits of the identifier *text* mentions, as *schema* asks for it, or None.

    The first reading that fits the schema wins (earliest span; within it the one joining the
    most groups). With none fitting, the allowed reading closest to the expected length (then the
    one joining the most groups), or, with no expected length, the whole first span that is
    allowed, longest first. *strict*: a reading of the expected length or nothing (for values
    the caller was not asked for, where a near miss is more likely another number)."""
    shape = NumberShape.from_schema(schema)
    found = readings(text if normalized else normalize(text))
    if not found:
        return None
    fitting = [r for r in found if shape.fits(r.digits)]
    if fitting:
        best = min(fitting, key=lambda r: (r.span, -(r.last - r.first), r.first))
        return best.digits
    allowed = [r for r in found if shape.allows(r.digits)]
    if not allowed or (strict and shape.expected_length is not None):
        return None
    expected = shape.expected_length
    if expected is not None:
        best = min(
            allowed,
            key=lambda r: (abs(len(r.digits) - expected), -(r.last - r.first), r.span, r.first),
        )
        return best.digits
    whole = [r for r in allowed if r.whole_span]
    pool = whole or allowed
    return max(pool, key=lambda r: (len(r.digits), -r.span)).digits


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
