"""SIGTERM on a phone bridge (a rolling update, a scale-in): the call in progress is not cut, new
calls are refused so the carrier tries elsewhere, and the process exits cleanly once the call
has ended. A bridge of its own, in front of the phone package's running product."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from switchboard.cli.phone_sim import PhoneCallOptions, PhoneTurn, place_call
from switchboard.cli.stack import Stack, free_port
from tests.support.phone import ACCOUNT_SID, AUTH_TOKEN, PhoneProduct, caller_of
from tests.support.product import SERVER_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _until_not_ready(http: httpx.AsyncClient, within_s: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while True:
        answer = await http.get("/readyz")
        if answer.status_code == 503 or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)


async def test_sigterm_lets_the_call_in_progress_finish_and_refuses_new_calls(
    phone: PhoneProduct, say: Any, tmp_path: Path
) -> None:
    caller = await caller_of(phone.product.database_url, "cus_0001")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack = Stack(
        base_env={
            "DATABASE_URL": phone.product.database_url,
            "SWITCHBOARD_ENV": "development",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
        },
        log_dir=tmp_path,
    )
    bridge = stack.add(
        "phone-drain",
        "switchboard-phone",
        env={
            "PHONE_PORT": str(port),
            "PHONE_GATEWAY_URL": phone.product.gateway,
            "PHONE_GATEWAY_SERVER_KEY": SERVER_KEY,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": phone.twilio.url,
            "PHONE_STORE_URL": phone.product.store,
            "ACS_ENABLED": "false",
            "PHONE_DRAIN_TIMEOUT_S": "120",  # longer than the call: the call must end it
        },
        health_url=f"{url}/readyz",
    )
    await stack.start(timeout_s=120)
    try:
        signalled = asyncio.Event()

        def on_event(who: str, what: str) -> None:
            # SIGTERM as the caller starts speaking: the answer is still to come
            if who == "caller" and what.startswith("speaks") and not signalled.is_set():
                assert bridge.process is not None
                bridge.process.send_signal(signal.SIGTERM)
                signalled.set()

        options = PhoneCallOptions(
            bridge=url,
            auth_token=AUTH_TOKEN,
            account_sid=ACCOUNT_SID,
            caller=caller.number,
            turns=[PhoneTurn("question", audio=say("What is the status of order 100001?"))],
            quiet_s=4.0,
            on_event=on_event,
        )
        call = asyncio.create_task(place_call(options))
        async with asyncio.timeout(120):
            await signalled.wait()
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            ready = await _until_not_ready(http)
            assert ready.status_code == 503 and ready.json()["draining"] is True, ready.text
            params = {"CallSid": "CA" + "2" * 32, "From": caller.number, "To": "+15550100000"}
            signature = RequestValidator(AUTH_TOKEN).compute_signature(
                f"{url}/twilio/voice", params
            )
            refused = await http.post(
                "/twilio/voice", data=params, headers={"X-Twilio-Signature": signature}
            )
            assert refused.status_code == 503 and refused.json()["code"] == "draining"
        assert bridge.running, "the bridge stopped while a call was in progress"
        result = await call
        assert result.failure is None, result.failure
        assert result.outcome == "caller_hung_up"
        [answer] = result.answers
        assert answer.played_ms > 1000 and answer.latency_ms is not None
        code = await asyncio.to_thread(bridge.process.wait, 60)  # type: ignore[union-attr]
        assert code == 0, bridge.log_tail()
        log = bridge.log_path.read_text()
        assert '"drained"' in log and "cutting calls" not in log
    finally:
        stack.stop()
