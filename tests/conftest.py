"""Fixtures every test shares: real infrastructure, isolated per test run.

Each run gets its own Postgres database (migrated to head), its own broker/Redis namespace
(``SWITCHBOARD_NAMESPACE``), and cleans them up afterwards, so runs can overlap and repeat.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from switchboard.amqp import Topology
from switchboard.db import create_engine, create_sessionmaker
from switchboard.keys import RedisKeys
from switchboard.settings import normalise_database_url
from tests.infra import InfraUrls, provide_infrastructure
from tests.support.proxy import TcpProxy

#: Fixtures shared by several test packages (the emulator, the running product, the phone
#: bridge, a voice); the product before the phone bridge that builds on it.
pytest_plugins = [
    "tests.support.emulator",
    "tests.support.product",
    "tests.support.phone",
    "tests.support.voice",
]

RUN_ID = uuid.uuid4().hex[:10]
#: The reference date of the seeded test data (fixed, so tests are deterministic).
SEED_AS_OF = date(2026, 11, 1)


def _dsn(url: str, database: str) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    return urlunsplit(parts._replace(path=f"/{database}"))


def via_proxy(url: str, port: int) -> str:
    """*url* (its scheme, credentials and path) pointed at a proxy on 127.0.0.1:*port*."""
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


@pytest.fixture
async def amqp_proxy(infra: InfraUrls) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the run's RabbitMQ (``via_proxy(infra.amqp_url, proxy.port)``),
    so a test can cut a service's broker link without touching the shared broker."""
    target = urlsplit(infra.amqp_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.up()
    yield proxy
    await proxy.down()


@pytest.fixture(scope="session")
def infra() -> Iterator[InfraUrls]:
    """The run's Postgres, RabbitMQ and Redis URLs (environment, else testcontainers)."""
    with provide_infrastructure() as urls:
        yield urls


@pytest.fixture(scope="session")
def namespace() -> str:
    """A broker/Redis namespace unique to this test run."""
    return f"t{RUN_ID}"


async def create_database(base_url: str, name: str) -> str:
    """A new, empty database *name* on the server of *base_url* (dropped first if it exists)."""
    from switchboard.cli import db

    url = normalise_database_url(_dsn(base_url, name))
    await db.drop_database(url)
    await db.ensure_database(url)
    return url


async def drop_database(base_url: str, name: str) -> None:
    from switchboard.cli import db

    await db.drop_database(normalise_database_url(_dsn(base_url, name)))


@pytest.fixture(scope="session")
async def database_url(infra: InfraUrls) -> AsyncIterator[str]:
    """A fresh database for this run, migrated to head (not seeded)."""
    from switchboard.cli.db import migrate

    name = f"sbtest_{RUN_ID}"
    url = await create_database(infra.database_url, name)
    await migrate(url)
    yield url
    await drop_database(infra.database_url, name)


@pytest.fixture(scope="session")
async def seeded_database_url(database_url: str) -> str:
    """The run's database filled with the deterministic demo data (as of a fixed date)."""
    from switchboard.cli.db import run_seed

    await run_seed(database_url, as_of=SEED_AS_OF)
    return database_url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url, pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(scope="session")
def topology(namespace: str) -> Topology:
    return Topology(namespace)


@pytest.fixture(scope="session")
def redis_keys(namespace: str) -> RedisKeys:
    return RedisKeys(namespace)


@pytest.fixture(scope="session")
async def amqp_connection(
    infra: InfraUrls, topology: Topology
) -> AsyncIterator[aio_pika.abc.AbstractRobustConnection]:
    """A broker connection for test code; the run's queues are deleted afterwards."""
    conn = await aio_pika.connect_robust(
        infra.amqp_url, client_properties={"connection_name": f"switchboard-tests-{RUN_ID}"}
    )
    yield conn
    try:
        channel = await conn.channel()
        await _delete_namespace(channel, topology)
    finally:
        await conn.close()


async def _delete_namespace(channel: aio_pika.abc.AbstractChannel, topology: Topology) -> None:
    """Delete every queue and exchange of the run's namespace (best effort, via passive checks)."""
    prefix = f"{topology.namespace}."
    names = await asyncio.to_thread(_list_broker_objects, prefix)
    if not names:
        await topology.delete_all(channel)
        return
    for kind, name in names:
        try:
            if kind == "queue":
                await channel.queue_delete(name)
            else:
                await channel.exchange_delete(name)
        except Exception:
            channel = await channel.connection.channel()  # type: ignore[union-attr]


def _list_broker_objects(prefix: str) -> list[tuple[str, str]]:
    """Queues/exchanges with *prefix*, from rabbitmqctl when it is on this machine."""
    import shutil
    import subprocess

    if not shutil.which("rabbitmqctl"):
        return []
    found: list[tuple[str, str]] = []
    for kind in ("queue", "exchange"):
        out = subprocess.run(
            ["rabbitmqctl", "-q", f"list_{kind}s", "name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
        found += [
            (kind, line.strip()) for line in out.splitlines() if line.strip().startswith(prefix)
        ]
    return found


@pytest.fixture(scope="session")
async def redis_client(infra: InfraUrls, namespace: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(infra.redis_url, decode_responses=True)
    yield client
    async for key in client.scan_iter(match=f"{namespace}:*", count=500):
        await client.delete(key)
    await client.aclose()
