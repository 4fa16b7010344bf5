"""The client side of the relay rules (pure logic, no I/O): one client frame in, actions out.

Size limit, the event policy (:func:`~switchboard.gateway.policy.inspect_client_event`), whole
PCM16 samples and the audio rate limit for appends, and truncation clamped to the audio this
client actually received. Limits that end the conversation raise
:class:`~switchboard.gateway.errors.SessionEnd`; refusals become :class:`Refuse` actions and
the conversation goes on.
"""

from __future__ import annotations

import json
import logging

from switchboard.contracts.errors import RealtimeError
from switchboard.gateway.actions import Action, Emit, ForwardUpstream, IgnoreFields, Refuse
from switchboard.gateway.appends import APPEND, audio_ms, compact_append
from switchboard.gateway.errors import CloseCode, SessionEnd
from switchboard.gateway.limits import AudioRateLimiter
from switchboard.gateway.policy import ServerFieldsMode, inspect_client_event
from switchboard.gateway.relay import RelayCore

__all__ = ["ClientRules"]

log = logging.getLogger(__name__)


class ClientRules:
    """Decides what becomes of each client frame of one conversation."""

    def __init__(
        self,
        core: RelayCore,
        *,
        max_bytes: int,
        limiter: AudioRateLimiter,
        max_audio_rate: float,
        server_fields: ServerFieldsMode = "ignore",
    ) -> None:
        self.core = core
        self.max_bytes = max_bytes
        self.limiter = limiter
        self.max_audio_rate = max_audio_rate
        self.server_fields: ServerFieldsMode = server_fields

    def on_frame(self, raw: str | bytes) -> list[Action]:
        core = self.core
        core.last_activity = now = core.clock()
        size = len(raw)
        if size > self.max_bytes:
            raise SessionEnd(
                "message_too_large",
                CloseCode.MESSAGE_TOO_BIG,
                error_code="message_too_large",
                message=f"A message of {size} bytes exceeds the limit of {self.max_bytes} bytes.",
            )
        # an audio chunk in the common layout first, without the layers of the general path
        event = compact_append(raw) if type(raw) is str else None
        if event is None:
            try:
                event = inspect_client_event(raw, server_fields=self.server_fields)
            except RealtimeError as exc:
                return [Refuse(exc, exc.event_id)]
        if event.type == APPEND:
            if core.input_format == "audio/pcm" and event.audio_bytes % 2:
                # PCM16 comes in whole 2-byte samples; half a sample is a framing bug
                error = RealtimeError(
                    f"Invalid 'audio': {event.audio_bytes} bytes is not a whole number of 16-bit "
                    "PCM samples.",
                    code="invalid_value",
                    param="audio",
                )
                return [Refuse(error, event.event_id)]
            if not self.limiter.take(audio_ms(event.audio_bytes, core.input_format), now):
                raise SessionEnd(
                    "audio_rate_exceeded",
                    CloseCode.AUDIO_RATE_EXCEEDED,
                    error_code="audio_rate_exceeded",
                    message="Input audio is arriving faster than the allowed rate "
                    f"({self.max_audio_rate:g}x real time).",
                )
            return [ForwardUpstream(event.raw, event.data, audio=True, decoded=event.audio)]
        actions: list[Action] = []
        if event.ignored:
            actions.append(IgnoreFields(event.ignored))
        if event.type == "conversation.item.truncate":
            data = event.data
            item_id = str(data["item_id"])
            requested = int(data["audio_end_ms"])
            clamped, facts = core.conversation.clamp_truncate(item_id, requested)
            actions.extend(Emit(f) for f in facts)
            if clamped != requested:
                log.info(
                    "truncation clamped",
                    extra={"item_id": item_id, "requested_ms": requested, "heard_ms": clamped},
                )
                data = {**data, "audio_end_ms": clamped}
                actions.append(ForwardUpstream(json.dumps(data), data))
                return actions
        actions.append(ForwardUpstream(event.raw, event.data))
        return actions
