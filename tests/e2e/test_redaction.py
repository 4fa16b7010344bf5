"""Personal data through the whole product (issue 21): a caller who says a card number and
e-mail addresses leaves neither in any log of the stack, and the store keeps the conversation
redacted, while the tool worker still changed the address to the real one."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import asyncpg
import pytest

from switchboard.cli.call import CallOptions, Turn, run_call
from switchboard.cli.endpoint import gateway_endpoint
from tests.support.product import SERVER_KEY, Product

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CARD = "4111 1111 1111 1111"


def _has_card(text: str) -> bool:
    """The card's digits in any grouping (spaces, dashes, none)."""
    return "4111111111111111" in re.sub(r"[ -]", "", text)


async def _customer(product: Product) -> str:
    """A seeded customer no other end-to-end test uses."""
    url = product.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url)
    try:
        customer = await conn.fetchval(
            "SELECT id FROM shop.customer WHERE id > 'cus_0940' ORDER BY id LIMIT 1"
        )
    finally:
        await conn.close()
    assert customer is not None, "the seed has no customer above cus_0940"
    return str(customer)


async def _email_of(product: Product, customer: str) -> str:
    url = product.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SELECT email FROM shop.customer WHERE id=$1", customer))
    finally:
        await conn.close()


async def test_a_call_with_a_card_number_and_an_email_leaves_neither_in_logs_or_the_store(
    product: Product,
) -> None:
    """The caller gives a card number and an e-mail address, then has their address changed
    (the proposal and its yes): every log file of the stack is free of the card number and of
    both addresses, the store's transcript and tool calls hold only the markers, and the
    customer's address is the new one."""
    customer = await _customer(product)
    tag = uuid.uuid4().hex[:10]
    mine, new = f"kim.{tag}@example.org", f"kim.new.{tag}@example.net"
    endpoint = await gateway_endpoint(product.gateway, customer, server_key=SERVER_KEY)
    turns = [
        Turn("card", text=f"My card number is {CARD} and my email is {mine}."),
        Turn("ask", text=f"Please change my email to {new}"),
        Turn("yes", text="Yes."),
    ]
    result = await run_call(CallOptions(endpoint=endpoint, turns=turns))
    assert result.failure is None and result.state.errors == [], result.state.errors
    [proposal] = result.state.turns[1].tools
    assert (proposal.tool, proposal.ok) == ("update_account_info", True)
    [confirmation] = result.state.turns[2].tools
    assert (confirmation.tool, confirmation.ok) == ("confirm_action", True)
    assert await _email_of(product, customer) == new  # the worker had the real address

    session_id = result.state.session_id
    assert session_id is not None
    stored = await product.stored_session(
        session_id,
        until=lambda d: (
            d["session"]["ended_at"] is not None
            and len([e for e in d["timeline"] if e["kind"] == "tool"]) == 2
        ),
    )
    document = json.dumps(stored)
    assert mine not in document and new not in document and not _has_card(document)
    users = [e["text"] or "" for e in stored["timeline"] if e["kind"] == "user"]
    assert "[card]" in users[0] and "[email]" in users[0], users
    tools: list[dict[str, Any]] = [e for e in stored["timeline"] if e["kind"] == "tool"]
    assert tools[0]["tool"] == "update_account_info"
    assert "[email]" in json.dumps(tools[0]["arguments"]), tools[0]

    files = sorted(p for p in product.logs.rglob("*") if p.is_file())
    assert any(p.name.startswith("gateway") for p in files), files
    for path in files:
        text = path.read_text(errors="replace")
        for secret in (mine, new):
            assert secret not in text, f"{path.name} logs {secret}"
        assert not _has_card(text), f"{path.name} logs the card number"
