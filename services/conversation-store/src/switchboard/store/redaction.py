"""Redaction of personal data from conversation events before anything is stored.

Pure functions, no I/O. What is redacted is configurable (``STORE_REDACT``): e-mail addresses,
phone numbers and payment card numbers (only digit runs that pass the Luhn check, so order and
tracking numbers stay readable). Free text is redacted (transcripts, what was heard, error
messages, the end detail) and so is every string or long number inside tool arguments and
results, keys included. NUL characters are always removed: Postgres cannot store them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    ErrorOccurred,
    SessionEnded,
    ToolCalled,
    ToolCompleted,
    UserTranscript,
)

__all__ = ["KINDS", "Redactor", "luhn_valid"]

#: The kinds of personal data the redactor knows, and their replacement text.
KINDS: dict[str, str] = {"email": "[email]", "phone": "[phone]", "card": "[card]"}

_DIGIT = re.compile(r"\d")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by single spaces or dashes, not inside a longer digit run
_CARD = re.compile(r"(?<![\d\w])\d(?:[ -]?\d){12,18}(?![\d\w])")
# a solid run of 10-15 digits (optionally after +), or 3-5 groups of 2-4 digits with separators
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+?\d{10,15}"
    r"|(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{2,4})(?:[ .-]\d{2,4}){2,4}"
    r")(?![\w])"
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits (what every payment card number satisfies)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if index % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


class Redactor:
    """Redacts the configured kinds (a subset of :data:`KINDS`) from text and events."""

    def __init__(self, kinds: Iterable[str]) -> None:
        chosen = frozenset(k.strip().lower() for k in kinds if k.strip())
        unknown = chosen - KINDS.keys()
        if unknown:
            raise ValueError(f"unknown redaction kinds {sorted(unknown)}; known: {sorted(KINDS)}")
        self.kinds = chosen

    def text(self, text: str) -> str:
        """*text* with NULs removed and every configured kind replaced by its marker."""
        if "\x00" in text:
            text = text.replace("\x00", "")
        if "email" in self.kinds and "@" in text:
            text = _EMAIL.sub(KINDS["email"], text)
        if not _DIGIT.search(text):
            return text
        if "card" in self.kinds:
            text = _CARD.sub(self._card, text)
        if "phone" in self.kinds:
            text = _PHONE.sub(self._phone, text)
        return text

    @staticmethod
    def _card(match: re.Match[str]) -> str:
        digits = _digits(match.group(0))
        return KINDS["card"] if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)

    @staticmethod
    def _phone(match: re.Match[str]) -> str:
        raw = match.group(0)
        digits = _digits(raw)
        least = 8 if raw.startswith("+") else 10
        return KINDS["phone"] if least <= len(digits) <= 15 else raw

    def value(self, value: Any) -> Any:
        """A JSON value with every string (and long integer) redacted, recursively."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return value
        if isinstance(value, int):
            if abs(value) < 10**7:  # too short to be a phone or card number
                return value
            text = str(value)
            redacted = self.text(text)
            return value if redacted == text else redacted
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def _opt(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def event(self, event: ConversationEvent) -> ConversationEvent:
        """*event* with its free-text fields, tool arguments and results redacted."""
        p = event.payload
        update: dict[str, Any]
        if isinstance(p, UserTranscript):
            update = {"text": self.text(p.text)}
        elif isinstance(p, AssistantTranscript):
            update = {"text": self.text(p.text), "heard_text": self._opt(p.heard_text)}
        elif isinstance(p, ToolCalled):
            update = {"arguments": self.value(p.arguments)}
        elif isinstance(p, ToolCompleted):
            update = {
                "output": self.value(p.output),
                "error_message": self._opt(p.error_message),
            }
        elif isinstance(p, ErrorOccurred):
            update = {"message": self.text(p.message)}
        elif isinstance(p, SessionEnded):
            update = {"detail": self._opt(p.detail)}
        else:
            return event
        if all(getattr(p, name) == value for name, value in update.items()):
            return event  # nothing to redact: no copies
        return event.model_copy(update={"payload": p.model_copy(update=update)})
