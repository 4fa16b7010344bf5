"""Reaching a dependency that may not be up yet: retry with capped backoff until it answers.

A service starts and serves (``/healthz``, ``/readyz`` 503) while its broker or database is
still down; what it needs is opened in the background by :func:`retry_forever`, and the broker's
robust connection by :func:`connect_broker` (aio-pika then restores it by itself after a drop).
Cancelling the task that waits is the way to give up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from switchboard.settings import redact_url

__all__ = ["CONNECT_BACKOFF", "connect_broker", "retry_forever"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Pauses between attempts, in seconds; the last one repeats.
CONNECT_BACKOFF: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)


async def retry_forever(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    delays: Sequence[float] = CONNECT_BACKOFF,
    log_extra: Mapping[str, Any] | None = None,
) -> T:
    """Await ``attempt()`` until it returns, pausing ``delays[n]`` after the n-th failure (the
    last pause repeats); each failure is logged as ``{what} unreachable; retrying``."""
    if not delays:
        raise ValueError("delays must not be empty")
    failures = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            delay = delays[min(failures, len(delays) - 1)]
            failures += 1
            log.warning(
                f"{what} unreachable; retrying",
                extra={**(log_extra or {}), "error": repr(exc), "retry_in_s": delay},
            )
            await asyncio.sleep(delay)


async def connect_broker(
    url: str,
    *,
    connection_name: str,
    reconnect_s: float,
    timeout_s: float = 10.0,
    delays: Sequence[float] = CONNECT_BACKOFF,
) -> AbstractRobustConnection:
    """A robust RabbitMQ connection named *connection_name* (as the broker's management UI shows
    it), retried with *delays* until the broker answers; once open, aio-pika reconnects it every
    *reconnect_s* after a drop."""

    async def attempt() -> AbstractRobustConnection:
        return await aio_pika.connect_robust(
            url,
            client_properties={"connection_name": connection_name},
            timeout=timeout_s,
            reconnect_interval=reconnect_s,
        )

    return await retry_forever(
        attempt, what="broker", delays=delays, log_extra={"url": redact_url(url)}
    )
