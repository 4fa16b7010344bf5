"""Phone calls end to end: the carrier simulator (Twilio's webhook, TwiML and media stream)
against the phone bridge in front of the real product (gateway, emulator speech, tool worker
on Postgres, conversation store)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from switchboard.cli.phone_sim import PhoneCallOptions, PhoneCallResult, PhoneTurn, place_call
from tests.e2e.conftest import STORE_AUTH
from tests.phone.conftest import AUTH_TOKEN, Caller, PhoneProduct, caller_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _status(database_url: str, order_id: int) -> str:
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        return str(
            await conn.fetchval("SELECT status FROM shop.customer_order WHERE id = $1", order_id)
        )
    finally:
        await conn.close()


async def stored_sessions(
    phone: PhoneProduct, customer_id: str, *, until: Any, within_s: float = 40.0
) -> list[dict[str, Any]]:
    """The store's full sessions of *customer_id*, polled until ``until(sessions)`` holds."""
    last: Any = None
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(base_url=phone.product.store, auth=STORE_AUTH, timeout=10) as http:
        while time.monotonic() < deadline:
            listed = await http.get("/api/sessions", params={"customer_id": customer_id})
            if listed.status_code == 200:
                docs = []
                for entry in listed.json()["sessions"]:
                    detail = await http.get(f"/api/sessions/{entry['id']}")
                    if detail.status_code == 200:
                        docs.append(detail.json())
                last = docs
                if until(docs):
                    return docs
            await asyncio.sleep(0.5)
    raise AssertionError(f"sessions of {customer_id} not as expected in the store: {last}")


def _entries(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in doc["timeline"] if e["kind"] == kind]


def _ended(docs: list[dict[str, Any]]) -> bool:
    return bool(docs) and all(d["session"]["ended_at"] is not None for d in docs)


async def _call(
    phone: PhoneProduct, caller: Caller, turns: list[PhoneTurn], **kw: Any
) -> PhoneCallResult:
    options = PhoneCallOptions(
        bridge=phone.bridge,
        auth_token=AUTH_TOKEN,
        caller=kw.pop("number", caller.number),
        turns=turns,
        gather_digits=kw.pop("gather", [caller.postal_code]),
        **kw,
    )
    return await place_call(options)


async def test_verified_caller_hears_an_order_status_from_postgres(
    phone: PhoneProduct, say: Any
) -> None:
    """A known caller types the postal code on file, asks aloud about an order, types its number
    on the keypad and hears the answer (µ-law, no resampling on the path); the store keeps the
    call, the keypad entry as text, and the order's real status from Postgres."""
    caller = await caller_of(phone.product.database_url, "cus_0001")
    status = await _status(phone.product.database_url, 100001)
    result = await _call(
        phone,
        caller,
        [
            PhoneTurn("question", audio=say("What is the status of my order?")),
            PhoneTurn("order number", keys="100001#"),
        ],
    )
    assert result.failure is None, result.failure
    assert "postal code" in result.said[0]
    assert result.outcome == "caller_hung_up"
    asked, answer = result.answers
    assert asked.played_ms > 500 and answer.played_ms > 1000 and answer.latency_ms is not None
    assert result.marks_sent > 0 and result.clears == 0

    [doc] = await stored_sessions(
        phone, "cus_0001", until=lambda d: _ended(d) and any(_entries(x, "assistant") for x in d)
    )
    heard = [(e["kind"], e.get("text"), e.get("tool")) for e in doc["timeline"]]
    assert "The caller pressed 1 0 0 0 0 1 # on the keypad." in [
        e["text"] for e in _entries(doc, "user")
    ], heard
    [tool] = _entries(doc, "tool")
    assert (tool["tool"], tool["outcome"]) == ("check_order_status", "ok")
    assert tool["output"]["status"] == status
    spoken = " ".join(e["text"] or "" for e in _entries(doc, "assistant")).lower()
    assert status.replace("_", " ") in spoken, heard
