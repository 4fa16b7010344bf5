"""Two-phase data-changing tools on the real Postgres and RabbitMQ: a proposal changes nothing,
only ``confirm_action`` in a later user turn, for the same customer and conversation, before
expiry, commits it, once (docs/worker.md#confirmations)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.cli.stack import Service
from switchboard.contracts.tools import (
    ToolErrorCode,
    Verification,
)
from switchboard.db.shop import (
    AccountChange,
    Cancellation,
    Customer,
    Order,
    OrderStatus,
    PendingActionStatus,
    SupportTicket,
    ToolEffect,
)
from switchboard.db.shop import PendingAction as PendingRow
from switchboard.toolclient import ToolClient
from switchboard.worker.registry import Registry, Tool, ToolArguments
from switchboard.worker.service import WorkerService
from switchboard.worker.tools import ALL_TOOLS, default_registry
from tests.support.locks import order_locked, wait_blocked
from tests.support.shop import ShopFactory
from tests.worker.actions import (
    ASK_ITEM,
    YES_ITEM,
    cancel_request,
    confirm_request,
    new_session,
    propose,
    refused,
    tool_request,
)
from tests.worker.conftest import SettingsFactory

Sessions = async_sessionmaker[AsyncSession]
StartProcess = Callable[..., Awaitable[Service]]

CONFIRMATION_TOOLS = {
    "cancel_order",
    "process_return",
    "update_shipping_address",
    "update_account_info",
    "schedule_callback",
}


async def _row(sessions: Sessions, action_id: str) -> PendingRow:
    async with sessions() as s:
        row = await s.get(PendingRow, action_id)
        assert row is not None
        return row


async def _count(sessions: Sessions, model: Any, **where: object) -> int:
    async with sessions() as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await s.scalar(query) or 0)


async def _status(sessions: Sessions, order_id: int) -> OrderStatus:
    async with sessions() as s:
        order = await s.get(Order, order_id)
        assert order is not None
        return OrderStatus(order.status)


async def _email(sessions: Sessions, customer_id: str) -> str:
    async with sessions() as s:
        customer = await s.get(Customer, customer_id)
        assert customer is not None
        return customer.email


# -- the registry and the catalog ----------------------------------------------------------------
def test_every_data_changing_tool_declares_its_phases() -> None:
    """The five data-changing tools run in two phases, escalate_to_human and the confirm and
    cancel tools are explicit one-phase exemptions, and the catalog says which is which."""
    entries = {e.name: e for e in default_registry().catalog()}
    assert {n for n, e in entries.items() if e.confirmation} == CONFIRMATION_TOOLS
    assert {"confirm_action", "cancel_action"} <= {t.name for t in ALL_TOOLS}
    for tool in ALL_TOOLS:
        if tool.mutating:
            assert tool.confirmation is not None, tool.name
    assert entries["escalate_to_human"].mutating and not entries["escalate_to_human"].confirmation
    assert entries["confirm_action"].parameters["required"] == ["action_id"]


def test_a_registry_refuses_an_undeclared_data_changing_tool() -> None:
    """A mutating tool that neither declares confirmation nor is exempt is refused, and so is
    a confirmation tool without a propose step."""

    async def handler(ctx: Any, args: Any) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="declare confirmation"):
        Registry([Tool("wipe", "Wipe.", ToolArguments, handler, mutating=True)])
    with pytest.raises(ValueError, match="propose"):
        Registry([Tool("wipe", "Wipe.", ToolArguments, handler, mutating=True, confirmation=True)])


def test_the_confirmation_ttl_setting_is_validated(make_settings: SettingsFactory) -> None:
    """WORKER_CONFIRMATION_TTL_S defaults to 300 s and refuses 0 and more than an hour."""
    assert make_settings().confirmation_ttl_s == 300
    assert make_settings(WORKER_CONFIRMATION_TTL_S="2.5").confirmation_ttl_s == 2.5
    for bad in ("0", "-1", "3601", "soon"):
        with pytest.raises(ValidationError):
            make_settings(WORKER_CONFIRMATION_TTL_S=bad)


# -- propose -------------------------------------------------------------------------------------
async def test_a_proposal_changes_nothing_and_is_recorded(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """cancel_order answers needs_confirmation with a read-back and changes; the order stays
    placed, and the pending action is recorded with its call, user turn and expiry."""
    del shared_worker
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    request = tool_request(
        "cancel_order",
        {"order_id": oid, "reason": "ordered twice"},
        customer_id=cid,
        session_id=session,
        user_item_id=ASK_ITEM,
    )
    before = datetime.now(UTC)
    result = await tool_client.send(request)
    assert result.ok, result.error
    out = result.output or {}
    assert out["status"] == "needs_confirmation" and out["tool"] == "cancel_order"
    assert out["action_id"].startswith("pa_")
    assert out["read_back"] == f"I'll cancel order {oid} (1 item, refund $79.99). Shall I go ahead?"
    assert out["changes"][0] == {
        "field": f"order {oid} status",
        "before": "placed",
        "after": "cancelled",
    }
    assert "confirm_action" in out["instructions"]
    assert await _status(sessionmaker, oid) is OrderStatus.PLACED
    assert await _count(sessionmaker, Cancellation, order_id=oid) == 0
    row = await _row(sessionmaker, out["action_id"])
    assert (row.customer_id, row.session_id, row.tool) == (cid, session, "cancel_order")
    assert row.status == PendingActionStatus.PENDING
    assert row.arguments == {"order_id": oid, "reason": "ordered twice"}
    assert (row.proposed_call_id, row.proposed_user_item_id) == (request.call_id, ASK_ITEM)
    assert row.read_back == out["read_back"] and row.decided_at is None
    assert timedelta(seconds=299) < row.expires_at - before < timedelta(seconds=302)
    assert await _count(sessionmaker, ToolEffect, call_id=request.call_id) == 1
    # the same proposal delivered again is the same pending action, not a second one
    again = await tool_client.send(request)
    assert again.replayed and again.output == out
    assert await _count(sessionmaker, PendingRow, proposed_call_id=request.call_id) == 1


async def test_a_refused_proposal_records_no_pending_action(
    call: Any, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """A proposal that breaks a business rule (a shipped order) is refused as before and leaves
    no pending action."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.SHIPPED, placed_days_ago=3)
    result = await call(
        "cancel_order",
        {"order_id": oid},
        customer_id=cid,
        session_id=new_session(),
        user_item_id="i1",
    )
    assert "can't be cancelled" in refused(result, ToolErrorCode.NOT_ALLOWED)
    assert await _count(sessionmaker, PendingRow, customer_id=cid) == 0


