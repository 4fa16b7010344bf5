"""One worker process's lifecycle: open the database engine, Redis and a robust broker
connection, consume, announce the catalog; on stop, stop consuming, finish in-flight calls,
withdraw the catalog and close everything. Owned by the HTTP app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from typing import Any

import redis.asyncio as aioredis
from aio_pika.abc import AbstractRobustConnection

from switchboard.amqp import Topology
from switchboard.db import create_engine
from switchboard.db.engine import database_answers
from switchboard.keys import RedisKeys
from switchboard.runtime.backoff import connect_broker
from switchboard.worker.catalog import CatalogAnnouncer
from switchboard.worker.consumer import ToolConsumer
from switchboard.worker.context import BusinessRules, Clock
from switchboard.worker.executor import Executor
from switchboard.worker.metrics import WorkerMetrics
from switchboard.worker.reads import ReadPool
from switchboard.worker.registry import Registry
from switchboard.worker.settings import WorkerSettings
from switchboard.worker.tools import default_registry

__all__ = ["WorkerService", "WorkerState"]

log = logging.getLogger(__name__)


class WorkerState(enum.StrEnum):
    CREATED = "created"
    CONNECTING = "connecting"
    SERVING = "serving"
    DRAINING = "draining"
    STOPPED = "stopped"


class WorkerService:
    """Everything one worker runs; ``start()`` returns at once, ``stop()`` drains."""

    def __init__(self, settings: WorkerSettings, *, registry: Registry | None = None) -> None:
        self.settings = settings
        every = registry or default_registry()
        self.registry = every.select(settings.tool_names)
        self.metrics = WorkerMetrics()
        self.topology = Topology(settings.namespace)
        self.keys = RedisKeys(settings.namespace)
        self.state = WorkerState.CREATED
        self.engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            timeout_s=settings.database_timeout_s,
            application_name=f"switchboard-worker:{settings.worker_id}",
            # no ping per checkout (two round trips with asyncpg): the executor retries a call
            # once when its pooled connection turns out to be dead
            pre_ping=False,
        )
        #: the read-only tools' asyncpg connections (connected lazily, like the engine's)
        self.reads = ReadPool(
            settings.database_url,
            size=settings.read_pool_size,
            timeout_s=settings.database_timeout_s,
            application_name=f"switchboard-worker:{settings.worker_id}:reads",
        )
        self.redis: aioredis.Redis = aioredis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
        self.executor = Executor(
            registry=self.registry,
            engine=self.engine,
            reads=self.reads,
            worker_id=settings.worker_id,
            clock=Clock(settings.today),
            rules=BusinessRules.from_settings(settings),
            tool_timeout_s=settings.tool_timeout_s,
            metrics=self.metrics,
            confirmation_ttl_s=settings.confirmation_ttl_s,
            tools=every,
        )
        self.connection: AbstractRobustConnection | None = None
        self.consumer: ToolConsumer | None = None
        self.catalog = CatalogAnnouncer(
            redis=self.redis,
            keys=self.keys,
            worker_id=settings.worker_id,
            entries=self.registry.catalog(),
            ttl_s=settings.catalog_ttl_s,
            heartbeat_s=settings.catalog_heartbeat_s,
            metrics=self.metrics,
            is_live=self._live,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self.serving = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin connecting and serving in the background (the broker may still be down)."""
        if self.state is not WorkerState.CREATED:
            raise RuntimeError(f"worker already {self.state}")
        self.state = WorkerState.CONNECTING
        await self.reads.open()  # connects nothing yet
        self._tasks.append(asyncio.create_task(self._serve(), name="worker-serve"))

    async def _serve(self) -> None:
        self.connection = await connect_broker(
            self.settings.amqp_url,
            connection_name=f"switchboard-worker:{self.settings.worker_id}",
            reconnect_s=self.settings.amqp_reconnect_s,
        )
        self.consumer = ToolConsumer(
            connection=self.connection,
            topology=self.topology,
            executor=self.executor,
            metrics=self.metrics,
            prefetch=self.settings.prefetch,
            queue_type=self.settings.call_queue_type,
            reply_confirms=self.settings.reply_confirms,
        )
        await self.consumer.start()
        self.state = WorkerState.SERVING
        await self.catalog.beat()
        self._tasks.append(asyncio.create_task(self.catalog.run(), name="worker-catalog"))
        self.serving.set()
        log.info(
            "worker serving",
            extra={"worker_id": self.settings.worker_id, "tools": len(self.registry)},
        )

    async def stop(self) -> None:
        """Stop consuming, finish in-flight calls (bounded), withdraw the catalog, close all."""
        if self.state is WorkerState.STOPPED:
            return
        self.state = WorkerState.DRAINING
        log.info("worker stopping")
        drained = True
        if self.consumer is not None:
            drained = await self.consumer.stop(self.settings.shutdown_timeout_s)
        await self.catalog.stop(withdraw=True)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.close()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.connection.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        await self.reads.close()
        await self.engine.dispose()
        self.state = WorkerState.STOPPED
        log.info("worker stopped", extra={"drained": drained})

    # -- health ---------------------------------------------------------------------------------
    def _live(self) -> bool:
        return (
            self.state is WorkerState.SERVING
            and self.connection is not None
            and not self.connection.is_closed
            and self.consumer is not None
            and self.consumer.consuming
        )

    def health(self) -> dict[str, str]:
        """The body of ``/healthz``."""
        return {"status": "ok", "worker": self.settings.worker_id, "state": str(self.state)}

    async def readiness(self) -> dict[str, Any]:
        """Checks behind ``/readyz``: consuming on an open broker connection, Postgres
        answering, catalog announced."""
        checks: dict[str, Any] = {
            "state": str(self.state),
            "broker": self._live(),
            "catalog": self.catalog.announced,
        }
        checks["database"] = await database_answers(
            self.engine, timeout_s=min(1.0, self.settings.database_timeout_s)
        )
        checks["ready"] = bool(checks["broker"] and checks["database"] and checks["catalog"])
        return checks
