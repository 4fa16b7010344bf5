"""Fixtures of the tool worker tests: an in-process worker on a namespace of its own (so no
other area's worker competes for its calls), a tool client, and the shop factory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.amqp import Topology
from switchboard.cli.stack import Service
from switchboard.contracts.tools import (
    CONFIRM_ACTION_TOOL,
    PendingAction,
    ToolCallResult,
)
from switchboard.toolclient import ToolClient
from switchboard.worker.service import WorkerService
from switchboard.worker.settings import WorkerSettings
from switchboard.worker.tools import ALL_TOOLS
from tests.conftest import SEED_AS_OF
from tests.infra import InfraUrls
from tests.processes import start_service
from tests.support.shop import ShopFactory
from tests.worker.actions import ASK_ITEM, YES_ITEM, tool_request

TOOL_NAMES = tuple(t.name for t in ALL_TOOLS)

SettingsFactory = Callable[..., WorkerSettings]


@pytest.fixture(scope="session")
def worker_namespace(namespace: str) -> str:
    """The worker tests' own broker/Redis namespace."""
    return f"{namespace}-worker"


@pytest.fixture(scope="session")
def make_settings(
    infra: InfraUrls, seeded_database_url: str, worker_namespace: str
) -> SettingsFactory:
    """Worker settings for this run (seeded database, fixed shop date); overrides by env name."""

    def build(**overrides: Any) -> WorkerSettings:
        values: dict[str, Any] = {
            "DATABASE_URL": seeded_database_url,
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": worker_namespace,
            "WORKER_ID": f"test-worker-{uuid.uuid4().hex[:6]}",
            "WORKER_HTTP_PORT": 0,
            "WORKER_TODAY": SEED_AS_OF,
            "DATABASE_POOL_SIZE": 4,
            "LOG_LEVEL": "INFO",
        }
        values.update(overrides)
        return WorkerSettings(**values)

    return build


@pytest.fixture(scope="session")
async def broker_cleanup(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    redis_client: aioredis.Redis,
    worker_namespace: str,
) -> AsyncIterator[None]:
    """Delete the worker namespace's queues, exchanges and Redis keys after the run."""
    yield
    channel = await amqp_connection.channel()
    try:
        await Topology(worker_namespace).delete_all(channel, tools=TOOL_NAMES)
    finally:
        if not channel.is_closed:
            await channel.close()
    async for key in redis_client.scan_iter(match=f"{worker_namespace}:*", count=500):
        await redis_client.delete(key)


StartWorker = Callable[..., Awaitable[WorkerService]]


@pytest.fixture
async def start_worker(
    make_settings: SettingsFactory, broker_cleanup: None
) -> AsyncIterator[StartWorker]:
    """Start in-process workers (stopped after the test)."""
    started: list[WorkerService] = []

    async def start(**overrides: Any) -> WorkerService:
        service = WorkerService(make_settings(**overrides))
        await service.start()
        started.append(service)
        await service.serving.wait()
        return service

    yield start
    for service in reversed(started):
        await service.stop()


@pytest.fixture(scope="session")
async def shared_worker(
    make_settings: SettingsFactory, broker_cleanup: None
) -> AsyncIterator[WorkerService]:
    """One worker serving every tool for the whole run."""
    service = WorkerService(make_settings(WORKER_ID="test-worker-shared"))
    await service.start()
    await service.serving.wait()
    yield service
    await service.stop()


@pytest.fixture(scope="session")
async def tool_client(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, worker_namespace: str
) -> AsyncIterator[ToolClient]:
    """A tool client on the worker namespace."""
    async with ToolClient(amqp_connection, Topology(worker_namespace)) as client:
        yield client


Call = Callable[..., Awaitable[ToolCallResult]]


@pytest.fixture
async def call(shared_worker: WorkerService, tool_client: ToolClient) -> Call:
    """``await call(tool, args, customer_id=..., session_id=..., user_item_id=...,
    verification=..., call_id=...)`` through RabbitMQ to the shared worker."""
    del shared_worker  # started for its side effect

    async def run(tool: str, arguments: dict[str, Any] | None = None, **kw: Any) -> ToolCallResult:
        request = tool_request(tool, arguments, **kw)
        return await tool_client.send(request)

    return run


@pytest.fixture
async def commit(call: Call) -> Call:
    """``await commit(tool, args, customer_id=...)``: a two-phase tool proposed in one user
    turn and confirmed in the next, as a customer saying yes would. Answers the proposal when it
    is refused (or changes nothing), the confirmation's refusal, or the confirmation with its
    ``output`` unwrapped to the original tool's result (its ``call_id`` is the confirming
    call's, the one the effect rows carry)."""

    async def run(
        tool: str, arguments: dict[str, Any] | None = None, *, customer_id: str, **kw: Any
    ) -> ToolCallResult:
        session = kw.pop("session_id", f"sess-{uuid.uuid4().hex[:10]}")
        proposal = await call(
            tool,
            arguments,
            customer_id=customer_id,
            session_id=session,
            user_item_id=ASK_ITEM,
            **kw,
        )
        action = PendingAction.from_output(proposal.output) if proposal.ok else None
        if action is None:
            return proposal
        confirmed = await call(
            CONFIRM_ACTION_TOOL,
            {"action_id": action.action_id},
            customer_id=customer_id,
            session_id=session,
            user_item_id=YES_ITEM,
            **kw,
        )
        if not confirmed.ok:
            return confirmed
        return confirmed.model_copy(update={"output": (confirmed.output or {})["result"]})

    return run


