"""A whole conversation through the gateway with the official openai SDK: real speech in, the
emulator's tool call answered by a worker from Postgres, the spoken answer out, and the audit
trail on the broker."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from tests.gateway.conftest import EventCollector, RunningGateway, payloads, until_said
from tests.support.clients import EventLog

CHUNK = 2400  # 100 ms at 24 kHz


async def stream(log: EventLog, audio: np.ndarray) -> None:
    """Append audio in 100 ms chunks, as a microphone would (not paced)."""
    for start in range(0, audio.size, CHUNK):
        chunk = audio[start : start + CHUNK].astype("<i2").tobytes()
        await log.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()}
        )


def only_session(gateway: RunningGateway) -> str:
    (session_id,) = gateway.gateway.sessions
    return session_id


async def test_spoken_question_is_answered_from_the_database(
    gateway: RunningGateway, events: EventCollector, say: Any
) -> None:
    """Asking aloud for order 100001 makes the gateway run check_order_status on a worker for the
    secret's customer and the assistant speaks that order's real status; the client never sees
    the function call, the instructions or the tools, and every step is published."""
    async with gateway.sdk("cus_0001") as log:
        created = await log.until("session.created")
        session = created["session"]
        assert "instructions" not in session and "tools" not in session
        assert session["audio"]["output"]["voice"] == "shimmer"
        session_id = only_session(gateway)
        await stream(log, say("What is the status of order one zero zero zero zero one?"))
        assert "100001" in await until_said(log, "shipped", within_s=90)
        kinds = {e["type"] for e in log.events}
        assert not {t for t in kinds if "function_call" in t}
        answer = (await log.until("response.done", within_s=60))["response"]
        # the response made only of the hidden tool call is not shown: one response, spoken
        assert [e["response"]["id"] for e in log.of("response.created")] == [answer["id"]]
        assert answer["output"] and all(o["type"] == "message" for o in answer["output"])
        assert log.of("response.output_audio.delta"), "the answer is spoken"
    published = await events.until(session_id, "session.ended")
    assert [e.seq for e in published] == list(range(len(published)))
    started = payloads(published, "session.started")[0]
    assert started.customer_id == "cus_0001" and started.upstream == "emulator"
    user = payloads(published, "transcript.user")[0]
    assert "100001" in user.text and user.speech_ended_ms > user.speech_started_ms
    called = payloads(published, "tool.called")[0]
    assert called.tool == "check_order_status" and called.arguments == {"order_id": 100001}
    assert called.user_item_id == user.item_id  # the spoken turn the call answers
    completed = payloads(published, "tool.completed")[0]
    assert completed.ok and completed.output["status"] == "shipped"
    assistant = payloads(published, "transcript.assistant")
    assert any("shipped" in a.text.lower() for a in assistant)
    assert payloads(published, "turn.latency")
    assert payloads(published, "session.ended")[0].reason == "client_closed"