async def test_read_backs_of_each_tool(call: Any, shop: ShopFactory) -> None:
    """Each proposal reads back what would change and asks yes or no; an old e-mail is masked."""
    cid = await shop.customer(email="pat.smith@example.com")
    placed = await shop.order(cid, OrderStatus.PLACED)
    delivered = await shop.order(cid, OrderStatus.DELIVERED, placed_days_ago=6)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "update_account_info",
            {"field": "email", "value": "Jane.Doe@example.com"},
            "I'll change your e-mail from p…@example.com to jane.doe@example.com. Shall I go ahead?",
        ),
        (
            "update_account_info",
            {"field": "phone", "value": "206 555 0199"},
            "I'll change your phone number from the number ending 1111 to +12065550199. "
            "Shall I go ahead?",
        ),
        (
            "update_account_info",
            {"field": "preferred_language", "value": "Spanish"},
            "I'll change your language from English to Spanish. Shall I go ahead?",
        ),
        (
            "update_shipping_address",
            {
                "order_id": placed,
                "street": "500 Congress Avenue",
                "city": "Austin",
                "region": "TX",
                "postcode": "73301",
            },
            f"I'll change the shipping address of order {placed} to 500 Congress Avenue, Austin, "
            "TX 73301, US. Shall I go ahead?",
        ),
        (
            "schedule_callback",
            {"callback_time": "2026-11-02T10:30:00"},
            "I'll book a callback to the number ending 1111 on Monday, November 2 at 10:30 (UTC). "
            "Shall I go ahead?",
        ),
    ]
    for tool, arguments, said in cases:
        result = await call(
            tool, arguments, customer_id=cid, session_id=new_session(), user_item_id="i1"
        )
        assert result.ok, result.error
        assert (result.output or {})["read_back"] == said
    ret = await call(
        "process_return",
        {"order_id": delivered},
        customer_id=cid,
        session_id=new_session(),
        user_item_id="i1",
    )
    assert (ret.output or {})["read_back"].startswith(f"I'll start a return for order {delivered}")
    assert (ret.output or {})["read_back"].endswith("Shall I go ahead?")
    # nothing to change: a plain answer, no pending action
    same = await call(
        "update_account_info",
        {"field": "email", "value": "pat.smith@example.com"},
        customer_id=cid,
        session_id=new_session(),
        user_item_id="i1",
    )
    assert same.ok and (same.output or {}) == {
        "updated": "email",
        "value": "pat.smith@example.com",
        "changed": False,
    }


