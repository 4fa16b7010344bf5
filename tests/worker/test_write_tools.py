"""Mutating tools over RabbitMQ: each happy path with its effect in Postgres, and every refusal
(which changes nothing). Orders come from the factory, never from the shared demo data. The
two-phase tools go through ``commit`` (proposed, then confirmed in a later user turn); their
refusals come from the proposal (docs/worker.md#confirmations)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.contracts.tools import ToolCallResult, ToolErrorCode
from switchboard.db.shop import (
    AccountChange,
    AddressChange,
    Callback,
    Cancellation,
    Customer,
    Order,
    OrderStatus,
    ReturnRequest,
    SupportTicket,
    ToolEffect,
)
from tests.support.shop import EARBUDS, FINAL_SALE, ShopFactory

Call = Callable[..., Awaitable[ToolCallResult]]
Sessions = async_sessionmaker[AsyncSession]


def refused(result: ToolCallResult, code: ToolErrorCode, field: str | None = None) -> str:
    assert not result.ok and result.error is not None, result
    assert result.error.code is code, result.error
    if field is not None:
        assert result.error.field == field, result.error
    return result.error.message


async def _count(sessions: Sessions, model: type, **where: object) -> int:
    async with sessions() as s:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await s.scalar(query) or 0)


async def _order(sessions: Sessions, order_id: int) -> Order:
    async with sessions() as s:
        order = await s.get(Order, order_id)
        assert order is not None
        return order


# -- process_return ----------------------------------------------------------------------------
async def test_process_return_issues_a_label_and_refund_estimate(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """A delivered order inside its window gets a return id, label, instructions and refund."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.DELIVERED, placed_days_ago=6, products=((EARBUDS, 2),))
    result = await commit(
        "process_return", {"order_id": oid, "reason": "too small"}, customer_id=cid
    )
    assert result.ok, result.error
    out = result.output or {}
    assert out["return_id"].startswith("RET-")
    assert out["refund_estimate"] == "$159.98"
    assert out["label_url"].endswith("label.pdf") and "UPS" in out["instructions"]
    async with sessionmaker() as s:
        row = await s.scalar(select(ReturnRequest).where(ReturnRequest.order_id == oid))
    assert row is not None and row.id == out["return_id"] and row.call_id == result.call_id
    assert row.reason == "too small" and row.refund_estimate_cents == 15998
    # a second request (new call) for the same order is refused as already returned
    again = await commit("process_return", {"order_id": oid, "reason": "x" * 3}, customer_id=cid)
    assert "already been returned" in refused(again, ToolErrorCode.NOT_ALLOWED, "order_id")


