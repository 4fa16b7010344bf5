"""Recordings in the conversation store, on the real stack: raw segments written to the Postgres
recording store and the gateway's recording events published to RabbitMQ go in; the assembled
two-channel WAV, its timeline, range requests, audited playback and deletion come out."""

from __future__ import annotations

import asyncio
import io
import os
import random
import time
import wave
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest

from switchboard.amqp import QUEUE_HEADER, REASON_HEADER, Topology
from switchboard.cli.stack import Service
from switchboard.contracts.events import (
    ConversationEvent,
    RecordingEnded,
    RecordingMark,
    RecordingSegment,
    TurnLatency,
)
from switchboard.recording import RecordingStore, segment_key, session_prefix
from switchboard.recording.assemble import ulaw_to_pcm16
from switchboard.store.assembler import assemble_recording
from switchboard.store.deletion import purge_older_than
from switchboard.store.playback_tickets import issue_ticket
from switchboard.store.recording_ingest import recording_rows
from switchboard.store.recording_sweep import sweep_abandoned
from switchboard.store.service import StoreService
from tests.infra import InfraUrls
from tests.store.conftest import ACCOUNTS, Publisher, WaitStored
from tests.store.factories import conversation, new_session_id, recording_events

ANALYST = ("ana", ACCOUNTS["ana"][0])
ADMIN = ("root", ACCOUNTS["root"][0])
RATE = 8000
#: µ-law bytes of the caller's two segments and the assistant's one (distinct samples)
CALLER_A, CALLER_B, ASSISTANT = 0x80, 0x8F, 0x0F


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


def _recordings(store: StoreService) -> RecordingStore:
    assert store.recordings is not None
    return store.recordings


async def _until(check: Callable[[], Awaitable[Any]], *, within_s: float = 30) -> Any:
    """Poll *check* until it returns something truthy (and return it)."""
    deadline = time.monotonic() + within_s
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def _status(db: asyncpg.Pool, sid: str) -> str | None:
    status: str | None = await db.fetchval(
        "SELECT status FROM audit.recording WHERE session_id = $1", sid
    )
    return status


async def _wait_status(db: asyncpg.Pool, sid: str, wanted: str) -> None:
    assert await _until(lambda: _is(db, sid, wanted)), await _status(db, sid)


async def _is(db: asyncpg.Pool, sid: str, wanted: str) -> bool:
    return await _status(db, sid) == wanted


def _segment(
    sid: str,
    channel: str,
    index: int,
    start_ms: float,
    ms: int,
    *,
    item: str | None = None,
    said_ms: float | None = None,
    size: int | None = None,
) -> RecordingSegment:
    return RecordingSegment(
        channel=channel,  # type: ignore[arg-type]
        index=index,
        start_ms=start_ms,
        duration_ms=ms,
        audio_format="pcmu",
        sample_rate=RATE,
        key=segment_key(sid, channel, index),
        size=size if size is not None else ms * RATE // 1000,
        item_id=item,
        said_ms=said_ms,
    )


@dataclass
class Call:
    sid: str
    events: list[ConversationEvent]
    recording: list[ConversationEvent]


async def _recorded_call(
    store: StoreService,
    *,
    started_at: datetime | None = None,
    with_end: bool = True,
    assistant_mark: bool = False,
) -> Call:
    """A conversation with its recording: the caller speaks 0-1000 ms and 1000-2000 ms (two
    segments), the assistant's item_a1 is heard 1200-1600 ms of the 1200 ms it said (cut by a
    barge-in the transcript does not mention). The segments are written to the recording store
    first, as the gateway does. The user's turn has a mark; the assistant's item is placed by
    its segment, as gateways do since 2026-12-05 (*assistant_mark*: also a mark for it, with the
    same figures, as gateways sent before)."""
    sid = new_session_id("rec")
    events = conversation(sid, interrupted=False, recording=True, started_at=started_at)
    segments = [
        _segment(sid, "caller", 0, 0, 1000),
        _segment(sid, "caller", 1, 1000, 1000),
        _segment(sid, "assistant", 0, 1200, 400, item="item_a1", said_ms=1200),
    ]
    payloads = {0: CALLER_A, 1: CALLER_B}
    for seg in segments:
        byte = ASSISTANT if seg.channel == "assistant" else payloads[seg.index]
        await _recordings(store).put(seg.key, bytes([byte]) * seg.size)
    marks = [RecordingMark(item_id="item_u1", role="user", start_ms=100, end_ms=1900)]
    if assistant_mark:
        marks.append(RecordingMark(item_id="item_a1", role="assistant", start_ms=1200, end_ms=1600))
    ended = RecordingEnded(segments=3, duration_ms=2000) if with_end else None
    recording = recording_events(
        sid,
        first_seq=len(events),
        at=events[-1].occurred_at,
        segments=segments,
        marks=marks,
        ended=ended,
    )
    return Call(sid, events, recording)


