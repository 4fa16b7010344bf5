"""Where the test suite finds Postgres, RabbitMQ and Redis.

URLs come from ``DATABASE_URL``, ``AMQP_URL`` and ``REDIS_URL``. Where one is unset and a Docker
engine answers, testcontainers starts that server for the run. Otherwise the run stops with a
message saying how to provide it: the suite never skips its integration tests silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

__all__ = ["InfraUrls", "provide_infrastructure"]

HOW_TO = (
    "Switchboard's tests need real Postgres, RabbitMQ and Redis. Either set DATABASE_URL, "
    "AMQP_URL and REDIS_URL (make test does this for servers installed on this machine, "
    "starting them if stopped), or run a Docker engine so testcontainers can start them."
)


@dataclass(frozen=True)
class InfraUrls:
    database_url: str
    amqp_url: str
    redis_url: str


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:
        return False
    return True


@contextmanager
def provide_infrastructure() -> Iterator[InfraUrls]:
    database_url = os.environ.get("DATABASE_URL")
    amqp_url = os.environ.get("AMQP_URL")
    redis_url = os.environ.get("REDIS_URL")
    with ExitStack() as stack:
        if not (database_url and amqp_url and redis_url):
            if not _docker_available():
                missing = [
                    name
                    for name, value in (
                        ("DATABASE_URL", database_url),
                        ("AMQP_URL", amqp_url),
                        ("REDIS_URL", redis_url),
                    )
                    if not value
                ]
                raise RuntimeError(f"{', '.join(missing)} not set and no Docker engine. {HOW_TO}")
            if not database_url:
                from testcontainers.postgres import PostgresContainer

                pg = stack.enter_context(PostgresContainer("postgres:16-alpine", driver=None))
                database_url = pg.get_connection_url()
            if not amqp_url:
                from testcontainers.rabbitmq import RabbitMqContainer

                mq = stack.enter_context(RabbitMqContainer("rabbitmq:3.13-management-alpine"))
                params = mq.get_connection_params()
                amqp_url = f"amqp://guest:guest@{params.host}:{params.port}/"
            if not redis_url:
                from testcontainers.redis import RedisContainer

                rd = stack.enter_context(RedisContainer("redis:7-alpine"))
                redis_url = f"redis://{rd.get_container_host_ip()}:{rd.get_exposed_port(6379)}/0"
        yield InfraUrls(database_url, amqp_url, redis_url)
