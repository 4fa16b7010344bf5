"""The broker contract: deadlines, unknown tools, poison messages and the dead-letter queue."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.amqp import REASON_HEADER
from switchboard.contracts.tools import ToolCallRequest, ToolErrorCode
from switchboard.db.shop import Order, OrderStatus, ToolEffect
from switchboard.toolclient import ToolClient
from switchboard.worker.service import WorkerService
from tests.support.locks import order_locked
from tests.support.shop import ShopFactory
from tests.worker.actions import confirm_request, propose
from tests.worker.conftest import RawBroker

Sessions = async_sessionmaker[AsyncSession]


def _request(
    tool: str, arguments: dict[str, object], customer_id: str, *, seconds: float
) -> ToolCallRequest:
    return ToolCallRequest(
        call_id=f"call_{uuid.uuid4().hex}",
        session_id="sess-transport",
        customer_id=customer_id,
        tool=tool,
        arguments=arguments,
        deadline=datetime.now(UTC) + timedelta(seconds=seconds),
    )


async def test_an_expired_call_is_answered_timeout_without_running(
    raw_broker: RawBroker, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """A cancel whose deadline has passed is answered timeout and the order stays placed."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    request = _request("cancel_order", {"order_id": oid}, cid, seconds=-1)
    await raw_broker.publish(
        request.model_dump_json().encode(), "cancel_order", correlation_id=request.call_id
    )
    [reply] = await raw_broker.wait_replies(request.call_id)
    assert reply.error is not None and reply.error.code is ToolErrorCode.TIMEOUT
    assert reply.worker == "test-worker-shared"
    async with sessionmaker() as s:
        order = await s.get(Order, oid)
        effects = await s.scalar(
            select(func.count())
            .select_from(ToolEffect)
            .where(ToolEffect.call_id == request.call_id)
        )
    assert order is not None and order.status is OrderStatus.PLACED
    assert effects == 0


async def test_an_unknown_tool_on_a_served_queue_is_answered(raw_broker: RawBroker) -> None:
    """A request naming a tool this worker does not serve is answered unknown_tool."""
    request = _request("warp_drive", {}, "cus_0001", seconds=10)
    await raw_broker.publish(
        request.model_dump_json().encode(), "check_order_status", correlation_id=request.call_id
    )
    [reply] = await raw_broker.wait_replies(request.call_id)
    assert reply.error is not None and reply.error.code is ToolErrorCode.UNKNOWN_TOOL


async def test_unparseable_messages_go_to_the_dead_letter_queue(
    raw_broker: RawBroker, shared_worker: WorkerService
) -> None:
    """Garbage and schema-violating requests are dead-lettered with a reason, the caller is told,
    and the worker keeps serving."""
    garbage_id = f"poison-{uuid.uuid4().hex}"
    await raw_broker.publish(b"{not json", "check_order_status", correlation_id=garbage_id)
    bad = _request("check_order_status", {"order_id": 100001}, "cus_0001", seconds=10)
    doc = json.loads(bad.model_dump_json())
    del doc["customer_id"]
    await raw_broker.publish(
        json.dumps(doc).encode(), "check_order_status", correlation_id=bad.call_id
    )
    [garbage_reply] = await raw_broker.wait_replies(garbage_id)
    [bad_reply] = await raw_broker.wait_replies(bad.call_id)
    for reply in (garbage_reply, bad_reply):
        assert reply.error is not None and reply.error.code is ToolErrorCode.INVALID_ARGUMENTS
    garbage_letter = await raw_broker.dead_letter(garbage_id)
    bad_letter = await raw_broker.dead_letter(bad.call_id)
    assert garbage_letter.body == b"{not json"
    assert "unparseable" in str((garbage_letter.headers or {})[REASON_HEADER])
    assert "customer_id" in str((bad_letter.headers or {})[REASON_HEADER])
    # still serving
    ok = _request("check_order_status", {"order_id": 100001}, "cus_0001", seconds=10)
    await raw_broker.publish(
        ok.model_dump_json().encode(), "check_order_status", correlation_id=ok.call_id
    )
    [reply] = await raw_broker.wait_replies(ok.call_id)
    assert reply.ok
    assert (
        shared_worker.metrics.dead_letters.labels("unparseable tool call request")._value.get() >= 2
    )


async def test_a_request_without_reply_to_is_dead_lettered(raw_broker: RawBroker) -> None:
    """A request nobody can be answered for is kept in the dead-letter queue, not run."""
    request = _request("check_order_status", {"order_id": 100001}, "cus_0001", seconds=10)
    await raw_broker.publish(
        request.model_dump_json().encode(),
        "check_order_status",
        correlation_id=request.call_id,
        reply=False,
    )
    letter = await raw_broker.dead_letter(request.call_id)
    assert "reply_to" in str((letter.headers or {})[REASON_HEADER])
    assert request.call_id not in raw_broker.replies


async def test_a_deadline_passing_mid_call_is_a_timeout_and_leaves_nothing(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
    seeded_database_url: str,
) -> None:
    """A confirmed cancel stuck behind a row lock past its deadline is answered timeout, and
    its half-done transaction (claim included) is rolled back: the order stays placed."""
    del shared_worker
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    action = await propose(
        tool_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id="sess-late"
    )
    async with order_locked(seeded_database_url, oid):
        result = await tool_client.send(
            confirm_request(
                action.action_id, customer_id=cid, session_id="sess-late", timeout_s=1.0
            )
        )
    assert result.error is not None and result.error.code is ToolErrorCode.TIMEOUT
    async with sessionmaker() as s:
        order = await s.get(Order, oid)
        effects = await s.scalar(
            select(func.count()).select_from(ToolEffect).where(ToolEffect.call_id == result.call_id)
        )
    assert order is not None and order.status is OrderStatus.PLACED
    assert effects == 0
    # the same worker still serves the order normally afterwards: the action is still pending
    again = await tool_client.send(
        confirm_request(action.action_id, customer_id=cid, session_id="sess-late")
    )
    assert again.ok and (again.output or {})["result"]["status"] == "cancelled", again.error


async def test_an_answer_to_a_vanished_caller_is_dropped_and_the_call_acknowledged(
    caplog: pytest.LogCaptureFixture, raw_broker: RawBroker, shared_worker: WorkerService
) -> None:
    """When the caller's reply queue is gone, the answer is dropped (logged) and the request is
    still acknowledged, so it is not run again and again."""
    caplog.set_level(logging.INFO, logger="switchboard.worker.consumer")
    request = _request("check_order_status", {"order_id": 100001}, "cus_0001", seconds=10)
    before = shared_worker.metrics.redeliveries.labels("check_order_status")._value.get()
    await raw_broker.publish(
        request.model_dump_json().encode(),
        "check_order_status",
        correlation_id=request.call_id,
        reply_to=f"gone-{uuid.uuid4().hex}",
    )
    # a second call on the same queue, answered normally, shows the first was handled
    marker = _request("check_order_status", {"order_id": 100001}, "cus_0001", seconds=10)
    await raw_broker.publish(
        marker.model_dump_json().encode(), "check_order_status", correlation_id=marker.call_id
    )
    await raw_broker.wait_replies(marker.call_id)
    async with asyncio.timeout(10):
        while not any(  # noqa: ASYNC110 - waiting for a log record of a concurrent handler
            r.getMessage() == "caller is gone; answer dropped" for r in caplog.records
        ):
            await asyncio.sleep(0.02)
    assert shared_worker.metrics.redeliveries.labels("check_order_status")._value.get() == before
