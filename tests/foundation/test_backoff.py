"""Connect-with-backoff: retried with the given pauses until it succeeds, and a robust broker
connection opened once RabbitMQ answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from switchboard.runtime.backoff import connect_broker, retry_forever
from switchboard.settings import redact_url
from tests.conftest import via_proxy
from tests.infra import InfraUrls
from tests.support.proxy import TcpProxy


class _Warnings(logging.Handler):
    """Collects the backoff module's warnings and wakes a waiter on each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.arrived.set()


@pytest.fixture
def warnings() -> Iterator[_Warnings]:
    handler = _Warnings()
    logger = logging.getLogger("switchboard.runtime.backoff")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def test_retry_forever_pauses_as_given_and_returns_the_first_success(
    warnings: _Warnings,
) -> None:
    """Each failure is logged with the next pause (the last one repeating) and the first result
    is returned."""
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise ConnectionRefusedError(f"refused {calls}")
        return "open"

    result = await retry_forever(
        attempt, what="thing", delays=(0.001, 0.002), log_extra={"url": "x://host"}
    )
    assert result == "open"
    assert calls == 5
    assert [r.getMessage() for r in warnings.records] == ["thing unreachable; retrying"] * 4
    assert [r.__dict__["retry_in_s"] for r in warnings.records] == [0.001, 0.002, 0.002, 0.002]
    assert warnings.records[0].__dict__["url"] == "x://host"
    assert "refused 1" in warnings.records[0].__dict__["error"]


async def test_retry_forever_stops_when_cancelled() -> None:
    """Cancelling the waiting task is the way to give up: the cancellation propagates."""

    async def attempt() -> None:
        raise OSError("down")

    task = asyncio.create_task(retry_forever(attempt, what="thing", delays=(60,)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_connect_broker_waits_for_the_broker_and_redacts_its_password(
    amqp_proxy: TcpProxy, infra: InfraUrls, warnings: _Warnings
) -> None:
    """With the broker unreachable the attempts are logged (password hidden); once it answers,
    the robust connection is open and usable."""
    await amqp_proxy.down()
    url = via_proxy(infra.amqp_url, amqp_proxy.port)
    task = asyncio.create_task(
        connect_broker(url, connection_name="test-backoff", reconnect_s=0.1, delays=(0.05,))
    )
    await asyncio.wait_for(warnings.arrived.wait(), 10)
    assert not task.done()
    record = warnings.records[0]
    assert record.getMessage() == "broker unreachable; retrying"
    password = urlsplit(url).password
    assert record.__dict__["url"] == redact_url(url)
    assert password is None or f":{password}@" not in record.__dict__["url"]
    await amqp_proxy.up()
    connection = await asyncio.wait_for(task, 10)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        assert queue.name
    finally:
        await connection.close()
