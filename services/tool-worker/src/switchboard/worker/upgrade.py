"""Retiring the call queues of the other kind: an upgrade from quorum call queues
(``{ns}.tool.<name>``, every release before the classic ones) or a switch of
``WORKER_CALL_QUEUE_TYPE`` leaves a queue per tool that would otherwise keep receiving every
call (it is still bound) with nobody consuming it.

At start, for each served tool, a worker looks for the other kind's queue. If it exists, the
worker unbinds it at once (new calls go only to the queue it consumes); then, if no worker
consumes it any more, it answers whatever calls are left in it (one ``basic.get`` at a time,
through the same handler as every call) and deletes it once empty. While workers of the earlier
release still consume it (a rolling update), they drain it themselves and the next worker to
start deletes it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity

from switchboard.amqp import CALL_QUEUE_TYPES, CallQueueType, Topology

__all__ = ["retire_other_call_queues"]

log = logging.getLogger(__name__)

Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


async def retire_other_call_queues(
    connection: AbstractConnection,
    topology: Topology,
    tools: list[str],
    keep: CallQueueType,
    handle: Handler,
) -> list[str]:
    """Unbind, drain and delete the other kinds' call queues of *tools*; the names deleted."""
    deleted = []
    for tool in tools:
        for kind in CALL_QUEUE_TYPES:
            if kind != keep and await _retire(connection, topology, tool, kind, handle):
                deleted.append(topology.tool_queue(tool, kind))
    return deleted


async def _retire(
    connection: AbstractConnection,
    topology: Topology,
    tool: str,
    kind: CallQueueType,
    handle: Handler,
) -> bool:
    name = topology.tool_queue(tool, kind)
    # a passive declare of a missing queue closes its channel: one channel per look
    channel = await connection.channel()
    try:
        try:
            queue = await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:  # not found: nothing to retire (the usual case)
            return False
        await queue.unbind(topology.tools_exchange, routing_key=tool)
        declared = queue.declaration_result
        if declared.consumer_count:
            log.info(
                "call queue of another kind unbound; its consumers drain it",
                extra={"queue": name, "consumers": declared.consumer_count},
            )
            return False
        answered = 0
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            await handle(message)
            answered += 1
        # unbound and unconsumed, so nothing can arrive after the last get (quorum queues
        # refuse ``if-empty``, closing the connection)
        await queue.delete(if_unused=False, if_empty=False)
        log.info("call queue of another kind retired", extra={"queue": name, "answered": answered})
        return True
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
