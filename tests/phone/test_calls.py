"""Phone calls end to end: the carrier simulator (Twilio's webhook, TwiML and media stream)
against the phone bridge in front of the real product (gateway, emulator speech, tool worker
on Postgres, conversation store)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
import websockets
from twilio.request_validator import RequestValidator

from switchboard.cli.phone_sim import PhoneCallOptions, PhoneCallResult, PhoneTurn, place_call
from switchboard.contracts.tools import GUEST_CUSTOMER_ID
from tests.support.phone import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    TRANSFER_TO,
    Caller,
    PhoneProduct,
    bridge_logs,
    bridge_metrics,
    caller_of,
    ended,
    entries,
    stored_sessions,
)
from tests.support.product import STORE_AUTH, order_status

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _call(
    phone: PhoneProduct, caller: Caller, turns: list[PhoneTurn], **kw: Any
) -> PhoneCallResult:
    options = PhoneCallOptions(
        bridge=phone.bridge,
        auth_token=AUTH_TOKEN,
        caller=kw.pop("number", caller.number),
        turns=turns,
        **kw,
    )
    return await place_call(options)


def _tools(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["tool"], e["outcome"]) for e in entries(doc, "tool")]


def _spoken(doc: dict[str, Any]) -> str:
    return " ".join(e["text"] or "" for e in entries(doc, "assistant")).lower()


async def test_a_known_caller_verifies_by_keypad_and_hears_an_order_status_from_postgres(
    phone: PhoneProduct, say: Any
) -> None:
    """A known caller's call starts unverified: asking aloud about an order and typing its
    number is answered verification_required and the bot asks for the postal code; typed on
    the keypad, verify_caller verifies it (µ-law both ways, no resampling) and the same lookup
    runs again and is answered with the order's real status from Postgres."""
    caller = await caller_of(phone.product.database_url, "cus_0001")
    status = await order_status(phone.product.database_url, 100001)
    result = await _call(
        phone,
        caller,
        [
            PhoneTurn("question", audio=say("What is the status of my order?")),
            PhoneTurn("order number", keys="100001#"),
            PhoneTurn("postal code", keys=f"{caller.postal_code}#"),
        ],
    )
    assert result.failure is None, result.failure
    assert "Thank you for calling" in result.said[0] and "postal code" not in result.said[0]
    assert result.outcome == "caller_hung_up"
    asked, verify, answer = result.answers
    assert asked.played_ms > 500 and verify.played_ms > 1000 and answer.played_ms > 1000
    assert answer.latency_ms is not None and result.marks_sent > 0 and result.clears == 0

    [doc] = await stored_sessions(
        phone, "cus_0001", until=lambda d: ended(d) and len(entries(d[0], "tool")) >= 3
    )
    typed = [e["text"] for e in entries(doc, "user")]
    assert "The caller pressed 1 0 0 0 0 1 # on the keypad." in typed
    assert f"The caller pressed {' '.join(caller.postal_code)} # on the keypad." in typed
    assert _tools(doc) == [
        ("check_order_status", "verification_required"),
        ("verify_caller", "ok"),
        ("check_order_status", "ok"),
    ]
    _, verified, looked_up = entries(doc, "tool")
    assert verified["output"]["status"] == "verified"
    assert looked_up["output"]["status"] == status
    assistant = [e["text"] or "" for e in entries(doc, "assistant")]
    assert "postal code" in assistant[1].lower()
    assert status.replace("_", " ") not in " ".join(assistant[:2]).lower()
    assert status.replace("_", " ") in assistant[-1].lower(), assistant


async def test_an_unknown_caller_is_refused_account_data_but_can_be_transferred(
    phone: PhoneProduct, say: Any
) -> None:
    """A number on no account is connected to the guest, unverified: an order lookup is
    refused (nothing about the order is said), and asking for a person still opens a ticket
    and moves the call to a human with <Dial>."""
    call_sid = f"CA{uuid.uuid4().hex}"
    result = await place_call(
        PhoneCallOptions(
            bridge=phone.bridge,
            auth_token=AUTH_TOKEN,
            caller="+15550009999",
            call_sid=call_sid,
            turns=[
                PhoneTurn("question", audio=say("What is the status of my order?")),
                PhoneTurn("order number", keys="100001#"),
                PhoneTurn("ask", audio=say("I want to talk to a human agent please.")),
            ],
            hang_up_after_s=60,  # a caller waits on the line; the transfer ends the stream
        )
    )
    update = await phone.twilio.wait_update(call_sid)
    assert result.failure is None, result.failure
    assert result.stream_parameters["binding"].startswith(f"{GUEST_CUSTOMER_ID}|")
    assert f"<Dial><Number>{TRANSFER_TO}</Number></Dial>" in update.form["Twiml"]
    [doc] = await stored_sessions(phone, GUEST_CUSTOMER_ID, until=ended)
    assert _tools(doc) == [
        ("check_order_status", "verification_required"),
        ("escalate_to_human", "ok"),
    ]
    status = await order_status(phone.product.database_url, 100001)
    assert status.replace("_", " ") not in _spoken(doc)


