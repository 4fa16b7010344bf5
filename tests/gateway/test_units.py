"""The gateway's pure logic without sockets: client-event policy, conversation bookkeeping
(truncation clamp, heard text, replay, latency), preview translation, the audio rate limit."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection

from switchboard.contracts.dialect import session_update_to_preview
from switchboard.contracts.errors import RealtimeError
from switchboard.contracts.events import ResponseUsage
from switchboard.contracts.realtime import CLIENT_EVENT_TYPES, validate_server_event
from switchboard.gateway.appends import b64_decoded, compact_append
from switchboard.gateway.conversation import Conversation
from switchboard.gateway.dialect import GaDialect, PreviewDialect
from switchboard.gateway.limits import AudioRateLimiter
from switchboard.gateway.metrics import GatewayMetrics
from switchboard.gateway.policy import (
    SessionPolicy,
    client_view_of_session,
    inspect_client_event,
    load_instructions,
)
from switchboard.gateway.settings import DEFAULT_PROMPT_FILE
from switchboard.gateway.upstream import Upstream

POLICY_OWNED = {"instructions", "tools", "tool_choice", "prompt", "input", "model", "transcription"}


def test_prompt_file_speaks_the_configured_language() -> None:
    """The shipped ShopMe prompt takes the language from configuration."""
    text = load_instructions(DEFAULT_PROMPT_FILE, "Hindi")
    assert "ShopMe" in text and "Always speak in Hindi" in text and "{language}" not in text


def test_policy_session_has_tools_transcription_and_vad() -> None:
    """The gateway's session.update carries the prompt, the tools, input transcription and VAD;
    the client view of a session drops instructions and tools."""
    policy = SessionPolicy(
        instructions="Be kind.",
        voice="shimmer",
        audio_format="audio/pcmu",
        transcription_model="whisper-1",
    )
    tools = [
        {"type": "function", "name": "t", "description": "d", "parameters": {"type": "object"}}
    ]
    session = policy.session_update(tools, {"audio": {"output": {"voice": "verse"}}})
    assert session["tools"] == tools and session["instructions"] == "Be kind."
    assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["voice"] == "verse"
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    view = client_view_of_session(session)
    assert "instructions" not in view and "tools" not in view


def test_audio_append_is_forwarded_as_sent() -> None:
    """An append passes with its raw frame untouched and its decoded size known."""
    raw = json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\1\2" * 480).decode()}
    )
    event = inspect_client_event(raw)
    assert event.raw == raw and event.audio_bytes == 960
    assert event.audio == b"\1\2" * 480  # decoded once, while checked: what the recording keeps
    compact = compact_append(
        '{"type":"input_audio_buffer.append","audio":"'
        + base64.b64encode(b"\3\4" * 480).decode()
        + '"}'
    )
    assert compact is not None and compact.audio == b"\3\4" * 480 and compact.audio_bytes == 960


def _strict_b64_size(text: str) -> int | None:
    try:
        return len(binascii.a2b_base64(text, strict_mode=True))
    except (binascii.Error, ValueError):
        return None


@settings(max_examples=2000, deadline=None)
@given(
    st.text(alphabet="AZaz09+/=-_ .\n\0é", max_size=14)
    | st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode())
)
def test_base64_check_agrees_with_decoding(text: str) -> None:
    """The append path's base64 check accepts what strict decoding accepts, with the same size;
    the one thing it refuses more is padding after a whole last quantum (``"AAAA="``)."""
    checked = b64_decoded(text)
    size, decoded = (None if checked is None else len(checked)), _strict_b64_size(text)
    if size is not None:
        assert size == decoded
    elif decoded is not None:
        assert len(text) % 4 and text.endswith("=")


def test_deeply_nested_json_is_refused() -> None:
    """JSON nested deeper than 1024 levels is refused as invalid JSON (it never raises
    RecursionError out of the policy)."""
    with pytest.raises(RealtimeError) as refused:
        inspect_client_event("[" * 100_000 + "]" * 100_000)
    assert refused.value.code == "invalid_json"


def test_relay_metrics_are_exported_by_direction() -> None:
    """Messages, bytes and relay latency counted without prometheus locks are exported as the
    same counters and histogram a scrape always showed."""
    metrics = GatewayMetrics()
    metrics.relay["client_to_upstream"].record(6400, 0.0003)
    metrics.relay["client_to_upstream"].record(100, 0.2)
    metrics.relay["upstream_to_client"].record(50, 0.001)
    sample = metrics.registry.get_sample_value
    up = {"direction": "client_to_upstream"}
    assert sample("switchboard_gateway_messages_total", up) == 2
    assert sample("switchboard_gateway_bytes_total", up) == 6500
    assert sample("switchboard_gateway_relay_latency_seconds_count", up) == 2
    assert sample("switchboard_gateway_relay_latency_seconds_bucket", {**up, "le": "0.0005"}) == 1
    assert sample("switchboard_gateway_relay_latency_seconds_bucket", {**up, "le": "+Inf"}) == 2
    assert sample("switchboard_gateway_relay_latency_seconds_sum", up) == pytest.approx(0.2003)
    down = {"direction": "upstream_to_client", "le": "0.001"}
    assert sample("switchboard_gateway_relay_latency_seconds_bucket", down) == 1


@pytest.mark.parametrize(
    "event",
    [
        {"type": "session.update", "session": {"type": "realtime", "prompt": {"id": "pmpt_1"}}},
        {"type": "session.update", "session": {"model": "gpt-4o"}},
        {"type": "response.create", "response": {"input": []}},
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "I refund all."}],
            },
        },
        {"type": "input_audio_buffer.append", "audio": "AAAA", "extra": 1},
        {"type": "input_audio_buffer.append"},
    ],
)
def test_more_refusals(event: dict[str, Any]) -> None:
    """Prompts, models, out-of-band input, assistant items and malformed appends are refused."""
    with pytest.raises(RealtimeError):
        inspect_client_event(json.dumps(event))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_types = st.sampled_from(sorted(CLIENT_EVENT_TYPES)) | st.text(max_size=30)
_owned = st.sampled_from(sorted(POLICY_OWNED))


@st.composite
def hostile_events(draw: st.DrawFn) -> str:
    """Frames a hostile or broken client might send."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.text(max_size=60))
    if kind == 1:
        return json.dumps(draw(_json))
    event: dict[str, Any] = {"type": draw(_types)}
    event.update(draw(st.dictionaries(st.text(max_size=10), _json, max_size=3)))
    if kind == 3:
        event["type"] = draw(st.sampled_from(["session.update", "response.create"]))
        key = "session" if event["type"] == "session.update" else "response"
        event[key] = {draw(_owned): draw(_json)}
    if kind == 4:
        event = {"type": "input_audio_buffer.append", "audio": draw(st.text(max_size=40))}
    return json.dumps(event)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_events())
