"""Requests for the two phases of a data-changing tool, as the gateway sends them: a proposal
in the customer's turn, a confirmation in a later one (another ``user_item_id``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard.contracts.tools import (
    CANCEL_ACTION_TOOL,
    CONFIRM_ACTION_TOOL,
    PendingAction,
    ToolCallRequest,
    ToolCallResult,
    ToolErrorCode,
    Verification,
)
from switchboard.toolclient import ToolClient

__all__ = [
    "cancel_request",
    "confirm_request",
    "new_session",
    "propose",
    "refused",
    "tool_request",
]

#: the user turn that asked for the change, and the later one that said yes
ASK_ITEM = "item_ask"
YES_ITEM = "item_yes"


def new_session() -> str:
    """A conversation id of the test's own."""
    return f"sess-{uuid.uuid4().hex[:10]}"


def refused(result: ToolCallResult, code: ToolErrorCode) -> str:
    """*result* is a refusal with *code*; its message (what the model reads aloud)."""
    assert not result.ok and result.error is not None, result
    assert result.error.code is code, result.error
    return result.error.message


def tool_request(
    tool: str,
    arguments: dict[str, Any] | None = None,
    *,
    customer_id: str,
    session_id: str = "toolclient",
    call_id: str | None = None,
    user_item_id: str | None = None,
    verification: Verification | None = None,
    timeout_s: float = 10.0,
) -> ToolCallRequest:
    return ToolCallRequest(
        call_id=call_id or f"call_{uuid.uuid4().hex}",
        session_id=session_id,
        customer_id=customer_id,
        tool=tool,
        arguments=arguments or {},
        deadline=datetime.now(UTC) + timedelta(seconds=timeout_s),
        user_item_id=user_item_id,
        verification=verification,
    )


async def propose(
    client: ToolClient,
    tool: str,
    arguments: dict[str, Any],
    *,
    customer_id: str,
    session_id: str,
    user_item_id: str | None = ASK_ITEM,
    **kw: Any,
) -> PendingAction:
    """Send the first phase and return its pending action (failing the test if refused)."""
    result = await client.send(
        tool_request(
            tool,
            arguments,
            customer_id=customer_id,
            session_id=session_id,
            user_item_id=user_item_id,
            **kw,
        )
    )
    action = PendingAction.from_output(result.output) if result.ok else None
    assert action is not None, result
    return action


def confirm_request(
    action_id: str,
    *,
    customer_id: str,
    session_id: str,
    user_item_id: str | None = YES_ITEM,
    **kw: Any,
) -> ToolCallRequest:
    return tool_request(
        CONFIRM_ACTION_TOOL,
        {"action_id": action_id},
        customer_id=customer_id,
        session_id=session_id,
        user_item_id=user_item_id,
        **kw,
    )


def cancel_request(
    action_id: str,
    *,
    customer_id: str,
    session_id: str,
    user_item_id: str | None = YES_ITEM,
    **kw: Any,
) -> ToolCallRequest:
    return tool_request(
        CANCEL_ACTION_TOOL,
        {"action_id": action_id},
        customer_id=customer_id,
        session_id=session_id,
        user_item_id=user_item_id,
        **kw,
    )