async def test_three_wrong_postal_codes_end_in_a_transfer_and_no_data(
    phone: PhoneProduct, say: Any
) -> None:
    """A known number whose caller types three wrong postal codes is asked again twice, then
    handed to a person (a ticket and <Dial>); the order is never looked up and nothing of the
    account is said. A forged stream binding is refused."""
    caller = await caller_of(phone.product.database_url, "cus_0005")
    call_sid = f"CA{uuid.uuid4().hex}"
    result = await _call(
        phone,
        caller,
        [
            PhoneTurn("question", audio=say("What is the status of my order?")),
            PhoneTurn("order number", keys="100001#"),
            *(PhoneTurn(f"code {n}", keys=f"{n}{n}{n}{n}{n}#") for n in (1, 2, 3)),
        ],
        call_sid=call_sid,
        hang_up_after_s=60,
    )
    update = await phone.twilio.wait_update(call_sid)
    assert result.failure is None, result.failure
    assert f"<Dial><Number>{TRANSFER_TO}</Number></Dial>" in update.form["Twiml"]
    [doc] = await stored_sessions(phone, "cus_0005", until=ended)
    assert _tools(doc) == [
        ("check_order_status", "verification_required"),
        *[("verify_caller", "ok")] * 3,
        ("escalate_to_human", "ok"),
    ]
    outcomes = [e["output"] for e in entries(doc, "tool") if e["tool"] == "verify_caller"]
    assert [(o["status"], o["attempts_left"]) for o in outcomes] == [
        ("failed", 2),
        ("failed", 1),
        ("failed", 0),
    ]
    spoken = _spoken(doc)
    assert "doesn't match" in spoken and "member of our team" in spoken
    assert caller.postal_code not in spoken
    status = await order_status(phone.product.database_url, 100001)
    assert status.replace("_", " ") not in spoken

    url = f"{phone.bridge.replace('http', 'ws', 1)}/twilio/media"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    async with websockets.connect(url, additional_headers={"X-Twilio-Signature": signature}) as ws:
        start = {
            "event": "start",
            "streamSid": "MZforged",
            "start": {
                "streamSid": "MZforged",
                "callSid": "CAforged",
                "customParameters": {"binding": "cus_0005|9999999999|forged"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
            },
        }
        await ws.send(json.dumps(start))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 30)
    metrics = await bridge_metrics(phone)
    assert 'switchboard_phone_webhooks_total{outcome="bad_binding",route="media"} 1.0' in metrics
    assert 'switchboard_phone_callers_total{caller="known"}' in metrics


async def test_bad_signatures_and_malformed_frames_are_refused_without_harming_calls(
    phone: PhoneProduct,
) -> None:
    """While a call runs with a malformed media frame in it, a webhook and a media stream with
    a bad signature are refused (403, handshake refused); the running call is unharmed and gets
    its answer, and the refusals are counted."""
    caller = await caller_of(phone.product.database_url, "cus_0002")
    good = asyncio.create_task(
        _call(
            phone,
            caller,
            [PhoneTurn("order number", keys="100004#")],
            corrupt_frame_at_s=0.5,
        )
    )
    forged = await place_call(
        PhoneCallOptions(
            bridge=phone.bridge,
            auth_token=AUTH_TOKEN,
            caller=caller.number,
            turns=[],
            bad_signature=True,
        )
    )
    assert (forged.outcome, forged.http_status) == ("refused", 403)
    url = f"{phone.bridge.replace('http', 'ws', 1)}/twilio/media"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers={"X-Twilio-Signature": "bogus"}):
            pass
    assert refused.value.response.status_code == 403
    result = await good
    assert result.failure is None, result.failure
    assert len(result.answers) == 1, (result.outcome, result.said, result.close_code)
    [answer] = result.answers
    assert answer.heard_whole_answer and answer.played_ms > 1000
    metrics = await bridge_metrics(phone)
    assert "switchboard_phone_refused_frames_total 1.0" in metrics
    assert 'switchboard_phone_webhooks_total{outcome="bad_signature",route="voice"} 1.0' in metrics
    assert 'switchboard_phone_webhooks_total{outcome="bad_signature",route="media"} 1.0' in metrics
    [doc] = await stored_sessions(phone, "cus_0002", until=ended)
    assert [e["text"] for e in entries(doc, "user")] == [
        "The caller pressed 1 0 0 0 0 4 # on the keypad."
    ]
    assert entries(doc, "assistant") and doc["session"]["missing_events"] == 0


