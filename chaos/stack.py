"""The whole product on one machine, wired for fault injection.

Every service runs as its own process on a free port, in a namespace and a database of its own.
Postgres and RabbitMQ are reached through :class:`~switchboard.cli.faultproxy.TcpProxy` instances the runner
controls: taking a proxy down is, for every process behind it, exactly a server that went away
(connections cut, new ones refused) — without stopping the real server, which other work on the
machine may share. ``Stack(real_restarts=True)`` restarts the real local servers instead (for a
machine of your own).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from switchboard.cli.db import drop_database, ensure_database, migrate, run_seed
from switchboard.cli.faultproxy import TcpProxy
from switchboard.cli.stack import Service, free_port
from switchboard.cli.stack import Stack as ProcessStack

__all__ = ["SEED_AS_OF", "Stack", "StackConfig"]

#: The seeded shop's "today"; workers are told the same date so order ages make sense.
SEED_AS_OF = date(2026, 11, 1)


def _with_port(url: str, port: int, *, database: str | None = None) -> str:
    parts = urlsplit(url)
    host = f"{parts.username}@" if parts.username else ""
    if parts.password:
        host = f"{parts.username}:{parts.password}@"
    parts = parts._replace(netloc=f"{host}127.0.0.1:{port}")
    if database is not None:
        parts = parts._replace(path=f"/{database}")
    return urlunsplit(parts)


@dataclass
class StackConfig:
    database_url: str
    amqp_url: str
    redis_url: str
    workers: int = 2
    gateways: int = 2
    emulator_asr: str = "pocketsphinx"
    #: "engines", or "text" for the emulator's speech-free load mode (callers type their words)
    emulator_speech: str = "engines"
    extra_env: dict[str, str] = field(default_factory=dict)


class Stack:
    def __init__(self, config: StackConfig, *, log_dir: Path, real_restarts: bool = False) -> None:
        self.config = config
        self.real_restarts = real_restarts
        tag = uuid.uuid4().hex[:8]
        self.namespace = f"chaos{tag}"
        self.database = f"switchboard_chaos_{tag}"
        db = urlsplit(config.database_url)
        amqp = urlsplit(config.amqp_url)
        self.pg_proxy = TcpProxy(db.hostname or "127.0.0.1", db.port or 5432)
        self.amqp_proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672)
        self.direct_database_url = _with_port(
            config.database_url, db.port or 5432, database=self.database
        )
        self.procs = ProcessStack(base_env={}, log_dir=log_dir)
        self.emulator: Service | None = None
        self.workers: list[Service] = []
        self.gateways: list[Service] = []
        #: what callers connect through, one per gateway (the "network" a fault can cut)
        self.client_proxies: list[TcpProxy] = []
        self.store: Service | None = None
        self.server_key = f"chaos-server-key-{tag}"
        #: the store's development accounts (SWITCHBOARD_ENV=development, STORE_USERS empty)
        self.analyst = ("analyst", "analyst")
        self.admin = ("admin", "admin")
        self.max_message_bytes = 256 * 1024

    # -- urls the services use (through the proxies) ---------------------------------------------
    @property
    def database_url(self) -> str:
        return _with_port(self.config.database_url, self.pg_proxy.port, database=self.database)

    @property
    def amqp_url(self) -> str:
        return _with_port(self.config.amqp_url, self.amqp_proxy.port)

    def _common_env(self) -> dict[str, str]:
        return {
            "SWITCHBOARD_ENV": "development",
            "SWITCHBOARD_NAMESPACE": self.namespace,
            "DATABASE_URL": self.database_url,
            "AMQP_URL": self.amqp_url,
            "REDIS_URL": self.config.redis_url,
            **self.config.extra_env,
        }

    # -- life cycle ------------------------------------------------------------------------------
    async def prepare_database(self) -> None:
        await ensure_database(self.direct_database_url)
        await migrate(self.direct_database_url)
        await run_seed(self.direct_database_url, as_of=SEED_AS_OF)

    async def start(self) -> None:
        await self.pg_proxy.up()
        await self.amqp_proxy.up()
        await self.prepare_database()
        env = self._common_env()
        self.procs.base_env.update(env)
        port = free_port()
        self.emulator = self.procs.add(
            "emulator",
            "switchboard-emulator",
            env={
                "EMULATOR_PORT": str(port),
                "EMULATOR_ASR": self.config.emulator_asr,
                "EMULATOR_SPEECH": self.config.emulator_speech,
            },
            health_url=f"http://127.0.0.1:{port}/healthz",
        )
        emulator_url = f"ws://127.0.0.1:{port}"
        for index in range(self.config.workers):
            port = free_port()
            self.workers.append(
                self.procs.add(
                    f"worker-{index + 1}",
                    "switchboard-worker",
                    env={
                        "WORKER_ID": f"{self.namespace}-worker-{index + 1}",
                        "WORKER_HTTP_PORT": str(port),
                        "WORKER_TODAY": SEED_AS_OF.isoformat(),
                    },
                    health_url=f"http://127.0.0.1:{port}/healthz",
                )
            )
        port = free_port()
        self.store = self.procs.add(
            "store",
            "switchboard-store",
            env={
                "STORE_HTTP_PORT": str(port),
                "STORE_INSTANCE_ID": f"{self.namespace}-store",
            },
            health_url=f"http://127.0.0.1:{port}/healthz",
        )
        for index in range(self.config.gateways):
            port = free_port()
            self.gateways.append(
                self.procs.add(
                    f"gateway-{index + 1}",
                    "switchboard-gateway",
                    env={
                        "GATEWAY_ID": f"{self.namespace}-gateway-{index + 1}",
                        "GATEWAY_PORT": str(port),
                        "GATEWAY_SERVER_KEY": self.server_key,
                        "GATEWAY_MAX_MESSAGE_BYTES": str(self.max_message_bytes),
                        # hostile session.updates setting instructions/tools expect an error
                        "GATEWAY_SERVER_FIELDS": "error",
                        "UPSTREAM_KIND": "emulator",
                        "UPSTREAM_URL": emulator_url,
                    },
                    health_url=f"http://127.0.0.1:{port}/healthz",
                )
            )
            self.client_proxies.append(TcpProxy("127.0.0.1", port))
        for proxy in self.client_proxies:
            await proxy.up()
        await self.procs.start(timeout_s=120)

    def gateway_url(self, index: int = 0) -> str:
        return _base(self.gateways[index])

    def client_gateway_url(self, index: int = 0) -> str:
        """The gateway as callers reach it: through the client-side proxy."""
        return f"http://127.0.0.1:{self.client_proxies[index].port}"

    async def clients_down(self) -> None:
        """Every caller's connection cut, and none gets through (a network outage)."""
        for proxy in self.client_proxies:
            await proxy.down()

    async def clients_up(self) -> None:
        for proxy in self.client_proxies:
            await proxy.up()

    @property
    def store_url(self) -> str:
        assert self.store is not None
        return _base(self.store)

    # -- faults on shared servers ----------------------------------------------------------------
    async def broker_down(self) -> None:
        if self.real_restarts:
            await _run("rabbitmqctl", "stop_app")
        await self.amqp_proxy.down()

    async def broker_up(self) -> None:
        if self.real_restarts:
            await _run("rabbitmqctl", "start_app")
        await self.amqp_proxy.up()

    async def database_down(self) -> None:
        await self.pg_proxy.down()

    async def database_up(self) -> None:
        await self.pg_proxy.up()

    async def close(self) -> None:
        await asyncio.to_thread(self.procs.stop, grace_s=15)
        with contextlib.suppress(Exception):
            await self._delete_broker_objects()
        for proxy in self.client_proxies:
            await proxy.down()
        await self.amqp_proxy.down()
        await self.pg_proxy.down()
        with contextlib.suppress(Exception):
            await drop_database(self.direct_database_url)

    async def _delete_broker_objects(self) -> None:
        """Remove this run's queues and exchanges (quorum queues hold files on the broker)."""
        import aio_pika

        from switchboard.amqp import Topology
        from switchboard.worker.tools import ALL_TOOLS

        connection = await aio_pika.connect(self.config.amqp_url, timeout=10)
        try:
            channel = await connection.channel()
            await channel.queue_delete(f"{self.namespace}.chaos.witness")
            await Topology(self.namespace).delete_all(
                channel, tools=tuple(t.name for t in ALL_TOOLS)
            )
        finally:
            await connection.close()


def _base(service: Service) -> str:
    assert service.health_url is not None
    return service.health_url.removesuffix("/healthz")


async def _run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    await proc.wait()
