"""A phone bridge whose socket to the gateway is lost mid-call: the carrier call is held and the
conversation resumed (the caller hears the answers after the loss, the store has one session
with a ``session.resumed``), or, when the gateway cannot be reached again within
``PHONE_RESUME_WITHIN_S``, the call is ended cleanly. A bridge of its own, reaching the gateway
through a proxy that cuts the bridge's conversation socket (no close frame) at the first bot
audio it carries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from switchboard.cli.phone_sim import PhoneCallOptions, PhoneTurn, place_call
from switchboard.cli.stack import Stack, free_port
from tests.support.phone import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PhoneProduct,
    caller_of,
    ended,
    entries,
    stored_sessions,
)
from tests.support.product import SERVER_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: what a gateway socket carries once the bot speaks (frames from the server are not masked)
BOT_AUDIO = b'"response.output_audio.delta"'
RESUME_WITHIN_S = 5.0


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to the gateway. Armed (:meth:`cut_at`), it aborts the one
    connection whose gateway-to-bridge bytes first carry the marker (both sides, no close
    frame) and sets :attr:`cut`; with :attr:`refusing`, new connections are aborted at once
    (the gateway unreachable)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.cut = asyncio.Event()
        self.refusing = False
        self._marker: bytes | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def cut_at(self, marker: bytes) -> None:
        self.cut = asyncio.Event()
        self.refusing = False
        self._marker = marker

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        for src, dst, watch in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.create_task(self._pipe(src, dst, pair, watch=watch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
        *,
        watch: bool,
    ) -> None:
        tail = b""
        try:
            while data := await src.read(65536):
                if watch and self._marker is not None and self._marker in tail + data:
                    self._marker = None
                    for side in pair:
                        side.transport.abort()
                    self.cut.set()
                    return
                tail = data[-64:]
                dst.write(data)
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()


@dataclass(frozen=True)
class ResumingBridge:
    url: str
    proxy: CuttingProxy
    log: Path


@pytest.fixture(scope="module")
async def resuming_bridge(
    phone_bridge: PhoneProduct, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ResumingBridge]:
    """A phone bridge reaching the gateway through a :class:`CuttingProxy`."""
    gateway = urlsplit(phone_bridge.product.gateway)
    proxy = CuttingProxy(gateway.hostname or "127.0.0.1", gateway.port or 80)
    await proxy.start()
    port = free_port()
    logs = tmp_path_factory.mktemp("phone-resume")
    stack = Stack(
        base_env={
            "DATABASE_URL": phone_bridge.product.database_url,
            "SWITCHBOARD_ENV": "development",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
        },
        log_dir=logs,
    )
    bridge = stack.add(
        "phone-resume",
        "switchboard-phone",
        env={
            "PHONE_PORT": str(port),
            "PHONE_GATEWAY_URL": f"http://127.0.0.1:{proxy.port}",
            "PHONE_GATEWAY_SERVER_KEY": SERVER_KEY,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": phone_bridge.twilio.url,
            "PHONE_STORE_URL": phone_bridge.product.store,
            "ACS_ENABLED": "false",
            "PHONE_RESUME_WITHIN_S": str(RESUME_WITHIN_S),
            "PHONE_RESUME_ATTEMPTS": "3",
        },
        health_url=f"http://127.0.0.1:{port}/readyz",
    )
    await stack.start(timeout_s=120)
    try:
        yield ResumingBridge(f"http://127.0.0.1:{port}", proxy, bridge.log_path)
    finally:
        await asyncio.to_thread(stack.stop)
        await proxy.stop()


def _metric(page: str, name: str, outcome: str) -> float:
    prefix = f'{name}{{outcome="{outcome}"}} '
    for line in page.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


async def _metrics(bridge: ResumingBridge) -> str:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{bridge.url}/metrics")).text


def _logs(bridge: ResumingBridge, msg: str, call_sid: str) -> list[dict[str, Any]]:
    """The resuming bridge's JSON log records with message *msg* about the call *call_sid*."""
    out = []
    for line in bridge.log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if doc.get("msg") == msg and doc.get("call_sid") == call_sid:
                out.append(doc)
    return out


