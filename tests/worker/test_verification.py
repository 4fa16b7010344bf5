"""Who is calling, enforced by the workers on the real Postgres and RabbitMQ: an unverified
caller's account tools answer verification_required, verify_caller checks the postal code (or
an order number and its ZIP), raises the level, and counts failures per conversation, once per
call id, refusing after three in a conversation and after ten on one account across its calls
within a day (docs/worker.md#who-is-calling)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.contracts.tools import (
    GUEST_CUSTOMER_ID,
    VERIFY_CALLER_TOOL,
    ToolErrorCode,
    Verification,
)
from switchboard.db.shop import CallerVerification, OrderStatus, SupportTicket
from switchboard.toolclient import ToolClient
from switchboard.worker.registry import Registry, Tool, ToolArguments
from switchboard.worker.service import WorkerService
from switchboard.worker.tools import ALL_TOOLS, default_registry
from switchboard.worker.tools.caller import ACCOUNT_LOCKED, postcode_matches
from tests.support.shop import ShopFactory
from tests.worker.actions import new_session, refused, tool_request

Sessions = async_sessionmaker[AsyncSession]
UNVERIFIED = Verification.UNVERIFIED

#: the tools an unverified caller may use: no account data in them
EXEMPT = {"get_product_info", "escalate_to_human", VERIFY_CALLER_TOOL}
#: what the factory's customers have on file
POSTCODE = "98101"


async def _attempts(sessions: Sessions, session_id: str) -> list[str]:
    async with sessions() as s:
        rows = await s.scalars(
            select(CallerVerification.outcome)
            .where(CallerVerification.session_id == session_id)
            .order_by(CallerVerification.created_at)
        )
        return list(rows)


def _account_calls(order_id: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("get_customer_info", {}),
        ("list_recent_orders", {}),
        ("check_order_status", {"order_id": order_id}),
        ("track_shipment", {"order_id": order_id}),
        ("cancel_order", {"order_id": order_id}),
        ("process_return", {"order_id": order_id}),
        ("update_account_info", {"field": "preferred_language", "value": "fr"}),
        ("confirm_action", {"action_id": "pa_x"}),
        ("cancel_action", {"action_id": "pa_x"}),
    ]


# -- the declaration ------------------------------------------------------------------------------
def test_every_tool_declares_whether_it_needs_a_verified_caller() -> None:
    """Each tool says whether it runs for an unverified caller; only the general ones, the
    transfer and verify_caller do, and the catalog carries it."""
    for tool in ALL_TOOLS:
        assert tool.verification_exempt is not None, tool.name
    entries = {e.name: e for e in default_registry().catalog()}
    assert {n for n, e in entries.items() if e.verification_exempt} == EXEMPT
    assert entries[VERIFY_CALLER_TOOL].mutating
    assert not entries[VERIFY_CALLER_TOOL].confirmation
    assert "postcode" in entries[VERIFY_CALLER_TOOL].parameters["required"]


def test_a_registry_refuses_a_tool_that_does_not_declare_it() -> None:
    """A tool without a verification_exempt declaration cannot be registered."""

    async def handler(ctx: Any, args: Any) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="verification_exempt"):
        Registry([Tool("peek", "Peek.", ToolArguments, handler)])


def test_postcodes_match_as_typed_or_said() -> None:
    """Keypad entries and spaced digits match; a ZIP+4 on file takes the five digits; an
    empty code on file matches nothing."""
    assert postcode_matches("9 8 1 0 1 #", "98101")
    assert postcode_matches("98101", "98101-1234")
    assert postcode_matches("sw1a 1aa", "SW1A 1AA")
    assert not postcode_matches("98102", "98101")
    assert not postcode_matches("", "98101")
    assert not postcode_matches("98101", "")


# -- refusals while unverified --------------------------------------------------------------------
async def test_account_tools_refuse_an_unverified_caller_and_run_once_verified(
    call: Any, shop: ShopFactory
) -> None:
    """Every account tool answers verification_required with a message asking for the postal
    code while the envelope says unverified; the same calls run once it says verified."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.DELIVERED, delivered_days_ago=2)
    session = new_session()
    for tool, args in _account_calls(oid):
        result = await call(
            tool, args, customer_id=cid, session_id=session, verification=UNVERIFIED
        )
        message = refused(result, ToolErrorCode.VERIFICATION_REQUIRED)
        assert "postal code" in message and "verify_caller" in message
        assert result.verification is None
    status = await call(
        "check_order_status",
        {"order_id": oid},
        customer_id=cid,
        session_id=session,
        verification=Verification.VERIFIED,
    )
    assert status.ok and (status.output or {})["status"] == "delivered"
    info = await call(
        "get_customer_info", customer_id=cid, session_id=session, verification=Verification.VERIFIED
    )
    assert info.ok and (info.output or {})["name"] == "Test Customer"