@pytest.mark.parametrize("old_gateway", [False, True])
def test_an_assistant_segment_is_its_items_mark(old_gateway: bool) -> None:
    """An assistant segment with an item places that item (start, start + heard length), as a
    mark would; a gateway that also sends the mark (before 2026-12-05) gives the same row; a
    caller segment, or an assistant one without an item, is no mark."""
    sid = new_session_id("rec")
    segments = [
        _segment(sid, "caller", 0, 0, 1000),
        _segment(sid, "assistant", 0, 1200, 400, item="item_a1", said_ms=1200),
        _segment(sid, "assistant", 1, 1700, 300),
    ]
    marks = [RecordingMark(item_id="item_u1", role="user", start_ms=100, end_ms=900)]
    if old_gateway:
        marks.append(RecordingMark(item_id="item_a1", role="assistant", start_ms=1200, end_ms=1600))
    events = recording_events(
        sid, first_seq=0, at=datetime.now(UTC), segments=segments, marks=marks
    )
    assert recording_rows(events).marks == [
        (sid, "item_a1", "assistant", 1200, 1600),
        (sid, "item_u1", "user", 100, 900),
    ]


async def _publish_shuffled(publisher: Publisher, events: list[ConversationEvent]) -> None:
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    await publisher.publish(*shuffled)


@pytest.fixture(scope="module")
async def ready_call(
    store: StoreService, publisher: Publisher, db: asyncpg.Pool, wait_stored: WaitStored
) -> Call:
    """One recorded call, its events published in a shuffled order (recording.ended may come
    before its segments), assembled."""
    call = await _recorded_call(store)
    await _publish_shuffled(publisher, call.events + call.recording)
    await wait_stored(call.sid, len(call.events) + len(call.recording))
    await _wait_status(db, call.sid, "ready")
    return call


async def test_the_assembled_wav_has_both_channels_in_place(
    http: httpx.AsyncClient, ready_call: Call
) -> None:
    """The WAV is 2 s of 16-bit stereo at 8 kHz: channel 1 the caller's two segments back to
    back, channel 2 silence, the assistant's 400 ms from 1200 ms, then silence."""
    r = await http.get(f"/api/sessions/{ready_call.sid}/recording", auth=ANALYST)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["accept-ranges"] == "bytes"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, RATE)
        assert w.getnframes() == 2 * RATE
        frames = array("h", w.readframes(w.getnframes()))
    caller, assistant = frames[0::2], frames[1::2]
    a, b, heard = (ulaw_to_pcm16(bytes([x]))[0] for x in (CALLER_A, CALLER_B, ASSISTANT))
    assert set(caller[:RATE]) == {a}
    assert set(caller[RATE:]) == {b}
    start, end = int(1.2 * RATE), int(1.6 * RATE)
    assert set(assistant[:start]) == {0}
    assert set(assistant[start:end]) == {heard}
    assert set(assistant[end:]) == {0}


async def test_the_timeline_shows_the_cut_assistant_turn_and_the_tool(
    http: httpx.AsyncClient, ready_call: Call
) -> None:
    """The assistant's turn heard 400 ms of 1200 ms said is interrupted; the turns follow the
    marks (the assistant's taken from its segment); the tool call sits 2 s after the session's start (its event's time)."""
    r = await http.get(f"/api/sessions/{ready_call.sid}/recording/timeline", auth=ANALYST)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert (body["duration_ms"], body["sample_rate"]) == (2000.0, RATE)
    assert body["channels"] == ["caller", "assistant"]
    assert (body["segments"], body["missing_segments"]) == (3, 0)
    user, assistant = body["turns"]
    assert (user["item_id"], user["role"], user["start_ms"], user["end_ms"]) == (
        "item_u1",
        "user",
        100,
        1900,
    )
    assert user["text"] == "Where is my order 100001?"
    assert assistant["item_id"] == "item_a1"
    # placed by its segment (no recording.mark of its own): from 1200 ms, 400 ms heard
    assert (assistant["start_ms"], assistant["end_ms"]) == (1200, 1600)
    assert (assistant["heard_ms"], assistant["said_ms"], assistant["interrupted"]) == (
        400,
        1200,
        True,
    )
    assert assistant["text"].startswith("Your order 100001")
    (tool,) = body["tools"]
    assert tool["tool"] == "check_order_status"
    assert tool["at_ms"] == 2000.0 and tool["completed_ms"] == 3000.0


