"""Limits: each ends the conversation with an ``error`` saying why and a close code, and the
audit trail records the reason."""

from __future__ import annotations

import asyncio
import base64

import pytest
from websockets.exceptions import ConnectionClosed

from tests.gateway.conftest import EventCollector, GatewayFactory, RunningGateway, payloads
from tests.support.realtime import ended_with


def only_session(gateway: RunningGateway) -> str:
    (session_id,) = gateway.gateway.sessions
    return session_id


def silence(ms: int) -> str:
    return base64.b64encode(b"\0\0" * 24 * ms).decode()


async def test_oversized_message(start_gateway: GatewayFactory, events: EventCollector) -> None:
    """A message above GATEWAY_MAX_MESSAGE_BYTES → message_too_large, close 1009."""
    gateway = await start_gateway(GATEWAY_MAX_MESSAGE_BYTES=4096)
    async with gateway.raw() as log:
        await log.until("session.created")
        session_id = only_session(gateway)
        await log.send({"type": "input_audio_buffer.append", "audio": silence(100)})  # 6.4 kB
        error, code = await ended_with(log)
    assert error["code"] == "message_too_large" and code == 1009
    ended = payloads(await events.until(session_id, "session.ended"), "session.ended")[0]
    assert ended.reason == "message_too_large"


async def test_audio_faster_than_allowed(start_gateway: GatewayFactory) -> None:
    """Audio beyond the allowed rate and burst → audio_rate_exceeded, close 4004."""
    gateway = await start_gateway(GATEWAY_MAX_AUDIO_RATE=1.0, GATEWAY_AUDIO_BURST_S=1.0)
    async with gateway.raw() as log:
        await log.until("session.created")
        for _ in range(30):  # 3 s of audio at once
            try:
                await log.send({"type": "input_audio_buffer.append", "audio": silence(100)})
            except ConnectionClosed:
                break
        error, code = await ended_with(log)
    assert error["code"] == "audio_rate_exceeded" and code == 4004


async def test_idle_conversation(start_gateway: GatewayFactory) -> None:
    """No client message and no response for GATEWAY_IDLE_TIMEOUT_S → idle_timeout, close 4000."""
    gateway = await start_gateway(GATEWAY_IDLE_TIMEOUT_S=0.5)
    async with gateway.raw() as log:
        await log.until("session.created")
        error, code = await ended_with(log)
    assert error["code"] == "idle_timeout" and code == 4000


async def test_maximum_duration(start_gateway: GatewayFactory) -> None:
    """A conversation older than GATEWAY_MAX_SESSION_S → session_expired, close 4001, even while
    the client keeps talking."""
    gateway = await start_gateway(GATEWAY_MAX_SESSION_S=1.0)
    async with gateway.raw() as log:
        await log.until("session.created")
        with pytest.raises(ConnectionClosed):
            while True:  # keep the session busy; the cap ends it anyway
                await log.send({"type": "input_audio_buffer.clear"})
                await log.until("input_audio_buffer.cleared")
        error = log.of("error")[-1]["error"]
        assert error["code"] == "session_expired"
        assert log.connection.close_code == 4001


async def test_concurrent_sessions_per_customer(start_gateway: GatewayFactory) -> None:
    """A customer over GATEWAY_MAX_SESSIONS_PER_CUSTOMER → too_many_sessions, close 4003; once
    the first conversation ends the customer can connect again."""
    gateway = await start_gateway(GATEWAY_MAX_SESSIONS_PER_CUSTOMER=1)
    async with gateway.raw("cus_0005") as first:
        await first.until("session.created")
        async with gateway.raw("cus_0005") as second:
            error, code = await ended_with(second)
        assert error["code"] == "too_many_sessions" and code == 4003
        async with gateway.raw("cus_0004") as other:
            await other.until("session.created")
    await asyncio.wait_for(gateway.gateway.no_sessions.wait(), 10)
    async with gateway.raw("cus_0005") as again:
        await again.until("session.created")
