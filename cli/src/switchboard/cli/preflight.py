"""Check that Postgres, RabbitMQ and Redis answer before anything starts."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import redis.asyncio as aioredis

from switchboard.settings import redact_url

__all__ = ["InfrastructureError", "check_infrastructure"]


class InfrastructureError(RuntimeError):
    """A backing service is unreachable; the message says which and how to provide it."""


async def _postgres(url: str) -> None:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")), timeout=5)
    await conn.close()


async def _rabbitmq(url: str) -> None:
    conn = await aio_pika.connect(url, timeout=5)
    await conn.close()


async def _redis(url: str) -> None:
    client = aioredis.from_url(url, socket_connect_timeout=5)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def check_infrastructure(database_url: str, amqp_url: str, redis_url: str) -> None:
    """Raise :class:`InfrastructureError` naming every unreachable service."""
    checks = {
        "Postgres (DATABASE_URL)": (_postgres, database_url),
        "RabbitMQ (AMQP_URL)": (_rabbitmq, amqp_url),
        "Redis (REDIS_URL)": (_redis, redis_url),
    }
    results = await asyncio.gather(
        *(fn(url) for fn, url in checks.values()), return_exceptions=True
    )
    problems = [
        f"  - {name} at {redact_url(url)}: {type(result).__name__}: {result}"
        for (name, (_fn, url)), result in zip(checks.items(), results, strict=True)
        if isinstance(result, BaseException)
    ]
    if problems:
        raise InfrastructureError(
            "cannot reach the backing services:\n" + "\n".join(problems) + "\n"
            "Start the local servers (make services) or set the URLs in the environment or .env."
        )