async def test_range_requests(http: httpx.AsyncClient, ready_call: Call) -> None:
    """The first bytes, a middle range and a suffix come back as 206 with their Content-Range;
    a range past the end is 416; HEAD gives the size without a body."""
    url = f"/api/sessions/{ready_call.sid}/recording"
    whole = (await http.get(url, auth=ANALYST)).content
    size = len(whole)
    for header, start, end in (
        ("bytes=0-99", 0, 100),
        ("bytes=1000-1999", 1000, 2000),
        ("bytes=-500", size - 500, size),
        (f"bytes={size - 10}-", size - 10, size),
    ):
        r = await http.get(url, headers={"Range": header}, auth=ANALYST)
        assert r.status_code == 206, (header, r.text)
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
        assert r.headers["content-length"] == str(end - start)
        assert r.content == whole[start:end]
    r = await http.get(url, headers={"Range": f"bytes={size}-"}, auth=ANALYST)
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"
    r = await http.head(url, auth=ANALYST)
    assert r.status_code == 200
    assert (r.headers["content-length"], r.headers["accept-ranges"]) == (str(size), "bytes")
    assert r.content == b""


async def test_each_playback_is_one_audited_read(
    http: httpx.AsyncClient, ready_call: Call, db: asyncpg.Pool
) -> None:
    """A playback (a GET from byte 0) writes one 'play' row in the view log; the range requests
    that seek within it, and HEAD, write none."""

    async def plays() -> int:
        n: int = await db.fetchval(
            "SELECT count(*) FROM audit.view_log WHERE session_id = $1 AND action = 'play'",
            ready_call.sid,
        )
        return n

    url = f"/api/sessions/{ready_call.sid}/recording"
    before = await plays()
    assert (await http.get(url, headers={"Range": "bytes=0-"}, auth=ANALYST)).status_code == 206
    assert await plays() == before + 1
    for header in ("bytes=4000-", "bytes=100-200", "bytes=-50"):
        assert (await http.get(url, headers={"Range": header}, auth=ANALYST)).status_code == 206
    assert (await http.head(url, auth=ANALYST)).status_code == 200
    assert await plays() == before + 1
    row = await db.fetchrow(
        "SELECT analyst, role FROM audit.view_log WHERE session_id = $1 AND action = 'play' "
        "ORDER BY id DESC LIMIT 1",
        ready_call.sid,
    )
    assert (row["analyst"], row["role"]) == ("ana", "analyst")


async def test_a_playback_ticket_plays_its_session_only(
    http: httpx.AsyncClient, ready_call: Call, db: asyncpg.Pool, store: StoreService
) -> None:
    """The ticket URL plays (and seeks in) its session's recording without credentials, the
    playback audited as the ticket's account; on another session, altered or expired it is
    refused with a reason; Basic still works."""
    r = await http.post(f"/api/sessions/{ready_call.sid}/recording/ticket", auth=ADMIN)
    assert r.status_code == 200, r.text
    body = r.json()
    url = body["url"]
    assert url.startswith(f"/api/sessions/{ready_call.sid}/recording?ticket=")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    whole = await http.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/wav"
    part = await http.get(url, headers={"Range": "bytes=100-199"})
    assert (part.status_code, part.content) == (206, whole.content[100:200])
    assert (await http.head(url)).status_code == 200
    row = await db.fetchrow(
        "SELECT analyst, role FROM audit.view_log WHERE session_id = $1 AND action = 'play' "
        "ORDER BY id DESC LIMIT 1",
        ready_call.sid,
    )
    assert (row["analyst"], row["role"]) == ("root", "admin")

    ticket = url.split("ticket=")[1]
    other = new_session_id("rec")
    wrong = await http.get(f"/api/sessions/{other}/recording", params={"ticket": ticket})
    assert wrong.status_code == 403
    assert "not valid for this session" in wrong.json()["detail"]
    altered = await http.get(url[:-2] + ("AA" if not url.endswith("AA") else "BB"))
    assert altered.status_code == 403
    account = store.accounts.get("ana")
    assert account is not None
    old, _ = issue_ticket(account, ready_call.sid, now=time.time() - 3600)
    expired = await http.get(f"/api/sessions/{ready_call.sid}/recording", params={"ticket": old})
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert "www-authenticate" not in expired.headers
    basic = await http.get(f"/api/sessions/{ready_call.sid}/recording", auth=ANALYST)
    assert basic.status_code == 200
    assert (await http.get(f"/api/sessions/{ready_call.sid}/recording")).status_code == 401


