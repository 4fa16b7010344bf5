"""The carrier-neutral side of a phone call: what any carrier's media stream tells the bridge,
and what the bridge asks of it. A carrier is a module that turns its wire format into these
events and implements :class:`MediaStream` and :class:`CallControl` (Twilio today; Azure
Communication Services next), so the call logic in ``call.py`` never sees a carrier's format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "AudioIn",
    "CallControl",
    "CarrierEvent",
    "KeyPressed",
    "MalformedFrame",
    "MarkPlayed",
    "MediaStream",
    "StreamClosed",
    "StreamConnected",
    "StreamStarted",
    "StreamStopped",
    "TransferFailed",
]


class MalformedFrame(ValueError):
    """A frame the carrier sent does not follow its protocol; it is refused, the call goes on."""


class StreamClosed(ConnectionError):
    """The carrier's media connection is gone (hang-up, network)."""


class TransferFailed(RuntimeError):
    """The carrier refused to move the call (its REST API answered an error)."""


@dataclass(frozen=True, slots=True)
class StreamConnected:
    protocol: str = ""


@dataclass(frozen=True, slots=True)
class StreamStarted:
    stream_id: str
    call_id: str
    audio_format: str
    sample_rate: int
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AudioIn:
    """Caller audio, still base64 (forwarded as is: no decoding on the hot path)."""

    payload: str
    size: int
    timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class KeyPressed:
    digit: str


@dataclass(frozen=True, slots=True)
class MarkPlayed:
    name: str


@dataclass(frozen=True, slots=True)
class StreamStopped:
    reason: str = "stop"


CarrierEvent = StreamConnected | StreamStarted | AudioIn | KeyPressed | MarkPlayed | StreamStopped


class MediaStream(Protocol):
    """One call's bidirectional media connection with the carrier."""

    async def receive(self) -> CarrierEvent:
        """The next event; raises :class:`MalformedFrame` for a bad frame (the stream stays
        usable) and :class:`StreamClosed` once the carrier is gone."""
        ...

    async def send_audio(self, payload_b64: str) -> None:
        """Queue bot audio for playback (the session's format, base64)."""
        ...

    async def send_mark(self, name: str) -> None:
        """Ask the carrier to report :class:`MarkPlayed` once everything queued so far played."""
        ...

    async def clear(self) -> None:
        """Drop every queued, not yet played bit of bot audio."""
        ...

    async def close(self) -> None:
        """End the stream (idempotent)."""
        ...


class CallControl(Protocol):
    """The carrier's call-control API (REST)."""

    async def transfer(self, call_id: str, target: str, *, announcement: str | None) -> None:
        """Move the live call to *target* (a number or SIP URI); raises :class:`TransferFailed`."""
        ...
