"""Realtime conversation helpers shared by the emulator and gateway tests: the order tools a
test session offers, a user's typed turn, and how a session ended."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.clients import EventLog

__all__ = ["ORDER_TOOLS", "ended_with", "user_says"]

ORDER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "check_order_status",
        "description": "Look up the status of one of the customer's orders.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "integer", "description": "The order number"}},
            "required": ["order_id"],
        },
    },
    {
        "type": "function",
        "name": "cancel_order",
        "description": "Cancel an order that has not shipped yet.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "integer"}, "reason": {"type": "string"}},
            "required": ["order_id", "reason"],
        },
    },
]


async def user_says(log: EventLog, text: str) -> None:
    """A typed user message, then ``response.create``."""
    await log.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    await log.send({"type": "response.create"})


async def ended_with(log: EventLog) -> tuple[dict[str, object], int]:
    """The error event the gateway sent last, and the close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await log.recv()
    errors = log.of("error")
    assert errors, "an error event precedes the close"
    assert closed.value.rcvd is not None
    return errors[-1]["error"], closed.value.rcvd.code
