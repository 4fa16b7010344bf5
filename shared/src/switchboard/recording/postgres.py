"""The Postgres backend of the recording store: objects as rows of ``audit.recording_object``.

The embedded default, so ``make run`` records with nothing else installed. Ranged reads use
``substring`` on the ``bytea`` column, so a seek in a long recording reads only what it plays
(the column is stored uncompressed, ``STORAGE EXTERNAL``, which makes ``substring`` fetch only the
chunks it needs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.exc import SQLAlchemyError

from switchboard.db.engine import create_engine
from switchboard.recording.store import RecordingNotFound, RecordingStoreError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from switchboard.recording.settings import RecordingStoreSettings

__all__ = ["PostgresRecordingStore"]

_PUT = text(
    "INSERT INTO audit.recording_object (key, content_type, size, data) "
    "VALUES (:key, :content_type, :size, :data) ON CONFLICT (key) DO UPDATE SET "
    "content_type = EXCLUDED.content_type, size = EXCLUDED.size, data = EXCLUDED.data, "
    "created_at = now()"
)
_GET = text(
    "SELECT substring(data FROM :start FOR :length) FROM audit.recording_object WHERE key = :key"
)
_SIZE = text("SELECT size FROM audit.recording_object WHERE key = :key")
# a prefix match on the primary key's index: text_pattern_ops is not needed with COLLATE "C"
_KEYS = text(
    'SELECT key FROM audit.recording_object WHERE key COLLATE "C" >= :lo '
    'AND key COLLATE "C" < :hi ORDER BY key COLLATE "C"'
)
_DELETE = text(
    'DELETE FROM audit.recording_object WHERE key COLLATE "C" >= :lo AND key COLLATE "C" < :hi'
)


def _bounds(prefix: str) -> dict[str, str]:
    """Keys starting with *prefix* are those in ``[prefix, prefix + U+10FFFF)``."""
    return {"lo": prefix, "hi": prefix + "\U0010ffff"}


class PostgresRecordingStore:
    """Recording objects in the audit database."""

    kind = "postgres"

    def __init__(self, engine: AsyncEngine, *, timeout_s: float = 10.0, owned: bool = True) -> None:
        self._engine = engine
        self._timeout_s = timeout_s
        self._owned = owned

    @classmethod
    def from_settings(cls, settings: RecordingStoreSettings) -> PostgresRecordingStore:
        engine = create_engine(
            settings.recording_database_url,
            pool_size=4,
            timeout_s=settings.recording_timeout_s,
            application_name="switchboard-recordings",
        )
        return cls(engine, timeout_s=settings.recording_timeout_s)

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        params = {"key": key, "content_type": content_type, "size": len(data), "data": data}
        await self._run(_PUT, params, write=True)

    async def get(self, key: str, *, start: int = 0, end: int | None = None) -> bytes:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad range [{start}, {end})")
        length = (end - start) if end is not None else 2**31 - 1
        row = (await self._run(_GET, {"key": key, "start": start + 1, "length": length})).first()
        if row is None:
            raise RecordingNotFound(key)
        chunk: Any = row[0]
        return bytes(chunk) if chunk is not None else b""

    async def size(self, key: str) -> int:
        row = (await self._run(_SIZE, {"key": key})).first()
        if row is None:
            raise RecordingNotFound(key)
        return int(row[0])

    async def keys(self, prefix: str) -> list[str]:
        return [row[0] for row in (await self._run(_KEYS, _bounds(prefix))).all()]

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("refusing to delete every recording (empty prefix)")
        result = await self._run(_DELETE, _bounds(prefix), write=True)
        return int(result.rowcount or 0)

    async def ready(self) -> bool:
        try:
            await self._run(text("SELECT 1"), {})
        except RecordingStoreError:
            return False
        return True

    async def close(self) -> None:
        if self._owned:
            await self._engine.dispose()

    async def _run(
        self, statement: TextClause, params: Mapping[str, Any], *, write: bool = False
    ) -> _Buffered:
        try:
            async with asyncio.timeout(self._timeout_s):
                if write:
                    async with self._engine.begin() as conn:
                        result = await conn.execute(statement, params)
                        return _Buffered(result)
                async with self._engine.connect() as conn:
                    return _Buffered(await conn.execute(statement, params))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise RecordingStoreError(f"postgres recording store: {exc!r}"[:500]) from exc


class _Buffered:
    """A result read whole inside its connection, so it can be used after the connection is
    returned to the pool."""

    def __init__(self, result: Any) -> None:
        self.rowcount: int = result.rowcount
        self._rows: list[Row[Any]] = list(result.all()) if result.returns_rows else []

    def first(self) -> Row[Any] | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Row[Any]]:
        return self._rows
