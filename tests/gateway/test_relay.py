"""The relay rules without sockets: the session core's decisions for server and client events,
its state machine, and reading audio frames without parsing their audio."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.contracts.errors import RealtimeError
from switchboard.contracts.events import ErrorOccurred, TurnLatency
from switchboard.gateway.actions import (
    CreateResponse,
    DeliverOutputs,
    Emit,
    ForwardUpstream,
    IgnoreFields,
    Refuse,
    SendClient,
    SessionState,
    StartTool,
    StateError,
)
from switchboard.gateway.frames import delta_of_event, read_audio_delta, string_span
from switchboard.gateway.inbound import ClientRules
from switchboard.gateway.limits import AudioRateLimiter
from switchboard.gateway.policy import inspect_client_event
from switchboard.gateway.relay import RelayCore

AUDIO = base64.b64encode(b"\x01\x00" * 480).decode()  # 20 ms of pcm16 at 24 kHz


def core() -> RelayCore:
    relay = RelayCore(audio_format="audio/pcm", clock=lambda: 100.0)
    relay.become(SessionState.LIVE)
    return relay


def sent(actions: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(a.text) for a in actions if isinstance(a, SendClient)]


def server(relay: RelayCore, event: dict[str, Any]) -> list[Any]:
    return relay.on_server_event(event, json.dumps(event))


def added(item: dict[str, Any], previous: str | None) -> dict[str, Any]:
    return {"type": "conversation.item.added", "previous_item_id": previous, "item": item}


def call_item(item_id: str = "fc1") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "call_id": "call_1", "name": "t"}


def tool_call(relay: RelayCore, response_id: str = "r1") -> list[Any]:
    """A response that only calls a tool, up to its response.done; all actions returned."""
    out: list[Any] = []
    out += server(relay, {"type": "response.created", "response": {"id": response_id}})
    out += server(
        relay,
        {"type": "response.output_item.added", "response_id": response_id, "item": call_item()},
    )
    out += server(relay, added(call_item(), "u1"))
    out += server(
        relay,
        {
            "type": "response.function_call_arguments.delta",
            "response_id": response_id,
            "delta": "{}",
        },
    )
    out += server(
        relay,
        {
            "type": "response.function_call_arguments.done",
            "response_id": response_id,
            "call_id": "call_1",
            "name": "check_order_status",
            "arguments": '{"order_id": 1}',
        },
    )
    out += server(
        relay,
        {
            "type": "response.done",
            "response": {"id": response_id, "status": "completed", "output": [call_item()]},
        },
    )
    return out


def test_a_response_of_only_hidden_tool_calls_is_never_shown() -> None:
    """created, the call's events and done of a tool-only response reach the client as nothing;
    the tool is started and its outputs are delivered when the response is done."""
    relay = core()
    actions = tool_call(relay)
    assert sent(actions) == []
    assert [a for a in actions if isinstance(a, StartTool)] == [
        StartTool("call_1", "check_order_status", '{"order_id": 1}', "r1")
    ]
    assert DeliverOutputs("r1") in actions
    assert relay.held is None and relay.response_idle


def test_a_shown_response_starts_with_its_created_and_ends_without_hidden_outputs() -> None:
    """A response that speaks and calls a tool: response.created goes out just before its first
    visible event, and response.done goes out without the function call."""
    relay = core()
    created = {"type": "response.created", "response": {"id": "r2"}}
    assert sent(server(relay, created)) == []
    message = {"id": "a1", "type": "message", "role": "assistant", "content": []}
    out = sent(
        server(relay, {"type": "response.output_item.added", "response_id": "r2", "item": message})
    )
    assert [e["type"] for e in out] == ["response.created", "response.output_item.added"]
    done = {
        "type": "response.done",
        "response": {"id": "r2", "status": "completed", "output": [message, call_item()]},
    }
    (forwarded,) = sent(server(relay, done))
    assert forwarded["response"]["output"] == [message]


def test_an_empty_response_is_still_shown() -> None:
    """A response that ends with no output at all (cancelled at once) keeps its created/done
    pair, in that order."""
    relay = core()
    server(relay, {"type": "response.created", "response": {"id": "r3"}})
    done = {"type": "response.done", "response": {"id": "r3", "status": "cancelled", "output": []}}
    assert [e["type"] for e in sent(server(relay, done))] == ["response.created", "response.done"]


def test_audio_delta_is_relayed_as_received_and_releases_a_held_created() -> None:
    """The first audio delta of a response brings its held response.created first; later ones
    are one SendClient of the frame as received."""
    relay = core()
    server(relay, {"type": "response.created", "response": {"id": "r4"}})
    text = json.dumps({"type": "response.output_audio.delta", "item_id": "a1", "delta": AUDIO})
    first = relay.on_audio_delta(text, "a1", "r4", 960)
    assert [a.text for a in first if isinstance(a, SendClient)][1] == text
    assert json.loads(first[0].text)["type"] == "response.created"  # type: ignore[union-attr]
    assert relay.on_audio_delta(text, "a1", "r4", 960) == [SendClient(text)]
    assert relay.conversation.delivered_ms("a1") == 40


def test_previous_item_id_never_names_a_hidden_item() -> None:
    """After a function call and its output (hidden), the next assistant message names the last
    item the client saw: the user's message; a call with no visible item before names null."""
    relay = core()
    user = {"id": "u1", "type": "message", "role": "user", "content": []}
    assert sent(server(relay, added(user, None)))[0]["previous_item_id"] is None
    tool_call(relay)
    output = {"id": "fo1", "type": "function_call_output", "call_id": "call_1", "output": "{}"}
    assert sent(server(relay, added(output, "fc1"))) == []
    message = {"id": "a2", "type": "message", "role": "assistant", "content": []}
    (shown,) = [e for e in sent(server(relay, added(message, "fo1"))) if "item" in e]
    assert shown["previous_item_id"] == "u1"
    relay2 = core()
    server(relay2, added(call_item("fc9"), None))
    after = sent(
        server(relay2, {"type": "input_audio_buffer.committed", "previous_item_id": "fc9"})
    )
    assert after[0]["previous_item_id"] is None