async def test_a_ticket_needs_credentials_and_a_recording(
    http: httpx.AsyncClient, publisher: Publisher, wait_stored: WaitStored
) -> None:
    """Asking for a ticket needs Basic credentials; a session without a recording has none."""
    events = conversation(recording=False)
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    assert (await http.post(f"/api/sessions/{sid}/recording/ticket")).status_code == 401
    r = await http.post(f"/api/sessions/{sid}/recording/ticket", auth=ANALYST)
    assert (r.status_code, r.json()["detail"]) == (404, "this session has no recording")


async def test_the_session_json_says_recorded(http: httpx.AsyncClient, ready_call: Call) -> None:
    """The session detail and the session list carry recorded and the recording's status."""
    detail = (await http.get(f"/api/sessions/{ready_call.sid}", auth=ANALYST)).json()
    assert (detail["session"]["recorded"], detail["session"]["recording"]) == (True, "ready")
    listed = (
        await http.get("/api/sessions", params={"customer_id": "cus_0001"}, auth=ANALYST)
    ).json()["sessions"]
    mine = [s for s in listed if s["id"] == ready_call.sid]
    assert mine and (mine[0]["recorded"], mine[0]["recording"]) == (True, "ready")


async def test_redelivered_events_change_nothing(
    store: StoreService,
    publisher: Publisher,
    db: asyncpg.Pool,
    wait_stored: WaitStored,
    ready_call: Call,
) -> None:
    """The same recording events published again add no rows, keep the recording ready, and a
    second recording.ended is skipped by the assembler (already assembled)."""

    async def counts() -> tuple[int, int]:
        row = await db.fetchrow(
            "SELECT (SELECT count(*) FROM audit.recording_segment WHERE session_id = $1) AS s, "
            "(SELECT count(*) FROM audit.recording_mark WHERE session_id = $1) AS m",
            ready_call.sid,
        )
        return row["s"], row["m"]

    skipped = store.metrics.recordings_assembled.labels("skipped")
    skipped_before = skipped._value.get()
    assert await counts() == (3, 2)
    n = len(ready_call.events) + len(ready_call.recording)
    # a new event after the copies: once it is stored, the copies were handled
    sentinel = ConversationEvent(
        session_id=ready_call.sid,
        seq=n,
        occurred_at=datetime.now(UTC),
        payload=TurnLatency(response_id="resp_late", latency_ms=1.0),
    )
    await publisher.publish(*ready_call.recording, sentinel)
    assert await wait_stored(ready_call.sid, n + 1) == n + 1
    assert await counts() == (3, 2)
    assert await _until(lambda: _gt(skipped, skipped_before))
    assert await _status(db, ready_call.sid) == "ready"
    # three segments, the WAV and its compressed copy (Ogg Opus, the default)
    assert len(await _recordings(store).keys(session_prefix(ready_call.sid))) == 5


async def _gt(counter: Any, value: float) -> bool:
    return bool(counter._value.get() > value)