async def test_sessions_without_levels_are_untouched(call: Any, shop: ShopFactory) -> None:
    """verification None (a web session the shop authenticated) reads as before, and
    verify_caller there answers not_needed without raising any level."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    status = await call("check_order_status", {"order_id": oid}, customer_id=cid)
    assert status.ok and (status.output or {})["status"] == "placed"
    verify = await call(VERIFY_CALLER_TOOL, {"postcode": "00000"}, customer_id=cid)
    assert verify.ok and (verify.output or {})["status"] == "not_needed"
    assert verify.verification is None


async def test_exempt_tools_run_for_an_unverified_caller(
    call: Any, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Product questions and a transfer work unverified; an unverified caller's order number is
    not looked up or linked to the ticket, only passed on in its summary."""
    cid = await shop.customer()
    oid = await shop.order(cid, OrderStatus.PLACED)
    product = await call(
        "get_product_info", {"product_name": "earbuds"}, customer_id=cid, verification=UNVERIFIED
    )
    assert product.ok, product.error
    session = new_session()
    ticket = await call(
        "escalate_to_human",
        {"summary": "wants a person", "order_id": oid},
        customer_id=cid,
        session_id=session,
        verification=UNVERIFIED,
    )
    assert ticket.ok, ticket.error
    async with sessionmaker() as s:
        row = (
            await s.scalars(select(SupportTicket).where(SupportTicket.session_id == session))
        ).one()
    assert row.order_id is None and f"mentioned order {oid}" in row.summary