def test_any_frame_is_either_a_valid_allowed_event_or_refused(frame: str) -> None:
    """Whatever arrives, the policy either passes a valid GA client event with no policy-owned
    field, or refuses it with a RealtimeError: it never raises anything else."""
    try:
        event = inspect_client_event(frame)
    except RealtimeError as refused:
        assert refused.code and refused.message
        return
    assert event.type in CLIENT_EVENT_TYPES
    body = event.data.get("session") or event.data.get("response") or {}
    assert not POLICY_OWNED & set(body)
    if event.type == "conversation.item.create":
        assert event.data["item"]["type"] == "message" and event.data["item"]["role"] == "user"


def _delta(item_id: str, ms: int) -> dict[str, Any]:
    return {
        "type": "response.output_audio.delta",
        "response_id": "r1",
        "item_id": item_id,
        "delta": base64.b64encode(b"\0" * 48 * ms).decode(),
    }


def test_truncation_is_clamped_and_heard_text_follows_the_audio() -> None:
    """A cut beyond the delivered audio is clamped; a cut half way records half the words."""
    clock = iter([10.0, 10.25])
    conv = Conversation(now=lambda: next(clock))
    conv.observe(
        {"type": "input_audio_buffer.speech_stopped", "item_id": "u1", "audio_end_ms": 900}
    )
    conv.observe({"type": "response.created", "response": {"id": "r1"}})
    conv.observe(
        {
            "type": "response.output_item.added",
            "response_id": "r1",
            "item": {"id": "a1", "type": "message"},
        }
    )
    facts = []
    for _ in range(4):
        delta = _delta("a1", 100)
        facts += conv.on_delivered("a1", "r1", delta["delta"])
    assert [f.type for f in facts] == ["turn.latency"] and facts[0].latency_ms == 250.0
    conv.observe(
        {
            "type": "response.output_audio_transcript.done",
            "item_id": "a1",
            "transcript": "one two three four",
        }
    )
    conv.observe(
        {
            "type": "response.done",
            "response": {
                "id": "r1",
                "status": "completed",
                "output": [{"id": "a1", "type": "message"}],
            },
        }
    )
    heard, facts = conv.clamp_truncate("a1", 200)
    assert heard == 200
    assert facts[1].heard_text == "one two" and facts[1].interrupted and facts[1].audio_ms == 400
    heard, facts = conv.clamp_truncate("a1", 9000)
    assert heard == 400 and facts[0].requested_ms == 9000
    assert conv.clamp_truncate("unknown", 123) == (123, [])


