"""Dead letters with a reason, on the real broker: the message is kept in its dead-letter queue
with its body, properties, the reason and the queue it came from, and counted by reason kind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from prometheus_client import CollectorRegistry, Counter

from switchboard.amqp import QUEUE_HEADER, REASON_HEADER, Topology
from switchboard.runtime.deadletter import DeadLetters, reason_kind
from tests.infra import InfraUrls


@pytest.fixture
async def channel(infra: InfraUrls) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        yield await connection.channel(publisher_confirms=True)
    finally:
        await connection.close()


def test_reason_kind_is_the_text_before_the_first_colon() -> None:
    """A metric label carries the kind of reason, never the message's details."""
    assert reason_kind("invalid event: payload.type: bad: value") == "invalid event"
    assert reason_kind("tool call request without reply_to") == (
        "tool call request without reply_to"
    )


async def test_a_dead_letter_keeps_the_message_the_reason_and_the_queue(
    channel: aio_pika.abc.AbstractChannel, namespace: str
) -> None:
    """``keep`` publishes a persistent copy with the original headers and properties plus the
    reason and source queue headers to the dead-letter queue of its routing key."""
    topology = Topology(f"{namespace}-dl{uuid.uuid4().hex[:6]}")
    registry = CollectorRegistry()
    counter = Counter("dead_letters_total", "Dead letters.", ["reason"], registry=registry)
    try:
        exchange = await topology.declare_dead_letters(channel)
        letters = DeadLetters(exchange, routing_key="tools", counter=counter)
        await letters.keep(
            b"{not json",
            reason="unparseable tool call request: arguments: bad",
            queue=topology.tool_queue("lookup_order"),
            headers={"x-attempt": 2},
            content_type="application/json",
            message_id="m-1",
            correlation_id="c-1",
            reply_to="amq.rabbitmq.reply-to.xyz",
        )
        queue = await channel.get_queue(topology.tools_dead_letter_queue, ensure=False)
        message = await queue.get(timeout=5, fail=True)
        assert message is not None
        await message.ack()
        assert message.body == b"{not json"
        headers = dict(message.headers)
        headers.pop("x-delivery-count", None)  # added by the quorum queue on delivery
        assert headers == {
            "x-attempt": 2,
            REASON_HEADER: "unparseable tool call request: arguments: bad",
            QUEUE_HEADER: topology.tool_queue("lookup_order"),
        }
        assert message.content_type == "application/json"
        assert (message.message_id, message.correlation_id) == ("m-1", "c-1")
        assert message.reply_to == "amq.rabbitmq.reply-to.xyz"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        sample = registry.get_sample_value
        assert sample("dead_letters_total", {"reason": "unparseable tool call request"}) == 1
        events = await channel.get_queue(topology.store_events_dead_letter_queue, ensure=False)
        assert await events.get(timeout=5, fail=False) is None  # only the tools queue got it
    finally:
        await topology.delete_all(channel)
