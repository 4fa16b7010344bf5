"""Resuming a conversation on any gateway: the session id in ``session.created``, resume secrets
and their refusals, a dropped client resumed on a second gateway (the model still knows the
order), a second resume taking over, a gateway killed with SIGKILL mid tool call, a gateway
killed while the broker had not confirmed its events (published again by the resuming gateway),
and a drain handing its conversations over."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import ConnectionClosed

from switchboard.amqp import Topology
from switchboard.cli.stack import Service, free_port
from switchboard.contracts.tools import ToolCallResult, parse_tool_call_request
from switchboard.gateway.app import HANDOVER_REASON
from switchboard.gateway.handover import SEQ_GAP
from switchboard.gateway.snapshot import (
    FunctionCall,
    Snapshot,
    SnapshotState,
    UserText,
    unanswered,
)
from switchboard.keys import RedisKeys
from tests.conftest import via_proxy
from tests.gateway.conftest import (
    SERVER_KEY,
    EventCollector,
    GatewayFactory,
    RunningGateway,
    payloads,
    until_said,
)
from tests.gateway.scripted import Call, scripted_upstream
from tests.infra import InfraUrls
from tests.processes import start_service
from tests.support.clients import EventLog
from tests.support.emulator import Emulator
from tests.support.proxy import TcpProxy
from tests.support.realtime import user_says

HOLD_TOOL = "hold_order_lookup"


async def mint(
    gateway_http: str, customer_id: str, resume_session_id: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"customer_id": customer_id}
    if resume_session_id is not None:
        body["resume_session_id"] = resume_session_id
    async with httpx.AsyncClient(base_url=gateway_http) as http:
        return await http.post(
            "/v1/realtime/client_secrets",
            json=body,
            headers={"Authorization": f"Bearer {SERVER_KEY}"},
        )


async def resume_secret(gateway_http: str, customer_id: str, session_id: str) -> str:
    answer = await mint(gateway_http, customer_id, session_id)
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["value"]
    return value


@contextlib.asynccontextmanager
async def connect(ws_base: str, secret: str) -> AsyncIterator[EventLog]:
    async with websockets.connect(
        f"{ws_base}/v1/realtime?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {secret}"},
        max_size=None,
    ) as ws:
        log = EventLog(ws, dialect="ga")
        yield log
        log.check_all_valid()


def drop(log: EventLog) -> None:
    """Cut the client's TCP connection without a close frame (the server sees 1006)."""
    log.connection.transport.abort()


async def closed_with(log: EventLog, *, within_s: float = 30) -> tuple[int | None, str]:
    """Receive until the server closes the socket; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(within_s):
            while True:
                await log.recv()
    rcvd = closed.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")


async def asked_then_dropped(gateway: RunningGateway) -> str:
    """A cus_0001 conversation on *gateway* that asked about order 100001, heard the answer,
    and then lost its socket (1006); its session id."""
    async with gateway.raw("cus_0001") as log:
        session_id: str = (await log.until("session.created"))["session"]["id"]
        await user_says(log, "What is the status of order 100001?")
        assert "100001" in await until_said(log, "shipped")
        await log.until("response.done")
        drop(log)
    return session_id


def seqs(events: list[Any], kind: str) -> list[int]:
    return [e.seq for e in events if e.payload.type == kind]


async def test_session_created_names_the_switchboard_session(gateway: RunningGateway) -> None:
    """session.created's session.id is the Switchboard session id the registry and events use."""
    async with gateway.raw("cus_0001") as log:
        created = await log.until("session.created")
        assert list(gateway.gateway.sessions) == [created["session"]["id"]]
        assert created["session"]["id"].startswith("sess_gw_")


