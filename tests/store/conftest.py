"""Fixtures of the conversation store tests: a database of their own (migrated), a namespace of
their own, an in-process store consuming it, and a publisher of conversation events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest
from playwright.async_api import Browser, Page, async_playwright

from switchboard.amqp import Topology
from switchboard.cli.stack import Service
from switchboard.contracts.events import ConversationEvent
from switchboard.store.service import StoreService, plain_dsn
from switchboard.store.settings import StoreSettings
from tests.conftest import RUN_ID, create_database, drop_database
from tests.infra import InfraUrls
from tests.processes import start_service

SettingsFactory = Callable[..., StoreSettings]


@pytest.fixture(scope="session")
def store_namespace(namespace: str) -> str:
    return f"{namespace}-store"


@pytest.fixture(scope="session")
async def store_database_url(infra: InfraUrls) -> AsyncIterator[str]:
    """The store tests' own database, migrated to head."""
    from switchboard.cli.db import migrate

    name = f"sbstore_{RUN_ID}"
    url = await create_database(infra.database_url, name)
    await migrate(url)
    yield url
    await drop_database(infra.database_url, name)


@pytest.fixture(scope="session")
def make_store_settings(
    infra: InfraUrls, store_database_url: str, store_namespace: str
) -> SettingsFactory:
    def build(**overrides: Any) -> StoreSettings:
        values: dict[str, Any] = {
            "DATABASE_URL": store_database_url,
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": store_namespace,
            "STORE_INSTANCE_ID": "test-store",
            "STORE_HTTP_PORT": 0,
            "STORE_BATCH_WAIT_S": 0.02,
            "DATABASE_POOL_SIZE": 3,
        }
        values.update(overrides)
        return StoreSettings(**values)

    return build


@pytest.fixture(scope="session")
async def store_broker(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, store_namespace: str
) -> AsyncIterator[Topology]:
    """The store namespace's topology, deleted after the run."""
    topology = Topology(store_namespace)
    yield topology
    channel = await amqp_connection.channel()
    try:
        await topology.delete_all(channel)
    finally:
        if not channel.is_closed:
            await channel.close()


@pytest.fixture(scope="session")
async def store(
    make_store_settings: SettingsFactory, store_broker: Topology
) -> AsyncIterator[StoreService]:
    """One in-process store (ingest on) for the whole run."""
    del store_broker
    service = StoreService(make_store_settings())
    await service.start()
    await asyncio.wait_for(service.serving.wait(), 30)
    yield service
    await service.stop()


class Publisher:
    """Publishes events (or raw bodies) to the events exchange, with publisher confirms, as the
    gateway does."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, topology: Topology) -> None:
        self.channel = channel
        self.topology = topology

    async def start(self) -> None:
        await self.topology.declare_store_queue(self.channel)
        self.exchange = await self.topology.declare_events_exchange(self.channel)

    async def publish(self, *events: ConversationEvent) -> None:
        for event in events:
            await self.raw(
                event.model_dump_json().encode(),
                self.topology.event_routing_key(event.payload.type),
                message_id=event.event_id,
            )

    async def raw(self, body: bytes, routing_key: str, *, message_id: str | None = None) -> None:
        await self.exchange.publish(
            aio_pika.Message(
                body=body,
                content_type="application/json",
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )


@pytest.fixture(scope="session")
async def publisher(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, store_broker: Topology
) -> AsyncIterator[Publisher]:
    channel = await amqp_connection.channel(publisher_confirms=True)
    pub = Publisher(channel, store_broker)
    await pub.start()
    yield pub
    await channel.close()


@pytest.fixture(scope="session")
async def db(store_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A plain asyncpg pool on the store database, for assertions."""
    pool = await asyncpg.create_pool(plain_dsn(store_database_url), min_size=1, max_size=3)
    yield pool
    await pool.close()


WaitStored = Callable[..., Awaitable[int]]


@pytest.fixture(scope="session")
def wait_stored(db: asyncpg.Pool) -> WaitStored:
    """``await wait_stored(session_id, count)``: wait until the session has *count* events
    stored (polling the database), and return the count."""

    async def wait(session_id: str, count: int, within_s: float = 30) -> int:
        deadline = time.monotonic() + within_s
        while True:
            n = await db.fetchval(
                "SELECT count(*) FROM audit.event WHERE session_id = $1", session_id
            )
            if n >= count or time.monotonic() > deadline:
                return int(n)
            await asyncio.sleep(0.02)

    return wait


#: Test accounts (name -> password, role); their hashes are made once per run.
ACCOUNTS = {"ana": ("ana-password", "analyst"), "root": ("root-password", "admin")}


@pytest.fixture(scope="session")
def users_setting() -> str:
    from switchboard.store.auth import hash_password

    return ",".join(f"{name}:{role}:{hash_password(pw)}" for name, (pw, role) in ACCOUNTS.items())


@pytest.fixture(scope="session")
async def api_url(
    make_store_settings: SettingsFactory, store: StoreService, users_setting: str
) -> AsyncIterator[str]:
    """The HTTP app of the shared store, served by uvicorn on a free port."""
    import socket

    import uvicorn

    from switchboard.store.app import create_app
    from switchboard.store.auth import Accounts

    store.accounts = Accounts.parse(users_setting)
    app = create_app(make_store_settings(), service=store)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def proc_topology(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, store_namespace: str
) -> AsyncIterator[Topology]:
    """A namespace only store subprocesses consume (not the shared in-process store)."""
    topology = Topology(f"{store_namespace}-proc")
    yield topology
    channel = await amqp_connection.channel()
    try:
        await topology.delete_all(channel)
    finally:
        if not channel.is_closed:
            await channel.close()


@pytest.fixture
async def store_processes(
    infra: InfraUrls,
    store_database_url: str,
    proc_topology: Topology,
    users_setting: str,
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[Service]]]:
    """Start store subprocesses (``python -m switchboard.store.main``, ready once consuming
    and serving its API) on the process namespace (killed after the test)."""
    started: list[Service] = []

    async def start(**env: str) -> Service:
        proc = await start_service(
            "switchboard.store.main",
            {
                "DATABASE_URL": store_database_url,
                "AMQP_URL": infra.amqp_url,
                "REDIS_URL": infra.redis_url,
                "SWITCHBOARD_NAMESPACE": proc_topology.namespace,
                "STORE_HTTP_PORT": "0",
                "STORE_USERS": users_setting,
                "DATABASE_POOL_SIZE": "2",
                **env,
            },
            name=f"store-{len(started) + 1}",
            ready_msg="store serving",
            log_dir=tmp_path,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        await asyncio.to_thread(proc.kill)


CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium for the analyst UI tests (it plays audio without a click on the
    native controls, and silently)."""
    if not HAVE_CHROMIUM:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (debian-packages.txt)")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page; the test fails if the page raised a script error."""
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await context.close()
    assert not errors, errors
