"""Resilience: the upstream dropped mid-answer or renewed before its cap, the broker gone for a
while, a conversation ended from outside. Outages are made with TCP proxies in front of the
emulator and RabbitMQ; the shared servers are never touched."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import via_proxy
from tests.gateway.conftest import (
    SERVER_KEY,
    EventCollector,
    GatewayFactory,
    payloads,
    until_said,
)
from tests.infra import InfraUrls
from tests.support.emulator import Emulator
from tests.support.proxy import TcpProxy
from tests.support.realtime import ended_with, user_says


@pytest.fixture
async def emulator_proxy(emulator: Emulator) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the test emulator."""
    proxy = TcpProxy(emulator.host, emulator.port)
    await proxy.up()
    yield proxy
    await proxy.down()


async def test_upstream_dropped_mid_answer_is_reconnected_and_the_answer_given(
    start_gateway: GatewayFactory, emulator_proxy: TcpProxy, events: EventCollector
) -> None:
    """Cutting the upstream while the answer is being spoken: the client is told that response
    ended, the gateway opens a new upstream session, replays the conversation (question, tool
    call and result) and the answer is spoken again; the conversation carries on."""
    gateway = await start_gateway(UPSTREAM_URL=f"ws://127.0.0.1:{emulator_proxy.port}")
    async with gateway.sdk("cus_0001") as log:
        await log.until("session.created")
        ((session_id, session),) = gateway.gateway.sessions.items()
        await user_says(log, "What is the status of order 100001?")
        first = await log.until("response.output_audio.delta", within_s=60)
        await emulator_proxy.down()  # cut every upstream connection...
        await emulator_proxy.up()  # ...and accept new ones
        cut = await log.until("response.done")
        assert cut["response"]["id"] == first["response_id"]
        assert cut["response"]["status"] == "failed"
        assert cut["response"]["status_details"]["error"]["code"] == "upstream_reconnected"
        assert "100001" in await until_said(log, "shipped")
        await log.until("response.done")
        assert session.upstream_swaps == 1
        await user_says(log, "And order 100003?")
        assert "100003" in await until_said(log, "100003")
    published = await events.until(session_id, "session.ended")
    assert payloads(published, "session.ended")[0].reason == "client_closed"
    assert len(payloads(published, "tool.called")) == 2, "the replay did not run the tool again"
    metrics = gateway.gateway.metrics.upstream_reconnects.labels("drop")._value.get()
    assert metrics == 1


async def test_caller_audio_during_an_upstream_outage_is_not_held_back(
    start_gateway: GatewayFactory, emulator_proxy: TcpProxy
) -> None:
    """A caller streaming at real-time pace while the upstream is being replaced for longer
    than the audio burst allowance: its audio is not held (which would leave the socket unread
    and let the backlog arrive at once, over the rate limit); it is dropped and counted, the
    conversation goes on once the upstream is back, and no audio_rate_exceeded ends it."""
    gateway = await start_gateway(
        UPSTREAM_URL=f"ws://127.0.0.1:{emulator_proxy.port}",
        UPSTREAM_RECONNECT_ATTEMPTS="20",
        UPSTREAM_RECONNECT_BACKOFF_S="0.2",
        GATEWAY_AUDIO_BURST_S="1.0",
    )
    chunk = base64.b64encode(b"\0\0" * 24 * 100).decode()  # 100 ms of silence
    async with gateway.sdk("cus_0001") as log:
        await log.until("session.created")
        ((_, session),) = gateway.gateway.sessions.items()
        await emulator_proxy.down()  # cut, and refuse new connections for a while
        loop = asyncio.get_running_loop()
        began = loop.time()
        for i in range(30):  # 3 s of audio at real-time pace, three times the burst allowed
            await log.send({"type": "input_audio_buffer.append", "audio": chunk})
            await asyncio.sleep(max(0.0, began + (i + 1) * 0.1 - loop.time()))
        await emulator_proxy.up()
        await asyncio.wait_for(session.wait_upstream_swaps(1), 30)
        await user_says(log, "What is the status of order 100001?")
        assert "100001" in await until_said(log, "shipped")
        codes = [e["error"].get("code") for e in log.of("error")]
        assert "audio_rate_exceeded" not in codes, codes
    assert gateway.gateway.metrics.audio_dropped._value.get() > 0


