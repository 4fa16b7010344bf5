"""The tool envelope says which user turn a call belongs to and how verified the caller is: a
scripted model calls a recording tool, and the test reads the envelopes the gateway put on the
broker and the ``tool.called`` audit events (whatever the real workers do with them)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.gateway.conftest import EventCollector, GatewayFactory, RunningGateway, payloads
from tests.gateway.scripted import (
    Call,
    ScriptedUpstream,
    ToolRecorder,
    scripted_upstream,
    tool_recorder,
)

TOOL = "record_turn"  # served by no real worker: only the recorder answers it


@pytest.fixture
async def script() -> AsyncIterator[ScriptedUpstream]:
    async with scripted_upstream() as upstream:
        yield upstream


@pytest.fixture
async def recorder(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, gw_namespace: str
) -> AsyncIterator[ToolRecorder]:
    async with tool_recorder(amqp_connection, gw_namespace, TOOL) as recorder:
        yield recorder


@pytest.fixture
async def scripted_gateway(
    start_gateway: GatewayFactory, script: ScriptedUpstream
) -> RunningGateway:
    return await start_gateway(UPSTREAM_URL=script.url, UPSTREAM_RECONNECT_ATTEMPTS=0)


async def connect(gateway: RunningGateway, **secret: Any) -> ClientConnection:
    key = await gateway.secret("cus_0001", **secret)
    ws = await websockets.connect(
        f"{gateway.ws}/v1/realtime?model=m", additional_headers={"Authorization": f"Bearer {key}"}
    )
    await until(ws, "session.created")
    return ws


async def until(ws: ClientConnection, kind: str, *, within_s: float = 20) -> dict[str, Any]:
    async with asyncio.timeout(within_s):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == kind:
                return dict(event)


async def types(ws: ClientConnection, text: str) -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))


async def turn(ws: ClientConnection, recorder: ToolRecorder, calls: int) -> None:
    """Ask for a response; wait until its *calls* reached the tool and the answer is done."""
    before = len(recorder.requests)
    await ws.send(json.dumps({"type": "response.create"}))
    await recorder.until(before + calls)
    await until(ws, "response.done")


async def test_calls_carry_the_user_turn_they_answer(
    scripted_gateway: RunningGateway,
    script: ScriptedUpstream,
    recorder: ToolRecorder,
    events: EventCollector,
) -> None:
    """Two calls of one response carry the same user item; a later typed or spoken user turn
    gives the next call a new one; a response the client asks for without a new turn (a model
    confirming back to back) carries the old one; the audit trail records the same ids."""
    script.responses = [
        [Call(TOOL, {"n": 1}), Call(TOOL, {"n": 2})],
        [Call(TOOL, {"n": 3})],
        [Call(TOOL, {"n": 4})],
        [Call(TOOL, {"n": 5})],
    ]
    ws = await connect(scripted_gateway)
    (session_id,) = scripted_gateway.gateway.sessions
    async with ws:
        await types(ws, "Please change my e-mail")
        await turn(ws, recorder, 2)
        await types(ws, "Yes, go ahead")
        await turn(ws, recorder, 1)
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))  # a spoken turn
        await turn(ws, recorder, 1)
        await turn(ws, recorder, 1)  # no new user turn
    typed1, typed2, spoken = script.user_items
    envelopes = {r.arguments["n"]: r for r in recorder.requests}
    assert [envelopes[n].user_item_id for n in (1, 2, 3, 4, 5)] == [
        typed1,
        typed1,
        typed2,
        spoken,
        spoken,
    ]
    assert all(
        r.session_id == session_id and r.customer_id == "cus_0001" for r in envelopes.values()
    )
    published = await events.until(session_id, "session.ended")
    called = {c.arguments["n"]: c.user_item_id for c in payloads(published, "tool.called")}
    assert called == {n: r.user_item_id for n, r in envelopes.items()}


@pytest.mark.parametrize("level", [None, "unverified", "verified"])
async def test_the_secrets_verification_level_reaches_every_call(
    scripted_gateway: RunningGateway,
    script: ScriptedUpstream,
    recorder: ToolRecorder,
    level: str | None,
) -> None:
    """The level the backend minted the secret with is in every envelope (None when it gave
    none: the backend authenticated the customer itself)."""
    script.responses = [[Call(TOOL, {})]]
    body = {} if level is None else {"verification": level}
    ws = await connect(scripted_gateway, **body)
    async with ws:
        await types(ws, "Hello")
        await turn(ws, recorder, 1)
    assert [r.verification for r in recorder.requests] == [level]


async def test_client_secrets_take_only_known_verification_levels(gateway: RunningGateway) -> None:
    """The answer repeats the level it stored; an unknown level is refused (422)."""
    import httpx

    from tests.gateway.conftest import SERVER_KEY

    headers = {"Authorization": f"Bearer {SERVER_KEY}"}
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        body = {"customer_id": "cus_0001", "verification": "verified"}
        answer = await http.post("/v1/realtime/client_secrets", json=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["verification"] == "verified"
        plain = await http.post(
            "/v1/realtime/client_secrets", json={"customer_id": "cus_0001"}, headers=headers
        )
        assert "verification" not in plain.json()
        body["verification"] = "trusted"
        refused = await http.post("/v1/realtime/client_secrets", json=body, headers=headers)
        assert refused.status_code == 422
