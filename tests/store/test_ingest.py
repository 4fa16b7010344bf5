"""Ingest through the real broker into the real database: storage, duplicates, out-of-order
arrival, redaction before storage, poison messages to the dead-letter queue."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import pytest

from switchboard.amqp import REASON_HEADER, Topology
from switchboard.contracts.events import (
    encode_conversation_events,
    group_by_type,
    parse_conversation_event,
)
from switchboard.store.service import StoreService
from tests.store.conftest import Publisher, WaitStored
from tests.store.factories import conversation, new_session_id


async def _session(db: asyncpg.Pool, sid: str) -> asyncpg.Record:
    row = await db.fetchrow("SELECT * FROM audit.session WHERE id = $1", sid)
    assert row is not None
    return row


async def _timeline(db: asyncpg.Pool, sid: str) -> list[tuple[object, ...]]:
    items = await db.fetch(
        "SELECT seq, role, text, interrupted, heard_ms FROM audit.item "
        "WHERE session_id = $1 ORDER BY seq",
        sid,
    )
    calls = await db.fetch(
        "SELECT called_seq, tool, outcome, arguments FROM audit.tool_call "
        "WHERE session_id = $1 ORDER BY called_seq",
        sid,
    )
    return [tuple(r) for r in items] + [tuple(r) for r in calls]


async def test_a_conversation_is_stored_with_its_projections(
    store: StoreService, publisher: Publisher, wait_stored: WaitStored, db: asyncpg.Pool
) -> None:
    """Every event is stored; the session, items, tool call, latency and error are projected."""
    events = conversation(with_error=True)
    sid = events[0].session_id
    await publisher.publish(*events)
    assert await wait_stored(sid, len(events)) == len(events)
    session = await _session(db, sid)
    assert session["customer_id"] == "cus_0001" and session["upstream"] == "emulator"
    assert session["end_reason"] == "client_closed" and session["ended_at"] is not None
    assert session["event_count"] == len(events) and session["last_seq"] == len(events) - 1
    assert (session["user_turns"], session["assistant_turns"], session["interruptions"]) == (
        1,
        1,
        1,
    )
    assert (session["tool_calls"], session["tool_failures"], session["errors"]) == (1, 0, 1)
    items = await db.fetch(
        "SELECT role, interrupted, heard_ms FROM audit.item WHERE session_id = $1 ORDER BY seq",
        sid,
    )
    assert [tuple(r) for r in items] == [("user", False, None), ("assistant", True, 1500)]
    call = await db.fetchrow("SELECT * FROM audit.tool_call WHERE session_id = $1", sid)
    assert call["outcome"] == "ok" and call["worker"] == "worker-1"
    assert json.loads(call["output"]) == {"status": "shipped", "eta": "Friday"}
    latency = await db.fetchval(
        "SELECT latency_ms FROM audit.turn_latency WHERE session_id = $1", sid
    )
    assert latency == 420.0
    hits = await db.fetchval(
        "SELECT count(*) FROM audit.item WHERE session_id = $1 "
        "AND tsv @@ websearch_to_tsquery('english', 'shipping Friday')",
        sid,
    )
    assert hits == 1


async def test_duplicates_are_stored_once(
    store: StoreService, publisher: Publisher, wait_stored: WaitStored, db: asyncpg.Pool
) -> None:
    """Events published twice (as a publisher retrying would) are stored and counted once."""
    events = conversation()
    sid = events[0].session_id
    before = store.metrics.duplicates._value.get()
    await publisher.publish(*events)
    await publisher.publish(*events)
    assert await wait_stored(sid, len(events)) == len(events)
    # the duplicates are acknowledged after the originals; wait for the counter to catch up
    for _ in range(500):
        if store.metrics.duplicates._value.get() - before >= len(events):
            break
        await asyncio.sleep(0.02)
    assert store.metrics.duplicates._value.get() - before == len(events)
    session = await _session(db, sid)
    assert session["event_count"] == len(events) and session["tool_calls"] == 1
    assert await db.fetchval("SELECT count(*) FROM audit.item WHERE session_id = $1", sid) == 2


async def test_out_of_order_arrival_gives_the_same_timeline_and_state(
    store: StoreService, publisher: Publisher, wait_stored: WaitStored, db: asyncpg.Pool
) -> None:
    """A shuffled conversation (end before start, truncation before transcript, completion
    before call) ends in the same session state and timeline as one delivered in order."""
    in_order = conversation(customer_id="cus_order")
    shuffled = conversation(customer_id="cus_order")
    random.Random(7).shuffle(shuffled)
    last = shuffled.index(next(e for e in shuffled if e.payload.type == "session.started"))
    shuffled.append(shuffled.pop(last))  # the start arrives last
    a, b = in_order[0].session_id, shuffled[0].session_id
    await publisher.publish(*in_order)
    # one by one, so the reordered events land in separate batches and merge in SQL
    for event in shuffled:
        await publisher.publish(event)
        await wait_stored(b, 1 + shuffled.index(event))
    assert await wait_stored(a, len(in_order)) == len(in_order)
    assert await wait_stored(b, len(shuffled)) == len(shuffled)
    skip = {"id", "created_at", "updated_at", "started_at", "ended_at", "last_event_at"}
    sa, sb = await _session(db, a), await _session(db, b)
    assert {k: v for k, v in sa.items() if k not in skip} == {
        k: v for k, v in sb.items() if k not in skip
    }
    assert sb["started_at"] == min(e.occurred_at for e in shuffled)
    assert await _timeline(db, a) == await _timeline(db, b)


async def test_personal_data_is_redacted_before_it_is_stored(
    store: StoreService, publisher: Publisher, wait_stored: WaitStored, db: asyncpg.Pool
) -> None:
    """No stored column (raw events included) holds the e-mail, phone or card number."""
    events = conversation(
        user_text="I'm jo@example.com and my card is 4111 1111 1111 1111",
        arguments={"phone": "206-555-0147", "order_id": 100001},
        output={"email": "jo@example.com"},
        reply="Thanks, I'll call 206 555 0147.",
    )
    sid = events[0].session_id
    await publisher.publish(*events)
    await wait_stored(sid, len(events))
    dump = repr(
        [
            await db.fetch(f"SELECT * FROM audit.{table} WHERE session_id = $1", sid)
            for table in ("event", "item", "tool_call")
        ]
    )
    for secret in ("jo@example.com", "4111 1111 1111 1111", "206-555-0147", "206 555 0147"):
        assert secret not in dump
    assert "[email]" in dump and "[card]" in dump and "[phone]" in dump


@pytest.fixture
async def dead_letters(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, store_broker: Topology
) -> AsyncIterator[asyncio.Queue[aio_pika.abc.AbstractIncomingMessage]]:
    """What reaches the dead-letter queue during one test (its consumer is closed after it, so
    the next test's consumer gets every letter)."""
    channel = await amqp_connection.channel()
    queue = await channel.declare_queue(
        store_broker.store_events_dead_letter_queue,
        durable=True,
        arguments={"x-queue-type": "quorum"},
    )
    got: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
    await queue.consume(got.put, no_ack=True)
    yield got
    await channel.close()


async def test_poison_messages_go_to_the_dead_letter_queue_with_a_reason(
    store: StoreService,
    publisher: Publisher,
    wait_stored: WaitStored,
    dead_letters: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage],
) -> None:
    """Unparseable JSON, an invalid envelope and unstorable events (a NUL in an id, a customer id
    too long for its column) are dead-lettered with their reason; the good events of the same
    batches are stored."""
    good = conversation()
    bad_nul = conversation(session_id=new_session_id("nul\x00"))[0]
    too_long = conversation(customer_id="c" * 100)[0]
    await publisher.raw(b"{not json", "event.transcript.user", message_id="poison-json")
    await publisher.raw(
        json.dumps({"session_id": "x", "seq": -1, "payload": {"type": "nope"}}).encode(),
        "event.nope",
        message_id="poison-envelope",
    )
    await publisher.publish(bad_nul, too_long, *good)
    letters: dict[str, str] = {}
    while len(letters) < 4:
        message = await asyncio.wait_for(dead_letters.get(), 30)
        letters[message.message_id or ""] = str((message.headers or {})[REASON_HEADER])
    assert letters["poison-json"].startswith("invalid event: ")
    assert letters["poison-envelope"].startswith("invalid event: ")
    assert letters[bad_nul.event_id].startswith("unstorable event: ")
    assert letters[too_long.event_id].startswith("unstorable event: 22001: ")
    sid = good[0].session_id
    assert await wait_stored(sid, len(good)) == len(good)
    assert store.metrics.dead_lettered.labels("invalid event")._value.get() >= 2


