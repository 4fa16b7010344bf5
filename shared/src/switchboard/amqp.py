"""The RabbitMQ topology of Switchboard, in one place.

Every name is prefixed with the deployment namespace (``SWITCHBOARD_NAMESPACE``) so several
environments, or several test runs, can share one broker. Declarations are idempotent: whichever
service starts first declares what it uses, with exactly the arguments given here.

- ``{ns}.tools`` (direct): tool calls, routing key = tool name, one quorum queue per tool
  ``{ns}.tool.{name}``, declared by the workers that serve it. Replies go to the caller's
  ``reply_to`` with its ``correlation_id``.
- ``{ns}.events`` (topic): conversation events, routing key ``event.{payload type}``; the
  conversation store consumes the quorum queue ``{ns}.store.events`` bound to ``event.#``.
- ``{ns}.dlx`` (direct): dead letters. ``{ns}.tools.dlq`` (routing key ``tools``) and
  ``{ns}.store.events.dlq`` (routing key ``events``) keep poison messages with the reason in the
  ``x-switchboard-reason`` header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from switchboard.contracts.events import ConversationEvent, encode_conversation_events

__all__ = [
    "DELIVERY_LIMIT",
    "REASON_HEADER",
    "Topology",
]

#: Deliveries of one message before the broker dead-letters it (a crash loop breaker).
DELIVERY_LIMIT = 5
#: Header carrying the human-readable reason a message was dead-lettered.
REASON_HEADER = "x-switchboard-reason"


@dataclass(frozen=True, slots=True)
class Topology:
    """Names and declarations for one namespace."""

    namespace: str = "switchboard"

    # -- names ------------------------------------------------------------------------------
    @property
    def tools_exchange(self) -> str:
        return f"{self.namespace}.tools"

    @property
    def events_exchange(self) -> str:
        return f"{self.namespace}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dlx"

    def tool_queue(self, tool: str) -> str:
        return f"{self.namespace}.tool.{tool}"

    @property
    def tools_dead_letter_queue(self) -> str:
        return f"{self.namespace}.tools.dlq"

    @property
    def store_events_queue(self) -> str:
        return f"{self.namespace}.store.events"

    @property
    def store_events_dead_letter_queue(self) -> str:
        return f"{self.namespace}.store.events.dlq"

    @staticmethod
    def event_routing_key(payload_type: str) -> str:
        return f"event.{payload_type}"

    @staticmethod
    def event_message(events: Sequence[ConversationEvent]) -> tuple[aio_pika.Message, str]:
        """The persistent message for *events* (one, or several of one payload type) and its
        routing key; ``message_id`` is the first event's id."""
        first = events[0]
        message = aio_pika.Message(
            body=encode_conversation_events(events),
            content_type="application/json",
            message_id=first.event_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=first.payload.type,
            timestamp=first.occurred_at,
        )
        return message, Topology.event_routing_key(first.payload.type)

    # -- declarations -----------------------------------------------------------------------
    async def declare_dead_letters(self, channel: AbstractChannel) -> AbstractExchange:
        dlx = await channel.declare_exchange(
            self.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        for queue, key in (
            (self.tools_dead_letter_queue, "tools"),
            (self.store_events_dead_letter_queue, "events"),
        ):
            q = await channel.declare_queue(
                queue, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await q.bind(dlx, routing_key=key)
        return dlx

    async def declare_tools_exchange(self, channel: AbstractChannel) -> AbstractExchange:
        await self.declare_dead_letters(channel)
        return await channel.declare_exchange(
            self.tools_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )

    async def declare_tool_queue(self, channel: AbstractChannel, tool: str) -> AbstractQueue:
        """Declare and bind the queue of one tool (done by the workers that serve it)."""
        exchange = await self.declare_tools_exchange(channel)
        queue = await channel.declare_queue(
            self.tool_queue(tool),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": self.dead_letter_exchange,
                "x-dead-letter-routing-key": "tools",
            },
        )
        await queue.bind(exchange, routing_key=tool)
        return queue

    async def declare_events_exchange(self, channel: AbstractChannel) -> AbstractExchange:
        return await channel.declare_exchange(
            self.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def declare_store_queue(self, channel: AbstractChannel) -> AbstractQueue:
        """Declare the store's durable event queue (also done by publishers, so nothing is lost
        when events are published before the store first starts)."""
        await self.declare_dead_letters(channel)
        exchange = await self.declare_events_exchange(channel)
        queue = await channel.declare_queue(
            self.store_events_queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": self.dead_letter_exchange,
                "x-dead-letter-routing-key": "events",
            },
        )
        await queue.bind(exchange, routing_key="event.#")
        return queue

    async def declare_all(self, channel: AbstractChannel, tools: tuple[str, ...] = ()) -> None:
        """Declare everything (used by tests and by ``switchboard migrate``)."""
        await self.declare_store_queue(channel)
        for tool in tools:
            await self.declare_tool_queue(channel, tool)

    async def delete_all(self, channel: AbstractChannel, tools: tuple[str, ...] = ()) -> None:
        """Remove this namespace's queues and exchanges (test clean-up)."""
        queues = [
            *(self.tool_queue(t) for t in tools),
            self.tools_dead_letter_queue,
            self.store_events_queue,
            self.store_events_dead_letter_queue,
        ]
        for name in queues:
            await channel.queue_delete(name)
        for name in (self.tools_exchange, self.events_exchange, self.dead_letter_exchange):
            await channel.exchange_delete(name)