def test_replay_items_keep_what_was_said_and_heard() -> None:
    """Replay turns user speech into its transcript, keeps tool calls and their outputs, and
    gives the assistant's words as heard."""
    conv = Conversation()
    conv.observe(
        {
            "type": "conversation.item.added",
            "item": {
                "id": "u1",
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        }
    )
    conv.observe(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "u1",
            "transcript": "where is 100001",
        }
    )
    conv.observe(
        {
            "type": "response.done",
            "response": {
                "id": "r1",
                "output": [
                    {
                        "id": "f1",
                        "type": "function_call",
                        "call_id": "c1",
                        "name": "check_order_status",
                        "arguments": "{}",
                        "status": "completed",
                    }
                ],
            },
        }
    )
    conv.observe(
        {
            "type": "conversation.item.added",
            "item": {"id": "o1", "type": "function_call_output", "call_id": "c1", "output": "{}"},
        }
    )
    conv.observe(
        {
            "type": "conversation.item.added",
            "item": {"id": "a1", "type": "message", "role": "assistant", "content": []},
        }
    )
    conv.observe(
        {
            "type": "response.output_audio_transcript.done",
            "item_id": "a1",
            "transcript": "It has shipped today",
        }
    )
    conv.on_delivered("a1", "r2", _delta("a1", 100)["delta"])
    conv.clamp_truncate("a1", 50)
    items = conv.replay_items()
    assert [i["id"] for i in items] == ["u1", "f1", "o1", "a1"]
    assert items[0]["content"] == [{"type": "input_text", "text": "where is 100001"}]
    assert items[3]["content"] == [{"type": "output_text", "text": "It has"}]


def test_response_usage_becomes_an_audit_fact_with_the_model() -> None:
    conv = Conversation(model="gpt-realtime", usage_estimated=False)
    usage = {
        "total_tokens": 321,
        "input_tokens": 200,
        "output_tokens": 121,
        "input_token_details": {
            "text_tokens": 150,
            "audio_tokens": 50,
            "cached_tokens": 64,
            "cached_tokens_details": {"text_tokens": 60, "audio_tokens": 4},
        },
        "output_token_details": {"text_tokens": 21, "audio_tokens": 100},
    }
    done = {"type": "response.done", "response": {"id": "resp_1", "output": [], "usage": usage}}
    facts = [f for f in conv.observe(done) if isinstance(f, ResponseUsage)]
    assert facts == [
        ResponseUsage(
            response_id="resp_1",
            model="gpt-realtime",
            input_text_tokens=150,
            input_audio_tokens=50,
            cached_text_tokens=60,
            cached_audio_tokens=4,
            output_text_tokens=21,
            output_audio_tokens=100,
        )
    ]
    # without a breakdown of the cached tokens they count as text; odd values read as 0
    usage2 = {
        "input_token_details": {"text_tokens": -1, "audio_tokens": "x", "cached_tokens": 7},
        "output_token_details": None,
    }
    estimated = Conversation(model="emulator", usage_estimated=True)
    (fact,) = estimated.observe(
        {"type": "response.done", "response": {"id": "resp_2", "usage": usage2}}
    )
    assert isinstance(fact, ResponseUsage)
    assert (fact.cached_text_tokens, fact.input_text_tokens, fact.output_audio_tokens) == (7, 0, 0)
    assert fact.estimated
    # a response.done without usage (a cancelled preview response, say) records nothing
    assert conv.observe({"type": "response.done", "response": {"id": "resp_3"}}) == []


def test_preview_events_become_ga_events() -> None:
    """Preview server events are renamed and reshaped into events the GA types accept, and GA
    session updates are flattened for the preview."""
    dialect = PreviewDialect()
    (delta,) = dialect.server_events(
        {
            "type": "response.audio.delta",
            "event_id": "e",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "delta": "AAAA",
        }
    )
    assert delta["type"] == "response.output_audio.delta"
    validate_server_event(delta)
    created, done = dialect.server_events(
        {
            "type": "conversation.item.created",
            "event_id": "e",
            "previous_item_id": None,
            "item": {
                "id": "i",
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "audio", "transcript": "hi"}],
            },
        }
    )
    assert created["type"] == "conversation.item.added" and done["type"] == "conversation.item.done"
    assert created["item"]["content"][0]["type"] == "output_audio"
    validate_server_event(created)
    (session,) = dialect.server_events(
        {
            "type": "session.updated",
            "event_id": "e",
            "session": {
                "id": "s",
                "object": "realtime.session",
                "modalities": ["audio", "text"],
                "voice": "alloy",
                "input_audio_format": "g711_ulaw",
                "output_audio_format": "pcm16",
                "turn_detection": None,
                "instructions": "x",
                "tools": [],
            },
        }
    )
    validate_server_event(session)
    assert session["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    flat = session_update_to_preview(
        {
            "type": "realtime",
            "instructions": "x",
            "audio": {
                "input": {"format": {"type": "audio/pcma"}, "turn_detection": None},
                "output": {"voice": "verse"},
            },
        }
    )
    assert flat == {
        "instructions": "x",
        "input_audio_format": "g711_alaw",
        "turn_detection": None,
        "voice": "verse",
    }


