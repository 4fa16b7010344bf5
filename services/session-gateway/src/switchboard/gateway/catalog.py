"""The live tool catalog: the union of the tools every live worker announces in Redis
(``RedisKeys.catalog_pattern``). A tool no live worker serves is not offered to the model."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from pydantic import ValidationError

from switchboard.contracts.tools import ToolCatalogEntry
from switchboard.keys import RedisKeys

__all__ = ["CatalogReader"]

log = logging.getLogger(__name__)


class CatalogReader:
    """Reads the catalog, cached for ``refresh_s`` so a burst of new sessions reads it once."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, *, refresh_s: float = 2.0) -> None:
        self._redis = redis
        self._keys = keys
        self._refresh_s = refresh_s
        self._cached: list[ToolCatalogEntry] = []
        self._read_at: float | None = None

    async def entries(self) -> list[ToolCatalogEntry]:
        now = time.monotonic()
        if self._read_at is not None and now - self._read_at < self._refresh_s:
            return self._cached
        try:
            self._cached = await self._read()
            self._read_at = now
        except Exception as exc:  # Redis trouble: keep offering what we knew
            log.warning("tool catalog unreadable", extra={"error": repr(exc)})
        return self._cached

    async def realtime_tools(self) -> list[dict[str, Any]]:
        """The entries in ``session.tools`` form, sorted by name."""
        return [e.realtime_tool() for e in await self.entries()]

    async def _read(self) -> list[ToolCatalogEntry]:
        keys = [k async for k in self._redis.scan_iter(match=self._keys.catalog_pattern, count=200)]
        if not keys:
            return []
        by_name: dict[str, ToolCatalogEntry] = {}
        for raw in await self._redis.mget(keys):
            if raw is None:
                continue
            try:
                docs = json.loads(raw)
                for doc in docs:
                    entry = ToolCatalogEntry.model_validate(doc)
                    current = by_name.get(entry.name)
                    if current is None or entry.tool_version > current.tool_version:
                        by_name[entry.name] = entry
            except (ValueError, TypeError, ValidationError) as exc:
                log.warning("bad catalog entry ignored", extra={"error": repr(exc)})
        return [by_name[name] for name in sorted(by_name)]
