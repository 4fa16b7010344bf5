"""Realtime conversation helpers shared by the emulator and gateway tests: the order tools a
test session offers, a user's typed turn, streamed audio, and how a session ended."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from switchboard.contracts.client_events import audio_append, response_create, user_text
from tests.support.clients import EventLog
from tests.support.emulator import pcm_b64

__all__ = ["CHUNK", "ORDER_TOOLS", "ended_with", "stream", "user_says"]

CHUNK = 2400  # 100 ms at 24 kHz

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
    await log.send(user_text(text))
    await log.send(response_create())


async def ended_with(log: EventLog) -> tuple[dict[str, object], int]:
    """The error event the gateway sent last, and the close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await log.recv()
    errors = log.of("error")
    assert errors, "an error event precedes the close"
    assert closed.value.rcvd is not None
    return errors[-1]["error"], closed.value.rcvd.code


async def stream(
    log: EventLog, audio: bytes | np.ndarray, *, chunk_bytes: int | None = None
) -> None:
    """Append audio in 100 ms chunks, as a microphone would."""
    if isinstance(audio, np.ndarray):
        for start in range(0, audio.size, CHUNK):
            await log.send(audio_append(pcm_b64(audio[start : start + CHUNK])))
        return
    step = chunk_bytes or 800
    for start in range(0, len(audio), step):
        await log.send(audio_append(base64.b64encode(audio[start : start + step]).decode()))
