"""Exactly-once effects: a repeated or concurrently duplicated call id changes nothing twice and
returns the original answer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.contracts.tools import ToolCallRequest, ToolErrorCode
from switchboard.db.shop import Cancellation, OrderStatus, SupportTicket, ToolEffect
from switchboard.toolclient import ToolClient
from switchboard.worker.service import WorkerService
from tests.support.shop import ShopFactory
from tests.worker.actions import confirm_request, propose
from tests.worker.conftest import RawBroker

Sessions = async_sessionmaker[AsyncSession]


def _request(tool: str, arguments: dict[str, object], customer_id: str) -> ToolCallRequest:
    return ToolCallRequest(
        call_id=f"call_{uuid.uuid4().hex}",
        session_id="sess-once",
        customer_id=customer_id,
        tool=tool,
        arguments=arguments,
        deadline=datetime.now(UTC) + timedelta(seconds=10),
    )


async def _effects(sessions: Sessions, call_id: str) -> int:
    async with sessions() as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(ToolEffect).where(ToolEffect.call_id == call_id)
            )
            or 0
        )


async def test_a_repeated_call_returns_the_recorded_result(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """Sending the same confirmation of a cancel twice cancels once; the second answer is the
    first one, marked replayed."""
    del shared_worker
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    action = await propose(
        tool_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id="sess-once"
    )
    request = confirm_request(action.action_id, customer_id=cid, session_id="sess-once")
    first = await tool_client.send(request)
    second = await tool_client.send(request)
    assert first.ok and not first.replayed
    assert second.ok and second.replayed
    assert second.output == first.output
    assert (first.output or {})["result"]["status"] == "cancelled"
    async with sessionmaker() as s:
        rows = await s.scalar(
            select(func.count()).select_from(Cancellation).where(Cancellation.order_id == oid)
        )
    assert rows == 1
    assert await _effects(sessionmaker, request.call_id) == 1


async def test_a_refusal_is_replayed_too(
    shared_worker: WorkerService, tool_client: ToolClient, shop: ShopFactory
) -> None:
    """A refused mutating call repeated with the same id gets the same refusal, replayed."""
    del shared_worker
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.SHIPPED, placed_days_ago=2)
    request = _request("cancel_order", {"order_id": oid}, cid)
    first = await tool_client.send(request)
    second = await tool_client.send(request)
    assert first.error is not None and first.error.code is ToolErrorCode.NOT_ALLOWED
    assert second.replayed and second.error == first.error


async def test_concurrent_duplicates_run_once(
    shared_worker: WorkerService, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Two executions of one call id at the same moment produce one ticket: one runs, the other
    waits on the claimed id and replays the committed answer."""
    cid = await shop.customer()
    request = _request("escalate_to_human", {"summary": "two at once"}, cid)
    results = await asyncio.gather(
        shared_worker.executor.execute(request), shared_worker.executor.execute(request)
    )
    assert all(r.ok for r in results)
    assert sorted(r.replayed for r in results) == [False, True]
    assert results[0].output == results[1].output
    async with sessionmaker() as s:
        tickets = await s.scalar(
            select(func.count()).select_from(SupportTicket).where(SupportTicket.customer_id == cid)
        )
    assert tickets == 1


async def test_duplicate_deliveries_through_the_broker_run_once(
    raw_broker: RawBroker, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """The same request published twice (a retrying gateway) is answered twice, effect once."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PACKED)
    request = _request("cancel_order", {"order_id": oid}, cid)
    body = request.model_dump_json().encode()
    await raw_broker.publish(body, "cancel_order", correlation_id=request.call_id)
    await raw_broker.publish(body, "cancel_order", correlation_id=request.call_id)
    replies = await raw_broker.wait_replies(request.call_id, 2)
    assert [r.ok for r in replies] == [True, True]
    assert sorted(r.replayed for r in replies) == [False, True]
    assert await _effects(sessionmaker, request.call_id) == 1


async def test_a_call_id_reused_by_another_customer_is_refused(
    shared_worker: WorkerService, shop: ShopFactory
) -> None:
    """A call id already used by one customer can't replay that customer's answer to another."""
    first_customer = await shop.customer()
    second_customer = await shop.customer()
    request = _request("escalate_to_human", {"summary": "mine"}, first_customer)
    assert (await shared_worker.executor.execute(request)).ok
    stolen = request.model_copy(update={"customer_id": second_customer})
    result = await shared_worker.executor.execute(stolen)
    assert result.error is not None and result.error.code is ToolErrorCode.NOT_ALLOWED
    assert result.output is None