# -- confirm -------------------------------------------------------------------------------------
async def test_confirmed_in_a_later_turn_takes_effect_once(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """A yes in a later user turn cancels the order once; the audit row names the confirming
    call and user turn; a second confirmation with another call id changes nothing more."""
    del shared_worker
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    action = await propose(
        tool_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id=session
    )
    request = confirm_request(action.action_id, customer_id=cid, session_id=session)
    result = await tool_client.send(request)
    assert result.ok, result.error
    out = result.output or {}
    assert (out["status"], out["action_id"], out["tool"]) == (
        "confirmed",
        action.action_id,
        "cancel_order",
    )
    assert out["result"]["status"] == "cancelled" and out["result"]["refund"] == "$79.99"
    assert await _status(sessionmaker, oid) is OrderStatus.CANCELLED
    async with sessionmaker() as s:
        cancellation = await s.scalar(select(Cancellation).where(Cancellation.order_id == oid))
    assert cancellation is not None and cancellation.call_id == request.call_id
    row = await _row(sessionmaker, action.action_id)
    assert row.status == PendingActionStatus.CONFIRMED
    assert (row.decided_call_id, row.decided_user_item_id) == (request.call_id, YES_ITEM)
    assert row.decided_at is not None and row.result == out
    later = await tool_client.send(
        confirm_request(action.action_id, customer_id=cid, session_id=session, user_item_id="i3")
    )
    assert later.ok and later.output == out
    assert await _count(sessionmaker, Cancellation, order_id=oid) == 1
    assert (await _row(sessionmaker, action.action_id)).decided_call_id == request.call_id


async def test_a_confirmation_in_the_proposals_turn_is_refused(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """A confirmation whose latest user turn is the proposal's own (or that carries none) is
    awaiting_customer: the e-mail stays, the action stays pending and can be confirmed later."""
    del shared_worker
    cid = await shop.customer()
    email = await _email(sessionmaker, cid)
    session = new_session()
    action = await propose(
        tool_client,
        "update_account_info",
        {"field": "email", "value": f"new.{cid}@example.com"},
        customer_id=cid,
        session_id=session,
    )
    for item in (ASK_ITEM, None):
        result = await tool_client.send(
            confirm_request(
                action.action_id, customer_id=cid, session_id=session, user_item_id=item
            )
        )
        assert "not answered yet" in refused(result, ToolErrorCode.AWAITING_CUSTOMER)
    assert await _email(sessionmaker, cid) == email
    assert await _count(sessionmaker, AccountChange, customer_id=cid) == 0
    assert (await _row(sessionmaker, action.action_id)).status == PendingActionStatus.PENDING
    yes = await tool_client.send(
        confirm_request(action.action_id, customer_id=cid, session_id=session)
    )
    assert yes.ok, yes.error
    assert await _email(sessionmaker, cid) == f"new.{cid}@example.com"


async def test_an_expired_action_is_refused(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """Once expires_at has passed (moved back in Postgres) the confirmation is expired and the
    order stays placed."""
    del shared_worker
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    action = await propose(
        tool_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id=session
    )
    async with sessionmaker.begin() as s:
        await s.execute(
            update(PendingRow)
            .where(PendingRow.id == action.action_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    result = await tool_client.send(
        confirm_request(action.action_id, customer_id=cid, session_id=session)
    )
    assert "expired" in refused(result, ToolErrorCode.EXPIRED)
    assert await _status(sessionmaker, oid) is OrderStatus.PLACED
    assert await _count(sessionmaker, Cancellation, order_id=oid) == 0


async def test_a_short_ttl_expires_on_the_real_clock(
    start_worker: Any,
    shop: ShopFactory,
    sessionmaker: Sessions,
    proc_namespace: str,
    amqp_connection: Any,
) -> None:
    """With WORKER_CONFIRMATION_TTL_S=1, a yes given two seconds later is expired."""
    from switchboard.amqp import Topology

    await start_worker(
        SWITCHBOARD_NAMESPACE=proc_namespace,
        WORKER_ID="ttl-a",
        WORKER_CONFIRMATION_TTL_S=1,
        WORKER_TOOLS="cancel_order,confirm_action",
    )
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    async with ToolClient(amqp_connection, Topology(proc_namespace)) as client:
        action = await propose(
            client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id=session
        )
        assert action.expires_at - datetime.now(UTC) < timedelta(seconds=1.5)
        await asyncio.sleep(1.5)
        result = await client.send(
            confirm_request(action.action_id, customer_id=cid, session_id=session)
        )
    refused(result, ToolErrorCode.EXPIRED)
    assert await _status(sessionmaker, oid) is OrderStatus.PLACED


async def test_another_customers_or_sessions_action_is_not_found(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """Confirming or cancelling another customer's action, or one from another conversation,
    reads exactly like an unknown id, and changes nothing."""
    del shared_worker
    owner = await shop.customer()
    intruder = await shop.customer()
    oid = await shop.order(owner, OrderStatus.PLACED)
    session = new_session()
    action = await propose(
        tool_client, "cancel_order", {"order_id": oid}, customer_id=owner, session_id=session
    )
    unknown = refused(
        await tool_client.send(confirm_request("pa_nope", customer_id=owner, session_id=session)),
        ToolErrorCode.NOT_FOUND,
    )
    for request in (
        confirm_request(action.action_id, customer_id=intruder, session_id=session),
        confirm_request(action.action_id, customer_id=owner, session_id=new_session()),
        cancel_request(action.action_id, customer_id=intruder, session_id=session),
    ):
        assert refused(await tool_client.send(request), ToolErrorCode.NOT_FOUND) == unknown
    assert await _status(sessionmaker, oid) is OrderStatus.PLACED
    assert (await _row(sessionmaker, action.action_id)).status == PendingActionStatus.PENDING


async def test_cancel_then_confirm_is_not_allowed(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """A no closes the action (cancelled, decided by that call); a later yes to it is refused
    and the order stays placed."""
    del shared_worker
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    action = await propose(
        tool_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id=session
    )
    no = cancel_request(action.action_id, customer_id=cid, session_id=session)
    dropped = await tool_client.send(no)
    assert dropped.ok and dropped.output == {
        "status": "cancelled",
        "action_id": action.action_id,
        "tool": "cancel_order",
    }
    row = await _row(sessionmaker, action.action_id)
    assert row.status == PendingActionStatus.CANCELLED and row.decided_call_id == no.call_id
    result = await tool_client.send(
        confirm_request(action.action_id, customer_id=cid, session_id=session, user_item_id="i3")
    )
    assert "cancelled" in refused(result, ToolErrorCode.NOT_ALLOWED)
    assert await _status(sessionmaker, oid) is OrderStatus.PLACED
    assert await _count(sessionmaker, Cancellation, order_id=oid) == 0


async def test_two_confirmations_at_once_take_effect_once(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """Two confirm calls with different call ids at the same moment: the pending row's lock
    lets one commit; the other answers the same result; one cancellation."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    action = await propose(
        tool_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id=session
    )
    first = confirm_request(action.action_id, customer_id=cid, session_id=session)
    second = confirm_request(
        action.action_id, customer_id=cid, session_id=session, user_item_id="i3"
    )
    results = await asyncio.gather(
        shared_worker.executor.execute(first), shared_worker.executor.execute(second)
    )
    assert all(r.ok for r in results), results
    assert results[0].output == results[1].output
    assert await _count(sessionmaker, Cancellation, order_id=oid) == 1
    assert await _status(sessionmaker, oid) is OrderStatus.CANCELLED
    row = await _row(sessionmaker, action.action_id)
    assert row.decided_call_id in (first.call_id, second.call_id)


async def test_a_confirmation_replayed_after_a_worker_crash_takes_effect_once(
    worker_processes: StartProcess,
    proc_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
    seeded_database_url: str,
) -> None:
    """A worker SIGKILLed while committing a confirmation: the redelivered confirmation runs
    once on another worker, and the same call sent again replays the recorded answer."""
    slow = {"WORKER_TOOL_TIMEOUT_S": "60", "DATABASE_TIMEOUT_S": "15"}
    first = await worker_processes("confirm-kill-a", **slow)
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    action = await propose(
        proc_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id=session
    )
    request = confirm_request(action.action_id, customer_id=cid, session_id=session, timeout_s=60)
    async with order_locked(seeded_database_url, oid) as lock:
        pending = asyncio.create_task(proc_client.send(request))
        await wait_blocked(lock, "confirm-kill-a")  # pending row locked, waits on the order
        await worker_processes("confirm-kill-b", **slow)
        assert await asyncio.to_thread(first.kill) == -9
    result = await pending
    assert result.ok, result.error
    assert result.worker == "confirm-kill-b" and not result.replayed
    again = await proc_client.send(request)
    assert again.replayed and again.output == result.output
    assert await _count(sessionmaker, Cancellation, order_id=oid) == 1
    assert await _count(sessionmaker, ToolEffect, call_id=request.call_id) == 1
    row = await _row(sessionmaker, action.action_id)
    assert row.status == PendingActionStatus.CONFIRMED and row.decided_call_id == request.call_id


async def test_commit_rechecks_the_business_rules(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """An order that shipped between the proposal and the yes is not cancelled: the
    confirmation is refused as the tool would refuse it."""
    del shared_worker
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PACKED)
    session = new_session()
    action = await propose(
        tool_client, "cancel_order", {"order_id": oid}, customer_id=cid, session_id=session
    )
    async with sessionmaker.begin() as s:
        await s.execute(update(Order).where(Order.id == oid).values(status=OrderStatus.SHIPPED))
    result = await tool_client.send(
        confirm_request(action.action_id, customer_id=cid, session_id=session)
    )
    assert "can't be cancelled" in refused(result, ToolErrorCode.NOT_ALLOWED)
    assert await _status(sessionmaker, oid) is OrderStatus.SHIPPED
    assert await _count(sessionmaker, Cancellation, order_id=oid) == 0


# -- verification and superseding ----------------------------------------------------------------
async def test_an_unverified_caller_cannot_change_email_or_phone(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """An unverified caller's e-mail change is refused at the proposal; one proposed while
    verified is refused at the confirmation if the caller is unverified; an unverified
    language change is refused too; a verified caller's e-mail change goes through."""
    del shared_worker
    cid = await shop.customer()
    email = await _email(sessionmaker, cid)
    new = {"field": "email", "value": f"taken.over.{cid}@example.com"}
    session = new_session()
    proposal = await tool_client.send(
        tool_request(
            "update_account_info",
            new,
            customer_id=cid,
            session_id=session,
            user_item_id=ASK_ITEM,
            verification=Verification.UNVERIFIED,
        )
    )
    refused(proposal, ToolErrorCode.VERIFICATION_REQUIRED)
    assert await _count(sessionmaker, PendingRow, customer_id=cid) == 0
    action = await propose(
        tool_client,
        "update_account_info",
        new,
        customer_id=cid,
        session_id=session,
        verification=Verification.VERIFIED,
    )
    assert (await _row(sessionmaker, action.action_id)).verification == "verified"
    unverified = await tool_client.send(
        confirm_request(
            action.action_id,
            customer_id=cid,
            session_id=session,
            verification=Verification.UNVERIFIED,
        )
    )
    refused(unverified, ToolErrorCode.VERIFICATION_REQUIRED)
    assert await _email(sessionmaker, cid) == email
    # since issue 18 an unverified caller can change nothing at all (not even the language)
    language = await tool_client.send(
        tool_request(
            "update_account_info",
            {"field": "preferred_language", "value": "fr"},
            customer_id=cid,
            session_id=session,
            user_item_id=ASK_ITEM,
            verification=Verification.UNVERIFIED,
        )
    )
    refused(language, ToolErrorCode.VERIFICATION_REQUIRED)
    assert await _count(sessionmaker, PendingRow, customer_id=cid, tool="update_account_info") == 1
    action = await propose(
        tool_client,
        "update_account_info",
        new,
        customer_id=cid,
        session_id=session,
        verification=Verification.VERIFIED,
    )
    done = await tool_client.send(
        confirm_request(
            action.action_id,
            customer_id=cid,
            session_id=session,
            verification=Verification.VERIFIED,
        )
    )
    assert done.ok, done.error
    assert await _email(sessionmaker, cid) == new["value"]


async def test_a_new_proposal_supersedes_the_earlier_one(
    shared_worker: WorkerService,
    tool_client: ToolClient,
    shop: ShopFactory,
    sessionmaker: Sessions,
) -> None:
    """A second proposal in the same conversation supersedes the first: the first can no
    longer be confirmed, the second can; another conversation's action is untouched."""
    del shared_worker
    cid = await shop.customer()
    first_order = await shop.order(cid, OrderStatus.PLACED)
    second_order = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    elsewhere = await propose(
        tool_client,
        "cancel_order",
        {"order_id": second_order},
        customer_id=cid,
        session_id=new_session(),
    )
    first = await propose(
        tool_client, "cancel_order", {"order_id": first_order}, customer_id=cid, session_id=session
    )
    second = await propose(
        tool_client,
        "cancel_order",
        {"order_id": second_order},
        customer_id=cid,
        session_id=session,
        user_item_id="i2",
    )
    assert (await _row(sessionmaker, first.action_id)).status == PendingActionStatus.SUPERSEDED
    assert (await _row(sessionmaker, elsewhere.action_id)).status == PendingActionStatus.PENDING
    stale = await tool_client.send(
        confirm_request(first.action_id, customer_id=cid, session_id=session, user_item_id="i3")
    )
    assert "replaced" in refused(stale, ToolErrorCode.NOT_ALLOWED)
    assert await _status(sessionmaker, first_order) is OrderStatus.PLACED
    yes = await tool_client.send(
        confirm_request(second.action_id, customer_id=cid, session_id=session, user_item_id="i3")
    )
    assert yes.ok, yes.error
    assert await _status(sessionmaker, second_order) is OrderStatus.CANCELLED
    assert await _status(sessionmaker, first_order) is OrderStatus.PLACED


async def test_escalate_to_human_stays_one_phase(
    call: Any, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Asking for a person opens the ticket at once, with no pending action."""
    cid = await shop.customer()
    result = await call(
        "escalate_to_human",
        {"summary": "wants a person"},
        customer_id=cid,
        session_id=new_session(),
        user_item_id="i1",
    )
    assert result.ok and (result.output or {})["ticket_id"].startswith("TCK-")
    assert await _count(sessionmaker, SupportTicket, customer_id=cid) == 1
    assert await _count(sessionmaker, PendingRow, customer_id=cid) == 0


async def test_confirmations_are_counted_by_outcome(
    shared_worker: WorkerService, call: Any, shop: ShopFactory
) -> None:
    """switchboard_worker_confirmations_total counts proposals and each confirmation's
    outcome, replays not again."""
    counter = shared_worker.metrics.confirmations

    def seen(outcome: str) -> float:
        return float(counter.labels(outcome)._value.get())

    before = {o: seen(o) for o in ("proposed", "confirmed", "awaiting_customer")}
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    session = new_session()
    proposal = await call(
        "cancel_order", {"order_id": oid}, customer_id=cid, session_id=session, user_item_id="a"
    )
    action_id = (proposal.output or {})["action_id"]
    early = await call(
        "confirm_action", {"action_id": action_id}, customer_id=cid, session_id=session
    )
    refused(early, ToolErrorCode.AWAITING_CUSTOMER)
    yes_id = f"call_{uuid.uuid4().hex}"
    for _ in range(2):
        await call(
            "confirm_action",
            {"action_id": action_id},
            customer_id=cid,
            session_id=session,
            user_item_id="b",
            call_id=yes_id,
        )
    assert seen("proposed") - before["proposed"] == 1
    assert seen("awaiting_customer") - before["awaiting_customer"] == 1
    assert seen("confirmed") - before["confirmed"] == 1
