"""Row locks held by a test, to keep a worker mid-call for as long as the test needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

__all__ = ["order_locked", "wait_blocked"]


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def order_locked(database_url: str, order_id: int) -> AsyncIterator[asyncpg.Connection]:
    """Hold a row lock on an order (a tool that needs it waits until the block exits)."""
    conn = await asyncpg.connect(_dsn(database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT id FROM shop.customer_order WHERE id = $1 FOR UPDATE", order_id)
        try:
            yield conn
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def wait_blocked(conn: asyncpg.Connection, worker_id: str) -> None:
    """Until the worker's database session waits on a lock (it is mid-call)."""
    app = f"switchboard-worker:{worker_id}"
    async with asyncio.timeout(30):
        while True:
            # pg_stat_activity is a per-transaction snapshot: refresh it on every look
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = $1 AND wait_event_type = 'Lock'",
                app,
            )
            if waiting:
                return
            await asyncio.sleep(0.02)
