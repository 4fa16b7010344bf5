"""The start of a call's media stream: wait for the carrier's ``start``, check that the stream
belongs to a call the bridge answered (the signed binding) and that its audio format passes to
the gateway as it is. A stream that fails is closed with the outcome the call is counted as."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from switchboard.phone.carrier import (
    MalformedFrame,
    MediaStream,
    StreamClosed,
    StreamStarted,
    StreamStopped,
)
from switchboard.phone.gateway import SESSION_FORMATS
from switchboard.phone.identity import BindingError, check_binding
from switchboard.phone.metrics import PhoneMetrics
from switchboard.phone.settings import PhoneSettings

__all__ = ["START_WAIT_S", "Accepted", "NotAccepted", "accept_stream", "refuse_frame"]

log = logging.getLogger(__name__)

START_WAIT_S = 10.0


@dataclass(frozen=True)
class Accepted:
    start: StreamStarted
    customer_id: str
    #: the gateway session's format (``audio/pcmu``, ``audio/pcm``) and its bytes per ms
    audio_format: str
    bytes_per_ms: int


class NotAccepted(Exception):
    """The stream ended or was refused before the call began (already closed)."""

    def __init__(self, outcome: str | None) -> None:
        super().__init__(outcome)
        #: how the call is counted (None: the carrier stopped before ``start``)
        self.outcome = outcome


def refuse_frame(metrics: PhoneMetrics, exc: MalformedFrame) -> None:
    metrics.refused_frames.inc()
    log.warning("carrier frame refused", extra={"reason": str(exc)[:200]})


async def _wait_start(stream: MediaStream, metrics: PhoneMetrics) -> StreamStarted:
    try:
        async with asyncio.timeout(START_WAIT_S):
            while True:
                try:
                    event = await stream.receive()
                except MalformedFrame as exc:
                    refuse_frame(metrics, exc)
                    continue
                if isinstance(event, StreamStarted):
                    return event
                if isinstance(event, StreamStopped):
                    raise NotAccepted(None)
    except (StreamClosed, TimeoutError):
        await stream.close()
        raise NotAccepted("no_start") from None


async def accept_stream(
    stream: MediaStream, settings: PhoneSettings, metrics: PhoneMetrics
) -> Accepted:
    """The stream's ``start``, checked; raises :class:`NotAccepted` otherwise."""
    start = await _wait_start(stream, metrics)
    try:
        customer_id = check_binding(
            settings.binding_key,
            start.parameters.get("binding", ""),
            call_id=start.call_id,
            now=time.time(),
        )
    except BindingError as exc:
        log.warning("stream refused: not a call we answered", extra={"reason": str(exc)})
        metrics.webhooks.labels("media", "bad_binding").inc()
        await stream.close()
        raise NotAccepted("refused") from None
    session_format = SESSION_FORMATS.get((start.audio_format, start.sample_rate))
    if session_format is None:
        log.warning(
            "stream refused: audio format needs resampling",
            extra={"format": start.audio_format, "rate": start.sample_rate},
        )
        await stream.close()
        raise NotAccepted("bad_format")
    audio_format, bytes_per_ms = session_format
    return Accepted(start, customer_id, audio_format, bytes_per_ms)