async def test_process_return_refusals(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Not delivered, window closed, final sale and already returned are refused; nothing is
    written for any of them."""
    cid = await shop.customer()
    shipped = await shop.order(cid, OrderStatus.SHIPPED, placed_days_ago=2)
    late = await shop.order(cid, OrderStatus.DELIVERED, placed_days_ago=45, delivered_days_ago=40)
    final = await shop.order(
        cid, OrderStatus.DELIVERED, placed_days_ago=4, products=((FINAL_SALE, 1),)
    )
    returned = await shop.order(cid, OrderStatus.RETURNED, placed_days_ago=20)
    args = {"reason": "changed my mind"}
    msg = refused(
        await commit("process_return", {"order_id": shipped, **args}, customer_id=cid),
        ToolErrorCode.NOT_ALLOWED,
        "order_id",
    )
    assert "only delivered orders" in msg
    msg = refused(
        await commit("process_return", {"order_id": late, **args}, customer_id=cid),
        ToolErrorCode.NOT_ALLOWED,
    )
    assert "return window" in msg and "2026-10-22" in msg
    msg = refused(
        await commit("process_return", {"order_id": final, **args}, customer_id=cid),
        ToolErrorCode.NOT_ALLOWED,
    )
    assert "final sale" in msg
    msg = refused(
        await commit("process_return", {"order_id": returned, **args}, customer_id=cid),
        ToolErrorCode.NOT_ALLOWED,
    )
    assert "already been returned" in msg
    assert await _count(sessionmaker, ReturnRequest, customer_id=cid) == 0


async def test_process_return_reason_is_optional_but_validated(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Without a reason the return goes ahead ("not given"); an overlong reason is refused."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.DELIVERED, placed_days_ago=3)
    refused(
        await commit("process_return", {"order_id": oid, "reason": "x" * 501}, customer_id=cid),
        ToolErrorCode.INVALID_ARGUMENTS,
        "reason",
    )
    assert (await commit("process_return", {"order_id": oid}, customer_id=cid)).ok
    async with sessionmaker() as s:
        row = await s.scalar(select(ReturnRequest).where(ReturnRequest.order_id == oid))
    assert row is not None and row.reason == "not given"


# -- cancel_order ------------------------------------------------------------------------------
async def test_cancel_order_before_shipment(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """A placed order is cancelled with a full refund, recorded with the call id."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED, placed_days_ago=0.2)
    result = await commit(
        "cancel_order", {"order_id": oid, "reason": "ordered twice"}, customer_id=cid
    )
    assert result.ok, result.error
    assert (result.output or {})["status"] == "cancelled"
    assert (result.output or {})["refund"] == "$79.99"
    order = await _order(sessionmaker, oid)
    assert order.status is OrderStatus.CANCELLED and order.cancelled_at is not None
    async with sessionmaker() as s:
        row = await s.scalar(select(Cancellation).where(Cancellation.order_id == oid))
    assert row is not None and row.call_id == result.call_id and row.refund_cents == 7999
    msg = refused(
        await commit("cancel_order", {"order_id": oid}, customer_id=cid),
        ToolErrorCode.NOT_ALLOWED,
        "order_id",
    )
    assert "already cancelled" in msg


async def test_cancel_order_after_shipment_is_refused(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Shipped, out-for-delivery and delivered orders can't be cancelled and stay unchanged."""
    cid = await shop.customer()
    for status in (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED):
        oid = await shop.order(cid, status, placed_days_ago=3)
        msg = refused(
            await commit("cancel_order", {"order_id": oid}, customer_id=cid),
            ToolErrorCode.NOT_ALLOWED,
            "order_id",
        )
        assert "can't be cancelled" in msg
        assert (await _order(sessionmaker, oid)).status is status
    assert await _count(sessionmaker, Cancellation, customer_id=cid) == 0


async def test_cancel_another_customers_order_is_not_found(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Cancelling someone else's order reads like a missing order and changes nothing."""
    owner = await shop.customer()
    intruder = await shop.customer()
    oid = await shop.order(owner, OrderStatus.PLACED)
    result = await commit("cancel_order", {"order_id": oid}, customer_id=intruder)
    missing = await commit("cancel_order", {"order_id": 999999}, customer_id=intruder)
    assert result.error is not None and missing.error is not None
    assert result.error.code is ToolErrorCode.NOT_FOUND
    assert result.error.message == missing.error.message.replace("999999", str(oid))
    assert (await _order(sessionmaker, oid)).status is OrderStatus.PLACED


# -- update_shipping_address -------------------------------------------------------------------
ADDRESS = {
    "street": "500 Congress Avenue",
    "city": "Austin",
    "region": "tx",
    "postcode": "73301",
}


async def test_update_shipping_address_before_shipment(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """A packed order's address changes, with the old and new address recorded."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PACKED)
    result = await commit("update_shipping_address", {"order_id": oid, **ADDRESS}, customer_id=cid)
    assert result.ok, result.error
    assert (result.output or {})["shipping_address"] == "500 Congress Avenue, Austin, TX 73301, US"
    order = await _order(sessionmaker, oid)
    assert (order.ship_city, order.ship_region, order.ship_postal_code) == ("Austin", "TX", "73301")
    async with sessionmaker() as s:
        change = await s.scalar(select(AddressChange).where(AddressChange.order_id == oid))
    assert change is not None and change.old_address["city"] == "Seattle"
    assert change.new_address["city"] == "Austin"


async def test_update_shipping_address_refusals(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """A shipped order is refused; a bad ZIP or state is invalid_arguments naming the field."""
    cid = await shop.customer()
    shipped = await shop.order(cid, OrderStatus.SHIPPED, placed_days_ago=2)
    placed = await shop.order(cid, OrderStatus.PLACED)
    refused(
        await commit("update_shipping_address", {"order_id": shipped, **ADDRESS}, customer_id=cid),
        ToolErrorCode.NOT_ALLOWED,
        "order_id",
    )
    bad_zip = {**ADDRESS, "postcode": "7330"}
    refused(
        await commit("update_shipping_address", {"order_id": placed, **bad_zip}, customer_id=cid),
        ToolErrorCode.INVALID_ARGUMENTS,
        "postcode",
    )
    bad_state = {**ADDRESS, "region": "Texas"}
    refused(
        await commit("update_shipping_address", {"order_id": placed, **bad_state}, customer_id=cid),
        ToolErrorCode.INVALID_ARGUMENTS,
        "region",
    )
    assert (await _order(sessionmaker, placed)).ship_city == "Seattle"
    assert await _count(sessionmaker, AddressChange, customer_id=cid) == 0


# -- update_account_info -----------------------------------------------------------------------
async def test_update_account_info_email_phone_language(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Email, phone and language change after validation and normalisation, each recorded."""
    cid = await shop.customer()
    new_email = f"New.{cid}@Example.com"
    for field, value, stored in (
        ("email", new_email, new_email.lower()),
        ("phone", "(206) 555-0199", "+12065550199"),
        ("preferred_language", "Spanish", "es"),
    ):
        result = await commit(
            "update_account_info", {"field": field, "value": value}, customer_id=cid
        )
        assert result.ok, result.error
        assert (result.output or {}) == {"updated": field, "value": stored, "changed": True}
    async with sessionmaker() as s:
        customer = await s.get(Customer, cid)
    assert customer is not None
    assert (customer.email, customer.phone, customer.preferred_language) == (
        new_email.lower(),
        "+12065550199",
        "es",
    )
    assert await _count(sessionmaker, AccountChange, customer_id=cid) == 3


async def test_update_account_info_refusals(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Invalid email/phone/language and an email used by another account change nothing."""
    cid = await shop.customer()
    other = await shop.customer()
    for field, value in (
        ("email", "bob at example"),
        ("phone", "12"),
        ("preferred_language", "klingon"),
    ):
        refused(
            await commit("update_account_info", {"field": field, "value": value}, customer_id=cid),
            ToolErrorCode.INVALID_ARGUMENTS,
            "value",
        )
    refused(
        await commit("update_account_info", {"field": "name", "value": "Bob"}, customer_id=cid),
        ToolErrorCode.INVALID_ARGUMENTS,
        "field",
    )
    taken = await commit(
        "update_account_info", {"field": "email", "value": f"{other}@example.com"}, customer_id=cid
    )
    refused(taken, ToolErrorCode.NOT_ALLOWED, "value")
    assert other not in (taken.error.message if taken.error else "")
    assert await _count(sessionmaker, AccountChange, customer_id=cid) == 0


# -- schedule_callback -------------------------------------------------------------------------
async def test_schedule_callback_inside_business_hours(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """A weekday slot inside business hours is booked on the account's phone number."""
    cid = await shop.customer()
    result = await commit(
        "schedule_callback",
        {"callback_time": "2026-11-02T10:30:00", "reason": "billing question"},
        customer_id=cid,
    )
    assert result.ok, result.error
    out = result.output or {}
    assert out["scheduled_for"] == "2026-11-02T10:30+00:00"
    assert out["phone"] == "+15550001111"
    async with sessionmaker() as s:
        row = await s.scalar(select(Callback).where(Callback.customer_id == cid))
    assert row is not None and row.id == out["callback_id"] and row.topic == "billing question"


async def test_schedule_callback_refusals(
    commit: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Past, weekend, after-hours, too-far and unreadable times are refused, naming the field."""
    cid = await shop.customer()
    for when, words in (
        ("2026-10-30T10:00:00", "already passed"),
        ("2026-11-07T10:00:00", "business hours"),  # a Saturday
        ("2026-11-02T20:00:00", "business hours"),
        ("2026-12-30T10:00:00", "30 days ahead"),
        ("next blue moon", "datetime"),
    ):
        msg = refused(
            await commit("schedule_callback", {"callback_time": when}, customer_id=cid),
            ToolErrorCode.INVALID_ARGUMENTS,
            "callback_time",
        )
        assert words in msg, msg
    assert await _count(sessionmaker, Callback, customer_id=cid) == 0


# -- escalate_to_human -------------------------------------------------------------------------
async def test_escalate_to_human_opens_a_ticket(
    call: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """A ticket is opened with the summary, priority, order and the session id of the call."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.DELIVERED, placed_days_ago=3)
    result = await call(
        "escalate_to_human",
        {"summary": "Parcel arrived damaged", "priority": "high", "order_id": oid},
        customer_id=cid,
        session_id="sess-escalate",
    )
    assert result.ok, result.error
    out = result.output or {}
    assert out["ticket_id"].startswith("TCK-") and out["priority"] == "high"
    assert out["expected_response"] == "within 1 hour"
    async with sessionmaker() as s:
        ticket = await s.get(SupportTicket, out["ticket_id"])
    assert ticket is not None
    assert (ticket.customer_id, ticket.order_id, ticket.session_id) == (cid, oid, "sess-escalate")


async def test_escalate_to_human_refusals(
    call: Call, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Another customer's order, an unknown priority and an empty summary are refused."""
    cid = await shop.customer()
    other = await shop.customer()
    foreign = await shop.order(other, OrderStatus.PLACED)
    refused(
        await call("escalate_to_human", {"summary": "help", "order_id": foreign}, customer_id=cid),
        ToolErrorCode.NOT_FOUND,
        "order_id",
    )
    refused(
        await call("escalate_to_human", {"summary": "help", "priority": "asap"}, customer_id=cid),
        ToolErrorCode.INVALID_ARGUMENTS,
        "priority",
    )
    refused(
        await call("escalate_to_human", {"summary": ""}, customer_id=cid),
        ToolErrorCode.INVALID_ARGUMENTS,
        "summary",
    )
    assert await _count(sessionmaker, SupportTicket, customer_id=cid) == 0
    # refusals by a mutating tool are recorded, so a repeat gets the same answer
    assert await _count(sessionmaker, ToolEffect, customer_id=cid) >= 1
