"""The resume snapshot of one conversation (pure logic, no I/O): what another gateway needs to
carry it on, as typed models, built from the relay core and restored into a new one.

The items are the conversation as the upstream replay sends it (user turns as their
transcripts, assistant turns as the caller heard them, tool calls and their outputs); a tool
call answered but not yet handed to the model keeps its output in ``tool_outputs``, and a call
with neither is re-sent under the same ``call_id`` on resume (the workers' effect records make
a data-changing call happen once). ``pending`` holds the conversation events the broker had not
confirmed yet (redacted, as the publisher sends them), for a resume to publish again.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from switchboard.contracts.events import ConversationEvent
from switchboard.contracts.tools import Verification
from switchboard.gateway.conversation import AssistantItem
from switchboard.gateway.recording import RecordingState
from switchboard.gateway.relay import RelayCore

__all__ = [
    "AssistantText",
    "FunctionCall",
    "FunctionOutput",
    "PendingCall",
    "ServerConfig",
    "Snapshot",
    "SnapshotItem",
    "SnapshotState",
    "UserText",
    "items_of",
    "pending_calls",
    "restore",
    "unanswered",
]


class SnapshotState(enum.StrEnum):
    LIVE = "live"  # a gateway holds it (or held it until it died: the lease tells)
    LOST = "lost"  # the client dropped or the gateway handed it over: resumable for the window
    ENDED = "ended"  # ended cleanly: never resumed


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str


class UserText(_Item):
    kind: Literal["user"] = "user"
    text: str
    spoken: bool = Field(
        default=False, description="A turn of the caller's audio (not a typed or added item)."
    )


class AssistantText(_Item):
    kind: Literal["assistant"] = "assistant"
    text: str = Field(description="What the caller heard of it.")


class FunctionCall(_Item):
    kind: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str = "{}"


class FunctionOutput(_Item):
    kind: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str


SnapshotItem = Annotated[
    UserText | AssistantText | FunctionCall | FunctionOutput, Field(discriminator="kind")
]


class ServerConfig(BaseModel):
    """The server-side configuration the conversation ran with (the resuming gateway applies
    its own policy; these say what the first one used)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    upstream: str
    model: str
    voice: str
    language: str
    audio_format: str


class Snapshot(BaseModel):
    """One conversation, as kept in Redis while it is live and for the resume window after."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    session_id: str
    customer_id: str
    gateway_id: str = Field(description="The gateway that wrote it.")
    state: SnapshotState = SnapshotState.LIVE
    verification: Verification | None = None
    next_seq: int = Field(ge=0, description="The seq of the next conversation event.")
    config: ServerConfig
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="The client's accepted session changes."
    )
    display: bool = False
    items: list[SnapshotItem] = Field(default_factory=list)
    tool_outputs: dict[str, str] = Field(
        default_factory=dict, description="call_id -> output of calls answered by a worker."
    )
    response_cut: bool = Field(
        default=False, description="A response was being spoken at the loss (asked again)."
    )
    recording: RecordingState | None = Field(
        default=None, description="Where the recording is (None: written before recordings)."
    )
    started_at: float
    updated_at: float
    lost_at: float | None = None
    lost_reason: str | None = None
    pending: list[ConversationEvent] = Field(
        default_factory=list,
        description="The conversation's events the broker had not confirmed at this write, "
        "oldest first, as published (redacted, same event_id/seq/occurred_at); at most "
        "broker.PENDING_PER_SESSION, the newest. Published again by a gateway resuming from a "
        "holder that did not let go.",
    )


class PendingCall(BaseModel):
    """A tool call the model made that it has not got an answer for."""

    model_config = ConfigDict(frozen=True)
    call_id: str
    name: str
    arguments: str
    output: str | None = Field(default=None, description="Known output (not re-run).")


def items_of(core: RelayCore) -> tuple[list[SnapshotItem], bool]:
    """The conversation's items as snapshot items, and whether a response was cut (its
    assistant message is left out, as on an upstream drop: it is asked for again)."""
    active = core.conversation.active_response
    out: list[SnapshotItem] = []
    for item in core.conversation.replay_items(skip_response=active):
        kind = item.get("type")
        if kind == "message":
            text = str((item.get("content") or [{}])[0].get("text") or "")
            if item.get("role") == "user":
                spoken = item["id"] in core.spoken_items
                out.append(UserText(id=item["id"], text=text, spoken=spoken))
            else:
                out.append(AssistantText(id=item["id"], text=text))
        elif kind == "function_call" and item.get("call_id"):
            out.append(
                FunctionCall(
                    id=item["id"],
                    call_id=str(item["call_id"]),
                    name=str(item.get("name") or ""),
                    arguments=str(item.get("arguments") or "{}"),
                )
            )
        elif kind == "function_call_output" and item.get("call_id"):
            out.append(
                FunctionOutput(
                    id=item["id"], call_id=str(item["call_id"]), output=str(item.get("output"))
                )
            )
    return out, active is not None


def unanswered(snapshot: Snapshot) -> bool:
    """Whether the conversation ends with a spoken user turn nobody answered, in a session whose
    server answers each turn by itself (server-side turn detection with ``create_response``,
    the policy's default unless the client turned it off): the holder was lost between the
    turn and its answer (a response cut is :attr:`Snapshot.response_cut`). A resume asks for
    that answer, as the lost holder's upstream would have given it; where the client decides
    when the model answers, it still does."""
    last = snapshot.items[-1] if snapshot.items else None
    if not isinstance(last, UserText) or not last.spoken:
        return False  # a typed item is answered when the client asks (response.create)
    audio = snapshot.overrides.get("audio")
    audio_in = audio.get("input") if isinstance(audio, dict) else None
    if isinstance(audio_in, dict) and "turn_detection" in audio_in:
        detection = audio_in["turn_detection"]
        return isinstance(detection, dict) and detection.get("create_response", True) is not False
    return True


def pending_calls(snapshot: Snapshot) -> list[PendingCall]:
    """Calls of the snapshot without an output item, with their output when a worker had
    answered (in the order the model made them)."""
    answered = {i.call_id for i in snapshot.items if isinstance(i, FunctionOutput)}
    return [
        PendingCall(
            call_id=i.call_id,
            name=i.name,
            arguments=i.arguments,
            output=snapshot.tool_outputs.get(i.call_id),
        )
        for i in snapshot.items
        if isinstance(i, FunctionCall) and i.call_id not in answered
    ]


def restore(core: RelayCore, snapshot: Snapshot) -> None:
    """Put the snapshot's conversation and accepted client changes into a new *core*, so the
    upstream link replays it as it would after a drop."""
    conversation = core.conversation
    core.overrides = dict(snapshot.overrides)
    for item in snapshot.items:
        if isinstance(item, UserText):
            conversation.items[item.id] = {
                "id": item.id,
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": item.text}],
            }
            core.user_item_id = item.id
            if item.spoken:
                core.spoken_items.add(item.id)
        elif isinstance(item, AssistantText):
            conversation.items[item.id] = {
                "id": item.id,
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": item.text}],
            }
            said = AssistantItem(item.id, None, text=item.text, finished=True, published=True)
            conversation.assistant[item.id] = said
        else:
            conversation.items[item.id] = item.model_dump(exclude={"kind"}) | {"type": item.kind}
