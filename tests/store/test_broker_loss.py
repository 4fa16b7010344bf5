"""Losing the broker never leaves the store connected but idle: after a cut link, a broker that
stops answering, or a consumer the broker cancels, the store consumes again by itself and stores
what waited in the queue meanwhile. The link is cut through a proxy this test controls; the shared
RabbitMQ is never restarted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest

from switchboard.amqp import Topology
from switchboard.store.service import StoreService
from tests.conftest import via_proxy
from tests.infra import InfraUrls
from tests.store.conftest import Publisher, SettingsFactory, WaitStored
from tests.store.factories import conversation, new_session_id
from tests.support.proxy import TcpProxy


@pytest.fixture
async def loss_topology(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> AsyncIterator[Topology]:
    """A namespace of this test's own, so the run's shared store does not consume it."""
    loss_topology = Topology(f"loss{uuid.uuid4().hex[:8]}")
    yield loss_topology
    channel = await amqp_connection.channel()
    try:
        await loss_topology.delete_all(channel)
    finally:
        await channel.close()


@pytest.fixture
async def direct_publisher(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, loss_topology: Topology
) -> AsyncIterator[Publisher]:
    """Publishes straight to RabbitMQ (not through the proxy)."""
    channel = await amqp_connection.channel(publisher_confirms=True)
    publisher = Publisher(channel, loss_topology)
    await publisher.start()
    yield publisher
    await channel.close()


@pytest.fixture
async def store_via_proxy(
    make_store_settings: SettingsFactory,
    infra: InfraUrls,
    amqp_proxy: TcpProxy,
    loss_topology: Topology,
) -> AsyncIterator[StoreService]:
    service = StoreService(
        make_store_settings(
            AMQP_URL=via_proxy(infra.amqp_url, amqp_proxy.port),
            SWITCHBOARD_NAMESPACE=loss_topology.namespace,
            STORE_INSTANCE_ID="broker-loss",
            STORE_AMQP_RECONNECT_S=0.1,
            STORE_AMQP_TIMEOUT_S=2.0,
        )
    )
    await service.start()
    await asyncio.wait_for(service.serving.wait(), 30)
    yield service
    await service.stop()


async def _until(check: Callable[[], Awaitable[bool]], within_s: float = 30) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


async def _broker_ready(service: StoreService) -> bool:
    return bool((await service.readiness())["broker"])


async def _broker_down(service: StoreService) -> bool:
    return not await _broker_ready(service)


async def _attempt_timed_out(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        r.getMessage() == "broker unreachable; retrying"
        and "TimeoutError" in str(getattr(r, "error", ""))
        for r in caplog.records
    )


def _reconnects(service: StoreService) -> float:
    value = service.metrics.registry.get_sample_value("switchboard_store_broker_reconnects_total")
    return value or 0.0


async def test_a_cut_link_is_reattached_and_the_queued_events_stored(
    store_via_proxy: StoreService,
    amqp_proxy: TcpProxy,
    direct_publisher: Publisher,
    wait_stored: WaitStored,
) -> None:
    session_id = new_session_id("cut")
    events = conversation(session_id=session_id, user_text="where is my order")
    await direct_publisher.publish(*events[:3])
    assert await wait_stored(session_id, 3) == 3

    await amqp_proxy.down()
    await _until(lambda: _broker_down(store_via_proxy))
    await direct_publisher.publish(*events[3:])  # waits in the durable queue meanwhile
    await amqp_proxy.up()

    assert await wait_stored(session_id, len(events)) == len(events)
    assert await _broker_ready(store_via_proxy)
    assert _reconnects(store_via_proxy) >= 1


async def test_a_broker_that_stops_answering_is_left_and_tried_again(
    store_via_proxy: StoreService,
    amqp_proxy: TcpProxy,
    direct_publisher: Publisher,
    wait_stored: WaitStored,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Connections are accepted but never answered (a broker still booting): the attempt is
    bounded by STORE_AMQP_TIMEOUT_S, and once the broker answers again the store consumes."""
    session_id = new_session_id("hang")
    events = conversation(session_id=session_id, user_text="cancel my order")
    await amqp_proxy.hang()
    await _until(lambda: _broker_down(store_via_proxy))
    await direct_publisher.publish(*events)
    # at least one attempt starts against the silent broker and times out (the store says so)
    before = _reconnects(store_via_proxy)
    await _until(lambda: _attempt_timed_out(caplog))
    assert not await _broker_ready(store_via_proxy)
    await amqp_proxy.up()

    assert await wait_stored(session_id, len(events)) == len(events)
    assert await _broker_ready(store_via_proxy)
    assert _reconnects(store_via_proxy) > before


async def test_a_consumer_cancelled_by_the_broker_is_registered_again(
    store_via_proxy: StoreService,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    loss_topology: Topology,
    direct_publisher: Publisher,
    wait_stored: WaitStored,
) -> None:
    """Deleting the queue makes RabbitMQ cancel the consumer while the connection stays up: the
    store declares the queue again and consumes it (no silent idle consumer)."""
    before = _reconnects(store_via_proxy)
    channel = await amqp_connection.channel()
    await channel.queue_delete(loss_topology.store_events_queue)
    await channel.close()
    await _until(lambda: _reconnected(store_via_proxy, before))

    session_id = new_session_id("cancel")
    events = conversation(session_id=session_id, user_text="start a return")
    await direct_publisher.publish(*events)
    assert await wait_stored(session_id, len(events)) == len(events)


async def _reconnected(service: StoreService, before: float) -> bool:
    return _reconnects(service) > before and await _broker_ready(service)