def test_errors_about_gateway_events_stay_inside_and_busy_responses_are_retried() -> None:
    """An upstream error naming an sbgw_ event is audited, not forwarded; refused because a
    response was active, the gateway asks again later; other errors reach the client."""
    relay = core()
    assert relay.request_response()
    busy = {
        "type": "error",
        "error": {"code": "conversation_already_has_active_response", "event_id": "sbgw_3"},
    }
    actions = server(relay, busy)
    assert sent(actions) == [] and CreateResponse() in actions
    assert any(isinstance(a, Emit) and isinstance(a.payload, ErrorOccurred) for a in actions)
    theirs = {"type": "error", "error": {"code": "invalid_value", "event_id": "evt_client"}}
    assert sent(server(relay, theirs)) == [theirs]


def test_response_cut_by_a_drop_is_failed_only_if_the_client_saw_it() -> None:
    """A drop during a shown response tells the client it failed; during a held one, nothing."""
    relay = core()
    server(relay, {"type": "response.created", "response": {"id": "r5"}})
    assert relay.response_cut("r5", "ev") == []
    relay.on_audio_delta("{}", "a1", "r6", 2)
    (failed,) = sent(relay.response_cut("r6", "ev"))
    assert failed["response"]["status"] == "failed"


def test_session_created_is_hidden_and_session_updated_shows_no_policy() -> None:
    """The upstream's session.created never reaches the client; session.updated loses the
    instructions and tools, and the formats are learnt."""
    relay = core()
    session = {
        "instructions": "secret",
        "tools": [{"name": "t"}],
        "audio": {"input": {"format": {"type": "audio/pcmu"}}},
    }
    assert sent(server(relay, {"type": "session.created", "session": session})) == []
    (updated,) = sent(server(relay, {"type": "session.updated", "session": session}))
    assert "instructions" not in updated["session"] and "tools" not in updated["session"]
    assert relay.input_format == "audio/pcmu"


def test_state_machine_refuses_transitions_it_does_not_know() -> None:
    """A session goes connecting, live, swapping, live, ending, ended; never back from ending."""
    relay = RelayCore(audio_format="audio/pcm")
    for state in ("live", "swapping", "live", "ending", "ended"):
        relay.become(SessionState(state))
    assert relay.state is SessionState.ENDED
    with pytest.raises(StateError):
        RelayCore(audio_format="audio/pcm").become(SessionState.SWAPPING)
    ending = core()
    ending.become(SessionState.ENDING)
    with pytest.raises(StateError):
        ending.become(SessionState.LIVE)