async def test_a_call_whose_gateway_socket_drops_mid_answer_resumes_in_the_same_conversation(
    phone: PhoneProduct, resuming_bridge: ResumingBridge, say: Any
) -> None:
    """The bridge's gateway socket is cut (no close frame) as the first answer starts: the
    call stays up, the conversation resumes on a new socket, the caller hears that answer
    whole and the next one, and the store has one session with a session.resumed."""
    bridge = resuming_bridge
    caller = await caller_of(phone.product.database_url, "cus_0001")
    before = _metric(await _metrics(bridge), "switchboard_phone_resumes_total", "resumed")
    bridge.proxy.cut_at(BOT_AUDIO)
    options = PhoneCallOptions(
        bridge=bridge.url,
        auth_token=AUTH_TOKEN,
        account_sid=ACCOUNT_SID,
        caller=caller.number,
        turns=[
            PhoneTurn("question", audio=say("What are your opening hours?")),
            PhoneTurn("follow-up", audio=say("What is the status of my order?")),
        ],
    )
    result = await place_call(options)
    assert bridge.proxy.cut.is_set(), "the gateway socket was never cut"
    assert result.failure is None, result.failure
    assert result.outcome == "caller_hung_up"
    first, second = result.answers
    assert first.heard_whole_answer and first.played_ms > 500
    assert second.heard_whole_answer and second.played_ms > 500

    [doc] = await stored_sessions(phone, "cus_0001", until=ended)
    assert doc["session"]["resumes"] == 1
    [resumed] = entries(doc, "session.resumed")
    # client_lost once the gateway has seen the drop; a resume that beats it takes the
    # conversation over from a snapshot still live, which the gateway labels gateway_lost
    assert resumed["reason"] in ("client_lost", "gateway_lost") and resumed["gateway"]
    assert len(entries(doc, "user")) >= 2
    page = await _metrics(bridge)
    assert _metric(page, "switchboard_phone_resumes_total", "resumed") == before + 1
    [resuming] = _logs(bridge, "gateway conversation resumed", options.call_sid)
    assert resuming["resumes"] == 1
    [end] = _logs(bridge, "call ended", options.call_sid)
    assert end["outcome"] == "hangup" and end["session_id"] == doc["session"]["id"]


async def test_a_call_whose_gateway_cannot_be_reached_again_ends_cleanly(
    phone: PhoneProduct, resuming_bridge: ResumingBridge, say: Any
) -> None:
    """Cut as the first answer starts and the gateway then unreachable: the bridge tries for
    PHONE_RESUME_WITHIN_S and then closes the carrier's stream itself (outcome resume_failed);
    the conversation is recorded as lost, not resumed."""
    bridge = resuming_bridge
    caller = await caller_of(phone.product.database_url, "cus_0001")
    before = _metric(await _metrics(bridge), "switchboard_phone_resumes_total", "timed_out")
    bridge.proxy.cut_at(BOT_AUDIO)
    cut_at: list[float] = []

    async def unreachable_after_the_cut() -> None:
        await bridge.proxy.cut.wait()
        bridge.proxy.refusing = True
        cut_at.append(time.monotonic())

    watcher = asyncio.create_task(unreachable_after_the_cut())
    options = PhoneCallOptions(
        bridge=bridge.url,
        auth_token=AUTH_TOKEN,
        account_sid=ACCOUNT_SID,
        caller=caller.number,
        turns=[PhoneTurn("question", audio=say("What are your opening hours?"))],
    )
    try:
        result = await place_call(options)
    finally:
        bridge.proxy.refusing = False
        watcher.cancel()
    ended_at = time.monotonic()
    assert cut_at, "the gateway socket was never cut"
    assert result.failure is None, result.failure
    assert result.outcome == "bridge_closed"
    assert ended_at - cut_at[0] < RESUME_WITHIN_S + 5.0
    page = await _metrics(bridge)
    assert _metric(page, "switchboard_phone_resumes_total", "timed_out") == before + 1
    assert _metric(page, "switchboard_phone_calls_total", "resume_failed") >= 1
    [end] = _logs(bridge, "call ended", options.call_sid)
    assert end["outcome"] == "resume_failed"

    [doc] = await stored_sessions(phone, "cus_0001", until=ended)
    assert doc["session"]["resumes"] == 0
    assert entries(doc, "session.resumed") == []
