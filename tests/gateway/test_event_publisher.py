"""The gateway's audit-event publisher against the real broker: what accumulated is sent as one
message per payload type (a JSON array when it holds several), routed by that type, each event
once and in order."""

from __future__ import annotations

import asyncio

import aio_pika

from switchboard.amqp import Topology
from switchboard.contracts.events import (
    ConversationEvent,
    SessionEnded,
    TurnLatency,
    UserTranscript,
    parse_conversation_events,
)
from switchboard.gateway.broker import Broker, EventPublisher
from switchboard.gateway.metrics import GatewayMetrics
from tests.infra import InfraUrls


async def test_buffered_events_go_out_as_one_message_per_payload_type(
    infra: InfraUrls,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    gw_namespace: str,
    gw_cleanup: None,
) -> None:
    topology = Topology(gw_namespace)
    channel = await amqp_connection.channel()
    exchange = await topology.declare_events_exchange(channel)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="event.#")
    got: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
    await queue.consume(got.put, no_ack=True)

    sid = "sess_publisher_batches"
    payloads: list[UserTranscript | TurnLatency | SessionEnded] = []
    for turn in range(5):
        payloads += [
            UserTranscript(item_id=f"u{turn}", text=f"question {turn}"),
            TurnLatency(latency_ms=100.0 + turn),
        ]
    payloads.append(SessionEnded(reason="client_closed"))
    events = [ConversationEvent(session_id=sid, seq=i, payload=p) for i, p in enumerate(payloads)]

    broker = Broker(amqp_url=infra.amqp_url, topology=topology, connection_name="test-events")
    metrics = GatewayMetrics()
    publisher = EventPublisher(broker, metrics=metrics)
    for event in events:  # all buffered before the first flush: one flush takes them all
        publisher.publish(event)
    broker.start()
    publisher.start()
    try:
        assert await publisher.flush(30)
        messages = [await asyncio.wait_for(got.get(), 10) for _ in range(3)]
    finally:
        await publisher.close()
        await broker.close()
        await channel.close()

    by_key = {m.routing_key: m for m in messages}
    assert set(by_key) == {"event.transcript.user", "event.turn.latency", "event.session.ended"}
    for key, message in by_key.items():
        kind = key.removeprefix("event.")
        sent = [e for e in events if e.payload.type == kind]
        assert parse_conversation_events(message.body) == sent
        assert message.body.startswith(b"[") == (len(sent) > 1)
        assert message.message_id == sent[0].event_id
    assert got.empty()
    assert metrics.events_published._value.get() == len(events)
    assert metrics.event_messages_published._value.get() == 3
