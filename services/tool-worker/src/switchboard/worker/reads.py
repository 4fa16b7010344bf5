"""The read-only tools' database access: their SQLAlchemy statements run on raw asyncpg.

A SQLAlchemy ``Select`` stays the source of every read (:mod:`switchboard.worker.queries`);
:class:`ReadQuery` compiles it once, at import, to the SQL asyncpg gets (``$n`` placeholders,
the same text SQLAlchemy's asyncpg dialect sends). A tool reads through :class:`Reads`:
:class:`AsyncpgReads` on a connection of the worker's :class:`ReadPool` (statements prepared
once per connection by asyncpg's statement cache; no pool events, greenlets or result
processing), or :class:`SqlAlchemyReads` on a SQLAlchemy connection, which runs the statement
itself (the tests check that both give the same answers).

Rows are mappings by column name. A column of a SQLAlchemy ``Enum`` comes back as the enum
member from SQLAlchemy and as its string value from asyncpg; the enums are ``StrEnum``, so the
two compare and serialise alike.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "AsyncpgReads",
    "ReadPool",
    "ReadQuery",
    "Reads",
    "Row",
    "SqlAlchemyReads",
    "StaleConnection",
]

log = logging.getLogger(__name__)

_DIALECT = PGDialect_asyncpg()


class Row(Protocol):
    """One result row: its columns by name (an asyncpg ``Record`` or a SQLAlchemy mapping)."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class ReadQuery:
    """A read statement and what it compiles to for asyncpg. *params* are the values each call
    supplies; any other bound value (a constant ``IN`` list, a ``LIMIT``) is fixed at compile
    time."""

    statement: Select[Any]
    sql: str
    positions: tuple[str, ...]
    fixed: Mapping[str, Any]

    @classmethod
    def of(cls, statement: Select[Any], *params: str) -> ReadQuery:
        compiled = statement.compile(dialect=_DIALECT)
        state = compiled.construct_expanded_state(dict.fromkeys(params))
        positions = tuple(state.positiontup or ())
        fixed: dict[str, Any] = {}
        for name in positions:
            process = state.processors.get(name)
            if name in params:
                if process is not None:
                    # asyncpg would get the value unconverted: keep call values plain
                    raise TypeError(f"parameter {name!r} needs SQLAlchemy's bind processing")
                continue
            value = state.parameters[name]
            fixed[name] = process(value) if process is not None else value
        missing = set(params) - set(positions)
        if missing:
            raise ValueError(f"the statement has no parameter(s) {sorted(missing)}")
        return cls(statement=statement, sql=state.statement, positions=positions, fixed=fixed)

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional arguments of one execution."""
        return tuple(params[n] if n in params else self.fixed[n] for n in self.positions)


class Reads(Protocol):
    """What a read-only tool queries the database through."""

    async def rows(self, query: ReadQuery, **params: Any) -> Sequence[Row]: ...

    async def row(self, query: ReadQuery, **params: Any) -> Row | None: ...

    async def value(self, query: ReadQuery, **params: Any) -> Any: ...


class AsyncpgReads:
    """:class:`Reads` on one asyncpg connection."""

    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]):
        self._conn = conn

    async def rows(self, query: ReadQuery, **params: Any) -> Sequence[Row]:
        return await self._conn.fetch(query.sql, *query.args(params))

    async def row(self, query: ReadQuery, **params: Any) -> Row | None:
        record: Row | None = await self._conn.fetchrow(query.sql, *query.args(params))
        return record

    async def value(self, query: ReadQuery, **params: Any) -> Any:
        return await self._conn.fetchval(query.sql, *query.args(params))


class SqlAlchemyReads:
    """:class:`Reads` on a SQLAlchemy connection: the statement itself, not its compiled text."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def rows(self, query: ReadQuery, **params: Any) -> Sequence[Row]:
        result = await self._conn.execute(query.statement, params)
        return [_plain(row._mapping) for row in result]

    async def row(self, query: ReadQuery, **params: Any) -> Row | None:
        row = (await self._conn.execute(query.statement, params)).first()
        return None if row is None else _plain(row._mapping)

    async def value(self, query: ReadQuery, **params: Any) -> Any:
        return await self._conn.scalar(query.statement, params)


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A row as asyncpg gives it: enum members as their values."""
    return {k: v.value if isinstance(v, enum.Enum) else v for k, v in mapping.items()}


class StaleConnection(ConnectionError):
    """A pooled connection turned out to be dead during a read (Postgres restarted): the pool's
    connections are expired and the call may be retried once on a fresh one."""


async def _codecs(conn: asyncpg.Connection[Any]) -> None:
    """JSON columns as Python values, as SQLAlchemy's asyncpg dialect decodes them."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text"
        )


async def _reset(conn: asyncpg.Connection[Any]) -> None:
    """On release: nothing to undo after plain SELECTs, so no reset query (asyncpg's default
    costs a round trip per call); only an open transaction is rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://...`` as a DSN asyncpg takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _lost(conn: asyncpg.pool.PoolConnectionProxy[Any]) -> bool:
    """Whether a pooled connection died (closed, or already detached by the pool for that)."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # the pool took it back when it closed
        return True


class ReadPool:
    """The asyncpg connections of the read-only tools, closed by the worker's lifespan.
    Opened by :meth:`open` or on first use (an executor used without a started worker, as
    benchmarks do); connects lazily (a worker starts while Postgres is down), within
    *timeout_s* per connect and per wait for a free connection; statements time out like the
    engine's."""

    def __init__(
        self,
        url: str,
        *,
        size: int,
        timeout_s: float,
        application_name: str,
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._size = size
        self._timeout_s = timeout_s
        self._application_name = application_name
        self._pool: asyncpg.Pool[Any] | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    async def open(self) -> asyncpg.Pool[Any]:
        """The pool, created on the first call (no connection is made yet)."""
        if self._closed:
            raise RuntimeError("the read pool is closed")
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._size,
                    timeout=self._timeout_s,
                    command_timeout=max(self._timeout_s * 2, 5.0),
                    server_settings={"application_name": self._application_name},
                    init=_codecs,
                    reset=_reset,
                )
            return self._pool

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await pool.close()
            except Exception:  # closing must not fail a shutdown
                pool.terminate()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncpgReads]:
        """A pooled connection for one call. A connection found dead while in use expires the
        whole pool (its siblings died with it) and raises :class:`StaleConnection`."""
        pool = self._pool if self._pool is not None else await self.open()
        # bounded by asyncio.timeout rather than acquire(timeout=...), whose wait_for costs a
        # task per call
        async with asyncio.timeout(self._timeout_s):
            conn = await pool.acquire()
        try:
            yield AsyncpgReads(conn)
        except (
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,
            OSError,
        ) as exc:
            if not _lost(conn):
                raise
            await pool.expire_connections()
            raise StaleConnection(f"{type(exc).__name__}: {exc}") from exc
        finally:
            await pool.release(conn)
