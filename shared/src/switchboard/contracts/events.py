"""Conversation events: what the gateway publishes and the conversation store persists.

One envelope (:class:`ConversationEvent`) with a unique id, the session, a per-session sequence
number and a time, around one typed payload chosen by its ``type`` literal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "AssistantTranscript",
    "ConversationEvent",
    "ErrorOccurred",
    "EventPayload",
    "SessionEnded",
    "SessionStarted",
    "ToolCalled",
    "ToolCompleted",
    "Truncated",
    "TurnLatency",
    "UserTranscript",
    "parse_conversation_event",
]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionStarted(_Payload):
    type: Literal["session.started"] = "session.started"
    customer_id: str
    gateway: str = Field(description="Which gateway instance holds the conversation.")
    upstream: str = Field(description="emulator, azure, azure-preview or openai.")
    model: str
    voice: str | None = None
    language: str | None = None


class SessionEnded(_Payload):
    type: Literal["session.ended"] = "session.ended"
    reason: str = Field(
        description="client_closed, idle, max_duration, admin, shutdown, error, ..."
    )
    detail: str | None = None


class UserTranscript(_Payload):
    type: Literal["transcript.user"] = "transcript.user"
    item_id: str
    text: str
    speech_started_ms: int | None = Field(default=None, description="Offset in the input audio.")
    speech_ended_ms: int | None = None


class AssistantTranscript(_Payload):
    type: Literal["transcript.assistant"] = "transcript.assistant"
    item_id: str
    response_id: str | None = None
    text: str = Field(description="Everything the model said for this item.")
    interrupted: bool = False
    heard_text: str | None = Field(
        default=None, description="What the user actually heard, when interrupted."
    )
    audio_ms: int | None = Field(default=None, description="Audio produced for the item.")
    heard_ms: int | None = Field(default=None, description="Audio played before interruption.")


class Truncated(_Payload):
    type: Literal["transcript.truncated"] = "transcript.truncated"
    item_id: str
    requested_ms: int
    heard_ms: int = Field(description="The clamped position actually forwarded upstream.")


class ToolCalled(_Payload):
    type: Literal["tool.called"] = "tool.called"
    call_id: str
    tool: str
    arguments: dict[str, Any]


class ToolCompleted(_Payload):
    type: Literal["tool.completed"] = "tool.completed"
    call_id: str
    tool: str
    ok: bool
    output: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    duration_ms: float
    worker: str | None = None


class ErrorOccurred(_Payload):
    type: Literal["error"] = "error"
    code: str
    message: str
    source: Literal["client", "upstream", "gateway", "tool"] = "gateway"


class TurnLatency(_Payload):
    type: Literal["turn.latency"] = "turn.latency"
    response_id: str | None = None
    latency_ms: float = Field(ge=0, description="User speech end → first response audio.")


EventPayload = Annotated[
    SessionStarted
    | SessionEnded
    | UserTranscript
    | AssistantTranscript
    | Truncated
    | ToolCalled
    | ToolCompleted
    | ErrorOccurred
    | TurnLatency,
    Field(discriminator="type"),
]


class ConversationEvent(BaseModel):
    """Envelope of every conversation event on the broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=64)
    session_id: str = Field(min_length=1, max_length=128)
    seq: int = Field(ge=0, description="Per-session sequence number, starting at 0.")
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    payload: EventPayload


_event_adapter: TypeAdapter[ConversationEvent] = TypeAdapter(ConversationEvent)


def parse_conversation_event(data: bytes | str) -> ConversationEvent:
    """Parse an event from the wire; raises ``pydantic.ValidationError`` when malformed."""
    return _event_adapter.validate_json(data)
