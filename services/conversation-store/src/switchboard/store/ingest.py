"""The broker side of the store: consume ``{ns}.store.events`` with an explicit prefetch, gather
deliveries into batches bounded in size and time, write each batch (one transaction per
``batch_size`` events: a message may hold several) and only then acknowledge it (one
``multiple`` ack per channel). Unreadable or unstorable messages go to
``{ns}.store.events.dlq`` with the reason in the ``x-switchboard-reason`` header.

The ingest owns its broker connection and a supervisor keeps it consuming: it connects, declares
the queue and registers the consumer (each step under a timeout), then waits until the channel
closes, the connection drops or the broker cancels the consumer, and starts over with backoff.
Nothing relies on a library's silent reconnection, so "connected but not consuming" cannot last.

While Postgres is unreachable a batch is retried with backoff and stays unacknowledged (the
prefetch bounds what is held); a crash loses nothing, because the broker redelivers what was
never acknowledged and the writer ignores event ids it already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import Counter, deque
from collections.abc import Sequence
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiormq.abc import AbstractChannel as RawChannel
from aiormq.abc import DeliveredMessage
from pydantic import ValidationError

from switchboard.amqp import Topology
from switchboard.contracts.events import (
    ConversationEvent,
    is_event_batch,
    parse_conversation_event,
    parse_conversation_events,
    split_conversation_events,
)
from switchboard.runtime.deadletter import DeadLetters
from switchboard.settings import redact_url
from switchboard.store.deliveries import invalid_reason as _invalid
from switchboard.store.deliveries import settle as _settle
from switchboard.store.metrics import StoreMetrics
from switchboard.store.redaction import Redactor
from switchboard.store.writer import BatchWriter, WriteResult, is_data_error

__all__ = ["Ingest", "IngestState"]

log = logging.getLogger(__name__)

#: The dead-letter routing key of conversation events (bound to ``{ns}.store.events.dlq``).
DLQ_ROUTING_KEY = "events"
CANCEL_TIMEOUT_S = 2.0
FIRST_RETRY_S = 0.2
#: Bound on connecting, declaring and registering the consumer, each time.
ATTACH_TIMEOUT_S = 15.0


class IngestState(enum.StrEnum):
    CREATED = "created"
    CONSUMING = "consuming"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Ingest:
    """One supervised consumer and one writer loop."""

    def __init__(
        self,
        *,
        amqp_url: str,
        connection_name: str,
        topology: Topology,
        writer: BatchWriter,
        redactor: Redactor,
        metrics: StoreMetrics,
        prefetch: int,
        batch_size: int,
        batch_wait_s: float,
        retry_max_s: float,
        reconnect_s: float,
        attach_timeout_s: float = ATTACH_TIMEOUT_S,
    ) -> None:
        self._amqp_url = amqp_url
        self._connection_name = connection_name
        self._topology = topology
        self._writer = writer
        self._redactor = redactor
        self._metrics = metrics
        self._prefetch = prefetch
        self._batch_size = batch_size
        self._batch_wait_s = batch_wait_s
        self._retry_max_s = retry_max_s
        self._reconnect_s = reconnect_s
        self._attach_timeout_s = attach_timeout_s
        self._pending: deque[DeliveredMessage] = deque()
        self._arrived = asyncio.Event()
        self._connection: AbstractConnection | None = None
        self._wake_at = 1  # the backlog at which the writer loop wants to hear of arrivals
        self._dead_letters: DeadLetters | None = None
        self._raw: RawChannel | None = None
        self._tag: str | None = None
        self._lost = asyncio.Event()
        self._attached = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        #: How many times the consumer was (re)attached; 1 after the first start.
        self.attachments = 0
        self.state = IngestState.CREATED

    @property
    def consuming(self) -> bool:
        """Running, with a consumer registered on an open channel."""
        return (
            self.state is IngestState.CONSUMING
            and self._attached.is_set()
            and self._raw is not None
            and not self._raw.is_closed
        )

    @property
    def backlog(self) -> int:
        """Messages received and not yet written."""
        return len(self._pending)

    async def start(self) -> None:
        """Start the supervisor and the writer loop; return once the consumer is registered
        the first time (the supervisor retries with backoff until then)."""
        self.state = IngestState.CONSUMING
        self._loop_task = asyncio.create_task(self._run(), name="store-ingest")
        self._supervisor = asyncio.create_task(self._supervise(), name="store-ingest-broker")
        await self._attached.wait()
        log.info(
            "consuming",
            extra={
                "queue": self._topology.store_events_queue,
                "prefetch": self._prefetch,
                "batch_size": self._batch_size,
            },
        )

    # -- the broker side ----------------------------------------------------------------------
    async def _supervise(self) -> None:
        delay = self._reconnect_s
        while self.state is IngestState.CONSUMING:
            try:
                async with asyncio.timeout(self._attach_timeout_s):
                    await self._attach()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "broker unreachable; retrying",
                    extra={
                        "error": repr(exc) or type(exc).__name__,
                        "retry_in_s": delay,
                        "url": redact_url(self._amqp_url),
                    },
                )
                await self._detach()
                await asyncio.sleep(delay)
                delay = min(delay * 2, max(self._reconnect_s, 5.0))
                continue
            delay = self._reconnect_s
            self.attachments += 1
            if self.attachments > 1:
                self._metrics.reconnects.inc()
                log.info("consuming again", extra={"attachments": self.attachments})
            self._attached.set()
            await self._lost.wait()
            if self.state is not IngestState.CONSUMING:
                return
            log.warning("broker link lost; reconnecting", extra={"retry_in_s": delay})
            await self._detach()
            await asyncio.sleep(delay)

    async def _attach(self) -> None:
        """Connect, declare, consume; any failure leaves it to the supervisor to start over."""
        self._lost.clear()
        connection = await aio_pika.connect(
            self._amqp_url,
            client_properties={"connection_name": self._connection_name},
            timeout=self._attach_timeout_s,
        )
        self._connection = connection
        connection.close_callbacks.add(self._on_lost)
        channel = await connection.channel()
        channel.close_callbacks.add(self._on_lost)
        await channel.set_qos(prefetch_count=self._prefetch)
        self._dead_letters = DeadLetters(
            await self._topology.declare_dead_letters(channel),
            routing_key=DLQ_ROUTING_KEY,
            counter=self._metrics.dead_lettered,
        )
        await self._topology.declare_store_queue(channel)
        await self._consume(channel)

    async def _consume(self, channel: AbstractChannel) -> None:
        """Consume on the underlying aiormq channel: deliveries stay plain ``DeliveredMessage``
        tuples (aio-pika's message objects cost more CPU per event than all the rest)."""
        raw = await channel.get_underlay_channel()
        raw.on_consumer_cancel_callbacks.add(self._on_cancelled)
        ok = await raw.basic_consume(
            self._topology.store_events_queue, self._on_message, no_ack=False
        )
        self._raw, self._tag = raw, ok.consumer_tag

    def _on_lost(self, *_: object) -> None:
        self._lost.set()

    def _on_cancelled(self, frame: object) -> None:
        # the broker cancelled the consumer (queue deleted, leader lost...): start over
        log.warning("the broker cancelled the consumer", extra={"frame": repr(frame)})
        self._lost.set()

    async def _detach(self) -> None:
        """Drop the broker link; deliveries not yet acknowledged come back from the broker, so
        the ones still waiting here are dropped rather than written twice."""
        self._attached.clear()
        self._raw, self._tag = None, None
        connection, self._connection = self._connection, None
        dead = [m for m in self._pending if m.channel.is_closed]
        if dead:
            self._pending = deque(m for m in self._pending if not m.channel.is_closed)
            log.info("dropped deliveries of a closed channel", extra={"count": len(dead)})
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CANCEL_TIMEOUT_S):
                    await connection.close()

    async def _on_message(self, message: DeliveredMessage) -> None:
        # only queued here: the writer loop settles it, with its batch
        self._pending.append(message)
        if len(self._pending) >= self._wake_at:
            self._arrived.set()

    async def stop(self, grace_s: float) -> None:
        """Stop consuming, write what was received (bounded by *grace_s*), close the link."""
        if self.state in (IngestState.STOPPING, IngestState.STOPPED):
            return
        self.state = IngestState.STOPPING
        if self._raw is not None and self._tag is not None and not self._raw.is_closed:
            try:
                async with asyncio.timeout(CANCEL_TIMEOUT_S):
                    await self._raw.basic_cancel(self._tag)
            except Exception as exc:
                log.info("consumer cancel failed", extra={"error": repr(exc)})
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
        self._arrived.set()
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._loop_task), grace_s)
            except TimeoutError:
                log.warning("shutdown with events unwritten", extra={"backlog": self.backlog})
                self._loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._loop_task
            except Exception:
                log.exception("ingest loop failed")
        await self._detach()
        self.state = IngestState.STOPPED

    # -- the writer loop --------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            batch = await self._take()
            if not batch:
                return  # stopping and nothing left
            try:
                await self._process(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # unexpected: give the batch back (a later multiple ack must not cover it); the
                # queue's delivery limit stops a crash loop
                log.exception("batch failed; returned to the queue", extra={"size": len(batch)})
                await _settle(batch, ack=False)

    async def _take(self) -> list[DeliveredMessage]:
        """The next batch: wait for a first message, then up to ``batch_wait_s`` for more. The
        loop is woken for the first message and for a full batch, not for each message. An empty
        list means stopping: while consuming, a backlog emptied meanwhile (a lost channel's
        deliveries dropped by ``_detach``) sends it back to waiting, never out of the loop."""
        while True:
            while not self._pending:
                if self.state is not IngestState.CONSUMING:
                    return []
                self._wake_at = 1
                self._arrived.clear()
                await self._arrived.wait()
            if len(self._pending) < self._batch_size and self.state is IngestState.CONSUMING:
                self._wake_at = self._batch_size
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._batch_wait_s):
                        await self._arrived.wait()
            count = min(len(self._pending), self._batch_size)
            if count:
                return [self._pending.popleft() for _ in range(count)]

    async def _process(self, batch: list[DeliveredMessage]) -> None:
        events: list[tuple[DeliveredMessage, ConversationEvent]] = []
        for message in batch:
            events += [(message, self._redactor.event(e)) for e in await self._parse(message)]
        # a batch of messages may hold many events each: one transaction per ``batch_size`` events
        for start in range(0, len(events), self._batch_size):
            chunk = events[start : start + self._batch_size]
            started = time.perf_counter()
            stored = await self._write(chunk)
            self._metrics.batch_seconds.observe(time.perf_counter() - started)
            now = datetime.now(UTC)
            by_type = Counter(event.payload.type for event in stored)
            for kind, count in by_type.items():
                self._metrics.events_stored.labels(kind).inc(count)
            self._metrics.lag.observe_many(
                max(0.0, (now - event.occurred_at).total_seconds()) for event in stored
            )
            duplicates = len(chunk) - len(stored)
            if duplicates:
                self._metrics.duplicates.inc(duplicates)
        self._metrics.batch_size.observe(len(events))
        await _settle(batch, ack=True)

    async def _parse(self, message: DeliveredMessage) -> list[ConversationEvent]:
        """The message's events; what cannot be read goes to the dead-letter queue. An array
        with bad elements is taken apart: its good events are kept, each bad one is
        dead-lettered on its own (with its index in the reason)."""
        try:
            return parse_conversation_events(message.body)
        except ValidationError as exc:
            parts = split_conversation_events(message.body)
            if parts is None:
                await self._dead_letter(message, _invalid(exc))
                return []
        events: list[ConversationEvent] = []
        for index, body in enumerate(parts):
            try:
                events.append(parse_conversation_event(body))
            except ValidationError as exc:
                await self._dead_letter(message, f"{_invalid(exc)} (element {index})", body=body)
        return events

    async def _write(
        self, events: Sequence[tuple[DeliveredMessage, ConversationEvent]]
    ) -> list[ConversationEvent]:
        """Write the batch, retrying while Postgres is unavailable; on a data error, write each
        event alone and dead-letter the ones Postgres refuses."""
        try:
            return (await self._write_retrying([e for _, e in events])).stored
        except Exception as exc:
            if not is_data_error(exc):
                raise
            self._metrics.write_failures.labels("data").inc()
            # not the message: Postgres may quote the value it refused (a transcript); the
            # dead-letter reason of the refused event has it
            log.warning(
                "batch refused; writing events one by one",
                extra={"error": type(exc).__name__, "sqlstate": getattr(exc, "sqlstate", None)},
            )
        stored: list[ConversationEvent] = []
        for message, event in events:
            try:
                stored += (await self._write_retrying([event])).stored
            except Exception as exc:
                if not is_data_error(exc):
                    raise
                sqlstate = getattr(exc, "sqlstate", "")
                # of a message holding several events, only the refused one (as parsed, redacted)
                await self._dead_letter(
                    message,
                    f"unstorable event: {sqlstate}: {exc}"[:500],
                    body=event.model_dump_json().encode() if is_event_batch(message.body) else None,
                    message_id=event.event_id,
                )
        return stored

    async def _write_retrying(self, events: list[ConversationEvent]) -> WriteResult:
        delay = FIRST_RETRY_S
        while True:
            try:
                return await self._writer.write(events)
            except Exception as exc:
                if is_data_error(exc):
                    raise
                self._metrics.write_failures.labels("unavailable").inc()
                log.warning(
                    "batch write failed; retrying",
                    extra={"error": repr(exc), "size": len(events), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)

    async def _dead_letter(
        self,
        message: DeliveredMessage,
        reason: str,
        *,
        body: bytes | None = None,
        message_id: str | None = None,
    ) -> None:
        """Keep *message* (or *body*, one part of it) in the dead-letter queue with *reason*; the
        message itself is acknowledged with its batch afterwards."""
        assert self._dead_letters is not None
        properties = message.header.properties
        await self._dead_letters.keep(
            message.body if body is None else body,
            reason=reason,
            queue=self._topology.store_events_queue,
            headers=properties.headers,
            content_type=properties.content_type,
            message_id=message_id or properties.message_id,
        )
