"""Reading audio frames without parsing their audio (pure logic, no I/O).

Audio chunks are nearly all of a conversation's traffic, and nearly all of each chunk is one
base64 string. Parsing that string as JSON costs more than everything else the relay does with
the frame, and the relay never needs its value: only its size and the few short fields around
it. :func:`string_span` finds the value of one string field by hand; the frame without that
value (a few hundred bytes) is parsed as usual, so every other field is read by a real JSON
parser and key order, spacing and escapes in the other fields do not matter. The frame itself
is relayed as received.

A value that contains an escape (never the case for base64) is not handled here: the caller
falls back to parsing the whole frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "AUDIO_DELTA",
    "AudioDelta",
    "Frame",
    "b64_span_size",
    "frame_of_event",
    "parse_server_frame",
    "string_span",
]

AUDIO_DELTA = "response.output_audio.delta"
_WS = " \t\r\n"
#: Shorter values are not worth splicing out (transcript deltas, ids).
MIN_SPLICE = 32


def string_span(text: str, key: str) -> tuple[int, int] | None:
    """Where the value of the string field *key* (given quoted, e.g. ``'"audio"'``) lies in
    the JSON text *text*: ``(start, end)`` of the characters between its quotes, or None when
    there is no such field or its value has escapes.

    A quoted key followed by a colon can only be a key: inside a JSON string every quote is
    escaped, so ``"audio":`` cannot occur in a value. It may be the key of a nested object;
    callers check the event type of what they parse."""
    at = text.find(key)
    if at < 0:
        return None
    i = at + len(key)
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    if i >= n or text[i] != ":":
        return None
    i += 1
    while i < n and text[i] in _WS:
        i += 1
    if i >= n or text[i] != '"':
        return None
    start = i + 1
    end = text.find('"', start)
    if end < 0 or text.find("\\", start, end) >= 0:
        return None
    return start, end


def b64_span_size(text: str, start: int, end: int) -> int:
    """Decoded size of the base64 between *start* and *end* of *text* (not validated)."""
    n = end - start
    if n <= 0:
        return 0
    pad = 0
    if text[end - 1] == "=":
        pad = 2 if n > 1 and text[end - 2] == "=" else 1
    return n * 3 // 4 - pad


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """What the relay needs of an audio delta."""

    item_id: str
    response_id: str | None
    audio_bytes: int


@dataclass(frozen=True, slots=True)
class Frame:
    """One server event: an audio delta (``delta`` set; ``text`` is relayed as is) or any
    other event (``event`` set; ``text`` is its text when relaying it unchanged is right)."""

    text: str | None
    event: dict[str, Any] | None = None
    delta: AudioDelta | None = None


def parse_server_frame(text: str) -> Frame | None:
    """Read one GA server frame; audio deltas without parsing their audio. None for JSON
    that is not an object; raises ``ValueError`` for text that is not JSON."""
    span = string_span(text, '"delta"')
    if span is not None and span[1] - span[0] >= MIN_SPLICE:
        start, end = span
        try:
            head = orjson.loads(text[:start] + text[end:])
        except orjson.JSONDecodeError:
            head = None
        if isinstance(head, dict) and head.get("type") == AUDIO_DELTA:
            response_id = head.get("response_id")
            return Frame(
                text,
                delta=AudioDelta(
                    str(head.get("item_id")),
                    response_id if isinstance(response_id, str) else None,
                    b64_span_size(text, start, end),
                ),
            )
    event = orjson.loads(text)
    if not isinstance(event, dict):
        return None
    return Frame(text, event=event)


def frame_of_event(event: dict[str, Any]) -> Frame:
    """A frame for an event translated from another dialect (serialised once, here)."""
    if event.get("type") != AUDIO_DELTA:
        return Frame(None, event=event)
    text = json.dumps(event)
    delta = event.get("delta")
    audio = delta if isinstance(delta, str) else ""
    response_id = event.get("response_id")
    return Frame(
        text,
        delta=AudioDelta(
            str(event.get("item_id")),
            response_id if isinstance(response_id, str) else None,
            b64_span_size(audio, 0, len(audio)),
        ),
    )
