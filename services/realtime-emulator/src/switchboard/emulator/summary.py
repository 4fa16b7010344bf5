"""Turns a tool's output (JSON from ``function_call_output``) into a faithful spoken summary:
every top-level field is spoken, lists are counted and their first items described. Pure logic."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from switchboard.emulator.text import humanize, speakable_date

__all__ = ["speakable_value", "summarize_output"]

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
        parts.append(f"{humanize(key)} {speakable_value(value)}")
        if len(parts) >= limit:
            break
    return parts


def _describe(doc: dict[str, Any], depth: int = 0) -> list[str]:
    sentences: list[str] = []
    scalars = _scalars(doc, _MAX_FIELDS)
    if scalars:
        sentences.append(", ".join(scalars) + ".")
    for key, value in doc.items():
        if isinstance(value, dict) and depth < 1:
            inner = _scalars(value, 6)
            if inner:
                sentences.append(f"{humanize(key).capitalize()}: {', '.join(inner)}.")
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


def summarize_output(tool_name: str, output: str) -> str:
    """The spoken summary of *output* returned by *tool_name*."""
    try:
        doc = json.loads(output)
    except (json.JSONDecodeError, TypeError):
        text = (output or "").strip()
        return text[:400] if text else f"The {humanize(tool_name)} request returned nothing."
    if isinstance(doc, dict):
        error = doc.get("error")
        if error and (doc.get("ok") is False or len(doc) <= 3 or "message" in doc):
            message = doc.get("message") or (
                error.get("message") if isinstance(error, dict) else error
            )
            return f"Sorry, I couldn't complete the {humanize(tool_name)} request: {speakable_value(message)}."
        payload = (
            doc.get("result")
            if isinstance(doc.get("result"), dict | list) and doc.get("ok") is True
            else doc
        )
        if isinstance(payload, list):
            payload = {"results": payload}
        sentences = _describe(payload) if payload else []
        if not sentences:
            return f"The {humanize(tool_name)} request is done."
        return "Here is what I found. " + " ".join(sentences)
    if isinstance(doc, list):
        return "Here is what I found. " + " ".join(_describe({"results": doc}))
    return f"The result is {speakable_value(doc)}."
