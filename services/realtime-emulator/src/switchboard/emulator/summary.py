"""Reads a tool output of a shape no reply template knows (see :mod:`.replies`): every top-level
field is spoken as a sentence, lists are counted and their first items described. Pure logic."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from switchboard.emulator.text import humanize, speakable_date

__all__ = ["describe_fields", "speakable_value"]

_MAX_LIST_ITEMS = 3
_MAX_FIELDS = 12


def speakable_value(value: Any) -> str:
    """A scalar as a person would say it (dates in words, snake_case as words, booleans yes/no)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    text = str(value)
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?", text)
    if iso:
        try:
            return speakable_date(date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3))))
        except ValueError:
            return text
    if re.fullmatch(r"[a-z]+(?:_[a-z]+)+", text):
        return text.replace("_", " ")
    return text


def _scalars(doc: dict[str, Any], limit: int) -> list[str]:
    parts = []
    for key, value in doc.items():
        if isinstance(value, dict | list):
            continue
        parts.append(f"the {humanize(key)} is {speakable_value(value)}")
        if len(parts) >= limit:
            break
    return parts


def _describe(doc: dict[str, Any], depth: int = 0) -> list[str]:
    sentences: list[str] = []
    scalars = _scalars(doc, _MAX_FIELDS)
    if scalars:
        joined = ", ".join(scalars) + "."
        sentences.append(joined[0].upper() + joined[1:])
    for key, value in doc.items():
        if isinstance(value, dict) and depth < 1:
            inner = _scalars(value, 6)
            if inner:
                sentences.append(f"For the {humanize(key)}, {', '.join(inner)}.")
        elif isinstance(value, list):
            count = len(value)
            if count == 0:
                sentences.append(f"No {humanize(key)}.")
                continue
            label = humanize(key)
            described = []
            for item in value[:_MAX_LIST_ITEMS]:
                if isinstance(item, dict):
                    described.append(", ".join(_scalars(item, 3)))
                else:
                    described.append(speakable_value(item))
            more = f", and {count - _MAX_LIST_ITEMS} more" if count > _MAX_LIST_ITEMS else ""
            sentences.append(f"{count} {label}: " + "; ".join(described) + more + ".")
    return sentences


def describe_fields(tool_name: str, doc: Any) -> str:
    """Every field of *doc* (a tool's parsed output) in plain sentences."""
    if isinstance(doc, list):
        doc = {"results": doc}
    if isinstance(doc, dict):
        sentences = _describe(doc) if doc else []
        if not sentences:
            return f"The {humanize(tool_name)} request is done."
        return " ".join(sentences)
    return f"The result is {speakable_value(doc)}."