async def test_a_session_minted_without_recording_has_none(
    http: httpx.AsyncClient, publisher: Publisher, wait_stored: WaitStored
) -> None:
    """A session whose start says recording is off shows recorded false, and its recording
    and timeline are 404."""
    events = conversation(recording=False)
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    session = (await http.get(f"/api/sessions/{sid}", auth=ANALYST)).json()["session"]
    assert (session["recorded"], session["recording"]) == (False, None)
    r = await http.get(f"/api/sessions/{sid}/recording", auth=ANALYST)
    assert r.status_code == 404
    assert r.json()["detail"] == "this session has no recording"
    timeline = await http.get(f"/api/sessions/{sid}/recording/timeline", auth=ANALYST)
    assert timeline.status_code == 404
    unknown = await http.get("/api/sessions/sess_nobody/recording", auth=ANALYST)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no such session"


async def test_a_recording_in_progress_is_409_and_deleting_removes_its_objects(
    store: StoreService,
    http: httpx.AsyncClient,
    publisher: Publisher,
    db: asyncpg.Pool,
    wait_stored: WaitStored,
) -> None:
    """Before recording.ended the recording answers 409 with a reason; deleting the session
    (admin) deletes its segments from the recording store."""
    call = await _recorded_call(store, with_end=False)
    await publisher.publish(*call.events, *call.recording)
    await wait_stored(call.sid, len(call.events) + len(call.recording))
    r = await http.get(f"/api/sessions/{call.sid}/recording", auth=ANALYST)
    assert r.status_code == 409
    assert "still being recorded" in r.json()["detail"]
    assert r.headers["retry-after"]
    prefix = session_prefix(call.sid)
    assert len(await _recordings(store).keys(prefix)) == 3
    assert (await http.delete(f"/api/sessions/{call.sid}", auth=ADMIN)).status_code == 204
    assert await _recordings(store).keys(prefix) == []
    assert await _status(db, call.sid) is None


async def test_deleting_an_assembled_recording_removes_the_file_too(
    store: StoreService,
    http: httpx.AsyncClient,
    publisher: Publisher,
    db: asyncpg.Pool,
    wait_stored: WaitStored,
) -> None:
    """Deleting a session with an assembled recording removes its segments and its WAV."""
    call = await _recorded_call(store)
    await publisher.publish(*call.events, *call.recording)
    await _wait_status(db, call.sid, "ready")
    prefix = session_prefix(call.sid)
    assert f"{prefix}recording.wav" in await _recordings(store).keys(prefix)
    assert (await http.delete(f"/api/sessions/{call.sid}", auth=ADMIN)).status_code == 204
    assert await _recordings(store).keys(prefix) == []
    r = await http.get(f"/api/sessions/{call.sid}/recording", auth=ANALYST)
    assert r.status_code == 404


async def test_retention_deletes_old_recordings(
    store: StoreService, publisher: Publisher, wait_stored: WaitStored
) -> None:
    """Retention deletes a session older than the period together with its recording's
    objects (the Postgres backend; other backends share the interface)."""
    call = await _recorded_call(store, started_at=datetime.now(UTC) - timedelta(days=400))
    await publisher.publish(*call.events, *call.recording[:-1])  # not assembled: raw segments
    await wait_stored(call.sid, len(call.events) + len(call.recording) - 1)
    prefix = session_prefix(call.sid)
    assert len(await _recordings(store).keys(prefix)) == 3
    deleted = await purge_older_than(store.engine, 399, recordings=_recordings(store))
    assert deleted >= 1
    assert await _recordings(store).keys(prefix) == []


async def test_missing_segments_are_left_out_after_the_wait_and_counted(
    store: StoreService,
    http: httpx.AsyncClient,
    publisher: Publisher,
    db: asyncpg.Pool,
    wait_stored: WaitStored,
) -> None:
    """When a segment never arrives, the assembler (bounded wait) assembles what it has, and
    the timeline says how many segments are missing."""
    call = await _recorded_call(store, with_end=False)
    stored = [e for e in call.recording if not _is_segment(e, "caller", 1)]
    await publisher.publish(*call.events, *stored)
    await wait_stored(call.sid, len(call.events) + len(stored))
    outcome = await assemble_recording(
        store.engine,
        _recordings(store),
        call.sid,
        RecordingEnded(segments=3, duration_ms=2000),
        wait_s=0.2,
    )
    assert outcome == "partial"
    body = (await http.get(f"/api/sessions/{call.sid}/recording/timeline", auth=ANALYST)).json()
    assert (body["status"], body["segments"], body["missing_segments"]) == ("ready", 3, 1)
    r = await http.get(f"/api/sessions/{call.sid}/recording", auth=ANALYST)
    with wave.open(io.BytesIO(r.content)) as w:
        frames = array("h", w.readframes(w.getnframes()))
    assert set(frames[0::2][RATE:]) == {0}  # the missing second caller segment is silence


