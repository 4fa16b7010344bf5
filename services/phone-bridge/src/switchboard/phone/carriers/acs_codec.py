"""Azure Communication Services wire formats (pure, no I/O).

**Media websocket** (bidirectional media streaming, JSON text frames). From ACS: first
``{"kind": "AudioMetadata", "audioMetadata": {"subscriptionId", "encoding": "PCM",
"sampleRate", "channels", "length"}}``, then ``{"kind": "AudioData", "audioData":
{"timestamp", "participantRawID", "data" (base64 PCM16), "silent"}}`` and, with DTMF tones on,
``{"kind": "DtmfData", "dtmfData": {"data": "3"}}``. To ACS: ``{"kind": "AudioData",
"audioData": {"data": ...}, "stopAudio": null}`` to play and ``{"kind": "StopAudio",
"audioData": null, "stopAudio": {}}`` to drop what is queued. ACS sends camelCase; its own
samples send PascalCase, so both spellings are read.

**Event Grid** (the ``IncomingCall`` event, Event Grid schema: a JSON array of events with
``eventType`` and ``data``; the subscription handshake is a
``Microsoft.EventGrid.SubscriptionValidationEvent`` answered with ``{"validationResponse":
code}``) and **Call Automation callbacks** (a JSON array of CloudEvents with ``type``
``Microsoft.Communication.<Event>`` and ``data.callConnectionId`` etc.).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from switchboard.phone.carrier import (
    AudioIn,
    CarrierEvent,
    KeyPressed,
    MalformedFrame,
    StreamStarted,
)
from switchboard.phone.carriers.twilio_codec import MAX_FRAME_BYTES, b64_size

__all__ = [
    "ACS_FORMAT",
    "ACS_RATE",
    "INCOMING_CALL",
    "SUBSCRIPTION_VALIDATION",
    "TONE_DIGITS",
    "CallbackEvent",
    "IncomingCall",
    "audio_message",
    "parse_acs",
    "parse_callbacks",
    "parse_event_grid",
    "stop_audio_message",
    "tones_to_digits",
]

#: The ACS format the bridge asks for (``Pcm24KMono``) and the Realtime session format it
#: maps to without resampling.
ACS_FORMAT = "audio/pcm"
ACS_RATE = 24000
INCOMING_CALL = "Microsoft.Communication.IncomingCall"
SUBSCRIPTION_VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
#: Call Automation's DTMF tone names (``DtmfTone``) and the keys they are.
TONE_DIGITS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "a": "A",
    "b": "B",
    "c": "C",
    "d": "D",
    "pound": "#",
    "asterisk": "*",
}
_DIGITS = frozenset("0123456789*#ABCD")


def _get(data: dict[str, Any], key: str) -> Any:
    """*key* in ACS's camelCase, or as its samples spell it (PascalCase)."""
    if key in data:
        return data[key]
    return data.get(key[:1].upper() + key[1:])


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = _get(data, key)
    if not isinstance(value, dict):
        raise MalformedFrame(f"'{key}' must be an object")
    return value


