"""A small RPC client for tool calls over RabbitMQ (the gateway's side of the contract in
docs/architecture.md): publish a :class:`ToolCallRequest` to ``{ns}.tools`` with the tool name
as routing key, ``mandatory``, ``correlation_id`` = ``message_id`` = ``call_id`` and
``reply_to`` = RabbitMQ's direct reply-to (or, on request, this client's exclusive reply
queue), then await the :class:`ToolCallResult`.

Requests are transient by default and every call still waiting is published again, with the
same call id, whenever the channel comes back after a lost connection: a reply (or a request)
the broker dropped with the connection is asked for again, and the workers' effect records make
the repeat safe (a mutating call replays its recorded answer). See docs/worker.md.

An unroutable call (no worker ever declared that tool's queue) is answered ``unknown_tool``; no
answer before the deadline is answered ``timeout``. Used by tests, benchmarks and tools; a
service may use it or build its own on the same contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aiormq.abc import DeliveredMessage
from pydantic import ValidationError

from switchboard.amqp import DIRECT_REPLY_TO, Topology
from switchboard.contracts.tools import (
    ToolCallRequest,
    ToolCallResult,
    ToolErrorCode,
    Verification,
    parse_tool_call_result,
)

__all__ = ["ToolClient"]

log = logging.getLogger(__name__)

#: The ``worker`` of results this client makes up itself (unroutable, deadline passed).
CLIENT_WORKER = "toolclient"


class ToolClient:
    """Calls tools and awaits their results; one channel per client, many calls at once.

    ``direct_reply_to`` (default) takes replies on RabbitMQ's ``amq.rabbitmq.reply-to`` instead
    of a reply queue of its own; ``persistent`` marks requests persistent; ``confirms`` waits for
    the broker's publisher confirm of each request (without them an unroutable call is only
    noticed at its deadline, as ``timeout``). The defaults are the configuration chosen in
    docs/worker.md from ``make bench``.
    """

    def __init__(
        self,
        connection: AbstractConnection,
        topology: Topology,
        *,
        direct_reply_to: bool = True,
        persistent: bool = False,
        confirms: bool = True,
    ) -> None:
        self._connection = connection
        self._topology = topology
        self._direct = direct_reply_to
        self._delivery_mode = aio_pika.DeliveryMode.PERSISTENT if persistent else None
        self._confirms = confirms
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._replies: AbstractQueue | None = None
        self._pending: dict[str, asyncio.Future[ToolCallResult]] = {}
        self._requests: dict[str, ToolCallRequest] = {}
        self._resending: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ToolClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        channel = await self._connection.channel(publisher_confirms=self._confirms)
        self._channel = channel
        self._exchange = await self._topology.declare_tools_exchange(channel)
        if self._direct:
            # a passive declare, so a robust channel restores the consumer after a reconnect
            self._replies = await channel.declare_queue(DIRECT_REPLY_TO, passive=True)
        else:
            self._replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        await self._replies.consume(self._on_reply, no_ack=True)
        reopened = getattr(channel, "reopen_callbacks", None)  # robust channels only
        if reopened is not None:
            reopened.add(self._on_reopen)

    async def close(self) -> None:
        for task in self._resending:
            task.cancel()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._requests.clear()
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()

    @property
    def reply_queue(self) -> str:
        """What requests carry as ``reply_to``."""
        assert self._replies is not None, "call start() first"
        return self._replies.name

    @property
    def waiting(self) -> int:
        """Calls sent and not answered yet."""
        return len(self._pending)

    async def call(
        self,
        tool: str,
        arguments: dict[str, Any] | None = None,
        *,
        customer_id: str,
        session_id: str = "toolclient",
        call_id: str | None = None,
        timeout_s: float = 5.0,
        user_item_id: str | None = None,
        verification: Verification | None = None,
    ) -> ToolCallResult:
        """Build a request with a deadline *timeout_s* from now and send it (*user_item_id* and
        *verification* as the gateway would set them: see :class:`ToolCallRequest`)."""
        request = ToolCallRequest(
            call_id=call_id or f"call_{uuid.uuid4().hex}",
            session_id=session_id,
            customer_id=customer_id,
            tool=tool,
            arguments=arguments or {},
            deadline=datetime.now(UTC) + timedelta(seconds=timeout_s),
            user_item_id=user_item_id,
            verification=verification,
        )
        return await self.send(request)

    async def send(self, request: ToolCallRequest) -> ToolCallResult:
        """Publish *request* and wait for its result until its deadline."""
        assert self._exchange is not None, "call start() first"
        if request.call_id in self._pending:
            raise ValueError(f"call {request.call_id!r} is already waiting for its result")
        future: asyncio.Future[ToolCallResult] = asyncio.get_running_loop().create_future()
        self._pending[request.call_id] = future
        self._requests[request.call_id] = request
        try:
            returned = await self._publish(request)
            if isinstance(returned, DeliveredMessage):
                return _unroutable(request)
            remaining = (request.deadline - datetime.now(UTC)).total_seconds()
            try:
                return await asyncio.wait_for(asyncio.shield(future), max(0.0, remaining))
            except TimeoutError:
                return _made_up(request, ToolErrorCode.TIMEOUT, "The tool did not answer in time.")
        finally:
            self._pending.pop(request.call_id, None)
            self._requests.pop(request.call_id, None)

    async def _publish(self, request: ToolCallRequest) -> object:
        assert self._exchange is not None, "call start() first"
        return await self._exchange.publish(
            aio_pika.Message(
                body=request.model_dump_json().encode(),
                content_type="application/json",
                correlation_id=request.call_id,
                message_id=request.call_id,
                reply_to=self.reply_queue,
                delivery_mode=self._delivery_mode,
                type=request.type,
            ),
            routing_key=request.tool,
            mandatory=True,
        )

    def _on_reopen(self, *_: object) -> None:
        """The channel is back after a lost connection: ask again for every call still waiting
        (its request or its reply may have gone with the connection)."""
        if self._requests:
            task = asyncio.create_task(self._resend(), name="toolclient-resend")
            self._resending.add(task)
            task.add_done_callback(self._resending.discard)

    async def _resend(self) -> None:
        now = datetime.now(UTC)
        for request in list(self._requests.values()):
            future = self._pending.get(request.call_id)
            if future is None or future.done() or request.expired(now):
                continue
            try:
                returned = await self._publish(request)
            except Exception as exc:  # lost again: the next reopen tries again
                log.info("could not re-send a tool call", extra={"error": repr(exc)})
                return
            if isinstance(returned, DeliveredMessage) and not future.done():
                future.set_result(_unroutable(request))
        log.info(
            "re-sent waiting tool calls after a reconnect", extra={"calls": len(self._requests)}
        )

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        try:
            result = parse_tool_call_result(message.body)
        except ValidationError:
            log.warning("unreadable tool result", extra={"correlation_id": message.correlation_id})
            return
        future = self._pending.get(message.correlation_id or result.call_id)
        if future is not None and not future.done():
            future.set_result(result)


def _unroutable(request: ToolCallRequest) -> ToolCallResult:
    return _made_up(
        request, ToolErrorCode.UNKNOWN_TOOL, f"No worker serves the tool {request.tool!r}."
    )


def _made_up(request: ToolCallRequest, code: ToolErrorCode, message: str) -> ToolCallResult:
    return ToolCallResult.failure(request.call_id, code, message, worker=CLIENT_WORKER)