async def test_resume_refused_for_unknown_other_customer_and_ended(
    gateway: RunningGateway, events: EventCollector
) -> None:
    """A resume secret is refused with a code for an unknown session, another customer's, and
    one that ended cleanly (the client closed with 1000)."""
    unknown = await mint(gateway.http, "cus_0001", "sess_gw_doesnotexist")
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["code"] == "session_not_found"
    async with gateway.raw("cus_0001") as log:
        session_id = (await log.until("session.created"))["session"]["id"]
        drop(log)
    await events.until(session_id, "session.ended")
    other = await mint(gateway.http, "cus_0002", session_id)
    assert other.status_code == 403
    assert other.json()["detail"]["code"] == "session_customer_mismatch"
    async with gateway.raw("cus_0001") as log:
        ended_id = (await log.until("session.created"))["session"]["id"]
    published = await events.until(ended_id, "session.ended")
    assert payloads(published, "session.ended")[0].reason == "client_closed"
    ended = await mint(gateway.http, "cus_0001", ended_id)
    assert ended.status_code == 409
    assert ended.json()["detail"]["code"] == "session_ended"


async def test_resume_refused_after_the_window(
    start_gateway: GatewayFactory, events: EventCollector
) -> None:
    """A dropped conversation can be resumed at first, and is refused (410) once the resume
    window counted from the drop has passed."""
    gateway = await start_gateway(GATEWAY_RESUME_WINDOW_S=1)
    async with gateway.raw("cus_0001") as log:
        session_id = (await log.until("session.created"))["session"]["id"]
        drop(log)
    published = await events.until(session_id, "session.ended")
    assert payloads(published, "session.ended")[0].reason == "client_lost"
    assert (await mint(gateway.http, "cus_0001", session_id)).status_code == 200
    async with asyncio.timeout(10):
        # the window passing is not an event to await: polled, bounded by the timeout
        while (answer := await mint(gateway.http, "cus_0001", session_id)).status_code == 200:  # noqa: ASYNC110 - time passing is the condition
            await asyncio.sleep(0.1)
    assert answer.status_code == 410
    assert answer.json()["detail"]["code"] == "resume_window_passed"


async def test_dropped_client_resumes_on_another_gateway_and_the_model_knows_the_order(
    start_gateway: GatewayFactory, events: EventCollector
) -> None:
    """A client whose socket dropped after asking about order 100001 resumes on a second
    gateway: same session id, session.resumed after the client_lost end with seq continuing,
    and "And order 100003?" is answered as the same kind of question (the model got the
    conversation back)."""
    first = await start_gateway(GATEWAY_ID="resume-a")
    second = await start_gateway(GATEWAY_ID="resume-b")
    session_id = await asked_then_dropped(first)
    lost = await events.until(session_id, "session.ended")
    assert payloads(lost, "session.ended")[0].reason == "client_lost"
    secret = await resume_secret(second.http, "cus_0001", session_id)
    async with connect(second.ws, secret) as log:
        created = await log.until("session.created")
        assert created["session"]["id"] == session_id
        held = second.gateway.sessions[session_id]
        replayed = held.core.conversation.replay_items()
        assert any("100001" in json.dumps(i) for i in replayed if i.get("role") == "user")
        assert any(i["type"] == "function_call" for i in replayed)
        await user_says(log, "And order 100003?")
        assert "100003" in await until_said(log, "100003")
        await log.until("response.done")
    published = await events.until(session_id, "session.resumed")
    (resumed,) = payloads(published, "session.resumed")
    assert resumed.gateway == "resume-b" and resumed.previous_gateway == "resume-a"
    assert resumed.reason == "client_lost" and resumed.items_replayed >= 3
    assert seqs(published, "session.resumed")[0] == seqs(published, "session.ended")[0] + 1
    assert len(payloads(published, "session.started")) == 1
    tools = [c.tool for c in payloads(published, "tool.called")]
    assert len(tools) == 2 and tools[0] == tools[1], tools  # the same lookup, another order


