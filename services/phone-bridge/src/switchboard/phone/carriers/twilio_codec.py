"""Twilio Media Streams wire format (pure, no I/O): parse what Twilio sends on the media
websocket into carrier-neutral events, and build what the bridge sends back.

From Twilio (JSON text frames): ``connected``; ``start`` (``start.streamSid``, ``callSid``,
``mediaFormat`` = ``audio/x-mulaw`` at 8000 Hz, ``customParameters``); ``media``
(``media.payload`` base64 µ-law, ``media.timestamp`` ms as a string); ``dtmf``
(``dtmf.digit``); ``mark`` (``mark.name``); ``stop``. To Twilio: ``media``, ``mark``, ``clear``,
each with the ``streamSid``. See https://www.twilio.com/docs/voice/media-streams/websocket-messages.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from switchboard.phone.carrier import (
    AudioIn,
    CarrierEvent,
    KeyPressed,
    MalformedFrame,
    MarkPlayed,
    StreamConnected,
    StreamStarted,
    StreamStopped,
)

__all__ = [
    "MAX_FRAME_BYTES",
    "TWILIO_FORMAT",
    "b64_size",
    "clear_message",
    "mark_message",
    "media_message",
    "parse_twilio",
]

#: Twilio's only Media Streams format, and the Realtime session format it maps to.
TWILIO_FORMAT = "audio/x-mulaw"
#: Largest frame accepted from the carrier (a 20 ms frame is ~250 bytes of JSON).
MAX_FRAME_BYTES = 64 * 1024
_DIGITS = frozenset("0123456789*#ABCD")
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def b64_size(data: str) -> int | None:
    """Decoded size of padded base64 *data*, or None when it is not valid base64 (checked
    without decoding: every 20 ms frame of every call goes through it)."""
    n = len(data)
    if n % 4 or not data.isascii() or data.encode("ascii").translate(None, _B64):
        return None
    first_pad = data.find("=")
    if first_pad == -1:
        return n * 3 // 4
    pad = n - first_pad
    if pad > 2 or (pad == 2 and data[-1] != "="):
        return None
    return n * 3 // 4 - pad


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise MalformedFrame(f"'{key}' must be an object")
    return value


def _str(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedFrame(f"'{where}.{key}' must be a non-empty string")
    return value


def parse_twilio(raw: str | bytes) -> CarrierEvent:
    """One Twilio frame as an event; raises :class:`MalformedFrame` with the reason."""
    if len(raw) > MAX_FRAME_BYTES:
        raise MalformedFrame(f"frame of {len(raw)} bytes is over {MAX_FRAME_BYTES}")
    try:
        data = orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedFrame(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedFrame("a frame must be a JSON object")
    event = data.get("event")
    if event == "media":  # the hot path first
        media = _obj(data, "media")
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise MalformedFrame("'media.payload' must be a base64 string")
        size = b64_size(payload)
        if size is None:
            raise MalformedFrame("'media.payload' is not valid base64")
        track = media.get("track", "inbound")
        if track not in ("inbound", "inbound_track"):
            raise MalformedFrame(f"'media.track' {track!r} is not the caller's track")
        stamp = media.get("timestamp")
        try:
            timestamp = int(stamp) if stamp is not None else None
        except (TypeError, ValueError):
            raise MalformedFrame("'media.timestamp' must be milliseconds") from None
        return AudioIn(payload=payload, size=size, timestamp_ms=timestamp)
    if event == "dtmf":
        digit = _str(_obj(data, "dtmf"), "digit", "dtmf")
        if digit not in _DIGITS:
            raise MalformedFrame(f"'dtmf.digit' {digit[:8]!r} is not a keypad key")
        return KeyPressed(digit)
    if event == "mark":
        return MarkPlayed(_str(_obj(data, "mark"), "name", "mark"))
    if event == "start":
        start = _obj(data, "start")
        fmt = start.get("mediaFormat") or {}
        if not isinstance(fmt, dict):
            raise MalformedFrame("'start.mediaFormat' must be an object")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise MalformedFrame("'start.customParameters' must be an object")
        try:
            rate = int(fmt.get("sampleRate", 8000))
        except (TypeError, ValueError):
            raise MalformedFrame("'start.mediaFormat.sampleRate' must be a number") from None
        return StreamStarted(
            stream_id=_str(start, "streamSid", "start"),
            call_id=_str(start, "callSid", "start"),
            audio_format=str(fmt.get("encoding", TWILIO_FORMAT)),
            sample_rate=rate,
            parameters={str(k): str(v) for k, v in params.items()},
        )
    if event == "connected":
        return StreamConnected(protocol=str(data.get("protocol", "")))
    if event == "stop":
        return StreamStopped("stop")
    raise MalformedFrame(f"unknown event {str(event)[:32]!r}")


def media_message(stream_sid: str, payload_b64: str) -> str:
    """A ``media`` message; built by concatenation (one per piece of bot audio), the payload
    written as it is when it needs no escaping (base64 never does)."""
    if '"' in payload_b64 or "\\" in payload_b64 or not payload_b64.isascii():
        return json.dumps(
            {"event": "media", "streamSid": stream_sid, "media": {"payload": payload_b64}}
        )
    return f'{{"event":"media","streamSid":{_quoted(stream_sid)},"media":{{"payload":"{payload_b64}"}}}}'


def mark_message(stream_sid: str, name: str) -> str:
    return f'{{"event":"mark","streamSid":{_quoted(stream_sid)},"mark":{{"name":{_quoted(name)}}}}}'


def _quoted(value: str) -> str:
    """*value* as a JSON string."""
    return orjson.dumps(value).decode()


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})
