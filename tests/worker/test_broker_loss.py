"""Losing the broker connection is survivable: the worker reconnects by itself and answers the
calls that queued up meanwhile. The connection is cut through a proxy this test controls; the
shared RabbitMQ is never touched."""

from __future__ import annotations

import asyncio

from switchboard.toolclient import ToolClient
from tests.conftest import via_proxy
from tests.infra import InfraUrls
from tests.support.proxy import TcpProxy
from tests.worker.conftest import StartWorker


async def test_calls_queued_while_the_broker_link_is_down_are_answered_after_reconnect(
    amqp_proxy: TcpProxy,
    start_worker: StartWorker,
    proc_client: ToolClient,
    proc_namespace: str,
    infra: InfraUrls,
) -> None:
    """With the worker's broker connection cut, a call waits in its durable queue; when the
    link returns the worker reconnects, resumes consuming and answers it."""
    url = via_proxy(infra.amqp_url, amqp_proxy.port)
    worker = await start_worker(
        SWITCHBOARD_NAMESPACE=proc_namespace,
        AMQP_URL=url,
        WORKER_AMQP_RECONNECT_S=0.2,
        WORKER_ID="amqp-loss-a",
    )
    args = {"order_id": 100001}
    first = await proc_client.call("check_order_status", args, customer_id="cus_0001")
    assert first.ok and first.worker == "amqp-loss-a"

    await amqp_proxy.down()
    pending = asyncio.create_task(
        proc_client.call("check_order_status", args, customer_id="cus_0001", timeout_s=30)
    )
    await asyncio.sleep(0.5)  # the outage: the call waits in the queue meanwhile
    assert not pending.done()
    await amqp_proxy.up()
    result = await pending
    assert result.ok, result.error
    assert result.worker == "amqp-loss-a"
    assert (await worker.readiness())["broker"] is True


async def test_shutdown_with_the_broker_unreachable_is_bounded(
    amqp_proxy: TcpProxy,
    start_worker: StartWorker,
    proc_namespace: str,
    infra: InfraUrls,
) -> None:
    """Stopping a worker whose broker link is down still completes (nothing to drain)."""
    url = via_proxy(infra.amqp_url, amqp_proxy.port)
    worker = await start_worker(
        SWITCHBOARD_NAMESPACE=proc_namespace, AMQP_URL=url, WORKER_ID="amqp-loss-b"
    )
    await amqp_proxy.down()
    async with asyncio.timeout(20):
        await worker.stop()
    assert worker.state == "stopped"
