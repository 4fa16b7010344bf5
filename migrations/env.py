"""Alembic environment: async (asyncpg), URL from DATABASE_URL via the shared settings."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import switchboard.db.audit
import switchboard.db.recording
import switchboard.db.shop  # noqa: F401 - registers the shop tables on the metadata
from switchboard.db.base import metadata
from switchboard.settings import DatabaseSettings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

SCHEMAS = sorted({t.schema for t in metadata.tables.values() if t.schema})


def _url() -> str:
    return config.attributes.get("database_url") or DatabaseSettings().database_url


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "schema":
        return name in SCHEMAS
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        include_schemas=True,
        include_name=_include_name,
        version_table_schema="public",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_schemas=True,
        include_name=_include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
