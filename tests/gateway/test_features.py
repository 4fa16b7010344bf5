"""Display events for clients that ask for them, a spoken filler while a tool is slow (and a
model-readable error when it times out), and the Azure upstream kinds against the emulator."""

from __future__ import annotations

import json
from typing import Any

import websockets
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchboard.contracts.display import parse_display_event
from switchboard.db.shop import Cancellation, Order, OrderStatus
from tests.gateway.conftest import (
    EventCollector,
    GatewayFactory,
    RunningGateway,
    payloads,
    until_said,
)
from tests.support.emulator import Emulator
from tests.support.locks import order_locked, wait_blocked
from tests.support.realtime import user_says
from tests.support.shop import ShopFactory


async def test_display_events_only_for_clients_that_ask(gateway: RunningGateway) -> None:
    """With ?switchboard_events=1 the client also gets switchboard.session and tool cards (the
    tool's own output, no customer id); GA events stay valid for everyone."""
    key = await gateway.secret("cus_0001")
    async with websockets.connect(
        f"{gateway.ws}/v1/realtime?model=m&switchboard_events=1",
        additional_headers={"Authorization": f"Bearer {key}"},
    ) as ws:
        display: list[Any] = []

        async def until(kind: str) -> dict[str, Any]:
            while True:
                event = json.loads(await ws.recv())
                if event["type"].startswith("switchboard."):
                    display.append(parse_display_event(json.dumps(event)))
                if event["type"] == kind:
                    return event

        await until("session.created")
        await until("switchboard.session")
        assert display[0].customer_id == "cus_0001"
        await ws.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Track my order 100003 please"}],
                    },
                }
            )
        )
        await ws.send(json.dumps({"type": "response.create"}))
        await until("switchboard.tool.completed")
    started, completed = display[1], display[2]
    assert started.type == "switchboard.tool.started" and "100003" in started.summary
    assert completed.call_id == started.call_id and completed.tool == started.tool
    assert "cus_0001" not in json.dumps(completed.card or {})


async def test_slow_tool_gets_a_filler_then_a_readable_timeout(
    start_gateway: GatewayFactory,
    events: EventCollector,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded_database_url: str,
) -> None:
    """While a tool is stuck (its order row is locked) the bot says the filler after
    GATEWAY_FILLER_AFTER_S, and when the deadline passes it apologises with the tool's timeout
    message instead of hanging."""
    shop = ShopFactory(sessionmaker)
    customer = await shop.customer()
    order = await shop.order(customer, OrderStatus.PLACED)
    gateway = await start_gateway(GATEWAY_FILLER_AFTER_S=0.3, GATEWAY_TOOL_TIMEOUT_S=2.0)
    async with order_locked(seeded_database_url, order), gateway.sdk(customer) as log:
        await log.until("session.created")
        (session_id,) = gateway.gateway.sessions
        await user_says(log, f"Please cancel order {order} because I changed my mind")
        await until_said(log, "go ahead")  # the worker's read-back: nothing changed yet
        await log.until("response.done")
        await user_says(log, "Yes, please.")
        await until_said(log, "one moment please")
        await until_said(log, "did not answer in time")
    published = await events.until(session_id, "session.ended")
    proposal, completed = payloads(published, "tool.completed")
    assert proposal.tool == "cancel_order" and proposal.ok  # the proposal reads without locking
    assert completed.tool == "confirm_action" and completed.error_code == "timeout"
    assert completed.duration_ms >= 2000


async def test_a_call_in_flight_when_the_client_hangs_up_is_still_audited(
    start_gateway: GatewayFactory,
    events: EventCollector,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded_database_url: str,
) -> None:
    """The shopper hangs up while the worker is cancelling their order (committing the
    confirmed cancellation): the cancellation happens once, and the audit trail records its outcome before the session's end (the call
    is not cancelled with the conversation)."""
    shop = ShopFactory(sessionmaker)
    customer = await shop.customer()
    order = await shop.order(customer, OrderStatus.PLACED)
    gateway = await start_gateway(GATEWAY_FILLER_AFTER_S=0, GATEWAY_TOOL_TIMEOUT_S=20.0)
    # the client leaves first; the worker's transaction goes on once the lock is released after
    async with order_locked(seeded_database_url, order) as lock, gateway.sdk(customer) as log:
        await log.until("session.created")
        (session_id,) = gateway.gateway.sessions
        await user_says(log, f"Please cancel order {order} because I changed my mind")
        await until_said(log, "go ahead")
        await log.until("response.done")
        await user_says(log, "Yes, please.")
        await wait_blocked(lock, "gw-test-worker")  # the worker is mid-confirmation
    published = await events.until(session_id, "session.ended")
    kinds = [event.payload.type for event in published]
    completed = payloads(published, "tool.completed")
    assert [c.tool for c in completed] == ["cancel_order", "confirm_action"], kinds
    assert all(c.ok for c in completed), completed
    assert len(kinds) - 1 - kinds[::-1].index("tool.completed") < kinds.index("session.ended")
    async with sessionmaker() as db:
        row = await db.get(Order, order)
        cancellations = await db.scalar(
            select(func.count()).select_from(Cancellation).where(Cancellation.order_id == order)
        )
    assert row is not None and row.status is OrderStatus.CANCELLED
    assert cancellations == 1


async def test_azure_preview_upstream_speaks_ga_to_the_client(
    start_gateway: GatewayFactory, emulator: Emulator
) -> None:
    """Against the emulator's preview endpoint (Azure api-version dialect) the gateway maps the
    events both ways: the SDK client sees only valid GA events and the tool answer is spoken."""
    gateway = await start_gateway(
        UPSTREAM_KIND="azure-preview",
        UPSTREAM_URL=emulator.http,
        UPSTREAM_MODEL="gpt-4o-realtime-preview",
    )
    async with gateway.sdk("cus_0001") as log:
        session = (await log.until("session.created"))["session"]
        assert session["audio"]["output"]["voice"] == "shimmer"
        await user_says(log, "What is the status of order 100001?")
        assert "100001" in await until_said(log, "shipped")
        assert log.of("conversation.item.added")
        assert not any(e["type"].startswith("response.audio") for e in log.events)


async def test_azure_ga_upstream_with_an_entra_token(gw_settings: Any, emulator: Emulator) -> None:
    """UPSTREAM_AUTH=entra sends the token from the credential as a bearer token (the cloud is
    mocked by a token provider; the emulator accepts its key as a bearer token)."""
    from switchboard.gateway.upstream import UpstreamConnector

    calls: list[str] = []

    async def token() -> str:
        calls.append("token")
        return emulator.api_key

    settings = gw_settings(
        UPSTREAM_KIND="azure",
        UPSTREAM_URL=emulator.http,
        UPSTREAM_AUTH="entra",
        UPSTREAM_API_KEY="unused",
    )
    connector = UpstreamConnector(settings, token_provider=token)
    assert (
        connector.url
        == f"ws://{emulator.host}:{emulator.port}/openai/v1/realtime?model=gpt-realtime"
    )
    assert await connector.headers() == {"Authorization": f"Bearer {emulator.api_key}"}
    upstream = await connector.connect()
    try:
        ((event, _),) = await upstream.recv()
        assert event["type"] == "session.created"
    finally:
        await upstream.close()
    assert calls == ["token", "token"]
