"""What the relay hands a conversation's recorder, and the loop that places it on the timeline.

The relay path only adds references, each entry :data:`STRIDE` items of one flat list (kind
first), added with ``list.extend`` of a tuple that dies at once, so the relay leaves no
container behind for the garbage collector to count and promote (a tuple per audio frame kept
for a second made the collector's full passes frequent):

- ``CALLER``: an append forwarded upstream, ``(CALLER, data, None, wall time)``: the samples
  the policy's base64 check decoded, or the frame;
- ``DELTA``: ``(DELTA, frame or its audio text, the relay's (item id, response id, size),
  wall time)`` (that tuple exists anyway; it holds no container, so a collection untracks it);
- ``UPDATE``: a client's ``session.update`` forwarded upstream, ``(UPDATE, None, event, None)``
  (it may change the formats: the upstream takes the appends after it in the new one);
- ``TRUNCATE``, ``SPEECH``, ``SWAP``, ``FORMATS_CHANGED``: the recorder's own, rare.

:func:`ingest` runs in the recorder's writer, once a look, over everything since the last one.
The audio entries are nearly all of them (50 a second per streaming session), so the common
cases (the next chunk of the open caller segment, the next delta of the item last seen) are
placed inline, without a method call or a repeated lookup: about 40% fewer instructions than
a method call per chunk. (Placing each run of audio at once with the standard library's C
iterators, ``map``/``accumulate``/``compress``, cost 30% more than that: each stage of such
a chain costs about as much per element as the bytecode it replaces.) What happens is defined
by the :class:`~switchboard.gateway.recording.Timeline` methods, which place one chunk at a
time and which the other cases still call (tests/gateway/test_recording_entries.py feeds both
the same streams and compares the segments).
"""

from __future__ import annotations

from typing import Any

import orjson
import pybase64

from switchboard.gateway.frames import string_span
from switchboard.gateway.recording import FORMATS, GAP_MS, Audio, Timeline

__all__ = [
    "CALLER",
    "DELTA",
    "FORMATS_CHANGED",
    "SPEECH",
    "STRIDE",
    "SWAP",
    "TRUNCATE",
    "UPDATE",
    "ingest",
]

CALLER, DELTA, TRUNCATE, SPEECH, SWAP, FORMATS_CHANGED, UPDATE = range(7)
STRIDE = 4


def ingest(t: Timeline, entries: list[Any]) -> None:
    """The relay's *entries*, in order, onto timeline *t*."""
    sw = t.started_wall
    assistant = t.assistant
    caller = None  # the open caller segment, while the next chunk may simply join it
    bpm = 1
    limit = 0.0  # its size at which a new one starts
    item_id: str | None = None  # the assistant item of the last delta, and its open segment
    item = None
    entries_ = iter(entries)
    for kind, a, b, c in zip(entries_, entries_, entries_, entries_, strict=False):
        if kind == DELTA:  # a: the frame or its audio (base64 has no "{"); b: (item, resp, size)
            if b[0] != item_id or item is None:
                item = assistant.get(b[0])  # None: a new item, or one already closed
                item_id = b[0]
            audio = _delta_audio(a, b[2]) if a[:1] == "{" else a
            if item is None:
                t.assistant_audio(b[0], audio, c, b[2])
                continue
            item.parts.append(audio)
            item.size += b[2]
            item.last_ms = (c - sw) * 1000
            continue
        if kind == CALLER and caller is not None and type(a) is bytes:
            # Timeline.caller_audio when the chunk joins the open segment: no gap, same format,
            # the segment not full yet
            size = len(a)
            duration = size / bpm
            if size and (c - sw) * 1000 - duration - t.caller_end <= GAP_MS and caller.size < limit:
                caller.parts.append(a)
                caller.size += size
                t.input_ms += duration
                t.caller_end = caller.start_ms + caller.size / bpm
                continue
        _entry(t, kind, a, b, c)
        item = item_id = None  # a truncation closes an item; a tick is not run in here
        caller = t.caller
        if caller is not None:
            if caller.fmt == t.input_format:
                bpm = FORMATS[caller.fmt][2]
                limit = t.segment_ms * bpm
            else:
                caller = None  # the next chunk closes it (Timeline.caller_audio)


def _entry(t: Timeline, kind: int, a: Any, b: Any, c: Any) -> None:
    """One entry, through the timeline's methods."""
    if kind == CALLER:  # an append: its samples (decoded by the policy) or its frame
        t.caller_audio(a if type(a) is bytes else _audio(a, '"audio"'), c)
    elif kind == UPDATE:  # a client's session.update, in order with the appends around it
        t.formats(*_formats(b.get("session")))
    elif kind == TRUNCATE:
        t.truncated(a, b)
    elif kind == SPEECH:
        t.speech(a, b, c)
    elif kind == SWAP:
        t.upstream_swapped()
    elif kind == FORMATS_CHANGED:
        t.formats(a, b)


def _formats(session: Any) -> tuple[str | None, str | None]:
    """The input and output formats a (GA) ``session`` object sets."""
    audio = session.get("audio") if isinstance(session, dict) else None
    out: list[str | None] = []
    for side in ("input", "output"):
        part = audio.get(side) if isinstance(audio, dict) else None
        fmt = part.get("format") if isinstance(part, dict) else None
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        out.append(kind if isinstance(kind, str) else None)
    return out[0], out[1]


def _delta_audio(frame: str, size: int) -> Audio:
    """The audio text of a delta frame whose decoded *size* the relay found: in the compact
    layout (the audio last, as GA servers send it) its padded base64 text ends the frame, which
    one search and the length tell; any other layout as :func:`_audio` reads it."""
    at = frame.find('"delta":"')
    if at > 0 and len(frame) == at + 11 + (size + 2) // 3 * 4 and frame[-2:] == '"}':
        return frame[at + 9 : -2]
    return _audio(frame, '"delta"')


def _audio(frame: str, key: str) -> Audio:
    """The audio of an append (*key* ``"audio"``) or a delta (``"delta"``) frame: its base64
    text, which the timeline decodes once per look (:func:`~switchboard.gateway.recording.
    decode`), or the bytes when the text is not whole base64 quads. In the compact layout (the
    audio last, as the SDKs, the phone bridge and GA servers send it) the value is found with
    two ``str`` searches; any other layout is read the way the relay reads it
    (:func:`~switchboard.gateway.frames.string_span`), or parsed."""
    # the first occurrence (a key: the pattern cannot lie inside a JSON string), found from the
    # start, where it is near: a search from the end crossed the whole base64 text first
    at = frame.find(key + ':"')
    if at > 0 and frame.endswith('"}') and frame.find('"', at + len(key) + 2) == len(frame) - 2:
        text = frame[at + len(key) + 2 : -2]
    elif (span := string_span(frame, key, escapes=False)) is not None:
        text = frame[span[0] : span[1]]
    else:
        value = orjson.loads(frame).get(key.strip('"'))  # escapes: parsed whole
        return pybase64.b64decode(value if isinstance(value, str) else "")
    return text if len(text) % 4 == 0 else pybase64.b64decode(text)
