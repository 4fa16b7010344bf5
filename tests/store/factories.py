"""Conversation events as the gateway would publish them, for the store tests and bench."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    ErrorOccurred,
    SessionEnded,
    SessionStarted,
    ToolCalled,
    ToolCompleted,
    Truncated,
    TurnLatency,
    UserTranscript,
)

__all__ = ["conversation", "new_session_id"]


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
            language="en",
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
    payloads.append(SessionEnded(reason=end_reason))
    return [
        ConversationEvent(
            session_id=sid, seq=i, occurred_at=t0 + timedelta(seconds=i), payload=payload
        )
        for i, payload in enumerate(payloads)
    ]