def parse_acs(raw: str | bytes, *, call_id: str, parameters: dict[str, str]) -> CarrierEvent:
    """One ACS media frame as an event (*call_id* and *parameters* go into the
    :class:`StreamStarted` of the metadata frame); raises :class:`MalformedFrame`."""
    if len(raw) > MAX_FRAME_BYTES:
        raise MalformedFrame(f"frame of {len(raw)} bytes is over {MAX_FRAME_BYTES}")
    try:
        data = orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedFrame(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedFrame("a frame must be a JSON object")
    kind = _get(data, "kind")
    if kind == "AudioData":  # the hot path first
        audio = _obj(data, "audioData")
        payload = _get(audio, "data")
        if not isinstance(payload, str):
            raise MalformedFrame("'audioData.data' must be a base64 string")
        size = b64_size(payload)
        if size is None:
            raise MalformedFrame("'audioData.data' is not valid base64")
        if size % 2:
            raise MalformedFrame("'audioData.data' is not whole 16-bit samples")
        return AudioIn(payload=payload, size=size)
    if kind == "DtmfData":
        digit = _get(_obj(data, "dtmfData"), "data")
        if not isinstance(digit, str) or digit not in _DIGITS:
            raise MalformedFrame(f"'dtmfData.data' {str(digit)[:8]!r} is not a keypad key")
        return KeyPressed(digit)
    if kind == "AudioMetadata":
        meta = _obj(data, "audioMetadata")
        encoding = _get(meta, "encoding")
        rate = _get(meta, "sampleRate")
        channels = _get(meta, "channels")
        if encoding != "PCM" or not isinstance(rate, int) or channels not in (1, None):
            raise MalformedFrame(f"unsupported audio: {encoding!r} {rate!r} Hz x {channels!r}")
        subscription = _get(meta, "subscriptionId")
        if not isinstance(subscription, str) or not subscription:
            raise MalformedFrame("'audioMetadata.subscriptionId' must be a non-empty string")
        return StreamStarted(
            stream_id=subscription,
            call_id=call_id,
            audio_format=ACS_FORMAT,
            sample_rate=rate,
            parameters=dict(parameters),
        )
    raise MalformedFrame(f"unknown kind {str(kind)[:32]!r}")


def audio_message(payload_b64: str) -> str:
    return json.dumps({"kind": "AudioData", "audioData": {"data": payload_b64}, "stopAudio": None})


def stop_audio_message() -> str:
    return json.dumps({"kind": "StopAudio", "audioData": None, "stopAudio": {}})


def tones_to_digits(tones: list[Any]) -> str:
    """``["one", "two", "pound"]`` (a ``RecognizeCompleted`` DTMF result) -> ``"12#"``."""
    return "".join(TONE_DIGITS.get(str(tone).lower(), "") for tone in tones)


# -- Event Grid and Call Automation callbacks --------------------------------------------------
@dataclass(frozen=True, slots=True)
class IncomingCall:
    caller: str  # E.164 as ACS sends it (``from.phoneNumber.value``), or the raw id
    caller_raw_id: str
    incoming_call_context: str
    correlation_id: str
    server_call_id: str


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    type: str  # without the ``Microsoft.Communication.`` prefix, e.g. ``CallConnected``
    call_connection_id: str
    correlation_id: str
    operation_context: str
    data: dict[str, Any]


def _events(body: bytes) -> list[dict[str, Any]]:
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("the body is not JSON") from None
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ValueError("the body must be an array of events")
    return events


def _caller(identifier: Any) -> tuple[str, str]:
    if not isinstance(identifier, dict):
        return "", ""
    raw = str(identifier.get("rawId") or "")
    phone = identifier.get("phoneNumber")
    if isinstance(phone, dict) and phone.get("value"):
        return str(phone["value"]), raw
    return raw.removeprefix("4:"), raw


def parse_event_grid(body: bytes) -> tuple[str | None, list[IncomingCall]]:
    """An Event Grid delivery: (the validation code of a subscription handshake, or None;
    the ``IncomingCall`` events in it). Raises ValueError for a malformed delivery."""
    validation: str | None = None
    calls: list[IncomingCall] = []
    for event in _events(body):
        kind = event.get("eventType")
        data = event.get("data")
        if not isinstance(data, dict):
            raise ValueError("an event's data must be an object")
        if kind == SUBSCRIPTION_VALIDATION:
            validation = str(data.get("validationCode") or "") or None
        elif kind == INCOMING_CALL:
            caller, raw = _caller(data.get("from"))
            context = data.get("incomingCallContext")
            if not isinstance(context, str) or not context:
                raise ValueError("an IncomingCall event without incomingCallContext")
            calls.append(
                IncomingCall(
                    caller=caller,
                    caller_raw_id=raw,
                    incoming_call_context=context,
                    correlation_id=str(data.get("correlationId") or ""),
                    server_call_id=str(data.get("serverCallId") or ""),
                )
            )
    return validation, calls


def parse_callbacks(body: bytes) -> list[CallbackEvent]:
    """Call Automation callback events (CloudEvents); raises ValueError when malformed."""
    out = []
    for event in _events(body):
        data = event.get("data")
        kind = event.get("type")
        if not isinstance(data, dict) or not isinstance(kind, str):
            raise ValueError("a callback event needs a type and a data object")
        out.append(
            CallbackEvent(
                type=kind.removeprefix("Microsoft.Communication."),
                call_connection_id=str(data.get("callConnectionId") or ""),
                correlation_id=str(data.get("correlationId") or ""),
                operation_context=str(data.get("operationContext") or ""),
                data=data,
            )
        )
    return out
