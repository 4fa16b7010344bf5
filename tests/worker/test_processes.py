"""Real worker processes: SIGKILL mid-call loses nothing, SIGTERM drains, HTTP endpoints,
and the Redis catalog appears, refreshes and expires."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.cli.stack import Service
from switchboard.contracts.tools import ToolCatalogEntry
from switchboard.db.shop import Cancellation, Order, OrderStatus, ToolEffect
from switchboard.keys import RedisKeys
from switchboard.toolclient import ToolClient
from tests.support.locks import order_locked, wait_blocked
from tests.support.shop import ShopFactory
from tests.worker.actions import confirm_request, propose

Sessions = async_sessionmaker[AsyncSession]
StartProcess = Callable[..., Awaitable[Service]]


async def _count(sessions: Sessions, model: Any, column: Any, value: Any) -> int:
    async with sessions() as s:
        return int(
            await s.scalar(select(func.count()).select_from(model).where(column == value)) or 0
        )


async def test_sigkill_mid_call_is_redelivered_and_answered_once(
    worker_processes: StartProcess,
    proc_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
    seeded_database_url: str,
) -> None:
    """A worker killed while running a confirmed cancel loses nothing: another worker gets the
    confirmation, runs it once, answers once, and the order is cancelled exactly once."""
    slow = {"WORKER_TOOL_TIMEOUT_S": "60", "DATABASE_TIMEOUT_S": "15"}
    first = await worker_processes("kill-a", **slow)
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    action = await propose(
        proc_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id="sess-kill"
    )
    async with order_locked(seeded_database_url, oid) as lock:
        pending = asyncio.create_task(
            proc_client.send(
                confirm_request(
                    action.action_id, customer_id=cid, session_id="sess-kill", timeout_s=60
                )
            )
        )
        await wait_blocked(lock, "kill-a")  # first worker has claimed the call, waits on the row
        second = await worker_processes("kill-b", **slow)
        assert await asyncio.to_thread(first.kill) == -9
        # the second worker got the redelivery and waits on the dead worker's claim until its
        # session is gone; releasing the row lets that happen
    result = await pending
    assert result.ok, result.error
    assert result.worker == "kill-b" and not result.replayed
    assert (result.output or {})["status"] == "confirmed"
    assert (result.output or {})["result"]["status"] == "cancelled"
    assert await _count(sessionmaker, Cancellation, Cancellation.order_id, oid) == 1
    assert await _count(sessionmaker, ToolEffect, ToolEffect.call_id, result.call_id) == 1
    async with sessionmaker() as s:
        order = await s.get(Order, oid)
    assert order is not None and order.status is OrderStatus.CANCELLED
    async with httpx.AsyncClient(base_url=second.url) as http:
        metrics = (await http.get("/metrics")).text
    assert 'switchboard_worker_redeliveries_total{tool="confirm_action"} 1.0' in metrics
    assert 'switchboard_worker_calls_total{outcome="ok",tool="confirm_action"} 1.0' in metrics
    assert 'switchboard_worker_confirmations_total{outcome="confirmed"} 1.0' in metrics
    assert not any(d.get("msg") == "call refused" for d in second.log_records())


async def test_sigterm_finishes_the_call_in_flight_then_exits(
    worker_processes: StartProcess,
    proc_client: ToolClient,
    shop: ShopFactory,
    seeded_database_url: str,
    redis_client: aioredis.Redis,
    proc_namespace: str,
) -> None:
    """On SIGTERM a worker stops consuming, answers the call it is running, withdraws its
    catalog entry and exits 0."""
    worker = await worker_processes("drain-a", WORKER_TOOL_TIMEOUT_S="60", DATABASE_TIMEOUT_S="15")
    key = RedisKeys(proc_namespace).catalog_worker("drain-a")
    assert await redis_client.exists(key)
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    action = await propose(
        proc_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id="sess-drain"
    )
    async with order_locked(seeded_database_url, oid) as lock:
        pending = asyncio.create_task(
            proc_client.send(
                confirm_request(
                    action.action_id, customer_id=cid, session_id="sess-drain", timeout_s=60
                )
            )
        )
        await wait_blocked(lock, "drain-a")
        stopping = asyncio.create_task(asyncio.to_thread(worker.terminate))
        await worker.wait_log("worker stopping")
        assert not pending.done()
    result = await pending
    assert result.ok and result.worker == "drain-a", result
    assert await stopping == 0
    stopped = await worker.wait_log("worker stopped")
    assert stopped["drained"] is True
    assert not await redis_client.exists(key)


async def test_http_endpoints_and_structured_logs(
    worker_processes: StartProcess, proc_client: ToolClient
) -> None:
    """/healthz, /readyz and /metrics answer, and each call's logs carry call and session ids."""
    worker = await worker_processes("http-a")
    result = await proc_client.call(
        "check_order_status", {"order_id": 999999}, customer_id="cus_0001", session_id="sess-http"
    )
    assert result.error is not None
    async with httpx.AsyncClient(base_url=worker.url) as http:
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
        metrics = await http.get("/metrics")
    assert health.status_code == 200 and health.json()["worker"] == "http-a"
    assert ready.status_code == 200
    assert ready.json() == {
        "state": "serving",
        "broker": True,
        "catalog": True,
        "database": True,
        "ready": True,
    }
    assert 'switchboard_worker_calls_total{outcome="not_found",tool="check_order_status"} 1.0' in (
        metrics.text
    )
    assert "switchboard_worker_call_duration_seconds_bucket" in metrics.text
    refused = await worker.wait_log("call refused")
    assert refused["call_id"] == result.call_id and refused["session_id"] == "sess-http"


async def test_catalog_appears_refreshes_and_expires(
    worker_processes: StartProcess, redis_client: aioredis.Redis, proc_namespace: str
) -> None:
    """A live worker's catalog entry lists its tools with schemas and a TTL; after SIGKILL
    nothing refreshes it and it expires."""
    keys = RedisKeys(proc_namespace)
    worker = await worker_processes(
        "cat-a",
        WORKER_TOOLS="check_order_status,cancel_order",
        WORKER_CATALOG_TTL_S="1.5",
        WORKER_CATALOG_HEARTBEAT_S="0.3",
    )
    key = keys.catalog_worker("cat-a")
    raw = await redis_client.get(key)
    assert raw is not None
    entries = [ToolCatalogEntry.model_validate(e) for e in json.loads(raw)]
    assert [e.name for e in entries] == ["check_order_status", "cancel_order"]
    assert entries[1].mutating and not entries[0].mutating
    assert "order_id" in entries[0].parameters["properties"]
    assert all("customer_id" not in json.dumps(e.parameters) for e in entries)
    assert 0 < await redis_client.pttl(key) <= 1500
    found = [k async for k in redis_client.scan_iter(match=keys.catalog_pattern)]
    assert key in found
    await worker.wait_log("catalog announced")
    await asyncio.to_thread(worker.kill)
    async with asyncio.timeout(10):
        while await redis_client.exists(key):  # noqa: ASYNC110 - Redis expiry is not an event we can await
            await asyncio.sleep(0.1)
