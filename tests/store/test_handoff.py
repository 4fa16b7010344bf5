"""The handoff summary a transferred call's human agent reads: built from the audit trail and
served by the store's API to analysts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from switchboard.contracts.tools import GUEST_CUSTOMER_ID, VERIFY_CALLER_TOOL, Verification
from tests.store.conftest import ACCOUNTS, Publisher, WaitStored
from tests.store.factories import conversation

ANALYST = ("ana", ACCOUNTS["ana"][0])


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        yield client


async def test_handoff_summary_says_who_what_was_asked_and_what_the_tools_did(
    http: httpx.AsyncClient, publisher: Publisher, wait_stored: WaitStored, db: asyncpg.Pool
) -> None:
    """An escalated session's summary names the verified customer, the ticket and its reason,
    what the caller asked, each tool call with its outcome and what the caller heard (only the
    heard part of an interrupted answer); reading it is in the view log."""
    customer = f"cus_h_{uuid.uuid4().hex[:6]}"
    events = conversation(
        customer_id=customer,
        tool="escalate_to_human",
        arguments={"summary": "Parcel 100001 arrived damaged", "priority": "high"},
        output={"ticket_id": "TCK-1A2B", "priority": "high", "status": "open"},
        user_text="I want to speak to a person about my broken parcel",
        interrupted=True,
    )
    await publisher.publish(*events)
    sid = events[0].session_id
    await wait_stored(sid, len(events))

    response = await http.get(f"/api/sessions/{sid}/handoff", auth=ANALYST)
    assert response.status_code == 200
    doc = response.json()
    assert (doc["customer_id"], doc["verified"], doc["escalated"]) == (customer, True, True)
    assert doc["verification"] == "authenticated"  # a web session: the shop signed them in
    assert doc["ticket"]["ticket_id"] == "TCK-1A2B"
    assert doc["reason"] == "Parcel 100001 arrived damaged"
    assert doc["asked"] == ["I want to speak to a person about my broken parcel"]
    [tool] = doc["tools"]
    assert (tool["tool"], tool["outcome"]) == ("escalate_to_human", "ok")
    detail = (await http.get(f"/api/sessions/{sid}", auth=ANALYST)).json()
    [said] = [e for e in detail["timeline"] if e["kind"] == "assistant"]
    assert doc["answers"] == [said["heard_text"]] and len(said["heard_text"]) < len(said["text"])
    assert f"Caller: {customer} (authenticated)" in doc["text"]
    assert "Ticket TCK-1A2B, priority high: Parcel 100001 arrived damaged" in doc["text"]
    row = await db.fetchrow(
        "SELECT analyst FROM audit.view_log WHERE session_id = $1 AND action = 'handoff'", sid
    )
    assert row is not None and row["analyst"] == "ana"


@pytest.mark.parametrize(
    ("customer", "start", "tool", "output", "level"),
    [
        # a phone caller who proved the postal code on file
        (
            "cus_0001",
            Verification.UNVERIFIED,
            VERIFY_CALLER_TOOL,
            {"status": "verified"},
            "verified",
        ),
        # one who did not: caller ID alone can be spoofed
        (
            "cus_0001",
            Verification.UNVERIFIED,
            VERIFY_CALLER_TOOL,
            {"status": "failed"},
            "unverified",
        ),
        (
            "cus_0001",
            Verification.UNVERIFIED,
            "escalate_to_human",
            {"ticket_id": "T"},
            "unverified",
        ),
        # a number on no account
        (
            GUEST_CUSTOMER_ID,
            Verification.UNVERIFIED,
            "escalate_to_human",
            {"ticket_id": "T"},
            "unknown",
        ),
    ],
)
async def test_handoff_summary_says_how_sure_we_are_of_a_phone_caller(
    http: httpx.AsyncClient,
    publisher: Publisher,
    wait_stored: WaitStored,
    customer: str,
    start: Verification,
    tool: str,
    output: dict[str, str],
    level: str,
) -> None:
    """A phone call starts unverified: the summary says verified only after verify_caller
    answered verified, and never for a caller on no account."""
    events = conversation(
        customer_id=customer, verification=start, tool=tool, arguments={}, output=output
    )
    await publisher.publish(*events)
    sid = events[0].session_id
    await wait_stored(sid, len(events))
    doc = (await http.get(f"/api/sessions/{sid}/handoff", auth=ANALYST)).json()
    assert (doc["verification"], doc["verified"]) == (level, level == "verified")
    first = doc["text"].splitlines()[0]
    if level == "verified":
        assert first == f"Caller: {customer} (verified)"
    else:
        who = "unknown" if level == "unknown" else customer
        assert first == f"Caller: {who} ({level}, NOT verified: give no account data)"


async def test_handoff_summary_needs_credentials_and_a_session(http: httpx.AsyncClient) -> None:
    """Without credentials the summary is refused; an unknown session is a 404."""
    assert (await http.get("/api/sessions/sess_none/handoff")).status_code == 401
    missing = await http.get("/api/sessions/sess_none/handoff", auth=ANALYST)
    assert missing.status_code == 404
