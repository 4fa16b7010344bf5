"""Fixtures of the gateway tests: the emulator (real speech) and a tool worker on a namespace of
the gateway tests' own, gateways served in-process on 127.0.0.1 port 0, client secrets, and a
collector of the conversation events the gateway publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
import websockets
from openai import AsyncOpenAI

from switchboard.amqp import Topology
from switchboard.contracts.events import ConversationEvent, parse_conversation_events
from switchboard.emulator.speech import Speech
from switchboard.gateway.app import Gateway, create_app
from switchboard.gateway.settings import GatewaySettings
from switchboard.worker.service import WorkerService
from switchboard.worker.settings import WorkerSettings
from switchboard.worker.tools import ALL_TOOLS
from tests.conftest import SEED_AS_OF
from tests.infra import InfraUrls
from tests.support.clients import EventLog
from tests.support.emulator import Emulator, speech_say

SERVER_KEY = "test-server-key"
TOOL_NAMES = tuple(t.name for t in ALL_TOOLS)


@pytest.fixture(scope="session")
def say(speech: Speech) -> Any:
    """A phrase as 24 kHz pcm16 from the emulator's synthesiser (the emulator tests' input)."""
    return speech_say(speech)


@pytest.fixture(scope="session")
def gw_namespace(namespace: str) -> str:
    """The gateway tests' own broker/Redis namespace."""
    return f"{namespace}-gw"


@pytest.fixture(scope="session")
async def gw_cleanup(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    redis_client: aioredis.Redis,
    gw_namespace: str,
) -> AsyncIterator[None]:
    """Delete the namespace's queues, exchanges and Redis keys after the run."""
    yield
    channel = await amqp_connection.channel()
    try:
        await Topology(gw_namespace).delete_all(channel, tools=TOOL_NAMES)
    finally:
        if not channel.is_closed:
            await channel.close()
    async for key in redis_client.scan_iter(match=f"{gw_namespace}:*", count=500):
        await redis_client.delete(key)


@pytest.fixture(scope="session")
async def gw_worker(
    infra: InfraUrls, seeded_database_url: str, gw_namespace: str, gw_cleanup: None
) -> AsyncIterator[WorkerService]:
    """A tool worker answering from the seeded database, on the gateway namespace."""
    service = WorkerService(
        WorkerSettings(
            DATABASE_URL=seeded_database_url,
            AMQP_URL=infra.amqp_url,
            REDIS_URL=infra.redis_url,
            SWITCHBOARD_NAMESPACE=gw_namespace,
            WORKER_ID="gw-test-worker",
            WORKER_HTTP_PORT=0,
            WORKER_TODAY=SEED_AS_OF,
            DATABASE_POOL_SIZE=2,
        )
    )
    await service.start()
    await service.serving.wait()
    yield service
    await service.stop()


@dataclass
class RunningGateway:
    host: str
    port: int
    gateway: Gateway
    settings: GatewaySettings

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def secret(self, customer_id: str = "cus_0001", **body: Any) -> str:
        async with httpx.AsyncClient(base_url=self.http) as http:
            answer = await http.post(
                "/v1/realtime/client_secrets",
                json={"customer_id": customer_id, **body},
                headers={"Authorization": f"Bearer {SERVER_KEY}"},
            )
        answer.raise_for_status()
        value: str = answer.json()["value"]
        return value

    @contextlib.asynccontextmanager
    async def sdk(
        self, customer_id: str = "cus_0001", *, secret: str | None = None
    ) -> AsyncIterator[EventLog]:
        """A conversation through the official openai SDK client, every event validated."""
        key = secret or await self.secret(customer_id)
        client = AsyncOpenAI(api_key=key, websocket_base_url=f"{self.ws}/v1")
        async with client.realtime.connect(model="gpt-realtime") as connection:
            log = EventLog(connection, dialect="ga")
            yield log
            log.check_all_valid()

    @contextlib.asynccontextmanager
    async def raw(
        self, customer_id: str = "cus_0001", *, query: str = ""
    ) -> AsyncIterator[EventLog]:
        """A conversation over a plain websocket (to send what the SDK would not, and to see
        close codes), every event validated as GA."""
        key = await self.secret(customer_id)
        async with websockets.connect(
            f"{self.ws}/v1/realtime?model=gpt-realtime{query}",
            additional_headers={"Authorization": f"Bearer {key}"},
            max_size=None,
        ) as ws:
            log = EventLog(ws, dialect="ga")
            yield log
            log.check_all_valid()


GatewayFactory = Callable[..., Awaitable[RunningGateway]]


