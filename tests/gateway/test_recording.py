"""Recordings on the real stack: both channels of a call written to the Postgres recording store
while it goes (the caller as sent, the assistant as heard), the marks a player follows, the
off switches (per session, per deployment), a store that is down, and a resumed conversation
recorded on by its new gateway."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from switchboard.cli.stack import free_port
from switchboard.contracts.events import ConversationEvent, RecordingSegment
from switchboard.recording import (
    RecordingStore,
    RecordingStoreSettings,
    open_recording_store,
    session_prefix,
)
from tests.gateway.conftest import EventCollector, GatewayFactory, RunningGateway, payloads
from tests.gateway.test_conversation import stream
from tests.gateway.test_resume import connect, drop, resume_secret
from tests.support.clients import EventLog
from tests.support.realtime import user_says

BYTES_PER_MS = 48  # 24 kHz pcm16


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[RecordingStore]:
    """The Postgres recording store the test gateways write to."""
    opened = await open_recording_store(
        RecordingStoreSettings(RECORDING_DATABASE_URL=database_url)  # type: ignore[call-arg]
    )
    yield opened
    await opened.close()


async def speak(log: EventLog, audio: np.ndarray) -> None:
    """Append audio in 100 ms chunks at a microphone's pace (each when its audio has passed)."""
    started = time.monotonic()
    for i, start in enumerate(range(0, audio.size, 2400)):
        chunk = audio[start : start + 2400].astype("<i2").tobytes()
        await asyncio.sleep(max(0.0, started + (i + 1) * 0.1 - time.monotonic()))
        await log.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()}
        )


def segments(events: list[ConversationEvent], channel: str) -> list[RecordingSegment]:
    return [s for s in payloads(events, "recording.segment") if s.channel == channel]


def delivered_ms(log: EventLog, item_id: str) -> float:
    return sum(
        len(base64.b64decode(e["delta"])) / BYTES_PER_MS
        for e in log.of("response.output_audio.delta")
        if e["item_id"] == item_id
    )


async def check_objects(store: RecordingStore, session_id: str, written: list[Any]) -> None:
    """Every segment event names an object of its size and nothing else is stored."""
    keys = await store.keys(session_prefix(session_id))
    assert sorted(keys) == sorted(s.key for s in written)
    for segment in written:
        data = await store.get(segment.key)
        assert len(data) == segment.size == round(segment.duration_ms * BYTES_PER_MS)


async def test_a_spoken_call_is_recorded_in_two_channels(
    gateway: RunningGateway, events: EventCollector, store: RecordingStore, say: Any
) -> None:
    """A question spoken at a microphone's pace and its spoken answer: caller segments as long
    as the audio sent, one assistant segment per answer as long as its audio (after the turn on
    the timeline), the objects in the store, a mark for the user's turn (the answer is placed by its segment), and
    recording.ended (before session.ended) counting them."""
    audio = say("What is the status of order one zero zero zero zero one?")
    async with gateway.sdk("cus_0001") as log:
        await log.until("session.created")
        (session_id,) = gateway.gateway.sessions
        await speak(log, audio)
        answer = (await log.until("response.done", within_s=90))["response"]
        spoken = [o["id"] for o in answer["output"] if o["type"] == "message"]
        said = {item_id: delivered_ms(log, item_id) for item_id in spoken}
    published = await events.until(session_id, "session.ended")
    assert payloads(published, "session.started")[0].recording is True
    caller = segments(published, "caller")
    assert sum(s.duration_ms for s in caller) == pytest.approx(audio.size / 24, abs=0.01)
    assert [s.index for s in caller] == list(range(len(caller)))
    assistant = segments(published, "assistant")
    assert {s.item_id: s.duration_ms for s in assistant} == pytest.approx(said)
    assert all(s.said_ms == s.duration_ms for s in assistant)
    assert {(s.audio_format, s.sample_rate) for s in caller + assistant} == {("pcm16", 24000)}
    await check_objects(store, session_id, caller + assistant)
    user = payloads(published, "transcript.user")[0]
    marks = {(m.item_id, m.role): m for m in payloads(published, "recording.mark")}
    turn = marks[(user.item_id, "user")]
    assert turn.end_ms is not None and 0 < turn.end_ms - turn.start_ms <= audio.size / 24
    assert caller[0].start_ms <= turn.start_ms
    # an answer is placed by its segment (item, start, heard length): no mark of its own
    assert not [m for m in marks.values() if m.role == "assistant"]
    for segment in assistant:
        assert segment.start_ms >= turn.end_ms
    (ended,) = payloads(published, "recording.ended")
    assert ended.segments == len(caller) + len(assistant) and ended.failed_segments == 0
    kinds = [e.payload.type for e in published]
    assert kinds.index("recording.ended") < kinds.index("session.ended")
    assert [e.seq for e in published] == list(range(len(published)))


