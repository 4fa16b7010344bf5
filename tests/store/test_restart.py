"""A store process killed (SIGKILL) twice while events stream in loses nothing and duplicates
nothing: every published event is stored once and every projection counts it once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import asyncpg
import pytest

from switchboard.amqp import Topology
from tests.store.conftest import Publisher
from tests.store.factories import conversation, new_session_id

pytestmark = pytest.mark.slow

SESSIONS = 250  # x 8 events


async def _stored(db: asyncpg.Pool, prefix: str) -> int:
    return int(
        await db.fetchval("SELECT count(*) FROM audit.event WHERE session_id LIKE $1", prefix + "%")
    )


async def _wait_stored(db: asyncpg.Pool, prefix: str, count: int, within_s: float) -> int:
    deadline = time.monotonic() + within_s
    while True:
        n = await _stored(db, prefix)
        if n >= count or time.monotonic() > deadline:
            return n
        await asyncio.sleep(0.05)


async def test_sigkill_under_load_loses_and_duplicates_nothing(
    store_processes: Callable[..., Awaitable[Any]],
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    proc_topology: Topology,
    db: asyncpg.Pool,
) -> None:
    """Publish 2,000 events while store processes are killed mid-stream twice and replaced: count in
    = count stored; session, item and tool-call counts match the events exactly once."""
    prefix = new_session_id("restart")
    events = [
        e
        for i in range(SESSIONS)
        for e in conversation(session_id=f"{prefix}_{i:04d}", user_text=f"question {i}")
    ]
    channel = await amqp_connection.channel(publisher_confirms=True)
    publisher = Publisher(channel, proc_topology)
    await publisher.start()
    # small batches so a kill lands between and inside many transactions
    env = {"STORE_BATCH_SIZE": "50", "STORE_PREFETCH": "200", "STORE_INSTANCE_ID": "restart-a"}
    first = await store_processes(**env)

    async def publish_all() -> None:
        for start in range(0, len(events), 100):
            await asyncio.gather(*(publisher.publish(e) for e in events[start : start + 100]))

    publishing = asyncio.create_task(publish_all())
    # as in a rolling restart, a replacement starts (and competes for events), then the old
    # process is killed once it has stored part of the stream, while publishing goes on
    second = await store_processes(**{**env, "STORE_INSTANCE_ID": "restart-b"})
    assert await _wait_stored(db, prefix, 400, 60) >= 400
    assert await asyncio.to_thread(first.kill) == -9
    await store_processes(**{**env, "STORE_INSTANCE_ID": "restart-c"})
    assert await _wait_stored(db, prefix, 1200, 60) >= 1200
    assert await asyncio.to_thread(second.kill) == -9
    await publishing
    await channel.close()

    assert await _wait_stored(db, prefix, len(events), 120) == len(events)
    like = prefix + "%"
    totals = await db.fetchrow(
        "SELECT count(*) AS sessions, sum(event_count) AS events, sum(user_turns) AS users, "
        "sum(tool_calls) AS calls, sum(interruptions) AS interruptions "
        "FROM audit.session WHERE id LIKE $1",
        like,
    )
    assert dict(totals) == {
        "sessions": SESSIONS,
        "events": len(events),
        "users": SESSIONS,
        "calls": SESSIONS,
        "interruptions": SESSIONS,
    }
    assert (
        await db.fetchval("SELECT count(*) FROM audit.item WHERE session_id LIKE $1", like)
        == 2 * SESSIONS
    )
    assert (
        await db.fetchval("SELECT count(*) FROM audit.turn_latency WHERE session_id LIKE $1", like)
        == SESSIONS
    )
    check = await amqp_connection.channel()
    dlq = await check.declare_queue(
        proc_topology.store_events_dead_letter_queue,
        durable=True,
        arguments={"x-queue-type": "quorum"},
    )
    assert dlq.declaration_result.message_count == 0
    await check.close()
