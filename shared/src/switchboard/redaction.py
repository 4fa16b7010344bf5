"""Redaction of personal data from conversation events: one implementation for every service.

The gateway redacts every event before it publishes it (the edge: nothing personal crosses the
broker) and the store again before it writes (the second line, ``STORE_REDACT``). Pure
functions, no I/O, no dependency beyond the contracts. The kinds are e-mail addresses, phone
numbers and payment card numbers (only digit runs that pass the Luhn check, so order and
tracking numbers stay readable). Free text is redacted (transcripts, what was heard, error
messages, the end detail) and so is every string or long number inside tool arguments and
results, keys included. NUL characters are always removed: Postgres cannot store them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    ErrorOccurred,
    EventPayload,
    SessionEnded,
    ToolCalled,
    ToolCompleted,
    UserTranscript,
)

__all__ = ["EVERY_KIND", "KINDS", "RedactingLogFilter", "Redactor", "luhn_valid"]

#: The kinds of personal data the redactor knows, and their replacement text.
KINDS: dict[str, str] = {"email": "[email]", "phone": "[phone]", "card": "[card]"}

# An e-mail address. The local part's run of characters cannot hold the "@", so giving it back
# (backtracking) can never succeed: the possessive run does not try. This is the definition;
# ``Redactor._emails`` finds the same matches from each "@" (see there).
_EMAIL_FAST = re.compile(r"[A-Za-z0-9._%+-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_EMAIL_LOCAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Every card or phone match consists of digits, spaces, dots, dashes, parentheses and "+": it
# lies inside a maximal run of those characters. The card and phone patterns run only on such
# runs holding eight digits or more (with a character of context on each side, for their
# look-arounds), not over the whole text.
_NUMBERISH = re.compile(r"[\d(+][\d ().+-]{7,}")
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
    if digits.isascii():
        # every other digit from the right as it is, the rest doubled; each digit turned into
        # its (digit sum's) value as a byte, so the sums run in C
        plain = digits[-1::-2].encode().translate(_PLAIN)
        doubled = digits[-2::-2].encode().translate(_DOUBLED)
        return (sum(plain) + sum(doubled)) % 10 == 0
    total = 0
    for index, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if index % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


#: byte tables for the Luhn check: an ASCII digit -> its value, and -> the digit sum of twice it
_PLAIN = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED = bytes.maketrans(b"0123456789", bytes(2 * d - 9 if d > 4 else 2 * d for d in range(10)))
#: what a number run holds besides digits (see ``_NUMBERISH``): deleted to count its digits
_NOT_DIGITS = str.maketrans("", "", " ().+-")


class Redactor:
    """Redacts the configured kinds (a subset of :data:`KINDS`) from text and events.

    Each method returns its argument itself (the same object) when there is nothing to redact,
    so an event without personal data is stored without copies or deep comparisons.
    """

    def __init__(self, kinds: Iterable[str]) -> None:
        chosen = frozenset(k.strip().lower() for k in kinds if k.strip())
        unknown = chosen - KINDS.keys()
        if unknown:
            raise ValueError(f"unknown redaction kinds {sorted(unknown)}; known: {sorted(KINDS)}")
        self.kinds = chosen
        self._email = "email" in chosen
        self._card = "card" in chosen
        self._phone = "phone" in chosen
        self._digits = self._card or self._phone

    def text(self, text: str) -> str:
        """*text* with NULs removed and every configured kind replaced by its marker."""
        original = text
        if "\x00" in text:
            text = text.replace("\x00", "")
        if self._email and "@" in text:
            text = self._emails(text)
        if self._digits:
            text = self._numbers(text)
        return original if text == original else text

    @staticmethod
    def _emails(text: str) -> str:
        """``_EMAIL_FAST.sub("[email]", text)``, found from each "@" instead of trying the
        pattern at every position of the text (most of the cost of a transcript's redaction).
        Every match holds exactly one "@" (neither part can hold one); the regular expression,
        scanning left to right, starts it at the first character of the run of local-part
        characters before that "@" (not before the end of the previous match), since every
        later start in the run reaches the same "@" and the same domain; a match needs one
        local character and the domain right after the "@"."""
        out: list[str] = []
        done = 0
        at = text.find("@")
        while at != -1:
            domain = _EMAIL_DOMAIN.match(text, at + 1)
            if domain is not None:
                start = at
                while start > done and text[start - 1] in _EMAIL_LOCAL:
                    start -= 1
                if start < at:
                    out.append(text[done:start])
                    out.append(KINDS["email"])
                    done = domain.end()
            at = text.find("@", max(at + 1, done))
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)

    def _numbers(self, text: str) -> str:
        """Card and phone numbers replaced, looked for only inside runs of number characters
        with eight digits or more. Each run is redacted with the character on either side of it
        as context (what the patterns' look-arounds read; never part of a match, so never
        changed), and put back without it."""
        out: list[str] = []
        done = 0
        for run in _NUMBERISH.finditer(text):
            start, end = run.span()
            # a run holds digits and " ().+-" only
            digits = len(run.group().translate(_NOT_DIGITS))
            if digits < 8:
                continue
            left, right = max(start - 1, 0), min(end + 1, len(text))
            piece = text[left:right]
            if self._card and digits >= 13:  # a card has 13 digits or more
                piece = _CARD.sub(self._card_marker, piece)
            if self._phone:
                piece = _PHONE.sub(self._phone_marker, piece)
            out.append(text[done:start])
            out.append(piece[start - left : len(piece) - (right - end)])
            done = end
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)

    @staticmethod
    def _card_marker(match: re.Match[str]) -> str:
        # a card match holds digits, spaces and dashes only
        digits = match.group(0).replace(" ", "").replace("-", "")
        return KINDS["card"] if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)

    @staticmethod
    def _phone_marker(match: re.Match[str]) -> str:
        raw = match.group(0)
        digits = raw.translate(_NOT_DIGITS)  # a phone match holds digits and " ().+-" only
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
            return value if redacted is text else redacted
        if isinstance(value, dict):
            out = {}
            changed = False
            for k, v in value.items():
                key = self.text(k) if isinstance(k, str) else self.text(str(k))
                item = self.value(v)
                changed = changed or key is not k or item is not v
                out[key] = item
            return out if changed else value
        if isinstance(value, list):
            items = [self.value(v) for v in value]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        if isinstance(value, tuple):
            return [self.value(v) for v in value]
        return value

    def _opt(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def event(self, event: ConversationEvent) -> ConversationEvent:
        """*event* with its free-text fields, tool arguments and results redacted (the event
        itself when there is nothing to redact)."""
        payload = self.payload(event.payload)
        if payload is event.payload:
            return event
        return event.model_copy(update={"payload": payload})

    def payload(self, p: EventPayload) -> EventPayload:
        """*p* with its free-text fields, tool arguments and results redacted (*p* itself when
        there is nothing to redact; the original is never changed)."""
        # ``type(p) is``, not isinstance: pydantic models have an ABC metaclass, and this runs
        # for every event
        update: dict[str, Any]
        if type(p) is UserTranscript:
            text = self.text(p.text)
            if text is p.text:
                return p
            update = {"text": text}
        elif type(p) is AssistantTranscript:
            text, heard = self.text(p.text), self._opt(p.heard_text)
            if text is p.text and heard is p.heard_text:
                return p
            update = {"text": text, "heard_text": heard}
        elif type(p) is ToolCalled:
            arguments = self.value(p.arguments)
            if arguments is p.arguments:
                return p
            update = {"arguments": arguments}
        elif type(p) is ToolCompleted:
            output, error = self.value(p.output), self._opt(p.error_message)
            if output is p.output and error is p.error_message:
                return p
            update = {"output": output, "error_message": error}
        elif type(p) is ErrorOccurred:
            message = self.text(p.message)
            if message is p.message:
                return p
            update = {"message": message}
        elif type(p) is SessionEnded:
            detail = self._opt(p.detail)
            if detail is p.detail:
                return p
            update = {"detail": detail}
        else:
            return p
        return p.model_copy(update=update)


#: every kind of :data:`KINDS`: what the gateway redacts before it publishes an event
EVERY_KIND = Redactor(KINDS)


#: attributes every log record has (never redacted: they are the record's own fields)
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class RedactingLogFilter(logging.Filter):
    """A handler filter that redacts personal data from every record it passes: the message,
    string and JSON-like extras, and an exception's traceback (which may quote a value).

    A second line for logs, as the store is for events: log calls should carry no conversation
    data in the first place. Records are changed only when something is redacted. A redacted
    traceback replaces ``exc_info`` by its text, in ``exc_text`` (what ``logging.Formatter``
    prints) and the ``exc`` field (what :class:`switchboard.observability.JsonFormatter` writes).
    """

    def __init__(self, redactor: Redactor = EVERY_KIND) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redactor
        message = record.getMessage()
        clean = redact.text(message)
        if clean is not message:
            record.msg, record.args = clean, None
        fields = record.__dict__
        for key, value in list(fields.items()):
            if key in _RECORD_FIELDS or key.startswith("_"):
                continue
            if isinstance(value, str | dict | list):
                redacted = redact.value(value)
                if redacted is not value:
                    fields[key] = redacted
        if record.exc_info and record.exc_info[1] is not None:
            trace = logging.Formatter().formatException(record.exc_info)
            clean_trace = redact.text(trace)
            if clean_trace is not trace:
                record.exc_info = None
                record.exc_text = clean_trace
                fields["exc"] = clean_trace
        return True