async def test_a_recording_that_never_ended_is_assembled_when_abandoned(
    store: StoreService, publisher: Publisher, db: asyncpg.Pool, wait_stored: WaitStored
) -> None:
    """A recording whose recording.ended never came (a killed gateway) and whose session has been
    quiet for the idle period is assembled from the stored segments by the sweep."""
    call = await _recorded_call(
        store, started_at=datetime.now(UTC) - timedelta(hours=2), with_end=False
    )
    await publisher.publish(*call.events, *call.recording)
    await wait_stored(call.sid, len(call.events) + len(call.recording))
    assert await _status(db, call.sid) == "recording"
    assert await sweep_abandoned(store.engine, _recordings(store), idle_s=3600) >= 1
    assert await _status(db, call.sid) == "ready"
    row = await db.fetchrow(
        "SELECT segments, assembled_segments FROM audit.recording WHERE session_id = $1", call.sid
    )
    assert (row["segments"], row["assembled_segments"]) == (3, 3)


async def test_a_job_that_is_no_recording_end_is_dead_lettered_with_its_reason(
    publisher: Publisher,
    store_broker: Topology,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    wait_stored: WaitStored,
) -> None:
    """A message on the recordings queue that is not a recording.ended event goes to
    {ns}.store.recordings.dlq with the reason in x-switchboard-reason (the ingest stores it as
    the valid event it is)."""
    (event,) = conversation()[:1]
    await publisher.raw(
        event.model_dump_json().encode(), "event.recording.ended", message_id=event.event_id
    )
    await wait_stored(event.session_id, 1)
    channel = await amqp_connection.channel()
    queue = await channel.declare_queue(
        store_broker.store_recordings_dead_letter_queue, passive=True
    )

    async def dead_letter() -> aio_pika.abc.AbstractIncomingMessage | None:
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            if message.message_id == event.event_id:
                return message
        return None

    message = await _until(dead_letter)
    await channel.close()
    assert message is not None
    assert message.headers[REASON_HEADER] == "not a recording.ended event"
    assert message.headers[QUEUE_HEADER] == store_broker.store_recordings_queue


def _is_segment(event: ConversationEvent, channel: str, index: int) -> bool:
    p = event.payload
    return isinstance(p, RecordingSegment) and (p.channel, p.index) == (channel, index)


async def test_readiness_includes_the_recording_store(store: StoreService) -> None:
    """/readyz's checks name the recording store and the assembler."""
    checks = await store.readiness()
    assert checks["recordings"] is True
    assert checks["assembler"] is True
    assert checks["ready"] is True


async def test_a_separate_assembler_process_assembles(
    store: StoreService,
    store_processes: Callable[..., Awaitable[Service]],
    infra: InfraUrls,
    store_database_url: str,
    proc_topology: Topology,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    db: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    """A store with assembly off ingests, and ``python -m switchboard.store assemble`` (its own
    process, as a separately scaled deployment runs it) assembles the recording."""
    await store_processes(STORE_RECORDING_ASSEMBLY="false")
    assembler = Service(
        name="assembler",
        command="switchboard.store",
        module="switchboard.store",
        args=("assemble",),
        env={
            **os.environ,
            "DATABASE_URL": store_database_url,
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": proc_topology.namespace,
            "STORE_HTTP_PORT": "0",
            "STORE_INSTANCE_ID": "assembler-1",
            "LOG_FORMAT": "json",
        },
        health_url=None,
        log_path=tmp_path / "assembler.log",
        ready_logs=("http listening", "assembling recordings", "store serving"),
    )
    assembler.spawn()
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            await assembler.wait_ready(client, 60)
        channel = await amqp_connection.channel(publisher_confirms=True)
        publisher = Publisher(channel, proc_topology)
        await publisher.start()
        call = await _recorded_call(store)
        await publisher.publish(*call.events, *call.recording)
        await _wait_status(db, call.sid, "ready")
        await channel.close()
        records = assembler.log_records()
        assert any(
            r.get("msg") == "recording assembled" and r.get("session_id") == call.sid
            for r in records
        )
    finally:
        await asyncio.to_thread(assembler.kill)