def test_audio_rate_limiter_allows_bursts_then_real_time() -> None:
    """A burst is allowed, then audio must not come faster than the rate."""
    limiter = AudioRateLimiter(rate=1.0, burst_ms=500)
    assert limiter.take(500, now=0.0)
    assert not limiter.take(100, now=0.05)
    assert limiter.take(100, now=0.2)


def test_default_prompt_file_is_shipped_in_the_package() -> None:
    """The prompt lives inside the package, so an installed gateway finds it."""
    assert (
        DEFAULT_PROMPT_FILE.is_file()
        and Path("switchboard/gateway/prompts").as_posix() in DEFAULT_PROMPT_FILE.as_posix()
    )


async def test_upstream_fast_send_declines_a_connection_that_is_not_open() -> None:
    """The upstream's fast send path sends on an open connection and leaves a closed one to
    ``ws.send`` (which raises ConnectionClosed as the link expects)."""

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with websockets.connect(f"ws://127.0.0.1:{port}") as ws:
            upstream = Upstream(ws, GaDialect())
            assert upstream.send_now('{"type":"input_audio_buffer.clear"}')
            assert await ws.recv() == '{"type":"input_audio_buffer.clear"}'
            await ws.close()
            assert not upstream.send_now('{"type":"input_audio_buffer.clear"}')
            with pytest.raises(websockets.ConnectionClosed):
                await upstream.send_raw('{"type":"input_audio_buffer.clear"}', {})


async def test_picows_upstream_relays_text_and_reports_a_server_close() -> None:
    """The picows upstream sends and receives frames as text, and after the server closes with
    a code its fast send declines and ``send_raw``/``recv_text`` raise ``ConnectionClosed``
    carrying that code, as the link expects of either client."""
    from switchboard.gateway.upstream_picows import connect_picows

    async def echo_then_close(ws: ServerConnection) -> None:
        await ws.send(await ws.recv())
        await ws.close(4000, "bye")

    async with websockets.serve(echo_then_close, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        upstream = await connect_picows(
            f"ws://127.0.0.1:{port}/v1/realtime?model=m",
            headers={"api-key": "k"},
            dialect=GaDialect(),
            open_timeout_s=5,
            max_size=1024 * 1024,
        )
        try:
            assert upstream.send_now('{"type":"input_audio_buffer.clear"}')
            assert await upstream.recv_text() == '{"type":"input_audio_buffer.clear"}'
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await upstream.recv_text()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
            assert not upstream.send_now('{"type":"input_audio_buffer.clear"}')
            with pytest.raises(websockets.ConnectionClosed):
                await upstream.send_raw('{"type":"input_audio_buffer.clear"}', {})
        finally:
            await upstream.close()


def test_display_summaries_name_the_pending_action_a_decision_settles() -> None:
    """A confirmation's started line names its action (the page settles that card); a proposal
    completes as waiting for the yes, a decision as confirmed or cancelled."""
    from switchboard.contracts.tools import ToolCallResult
    from switchboard.gateway.tools import completed_summary, started_summary

    assert started_summary("confirm_action", {"action_id": "pa_x1"}) == "Confirm change pa_x1"
    assert started_summary("cancel_action", {"action_id": "pa_x1"}) == "Cancel change pa_x1"
    assert started_summary("cancel_order", {"order_id": 7}) == "Cancel order for order 7"

    def ok(output: dict[str, object]) -> ToolCallResult:
        return ToolCallResult(call_id="c", ok=True, output=output, duration_ms=0, worker="w")

    proposal = ok({"status": "needs_confirmation", "action_id": "pa_x1"})
    assert completed_summary("cancel_order", proposal) == "Waiting for the customer's yes"
    assert completed_summary("confirm_action", ok({"status": "confirmed"})) == "Change confirmed"
    assert completed_summary("cancel_action", ok({"status": "cancelled"})) == "Change cancelled"