@pytest.fixture(scope="session")
def shop(sessionmaker: async_sessionmaker[AsyncSession], seeded_database_url: str) -> ShopFactory:
    """Factory of customers and orders in known states."""
    del seeded_database_url  # the seeded products must exist
    return ShopFactory(sessionmaker)


class RawBroker:
    """Publishes hand-made messages to the tools exchange and collects replies by correlation id
    (for what a well-behaved client never sends: expired, malformed, duplicated calls)."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, topology: Topology) -> None:
        self.channel = channel
        self.topology = topology
        self.replies: dict[str, list[Any]] = {}
        self._waiters: dict[str, Any] = {}

    async def start(self) -> None:
        import asyncio

        self.exchange = await self.topology.declare_tools_exchange(self.channel)
        self.queue = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        self._loop = asyncio.get_running_loop()
        await self.queue.consume(self._on_reply, no_ack=True)
        self.letters: dict[str, aio_pika.abc.AbstractIncomingMessage] = {}
        self._letter_waiters: dict[str, Any] = {}
        dlq = await self.channel.declare_queue(
            self.topology.tools_dead_letter_queue,
            durable=True,
            arguments={"x-queue-type": "quorum"},
        )
        await dlq.consume(self._on_letter, no_ack=True)

    async def _on_reply(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        from switchboard.contracts.tools import parse_tool_call_result

        key = message.correlation_id or ""
        self.replies.setdefault(key, []).append(parse_tool_call_result(message.body))
        waiter = self._waiters.get(key)
        if waiter is not None and len(self.replies[key]) >= waiter[0] and not waiter[1].done():
            waiter[1].set_result(None)

    async def publish(
        self,
        body: bytes,
        routing_key: str,
        *,
        correlation_id: str | None,
        reply: bool = True,
        message_id: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        await self.exchange.publish(
            aio_pika.Message(
                body=body,
                content_type="application/json",
                correlation_id=correlation_id,
                message_id=message_id or correlation_id,
                reply_to=(reply_to or self.queue.name) if reply else None,
            ),
            routing_key=routing_key,
        )

    async def wait_replies(self, correlation_id: str, count: int = 1) -> list[Any]:
        """The replies to *correlation_id* once *count* have arrived."""
        import asyncio

        if len(self.replies.get(correlation_id, [])) < count:
            future = self._loop.create_future()
            self._waiters[correlation_id] = (count, future)
            try:
                await asyncio.wait_for(future, 30)
            finally:
                self._waiters.pop(correlation_id, None)
        return self.replies[correlation_id]

    async def dead_letter(self, correlation_id: str) -> aio_pika.abc.AbstractIncomingMessage:
        """The message with *correlation_id* once it is in ``{ns}.tools.dlq``."""
        import asyncio

        if correlation_id not in self.letters:
            future = self._loop.create_future()
            self._letter_waiters[correlation_id] = future
            try:
                await asyncio.wait_for(future, 30)
            finally:
                self._letter_waiters.pop(correlation_id, None)
        return self.letters[correlation_id]

    async def _on_letter(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        key = message.correlation_id or ""
        self.letters[key] = message
        waiter = self._letter_waiters.get(key)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


@pytest.fixture
async def raw_broker(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    worker_namespace: str,
    shared_worker: WorkerService,
) -> AsyncIterator[RawBroker]:
    """A raw publisher/collector on the worker namespace (with the shared worker running)."""
    del shared_worker
    channel = await amqp_connection.channel()
    broker = RawBroker(channel, Topology(worker_namespace))
    await broker.start()
    yield broker
    await channel.close()


@pytest.fixture(scope="session")
async def proc_namespace(
    namespace: str,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    redis_client: aioredis.Redis,
) -> AsyncIterator[str]:
    """A namespace for tests that run their own workers (apart from the shared worker)."""
    name = f"{namespace}-proc"
    yield name
    channel = await amqp_connection.channel()
    try:
        await Topology(name).delete_all(channel, tools=TOOL_NAMES)
    finally:
        if not channel.is_closed:
            await channel.close()
    async for key in redis_client.scan_iter(match=f"{name}:*", count=500):
        await redis_client.delete(key)


@pytest.fixture
async def proc_client(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, proc_namespace: str
) -> AsyncIterator[ToolClient]:
    """A tool client on the process-test namespace."""
    async with ToolClient(amqp_connection, Topology(proc_namespace)) as client:
        yield client


@pytest.fixture
async def worker_processes(
    infra: InfraUrls, seeded_database_url: str, proc_namespace: str, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Service]]]:
    """Start worker subprocesses (``python -m switchboard.worker.main``, ready once consuming
    with its catalog announced) on the process-test namespace (killed after the test)."""
    started: list[Service] = []

    async def start(worker_id: str, **env: str) -> Service:
        proc = await start_service(
            "switchboard.worker.main",
            {
                "DATABASE_URL": seeded_database_url,
                "AMQP_URL": infra.amqp_url,
                "REDIS_URL": infra.redis_url,
                "SWITCHBOARD_NAMESPACE": proc_namespace,
                "WORKER_ID": worker_id,
                "WORKER_HTTP_PORT": "0",
                "WORKER_TODAY": SEED_AS_OF.isoformat(),
                "DATABASE_POOL_SIZE": "2",
                **env,
            },
            name=worker_id,
            ready_msg="worker serving",
            log_dir=tmp_path,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        await asyncio.to_thread(proc.kill)
