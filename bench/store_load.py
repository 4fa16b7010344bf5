"""Helper processes of ``bench_store``, each in a process of its own so that its CPU is not the
store's and the bench's own loop does not slow it down:

- ``publish``: conversation events at a steady rate (``occurred_at`` stamped as each one is sent)
  to the events exchange, through the same aio-pika/aiormq client the gateway uses, without
  publisher confirms (the bench counts what is stored instead). Like a gateway's publisher, it
  sends what fell due since its last flush (every 5 ms, at most ``--batch`` events at a time) as
  one message per payload type; ``--batch 1`` sends one event per message;
- ``consume``: the store's consume path without the store: the same client, prefetch and plain
  deliveries on the underlying aiormq channel, one ``multiple`` ack per batch, nothing parsed or
  written. Its CPU per event is what the AMQP client alone costs the store.

Each prints one JSON line with what it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from switchboard.contracts.events import (
    AssistantTranscript,
    ConversationEvent,
    SessionEnded,
    SessionStarted,
    ToolCalled,
    ToolCompleted,
    TurnLatency,
    UserTranscript,
    encode_conversation_events,
    group_by_type,
)

__all__ = ["conversation"]

#: Stamped into prebuilt bodies and replaced by the publish time of each message.
_SENTINEL = datetime(2000, 1, 1, tzinfo=UTC)


def conversation(sid: str, at: datetime, rng: random.Random) -> list[ConversationEvent]:
    """Eight events of one support call: start, question, tool call and result, latency,
    answer, follow-up question, end."""
    call = f"call_{uuid.uuid4().hex[:12]}"
    payloads: list[Any] = [
        SessionStarted(
            customer_id=f"cus_{rng.randrange(1, 1000):04d}",
            gateway="gw-bench",
            upstream="emulator",
            model="gpt-realtime",
            voice="alloy",
            language="en",
        ),
        UserTranscript(item_id="u1", text="Where is my order 100001, it was due on Friday?"),
        ToolCalled(call_id=call, tool="check_order_status", arguments={"order_id": 100001}),
        ToolCompleted(
            call_id=call,
            tool="check_order_status",
            ok=True,
            output={"status": "shipped", "eta": "Friday"},
            duration_ms=11.0,
            worker="w1",
        ),
        TurnLatency(response_id="r1", latency_ms=rng.uniform(250, 900)),
        AssistantTranscript(
            item_id="a1",
            response_id="r1",
            audio_ms=3000,
            text="Your order has shipped and should arrive on Friday.",
        ),
        UserTranscript(item_id="u2", text="Thanks, and can I change the delivery address?"),
        SessionEnded(reason="client_closed"),
    ]
    return [
        ConversationEvent(session_id=sid, seq=i, occurred_at=at, payload=p)
        for i, p in enumerate(payloads)
    ]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def publish(
    amqp_url: str, exchange: str, rate: float, seconds: float, prefix: str, batch: int
) -> dict[str, Any]:
    """Publish ``rate`` events/s for ``seconds``, each stamped with its publish time."""
    rng = random.Random(prefix)
    count = int(rate * seconds)
    events = [
        e for i in range(count // 8 + 1) for e in conversation(f"{prefix}_{i:06d}", _SENTINEL, rng)
    ][:count]
    sentinel = json.dumps(_SENTINEL.isoformat().replace("+00:00", "Z")).encode()
    assert sentinel in events[0].model_dump_json().encode()
    # each event's body once; a message of several is their JSON array, which is what
    # ``encode_conversation_events`` writes (checked here on the first group)
    bodies = {e.event_id: e.model_dump_json().encode() for e in events}
    group = next(iter(group_by_type(events[:batch]).values()))
    assert _join([bodies[e.event_id] for e in group]) == encode_conversation_events(group)
    connection = await aio_pika.connect(
        amqp_url, client_properties={"connection_name": "switchboard-bench-publisher"}
    )
    raw = await (await connection.channel(publisher_confirms=False)).get_underlay_channel()
    loop = asyncio.get_running_loop()
    tick = 0.005  # messages fall due continuously and go out in bursts, one every tick
    cpu0, started = _cpu_s(), loop.time()
    sent = messages = 0
    behind_max = 0.0
    while sent < count:
        due = min(count, int((loop.time() - started) * rate) + 1)
        behind_max = max(behind_max, (due - sent) / rate)
        while sent < due:
            flush = events[sent : min(due, sent + batch)]
            stamp = json.dumps(datetime.now(UTC).isoformat()).encode()
            for kind, group in group_by_type(flush).items():
                body = _join([bodies[e.event_id] for e in group]).replace(sentinel, stamp)
                await raw.basic_publish(  # type: ignore[call-arg]  # aiormq's abc lacks ``wait``
                    body,
                    exchange=exchange,
                    routing_key=f"event.{kind}",
                    properties=Basic.Properties(
                        content_type="application/json",
                        message_id=group[0].event_id,
                        delivery_mode=2,
                    ),
                    wait=False,  # queued for the writer, not awaited per message
                )
                messages += 1
            sent += len(flush)
        await asyncio.sleep(tick)
    await raw.basic_qos(prefetch_count=0)  # a round trip: every publish before it is written
    elapsed = loop.time() - started
    cpu = _cpu_s() - cpu0
    await connection.close()
    return {
        "published": sent,
        "messages": messages,
        "seconds": elapsed,
        "rate": sent / elapsed,
        "cpu_s": cpu,
        "behind_max_s": behind_max,
    }


def _join(bodies: list[bytes]) -> bytes:
    return bodies[0] if len(bodies) == 1 else b"[" + b",".join(bodies) + b"]"


async def consume(
    amqp_url: str, queue: str, count: int, prefetch: int, batch: int
) -> dict[str, Any]:
    """Consume and acknowledge ``count`` messages the way the store does, doing nothing else."""
    connection = await aio_pika.connect(
        amqp_url, client_properties={"connection_name": "switchboard-bench-consumer"}
    )
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    raw = await channel.get_underlay_channel()
    pending: deque[DeliveredMessage] = deque()
    done = asyncio.Event()
    got = 0
    first: tuple[float, float] | None = None

    async def on_message(message: DeliveredMessage) -> None:
        nonlocal got, first
        if first is None:
            first = (time.perf_counter(), _cpu_s())
        pending.append(message)
        got += 1
        if len(pending) >= batch or got >= count:
            last = pending[-1]
            pending.clear()
            assert last.delivery_tag is not None
            await raw.basic_ack(last.delivery_tag, multiple=True)
            if got >= count:
                done.set()

    await raw.basic_consume(queue, on_message, no_ack=False)
    await asyncio.wait_for(done.wait(), 600)
    assert first is not None
    elapsed, cpu = time.perf_counter() - first[0], _cpu_s() - first[1]
    await connection.close()
    return {"consumed": got, "seconds": elapsed, "cpu_s": cpu}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_load", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish")
    pub.add_argument("--exchange", required=True)
    pub.add_argument("--rate", type=float, required=True)
    pub.add_argument("--seconds", type=float, required=True)
    pub.add_argument("--prefix", required=True)
    pub.add_argument("--batch", type=int, default=64, help="most events per flush")
    con = sub.add_parser("consume")
    con.add_argument("--queue", required=True)
    con.add_argument("--count", type=int, required=True)
    con.add_argument("--prefetch", type=int, default=2000)
    con.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    amqp_url = os.environ["AMQP_URL"]
    if args.command == "publish":
        out = asyncio.run(
            publish(amqp_url, args.exchange, args.rate, args.seconds, args.prefix, args.batch)
        )
    else:
        out = asyncio.run(consume(amqp_url, args.queue, args.count, args.prefetch, args.batch))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