async def test_messages_of_several_events_are_stored_and_only_their_bad_parts_set_aside(
    store: StoreService,
    publisher: Publisher,
    wait_stored: WaitStored,
    dead_letters: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage],
    db: asyncpg.Pool,
) -> None:
    """Messages as a busy gateway sends them (several events of one type each) are stored like
    single events. In an array with unreadable elements, the readable ones are stored and each
    bad one is dead-lettered alone, its index in the reason; an unstorable event of a batch is
    dead-lettered alone, as itself, and the rest of its message is stored."""
    good = conversation()
    too_long = conversation(customer_id="c" * 100)[0]
    groups = group_by_type([*good, too_long])
    assert len(groups["session.started"]) == 2  # the unstorable one shares a message
    for kind, group in groups.items():
        await publisher.raw(
            encode_conversation_events(group),
            Topology.event_routing_key(kind),
            message_id=group[0].event_id,
        )
    readable = conversation()[0]
    mixed = [json.loads(readable.model_dump_json()), {"session_id": "x", "seq": -1}, "text"]
    await publisher.raw(
        json.dumps(mixed).encode(), "event.session.started", message_id="poison-array"
    )
    letters: list[aio_pika.abc.AbstractIncomingMessage] = []
    while len(letters) < 3:
        letters.append(await asyncio.wait_for(dead_letters.get(), 30))
    by_reason = {str((m.headers or {})[REASON_HEADER]): m for m in letters}
    unstorable = [m for r, m in by_reason.items() if r.startswith("unstorable event: 22001: ")]
    assert len(unstorable) == 1
    assert unstorable[0].message_id == too_long.event_id
    assert parse_conversation_event(unstorable[0].body).event_id == too_long.event_id
    elements = {
        r.rsplit("(element ", 1)[1].rstrip(")"): by_reason[r]
        for r in by_reason
        if r.startswith("invalid event: ")
    }
    assert sorted(elements) == ["1", "2"]
    assert all(m.message_id == "poison-array" for m in elements.values())
    assert json.loads(elements["1"].body) == {"session_id": "x", "seq": -1}
    assert json.loads(elements["2"].body) == "text"
    sid = good[0].session_id
    assert await wait_stored(sid, len(good)) == len(good)
    assert await wait_stored(readable.session_id, 1) == 1
    session = await _session(db, sid)
    assert session["event_count"] == len(good) and session["end_reason"] == "client_closed"
    assert (
        await db.fetchval("SELECT count(*) FROM audit.event WHERE event_id = $1", too_long.event_id)
        == 0
    )
