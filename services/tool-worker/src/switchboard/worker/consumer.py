"""The broker side of a worker: consume each served tool's queue with an explicit prefetch,
answer every call on its ``reply_to`` with its ``correlation_id``, acknowledge only after the
answer is published, and move unreadable messages to the dead-letter queue with a reason.

An answer to a direct reply-to goes out on the channel the call came from, without a publisher
confirm, right before the ack: the broker handles a channel's frames in order, so a call is
never acknowledged without its answer having reached the broker first; an answer the caller
can no longer take (its connection dropped) is asked for again by the caller (docs/worker.md).
An answer to a named reply queue is published with a confirm and ``mandatory`` on a second
channel (which also carries the dead letters), so a vanished caller is noticed, and the call is
acknowledged once the broker confirmed it."""

from __future__ import annotations

import asyncio
import logging

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    ConsumerTag,
)
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic
from pydantic import ValidationError

from switchboard.amqp import CallQueueType, Topology, is_direct_reply_to
from switchboard.contracts.tools import (
    ToolCallResult,
    ToolErrorCode,
    parse_tool_call_request,
)
from switchboard.observability import log_context
from switchboard.runtime.deadletter import DeadLetters
from switchboard.worker.executor import Executor
from switchboard.worker.metrics import WorkerMetrics
from switchboard.worker.upgrade import retire_other_call_queues

__all__ = ["ToolConsumer"]

log = logging.getLogger(__name__)

#: Longest wait for the broker to confirm the consumer cancellations at shutdown.
CANCEL_TIMEOUT_S = 2.0
#: The dead-letter routing key of tool calls (bound to ``{ns}.tools.dlq``).
DLQ_ROUTING_KEY = "tools"


