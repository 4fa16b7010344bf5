"""Interruption: a client's truncation is clamped to the audio the gateway actually delivered to
that client for that item, and the audit trail records what the user heard."""

from __future__ import annotations

import base64

from tests.gateway.conftest import EventCollector, RunningGateway, payloads
from tests.support.realtime import user_says


async def test_truncation_beyond_the_delivered_audio_is_clamped(
    gateway: RunningGateway, events: EventCollector
) -> None:
    """Asking to cut an answer 5 s after its end (a common client bug, which the upstream
    rejects) is forwarded as the delivered length: the upstream accepts it, no error reaches the
    client, and the trail gets the requested and heard positions and an interrupted transcript."""
    async with gateway.sdk("cus_0003") as log:
        await log.until("session.created")
        (session_id,) = gateway.gateway.sessions
        await user_says(log, "Hello there")
        done = (await log.until("response.done", within_s=60))["response"]
        item_id = done["output"][0]["id"]
        delivered_ms = sum(  # whole ms per delta of 24 kHz pcm16
            len(base64.b64decode(e["delta"])) // 48
            for e in log.of("response.output_audio.delta")
            if e["item_id"] == item_id
        )
        assert delivered_ms > 0
        await log.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": delivered_ms + 5000,
            }
        )
        truncated = await log.until("conversation.item.truncated")
        assert truncated["audio_end_ms"] == delivered_ms
        assert not log.of("error")
    published = await events.until(session_id, "session.ended")
    cut = payloads(published, "transcript.truncated")[0]
    assert (cut.item_id, cut.requested_ms, cut.heard_ms) == (
        item_id,
        delivered_ms + 5000,
        delivered_ms,
    )
    said = next(a for a in payloads(published, "transcript.assistant") if a.item_id == item_id)
    assert said.interrupted and said.heard_ms == delivered_ms == said.audio_ms
    assert said.heard_text == said.text
