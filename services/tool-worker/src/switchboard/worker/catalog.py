"""The live tool catalog: while this worker is consuming, it keeps the JSON list of its
:class:`ToolCatalogEntry` objects at ``RedisKeys.catalog_worker(worker_id)`` with a TTL, so the
gateway offers exactly the tools some live worker serves. A dead worker's entry expires."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis

from switchboard.contracts.tools import ToolCatalogEntry
from switchboard.keys import RedisKeys
from switchboard.worker.metrics import WorkerMetrics

__all__ = ["CatalogAnnouncer", "catalog_payload"]

log = logging.getLogger(__name__)


def catalog_payload(entries: Sequence[ToolCatalogEntry]) -> str:
    """The value stored in Redis: a JSON list of catalog entries."""
    return json.dumps([e.model_dump(mode="json") for e in entries], separators=(",", ":"))


class CatalogAnnouncer:
    """Writes this worker's catalog entry every ``heartbeat_s`` while ``is_live()`` holds."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        keys: RedisKeys,
        worker_id: str,
        entries: Sequence[ToolCatalogEntry],
        ttl_s: float,
        heartbeat_s: float,
        metrics: WorkerMetrics,
        is_live: Callable[[], bool],
    ) -> None:
        self._redis = redis
        self.key = keys.catalog_worker(worker_id)
        self._payload = catalog_payload(entries)
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._heartbeat_s = heartbeat_s
        self._metrics = metrics
        self._is_live = is_live
        self._stop = asyncio.Event()
        self.announced = False

    async def run(self) -> None:
        """Announce until :meth:`stop`; Redis errors are logged and retried on the next beat."""
        while not self._stop.is_set():
            if self._is_live():
                await self.beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._heartbeat_s)

    async def beat(self) -> None:
        """Write the entry now (also called as soon as consuming starts)."""
        try:
            await self._redis.set(self.key, self._payload, px=self._ttl_ms)
        except Exception as exc:
            self._metrics.catalog_heartbeats.labels("error").inc()
            self.announced = False
            log.warning("catalog heartbeat failed", extra={"error": repr(exc)})
            return
        self._metrics.catalog_heartbeats.labels("ok").inc()
        if not self.announced:
            log.info("catalog announced", extra={"key": self.key})
        self.announced = True

    async def stop(self, *, withdraw: bool = True) -> None:
        """Stop the heartbeat and (by default) remove the entry at once."""
        self._stop.set()
        if withdraw:
            try:
                await self._redis.delete(self.key)
            except Exception as exc:
                log.warning("could not withdraw the catalog entry", extra={"error": repr(exc)})
        self.announced = False
