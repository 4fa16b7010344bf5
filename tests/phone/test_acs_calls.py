"""Phone calls over Azure Communication Services end to end: the ACS simulator (Event Grid,
a local stand-in of Call Automation with its JWTs and HMAC checks, the PCM 24 kHz media
websocket) against the phone bridge in front of the real product."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from switchboard.cli.phone_acs_sim import AcsCallOptions, place_acs_call
from switchboard.cli.phone_sim import PhoneTurn
from switchboard.contracts.tools import GUEST_CUSTOMER_ID
from switchboard.phone.identity import CallContext, seal_call_context
from switchboard.phone.settings import DEFAULT_GREETING
from tests.support.phone import (
    EVENTGRID_SECRET,
    TRANSFER_TO,
    PhoneProduct,
    bridge_logs,
    bridge_metrics,
    caller_of,
    ended,
    entries,
    stored_sessions,
)
from tests.support.product import STORE_AUTH

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _first_order(database_url: str, after: str) -> tuple[str, int, str]:
    """(customer, order id, status) of the first customer after *after* with an order."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        row = await conn.fetchrow(
            "SELECT o.customer_id, o.id, o.status FROM shop.customer_order o "
            "WHERE o.customer_id > $1 ORDER BY o.customer_id, o.id LIMIT 1",
            after,
        )
    finally:
        await conn.close()
    assert row is not None
    return str(row["customer_id"]), int(row["id"]), str(row["status"])


def _options(phone: PhoneProduct, caller: str, turns: list[PhoneTurn], **kw: Any) -> AcsCallOptions:
    return AcsCallOptions(
        bridge=phone.bridge, cloud=phone.acs, eventgrid_secret=EVENTGRID_SECRET, caller=caller,
        turns=turns, **kw,
    )  # fmt: skip


async def test_acs_caller_verifies_by_keypad_and_hears_the_order_status(
    phone: PhoneProduct, say: Any
) -> None:
    """An ACS call is answered unverified and streamed (bidirectional PCM 24 kHz) once
    connected; the caller asks aloud about an order and types its number (DtmfData), is asked
    for the postal code, mistypes it once, types it right, and hears the order's real status
    from Postgres."""
    customer, order_id, status = await _first_order(phone.product.database_url, "cus_0010")
    caller = await caller_of(phone.product.database_url, customer)
    result, call = await place_acs_call(
        _options(
            phone,
            caller.number,
            [
                PhoneTurn("question", audio=say("What is the status of my order?")),
                PhoneTurn("order number", keys=f"{order_id}#"),
                PhoneTurn("wrong code", keys="11111#"),
                PhoneTurn("postal code", keys=f"{caller.postal_code}#"),
            ],
            quiet_s=4.0,
            hang_up_after_s=1.0,
        )
    )
    assert result.failure is None, result.failure
    assert result.outcome == "caller_hung_up"
    actions = [
        r.action for r in phone.acs.requests if r.call_connection_id == call.call_connection_id
    ]
    # the greeting is played (Azure text to speech) before the conversation's audio starts
    assert actions == ["answer", "play", "startMediaStreaming"]
    assert call.prompts == [DEFAULT_GREETING] and result.said == [DEFAULT_GREETING]
    asked = result.answers[0]
    assert asked.played_ms > 500 and asked.latency_ms is not None and result.clears == 0

    [doc] = await stored_sessions(
        phone, customer, until=lambda d: ended(d) and len(entries(d[0], "tool")) >= 4
    )
    keypad = f"The caller pressed {' '.join(f'{order_id}#')} on the keypad."
    assert keypad in [e["text"] for e in entries(doc, "user")]
    assert [(e["tool"], e["outcome"]) for e in entries(doc, "tool")] == [
        ("check_order_status", "verification_required"),
        ("verify_caller", "ok"),
        ("verify_caller", "ok"),
        ("check_order_status", "ok"),
    ]
    tools = entries(doc, "tool")
    assert [t["output"]["status"] for t in tools[1:3]] == ["failed", "verified"]
    assert tools[-1]["output"]["status"] == status
    assistant = [e["text"] or "" for e in entries(doc, "assistant")]
    assert status.replace("_", " ") not in " ".join(assistant[:-1]).lower()
    assert status.replace("_", " ") in assistant[-1].lower(), assistant
    assert doc["session"]["missing_events"] == 0


