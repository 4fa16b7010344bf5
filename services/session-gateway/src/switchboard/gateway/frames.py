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

from typing import Any

import orjson

__all__ = [
    "AUDIO_DELTA",
    "AudioDelta",
    "b64_span_size",
    "delta_of_event",
    "read_audio_delta",
    "string_span",
]

AUDIO_DELTA = "response.output_audio.delta"
_WS = " \t\r\n"
#: Shorter values are not worth splicing out (transcript deltas, ids).
MIN_SPLICE = 32


def string_span(text: str, key: str, *, escapes: bool = True) -> tuple[int, int] | None:
    """Where the value of the string field *key* (given quoted, e.g. ``'"audio"'``) lies in
    the JSON text *text*: ``(start, end)`` of the characters between its quotes, or None when
    there is no such field or its value has escapes.

    A quoted key followed by a colon can only be a key: inside a JSON string every quote is
    escaped, so ``"audio":`` cannot occur in a value. It may be the key of a nested object;
    callers check the event type of what they parse. With ``escapes=False`` the value is not
    checked for escapes (for a value the caller validates itself, such as base64 audio)."""
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
    if end < 0 or (escapes and text.find("\\", start, end) >= 0):
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


#: The canonical opening of an audio delta (GA servers put ``type`` first, compact).
_DELTA_OPENING = '{"type":"response.output_audio.delta"'
_DELTA_TYPE = '"response.output_audio.delta"'

#: What the relay needs of an audio delta: item id, response id, decoded audio size.
AudioDelta = tuple[str, str | None, int]


def read_audio_delta(text: str) -> AudioDelta | None:
    """The item, response and audio size of an audio delta, without parsing it as JSON;
    None when *text* is not an audio delta (or one this reader does not vouch for, which is
    then parsed whole). In the common layout (``type`` first, compact) the three fields are
    found with a few ``str.find`` calls over the short fields before the audio; any other
    layout is read by splicing the audio out and parsing the rest.

    This runs for every delta, so it is one function with few calls (a ``str`` method call
    costs about as much as a Python function call)."""
    if not text.startswith(_DELTA_OPENING):
        return None if _DELTA_TYPE not in text else _spliced_delta(text)
    at = text.find('"delta":"', 38)
    if at < 0 or not text.endswith("}"):
        return _spliced_delta(text)
    start = at + 9
    end = text.find('"', start)
    head = text[38:at]  # the short fields between the type and the audio
    i = head.find('"item_id":"')
    j = head.find('"', i + 11)
    if end < 0 or i < 0 or j < 0 or "\\" in head:
        return _spliced_delta(text)  # another layout, or escapes: parsed
    item_id = head[i + 11 : j]
    i = head.find('"response_id":"')
    j = head.find('"', i + 15)
    response_id = head[i + 15 : j] if i >= 0 and j >= 0 else None
    # b64_span_size(text, start, end) inlined
    size = (end - start) * 3 // 4
    if text[end - 1] == "=":
        size -= 2 if text[end - 2] == "=" else 1
    return item_id, response_id, size


def _spliced_delta(text: str) -> AudioDelta | None:
    span = string_span(text, '"delta"')
    if span is None or span[1] - span[0] < MIN_SPLICE:
        return None
    start, end = span
    try:
        head = orjson.loads(text[:start] + text[end:])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(head, dict) or head.get("type") != AUDIO_DELTA:
        return None
    response_id = head.get("response_id")
    return (
        str(head.get("item_id")),
        response_id if isinstance(response_id, str) else None,
        b64_span_size(text, start, end),
    )


def delta_of_event(event: dict[str, Any]) -> AudioDelta | None:
    """The same for an event already parsed (translated from another dialect)."""
    if event.get("type") != AUDIO_DELTA:
        return None
    delta = event.get("delta")
    audio = delta if isinstance(delta, str) else ""
    response_id = event.get("response_id")
    return (
        str(event.get("item_id")),
        response_id if isinstance(response_id, str) else None,
        b64_span_size(audio, 0, len(audio)),
    )