async def test_a_second_resume_takes_the_conversation_over(
    gateway: RunningGateway, events: EventCollector
) -> None:
    """While a resumed connection is live, redeeming a newer resume secret takes the
    conversation over: the older connection is closed with 4005, the newer one carries on."""
    async with gateway.raw("cus_0001") as log:
        session_id = (await log.until("session.created"))["session"]["id"]
        drop(log)
    await events.until(session_id, "session.ended")
    async with connect(gateway.ws, await resume_secret(gateway.http, "cus_0001", session_id)) as a:
        await a.until("session.created")
        newer = await resume_secret(gateway.http, "cus_0001", session_id)
        async with connect(gateway.ws, newer) as b:
            assert (await b.until("session.created"))["session"]["id"] == session_id
            code, _ = await closed_with(a)
            assert code == 4005
            assert a.of("error")[-1]["error"]["code"] == "session_taken_over"
            await b.send({"type": "input_audio_buffer.clear"})
            await b.until("input_audio_buffer.cleared")
            assert gateway.gateway.sessions[session_id].keeper.holding


async def test_an_event_is_in_the_snapshot_without_waiting_for_the_interval(
    start_gateway: GatewayFactory, redis_client: aioredis.Redis, gw_namespace: str
) -> None:
    """A conversation event wakes the snapshot writer at once, even with a 10 s interval: the
    user's turn is in Redis well before the interval has passed."""
    gateway = await start_gateway(GATEWAY_SNAPSHOT_INTERVAL_S=10)
    async with connect(gateway.ws, await gateway.secret()) as log:
        session_id = (await log.until("session.created"))["session"]["id"]
        await snapshot_where(redis_client, gw_namespace, session_id, lambda s: True)
        await user_says(log, "Where is order 100001?")
        await snapshot_where(
            redis_client,
            gw_namespace,
            session_id,
            lambda s: any(isinstance(i, UserText) and "100001" in i.text for i in s.items),
            within_s=5,
        )


async def test_a_spoken_turn_its_lost_holder_left_unanswered_is_answered_on_resume(
    start_gateway: GatewayFactory, redis_client: aioredis.Redis, gw_namespace: str
) -> None:
    """A holder lost between a caller's spoken turn and its answer (server-side turn detection
    answers each turn by itself, so nobody will ask again): the resuming gateway asks for the
    answer. A typed item left unanswered is not answered (the client asks when it wants one)."""
    first = await start_gateway(GATEWAY_ID="unanswered-a")
    second = await start_gateway(GATEWAY_ID="unanswered-b")
    session_id = await asked_then_dropped(first)
    lost = await snapshot_where(
        redis_client, gw_namespace, session_id, lambda s: s.state is SnapshotState.LOST
    )
    assert not unanswered(lost)
    key = RedisKeys(gw_namespace).session_snapshot(session_id)
    for spoken in (False, True):  # as if the holder was lost just after this turn
        turn = UserText(id=f"item_turn_{spoken}", text="And order 100003?", spoken=spoken)
        await redis_client.hset(
            key, "data", lost.model_copy(update={"items": [*lost.items, turn]}).model_dump_json()
        )
        secret = await resume_secret(second.http, "cus_0001", session_id)
        async with connect(second.ws, secret) as log:
            await log.until("session.created")
            if spoken:
                assert "100003" in await until_said(log, "100003")  # nobody asked: answered
                await log.until("response.done")
            else:
                with pytest.raises(TimeoutError):
                    await log.until("response.created", within_s=3)
            drop(log)
        lost = await snapshot_where(  # written by the second gateway as it lost the client
            redis_client,
            gw_namespace,
            session_id,
            lambda s, before=lost.updated_at: (
                s.state is SnapshotState.LOST and s.updated_at > before
            ),
        )


# -- real gateway processes -----------------------------------------------------------------------


async def gateway_process(
    infra: InfraUrls, namespace: str, upstream_url: str, api_key: str, log_dir: Path, **env: str
) -> Service:
    port = free_port()
    return await start_service(
        "switchboard.gateway.main",
        {
            "AMQP_URL": infra.amqp_url,
            "REDIS_URL": infra.redis_url,
            "SWITCHBOARD_NAMESPACE": namespace,
            "SWITCHBOARD_ENV": "test",
            "GATEWAY_SERVER_KEY": SERVER_KEY,
            "GATEWAY_PORT": str(port),
            "UPSTREAM_URL": upstream_url,
            "UPSTREAM_API_KEY": api_key,
            "GATEWAY_CATALOG_REFRESH_S": "0",
            "GATEWAY_FILLER_AFTER_S": "0",
            **env,
        },
        name=env.get("GATEWAY_ID", "gateway"),
        ready_logs=("Application startup complete.",),
        ready_msg="broker connected",
        log_dir=log_dir,
    )


