"""Tool-call messages between the session gateway and the tool workers, and the tool catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

__all__ = [
    "CANCEL_ACTION_TOOL",
    "CONFIRM_ACTION_TOOL",
    "GUEST_CUSTOMER_ID",
    "NEEDS_CONFIRMATION",
    "TOOL_NAME_PATTERN",
    "VERIFY_CALLER_TOOL",
    "PendingAction",
    "ProposedChange",
    "ToolCallRequest",
    "ToolCallResult",
    "ToolCatalogEntry",
    "ToolError",
    "ToolErrorCode",
    "TraceContext",
    "Verification",
    "parse_tool_call_request",
    "parse_tool_call_result",
]

TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"

#: The tool that commits a pending action (the second phase of a data-changing tool).
CONFIRM_ACTION_TOOL = "confirm_action"
#: The tool that drops a pending action when the customer says no.
CANCEL_ACTION_TOOL = "cancel_action"
#: The tool that checks who is calling (phone callers start ``unverified``); a successful
#: answer carries ``ToolCallResult.verification`` and the gateway raises the session's level.
VERIFY_CALLER_TOOL = "verify_caller"
#: The reserved customer an unknown phone number's call is bound to: it owns nothing and can
#: never be verified, so account tools always refuse it (general questions and a transfer work).
GUEST_CUSTOMER_ID = "cus_guest"
#: ``status`` of a data-changing tool's first answer: nothing changed yet.
NEEDS_CONFIRMATION = "needs_confirmation"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TraceContext(_Message):
    """W3C trace context carried across the broker so one call can be followed end to end."""

    traceparent: str | None = None
    tracestate: str | None = None


class ToolErrorCode(StrEnum):
    """Machine-readable reasons a tool call did not produce an output."""

    INVALID_ARGUMENTS = "invalid_arguments"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_TOOL = "unknown_tool"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    #: a pending action was not confirmed in time (nothing changed)
    EXPIRED = "expired"
    #: a confirmation came before the customer said anything after the proposal
    AWAITING_CUSTOMER = "awaiting_customer"
    #: the change needs a verified caller (phone callers start unverified)
    VERIFICATION_REQUIRED = "verification_required"


class Verification(StrEnum):
    """How sure a channel is of who is calling, where it has levels (the phone bridge): caller
    ID alone is ``unverified``; a caller who proved it (postal code on file) is ``verified``.
    Sessions whose customer the shop's backend authenticated carry no level (``None``)."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"


class ToolError(_Message):
    """Why a tool call failed: a code for programs and a message a voice model can read aloud."""

    code: ToolErrorCode
    message: str
    field: str | None = Field(default=None, description="The argument at fault, if any.")


class ToolCallRequest(_Message):
    """Gateway → worker: run one tool for the authenticated customer of one session."""

    type: Literal["tool.call.request"] = "tool.call.request"
    version: Literal[1] = 1
    call_id: str = Field(min_length=1, max_length=128)
    session_id: str = Field(min_length=1, max_length=128)
    customer_id: str = Field(
        min_length=1,
        max_length=64,
        description="From the authenticated session (the client secret), never from the model.",
    )
    tool: str = Field(pattern=TOOL_NAME_PATTERN)
    arguments: dict[str, Any] = Field(default_factory=dict)
    deadline: datetime = Field(description="Absolute UTC time after which the result is useless.")
    trace: TraceContext = Field(default_factory=TraceContext)
    user_item_id: str | None = Field(
        default=None,
        max_length=128,
        description=(
            "The id of the conversation's latest user item (the customer spoke or typed) when "
            "the model called the tool. Set by the gateway from what it relayed, never by the "
            "model: a confirmation is refused unless it differs from its proposal's."
        ),
    )
    verification: Verification | None = Field(
        default=None,
        description="The caller's verification level where the channel has levels, else None.",
    )

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("deadline must carry a timezone")
        return value.astimezone(UTC)

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.deadline