async def test_barge_in_clears_playback_and_the_store_keeps_what_was_played(
    phone: PhoneProduct, say: Any
) -> None:
    """Talking over the bot clears the carrier's playback; the answer is truncated at the last
    mark the carrier echoed (never at what was sent), and the store's heard text and position
    are that one: no more than the caller was played."""
    caller = await caller_of(phone.product.database_url, "cus_0004")
    call_sid = f"CA{uuid.uuid4().hex}"
    result = await _call(
        phone,
        caller,
        [
            PhoneTurn("question", audio=say("What is the status of my order?"), barge_in_ms=500),
            PhoneTurn("stop", audio=say("Stop please.")),
        ],
        call_sid=call_sid,
    )
    assert result.failure is None, result.failure
    first = result.answers[0]
    assert result.clears >= 1 and first.cleared
    [cut] = bridge_logs(phone, "barge-in", call_sid)[:1]
    heard_ms = int(cut["heard_ms"])
    assert 0 < heard_ms <= first.played_ms < int(cut["sent_ms"])
    assert heard_ms % 100 == 0  # a mark boundary (PHONE_MARK_INTERVAL_MS)

    [doc] = await stored_sessions(
        phone,
        "cus_0004",
        until=lambda d: ended(d) and any(e["interrupted"] for e in entries(d[0], "assistant")),
    )
    [interrupted] = [e for e in entries(doc, "assistant") if e["interrupted"]]
    assert interrupted["heard_ms"] == heard_ms
    assert interrupted["heard_text"] and len(interrupted["heard_text"]) < len(interrupted["text"])
    assert doc["session"]["interruptions"] >= 1


async def test_escalation_moves_the_call_to_a_human_with_a_handoff_summary(
    phone: PhoneProduct, say: Any
) -> None:
    """Asking for a person opens a ticket; once the bot's answer has been played, the bridge
    updates the live call through Twilio's REST API with <Dial> to the configured number, and
    the store serves a handoff summary of the call for the agent."""
    caller = await caller_of(phone.product.database_url, "cus_0006")
    call_sid = f"CA{uuid.uuid4().hex}"
    result = await _call(
        phone,
        caller,
        [
            # escalation changes no customer data: it needs no yes (unlike a cancellation)
            PhoneTurn("ask", audio=say("I want to talk to a human agent about my broken blender.")),
        ],
        call_sid=call_sid,
        hang_up_after_s=60,  # a caller waits on the line; the transfer ends the stream
    )
    update = await phone.twilio.wait_update(call_sid)
    assert result.failure is None, result.failure
    assert result.outcome == "bridge_closed"
    assert update.account_sid == ACCOUNT_SID
    assert f"<Dial><Number>{TRANSFER_TO}</Number></Dial>" in update.form["Twiml"]
    [answer] = result.answers
    assert answer.heard_whole_answer  # told before being moved
    [moved] = bridge_logs(phone, "call transferred", call_sid)

    [doc] = await stored_sessions(phone, "cus_0006", until=ended)
    session_id = doc["session"]["id"]
    assert moved["handoff_summary"].endswith(f"/api/sessions/{session_id}/handoff")
    async with httpx.AsyncClient(base_url=phone.product.store, auth=STORE_AUTH) as http:
        handoff = (await http.get(f"/api/sessions/{session_id}/handoff")).json()
    assert handoff["escalated"] and handoff["customer_id"] == "cus_0006"
    # the caller asked for a person without proving who they are: the agent is told so
    assert (handoff["verification"], handoff["verified"]) == ("unverified", False)
    assert "NOT verified: give no account data" in handoff["text"]
    assert handoff["ticket"]["ticket_id"].startswith("TCK-")
    assert any("human" in text for text in handoff["asked"])


async def test_a_carrier_hang_up_during_a_tool_call_loses_no_event(
    phone: PhoneProduct, say: Any
) -> None:
    """The caller hangs up right after typing an order number (the lookup still running): the
    session ends as the client's close, every event is stored and no tool call is left
    without its outcome."""
    caller = await caller_of(phone.product.database_url, "cus_0003")
    result = await _call(
        phone,
        caller,
        [
            PhoneTurn("question", audio=say("What is the status of my order?")),
            PhoneTurn("order number", keys="100007#", wait_answer=False),
        ],
        hang_up_after_s=0.3,
    )
    assert result.failure is None, result.failure
    assert result.outcome == "caller_hung_up"
    [doc] = await stored_sessions(phone, "cus_0003", until=ended)
    assert doc["session"]["end_reason"] == "client_closed"
    assert doc["session"]["missing_events"] == 0
    assert "The caller pressed 1 0 0 0 0 7 # on the keypad." in [
        e["text"] for e in entries(doc, "user")
    ]
    assert all(e["outcome"] not in (None, "pending") for e in entries(doc, "tool"))


async def test_the_switchboard_phone_command_places_a_signed_call(phone: PhoneProduct) -> None:
    """``switchboard phone`` from an unknown number prints what the carrier was told to say and
    that the call was connected (unverified, to the guest) and ended; with a wrong auth token
    the bridge refuses it and it says so."""
    base = ["switchboard", "phone", "--bridge", phone.bridge, "--from", "+15550009998"]
    proc = await asyncio.create_subprocess_exec(
        *base, "--auth-token", AUTH_TOKEN, "--out", "-", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text
    assert "<Say> Thank you for calling." in text and "call ended: caller_hung_up" in text
    bad = await asyncio.create_subprocess_exec(
        *base,
        "--auth-token",
        "wrong",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await bad.communicate()
    assert bad.returncode == 1 and "webhook answered 403" in err.decode()