async def test_upstream_gone_for_good_ends_the_conversation_after_the_attempts(
    start_gateway: GatewayFactory, emulator_proxy: TcpProxy, events: EventCollector
) -> None:
    """An upstream that does not come back: UPSTREAM_RECONNECT_ATTEMPTS tries with backoff, then
    the client gets ``upstream_unavailable`` and close 1013 (try again later), and the session is
    recorded as ended with ``upstream_lost``."""
    gateway = await start_gateway(
        UPSTREAM_URL=f"ws://127.0.0.1:{emulator_proxy.port}",
        UPSTREAM_RECONNECT_ATTEMPTS="3",
        UPSTREAM_RECONNECT_BACKOFF_S="0.1",
    )
    async with gateway.raw() as log:
        await log.until("session.created")
        ((session_id, _session),) = gateway.gateway.sessions.items()
        await emulator_proxy.down()  # cut, and refuse every new connection from now on
        error, code = await ended_with(log)
    assert error["code"] == "upstream_unavailable"
    assert code == 1013
    published = await events.until(session_id, "session.ended")
    assert payloads(published, "session.ended")[0].reason == "upstream_lost"
    assert [e.code for e in payloads(published, "error")] == ["upstream_lost"]


async def test_upstream_session_is_renewed_before_its_cap_with_the_conversation(
    start_gateway: GatewayFactory,
) -> None:
    """With a short upstream cap the gateway moves the conversation to a new upstream session
    at a quiet moment; the new session holds the earlier items (same ids)."""
    gateway = await start_gateway(UPSTREAM_SESSION_CAP_S=2.0, UPSTREAM_RENEW_MARGIN_S=1.0)
    async with gateway.sdk("cus_0002") as log:
        await log.until("session.created")
        ((_, session),) = gateway.gateway.sessions.items()
        await user_says(log, "Hello there")
        await log.until("response.done", within_s=60)
        user_item = next(
            e["item"] for e in log.of("conversation.item.added") if e["item"]["role"] == "user"
        )
        await asyncio.wait_for(session.wait_upstream_swaps(1), 30)
        await log.send({"type": "conversation.item.retrieve", "item_id": user_item["id"]})
        retrieved = (await log.until("conversation.item.retrieved"))["item"]
        assert retrieved["content"][0]["text"] == "Hello there"
    assert gateway.gateway.metrics.upstream_reconnects.labels("renewal")._value.get() >= 1


async def test_broker_outage_fails_tools_fast_and_delivers_events_afterwards(
    start_gateway: GatewayFactory, amqp_proxy: TcpProxy, infra: InfraUrls, events: EventCollector
) -> None:
    """With the gateway's broker link cut, a tool call is answered 'unavailable' at once (the
    bot apologises instead of hanging) and the conversation's events wait; when the link
    returns every event is published, in order, with none missing."""
    gateway = await start_gateway(
        AMQP_URL=via_proxy(infra.amqp_url, amqp_proxy.port), GATEWAY_AMQP_RECONNECT_S=0.2
    )
    async with gateway.sdk("cus_0001") as log:
        await log.until("session.created")
        (session_id,) = gateway.gateway.sessions
        await amqp_proxy.down()
        async with asyncio.timeout(10):
            while gateway.gateway.broker.connected:  # noqa: ASYNC110 - no event says "link gone"
                await asyncio.sleep(0.02)
        started = time.monotonic()
        await user_says(log, "What is the status of order 100001?")
        await until_said(log, "unreachable")
        assert time.monotonic() - started < gateway.settings.tool_timeout_s
    assert len(gateway.gateway.publisher) > 0, "events wait while the broker is away"
    await amqp_proxy.up()
    published = await events.until(session_id, "session.ended", within_s=60)
    assert [e.seq for e in published] == list(range(len(published)))
    completed = payloads(published, "tool.completed")[0]
    assert not completed.ok and completed.error_code == "unavailable"


async def test_admin_ends_a_conversation_through_the_control_channel(
    start_gateway: GatewayFactory, events: EventCollector
) -> None:
    """POST /admin/sessions/{id}/end (server key) reaches the gateway holding the session over
    Redis: the client gets session_ended and close code 4002; unknown ids are 404."""
    gateway = await start_gateway()
    async with gateway.raw("cus_0004") as log:
        await log.until("session.created")
        (session_id,) = gateway.gateway.sessions
        async with httpx.AsyncClient(
            base_url=gateway.http, headers={"Authorization": f"Bearer {SERVER_KEY}"}
        ) as http:
            listed = (await http.get("/admin/sessions")).json()
            assert {"session_id": session_id, "customer_id": "cus_0004"}.items() <= next(
                s for s in listed if s["session_id"] == session_id
            ).items()
            assert (await http.post("/admin/sessions/sess_gw_nope/end")).status_code == 404
            ended = await http.post(f"/admin/sessions/{session_id}/end")
            assert ended.status_code == 202 and ended.json()["delivered"] >= 1
        error, code = await ended_with(log)
    assert error["code"] == "session_ended" and code == 4002
    published = await events.until(session_id, "session.ended")
    assert payloads(published, "session.ended")[0].reason == "admin"
