"""The Postgres backend of the recording store: objects as rows of ``audit.recording_object``.

The embedded default, so ``make run`` records with nothing else installed. Ranged reads use
``substring`` on the ``bytea`` column, so a seek in a long recording reads only what it plays
(the column is stored uncompressed, ``STORAGE EXTERNAL``, which makes ``substring`` fetch only the
chunks it needs).

It talks to Postgres through a plain asyncpg pool rather than SQLAlchemy: the gateway writes a
segment per channel every few seconds for every call it records, and a write through the
SQLAlchemy engine cost about five times the CPU of the same statement on asyncpg (issue 20).
asyncpg prepares each statement once per connection and reuses it (its statement cache).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from switchboard.recording.store import RecordingNotFound, RecordingStoreError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from switchboard.recording.settings import RecordingStoreSettings

__all__ = ["PostgresRecordingStore", "asyncpg_dsn"]

T = TypeVar("T")

_PUT = (
    "INSERT INTO audit.recording_object (key, content_type, size, data) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET "
    "content_type = EXCLUDED.content_type, size = EXCLUDED.size, data = EXCLUDED.data, "
    "created_at = now()"
)
_GET = "SELECT substring(data FROM $2::int FOR $3::int) FROM audit.recording_object WHERE key = $1"
_SIZE = "SELECT size FROM audit.recording_object WHERE key = $1"
# a prefix match on the primary key's index: text_pattern_ops is not needed with COLLATE "C"
_KEYS = (
    'SELECT key FROM audit.recording_object WHERE key COLLATE "C" >= $1 '
    'AND key COLLATE "C" < $2 ORDER BY key COLLATE "C"'
)
_DELETE = 'DELETE FROM audit.recording_object WHERE key COLLATE "C" >= $1 AND key COLLATE "C" < $2'
#: what asyncpg raises when the database cannot be reached or refuses a statement
_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
#: of those, what says the database cannot be reached at all (rather than refusing a statement)
_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.PostgresConnectionError,
)
#: after the database could not be reached, operations fail at once for this long, doubling
#: with each failed attempt up to the second figure (a success resets it)
BACKOFF_S = (0.5, 5.0)


def asyncpg_dsn(url: str) -> str:
    """*url* as asyncpg takes it: the SQLAlchemy driver suffix (``postgresql+asyncpg://``, what
    the settings produce) removed."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}" if sep else url


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection released to the pool needs beyond asyncpg's own clean-up (which rolls
    back an open transaction and drops listeners): nothing. Each operation here is one
    statement that changes no session state, so asyncpg's default reset query (advisory
    unlocks, ``CLOSE ALL``, ``UNLISTEN``, ``RESET ALL``) would be a round trip per segment for
    nothing."""


def _bounds(prefix: str) -> tuple[str, str]:
    """Keys starting with *prefix* are those in ``[prefix, prefix + U+10FFFF)``."""
    return prefix, prefix + "\U0010ffff"


class PostgresRecordingStore:
    """Recording objects in the audit database, through an asyncpg pool opened on first use (so
    a store whose database is down opens, and fails its operations in time)."""

    kind = "postgres"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        pool_size: int = 4,
        application_name: str = "switchboard-recordings",
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._timeout_s = timeout_s
        self._pool_size = pool_size
        self._application_name = application_name
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock | None = None
        self._closed = False
        #: while the database is unreachable: operations fail at once until this monotonic time
        self._down_until = 0.0
        self._down_for = 0.0

    @classmethod
    def from_settings(cls, settings: RecordingStoreSettings) -> PostgresRecordingStore:
        return cls(settings.recording_database_url, timeout_s=settings.recording_timeout_s)

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        await self._run(lambda conn: conn.execute(_PUT, key, content_type, len(data), data))

    async def get(self, key: str, *, start: int = 0, end: int | None = None) -> bytes:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad range [{start}, {end})")
        length = (end - start) if end is not None else 2**31 - 1
        rows = await self._run(lambda conn: conn.fetch(_GET, key, start + 1, length))
        if not rows:
            raise RecordingNotFound(key)
        chunk: Any = rows[0][0]
        return bytes(chunk) if chunk is not None else b""

    async def size(self, key: str) -> int:
        rows = await self._run(lambda conn: conn.fetch(_SIZE, key))
        if not rows:
            raise RecordingNotFound(key)
        return int(rows[0][0])

    async def keys(self, prefix: str) -> list[str]:
        rows = await self._run(lambda conn: conn.fetch(_KEYS, *_bounds(prefix)))
        return [row[0] for row in rows]

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("refusing to delete every recording (empty prefix)")
        status = await self._run(lambda conn: conn.execute(_DELETE, *_bounds(prefix)))
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <count>"

    async def ready(self) -> bool:
        try:
            await self._run(lambda conn: conn.fetchval("SELECT 1"))
        except RecordingStoreError:
            return False
        return True

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self._timeout_s)
        except (TimeoutError, *_ERRORS):
            pool.terminate()

    async def _run(self, operation: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """*operation* on a pooled connection (a statement is its own transaction), within the
        timeout; what goes wrong is a :class:`RecordingStoreError`.

        A database that cannot be reached is not tried again by every operation: a gateway
        writes a segment per channel every few seconds for every call, and each attempt opened a
        new connection (TLS offered first), which cost the relay more CPU than the recording
        itself. For :data:`BACKOFF_S` after a failure operations fail at once."""
        loop = asyncio.get_running_loop()
        if self._down_until and loop.time() < self._down_until:
            raise RecordingStoreError(
                f"postgres recording store: unreachable, next attempt in "
                f"{self._down_until - loop.time():.1f} s"
            )
        try:
            async with asyncio.timeout(self._timeout_s):
                pool = self._pool or await self._open()
                async with pool.acquire() as conn:
                    result = await operation(conn)
        except _ERRORS as exc:
            if isinstance(exc, _UNREACHABLE):
                first, most = BACKOFF_S
                self._down_for = min(most, max(first, self._down_for * 2))
                self._down_until = loop.time() + self._down_for
            raise RecordingStoreError(f"postgres recording store: {exc!r}"[:500]) from exc
        self._down_until = self._down_for = 0.0
        return result

    async def _open(self) -> asyncpg.Pool:
        if self._closed:
            raise RecordingStoreError("postgres recording store: closed")
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                # min_size=0: no connection until one is needed, so this does not block
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._pool_size,
                    timeout=self._timeout_s,
                    command_timeout=max(self._timeout_s * 2, 5.0),
                    server_settings={"application_name": self._application_name},
                    reset=_keep_session,
                )
            return self._pool
