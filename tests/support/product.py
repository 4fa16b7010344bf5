"""The whole product for the end-to-end and phone tests, started once per test session:
emulator, tool worker, conversation store and session gateway as child processes on free ports,
over one freshly migrated and seeded database and a namespace of their own (the phone bridge
joins the same stack when a phone test first asks for it, see ``tests.support.phone``).

Tests share it, so each keeps to its own data: its own customers, or the session ids its own
calls produced; none may assume a fresh database. Clients reach the product the way users do:
the gateway's HTTP routes and websocket, the store's API.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from switchboard.amqp import Topology
from switchboard.cli.product import start_product
from switchboard.cli.stack import Stack
from switchboard.worker.tools import ALL_TOOLS
from tests.conftest import RUN_ID, SEED_AS_OF, create_database, drop_database
from tests.infra import InfraUrls

__all__ = [
    "EMULATOR_KEY",
    "SERVER_KEY",
    "STORE_AUTH",
    "Product",
    "artifact_path",
    "order_status",
    "product",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
EMULATOR_KEY = "e2e-emulator-key"
SERVER_KEY = "e2e-server-key"
STORE_AUTH = ("analyst", "analyst")  # the store's development account
TOOL_NAMES = tuple(t.name for t in ALL_TOOLS)


@dataclass(frozen=True)
class Product:
    """Where the running product answers (and the stack that runs it)."""

    gateway: str
    store: str
    emulator: str
    database_url: str
    namespace: str
    logs: Path
    stack: Stack = field(repr=False, compare=False)

    async def stored_session(
        self, session_id: str, *, until: Any = None, within_s: float = 30.0
    ) -> dict[str, Any]:
        """The store API's view of a session, polled until ``until(doc)`` holds (the store
        ingests asynchronously); fails the test with the last answer if it never does."""
        last: Any = None
        deadline = time.monotonic() + within_s
        async with httpx.AsyncClient(base_url=self.store, auth=STORE_AUTH, timeout=10) as http:
            while time.monotonic() < deadline:
                response = await http.get(f"/api/sessions/{session_id}")
                if response.status_code == 200:
                    last = response.json()
                    if until is None or until(last):
                        return last  # type: ignore[no-any-return]
                else:
                    last = (response.status_code, response.text[:300])
                await asyncio.sleep(0.3)
        raise AssertionError(f"session {session_id} not as expected in the store: {last}")


@pytest.fixture(scope="session")
async def product(
    infra: InfraUrls, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Product]:
    """The running product, on its own seeded database and namespace (one per test session)."""
    from switchboard.cli.db import migrate, run_seed

    name = f"sbtest_{RUN_ID}_product"
    database_url = await create_database(infra.database_url, name)
    await migrate(database_url)
    await run_seed(database_url, as_of=SEED_AS_OF)
    namespace = f"t{RUN_ID}-product"
    logs = tmp_path_factory.mktemp("product-logs")
    stack = Stack(
        base_env={
            "DATABASE_URL": database_url,
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": namespace,
            "SWITCHBOARD_ENV": "development",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
        },
        log_dir=logs,
    )
    try:
        urls = await start_product(
            stack,
            emulator_key=EMULATOR_KEY,
            server_key=SERVER_KEY,
            worker_today=SEED_AS_OF.isoformat(),
            timeout_s=240,  # the emulator loads its speech models; slow on a shared machine
        )
        yield Product(
            gateway=urls.gateway,
            store=urls.store,
            emulator=urls.emulator,
            database_url=database_url,
            namespace=namespace,
            logs=logs,
            stack=stack,
        )
    finally:
        stack.stop()
        with contextlib.suppress(Exception):
            await clean_namespace(infra, namespace)
        await drop_database(infra.database_url, name)


async def clean_namespace(infra: InfraUrls, namespace: str) -> None:
    """Delete the broker objects and Redis keys of *namespace*."""
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        await Topology(namespace).delete_all(channel, tools=TOOL_NAMES)
    finally:
        await connection.close()
    client = aioredis.from_url(infra.redis_url)
    try:
        async for key in client.scan_iter(match=f"{namespace}:*", count=500):
            await client.delete(key)
    finally:
        await client.aclose()


async def order_status(database_url: str, order_id: int) -> str:
    """The status of a seeded order, read from Postgres."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        return str(
            await conn.fetchval("SELECT status FROM shop.customer_order WHERE id = $1", order_id)
        )
    finally:
        await conn.close()


def artifact_path(name: str) -> Path:
    """A file under ``artifacts/`` (kept after the run, e.g. browser screenshots)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
