"""Client events that passed the policy, and the audio chunk's fast path (pure logic, no I/O).

Every ``input_audio_buffer.append`` a client sends comes here first: in the compact layout the
SDKs and browsers write it is checked with a few string operations (:func:`compact_append`),
in any other layout the frame without its audio is parsed (:func:`inspect_append`); either way
the audio is decoded once, strictly (:func:`b64_decoded`), which both validates it and gives
the recording its samples. Everything else is parsed and policed by
:func:`switchboard.gateway.policy.inspect_client_event`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pybase64

from switchboard.contracts.errors import RealtimeError
from switchboard.gateway.frames import string_span

__all__ = [
    "APPEND",
    "ClientEvent",
    "audio_ms",
    "b64_decoded",
    "b64_length",
    "check_append_fields",
    "compact_append",
    "event_id_of",
    "inspect_append",
]

APPEND = "input_audio_buffer.append"
_BYTES_PER_MS = {"audio/pcm": 48, "audio/pcmu": 8, "audio/pcma": 8}


def audio_ms(byte_count: int, fmt: str) -> float:
    """Milliseconds of audio in *byte_count* bytes of *fmt*."""
    return byte_count / _BYTES_PER_MS.get(fmt, 48)


def b64_length(data: str) -> int:
    """Decoded size of a base64 string, without decoding it."""
    n = len(data)
    if n == 0:
        return 0
    pad = 2 if data.endswith("==") else 1 if data.endswith("=") else 0
    return n * 3 // 4 - pad


def b64_decoded(data: str) -> bytes | None:
    """*data* decoded when it is valid padded base64 (what ``binascii.a2b_base64`` accepts in
    strict mode, but for padding after a whole last quantum), else None.

    Every audio chunk a client sends goes through it. pybase64 decodes with SIMD and checks
    every character on the way: about a quarter of the instructions of checking the alphabet
    with ``bytes.translate`` (which alone cost more than relaying the chunk), and a tenth of
    ``binascii``'s strict decoding. The bytes are what the recording keeps of the chunk (so it
    is decoded once, here, while the frame is fresh in the cache)."""
    if len(data) % 4 or not data.isascii():
        return None
    try:
        return pybase64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return None


@dataclass(slots=True)
class ClientEvent:
    """A client event that passed the policy. ``raw`` is forwarded as is (it is unchanged)."""

    type: str
    data: dict[str, Any]
    raw: str
    audio_bytes: int = 0
    #: an append's audio, decoded while checking it (the recording keeps it)
    audio: bytes | None = None
    #: server-owned fields dropped from a ``session.update`` (``ignore`` mode), as paths
    ignored: tuple[str, ...] = ()

    @property
    def event_id(self) -> str | None:
        value = self.data.get("event_id")
        return value if isinstance(value, str) else None


def event_id_of(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("event_id"), str):
        return str(data["event_id"])[:128]
    return None


#: Appends without an event id as the SDKs write them (compact: JS; spaced: Python), audio cut
#: out: recognised without a parser.
_APPEND_HEADS: dict[str, dict[str, Any]] = {
    '{"type":"input_audio_buffer.append","audio":""}': {"type": APPEND, "audio": ""},
    '{"type": "input_audio_buffer.append", "audio": ""}': {"type": APPEND, "audio": ""},
    '{"audio":"","type":"input_audio_buffer.append"}': {"type": APPEND, "audio": ""},
}


#: The compact layout of an append (JS SDKs, the bench): this opening, then an optional
#: ``"event_id":"...",``, then ``"audio":"...`` and ``"}``.
_APPEND_OPENING = '{"type":"input_audio_buffer.append",'
_APPEND_AUDIO_KEY = '"audio":"'
_EVENT_ID_KEY = '"event_id":"'


def compact_append(raw: str) -> ClientEvent | None:
    """An append in the compact layout, checked with a few string operations (each costs
    about as much as a Python call, so there are few); None for any other layout or when in
    doubt, and the caller reads it the general way. It is valid JSON exactly when the event
    id has no quote, backslash or control character and the audio is valid base64."""
    if not raw.startswith(_APPEND_OPENING) or not raw.endswith('"}'):
        return None
    at = raw.find(_APPEND_AUDIO_KEY, 36)
    if at < 0:
        return None
    if at == 36:
        data: dict[str, Any] = {"type": APPEND, "audio": ""}
    else:
        # the only other field allowed here: '"event_id":"<id>",'
        event_id = raw[48 : at - 2]
        if (
            raw[36:48] != _EVENT_ID_KEY
            or raw[at - 2 : at] != '",'
            or '"' in event_id
            or "\\" in event_id
            or not event_id.isprintable()
        ):
            return None
        data = {"type": APPEND, "event_id": event_id, "audio": ""}
    audio = b64_decoded(raw[at + 9 : -2])
    if audio is None:
        return None  # not plain base64: the full parse decides
    return ClientEvent(APPEND, data, raw, len(audio), audio)


def inspect_append(raw: str) -> ClientEvent | None:
    """An audio chunk, read without parsing its audio (:func:`frames.string_span`): the
    frame without the audio is parsed and checked as usual, the audio only as base64. None
    when *raw* is not an append with a plain string ``audio`` (then it is parsed whole)."""
    compact = compact_append(raw)
    if compact is not None:
        return compact
    span = string_span(raw, '"audio"', escapes=False)  # base64 has none: checked below
    if span is None:
        return None
    start, end = span
    head = raw[:start] + raw[end:]
    data = _APPEND_HEADS.get(head)
    if data is None:
        try:
            data = orjson.loads(head)
        except orjson.JSONDecodeError:
            return None
    else:
        data = dict(data)
    if not isinstance(data, dict) or data.get("type") != APPEND:
        return None
    audio = b64_decoded(raw[start:end])
    if audio is None:
        return None  # not plain base64 (perhaps JSON escapes): the full parse decides
    try:
        check_append_fields(data)
    except RealtimeError as exc:
        raise exc.with_event_id(event_id_of(data)) from None
    return ClientEvent(APPEND, data, raw, audio_bytes=len(audio), audio=audio)


def check_append_fields(data: dict[str, Any]) -> None:
    extra = set(data) - {"type", "audio", "event_id"}
    if extra:
        raise RealtimeError(
            f"Unknown parameter: '{sorted(extra)[0]}'.",
            code="unknown_parameter",
            param=sorted(extra)[0],
        )
