"""The call queue configuration: classic call queues replace the quorum queues of earlier
releases without losing a call or routing one twice, and a caller whose connection drops while
it waits gets its answer by asking again with the same call id."""

from __future__ import annotations

import asyncio
import logging
import uuid

import aio_pika
import pytest
from aio_pika.exceptions import ChannelNotFoundEntity
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.amqp import Topology
from switchboard.db.shop import Cancellation, OrderStatus, ToolEffect
from switchboard.toolclient import ToolClient
from tests.conftest import via_proxy
from tests.infra import InfraUrls
from tests.support.locks import order_locked, wait_blocked
from tests.support.proxy import TcpProxy
from tests.support.shop import ShopFactory
from tests.worker.actions import confirm_request, propose
from tests.worker.conftest import StartWorker

Sessions = async_sessionmaker[AsyncSession]
TOOL = "check_order_status"


async def _exists(connection: aio_pika.abc.AbstractConnection, name: str) -> bool:
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, passive=True)
    except ChannelNotFoundEntity:
        return False
    await channel.close()
    return True


@pytest.fixture
def namespace_of_test(proc_namespace: str) -> str:
    """A namespace of this test alone (its queues are looked at, so nobody else may use it)."""
    return f"{proc_namespace}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def clean_namespace(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, namespace_of_test: str
) -> object:
    yield None
    channel = await amqp_connection.channel()
    await Topology(namespace_of_test).delete_all(channel, tools=(TOOL,))
    await channel.close()


async def test_a_quorum_call_queue_left_by_an_earlier_release_is_answered_and_deleted(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    start_worker: StartWorker,
    namespace_of_test: str,
    clean_namespace: object,
) -> None:
    """A call waiting in the quorum queue of an earlier release is answered by a worker of this
    one, which then deletes that queue and serves from its classic queue only."""
    del clean_namespace
    topology = Topology(namespace_of_test)
    channel = await amqp_connection.channel()
    await topology.declare_tool_queue(channel, TOOL, "quorum")
    await channel.close()
    async with ToolClient(amqp_connection, topology) as client:
        waiting = asyncio.create_task(
            client.call(TOOL, {"order_id": 100001}, customer_id="cus_0001", timeout_s=60)
        )
        while client.waiting == 0:  # noqa: ASYNC110 - the task publishes on its own schedule
            await asyncio.sleep(0.01)
        await start_worker(
            SWITCHBOARD_NAMESPACE=namespace_of_test, WORKER_TOOLS=TOOL, WORKER_ID="upgrade-a"
        )
        left_over = await waiting
        assert left_over.ok and left_over.worker == "upgrade-a", left_over
        assert not await _exists(amqp_connection, topology.tool_queue(TOOL, "quorum"))
        assert await _exists(amqp_connection, topology.tool_queue(TOOL, "classic"))
        after = await client.call(TOOL, {"order_id": 100001}, customer_id="cus_0001")
        assert after.ok and after.worker == "upgrade-a"


async def test_a_quorum_queue_still_consumed_is_unbound_and_left_to_its_workers(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    start_worker: StartWorker,
    namespace_of_test: str,
    clean_namespace: object,
) -> None:
    """During a rolling update, a worker of the earlier kind keeps its queue, but new calls go
    only to the classic queue: no call is routed to both."""
    del clean_namespace
    topology = Topology(namespace_of_test)
    await start_worker(
        SWITCHBOARD_NAMESPACE=namespace_of_test,
        WORKER_TOOLS=TOOL,
        WORKER_ID="old-quorum",
        WORKER_CALL_QUEUE_TYPE="quorum",
    )
    await start_worker(
        SWITCHBOARD_NAMESPACE=namespace_of_test, WORKER_TOOLS=TOOL, WORKER_ID="new-classic"
    )
    assert await _exists(amqp_connection, topology.tool_queue(TOOL, "quorum"))
    async with ToolClient(amqp_connection, topology) as client:
        results = [
            await client.call(TOOL, {"order_id": 100001}, customer_id="cus_0001") for _ in range(20)
        ]
    assert all(r.ok for r in results)
    assert {r.worker for r in results} == {"new-classic"}