@pytest.fixture(scope="session")
def gw_settings(
    infra: InfraUrls, gw_namespace: str, emulator: Emulator, database_url: str
) -> Callable[..., GatewaySettings]:
    """Gateway settings for this run (the test emulator upstream, recordings in the run's
    database); overrides by env name."""

    def build(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": gw_namespace,
            "SWITCHBOARD_ENV": "test",
            "GATEWAY_SERVER_KEY": SERVER_KEY,
            "GATEWAY_PORT": 0,
            "UPSTREAM_KIND": "emulator",
            "UPSTREAM_URL": emulator.ws,
            "UPSTREAM_API_KEY": emulator.api_key,
            "GATEWAY_CATALOG_REFRESH_S": 0,
            "GATEWAY_FILLER_AFTER_S": 0,
            "GATEWAY_MAX_SESSIONS_PER_CUSTOMER": 50,
            "RECORDING_DATABASE_URL": database_url,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return build


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="on", ws_max_size=64 * 1024 * 1024
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


@pytest.fixture
async def start_gateway(
    gw_settings: Callable[..., GatewaySettings], gw_worker: WorkerService
) -> AsyncIterator[GatewayFactory]:
    """Start gateways with given settings (stopped after the test)."""
    del gw_worker  # running for its side effect
    started: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> RunningGateway:
        settings = gw_settings(**overrides)
        gateway = Gateway(settings)
        server, task, port = await serve(create_app(settings, gateway=gateway))
        started.append((server, task))
        running = RunningGateway("127.0.0.1", port, gateway, settings)
        await asyncio.wait_for(running.gateway.broker.wait_connected(), 30)
        await asyncio.wait_for(running.gateway.registry.listening.wait(), 30)
        return running

    yield start
    for server, task in reversed(started):
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def gateway(start_gateway: GatewayFactory) -> RunningGateway:
    """A gateway with the default test settings."""
    return await start_gateway()


class EventCollector:
    """Consumes the conversation events the gateway published from the store's queue."""

    def __init__(self) -> None:
        self.events: list[ConversationEvent] = []
        self._arrived = asyncio.Event()

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.events += parse_conversation_events(message.body)
        self._arrived.set()

    async def until(
        self, session_id: str, kind: str, *, within_s: float = 30
    ) -> list[ConversationEvent]:
        """Every event of *session_id* (in ``seq`` order) once one of type *kind* arrived."""
        async with asyncio.timeout(within_s):
            while not any(
                e.session_id == session_id and e.payload.type == kind for e in self.events
            ):
                self._arrived.clear()
                await self._arrived.wait()
        return sorted((e for e in self.events if e.session_id == session_id), key=lambda e: e.seq)

    async def until_count(
        self, session_id: str, kind: str, count: int, *, within_s: float = 30
    ) -> list[ConversationEvent]:
        """Every event of *session_id* (in ``seq`` order) once *count* of type *kind* arrived."""
        async with asyncio.timeout(within_s):
            while (
                sum(e.session_id == session_id and e.payload.type == kind for e in self.events)
                < count
            ):
                self._arrived.clear()
                await self._arrived.wait()
        return sorted((e for e in self.events if e.session_id == session_id), key=lambda e: e.seq)


@pytest.fixture(scope="session")
async def events(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, gw_namespace: str, gw_cleanup: None
) -> AsyncIterator[EventCollector]:
    """Every event published on the gateway namespace, read from the store's queue."""
    channel = await amqp_connection.channel()
    queue = await Topology(gw_namespace).declare_store_queue(channel)
    collector = EventCollector()
    await queue.consume(collector.on_message, no_ack=True)
    yield collector
    await channel.close()


async def until_said(log: EventLog, words: str, *, within_s: float = 60) -> str:
    """Receive until the assistant's spoken transcript (so far) contains *words*; returns it.
    Stops at the sentence that says it rather than waiting for the whole answer's audio."""
    said: dict[str, str] = {}
    heard: list[str] = []
    try:
        async with asyncio.timeout(within_s):
            while True:
                event = await log.recv()
                if event["type"] == "response.output_audio_transcript.delta":
                    text = said.get(event["item_id"], "") + event["delta"]
                    said[event["item_id"]] = text
                    if words in text.lower():
                        return text
                elif event["type"] == "conversation.item.input_audio_transcription.completed":
                    heard.append(event["transcript"])
    except TimeoutError:
        raise AssertionError(
            f"{words!r} not said within {within_s} s; the user was heard as {heard}, the "
            f"assistant said {list(said.values())}"
        ) from None


def payloads(events: list[ConversationEvent], kind: str) -> list[Any]:
    return [e.payload for e in events if e.payload.type == kind]


def dump(event: dict[str, Any]) -> str:
    return json.dumps(event)
