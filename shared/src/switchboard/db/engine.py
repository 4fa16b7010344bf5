"""Async engine construction from settings (asyncpg driver)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

__all__ = ["create_engine", "create_sessionmaker", "database_answers"]


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    timeout_s: float = 3.0,
    application_name: str = "switchboard",
    pre_ping: bool = True,
) -> AsyncEngine:
    """An engine whose connects and statements fail within bounded time when Postgres is down.

    ``pre_ping`` checks each connection on checkout (with asyncpg: a BEGIN/ROLLBACK round trip
    pair); a caller that retries once on ``connection_invalidated`` errors can turn it off.
    """
    return _create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_timeout=timeout_s,
        # errors never quote statement parameters (tool arguments, personal data) into logs
        hide_parameters=True,
        connect_args={
            "timeout": timeout_s,
            "command_timeout": max(timeout_s * 2, 5.0),
            "server_settings": {"application_name": application_name},
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def database_answers(engine: AsyncEngine, *, timeout_s: float) -> bool:
    """A readiness check: whether the database answers ``SELECT 1`` within *timeout_s*."""
    try:
        async with asyncio.timeout(timeout_s):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