def base(service: Service, scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{service.env['GATEWAY_PORT']}"


class HeldTool:
    """A worker for one tool that records each request and answers only when released."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self.channel = channel
        self.requests: list[Any] = []
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            request = parse_tool_call_request(message.body)
            self.requests.append(request)
            self.arrived.set()
            await self.release.wait()
            result = ToolCallResult(
                call_id=request.call_id,
                ok=True,
                output={"order_id": 100001, "status": "shipped"},
                duration_ms=1,
                worker="held",
            )
            assert message.reply_to
            await self.channel.default_exchange.publish(
                aio_pika.Message(
                    body=result.model_dump_json().encode(),
                    correlation_id=message.correlation_id,
                ),
                routing_key=message.reply_to,
            )

    async def until(self, count: int, within_s: float = 30) -> None:
        async with asyncio.timeout(within_s):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def held_tool(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, gw_namespace: str
) -> AsyncIterator[HeldTool]:
    channel = await amqp_connection.channel()
    await channel.set_qos(prefetch_count=10)
    held = HeldTool(channel)
    topology = Topology(gw_namespace)
    await topology.declare_dead_letters(channel)
    queue = await topology.declare_tool_queue(channel, HOLD_TOOL)
    tag = await queue.consume(held.on_message)
    yield held
    held.release.set()
    await queue.cancel(tag)
    await queue.delete(if_unused=False, if_empty=False)
    await channel.close()


async def snapshot_where(
    redis: aioredis.Redis, namespace: str, session_id: str, check: Any, within_s: float = 10
) -> Snapshot:
    """Wait until the session's snapshot in Redis satisfies *check*."""
    key = RedisKeys(namespace).session_snapshot(session_id)
    async with asyncio.timeout(within_s):
        while True:
            data = await redis.hget(key, "data")
            if data is not None:
                snapshot = Snapshot.model_validate_json(data)
                if check(snapshot):
                    return snapshot
            await asyncio.sleep(0.05)  # a Redis write is not an event we can await


async def test_gateway_killed_mid_tool_call_resumes_on_a_second_gateway_answered_once(
    infra: InfraUrls,
    gw_namespace: str,
    gw_cleanup: None,
    start_gateway: GatewayFactory,
    events: EventCollector,
    held_tool: HeldTool,
    redis_client: aioredis.Redis,
    tmp_path: Path,
) -> None:
    """A gateway process killed with SIGKILL while a tool call is in flight: the client resumes
    on a second gateway, which replays the conversation (the question and the call) to its new
    upstream, sends the call again under the same call id, hands the model exactly one output
    and lets it speak; session.resumed continues the seq after the snapshot's."""
    async with scripted_upstream() as script:
        script.responses = [[Call(HOLD_TOOL, {"order_id": 100001})], []]
        killed = await gateway_process(
            infra, gw_namespace, script.url, "k", tmp_path, GATEWAY_ID="killed-gw"
        )
        try:
            secret = (await mint(base(killed, "http"), "cus_0001")).json()["value"]
            async with connect(base(killed, "ws"), secret) as log:
                session_id = (await log.until("session.created"))["session"]["id"]
                await user_says(log, "Where is order 100001?")
                await held_tool.until(1)
                before = await snapshot_where(
                    redis_client,
                    gw_namespace,
                    session_id,
                    lambda s: any(isinstance(i, FunctionCall) for i in s.items),
                )
                assert killed.process is not None
                killed.process.send_signal(signal.SIGKILL)
                with pytest.raises(ConnectionClosed):
                    async with asyncio.timeout(10):
                        while True:
                            await log.recv()
        finally:
            await asyncio.to_thread(killed.kill)
        (call,) = [i for i in before.items if isinstance(i, FunctionCall)]
        second = await start_gateway(GATEWAY_ID="resumer-gw", UPSTREAM_URL=script.url)
        secret = await resume_secret(second.http, "cus_0001", session_id)
        async with connect(second.ws, secret) as log:
            assert (await log.until("session.created"))["session"]["id"] == session_id
            await held_tool.until(2)
            assert [r.call_id for r in held_tool.requests] == [call.call_id] * 2
            held_tool.release.set()
            await log.until("response.done")
            resumed_conn = script.connections
            replayed = [
                e["item"]
                for n, e in script.received
                if n == resumed_conn and e["type"] == "conversation.item.create"
            ]
            assert replayed[0]["role"] == "user"
            assert "100001" in replayed[0]["content"][0]["text"]
            assert replayed[1]["type"] == "function_call"
            assert replayed[1]["call_id"] == call.call_id
            outputs = [i for i in replayed if i["type"] == "function_call_output"]
            assert [o["call_id"] for o in outputs] == [call.call_id]
            kinds = [e["type"] for n, e in script.received if n == resumed_conn]
            assert kinds.index("response.create") > kinds.index("conversation.item.create")
    published = await events.until(session_id, "session.resumed")
    (resumed,) = payloads(published, "session.resumed")
    assert resumed.previous_gateway == "killed-gw" and resumed.gateway == "resumer-gw"
    assert resumed.reason == "gateway_lost"
    assert seqs(published, "session.resumed") == [before.next_seq + SEQ_GAP]
    assert not payloads(published, "session.ended")


async def test_events_unconfirmed_at_a_kill_are_published_by_the_resuming_gateway(
    infra: InfraUrls,
    gw_namespace: str,
    gw_cleanup: None,
    start_gateway: GatewayFactory,
    events: EventCollector,
    redis_client: aioredis.Redis,
    amqp_proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    """A gateway whose broker link hangs (events handed over, never confirmed) is SIGKILLed;
    after the resume on another gateway every event it emitted before its last snapshot write
    is on the store's queue under one event id per seq, unchanged and still redacted."""
    key = RedisKeys(gw_namespace).session_snapshot
    async with scripted_upstream() as script:
        killed = await gateway_process(
            infra,
            gw_namespace,
            script.url,
            "k",
            tmp_path,
            GATEWAY_ID="unconfirmed-gw",
            AMQP_URL=via_proxy(infra.amqp_url, amqp_proxy.port),
        )
        try:
            secret = (await mint(base(killed, "http"), "cus_0001")).json()["value"]
            async with connect(base(killed, "ws"), secret) as log:
                session_id = (await log.until("session.created"))["session"]["id"]
                await events.until(session_id, "session.started")  # confirmed before the hang
                await amqp_proxy.hang()  # nothing the gateway publishes now is confirmed
                for question in ("Write to jane.doe@example.com", "about order 100001"):
                    await user_says(log, question)
                    await log.until("response.done")
                await snapshot_where(
                    redis_client,
                    gw_namespace,
                    session_id,
                    lambda s: sum(e.payload.type == "transcript.user" for e in s.pending) == 2,
                )
                assert killed.process is not None
                killed.process.send_signal(signal.SIGKILL)
                with pytest.raises(ConnectionClosed):
                    async with asyncio.timeout(10):
                        while True:
                            await log.recv()
        finally:
            await asyncio.to_thread(killed.kill)
        # the dead gateway's last write: what it emitted before, and what was unconfirmed then
        last = Snapshot.model_validate_json(await redis_client.hget(key(session_id), "data"))
        assert last.pending and last.gateway_id == "unconfirmed-gw"
        assert "jane.doe@example.com" not in "".join(e.model_dump_json() for e in last.pending)
        before = [e for e in events.events if e.session_id == session_id]
        assert {e.event_id for e in before}.isdisjoint(e.event_id for e in last.pending)
        second = await start_gateway(GATEWAY_ID="republisher-gw", UPSTREAM_URL=script.url)
        secret = await resume_secret(second.http, "cus_0001", session_id)
        async with connect(second.ws, secret) as log:
            assert (await log.until("session.created"))["session"]["id"] == session_id
            published = await events.until(session_id, "session.resumed")
    emitted = [e for e in published if e.seq < last.next_seq]
    by_seq: dict[int, set[str]] = {}
    for event in emitted:
        by_seq.setdefault(event.seq, set()).add(event.event_id)
    assert sorted(by_seq) == list(range(last.next_seq)), "an event emitted before the write is lost"
    assert all(len(ids) == 1 for ids in by_seq.values()), "one event id per seq"
    stored = {e.event_id: e for e in emitted}
    for pending in last.pending:
        assert stored[pending.event_id] == pending  # same seq, time and (redacted) payload
    assert seqs(published, "session.resumed") == [last.next_seq + SEQ_GAP]


async def test_drain_hands_the_conversation_over_to_another_gateway(
    infra: InfraUrls,
    gw_namespace: str,
    gw_cleanup: None,
    emulator: Emulator,
    start_gateway: GatewayFactory,
    events: EventCollector,
    tmp_path: Path,
) -> None:
    """SIGTERM: after the drain timeout the client is closed with 1012 and a reason that says
    to resume; it resumes on another gateway, which knows the conversation."""
    draining = await gateway_process(
        infra,
        gw_namespace,
        emulator.ws,
        emulator.api_key,
        tmp_path,
        GATEWAY_ID="draining-gw",
        GATEWAY_DRAIN_TIMEOUT_S="0.5",
    )
    other = await start_gateway(GATEWAY_ID="taking-gw")
    try:
        secret = (await mint(base(draining, "http"), "cus_0001")).json()["value"]
        async with connect(base(draining, "ws"), secret) as log:
            session_id = (await log.until("session.created"))["session"]["id"]
            await user_says(log, "What is the status of order 100001?")
            assert "100001" in await until_said(log, "shipped")
            await log.until("response.done")
            assert draining.process is not None
            draining.process.send_signal(signal.SIGTERM)
            code, reason = await closed_with(log)
        assert (code, reason) == (1012, HANDOVER_REASON)
        assert await asyncio.to_thread(draining.process.wait, 30) == 0
    finally:
        await asyncio.to_thread(draining.kill)
    secret = await resume_secret(other.http, "cus_0001", session_id)
    async with connect(other.ws, secret) as log:
        await log.until("session.created")
        await user_says(log, "And order 100003?")
        assert "100003" in await until_said(log, "100003")
    published = await events.until(session_id, "session.resumed")
    (resumed,) = payloads(published, "session.resumed")
    assert resumed.reason == "handed_over" and resumed.previous_gateway == "draining-gw"
    ended = payloads(published, "session.ended")
    assert ended[0].reason == "handed_over"


async def test_a_drain_hands_over_at_a_quiet_moment_not_mid_answer(
    start_gateway: GatewayFactory,
) -> None:
    """A drain whose deadline comes while the caller is hearing an answer does not cut it: the
    conversation is handed over (1012) once the answer is done and the line is quiet."""
    gateway = await start_gateway(GATEWAY_ID="quiet-gw")
    secret = (await mint(gateway.http, "cus_0001")).json()["value"]
    async with connect(gateway.ws, secret) as log:
        await log.until("session.created")
        await user_says(log, "What is the status of order 100001?")
        first = await log.until("response.output_audio.delta", within_s=60)
        # a handover deadline far beyond the wait below: only the quiet moment can close it
        drain = asyncio.create_task(gateway.gateway.drain(0.0, 600.0))
        done = await log.until("response.done", within_s=60)
        code, reason = await closed_with(log, within_s=60)
    await drain
    assert done["response"]["id"] == first["response_id"]
    assert done["response"]["status"] == "completed"
    assert (code, reason) == (1012, HANDOVER_REASON)
