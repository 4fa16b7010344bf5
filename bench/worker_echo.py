"""The broker's floor as a process of its own, for instruction counts: a bare aio-pika echo
consumer (classic queue, prefetch 32, the answer published on the call's channel without a
confirm and the call acknowledged after it, as the worker's chosen configuration does) that
answers every call on its ``reply_to`` with a fixed body of an answer's size. It prints the JSON
line ``{"msg": "consuming"}`` once it consumes; SIGTERM stops it.

``python -m bench.worker_echo AMQP_URL QUEUE``
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

__all__ = ["main"]

#: About the size of a ``check_order_status`` answer.
REPLY_BODY = b"x" * 700
PREFETCH = 32


async def _serve(amqp_url: str, queue_name: str) -> None:
    connection = await aio_pika.connect(
        amqp_url, client_properties={"connection_name": "bench-worker-echo"}
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.declare_queue(
            queue_name, durable=True, arguments={"x-queue-type": "classic"}
        )

        async def echo(message: AbstractIncomingMessage) -> None:
            await channel.default_exchange.publish(
                aio_pika.Message(REPLY_BODY, correlation_id=message.correlation_id),
                routing_key=message.reply_to or "",
            )
            await message.ack()

        await queue.consume(echo)
        print(json.dumps({"msg": "consuming"}), flush=True)
        await stop.wait()
        await channel.queue_delete(queue_name)
    finally:
        await connection.close()


def main() -> None:
    amqp_url, queue_name = sys.argv[1:3]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(_serve(amqp_url, queue_name))
    else:
        uvloop.run(_serve(amqp_url, queue_name))


if __name__ == "__main__":
    main()