async def test_an_interrupted_answer_is_recorded_as_heard(
    gateway: RunningGateway, events: EventCollector, store: RecordingStore
) -> None:
    """An answer the client truncates at N ms is N ms long in the assistant channel (the
    object too), its said_ms is all the model produced, and no mark is sent for it (the
    store places it from the segment)."""
    async with gateway.sdk("cus_0003") as log:
        await log.until("session.created")
        (session_id,) = gateway.gateway.sessions
        await user_says(log, "Hello there")
        done = (await log.until("response.done", within_s=60))["response"]
        item_id = done["output"][0]["id"]
        produced = delivered_ms(log, item_id)
        cut = int(produced // 3)
        assert cut > 0
        await log.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": cut,
            }
        )
        await log.until("conversation.item.truncated")
    published = await events.until(session_id, "recording.ended")
    (heard,) = segments(published, "assistant")
    assert (heard.item_id, heard.duration_ms) == (item_id, cut)
    assert heard.said_ms == pytest.approx(produced) and heard.said_ms > cut
    assert len(await store.get(heard.key)) == cut * BYTES_PER_MS
    # the store takes the item's mark from the segment (start, heard length): none is sent
    assert not [m for m in payloads(published, "recording.mark") if m.item_id == item_id]


async def _short_call(gateway: RunningGateway, secret: str | None = None) -> str:
    """Some caller audio and a typed question answered aloud; the session id."""
    async with gateway.sdk("cus_0002", secret=secret) as log:
        await log.until("session.created")
        session_id = next(iter(gateway.gateway.sessions))
        await stream(log, np.zeros(24 * 600, dtype=np.int16))
        await user_says(log, "Hello there")
        await log.until("response.done", within_s=60)
        assert log.of("response.output_audio.delta")
    return session_id


async def test_a_session_minted_without_consent_is_not_recorded(
    gateway: RunningGateway, events: EventCollector, store: RecordingStore
) -> None:
    """A secret minted with "recording": false gives a conversation with no recording events,
    nothing in the store, and session.started saying it is not recorded."""
    session_id = await _short_call(gateway, await gateway.secret("cus_0002", recording=False))
    published = await events.until(session_id, "session.ended")
    assert payloads(published, "session.started")[0].recording is False
    assert not [e for e in published if e.payload.type.startswith("recording.")]
    assert await store.keys(session_prefix(session_id)) == []


async def test_recording_off_for_the_deployment_records_nothing(
    start_gateway: GatewayFactory, events: EventCollector, store: RecordingStore
) -> None:
    """With GATEWAY_RECORDING=false the gateway opens no store and records nothing."""
    gateway = await start_gateway(GATEWAY_RECORDING=False)
    assert gateway.gateway.deps.recordings is None
    session_id = await _short_call(gateway)
    published = await events.until(session_id, "session.ended")
    assert payloads(published, "session.started")[0].recording is False
    assert not [e for e in published if e.payload.type.startswith("recording.")]
    assert await store.keys(session_prefix(session_id)) == []


async def test_a_recording_store_that_is_down_never_breaks_the_call(
    start_gateway: GatewayFactory, events: EventCollector
) -> None:
    """With the recording store unreachable the call goes on as usual; recording.ended counts
    the segments that were lost and none is announced as written."""
    down = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    gateway = await start_gateway(RECORDING_DATABASE_URL=down, RECORDING_TIMEOUT_S=1)
    session_id = await _short_call(gateway)
    published = await events.until(session_id, "session.ended", within_s=60)
    (ended,) = payloads(published, "recording.ended")
    assert ended.segments == 0 and ended.failed_segments >= 2  # the caller's and the answer's
    assert not payloads(published, "recording.segment")
    failed = gateway.gateway.metrics.recording_segments.labels("caller", "failed")._value.get()
    assert failed >= 1


async def test_a_resumed_conversation_is_recorded_on_without_key_collisions(
    start_gateway: GatewayFactory, events: EventCollector, store: RecordingStore
) -> None:
    """A client that dropped and resumed on another gateway: the second gateway numbers its
    segments after the first one's, every key is written once, and the last recording.ended
    counts the segments of both holders."""
    first = await start_gateway(GATEWAY_ID="rec-a")
    second = await start_gateway(GATEWAY_ID="rec-b")
    async with first.raw("cus_0004") as log:
        session_id = (await log.until("session.created"))["session"]["id"]
        await stream(log, np.zeros(24 * 800, dtype=np.int16))
        await user_says(log, "Hello there")
        await log.until("response.done", within_s=60)
        drop(log)
    before = await events.until(session_id, "session.ended")
    secret = await resume_secret(second.http, "cus_0004", session_id)
    async with connect(second.ws, secret) as log:
        await log.until("session.created")
        await stream(log, np.zeros(24 * 800, dtype=np.int16))
        await user_says(log, "Thank you")
        await log.until("response.done", within_s=60)
    published = await events.until_count(session_id, "recording.ended", 2)
    written = payloads(published, "recording.segment")
    keys = [s.key for s in written]
    assert len(keys) == len(set(keys))
    for channel in ("caller", "assistant"):
        indexes = [s.index for s in written if s.channel == channel]
        assert indexes == list(range(len(indexes))), (channel, indexes)
        assert len(segments(before, channel)) < len(indexes)
    ended = payloads(published, "recording.ended")
    assert ended[-1].segments == len(written) and ended[-1].failed_segments == 0
    assert sum(s.duration_ms for s in segments(published, "caller")) == pytest.approx(1600)
    await check_objects(store, session_id, written)