async def test_acs_greeting_that_fails_to_play_still_connects_the_conversation(
    phone: PhoneProduct, say: Any
) -> None:
    """When ACS answers the greeting with PlayFailed (its Azure AI services resource could not
    speak it), the bridge logs why and starts the media stream anyway: the caller is answered."""
    customer, _, _ = await _first_order(phone.product.database_url, "cus_0030")
    caller = await caller_of(phone.product.database_url, customer)
    result, call = await place_acs_call(
        _options(
            phone,
            caller.number,
            [PhoneTurn("question", audio=say("Hello, are you there?"))],
            quiet_s=3.0,
            hang_up_after_s=1.0,
            play_fails=True,
        )
    )
    assert result.failure is None, result.failure
    actions = [
        r.action for r in phone.acs.requests if r.call_connection_id == call.call_connection_id
    ]
    assert actions == ["answer", "play", "startMediaStreaming"]
    assert result.answers and result.answers[0].played_ms > 0
    [failed] = bridge_logs(
        phone, "ACS greeting not played", call.call_connection_id, key="call_connection_id"
    )
    assert failed["result"]["subCode"] == 8565


async def test_acs_barge_in_sends_stop_audio_and_truncates_at_what_was_played(
    phone: PhoneProduct, say: Any
) -> None:
    """Talking over the bot on an ACS call sends StopAudio; the answer is truncated at the
    bridge's playback clock (a mark boundary, never more than was sent), which is within one
    mark interval of what the simulated ACS had actually played, and the store keeps that."""
    customer, _, _ = await _first_order(phone.product.database_url, "cus_0020")
    caller = await caller_of(phone.product.database_url, customer)
    result, call = await place_acs_call(
        _options(
            phone,
            caller.number,
            [
                PhoneTurn(
                    "question", audio=say("What is the status of my order?"), barge_in_ms=500
                ),
                PhoneTurn("stop", audio=say("Stop please.")),
            ],
            quiet_s=3.0,
        )
    )
    assert result.failure is None, result.failure
    first = result.answers[0]
    assert result.clears >= 1 and first.cleared
    [cut] = bridge_logs(phone, "barge-in", call.call_connection_id)[:1]
    heard_ms = int(cut["heard_ms"])
    assert 0 < heard_ms < int(cut["sent_ms"]) and heard_ms % 100 == 0
    assert heard_ms <= first.played_ms + 100

    [doc] = await stored_sessions(
        phone,
        customer,
        until=lambda d: ended(d) and any(e["interrupted"] for e in entries(d[0], "assistant")),
    )
    [interrupted] = [e for e in entries(doc, "assistant") if e["interrupted"]]
    assert interrupted["heard_ms"] == heard_ms
    assert interrupted["heard_text"] and len(interrupted["heard_text"]) < len(interrupted["text"])


async def test_acs_escalation_transfers_the_call_to_a_human(phone: PhoneProduct, say: Any) -> None:
    """Asking for a person on an ACS call opens a ticket; once the bot's answer has been played
    (by the playback clock), the bridge transfers the call connection to the configured number
    with Call Automation's transferToParticipant, ACS ends the media stream, and the store
    serves the handoff summary."""
    customer, _, _ = await _first_order(phone.product.database_url, "cus_0040")
    caller = await caller_of(phone.product.database_url, customer)
    result, call = await place_acs_call(
        _options(
            phone,
            caller.number,
            [
                # escalation changes no customer data: it needs no yes (unlike a cancellation)
                PhoneTurn(
                    "ask", audio=say("I want to talk to a human agent about my broken blender.")
                ),
            ],
            quiet_s=3.0,
            hang_up_after_s=60,  # a caller waits on the line; the transfer ends the stream
        )
    )
    assert result.failure is None, result.failure
    assert (result.outcome, result.dialed) == ("transferred", TRANSFER_TO)
    [transfer] = [
        r
        for r in phone.acs.requests
        if r.call_connection_id == call.call_connection_id and r.action == "transferToParticipant"
    ]
    assert transfer.body["targetParticipant"]["phoneNumber"]["value"] == TRANSFER_TO
    [moved] = bridge_logs(phone, "call transferred", call.call_connection_id)
    [doc] = await stored_sessions(phone, customer, until=ended)
    session_id = doc["session"]["id"]
    assert moved["handoff_summary"].endswith(f"/api/sessions/{session_id}/handoff")
    async with httpx.AsyncClient(base_url=phone.product.store, auth=STORE_AUTH) as http:
        handoff = (await http.get(f"/api/sessions/{session_id}/handoff")).json()
    assert handoff["escalated"] and handoff["customer_id"] == customer
    # the caller asked for a person without proving who they are: the agent is told so
    assert (handoff["verification"], handoff["verified"]) == ("unverified", False)
    assert "NOT verified: give no account data" in handoff["text"]


