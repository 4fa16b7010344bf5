"""No change to a customer's data without their yes (issue 23), through the whole product: the
gateway, the emulator's policy, a tool worker on Postgres and the conversation store. A
data-changing request only proposes; the change happens when the customer answers yes in a
later turn, once; a "no", or hanging up, changes nothing."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from switchboard.cli.call import CallOptions, Turn, run_call
from switchboard.cli.endpoint import gateway_endpoint
from tests.support.product import SERVER_KEY, Product

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _db(product: Product) -> asyncpg.Connection:
    url = product.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return await asyncpg.connect(url)


async def _placed_order(product: Product, customer_above: str) -> tuple[str, int]:
    """A customer (id above *customer_above*, so no other test's) and one of their orders that
    has not shipped and has no cancellation."""
    conn = await _db(product)
    try:
        row = await conn.fetchrow(
            """SELECT o.customer_id, o.id FROM shop.customer_order o
               WHERE o.status IN ('placed', 'packed') AND o.customer_id > $1
                 AND NOT EXISTS (SELECT 1 FROM shop.cancellation c WHERE c.order_id = o.id)
               ORDER BY o.customer_id, o.id LIMIT 1""",
            customer_above,
        )
    finally:
        await conn.close()
    assert row is not None, "the seed has no unshipped order for such a customer"
    return str(row["customer_id"]), int(row["id"])


async def _call(product: Product, customer: str, *texts: str) -> Any:
    endpoint = await gateway_endpoint(product.gateway, customer, server_key=SERVER_KEY)
    turns = [Turn(f"t{i}", text=text) for i, text in enumerate(texts)]
    result = await run_call(CallOptions(endpoint=endpoint, turns=turns))
    assert result.failure is None and result.state.errors == [], result.state.errors
    return result


async def test_a_cancellation_happens_once_after_the_yes_in_a_later_turn(product: Product) -> None:
    customer, order = await _placed_order(product, "cus_0900")
    result = await _call(
        product, customer, f"Please cancel order {order}, because I ordered it twice.", "Yes."
    )
    ask, yes = result.state.turns
    [proposal] = ask.tools
    assert (proposal.tool, proposal.ok) == ("cancel_order", True)
    assert proposal.card is not None and proposal.card["status"] == "needs_confirmation"
    action_id = proposal.card["action_id"]
    assert str(order) in " ".join(ask.bot_transcript)  # the read-back was said aloud
    [confirmation] = yes.tools
    assert (confirmation.tool, confirmation.ok) == ("confirm_action", True)
    assert confirmation.card is not None
    assert (confirmation.card["status"], confirmation.card["action_id"]) == ("confirmed", action_id)
    assert "cancel" in " ".join(yes.bot_transcript).lower()

    conn = await _db(product)
    try:
        status = await conn.fetchval("SELECT status FROM shop.customer_order WHERE id=$1", order)
        cancellations = await conn.fetch(
            "SELECT call_id FROM shop.cancellation WHERE order_id=$1", order
        )
        pending = await conn.fetchrow("SELECT * FROM shop.pending_action WHERE id=$1", action_id)
    finally:
        await conn.close()
    assert status == "cancelled"
    assert [c["call_id"] for c in cancellations] == [confirmation.call_id]
    # the audit of the decision: which call proposed it, which call and user turn confirmed it
    assert pending["status"] == "confirmed"
    assert pending["proposed_call_id"] == proposal.call_id
    assert pending["decided_call_id"] == confirmation.call_id
    assert pending["decided_user_item_id"] is not None
    assert pending["decided_user_item_id"] != pending["proposed_user_item_id"]

    # the store keeps both calls, each with the user turn it came after
    session_id = result.state.session_id
    stored = await product.stored_session(
        session_id,
        until=lambda d: len([e for e in d["timeline"] if e["kind"] == "tool"]) == 2,
    )
    tools = [e for e in stored["timeline"] if e["kind"] == "tool"]
    assert [t["tool"] for t in tools] == ["cancel_order", "confirm_action"]
    assert tools[1]["arguments"] == {"action_id": action_id}
    assert tools[1]["output"]["status"] == "confirmed"


async def test_one_sentence_changes_nothing_and_a_no_drops_the_change(product: Product) -> None:
    """The issue's first finding: one typed sentence asking for a new e-mail address changed it
    at once. Now it only proposes; hanging up leaves the address as it was, and so does a no."""
    customer, _ = await _placed_order(product, "cus_0910")
    conn = await _db(product)
    try:
        email = await conn.fetchval("SELECT email FROM shop.customer WHERE id=$1", customer)
    finally:
        await conn.close()
    new = f"jane.doe.{customer}@example.com"

    one = await _call(product, customer, f"Please change my email to {new}")
    [proposal] = one.state.turns[0].tools
    assert (proposal.tool, proposal.ok) == ("update_account_info", True)
    assert proposal.card is not None and proposal.card["status"] == "needs_confirmation"

    two = await _call(product, customer, f"Please change my email to {new}", "No, leave it.")
    [second_proposal] = two.state.turns[0].tools
    [refusal] = two.state.turns[1].tools
    assert (refusal.tool, refusal.ok) == ("cancel_action", True)
    assert second_proposal.card is not None

    conn = await _db(product)
    try:
        now = await conn.fetchval("SELECT email FROM shop.customer WHERE id=$1", customer)
        changes = await conn.fetchval(
            "SELECT count(*) FROM shop.account_change WHERE customer_id=$1", customer
        )
        states = {
            row["id"]: row["status"]
            for row in await conn.fetch(
                "SELECT id, status FROM shop.pending_action WHERE customer_id=$1", customer
            )
        }
    finally:
        await conn.close()
    assert now == email and changes == 0
    assert states[proposal.card["action_id"]] == "pending"  # never confirmed; it will expire
    assert states[second_proposal.card["action_id"]] == "cancelled"