class ToolCallResult(_Message):
    """Worker → gateway: the outcome of one call (exactly one of ``output`` / ``error``)."""

    type: Literal["tool.call.result"] = "tool.call.result"
    version: Literal[1] = 1
    call_id: str = Field(min_length=1, max_length=128)
    ok: bool
    output: dict[str, Any] | None = None
    error: ToolError | None = None
    duration_ms: float = Field(ge=0)
    worker: str = Field(description="Which worker answered (host/process name).")
    replayed: bool = Field(
        default=False, description="True when a mutating tool returned its recorded earlier result."
    )
    verification: Verification | None = Field(
        default=None,
        description=(
            "Set only by the tool that checks who is calling (verify_caller): the caller's "
            "verification level from now on. The gateway puts it in every later call's envelope "
            "of the conversation; any other tool's value is ignored."
        ),
    )

    @classmethod
    def failure(
        cls,
        call_id: str,
        code: ToolErrorCode,
        message: str,
        *,
        worker: str,
        field: str | None = None,
        duration_ms: float = 0,
    ) -> ToolCallResult:
        """A failed result: *code* for programs, *message* for the voice model to read aloud;
        *worker* says who answered (a worker, or the gateway or client when no worker did)."""
        return cls(
            call_id=call_id,
            ok=False,
            error=ToolError(code=code, message=message, field=field),
            duration_ms=duration_ms,
            worker=worker,
        )

    @model_validator(mode="after")
    def _one_of(self) -> ToolCallResult:
        if self.ok and self.error is not None:
            raise ValueError("a successful result carries no error")
        if not self.ok and self.error is None:
            raise ValueError("a failed result must carry an error")
        return self

    def model_text(self) -> str:
        """The JSON string handed to the voice model as ``function_call_output``."""
        if self.ok:
            return _compact_json(self.output or {})
        assert self.error is not None
        return _compact_json({"error": self.error.model_dump(mode="json", exclude_none=True)})


class ToolCatalogEntry(_Message):
    """One tool a live worker serves, as the voice model should see it."""

    type: Literal["tool.catalog.entry"] = "tool.catalog.entry"
    version: Literal[1] = 1
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(description="JSON schema of the arguments (an object).")
    tool_version: str = Field(default="1", description="The tool implementation's version.")
    mutating: bool = False
    confirmation: bool = Field(
        default=False,
        description=(
            "Runs in two phases: the call proposes (answers needs_confirmation, changes "
            "nothing) and confirm_action commits it after the customer said yes."
        ),
    )
    verification_exempt: bool = Field(
        default=False,
        description=(
            "Runs for an unverified caller too (general questions, a transfer, verify_caller "
            "itself); every other tool answers verification_required while the envelope's "
            "verification is 'unverified'."
        ),
    )

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError("tool parameters must be a JSON schema of type 'object'")
        if "customer_id" in value.get("properties", {}):
            raise ValueError("a tool schema must never ask the model for a customer id")
        return value

    def realtime_tool(self) -> dict[str, Any]:
        """The entry in Realtime ``session.tools`` form."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


class ProposedChange(_Message):
    """One thing a pending action would change, as the customer should hear it."""

    field: str = Field(description="What changes, e.g. 'email' or 'order 100123 status'.")
    before: str | None = None
    after: str | None = None


class PendingAction(_Message):
    """A data-changing tool's first answer (its ``output``): nothing has changed; the change
    waits for the customer's yes, given in a later turn, and expires at ``expires_at``."""

    status: Literal["needs_confirmation"] = "needs_confirmation"
    action_id: str = Field(min_length=1, max_length=64)
    tool: str = Field(pattern=TOOL_NAME_PATTERN)
    read_back: str = Field(
        min_length=1, description="What to say aloud, ending with a yes/no question."
    )
    changes: list[ProposedChange] = Field(default_factory=list)
    expires_at: datetime
    instructions: str = Field(
        default=(
            "Nothing has changed yet. Read read_back to the customer and wait for their answer. "
            "Only after they say yes, call confirm_action with this action_id; if they say no, "
            "call cancel_action. Never confirm in the same turn as the proposal."
        )
    )

    @classmethod
    def from_output(cls, output: dict[str, Any] | None) -> PendingAction | None:
        """The pending action in a tool's output, or None when the output is anything else."""
        if not output or output.get("status") != NEEDS_CONFIRMATION:
            return None
        return cls.model_validate(output)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


_request_adapter: TypeAdapter[ToolCallRequest] = TypeAdapter(ToolCallRequest)
_result_adapter: TypeAdapter[ToolCallResult] = TypeAdapter(ToolCallResult)


def parse_tool_call_request(data: bytes | str) -> ToolCallRequest:
    """Parse a request from the wire; raises ``pydantic.ValidationError`` when malformed."""
    return _request_adapter.validate_json(data)


def parse_tool_call_result(data: bytes | str) -> ToolCallResult:
    """Parse a result from the wire; raises ``pydantic.ValidationError`` when malformed."""
    return _result_adapter.validate_json(data)
