"""Typed contracts every Switchboard service speaks: broker messages and Realtime events.

Every message is a pydantic model with a ``type`` literal and a ``version``; JSON on the wire
(``model_dump_json``), parsed back through one ``TypeAdapter`` per union.
"""

from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    ErrorOccurred,
    EventPayload,
    SessionEnded,
    SessionStarted,
    ToolCalled,
    ToolCompleted,
    TurnLatency,
    UserTranscript,
    encode_conversation_events,
    group_by_type,
    is_event_batch,
    parse_conversation_event,
    parse_conversation_events,
    split_conversation_events,
)
from switchboard.contracts.tools import (
    ToolCallRequest,
    ToolCallResult,
    ToolCatalogEntry,
    ToolError,
    ToolErrorCode,
    TraceContext,
    parse_tool_call_request,
    parse_tool_call_result,
)

__all__ = [
    "AssistantTranscript",
    "ConversationEvent",
    "ErrorOccurred",
    "EventPayload",
    "SessionEnded",
    "SessionStarted",
    "ToolCallRequest",
    "ToolCallResult",
    "ToolCalled",
    "ToolCatalogEntry",
    "ToolCompleted",
    "ToolError",
    "ToolErrorCode",
    "TraceContext",
    "TurnLatency",
    "UserTranscript",
    "encode_conversation_events",
    "group_by_type",
    "is_event_batch",
    "parse_conversation_event",
    "parse_conversation_events",
    "parse_tool_call_request",
    "parse_tool_call_result",
    "split_conversation_events",
]