def test_turn_latency_comes_with_the_first_audio_after_speech() -> None:
    """Speech stopped, then the first delivered delta yields the turn latency fact."""
    relay = core()
    server(relay, {"type": "input_audio_buffer.speech_stopped", "item_id": "u1"})
    actions = relay.on_audio_delta("{}", "a1", "r1", 960)
    assert any(isinstance(a, Emit) and isinstance(a.payload, TurnLatency) for a in actions)


def rules(**kwargs: Any) -> ClientRules:
    limiter = AudioRateLimiter(rate=4.0, burst_ms=10_000)
    return ClientRules(core(), max_bytes=1 << 20, limiter=limiter, max_audio_rate=4.0, **kwargs)


def test_client_append_is_forwarded_untouched_and_half_samples_refused() -> None:
    """An append is forwarded as the original frame; an odd byte count of pcm16 is refused."""
    frame = json.dumps({"event_id": "e1", "type": "input_audio_buffer.append", "audio": AUDIO})
    (forward,) = rules().on_frame(frame)
    assert isinstance(forward, ForwardUpstream) and forward.raw == frame and forward.audio
    odd = json.dumps({"type": "input_audio_buffer.append", "audio": "AA==", "event_id": "e2"})
    (refusal,) = rules().on_frame(odd)
    assert isinstance(refusal, Refuse) and refusal.client_event_id == "e2"


def test_server_owned_session_fields_are_ignored_or_refused_as_configured() -> None:
    """The agents SDK's session.update (instructions, tracing, tools, model, transcription):
    ignored, the rest forwarded without them; in 'error' mode refused as before."""
    update = {
        "type": "session.update",
        "event_id": "e3",
        "session": {
            "type": "realtime",
            "instructions": "You are a pirate.",
            "model": "gpt-realtime",
            "tracing": "auto",
            "tools": [],
            "tool_choice": "auto",
            "output_modalities": ["audio"],
            "audio": {
                "input": {"transcription": {"model": "x"}, "format": {"type": "audio/pcm"}},
                "output": {"voice": "verse"},
            },
        },
    }
    ignored, forward = rules(server_fields="ignore").on_frame(json.dumps(update))
    assert isinstance(ignored, IgnoreFields)
    assert set(ignored.fields) == {
        "session.instructions",
        "session.model",
        "session.tracing",
        "session.tools",
        "session.tool_choice",
        "session.audio.input.transcription",
    }
    assert isinstance(forward, ForwardUpstream)
    passed = json.loads(forward.raw)["session"]
    assert passed == {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {"input": {"format": {"type": "audio/pcm"}}, "output": {"voice": "verse"}},
    }
    (refusal,) = rules(server_fields="error").on_frame(json.dumps(update))
    assert isinstance(refusal, Refuse) and refusal.error.param == "session.instructions"


_OWNED = ("instructions", "tools", "tool_choice", "prompt", "model", "tracing", "truncation")


