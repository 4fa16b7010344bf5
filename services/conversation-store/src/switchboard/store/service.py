"""One store process's resources and lifecycle: the database engine (API reads), an asyncpg pool
(ingest writes), Redis (live sessions, control), the recording store (playback, assembly,
deletion), the ingest, which owns its broker link, and the recording assembler (its own link).
Owned by the HTTP app's lifespan; ``start()`` returns at once and connects in the background."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from switchboard.amqp import Topology
from switchboard.db import create_engine, create_sessionmaker
from switchboard.db.engine import database_answers
from switchboard.keys import RedisKeys
from switchboard.recording import RecordingStore, open_recording_store
from switchboard.runtime.backoff import retry_forever
from switchboard.settings import redact_url
from switchboard.store.assembler import Assembler, CopyPolicy
from switchboard.store.ingest import Ingest
from switchboard.store.metrics import StoreMetrics
from switchboard.store.redaction import Redactor
from switchboard.store.settings import StoreSettings
from switchboard.store.writer import BatchWriter

__all__ = ["StoreService", "StoreState", "plain_dsn"]

log = logging.getLogger(__name__)


class StoreState(enum.StrEnum):
    CREATED = "created"
    CONNECTING = "connecting"
    SERVING = "serving"
    STOPPING = "stopping"
    STOPPED = "stopped"


def plain_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy asyncpg URL (for asyncpg itself)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class StoreService:
    """Everything one store process runs. ``ingest=False`` serves the API only; *assembly*
    (default ``STORE_RECORDING_ASSEMBLY``) runs the recording assembler too."""

    def __init__(
        self, settings: StoreSettings, *, ingest: bool = True, assembly: bool | None = None
    ) -> None:
        self.settings = settings
        self.metrics = StoreMetrics()
        self.topology = Topology(settings.namespace)
        self.keys = RedisKeys(settings.namespace)
        self.redactor = Redactor(settings.redact_kinds)
        self.accounts = settings.accounts()
        self.prices = settings.prices()
        if not settings.users.strip():
            log.warning(
                "STORE_USERS is empty: development accounts analyst/analyst and admin/admin"
            )
        self.state = StoreState.CREATED
        self.with_ingest = ingest
        self.with_assembly = settings.recording_assembly if assembly is None else assembly
        self.engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            timeout_s=settings.database_timeout_s,
            application_name=f"switchboard-store:{settings.instance_id}",
        )
        self.sessions = create_sessionmaker(self.engine)
        self.redis: aioredis.Redis = aioredis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
        self.pool: asyncpg.Pool | None = None
        self.ingest: Ingest | None = None
        self.recordings: RecordingStore | None = None
        self.assembler: Assembler | None = None
        self.serving = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.state is not StoreState.CREATED:
            raise RuntimeError(f"store already {self.state}")
        self.state = StoreState.CONNECTING
        self._task = asyncio.create_task(self._serve(), name="store-serve")

    async def _serve(self) -> None:
        self.recordings = await retry_forever(
            lambda: open_recording_store(self.settings),
            what="recording store",
            log_extra={"kind": self.settings.recording_store},
        )
        if self.with_ingest:
            self.pool = await retry_forever(
                self._open_pool,
                what="postgres",
                log_extra={"url": redact_url(self.settings.database_url)},
            )
            self.ingest = Ingest(
                amqp_url=self.settings.amqp_url,
                connection_name=f"switchboard-store:{self.settings.instance_id}",
                topology=self.topology,
                writer=BatchWriter(self.pool, escalation_tools=self.settings.escalation_tool_names),
                redactor=self.redactor,
                metrics=self.metrics,
                prefetch=self.settings.prefetch,
                batch_size=self.settings.batch_size,
                batch_wait_s=self.settings.batch_wait_s,
                retry_max_s=self.settings.write_retry_max_s,
                reconnect_s=self.settings.amqp_reconnect_s,
                attach_timeout_s=self.settings.amqp_timeout_s,
            )
            await self.ingest.start()
        if self.with_assembly:
            assembler = Assembler(
                amqp_url=self.settings.amqp_url,
                connection_name=f"switchboard-store-assembler:{self.settings.instance_id}",
                topology=self.topology,
                engine=self.engine,
                store=self.recordings,
                metrics=self.metrics,
                concurrency=self.settings.assembly_concurrency,
                wait_s=self.settings.assembly_wait_s,
                reconnect_s=self.settings.amqp_reconnect_s,
                attach_timeout_s=self.settings.amqp_timeout_s,
                idle_s=self.settings.recording_idle_s,
                copy=CopyPolicy(
                    codec=self.settings.recording_compressed,
                    opus_kbps=self.settings.recording_opus_kbps,
                ),
            )
            self.assembler = assembler
            await assembler.start()
        self.state = StoreState.SERVING
        self.serving.set()
        log.info(
            "store serving",
            extra={
                "instance_id": self.settings.instance_id,
                "ingest": self.with_ingest,
                "assembly": self.with_assembly,
            },
        )

    async def _open_pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            plain_dsn(self.settings.database_url),
            min_size=1,
            max_size=2,
            timeout=self.settings.database_timeout_s,
            command_timeout=max(self.settings.database_timeout_s * 2, 10.0),
            server_settings={
                "application_name": f"switchboard-store-ingest:{self.settings.instance_id}"
            },
        )
        return pool

    async def stop(self) -> None:
        """Stop consuming, write what was received (bounded), close everything."""
        if self.state in (StoreState.STOPPING, StoreState.STOPPED):
            return
        self.state = StoreState.STOPPING
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.ingest is not None:
            await self.ingest.stop(self.settings.shutdown_timeout_s)
        if self.assembler is not None:
            await self.assembler.stop(self.settings.shutdown_timeout_s)
        if self.pool is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.pool.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        if self.recordings is not None:
            with contextlib.suppress(Exception):
                await self.recordings.close()
        await self.engine.dispose()
        self.state = StoreState.STOPPED
        log.info("store stopped")

    def health(self) -> dict[str, str]:
        """The body of ``/healthz``."""
        return {"status": "ok", "instance": self.settings.instance_id, "state": str(self.state)}

    async def readiness(self) -> dict[str, Any]:
        """Checks behind ``/readyz``: consuming on an open connection, Postgres and the
        recording store answering."""
        checks: dict[str, Any] = {"state": str(self.state)}
        if self.with_ingest:
            checks["broker"] = bool(self.ingest is not None and self.ingest.consuming)
            checks["backlog"] = self.ingest.backlog if self.ingest is not None else 0
        if self.with_assembly:
            checks["assembler"] = bool(self.assembler is not None and self.assembler.consuming)
        checks["database"] = await database_answers(
            self.engine, timeout_s=min(1.0, self.settings.database_timeout_s)
        )
        checks["recordings"] = False
        if self.recordings is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(min(1.0, self.settings.recording_timeout_s)):
                    checks["recordings"] = await self.recordings.ready()
        checks["ready"] = bool(
            self.state is StoreState.SERVING
            and checks["database"]
            and checks["recordings"]
            and checks.get("broker", True)
            and checks.get("assembler", True)
        )
        return checks
