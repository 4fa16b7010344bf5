"""What the session core decides, as values: the thin I/O layer around it carries them out.

The core (:mod:`switchboard.gateway.relay`) never sends anything; every handler returns a list
of these actions, so the relay rules are tested by looking at the list, without sockets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from switchboard.contracts.errors import RealtimeError
from switchboard.contracts.events import EventPayload

__all__ = [
    "Action",
    "CreateResponse",
    "DeliverOutputs",
    "Emit",
    "ForwardUpstream",
    "IgnoreFields",
    "Refuse",
    "SendClient",
    "SessionState",
    "StartTool",
    "StateError",
]


class StateError(RuntimeError):
    """A transition the session's state machine does not allow (a bug, never a client's)."""


class SessionState(enum.Enum):
    """Where one conversation is. Transitions are guarded by :meth:`can_become`."""

    CONNECTING = "connecting"  # before the first upstream session is configured
    LIVE = "live"  # relaying
    SWAPPING = "swapping"  # a new upstream session is being opened (drop or renewal)
    ENDING = "ending"  # the relay stopped; closing, unregistering, publishing the end
    ENDED = "ended"

    def can_become(self, other: SessionState) -> bool:
        return other in _TRANSITIONS[self]


_TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    SessionState.CONNECTING: frozenset({SessionState.LIVE, SessionState.ENDING}),
    SessionState.LIVE: frozenset({SessionState.SWAPPING, SessionState.ENDING}),
    SessionState.SWAPPING: frozenset({SessionState.LIVE, SessionState.ENDING}),
    SessionState.ENDING: frozenset({SessionState.ENDED}),
    SessionState.ENDED: frozenset(),
}


@dataclass(slots=True)
class SendClient:
    """Send this text frame to the client."""

    text: str


@dataclass(slots=True)
class ForwardUpstream:
    """Forward a client event upstream: *raw* as is when the dialect allows, else *data*."""

    raw: str
    data: dict[str, Any]
    audio: bool = False  # an audio chunk: dropped rather than retried across a swap
    #: an audio chunk's samples, decoded when it was checked (for the recording)
    decoded: bytes | None = None


@dataclass(frozen=True, slots=True)
class Emit:
    """Publish this audit event."""

    payload: EventPayload


@dataclass(frozen=True, slots=True)
class Refuse:
    """Answer a refused client event with an ``error`` (and audit and count it)."""

    error: RealtimeError
    client_event_id: str | None


@dataclass(frozen=True, slots=True)
class IgnoreFields:
    """A client set server-owned session fields; they were dropped (audit and count them)."""

    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StartTool:
    """Run a tool call of the model (hidden from the client)."""

    call_id: str
    name: str
    arguments: str
    response_id: str
    #: the latest user item when the response that made the call was created
    user_item_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeliverOutputs:
    """The response that made these calls is done: hand the outputs over once answered."""

    response_id: str


@dataclass(frozen=True, slots=True)
class CreateResponse:
    """Ask the upstream for a response again (it refused ours while one was active)."""


Action = (
    SendClient
    | ForwardUpstream
    | Emit
    | Refuse
    | IgnoreFields
    | StartTool
    | DeliverOutputs
    | CreateResponse
)
