"""Reading the gateway's audio deltas without parsing their audio (pure logic, no I/O).

Bot audio is most of what the gateway sends a call, and nearly all of each
``response.output_audio.delta`` is its base64 ``delta``. The bridge only needs that text as it
is and the ``item_id``: :func:`read_audio_delta` finds both with a few ``str.find`` calls in
the layout the gateway writes (``type`` first, compact, ``delta`` last, flat). Any other layout,
or an escape anywhere, answers None and the event is parsed whole.
"""

from __future__ import annotations

__all__ = ["read_audio_delta"]

_OPENING = '{"type":"response.output_audio.delta"'
_AT = len(_OPENING)
_DELTA_KEY = '"delta":"'
_ITEM_KEY = '"item_id":"'


def read_audio_delta(text: str | bytes) -> tuple[str, str] | None:
    """``(item_id, delta)`` of an audio delta in the gateway's layout, the delta still base64;
    None for any other event or layout (the caller parses those)."""
    if not isinstance(text, str) or not text.startswith(_OPENING):
        return None
    at = text.find(_DELTA_KEY, _AT)
    if at < 0:
        return None
    start = at + len(_DELTA_KEY)
    end = len(text) - 2
    if text.find('"', start) != end or text[end:] != '"}' or text.find("\\", start, end) >= 0:
        return None  # delta is not the last field, or has an escape
    head = text[_AT:at]  # the short fields between the type and the audio
    if "\\" in head or "{" in head or "[" in head:
        return None  # escapes or nested values: parsed
    i = head.find(_ITEM_KEY)
    if i < 0:
        return None
    i += len(_ITEM_KEY)
    j = head.find('"', i)
    return head[i:j], text[start:end]
