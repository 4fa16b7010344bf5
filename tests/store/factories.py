"""Conversation events as the gateway would publish them, for the store tests and bench."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    ErrorOccurred,
    RecordingEnded,
    RecordingMark,
    RecordingSegment,
    ResponseUsage,
    SessionEnded,
    SessionStarted,
    ToolCalled,
    ToolCompleted,
    Truncated,
    TurnLatency,
    UserTranscript,
)
from switchboard.contracts.tools import Verification

__all__ = ["conversation", "new_session_id", "recording_events", "usage"]


def new_session_id(prefix: str = "sess") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def conversation(
    session_id: str | None = None,
    *,
    customer_id: str = "cus_0001",
    started_at: datetime | None = None,
    user_text: str = "Where is my order 100001?",
    tool: str = "check_order_status",
    tool_ok: bool = True,
    arguments: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
    reply: str = "Your order 100001 has shipped and should arrive on Friday.",
    interrupted: bool = True,
    end_reason: str = "client_closed",
    latency_ms: float = 420.0,
    with_error: bool = False,
    language: str = "en",
    usages: Sequence[ResponseUsage] = (),
    verification: Verification | None = None,
    recording: bool | None = None,
) -> list[ConversationEvent]:
    """One whole conversation, ``seq`` 0..n-1 and times one second apart."""
    sid = session_id or new_session_id()
    t0 = started_at or datetime.now(UTC) - timedelta(minutes=5)
    call_id = f"call_{uuid.uuid4().hex[:12]}"
    payloads: list[Any] = [
        SessionStarted(
            customer_id=customer_id,
            gateway="gw-1",
            upstream="emulator",
            model="gpt-realtime",
            voice="alloy",
            language=language,
            verification=verification,
            recording=recording,
        ),
        UserTranscript(
            item_id="item_u1", text=user_text, speech_started_ms=100, speech_ended_ms=1900
        ),
        ToolCalled(
            call_id=call_id,
            tool=tool,
            arguments=arguments or {"order_id": 100001},
            user_item_id="item_u1",
        ),
        ToolCompleted(
            call_id=call_id,
            tool=tool,
            ok=tool_ok,
            output=(output or {"status": "shipped", "eta": "Friday"}) if tool_ok else None,
            error_code=None if tool_ok else "not_found",
            error_message=None if tool_ok else "No such order.",
            duration_ms=12.5,
            worker="worker-1",
        ),
        TurnLatency(response_id="resp_1", latency_ms=latency_ms),
        AssistantTranscript(
            item_id="item_a1",
            response_id="resp_1",
            text=reply,
            interrupted=interrupted,
            heard_text=reply[:20] if interrupted else None,
            audio_ms=4000,
            heard_ms=1500 if interrupted else None,
        ),
    ]
    if interrupted:
        payloads.append(Truncated(item_id="item_a1", requested_ms=1600, heard_ms=1500))
    if with_error:
        payloads.append(ErrorOccurred(code="upstream_timeout", message="slow", source="upstream"))
    payloads.extend(usages)
    payloads.append(SessionEnded(reason=end_reason))
    return [
        ConversationEvent(
            session_id=sid, seq=i, occurred_at=t0 + timedelta(seconds=i), payload=payload
        )
        for i, payload in enumerate(payloads)
    ]


def usage(
    model: str = "gpt-realtime",
    *,
    response_id: str | None = None,
    text_in: int = 0,
    audio_in: int = 0,
    cached_text: int = 0,
    cached_audio: int = 0,
    text_out: int = 0,
    audio_out: int = 0,
    estimated: bool = False,
) -> ResponseUsage:
    """The usage of one response (cached counts are of the inputs, as upstream reports them)."""
    return ResponseUsage(
        response_id=response_id or f"resp_{uuid.uuid4().hex[:8]}",
        model=model,
        input_text_tokens=text_in,
        input_audio_tokens=audio_in,
        cached_text_tokens=cached_text,
        cached_audio_tokens=cached_audio,
        output_text_tokens=text_out,
        output_audio_tokens=audio_out,
        estimated=estimated,
    )


def recording_events(
    session_id: str,
    *,
    first_seq: int,
    at: datetime,
    segments: Sequence[RecordingSegment],
    marks: Sequence[RecordingMark] = (),
    ended: RecordingEnded | None = None,
) -> list[ConversationEvent]:
    """The recording events of a session as the gateway publishes them (segments, marks, then
    the end), numbered from *first_seq*, all at *at*."""
    payloads: list[Any] = [*segments, *marks]
    if ended is not None:
        payloads.append(ended)
    return [
        ConversationEvent(session_id=session_id, seq=first_seq + i, occurred_at=at, payload=p)
        for i, p in enumerate(payloads)
    ]
