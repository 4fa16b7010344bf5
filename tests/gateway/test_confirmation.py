"""Whatever the model does, a change needs the customer's yes in a later turn (issue 23): a
scripted model proposes a cancellation and confirms it at once, back to back, with no word from
the customer in between. The real tool worker refuses, and the order stays as it was; the
customer's yes, typed afterwards, is what makes the change, once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import websockets
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.contracts.events import ConversationEvent
from switchboard.contracts.tools import CONFIRM_ACTION_TOOL, PendingAction
from switchboard.db.shop import Cancellation, Order, OrderStatus
from switchboard.db.shop import PendingAction as PendingRow
from tests.gateway.conftest import EventCollector, GatewayFactory, payloads
from tests.gateway.scripted import Call, ScriptedUpstream, scripted_upstream
from tests.support.shop import ShopFactory


@pytest.fixture
async def script() -> AsyncIterator[ScriptedUpstream]:
    async with scripted_upstream() as upstream:
        yield upstream


def confirm_what_was_proposed(upstream: ScriptedUpstream) -> list[Call]:
    """The model confirms the pending action it was just told about."""
    [pending] = [
        action
        for output in upstream.outputs.values()
        if (action := PendingAction.from_output(output)) is not None
    ]
    return [Call(CONFIRM_ACTION_TOOL, {"action_id": pending.action_id})]


async def completed_tools(
    events: EventCollector, session_id: str, count: int, *, within_s: float = 30
) -> list[ConversationEvent]:
    async with asyncio.timeout(within_s):
        while True:
            published = await events.until(session_id, "tool.completed", within_s=within_s)
            if len(payloads(published, "tool.completed")) >= count:
                return published
            await asyncio.sleep(0.05)


async def test_a_model_confirming_its_own_proposal_is_refused_and_nothing_changes(
    start_gateway: GatewayFactory,
    script: ScriptedUpstream,
    events: EventCollector,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    shop = ShopFactory(sessionmaker)
    customer = await shop.customer()
    order = await shop.order(customer, OrderStatus.PLACED)
    gateway = await start_gateway(UPSTREAM_URL=script.url, UPSTREAM_RECONNECT_ATTEMPTS=0)
    script.responses = [
        [Call("cancel_order", {"order_id": order, "reason": "ordered twice"})],
        confirm_what_was_proposed,  # after the customer's yes
    ]
    # right after the proposal's output, without a word from the customer: confirm it
    script.after_outputs = [confirm_what_was_proposed, [], []]
    key = await gateway.secret(customer)
    ws = await websockets.connect(
        f"{gateway.ws}/v1/realtime?model=m", additional_headers={"Authorization": f"Bearer {key}"}
    )
    async with ws:
        (session_id,) = gateway.gateway.sessions

        async def types(text: str) -> None:
            content = [{"type": "input_text", "text": text}]
            item = {"type": "message", "role": "user", "content": content}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            await ws.send(json.dumps({"type": "response.create"}))

        async def drain() -> None:  # the client reads what the gateway sends it
            async for _ in ws:
                pass

        reader = asyncio.create_task(drain())
        await types(f"Please cancel order {order}, I ordered it twice.")
        published = await completed_tools(events, session_id, 2)
        proposal, refusal = payloads(published, "tool.completed")
        assert (proposal.tool, proposal.ok) == ("cancel_order", True)
        assert (refusal.tool, refusal.ok) == (CONFIRM_ACTION_TOOL, False)
        assert refusal.error_code == "awaiting_customer"
        called = payloads(published, "tool.called")
        assert called[0].user_item_id == called[1].user_item_id == script.user_items[0]
        async with sessionmaker() as db:
            row = await db.get(Order, order)
            assert row is not None and row.status is OrderStatus.PLACED

        await types("Yes, please cancel it.")
        published = await completed_tools(events, session_id, 3)
        confirmed = payloads(published, "tool.completed")[2]
        assert (confirmed.tool, confirmed.ok) == (CONFIRM_ACTION_TOOL, True), confirmed
        assert confirmed.output is not None and confirmed.output["status"] == "confirmed"
        assert payloads(published, "tool.called")[2].user_item_id == script.user_items[1]
        reader.cancel()

    async with sessionmaker() as db:
        row = await db.get(Order, order)
        cancellations = await db.scalar(
            select(func.count()).select_from(Cancellation).where(Cancellation.order_id == order)
        )
        pending = (
            await db.scalars(select(PendingRow).where(PendingRow.session_id == session_id))
        ).one()
    assert row is not None and row.status is OrderStatus.CANCELLED
    assert cancellations == 1
    assert pending.status == "confirmed"
    assert pending.proposed_user_item_id == script.user_items[0]
    assert pending.decided_user_item_id == script.user_items[1]