class ToolConsumer:
    """Consumes the queues of the tools in ``executor.registry`` on one channel."""

    def __init__(
        self,
        *,
        connection: AbstractRobustConnection,
        topology: Topology,
        executor: Executor,
        metrics: WorkerMetrics,
        prefetch: int,
        queue_type: CallQueueType,
        reply_confirms: bool = False,
    ) -> None:
        self._connection = connection
        self._topology = topology
        self._executor = executor
        self._metrics = metrics
        self._prefetch = prefetch
        self._queue_type = queue_type
        self._reply_confirms = reply_confirms
        self._channel: AbstractChannel | None = None
        self._confirmed: AbstractChannel | None = None
        self._dead_letters: DeadLetters | None = None
        self._consumers: list[tuple[AbstractQueue, ConsumerTag]] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._draining = False
        # read when scraped, not counted twice per call
        metrics.in_flight.set_function(lambda: self._in_flight)

    @property
    def consuming(self) -> bool:
        return bool(self._consumers) and not self._draining

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def start(self) -> None:
        """Declare the queues and start consuming them."""
        channel = await self._connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=self._prefetch)
        self._channel = channel
        # answers to named reply queues and dead letters: confirmed before the ack
        self._confirmed = await self._connection.channel(publisher_confirms=True)
        self._dead_letters = DeadLetters(
            await self._topology.declare_dead_letters(self._confirmed),
            routing_key=DLQ_ROUTING_KEY,
            counter=self._metrics.dead_letters,
        )
        tools = list(self._executor.registry)
        queues = [
            await self._topology.declare_tool_queue(channel, name, self._queue_type)
            for name in tools
        ]
        await retire_other_call_queues(
            self._connection, self._topology, tools, self._queue_type, self._on_other_message
        )
        for queue in queues:
            tag = await queue.consume(self._on_message)
            self._consumers.append((queue, tag))
        log.info(
            "consuming",
            extra={
                "tools": tools,
                "prefetch": self._prefetch,
                "queue_type": self._queue_type,
                "reply_confirms": self._reply_confirms,
            },
        )

    async def stop(self, grace_s: float) -> bool:
        """Stop taking calls, then wait up to *grace_s* for in-flight ones; True if drained."""
        self._draining = True
        consumers, self._consumers = self._consumers, []
        try:
            # bounded: with the broker unreachable there is nothing to cancel, and a robust
            # channel would otherwise wait for a reconnection
            async with asyncio.timeout(CANCEL_TIMEOUT_S):
                for queue, tag in consumers:
                    await queue.cancel(tag)
        except Exception as exc:
            log.info("consumer cancel failed", extra={"error": repr(exc)})
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
        except TimeoutError:
            log.warning("shutdown with calls in flight", extra={"in_flight": self._in_flight})
            return False
        return True

    async def close(self) -> None:
        for channel in (self._channel, self._confirmed):
            if channel is not None and not channel.is_closed:
                async with asyncio.timeout(CANCEL_TIMEOUT_S):
                    await channel.close()

    # -- one delivery ---------------------------------------------------------------------------
    async def _on_other_message(self, message: AbstractIncomingMessage) -> None:
        """A call taken on another channel (an old queue being drained): its answer is
        confirmed before the ack, since the ack does not follow it on one channel."""
        await self._on_message(message, own_channel=False)

    async def _on_message(
        self, message: AbstractIncomingMessage, *, own_channel: bool = True
    ) -> None:
        if self._draining:
            await message.nack(requeue=True)
            return
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._handle(message, own_channel=own_channel)
        except Exception:
            # never reached in normal operation (the executor answers every failure); the call
            # stays unacknowledged and the broker's delivery limit stops a crash loop
            log.exception("unexpected failure handling a delivery")
            await _settle(message, requeue=True)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _handle(self, message: AbstractIncomingMessage, *, own_channel: bool) -> None:
        try:
            request = parse_tool_call_request(message.body)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "message"
            await self._dead_letter(
                message, f"unparseable tool call request: {where}: {first['msg']}"
            )
            return
        if not message.reply_to:
            await self._dead_letter(message, "tool call request without reply_to")
            return
        context = {"call_id": request.call_id, "session_id": request.session_id}
        if request.trace.traceparent:
            context["traceparent"] = request.trace.traceparent
        with log_context(**context):
            if message.redelivered:
                self._metrics.redeliveries.labels(request.tool).inc()
                log.info("redelivered call", extra={"tool": request.tool})
            result = await self._executor.execute(request)
            try:
                await self._reply(
                    message.reply_to,
                    message.correlation_id or request.call_id,
                    result,
                    confirm=self._reply_confirms or not own_channel,
                )
            except Exception as exc:
                # not acknowledged: the broker gives the call again (answered from the record)
                self._metrics.replies_failed.inc()
                log.warning("could not publish the answer", extra={"error": repr(exc)})
                await _settle(message, requeue=True)
                return
            await message.ack()
            if not result.ok:
                assert result.error is not None
                log.info(
                    "call refused",
                    extra={"tool": request.tool, "code": str(result.error.code)},
                )
            elif log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "call answered",
                    extra={
                        "tool": request.tool,
                        "duration_ms": result.duration_ms,
                        "replayed": result.replayed,
                    },
                )

    async def _reply(
        self, reply_to: str, correlation_id: str, result: ToolCallResult, *, confirm: bool
    ) -> None:
        body = result.model_dump_json().encode()
        properties = Basic.Properties(
            content_type="application/json",
            correlation_id=correlation_id,
            message_id=result.call_id,
            message_type=result.type,
        )
        direct = is_direct_reply_to(reply_to)
        if direct and not confirm:
            # the call's own channel, in order before its ack (no aio-pika Message on this path)
            assert self._channel is not None
            raw = await self._channel.get_underlay_channel()
            await raw.basic_publish(body, routing_key=reply_to, properties=properties)
            return
        assert self._confirmed is not None
        raw = await self._confirmed.get_underlay_channel()
        # the broker returns every mandatory answer to a direct reply-to (and delivers it too)
        returned = await raw.basic_publish(
            body, routing_key=reply_to, properties=properties, mandatory=not direct
        )
        if isinstance(returned, Basic.Nack):
            raise RuntimeError("the broker did not take the answer (nack)")
        if isinstance(returned, DeliveredMessage):
            log.info("caller is gone; answer dropped", extra={"reply_to": reply_to})

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        """Keep the message in ``{ns}.tools.dlq`` with the reason; answer the caller if it can
        be identified; then acknowledge, so it never loops."""
        assert self._dead_letters is not None
        try:
            await self._dead_letters.keep(
                message.body,
                reason=reason,
                queue=message.routing_key or "",
                headers=message.headers,
                content_type=message.content_type,
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                reply_to=message.reply_to,
            )
        except Exception as exc:
            log.warning("could not dead-letter; rejecting instead", extra={"error": repr(exc)})
            # the queue's own dead-lettering (x-dead-letter-exchange) keeps it, without reason
            await message.reject(requeue=False)
            return
        if message.reply_to and message.correlation_id:
            error = ToolCallResult.failure(
                message.correlation_id[:128],
                ToolErrorCode.INVALID_ARGUMENTS,
                "The tool call request could not be read.",
                worker=self._executor.worker_id,
            )
            try:
                await self._reply(message.reply_to, message.correlation_id, error, confirm=True)
            except Exception as exc:
                log.info("could not answer a dead-lettered call", extra={"error": repr(exc)})
        await message.ack()


async def _settle(message: AbstractIncomingMessage, *, requeue: bool) -> None:
    try:
        await message.nack(requeue=requeue)
    except Exception as exc:  # channel gone: the broker requeues unacknowledged messages itself
        log.info("could not nack", extra={"error": repr(exc)})
