"""Display events: what the gateway sends to clients that ask for them, beside the Realtime events.

A client opts in with the query parameter ``switchboard_events=1`` on ``/v1/realtime`` (works
for browsers and SDKs alike). Clients that do not opt in never see these events, so strict
clients that validate every server event against the official types are never surprised.

Every event has a ``type`` starting with ``switchboard.`` and an ``event_id``. Tool cards carry
only UI-safe data: the tool's own output (which the worker already shaped for a shopper) and a
one-line summary; never the customer id, never the arguments of another customer.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "DISPLAY_EVENTS_QUERY_PARAM",
    "DisplayEvent",
    "SessionInfo",
    "ToolCompletedDisplay",
    "ToolStartedDisplay",
    "parse_display_event",
]

#: Query parameter on ``/v1/realtime`` that turns display events on (value ``1``).
DISPLAY_EVENTS_QUERY_PARAM = "switchboard_events"


class _Display(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(default_factory=lambda: f"sb_{uuid.uuid4().hex}")


class SessionInfo(_Display):
    """Sent once after ``session.created``: who the gateway believes the caller is."""

    type: Literal["switchboard.session"] = "switchboard.session"
    session_id: str
    customer_id: str
    upstream: str = Field(description="emulator, azure, azure-preview or openai.")
    model: str


class ToolStartedDisplay(_Display):
    type: Literal["switchboard.tool.started"] = "switchboard.tool.started"
    call_id: str
    tool: str
    summary: str = Field(description="One line for the page, e.g. 'Looking up order 100123'.")


class ToolCompletedDisplay(_Display):
    type: Literal["switchboard.tool.completed"] = "switchboard.tool.completed"
    call_id: str
    tool: str
    ok: bool
    summary: str
    card: dict[str, Any] | None = Field(
        default=None, description="The tool's output (the worker's compact JSON), for a card."
    )
    error_code: str | None = None
    duration_ms: float


DisplayEvent = Annotated[
    SessionInfo | ToolStartedDisplay | ToolCompletedDisplay, Field(discriminator="type")
]

_adapter: TypeAdapter[DisplayEvent] = TypeAdapter(DisplayEvent)


def parse_display_event(data: bytes | str) -> DisplayEvent:
    """Parse a display event; raises ``pydantic.ValidationError`` when malformed."""
    return _adapter.validate_json(data)