# -- verify_caller --------------------------------------------------------------------------------
async def test_verify_caller_verifies_by_postal_code(
    call: Any, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """The postal code on file, typed as keypad digits, answers verified with the result's
    verification set, and the attempt is recorded."""
    cid = await shop.customer()
    session = new_session()
    result = await call(
        VERIFY_CALLER_TOOL,
        {"postcode": "9 8 1 0 1 #"},
        customer_id=cid,
        session_id=session,
        verification=UNVERIFIED,
    )
    assert result.ok and (result.output or {})["status"] == "verified", result
    assert result.verification is Verification.VERIFIED
    assert await _attempts(sessionmaker, session) == ["verified"]
    again = await call(
        VERIFY_CALLER_TOOL,
        {"postcode": "1"},
        customer_id=cid,
        session_id=session,
        verification=Verification.VERIFIED,
    )
    assert again.ok and again.verification is Verification.VERIFIED
    assert await _attempts(sessionmaker, session) == ["verified"]


async def test_verify_caller_by_order_number_and_zip(call: Any, shop: ShopFactory) -> None:
    """An order of the caller's with its ZIP verifies; another customer's order with its own
    ZIP fails exactly like a wrong code."""
    cid = await shop.customer()
    other = await shop.customer()
    mine = await shop.order(cid, OrderStatus.PLACED)
    theirs = await shop.order(other, OrderStatus.PLACED)
    wrong = await call(
        VERIFY_CALLER_TOOL,
        {"postcode": POSTCODE, "order_id": theirs},
        customer_id=cid,
        session_id=new_session(),
        verification=UNVERIFIED,
    )
    assert wrong.ok and (wrong.output or {})["status"] == "failed"
    assert wrong.verification is None
    right = await call(
        VERIFY_CALLER_TOOL,
        {"postcode": POSTCODE, "order_id": mine},
        customer_id=cid,
        session_id=new_session(),
        verification=UNVERIFIED,
    )
    assert right.ok and right.verification is Verification.VERIFIED


async def test_three_failures_lock_the_conversation(
    shared_worker: WorkerService, call: Any, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Wrong codes answer failed with the attempts left (never the code on file); after the
    third, even the right code is refused with a message offering a transfer or goodbye;
    another conversation of the same customer is not affected."""
    counter = shared_worker.metrics.verifications

    def seen(outcome: str) -> float:
        return float(counter.labels(outcome)._value.get())

    before = {o: seen(o) for o in ("failed", "not_allowed", "verified")}
    cid = await shop.customer()
    session = new_session()
    for left in (2, 1, 0):
        result = await call(
            VERIFY_CALLER_TOOL,
            {"postcode": "12345"},
            customer_id=cid,
            session_id=session,
            verification=UNVERIFIED,
        )
        assert result.ok and result.verification is None
        output = result.output or {}
        assert output["status"] == "failed" and output["attempts_left"] == left
        assert POSTCODE not in str(output)
    assert "escalate_to_human" in str((result.output or {})["instructions"])
    locked = await call(
        VERIFY_CALLER_TOOL,
        {"postcode": POSTCODE},
        customer_id=cid,
        session_id=session,
        verification=UNVERIFIED,
    )
    message = refused(locked, ToolErrorCode.NOT_ALLOWED)
    assert "escalate_to_human" in message and "goodbye" in message
    assert locked.verification is None
    assert await _attempts(sessionmaker, session) == ["failed"] * 3
    fresh = await call(
        VERIFY_CALLER_TOOL,
        {"postcode": POSTCODE},
        customer_id=cid,
        session_id=new_session(),
        verification=UNVERIFIED,
    )
    assert fresh.ok and fresh.verification is Verification.VERIFIED
    assert seen("failed") == before["failed"] + 3
    assert seen("not_allowed") == before["not_allowed"] + 1
    assert seen("verified") == before["verified"] + 1


async def test_a_redelivered_attempt_counts_once(
    shared_worker: WorkerService, tool_client: ToolClient, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """The same call id sent again replays its answer and records no second failure, so the
    caller still has the attempts a single call leaves."""
    del shared_worker
    cid = await shop.customer()
    session = new_session()
    request = tool_request(
        VERIFY_CALLER_TOOL,
        {"postcode": "11111"},
        customer_id=cid,
        session_id=session,
        verification=UNVERIFIED,
    )
    first = await tool_client.send(request)
    second = await tool_client.send(request)
    assert not first.replayed and second.replayed
    assert (first.output or {})["attempts_left"] == (second.output or {})["attempts_left"] == 2
    assert await _attempts(sessionmaker, session) == ["failed"]
    async with sessionmaker() as s:
        count = await s.scalar(
            select(func.count())
            .select_from(CallerVerification)
            .where(CallerVerification.call_id == request.call_id)
        )
    assert count == 1


async def test_the_guest_can_never_be_verified(call: Any, sessionmaker: Sessions) -> None:
    """A call from a number on no account (bound to the guest) is refused account tools with a
    message offering general help or a transfer, cannot verify, and can open a ticket."""
    session = new_session()
    orders = await call(
        "list_recent_orders",
        customer_id=GUEST_CUSTOMER_ID,
        session_id=session,
        verification=UNVERIFIED,
    )
    assert "not on any customer account" in refused(orders, ToolErrorCode.VERIFICATION_REQUIRED)
    verify = await call(
        VERIFY_CALLER_TOOL,
        {"postcode": "0"},
        customer_id=GUEST_CUSTOMER_ID,
        session_id=session,
        verification=UNVERIFIED,
    )
    assert "escalate_to_human" in refused(verify, ToolErrorCode.NOT_ALLOWED)
    assert verify.verification is None
    ticket = await call(
        "escalate_to_human",
        {"summary": "unknown caller wants a person"},
        customer_id=GUEST_CUSTOMER_ID,
        session_id=session,
        verification=UNVERIFIED,
    )
    assert ticket.ok, ticket.error


async def test_concurrent_attempts_cannot_both_take_the_last_one(
    call: Any, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """With two failures recorded, two wrong attempts sent at once record one more failure:
    the other waits for the conversation's lock and is refused."""
    cid = await shop.customer()
    session = new_session()
    for _ in range(2):
        await call(
            VERIFY_CALLER_TOOL,
            {"postcode": "12345"},
            customer_id=cid,
            session_id=session,
            verification=UNVERIFIED,
        )
    both = await asyncio.gather(
        *(
            call(
                VERIFY_CALLER_TOOL,
                {"postcode": code},
                customer_id=cid,
                session_id=session,
                verification=UNVERIFIED,
            )
            for code in ("11111", "22222")
        )
    )
    assert sorted(r.ok for r in both) == [False, True]
    assert await _attempts(sessionmaker, session) == ["failed"] * 3


# -- across calls -------------------------------------------------------------------------------
async def _verify(call: Any, cid: str, session: str, postcode: str) -> Any:
    return await call(
        VERIFY_CALLER_TOOL,
        {"postcode": postcode},
        customer_id=cid,
        session_id=session,
        verification=UNVERIFIED,
    )


async def test_calling_again_does_not_buy_more_guesses(
    shared_worker: WorkerService, call: Any, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Ten failures on one account across conversations (three calls of three, then one) lock
    the account for every later call, even with the right code; the last failure already says
    no attempts are left; another customer is not affected."""
    assert shared_worker.settings.verify_account_failures == 10
    cid = await shop.customer()
    for _ in range(3):
        session = new_session()
        for _ in range(3):
            assert (await _verify(call, cid, session, "12345")).ok
    tenth = await _verify(call, cid, new_session(), "12345")
    output = tenth.output or {}
    assert output["status"] == "failed" and output["attempts_left"] == 0
    assert output["instructions"] == ACCOUNT_LOCKED
    later = await _verify(call, cid, new_session(), POSTCODE)
    message = refused(later, ToolErrorCode.NOT_ALLOWED)
    assert message == ACCOUNT_LOCKED and POSTCODE not in message
    assert later.verification is None
    other = await shop.customer()
    assert (await _verify(call, other, new_session(), POSTCODE)).verification is (
        Verification.VERIFIED
    )
    async with sessionmaker() as s:
        failed = await s.scalar(
            select(func.count())
            .select_from(CallerVerification)
            .where(CallerVerification.customer_id == cid, CallerVerification.outcome == "failed")
        )
    assert failed == 10


async def test_old_failures_and_a_success_start_the_count_again(
    call: Any, shop: ShopFactory, sessionmaker: Sessions
) -> None:
    """Failures older than the window (24 h) no longer count, and a successful verification
    starts the account's count again: what is left is what the conversation has."""
    cid = await shop.customer()
    for _ in range(3):
        session = new_session()
        for _ in range(3):
            await _verify(call, cid, session, "12345")
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(CallerVerification)
            .where(CallerVerification.customer_id == cid)
            .values(created_at=func.now() - func.make_interval(0, 0, 0, 1, 1))
        )
    session = new_session()
    aged = await _verify(call, cid, session, "12345")
    assert (aged.output or {})["attempts_left"] == 2
    for _ in range(8):  # 9 recent failures in all: without the success, 0 would be left
        await _verify(call, cid, new_session(), "12345")
    assert (await _verify(call, cid, new_session(), POSTCODE)).verification is (
        Verification.VERIFIED
    )
    after = await _verify(call, cid, new_session(), "12345")
    assert (after.output or {})["attempts_left"] == 2
