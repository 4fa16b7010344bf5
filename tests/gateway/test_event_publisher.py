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


# -- per-session pending tracking (no broker: nothing is confirmed until the publisher runs) ----


def idle_publisher(**options: int) -> EventPublisher:
    """A publisher never started (its broker never connects): every event stays pending."""
    broker = Broker(amqp_url="amqp://unused", topology=Topology("unused"), connection_name="t")
    return EventPublisher(broker, metrics=GatewayMetrics(), **options)


class FlakyExchange:
    """An exchange that confirms every message except those routed to *refused*."""

    def __init__(self, refused: str) -> None:
        self.refused = refused

    async def publish(self, message: aio_pika.Message, *, routing_key: str, **_: object) -> None:
        if routing_key == self.refused:
            raise TimeoutError("no confirm")


def transcript(sid: str, seq: int, text: str = "hello") -> ConversationEvent:
    return ConversationEvent(
        session_id=sid, seq=seq, payload=UserTranscript(item_id=f"u{seq}", text=text)
    )


def test_pending_is_per_session_in_order_and_unchanged() -> None:
    """Events handed over are pending for their own session only, in the order handed over,
    with their event id, seq and time unchanged."""
    publisher = idle_publisher()
    a = [transcript("sess_a", i) for i in range(3)]
    b = [transcript("sess_b", i) for i in range(2)]
    for event in (a[0], b[0], a[1], b[1], a[2]):
        publisher.publish(event)
    assert publisher.pending("sess_a") == a
    assert publisher.pending("sess_b") == b
    assert publisher.pending("sess_other") == []


def test_pending_is_redacted_as_published() -> None:
    """A pending event is the redacted one the broker gets, never the caller's clear text."""
    publisher = idle_publisher()
    publisher.publish(transcript("sess_r", 0, "mail me at jane.doe@example.com"))
    (pending,) = publisher.pending("sess_r")
    assert "jane.doe@example.com" not in pending.model_dump_json()
    assert pending.payload.text.startswith("mail me at ")


def test_pending_is_capped_to_the_newest() -> None:
    """A session's pending list is at most *limit* long: the newest events, oldest first."""
    publisher = idle_publisher()
    events = [transcript("sess_c", i) for i in range(10)]
    for event in events:
        publisher.publish(event)
    assert publisher.pending("sess_c", limit=4) == events[-4:]


def test_an_event_dropped_from_a_full_buffer_is_no_longer_pending() -> None:
    """The buffer drops its oldest event when full; it is not pending any more."""
    publisher = idle_publisher(capacity=3)
    events = [transcript("sess_d", i) for i in range(5)]
    for event in events:
        publisher.publish(event)
    assert publisher.pending("sess_d") == events[2:]


async def test_confirmed_events_leave_pending_and_unconfirmed_stay() -> None:
    """A batch whose messages are partly confirmed: the confirmed events are no longer pending,
    the others stay pending (in order) and go back to the buffer."""
    publisher = idle_publisher()
    sid = "sess_confirm"
    events = [
        transcript(sid, 0),
        ConversationEvent(session_id=sid, seq=1, payload=TurnLatency(latency_ms=10.0)),
        transcript(sid, 2),
        ConversationEvent(session_id=sid, seq=3, payload=TurnLatency(latency_ms=11.0)),
    ]
    for event in events:
        publisher.publish(event)
    exchange = FlakyExchange(refused="event.turn.latency")
    try:
        await publisher._publish_batch(exchange)  # type: ignore[arg-type]
    except RuntimeError as exc:
        assert "2 events not confirmed" in str(exc)
    else:
        raise AssertionError("the refused message should fail the batch")
    assert publisher.pending(sid) == [events[1], events[3]]
    assert len(publisher) == 2
    exchange.refused = ""
    await publisher._publish_batch(exchange)  # type: ignore[arg-type]
    assert publisher.pending(sid) == []
    assert publisher._pending == {}  # nothing kept for a session with nothing pending


async def test_confirmed_by_the_real_broker_nothing_is_pending(
    infra: InfraUrls, gw_namespace: str, gw_cleanup: None
) -> None:
    """Once the broker confirmed every event (flush), no session has anything pending."""
    topology = Topology(gw_namespace)
    broker = Broker(amqp_url=infra.amqp_url, topology=topology, connection_name="test-pending")
    publisher = EventPublisher(broker, metrics=GatewayMetrics())
    for i in range(5):
        publisher.publish(transcript("sess_real", i))
    assert len(publisher.pending("sess_real")) == 5
    broker.start()
    publisher.start()
    try:
        assert await publisher.flush(30)
        assert publisher.pending("sess_real") == []
    finally:
        await publisher.close()
        await broker.close()
