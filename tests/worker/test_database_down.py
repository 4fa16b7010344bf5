"""Postgres going away is an answer, not a crash: calls are answered ``unavailable`` within a
bounded time, readiness reports it, and the worker recovers by itself. Postgres is taken away
through a proxy this test controls; the shared server is never touched."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from switchboard.contracts.tools import ToolErrorCode
from switchboard.toolclient import ToolClient
from tests.support.proxy import TcpProxy
from tests.worker.conftest import StartWorker


@pytest.fixture
async def db_proxy(seeded_database_url: str) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the run's Postgres."""
    target = urlsplit(seeded_database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.up()
    yield proxy
    await proxy.down()


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()


async def test_database_down_is_answered_unavailable_and_recovers(
    start_worker: StartWorker,
    proc_client: ToolClient,
    proc_namespace: str,
    db_proxy: TcpProxy,
    seeded_database_url: str,
) -> None:
    """With Postgres refusing connections, reads and writes get ``unavailable`` from the worker
    (not a client timeout), /readyz says the database is down, and once Postgres is back the
    same worker answers normally."""
    worker = await start_worker(
        SWITCHBOARD_NAMESPACE=proc_namespace,
        DATABASE_URL=_through(seeded_database_url, db_proxy.port),
        DATABASE_TIMEOUT_S=1,
        WORKER_ID="dbdown-a",
    )
    args = {"order_id": 100001}
    assert (await proc_client.call("check_order_status", args, customer_id="cus_0001")).ok

    await db_proxy.down()
    for tool, arguments in (
        ("check_order_status", args),
        ("escalate_to_human", {"summary": "database is down"}),
    ):
        result = await proc_client.call(tool, arguments, customer_id="cus_0001", timeout_s=15)
        assert result.error is not None, result
        assert result.error.code is ToolErrorCode.UNAVAILABLE
        assert result.worker == "dbdown-a"  # answered by the worker, well before the deadline
        assert "temporarily unavailable" in result.error.message
    readiness = await worker.readiness()
    assert readiness["database"] is False and readiness["ready"] is False
    assert readiness["broker"] is True

    await db_proxy.up()
    result = await proc_client.call("check_order_status", args, customer_id="cus_0001")
    assert result.ok, result.error
    assert (await worker.readiness())["ready"] is True


async def test_a_database_that_stops_answering_is_unavailable_in_bounded_time(
    start_worker: StartWorker,
    proc_client: ToolClient,
    proc_namespace: str,
    db_proxy: TcpProxy,
    seeded_database_url: str,
) -> None:
    """When Postgres accepts connections but never answers, the call is still answered
    ``unavailable`` by the worker before its deadline, and service resumes afterwards."""
    await start_worker(
        SWITCHBOARD_NAMESPACE=proc_namespace,
        DATABASE_URL=_through(seeded_database_url, db_proxy.port),
        DATABASE_TIMEOUT_S=1,
        WORKER_TOOL_TIMEOUT_S=2,
        WORKER_ID="dbhang-a",
    )
    args = {"order_id": 100001}
    await db_proxy.hang()
    result = await proc_client.call(
        "check_order_status", args, customer_id="cus_0001", timeout_s=20
    )
    assert result.error is not None and result.error.code is ToolErrorCode.UNAVAILABLE
    assert result.worker == "dbhang-a"
    await db_proxy.up()
    result = await proc_client.call("check_order_status", args, customer_id="cus_0001")
    assert result.ok, result.error


async def test_a_postgres_restart_between_calls_costs_no_call(
    caplog: pytest.LogCaptureFixture,
    start_worker: StartWorker,
    proc_client: ToolClient,
    proc_namespace: str,
    db_proxy: TcpProxy,
    seeded_database_url: str,
) -> None:
    """When every pooled connection died while idle (Postgres restarted), the next read and
    write still succeed: the dead connection is detected and the call retried once."""
    worker = await start_worker(
        SWITCHBOARD_NAMESPACE=proc_namespace,
        DATABASE_URL=_through(seeded_database_url, db_proxy.port),
        WORKER_ID="dbrestart-a",
    )
    args = {"order_id": 100001}
    assert (await proc_client.call("check_order_status", args, customer_id="cus_0001")).ok
    assert (
        await proc_client.call("escalate_to_human", {"summary": "warm up"}, customer_id="cus_0001")
    ).ok
    await db_proxy.down()  # cuts the pooled connections
    await db_proxy.up()
    caplog.set_level(logging.INFO, logger="switchboard.worker.executor")
    read = await proc_client.call("check_order_status", args, customer_id="cus_0001")
    write = await proc_client.call(
        "escalate_to_human", {"summary": "after restart"}, customer_id="cus_0001"
    )
    assert read.ok, read.error
    assert write.ok, write.error
    assert worker.metrics.calls.labels("check_order_status", "unavailable")._value.get() == 0
    retried = [r for r in caplog.records if r.getMessage() == "stale database connection; retrying"]
    assert retried  # the first dead connection invalidates the whole pool
