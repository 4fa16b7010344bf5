"""Conversation events: what the gateway publishes and the conversation store persists.

One envelope (:class:`ConversationEvent`) with a unique id, the session, a per-session sequence
number and a time, around one typed payload chosen by its ``type`` literal.

On the broker a message holds one event (a JSON object) or several events of one payload type (a
JSON array, routed like each of them): a busy gateway sends what it has buffered in as few
messages as the routing keys allow, because a consumer's cost is mostly per message.
:func:`encode_conversation_events` writes either form, :func:`parse_conversation_events` reads
both, and :func:`split_conversation_events` takes an unreadable array apart so that a consumer can
keep the good events and dead-letter the rest one by one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from switchboard.contracts.tools import Verification

__all__ = [
    "AssistantTranscript",
    "ConversationEvent",
    "ErrorOccurred",
    "EventPayload",
    "RecordingEnded",
    "RecordingMark",
    "RecordingSegment",
    "ResponseUsage",
    "SessionEnded",
    "SessionResumed",
    "SessionStarted",
    "ToolCalled",
    "ToolCompleted",
    "Truncated",
    "TurnLatency",
    "UserTranscript",
    "encode_conversation_events",
    "group_by_type",
    "is_event_batch",
    "parse_conversation_event",
    "parse_conversation_events",
    "split_conversation_events",
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
    verification: Verification | None = Field(
        default=None,
        description=(
            "The caller's verification level at the start, on channels that have levels (phone "
            "calls start unverified); None: the shop's backend authenticated the customer."
        ),
    )
    recording: bool | None = Field(
        default=None,
        description=(
            "Whether the conversation is recorded (off for the deployment, or for this session "
            "when the shop's backend minted its secret without consent); None: not said."
        ),
    )


class SessionEnded(_Payload):
    type: Literal["session.ended"] = "session.ended"
    reason: str = Field(
        description="client_closed, idle, max_duration, admin, shutdown, error, ..."
    )
    detail: str | None = None


class SessionResumed(_Payload):
    """The conversation goes on after its client connection (or its gateway) was lost: a
    gateway redeemed a resume secret, rebuilt the conversation from its snapshot and replayed
    it to a new upstream session. Same ``session_id``; ``seq`` continues. A ``session.ended``
    recorded earlier (the drop) is superseded: the conversation is open again until a later
    ``session.ended``."""

    type: Literal["session.resumed"] = "session.resumed"
    gateway: str = Field(description="Which gateway instance holds the conversation now.")
    previous_gateway: str | None = Field(
        default=None, description="The gateway that held it before the loss, if known."
    )
    reason: str = Field(
        description="client_reconnect (socket dropped), drain (gateway handed it over), ..."
    )
    items_replayed: int = Field(ge=0, description="Conversation items replayed upstream.")
    gap_ms: float | None = Field(
        default=None, ge=0, description="From the loss (as the snapshot saw it) to the resume."
    )


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
    user_item_id: str | None = Field(
        default=None,
        description="The latest user item when the model called (see ToolCallRequest).",
    )


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


class ResponseUsage(_Payload):
    """Token usage of one upstream response (``response.done``'s ``usage``), the basis of cost.
    ``estimated`` is true when the upstream only estimates (the local emulator)."""

    type: Literal["response.usage"] = "response.usage"
    response_id: str | None = None
    model: str = Field(description="The upstream model (or deployment) that answered.")
    input_text_tokens: int = Field(default=0, ge=0)
    input_audio_tokens: int = Field(default=0, ge=0)
    cached_text_tokens: int = Field(default=0, ge=0, description="Of the input text tokens.")
    cached_audio_tokens: int = Field(default=0, ge=0, description="Of the input audio tokens.")
    output_text_tokens: int = Field(default=0, ge=0)
    output_audio_tokens: int = Field(default=0, ge=0)
    estimated: bool = False


RecordingChannel = Literal["caller", "assistant"]


class RecordingSegment(_Payload):
    """A stretch of one channel of the conversation's recording, written to the recording
    store (:mod:`switchboard.recording`) before this event is published: the broker carries the
    reference, never the audio. Times are on the recording's timeline (0 = the session's start,
    wall clock): the caller channel is the audio as received; the assistant channel is the
    audio **as heard**, one segment per assistant item, cut where the caller interrupted it."""

    type: Literal["recording.segment"] = "recording.segment"
    channel: RecordingChannel
    index: int = Field(ge=0, description="The segment's number within its channel, from 0.")
    start_ms: float = Field(ge=0)
    duration_ms: float = Field(ge=0)
    audio_format: Literal["pcm16", "pcmu", "pcma"] = Field(
        description="Raw samples, mono: pcm16 (little-endian 16-bit), pcmu or pcma (G.711)."
    )
    sample_rate: int = Field(gt=0)
    key: str = Field(min_length=1, max_length=512, description="The object's key in the store.")
    size: int = Field(ge=0, description="Bytes in the object.")
    item_id: str | None = Field(
        default=None, description="Assistant segments: the item whose audio this is."
    )
    said_ms: float | None = Field(
        default=None,
        description=(
            "Assistant segments: how much audio the model produced for the item; more than "
            "duration_ms when the caller interrupted it."
        ),
    )


class RecordingMark(_Payload):
    """Where a conversation item lies on the recording's timeline (a user turn's speech; an
    assistant item nothing of which was heard), so a player can follow the transcript. An
    assistant item with audio is placed by its ``recording.segment`` (``item_id``,
    ``start_ms``, ``duration_ms`` as heard): consumers take its mark from there (gateways before
    2026-12-05 also sent a mark for it, with the same figures)."""

    type: Literal["recording.mark"] = "recording.mark"
    item_id: str
    role: Literal["user", "assistant"]
    start_ms: float = Field(ge=0)
    end_ms: float | None = Field(default=None, ge=0)


class RecordingEnded(_Payload):
    """The recording is complete: every segment it has was published before this event."""

    type: Literal["recording.ended"] = "recording.ended"
    segments: int = Field(ge=0, description="Segments written, both channels.")
    duration_ms: float = Field(ge=0)
    failed_segments: int = Field(
        default=0, ge=0, description="Segments the store did not take (lost from the recording)."
    )


EventPayload = Annotated[
    SessionStarted
    | SessionResumed
    | SessionEnded
    | UserTranscript
    | AssistantTranscript
    | Truncated
    | ToolCalled
    | ToolCompleted
    | ErrorOccurred
    | TurnLatency
    | ResponseUsage
    | RecordingSegment
    | RecordingMark
    | RecordingEnded,
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


_batch_adapter: TypeAdapter[list[ConversationEvent]] = TypeAdapter(list[ConversationEvent])


def is_event_batch(data: bytes | str) -> bool:
    """Whether a message body is a JSON array (several events) rather than one event."""
    head = data[:1]
    if head.isspace():
        head = data.lstrip()[:1]
    return head in (b"[", "[")


def parse_conversation_events(data: bytes | str) -> list[ConversationEvent]:
    """The events of one broker message: a JSON object (one event) or a JSON array of events;
    raises ``pydantic.ValidationError`` when anything in it is malformed."""
    if is_event_batch(data):
        return _batch_adapter.validate_json(data)
    return [_event_adapter.validate_json(data)]


def split_conversation_events(data: bytes | str) -> list[bytes] | None:
    """The elements of a message that is a JSON array, each as a message body of its own (to be
    parsed, or dead-lettered, one by one); ``None`` when the message is not a readable array."""
    if not is_event_batch(data):
        return None
    try:
        elements = json.loads(data)
    except ValueError:
        return None
    if not isinstance(elements, list):
        return None
    return [json.dumps(element, separators=(",", ":")).encode() for element in elements]


def encode_conversation_events(events: Sequence[ConversationEvent]) -> bytes:
    """One message body for *events*: the event itself when there is one, else a JSON array."""
    if not events:
        raise ValueError("no events to encode")
    if len(events) == 1:
        return events[0].model_dump_json().encode()
    return _batch_adapter.dump_json(list(events))


def group_by_type(events: Sequence[ConversationEvent]) -> dict[str, list[ConversationEvent]]:
    """*events* by payload type (each group in the order given): one message per group keeps
    every message routable by its events' type."""
    groups: dict[str, list[ConversationEvent]] = {}
    for event in events:
        groups.setdefault(event.payload.type, []).append(event)
    return groups
