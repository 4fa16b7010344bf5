"""A small RPC client for tool calls over RabbitMQ (the gateway's side of the contract in
docs/architecture.md): publish a :class:`ToolCallRequest` to ``{ns}.tools`` with the tool name
as routing key, ``mandatory``, ``correlation_id`` = ``message_id`` = ``call_id`` and
``reply_to`` = this client's exclusive reply queue, then await the :class:`ToolCallResult`.

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

from switchboard.amqp import Topology
from switchboard.contracts.tools import (
    ToolCallRequest,
    ToolCallResult,
    ToolError,
    ToolErrorCode,
    parse_tool_call_result,
)

__all__ = ["ToolClient"]

log = logging.getLogger(__name__)

#: The ``worker`` of results this client makes up itself (unroutable, deadline passed).
CLIENT_WORKER = "toolclient"


class ToolClient:
    """Calls tools and awaits their results; one reply queue per client, many calls at once."""

    def __init__(self, connection: AbstractConnection, topology: Topology) -> None:
        self._connection = connection
        self._topology = topology
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._replies: AbstractQueue | None = None
        self._pending: dict[str, asyncio.Future[ToolCallResult]] = {}

    async def __aenter__(self) -> ToolClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await self._topology.declare_tools_exchange(self._channel)
        self._replies = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await self._replies.consume(self._on_reply, no_ack=True)

    async def close(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()

    @property
    def reply_queue(self) -> str:
        assert self._replies is not None, "call start() first"
        return self._replies.name

    async def call(
        self,
        tool: str,
        arguments: dict[str, Any] | None = None,
        *,
        customer_id: str,
        session_id: str = "toolclient",
        call_id: str | None = None,
        timeout_s: float = 5.0,
    ) -> ToolCallResult:
        """Build a request with a deadline *timeout_s* from now and send it."""
        request = ToolCallRequest(
            call_id=call_id or f"call_{uuid.uuid4().hex}",
            session_id=session_id,
            customer_id=customer_id,
            tool=tool,
            arguments=arguments or {},
            deadline=datetime.now(UTC) + timedelta(seconds=timeout_s),
        )
        return await self.send(request)

    async def send(self, request: ToolCallRequest) -> ToolCallResult:
        """Publish *request* and wait for its result until its deadline."""
        assert self._exchange is not None, "call start() first"
        if request.call_id in self._pending:
            raise ValueError(f"call {request.call_id!r} is already waiting for its result")
        future: asyncio.Future[ToolCallResult] = asyncio.get_running_loop().create_future()
        self._pending[request.call_id] = future
        try:
            returned = await self._exchange.publish(
                aio_pika.Message(
                    body=request.model_dump_json().encode(),
                    content_type="application/json",
                    correlation_id=request.call_id,
                    message_id=request.call_id,
                    reply_to=self.reply_queue,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    type=request.type,
                ),
                routing_key=request.tool,
                mandatory=True,
            )
            if isinstance(returned, DeliveredMessage):
                return _made_up(
                    request,
                    ToolErrorCode.UNKNOWN_TOOL,
                    f"No worker serves the tool {request.tool!r}.",
                )
            remaining = (request.deadline - datetime.now(UTC)).total_seconds()
            try:
                return await asyncio.wait_for(asyncio.shield(future), max(0.0, remaining))
            except TimeoutError:
                return _made_up(request, ToolErrorCode.TIMEOUT, "The tool did not answer in time.")
        finally:
            self._pending.pop(request.call_id, None)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        try:
            result = parse_tool_call_result(message.body)
        except ValidationError:
            log.warning("unreadable tool result", extra={"correlation_id": message.correlation_id})
            return
        future = self._pending.get(message.correlation_id or result.call_id)
        if future is not None and not future.done():
            future.set_result(result)


def _made_up(request: ToolCallRequest, code: ToolErrorCode, message: str) -> ToolCallResult:
    return ToolCallResult(
        call_id=request.call_id,
        ok=False,
        error=ToolError(code=code, message=message),
        duration_ms=0,
        worker=CLIENT_WORKER,
    )