async def test_acs_requests_are_authenticated_and_an_unknown_caller_gets_no_account_data(
    phone: PhoneProduct, say: Any
) -> None:
    """The Event Grid handshake is answered; a wrong webhook secret, a callback or media
    connection without Call Automation's JWT, or with a context the bridge did not sign, are
    refused; an unknown number is answered for the guest: an order lookup is refused, asking
    for a person transfers the call."""
    async with httpx.AsyncClient(base_url=phone.bridge) as http:
        handshake = [
            {
                "id": str(uuid.uuid4()),
                "topic": "/subscriptions/x",
                "subject": "",
                "data": {"validationCode": "512d38b6-c7b8-40c8", "validationUrl": "https://x"},
                "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "eventTime": "2026-01-01T00:00:00Z",
                "metadataVersion": "1",
                "dataVersion": "1",
            }
        ]
        headers = {"aeg-event-type": "SubscriptionValidation"}
        ok = await http.post(
            "/acs/incoming", params={"secret": EVENTGRID_SECRET}, json=handshake, headers=headers
        )
        assert ok.json() == {"validationResponse": "512d38b6-c7b8-40c8"}
        bad = await http.post("/acs/incoming", params={"secret": "nope"}, json=handshake)
        assert bad.status_code == 403
        event = [{"type": "Microsoft.Communication.CallConnected", "data": {"correlationId": "c"}}]
        assert (await http.post("/acs/callbacks", json=event)).status_code == 401
        token = {"Authorization": f"Bearer {phone.acs.token()}"}
        forged = seal_call_context(b"x" * 32, CallContext("c", "+15550000000", "cus_0001", 2**40))
        refused = await http.post(
            "/acs/callbacks", params={"ctx": forged}, json=event, headers=token
        )
        assert refused.status_code == 403
    media = f"{phone.bridge.replace('http', 'ws', 1)}/acs/media?ctx={forged}"
    for headers in ({}, token):
        with pytest.raises(websockets.InvalidStatus) as closed:
            async with websockets.connect(media, additional_headers=headers):
                pass
        assert closed.value.response.status_code == 403

    unknown, call = await place_acs_call(
        _options(
            phone,
            "+15550009997",
            [
                PhoneTurn("question", audio=say("What is the status of my order?")),
                PhoneTurn("order number", keys="100001#"),
                PhoneTurn("ask", audio=say("I want to talk to a human agent please.")),
            ],
            quiet_s=3.0,
            hang_up_after_s=60,
        )
    )
    assert unknown.failure is None, unknown.failure
    assert (unknown.outcome, unknown.dialed) == ("transferred", TRANSFER_TO)
    actions = [
        r.action for r in phone.acs.requests if r.call_connection_id == call.call_connection_id
    ]
    assert actions == ["answer", "play", "startMediaStreaming", "transferToParticipant"]
    [doc] = await stored_sessions(phone, GUEST_CUSTOMER_ID, until=ended)
    assert [(e["tool"], e["outcome"]) for e in entries(doc, "tool")] == [
        ("check_order_status", "verification_required"),
        ("escalate_to_human", "ok"),
    ]
    metrics = await bridge_metrics(phone)
    assert (
        'switchboard_phone_webhooks_total{outcome="bad_secret",route="acs_incoming"} 1.0' in metrics
    )
    assert (
        'switchboard_phone_webhooks_total{outcome="bad_token",route="acs_callback"} 1.0' in metrics
    )
    assert 'switchboard_phone_webhooks_total{outcome="bad_token",route="acs_media"} 1.0' in metrics
    assert (
        'switchboard_phone_webhooks_total{outcome="bad_context",route="acs_media"} 1.0' in metrics
    )
