"""Settling the ingest's deliveries: one ``multiple`` acknowledgement (or requeue) per channel for
a batch, and the dead-letter reason of an unreadable event."""

from __future__ import annotations

import logging

from aiormq.abc import AbstractChannel as RawChannel
from aiormq.abc import DeliveredMessage
from pydantic import ValidationError

__all__ = ["invalid_reason", "settle"]

log = logging.getLogger("switchboard.store.ingest")


def invalid_reason(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "message"
    return f"invalid event: {where}: {first['msg']}"


async def settle(batch: list[DeliveredMessage], *, ack: bool) -> None:
    """Acknowledge (or requeue) a batch with one ``multiple`` ack per channel: deliveries come in
    order, and every earlier one on that channel was in this batch or an earlier, settled one."""
    last: dict[int, tuple[RawChannel, int]] = {}
    for message in batch:
        tag = message.delivery_tag
        assert tag is not None
        key = id(message.channel)
        if key not in last or tag > last[key][1]:
            last[key] = (message.channel, tag)
    for channel, tag in last.values():
        try:
            if ack:
                await channel.basic_ack(tag, multiple=True)
            else:
                await channel.basic_nack(tag, multiple=True, requeue=True)
        except Exception as exc:
            # the channel is gone: the broker redelivers, and stored events are not stored twice
            log.info("could not settle a batch", extra={"error": repr(exc)})