@settings(max_examples=200, deadline=None)
@given(
    owned=st.dictionaries(
        st.sampled_from(_OWNED), st.sampled_from([None, "auto", "x", [], {}]), min_size=1
    ),
    voice=st.sampled_from([None, "verse"]),
)
def test_no_server_owned_field_is_ever_forwarded(owned: dict[str, Any], voice: str | None) -> None:
    """Whatever server-owned fields a session.update carries (valid or not), what is
    forwarded carries none of them; an update the GA types refuse is refused, not forwarded."""
    session: dict[str, Any] = {"type": "realtime", **owned}
    if voice is not None:
        session["audio"] = {"output": {"voice": voice}}
    actions = rules(server_fields="ignore").on_frame(
        json.dumps({"type": "session.update", "session": session})
    )
    forwarded = [a for a in actions if isinstance(a, ForwardUpstream)]
    refused = [a for a in actions if isinstance(a, Refuse)]
    assert len(forwarded) + len(refused) == 1
    for action in forwarded:
        passed = json.loads(action.raw)["session"]
        assert not set(passed) & set(_OWNED)
        assert passed.get("audio", {}).get("output", {}).get("voice") == voice


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"input_audio_buffer.append","audio":"@"}'.replace("@", AUDIO),
        '{"type":"input_audio_buffer.append","event_id":"e1","audio":"@"}'.replace("@", AUDIO),
        '{"type":"input_audio_buffer.append","event_id":"e\\"1","audio":"@"}'.replace("@", AUDIO),
        '{"type":"input_audio_buffer.append","event_id":"e\\u00e91","audio":"@"}'.replace(
            "@", AUDIO
        ),
        '{"type":"input_audio_buffer.append","event_id":"","audio":"@"}'.replace("@", AUDIO),
        '{"type":"input_audio_buffer.append","event_id":"e1","audio":"@","event_id":"e2"}'.replace(
            "@", AUDIO
        ),
        '{"type":"input_audio_buffer.append","event_id":5,"audio":"@"}'.replace("@", AUDIO),
        '{ "audio" : "@", "type" : "input_audio_buffer.append", "event_id": "e\\"1" }'.replace(
            "@", AUDIO
        ),
        '{"type":"input_audio_buffer.append","audio":"@","extra":1}'.replace("@", AUDIO),
        '{"type":"input_audio_buffer.append","audio":"AAA"}',
        '{"type":"input_audio_buffer.append","audio":"A\\u0041AA"}',
        '{"type":"input_audio_buffer.append","audio":5}',
        '{"type":"input_audio_buffer.clear","x":{"audio":"@"}}'.replace("@", AUDIO),
    ],
)
def test_appends_read_without_their_audio_get_the_answers_of_a_full_parse(frame: str) -> None:
    """Key order, spacing, escapes elsewhere and refusals: the append fast path decides what
    parsing the whole frame decides."""
    fast = _outcome(frame)
    data = json.loads(frame)
    # the same frame with the audio moved behind an escape, so it can only be parsed whole
    if isinstance(data.get("audio"), str) and data["audio"]:
        first = data["audio"][0]
        slow = json.dumps(data).replace(f'"audio": "{first}', f'"audio": "\\u{ord(first):04x}', 1)
        assert string_span(slow, '"audio"') is None
        assert _outcome(slow)[:2] == fast[:2]
    assert fast[0] in ("ok", "invalid_value", "unknown_parameter", "invalid_event_type")


def _outcome(frame: str) -> tuple[str, Any, Any]:
    try:
        event = inspect_client_event(frame)
    except RealtimeError as exc:
        return exc.code, exc.param, exc.event_id
    return "ok", event.audio_bytes, event.event_id


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"response.output_audio.delta","event_id":"e","response_id":"r1",'
        '"item_id":"a1","output_index":0,"content_index":0,"delta":"@"}',
        '{"delta": "@", "item_id": "a1", "type": "response.output_audio.delta", '
        '"response_id": "r1"}',
        '{"type":"response.output_audio.delta","delta":"@","item_id":"a1","response_id":"r1"}',
        '{"type":"response.output_audio.delta","item_id":"a1","delta": "@","response_id":"r1"}',
        '{"type":"response.output_audio.delta","item_id":"a\\u0031","response_id":"r1",'
        '"delta":"@"}',
    ],
)
def test_audio_deltas_are_read_without_parsing_their_audio(text: str) -> None:
    """In any key order and spacing, and with an escape in a short field, an audio delta
    gives the item, response and audio size that parsing it whole gives."""
    text = text.replace("@", AUDIO)
    event = json.loads(text)
    assert read_audio_delta(text) == (event["item_id"], event["response_id"], 960)
    assert delta_of_event(event) == (event["item_id"], event["response_id"], 960)


def test_other_events_are_not_read_as_audio_deltas() -> None:
    """A transcript delta, an event that only mentions the audio delta type in a value, and
    a truncated frame are left to the JSON parser."""
    words = {"type": "response.output_audio_transcript.delta", "item_id": "a1", "delta": "x" * 40}
    assert read_audio_delta(json.dumps(words)) is None
    mention = {"type": "error", "error": {"message": "bad response.output_audio.delta"}}
    assert read_audio_delta(json.dumps(mention)) is None
    cut = '{"type":"response.output_audio.delta","item_id":"a1","delta":"AAAA'
    assert read_audio_delta(cut) is None


def _started(actions: list[Any]) -> list[StartTool]:
    return [a for a in actions if isinstance(a, StartTool)]


def _call_done(response_id: str, call_id: str) -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.done",
        "response_id": response_id,
        "call_id": call_id,
        "name": "confirm_action",
        "arguments": '{"action_id": "pa_1"}',
    }


