"""The phone bridge for the phone tests, added to the session's product stack (see
``tests.support.product``) the first time a phone test asks for it, with a local stand-in of
Twilio's REST API that records the bridge's call updates and a local stand-in of Azure
Communication Services (Call Automation REST API, its JWT keys, callbacks, media); and the
helpers the phone tests share (the store's sessions of a caller, the bridge's log records)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from switchboard.cli.acs_cloud import AcsCloud
from switchboard.cli.stack import free_port
from switchboard.redaction import EVERY_KIND
from tests.support.product import SERVER_KEY, STORE_AUTH, Product
from tests.support.twilio_standin import TwilioStandIn

__all__ = [
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "EVENTGRID_SECRET",
    "TRANSFER_TO",
    "Caller",
    "PhoneProduct",
    "bridge_logs",
    "bridge_metrics",
    "caller_of",
    "ended",
    "entries",
    "phone",
    "phone_bridge",
    "stored_sessions",
]

AUTH_TOKEN = "phone-test-auth-token"
ACCOUNT_SID = "AC" + "1" * 32
TRANSFER_TO = "+15550199000"
ACS_ACCESS_KEY = "cGhvbmUtdGVzdC1hY3MtYWNjZXNzLWtleQ=="
ACS_RESOURCE_ID = "7a1e0c9e-4f0b-4c6e-9d55-0000000acs42"
EVENTGRID_SECRET = "phone-test-eventgrid-secret"


@dataclass(frozen=True)
class PhoneProduct:
    """The product with the phone bridge in front of it; *since* is when the test began (the
    product is shared, so a test looks only at the sessions its own calls made)."""

    product: Product
    bridge: str
    twilio: TwilioStandIn
    acs: AcsCloud
    logs: Path
    since: datetime | None = None

    def bridge_log(self) -> str:
        return (self.logs / "phone.log").read_text(errors="replace")


@dataclass(frozen=True)
class Caller:
    customer_id: str
    number: str
    postal_code: str


@pytest.fixture(scope="session")
async def phone_bridge(product: Product) -> AsyncIterator[PhoneProduct]:
    """``switchboard-phone`` added to the session's product stack, with the Twilio and ACS
    stand-ins it calls (started once, when the first phone test needs it)."""
    twilio = await TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN).start()
    acs = await AcsCloud(access_key=ACS_ACCESS_KEY, resource_id=ACS_RESOURCE_ID).start()
    port = free_port()
    service = product.stack.add(
        "phone",
        "switchboard-phone",
        env={
            "PHONE_PORT": str(port),
            "PHONE_GATEWAY_URL": product.gateway,
            "PHONE_GATEWAY_SERVER_KEY": SERVER_KEY,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": twilio.url,
            "PHONE_TRANSFER_TO": TRANSFER_TO,
            "ACS_ENABLED": "true",
            "ACS_CONNECTION_STRING": acs.connection_string(),
            "ACS_RESOURCE_ID": ACS_RESOURCE_ID,
            "ACS_JWKS_URL": f"{acs.url}/calling/keys",
            "ACS_EVENTGRID_SECRET": EVENTGRID_SECRET,
            # ACS is asked to speak the prompts; the stand-in records them
            "ACS_COGNITIVE_SERVICES_ENDPOINT": "https://sim.cognitiveservices.azure.com/",
            "PHONE_STORE_URL": product.store,
            "PHONE_DTMF_PAUSE_S": "1.0",
            "PHONE_TRANSFER_GRACE_S": "120",  # a slow, shared machine must not cut the answer
        },
        health_url=f"http://127.0.0.1:{port}/readyz",
    )
    try:
        await product.stack.start(timeout_s=120)
        yield PhoneProduct(
            product=product,
            bridge=f"http://127.0.0.1:{port}",
            twilio=twilio,
            acs=acs,
            logs=product.logs,
        )
    finally:
        await asyncio.to_thread(service.terminate, grace_s=10.0)
        await twilio.stop()
        await acs.stop()


@pytest.fixture
def phone(phone_bridge: PhoneProduct) -> PhoneProduct:
    """The phone bridge, seen from one test (its sessions are those started from now on)."""
    return dataclasses.replace(phone_bridge, since=datetime.now(UTC))


async def caller_of(database_url: str, customer_id: str) -> Caller:
    """A seeded customer's number and postal code, for a caller who knows them."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        row = await conn.fetchrow(
            "SELECT phone, postal_code FROM shop.customer WHERE id = $1", customer_id
        )
    finally:
        await conn.close()
    assert row is not None
    return Caller(customer_id, str(row["phone"]), str(row["postal_code"]))


async def stored_sessions(
    phone: PhoneProduct, customer_id: str, *, until: Any, within_s: float = 40.0
) -> list[dict[str, Any]]:
    """The store's full sessions of *customer_id* started during this test, polled until
    ``until(sessions)`` holds."""
    assert phone.since is not None, "use the function-scoped phone fixture"
    params = {"customer_id": customer_id, "since": phone.since.isoformat()}
    last: Any = None
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(base_url=phone.product.store, auth=STORE_AUTH, timeout=10) as http:
        while time.monotonic() < deadline:
            listed = await http.get("/api/sessions", params=params)
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


def entries(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The timeline entries of a stored session of one *kind* (user, assistant, tool...)."""
    return [e for e in doc["timeline"] if e["kind"] == kind]


def ended(docs: list[dict[str, Any]]) -> bool:
    """Every one of these stored sessions has ended (and there is at least one)."""
    return bool(docs) and all(d["session"]["ended_at"] is not None for d in docs)


async def bridge_metrics(phone: PhoneProduct) -> str:
    """The bridge's Prometheus metrics page."""
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{phone.bridge}/metrics")).text


def bridge_logs(
    phone: PhoneProduct, msg: str, call_sid: str, *, key: str = "call_sid"
) -> list[dict[str, Any]]:
    """The bridge's JSON log records with message *msg* about the call *call_sid* (in the field
    *key*). The id is compared as the logs' redacting filter writes it: an ACS call connection
    id holds a UUID, whose all-digit groups can read as a phone number (``1234-4567-8901``)."""
    ids = {call_sid, EVERY_KIND.text(call_sid)}
    out = []
    for line in phone.bridge_log().splitlines():
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if doc.get("msg") == msg and doc.get(key) in ids:
                out.append(doc)
    return out
