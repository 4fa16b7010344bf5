"""Database chores: create the database, run migrations, seed demo data."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic import command
from alembic.config import Config

from switchboard.cli.seed import SeedReport, seed
from switchboard.db import create_engine, create_sessionmaker
from switchboard.settings import redact_url

__all__ = ["alembic_config", "drop_database", "ensure_database", "migrate", "run_seed"]

PROJECT_ROOT = Path(__file__).resolve().parents[4]


def _plain_dsn(url: str, database: str | None = None) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    if database is not None:
        parts = parts._replace(path=f"/{database}")
    return urlunsplit(parts)


async def ensure_database(url: str) -> bool:
    """Create the database named in *url* if it does not exist; return True if it was created."""
    name = urlsplit(url).path.strip("/")
    try:
        conn = await asyncpg.connect(_plain_dsn(url), timeout=5)
    except asyncpg.InvalidCatalogNameError:
        pass
    else:
        await conn.close()
        return False
    admin = await asyncpg.connect(_plain_dsn(url, "postgres"), timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.DuplicateDatabaseError:
        return False
    finally:
        await admin.close()
    return True


async def drop_database(url: str) -> None:
    """Drop the database named in *url* (disconnecting its sessions), if it exists."""
    name = urlsplit(url).path.strip("/")
    admin = await asyncpg.connect(_plain_dsn(url, "postgres"), timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def alembic_config(url: str) -> Config:
    """An Alembic config for the project's migration tree, pointed at *url*."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logging"] = False
    return cfg


async def migrate(url: str, revision: str = "head") -> None:
    """``alembic upgrade`` in a worker thread (the migration env runs its own event loop)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def downgrade(url: str, revision: str = "base") -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


async def run_seed(
    url: str, *, as_of: date | None = None, customers: int = 1000, orders: int = 10000
) -> SeedReport:
    engine = create_engine(url, pool_size=2)
    try:
        async with create_sessionmaker(engine)() as session:
            return await seed(session, as_of=as_of, customers=customers, orders=orders)
    finally:
        await engine.dispose()


def describe(url: str) -> str:
    return redact_url(url)