def test_calls_carry_the_latest_user_item_as_of_their_response_created() -> None:
    """Every call of a response carries the user item that was latest when the response was
    created; a user item arriving while it runs counts only for the next response."""
    relay = core()
    assert relay.user_item_id is None
    server(relay, {"type": "input_audio_buffer.committed", "item_id": "u1"})
    server(relay, added({"id": "u1", "type": "message", "role": "user", "content": []}, None))
    server(relay, {"type": "response.created", "response": {"id": "r1"}})
    # the customer speaks again mid-response: not this response's turn
    server(relay, {"type": "input_audio_buffer.committed", "item_id": "u2"})
    calls = _started(server(relay, _call_done("r1", "c1")) + server(relay, _call_done("r1", "c2")))
    assert [(c.call_id, c.user_item_id) for c in calls] == [("c1", "u1"), ("c2", "u1")]
    server(relay, {"type": "response.done", "response": {"id": "r1", "output": []}})
    server(relay, {"type": "response.created", "response": {"id": "r2"}})
    assert [c.user_item_id for c in _started(server(relay, _call_done("r2", "c3")))] == ["u2"]
    assert relay.user_item_at == {"r2": "u2"}


def test_typed_user_items_count_and_late_events_do_not_move_the_latest_back() -> None:
    """A typed user message (added, GA; created, preview) is a user turn; a late ``done`` of an
    older user item does not make it the latest again; assistant and tool items never count."""
    relay = core()
    text = {"type": "input_text", "text": "hi"}
    server(relay, added({"id": "u1", "type": "message", "role": "user", "content": [text]}, None))
    server(
        relay,
        {
            "type": "conversation.item.created",
            "item": {"id": "u2", "type": "message", "role": "user", "content": [text]},
        },
    )
    assert relay.user_item_id == "u2"
    server(
        relay,
        {"type": "conversation.item.done", "item": {"id": "u1", "type": "message", "role": "user"}},
    )
    server(relay, added({"id": "a1", "type": "message", "role": "assistant", "content": []}, "u2"))
    server(relay, added(call_item("fc9"), "a1"))
    assert relay.user_item_id == "u2"


def test_a_call_of_a_response_never_seen_starting_has_no_user_item() -> None:
    """No response.created seen for the call's response: no stamp, never the newest item."""
    relay = core()
    server(relay, {"type": "input_audio_buffer.committed", "item_id": "u1"})
    assert [c.user_item_id for c in _started(server(relay, _call_done("r9", "c1")))] == [None]


def test_user_turns_are_tracked_from_a_preview_upstream_too() -> None:
    """Through the preview dialect's translation (``conversation.item.created``, the beta
    content types) a typed item and a committed audio turn are user turns as in GA."""
    from switchboard.gateway.dialect import PreviewDialect

    relay, dialect = core(), PreviewDialect()

    def preview(event: dict[str, Any]) -> None:
        for ga in dialect.server_events(event):
            server(relay, ga)

    text = {"type": "input_text", "text": "yes"}
    item = {"id": "u1", "type": "message", "role": "user", "status": "completed", "content": [text]}
    preview({"type": "conversation.item.created", "previous_item_id": None, "item": item})
    assert relay.user_item_id == "u1"
    preview({"type": "input_audio_buffer.committed", "item_id": "u2", "previous_item_id": "u1"})
    preview({"type": "response.created", "response": {"id": "r1", "object": "realtime.response"}})
    calls = _started(server(relay, _call_done("r1", "c1")))
    assert [c.user_item_id for c in calls] == ["u2"]


def test_the_latest_user_item_survives_a_replay_on_a_new_upstream() -> None:
    """After a swap the gateway replays the conversation with the same item ids: the echoes are
    hidden and the latest user item stays what the customer last said; a response cut by the
    drop leaves no stamp behind."""
    relay = core()
    server(relay, {"type": "input_audio_buffer.committed", "item_id": "u1"})
    server(relay, {"type": "input_audio_buffer.committed", "item_id": "u2"})
    server(relay, {"type": "response.created", "response": {"id": "r1"}})
    relay.response_cut("r1", "ev")
    assert relay.user_item_at == {}
    relay.replayed.update({"u1", "u2"})
    text = [{"type": "input_text", "text": "hello"}]
    server(relay, added({"id": "u1", "type": "message", "role": "user", "content": text}, None))
    assert relay.user_item_id == "u2"
    server(relay, {"type": "response.created", "response": {"id": "r2"}})
    assert [c.user_item_id for c in _started(server(relay, _call_done("r2", "c1")))] == ["u2"]
