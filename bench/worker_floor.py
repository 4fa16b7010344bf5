"""The broker's floor for the worker bench: a bare aio-pika RPC loop (a client and an echo
consumer on separate connections in this process) under one transport configuration, so the
tool path can be compared with what the library itself costs on the same machine in the same
run. Nothing of Switchboard is on this path except the message bodies' sizes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aiormq.abc import FieldTable

__all__ = ["Transport", "floor"]

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


@dataclass(frozen=True, slots=True)
class Transport:
    """One candidate configuration of the tool-call path."""

    label: str
    queue_type: str = "classic"  # the call queue: classic | quorum
    persistent: bool = False  # requests' delivery mode
    confirms: bool = True  # publisher confirms of requests (the caller's side)
    reply: str = "direct"  # direct (amq.rabbitmq.reply-to) | queue (one per client)
    prefetch: int = 32
    reply_confirms: bool = True  # publisher confirms of answers (the worker's side)

    def worker_env(self) -> dict[str, str]:
        return {
            "WORKER_CALL_QUEUE_TYPE": self.queue_type,
            "WORKER_REPLY_CONFIRMS": str(self.reply_confirms).lower(),
            "WORKER_PREFETCH": str(self.prefetch),
        }

    @property
    def broker_side(self) -> tuple[object, ...]:
        """Everything but prefetch: what the bare floor is measured under."""
        return (self.queue_type, self.persistent, self.confirms, self.reply, self.reply_confirms)


Call = Callable[[int], Awaitable[None]]


async def floor(
    amqp_url: str,
    transport: Transport,
    *,
    request_body: bytes,
    reply_body: bytes,
    n_latency: int,
    n_throughput: int,
    concurrency: int,
) -> tuple[list[float], float]:
    """Sequential round trips (ms) and pipelined calls/s of the bare RPC loop."""
    server = await aio_pika.connect(amqp_url, client_properties={"connection_name": "bench-floor"})
    client = await aio_pika.connect(amqp_url, client_properties={"connection_name": "bench-floor"})
    queue_name = f"bench-floor-{uuid.uuid4().hex[:8]}"
    try:
        s_channel = await server.channel(publisher_confirms=transport.reply_confirms)
        await s_channel.set_qos(prefetch_count=transport.prefetch)
        arguments: FieldTable = {"x-queue-type": transport.queue_type}
        queue = await s_channel.declare_queue(queue_name, durable=True, arguments=arguments)

        async def echo(message: AbstractIncomingMessage) -> None:
            await s_channel.default_exchange.publish(
                aio_pika.Message(reply_body, correlation_id=message.correlation_id),
                routing_key=message.reply_to or "",
                mandatory=False,  # returned even when delivered, for a direct reply-to
            )
            await message.ack()

        tag = await queue.consume(echo)

        c_channel = await client.channel(publisher_confirms=transport.confirms)
        pending: dict[str, asyncio.Future[None]] = {}

        async def on_reply(message: AbstractIncomingMessage) -> None:
            future = pending.pop(message.correlation_id or "", None)
            if future is not None and not future.done():
                future.set_result(None)

        if transport.reply == "direct":
            replies = await c_channel.get_queue(DIRECT_REPLY_TO, ensure=False)
            reply_to = DIRECT_REPLY_TO
        else:
            replies = await c_channel.declare_queue(exclusive=True, auto_delete=True)
            reply_to = replies.name
        await replies.consume(on_reply, no_ack=True)
        mode = aio_pika.DeliveryMode.PERSISTENT if transport.persistent else None
        loop = asyncio.get_running_loop()

        async def call(i: int) -> None:
            cid = f"floor-{i}-{uuid.uuid4().hex[:6]}"
            future = loop.create_future()
            pending[cid] = future
            await c_channel.default_exchange.publish(
                aio_pika.Message(
                    request_body, correlation_id=cid, reply_to=reply_to, delivery_mode=mode
                ),
                routing_key=queue_name,
            )
            await asyncio.wait_for(future, 30)

        for i in range(100):  # warm up
            await call(i)
        latencies = []
        for i in range(n_latency):
            started = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - started) * 1000)
        rate = await pipelined(call, n_throughput, concurrency)
        await queue.cancel(tag)
        await s_channel.queue_delete(queue_name)
    finally:
        await client.close()
        await server.close()
    return latencies, rate


async def pipelined(call: Call, n: int, concurrency: int) -> float:
    """Calls per second for *n* calls with *concurrency* in flight."""
    counter = iter(range(n))

    async def lane() -> None:
        for i in counter:
            await call(i)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)