async def test_a_caller_cut_off_mid_call_asks_again_and_gets_the_recorded_answer(
    amqp_proxy: TcpProxy,
    infra: InfraUrls,
    start_worker: StartWorker,
    proc_namespace: str,
    shop: ShopFactory,
    sessionmaker: Sessions,
    seeded_database_url: str,
) -> None:
    """The caller's broker link drops while its confirmed cancel runs, so the worker's answer is lost;
    once the link is back the client sends the call again with the same id and gets the answer
    the worker recorded: the order is cancelled once and the caller hears it."""
    await start_worker(
        SWITCHBOARD_NAMESPACE=proc_namespace,
        WORKER_ID="resend-a",
        WORKER_TOOL_TIMEOUT_S=60,
        DATABASE_TIMEOUT_S=15,
    )
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    call_id = f"call_{uuid.uuid4().hex}"
    connection = await aio_pika.connect_robust(
        via_proxy(infra.amqp_url, amqp_proxy.port), reconnect_interval=0.2
    )
    try:
        async with ToolClient(connection, Topology(proc_namespace)) as client:
            action = await propose(
                client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id="sess-cut"
            )
            async with order_locked(seeded_database_url, oid) as lock:
                pending = asyncio.create_task(
                    client.send(
                        confirm_request(
                            action.action_id,
                            customer_id=cid,
                            session_id="sess-cut",
                            call_id=call_id,
                            timeout_s=60,
                        )
                    )
                )
                await wait_blocked(lock, "resend-a")
                await amqp_proxy.down()
            # the cancel commits and is answered while its caller is away: that answer is lost
            async with asyncio.timeout(30):
                while not await _recorded(sessionmaker, call_id):  # noqa: ASYNC110 - a commit in another process is no event we can await
                    await asyncio.sleep(0.05)
            assert not pending.done()
            await amqp_proxy.up()
            result = await pending
    finally:
        await connection.close()
    assert result.ok, result.error
    assert result.replayed and result.worker == "resend-a"
    assert (result.output or {})["result"]["status"] == "cancelled"
    async with sessionmaker() as s:
        cancellations = await s.scalar(
            select(func.count()).select_from(Cancellation).where(Cancellation.order_id == oid)
        )
    assert cancellations == 1


async def _recorded(sessions: Sessions, call_id: str) -> bool:
    """True once the call's effect row holds its answer (its transaction committed)."""
    async with sessions() as s:
        result = await s.scalar(select(ToolEffect.result).where(ToolEffect.call_id == call_id))
    return bool(result)


async def test_confirmed_answers_to_a_direct_reply_to_are_delivered_not_reported_gone(
    caplog: pytest.LogCaptureFixture,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    start_worker: StartWorker,
    namespace_of_test: str,
    clean_namespace: object,
) -> None:
    """With WORKER_REPLY_CONFIRMS=true an answer to a direct reply-to is confirmed first and
    still reaches the caller (the broker returns such answers when mandatory, so they are not)."""
    del clean_namespace
    caplog.set_level(logging.INFO, logger="switchboard.worker.consumer")
    await start_worker(
        SWITCHBOARD_NAMESPACE=namespace_of_test,
        WORKER_TOOLS=TOOL,
        WORKER_ID="confirming",
        WORKER_REPLY_CONFIRMS=True,
    )
    async with ToolClient(amqp_connection, Topology(namespace_of_test)) as client:
        assert client.reply_queue == "amq.rabbitmq.reply-to"
        result = await client.call(TOOL, {"order_id": 100001}, customer_id="cus_0001")
    assert result.ok and result.worker == "confirming"
    assert not any(r.getMessage() == "caller is gone; answer dropped" for r in caplog.records)


async def test_a_client_with_its_own_reply_queue_is_answered(
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
    start_worker: StartWorker,
    namespace_of_test: str,
    clean_namespace: object,
) -> None:
    """A client that asks for a reply queue of its own (and persistent requests) is answered on
    it, through the worker's confirmed channel."""
    del clean_namespace
    await start_worker(
        SWITCHBOARD_NAMESPACE=namespace_of_test, WORKER_TOOLS=TOOL, WORKER_ID="named-queue"
    )
    topology = Topology(namespace_of_test)
    async with ToolClient(
        amqp_connection, topology, direct_reply_to=False, persistent=True
    ) as client:
        assert not client.reply_queue.startswith("amq.rabbitmq.reply-to")
        result = await client.call(TOOL, {"order_id": 100001}, customer_id="cus_0001")
    assert result.ok and result.worker == "named-queue"
