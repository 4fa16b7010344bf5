"""The gateway's broker side: one robust RabbitMQ connection (opened in the background, so the
gateway starts and serves while the broker is down), tool calls through the shared
:class:`~switchboard.toolclient.ToolClient` that fail fast while the broker is away, and the
conversation-event publisher (personal data redacted, bounded buffer, publisher confirms, flushed
after a reconnect)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from switchboard.amqp import Topology
from switchboard.contracts.events import ConversationEvent, group_by_type
from switchboard.contracts.tools import (
    ToolCallRequest,
    ToolCallResult,
    ToolErrorCode,
    TraceContext,
    Verification,
)
from switchboard.gateway.errors import loggable_error
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.redaction import EVERY_KIND
from switchboard.runtime.backoff import connect_broker
from switchboard.toolclient import ToolClient

__all__ = ["PENDING_PER_SESSION", "Broker", "EventPublisher"]

log = logging.getLogger(__name__)

GATEWAY_WORKER = "gateway"


class Broker:
    """The robust connection and the tool client on it."""

    def __init__(
        self,
        *,
        amqp_url: str,
        topology: Topology,
        connection_name: str,
        reconnect_s: float = 1.0,
    ) -> None:
        self._url = amqp_url
        self.topology = topology
        self._name = connection_name
        self._reconnect_s = reconnect_s
        self.connection: AbstractRobustConnection | None = None
        self.tools: ToolClient | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """True only while the connection is actually up (not merely 'was opened once')."""
        conn = self.connection
        return (
            self._ready.is_set()
            and conn is not None
            and not conn.is_closed
            and conn.connected.is_set()
        )

    async def wait_connected(self) -> None:
        await self._ready.wait()
        assert self.connection is not None
        await self.connection.connected.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="gateway-broker-connect")

    async def _connect(self) -> None:
        self.connection = await connect_broker(
            self._url, connection_name=self._name, reconnect_s=self._reconnect_s
        )
        self.tools = ToolClient(self.connection, self.topology)
        await self.tools.start()
        self._ready.set()
        log.info("broker connected")

    async def call_tool(
        self,
        *,
        call_id: str,
        session_id: str,
        customer_id: str,
        tool: str,
        arguments: dict[str, Any],
        timeout_s: float,
        traceparent: str | None = None,
        user_item_id: str | None = None,
        verification: Verification | None = None,
    ) -> ToolCallResult:
        """Run a tool through the workers; never raises, never waits past *timeout_s*: broker
        down → ``unavailable`` at once, no answer → ``timeout``."""
        if not self.connected or self.tools is None:
            return _failed(
                call_id, ToolErrorCode.UNAVAILABLE, "The tool service is unreachable right now."
            )
        request = ToolCallRequest(
            call_id=call_id,
            session_id=session_id,
            customer_id=customer_id,
            tool=tool,
            arguments=arguments,
            deadline=datetime.now(UTC) + timedelta(seconds=timeout_s),
            trace=TraceContext(traceparent=traceparent),
            user_item_id=user_item_id,
            verification=verification,
        )
        try:
            async with asyncio.timeout(timeout_s + 0.5):
                return await self.tools.send(request)
        except TimeoutError:
            return _failed(call_id, ToolErrorCode.TIMEOUT, "The tool did not answer in time.")
        except Exception as exc:
            log.warning(
                "tool call failed", extra={"call_id": call_id, "error": loggable_error(exc)}
            )
            return _failed(
                call_id, ToolErrorCode.UNAVAILABLE, "The tool service is unreachable right now."
            )

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.tools is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3):
                    await self.tools.close()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.connection.close()


def _failed(call_id: str, code: ToolErrorCode, message: str) -> ToolCallResult:
    return ToolCallResult.failure(call_id, code, message, worker=GATEWAY_WORKER)


#: The most buffered events one flush of :class:`EventPublisher` takes.
EVENT_BATCH = 64
#: The most unconfirmed events of one session :meth:`EventPublisher.pending` returns (the
#: newest): what a resume snapshot carries, so a gateway killed before the broker confirmed
#: them does not lose them (docs/gateway.md "Resume"). A live call has a handful at most; more
#: only while the broker is away, when the snapshot must still stay small.
PENDING_PER_SESSION = 128


class EventPublisher:
    """Publishes conversation events in the background; ``publish()`` never blocks or raises.

    Every event is redacted as it is handed over (e-mail addresses, phone numbers and card
    numbers in transcripts, heard text, tool arguments and results, error messages and the end
    detail: :data:`switchboard.redaction.EVERY_KIND`), so nothing personal leaves the gateway;
    the caller's objects are never changed (the tool call keeps its real arguments). Events
    without personal data are passed on as they are (no copy). Audio never comes here.

    Events wait in a bounded buffer (the oldest is dropped, and counted, when it is full); a
    background task publishes them in batches with publisher confirms, keeping every event the
    broker did not confirm for the next attempt, so an outage only delays them. A batch is what
    accumulated while the previous one was being confirmed, sent as one message per payload type:
    a quiet gateway sends one event per message, a busy one few messages for many events.

    Per session it also tracks the events handed over and not confirmed yet (buffered or in
    flight, redacted as published): :meth:`pending`, which the resume snapshot carries so that
    another gateway can publish them again if this process dies before the broker confirms them.
    """

    def __init__(
        self,
        broker: Broker,
        *,
        metrics: GatewayMetrics,
        capacity: int = 10000,
        retry_s: float = 1.0,
        batch: int = EVENT_BATCH,
    ) -> None:
        self._broker = broker
        self._metrics = metrics
        self._buffer: collections.deque[ConversationEvent] = collections.deque()
        #: session id -> event id -> event, handed over and not confirmed (insertion order)
        self._pending: dict[str, dict[str, ConversationEvent]] = {}
        self._capacity = capacity
        self._retry_s = retry_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    def __len__(self) -> int:
        return len(self._buffer)

    def pending(
        self, session_id: str, *, limit: int = PENDING_PER_SESSION
    ) -> list[ConversationEvent]:
        """The newest *limit* events of *session_id* handed over and not confirmed by the broker
        yet, oldest first (as redacted for publishing)."""
        events = self._pending.get(session_id)
        if not events:
            return []
        newest = list(events.values())
        return newest[-limit:] if len(newest) > limit else newest

    def publish(self, event: ConversationEvent) -> None:
        event = EVERY_KIND.event(event)
        if len(self._buffer) >= self._capacity:
            self._forget(self._buffer.popleft())
            self._metrics.events_dropped.inc()
        self._buffer.append(event)
        self._pending.setdefault(event.session_id, {})[event.event_id] = event
        self._metrics.events_buffered.set(len(self._buffer))
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-event-publisher")

    async def flush(self, timeout_s: float) -> bool:
        """Wait until every buffered event is confirmed (True) or *timeout_s* passes."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._channel.close()

    def _forget(self, event: ConversationEvent) -> None:
        """*event* is confirmed (or dropped): no longer pending."""
        events = self._pending.get(event.session_id)
        if events is not None:
            events.pop(event.event_id, None)
            if not events:
                del self._pending[event.session_id]

    async def _run(self) -> None:
        while True:
            if not self._buffer:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._broker.wait_connected()
            try:
                exchange = await self._ensure_exchange()
                await self._publish_batch(exchange)
            except Exception as exc:
                log.warning(
                    "event publishing failed; will retry",
                    extra={"error": loggable_error(exc), "buffered": len(self._buffer)},
                )
                await asyncio.sleep(self._retry_s)

    async def _ensure_exchange(self) -> AbstractExchange:
        if self._exchange is None or self._channel is None or self._channel.is_closed:
            connection = self._broker.connection
            assert connection is not None
            async with asyncio.timeout(10):
                self._channel = await connection.channel(publisher_confirms=True)
                topology = self._broker.topology
                await topology.declare_store_queue(self._channel)
                self._exchange = await topology.declare_events_exchange(self._channel)
        return self._exchange

    async def _publish_batch(self, exchange: AbstractExchange) -> None:
        """Publish what is buffered (up to ``batch`` events) as one message per payload type,
        all awaited together; events of unconfirmed messages go back to the buffer's front."""
        batch = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
        groups = list(group_by_type(batch).values())

        async def one(events: list[ConversationEvent]) -> None:
            message, routing_key = Topology.event_message(events)
            await exchange.publish(message, routing_key=routing_key, timeout=5)

        results = await asyncio.gather(*(one(g) for g in groups), return_exceptions=True)
        failed: list[ConversationEvent] = []
        for events, r in zip(groups, results, strict=True):
            if isinstance(r, BaseException):
                failed += events
            else:
                for event in events:
                    self._forget(event)
        confirmed = len(batch) - len(failed)
        if confirmed:
            self._metrics.events_published.inc(confirmed)
        self._metrics.event_messages_published.inc(
            sum(1 for r in results if not isinstance(r, BaseException))
        )
        if failed:
            # keep them, in order, ahead of anything newer (bounded like the rest)
            self._buffer.extendleft(reversed(failed))
            while len(self._buffer) > self._capacity:
                self._forget(self._buffer.pop())
                self._metrics.events_dropped.inc()
            self._metrics.events_buffered.set(len(self._buffer))
            first = next(r for r in results if isinstance(r, BaseException))
            raise RuntimeError(f"{len(failed)} events not confirmed: {first!r}")
        self._metrics.events_buffered.set(len(self._buffer))
