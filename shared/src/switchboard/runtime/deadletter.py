"""Dead-lettering with a reason: a message a service cannot use (unreadable, unstorable) is kept
in its dead-letter queue with the reason in ``x-switchboard-reason`` and the queue it came from
in ``x-switchboard-queue``, logged and counted, so it never loops and an operator can see why.

The caller settles the original delivery afterwards (acknowledges it, alone or with its batch);
a failed publish raises, and the caller decides what to do instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange
from prometheus_client import Counter

from switchboard.amqp import QUEUE_HEADER, REASON_HEADER

__all__ = ["DeadLetters", "reason_kind"]

log = logging.getLogger(__name__)


def reason_kind(reason: str) -> str:
    """What a reason is counted as: its text before the first colon (``invalid event: ...`` →
    ``invalid event``), so a metric label never carries message details."""
    return reason.split(":", 1)[0]


class DeadLetters:
    """Publishes dead letters to *exchange* (``{ns}.dlx``) with *routing_key* (its dead-letter
    queue's binding), counting each in *counter* (labelled by ``reason``) when given."""

    def __init__(
        self, exchange: AbstractExchange, *, routing_key: str, counter: Counter | None = None
    ) -> None:
        self.exchange = exchange
        self.routing_key = routing_key
        self.counter = counter

    async def keep(
        self,
        body: bytes,
        *,
        reason: str,
        queue: str,
        headers: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        message_id: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        """Keep *body* (with the original message's *headers* and properties) as a persistent
        dead letter saying *reason* and *queue*."""
        log.warning("dead-lettering a message", extra={"reason": reason, "message_id": message_id})
        if self.counter is not None:
            self.counter.labels(reason_kind(reason)).inc()
        await self.exchange.publish(
            aio_pika.Message(
                body=body,
                headers={**(headers or {}), REASON_HEADER: reason, QUEUE_HEADER: queue},
                content_type=content_type,
                message_id=message_id,
                correlation_id=correlation_id,
                reply_to=reply_to,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=self.routing_key,
        )
