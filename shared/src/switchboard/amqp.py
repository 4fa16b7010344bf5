"""The RabbitMQ topology of Switchboard, in one place.

Every name is prefixed with the deployment namespace (``SWITCHBOARD_NAMESPACE``) so several
environments, or several test runs, can share one broker. Declarations are idempotent: whichever
service starts first declares what it uses, with exactly the arguments given here.

- ``{ns}.tools`` (direct): tool calls, routing key = tool name, one durable queue per tool,
  declared by the workers that serve it: ``{ns}.tool.{name}.classic`` (a classic queue, the
  default) or ``{ns}.tool.{name}`` (a quorum queue, the only kind before; see docs/worker.md for
  why and for the upgrade). The names differ because RabbitMQ refuses to redeclare a queue with
  other arguments (``PRECONDITION_FAILED``). Replies go to the caller's ``reply_to`` (RabbitMQ's
  direct reply-to by default) with its ``correlation_id``.
- ``{ns}.events`` (topic): conversation events, routing key ``event.{payload type}``; the
  conversation store consumes the quorum queue ``{ns}.store.events`` bound to ``event.#``, and
  its recording assemblers the quorum queue ``{ns}.store.recordings`` bound to
  ``event.recording.ended`` (one message per finished recording: a job, not a projection).
- ``{ns}.dlx`` (direct): dead letters. ``{ns}.tools.dlq`` (routing key ``tools``),
  ``{ns}.store.events.dlq`` (routing key ``events``) and ``{ns}.store.recordings.dlq`` (routing
  key ``recordings``) keep poison messages with the reason in the ``x-switchboard-reason``
  header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from aiormq.abc import FieldTable

from switchboard.contracts.events import ConversationEvent, encode_conversation_events

__all__ = [
    "CALL_QUEUE_TYPES",
    "DEFAULT_CALL_QUEUE_TYPE",
    "DELIVERY_LIMIT",
    "DIRECT_REPLY_TO",
    "QUEUE_HEADER",
    "REASON_HEADER",
    "CallQueueType",
    "Topology",
    "is_direct_reply_to",
]

#: Deliveries of one message before the broker dead-letters it (a crash loop breaker).
DELIVERY_LIMIT = 5
#: Header carrying the human-readable reason a message was dead-lettered.
REASON_HEADER = "x-switchboard-reason"
#: Header carrying the queue a dead-lettered message was taken from.
QUEUE_HEADER = "x-switchboard-queue"
#: RabbitMQ's pseudo-queue for RPC replies without a reply queue (replies go straight to the
#: caller's channel; one the caller no longer listens on is dropped).
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"

CallQueueType = Literal["classic", "quorum"]
#: The kinds of tool call queue, each under its own name.
CALL_QUEUE_TYPES: tuple[CallQueueType, ...] = ("classic", "quorum")
DEFAULT_CALL_QUEUE_TYPE: CallQueueType = "classic"


def is_direct_reply_to(reply_to: str) -> bool:
    """True for a ``reply_to`` naming a direct reply-to channel (as the broker rewrites it)."""
    return reply_to.startswith(DIRECT_REPLY_TO)


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

    def tool_queue(self, tool: str, queue_type: CallQueueType = DEFAULT_CALL_QUEUE_TYPE) -> str:
        """The call queue of *tool*; quorum queues keep the name they always had."""
        if queue_type == "quorum":
            return f"{self.namespace}.tool.{tool}"
        return f"{self.namespace}.tool.{tool}.{queue_type}"

    @property
    def tools_dead_letter_queue(self) -> str:
        return f"{self.namespace}.tools.dlq"

    @property
    def store_events_queue(self) -> str:
        return f"{self.namespace}.store.events"

    @property
    def store_events_dead_letter_queue(self) -> str:
        return f"{self.namespace}.store.events.dlq"

    @property
    def store_recordings_queue(self) -> str:
        return f"{self.namespace}.store.recordings"

    @property
    def store_recordings_dead_letter_queue(self) -> str:
        return f"{self.namespace}.store.recordings.dlq"

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
            (self.store_recordings_dead_letter_queue, "recordings"),
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

    async def declare_tool_queue(
        self,
        channel: AbstractChannel,
        tool: str,
        queue_type: CallQueueType = DEFAULT_CALL_QUEUE_TYPE,
    ) -> AbstractQueue:
        """Declare and bind the queue of one tool (done by the workers that serve it)."""
        exchange = await self.declare_tools_exchange(channel)
        arguments: FieldTable = {
            "x-queue-type": queue_type,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": "tools",
        }
        if queue_type == "quorum":
            arguments["x-delivery-limit"] = DELIVERY_LIMIT
        queue = await channel.declare_queue(
            self.tool_queue(tool, queue_type), durable=True, arguments=arguments
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
        await self.declare_recordings_queue(channel)
        return queue

    async def declare_recordings_queue(self, channel: AbstractChannel) -> AbstractQueue:
        """Declare the recording assemblers' durable job queue (``recording.ended`` events);
        declared with the store's event queue, so a recording that ends before any assembler
        first starts still waits for one."""
        await self.declare_dead_letters(channel)
        exchange = await self.declare_events_exchange(channel)
        queue = await channel.declare_queue(
            self.store_recordings_queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": self.dead_letter_exchange,
                "x-dead-letter-routing-key": "recordings",
            },
        )
        await queue.bind(exchange, routing_key=self.event_routing_key("recording.ended"))
        return queue

    async def declare_all(self, channel: AbstractChannel, tools: tuple[str, ...] = ()) -> None:
        """Declare everything (used by tests and by ``switchboard migrate``)."""
        await self.declare_store_queue(channel)
        for tool in tools:
            await self.declare_tool_queue(channel, tool)

    async def delete_all(self, channel: AbstractChannel, tools: tuple[str, ...] = ()) -> None:
        """Remove this namespace's queues and exchanges (test clean-up)."""
        queues = [
            *(self.tool_queue(t, kind) for t in tools for kind in CALL_QUEUE_TYPES),
            self.tools_dead_letter_queue,
            self.store_events_queue,
            self.store_events_dead_letter_queue,
            self.store_recordings_queue,
            self.store_recordings_dead_letter_queue,
        ]
        for name in queues:
            await channel.queue_delete(name)
        for name in (self.tools_exchange, self.events_exchange, self.dead_letter_exchange):
            await channel.exchange_delete(name)
