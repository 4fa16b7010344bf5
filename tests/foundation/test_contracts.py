"""Broker contracts: JSON round trips, and malformed messages rejected loudly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from switchboard.contracts import (
    AssistantTranscript,
    ConversationEvent,
    SessionEnded,
    SessionStarted,
    ToolCallRequest,
    ToolCallResult,
    ToolCatalogEntry,
    ToolCompleted,
    ToolError,
    ToolErrorCode,
    encode_conversation_events,
    group_by_type,
    is_event_batch,
    parse_conversation_event,
    parse_conversation_events,
    parse_tool_call_request,
    parse_tool_call_result,
    split_conversation_events,
)
from switchboard.contracts.realtime import (
    CLIENT_EVENT_TYPES,
    SERVER_EVENT_TYPES,
    validate_client_event,
    validate_server_event,
)

DEADLINE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _request(**overrides: object) -> ToolCallRequest:
    fields: dict[str, object] = {
        "call_id": "call_1",
        "session_id": "sess_1",
        "customer_id": "cus_0001",
        "tool": "check_order_status",
        "arguments": {"order_id": 100001},
        "deadline": DEADLINE,
    }
    fields.update(overrides)
    return ToolCallRequest.model_validate(fields)


def test_tool_call_request_round_trips() -> None:
    """A request survives JSON serialisation unchanged."""
    request = _request()
    assert parse_tool_call_request(request.model_dump_json()) == request


def test_tool_call_result_round_trips_both_outcomes() -> None:
    """Successful and failed results both survive JSON serialisation."""
    ok = ToolCallResult(
        call_id="c", ok=True, output={"status": "shipped"}, duration_ms=1.5, worker="w1"
    )
    failed = ToolCallResult(
        call_id="c",
        ok=False,
        duration_ms=0.2,
        worker="w1",
        error=ToolError(code=ToolErrorCode.NOT_FOUND, message="No such order."),
    )
    assert parse_tool_call_result(ok.model_dump_json()) == ok
    assert parse_tool_call_result(failed.model_dump_json()) == failed
    assert json.loads(failed.model_text()) == {
        "error": {"code": "not_found", "message": "No such order."}
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{}",
        json.dumps({"type": "tool.call.request", "call_id": "c"}).encode(),
        _request().model_dump_json().replace('"version":1', '"version":2').encode(),
        _request().model_dump_json().replace("check_order_status", "bad tool!").encode(),
        _request().model_dump_json().replace('"sess_1"', '"sess_1","extra":1').encode(),
        _request().model_dump_json().replace("+00:00", "").replace("Z", "").encode(),
    ],
)
def test_malformed_requests_are_rejected(raw: bytes) -> None:
    """Garbage, missing fields, unknown versions, bad names, extras and naive times all fail."""
    with pytest.raises(ValidationError):
        parse_tool_call_request(raw)


def test_result_must_be_consistent() -> None:
    """A failed result needs an error, and a successful one must not carry one."""
    with pytest.raises(ValidationError):
        ToolCallResult(call_id="c", ok=False, duration_ms=1, worker="w")
    with pytest.raises(ValidationError):
        ToolCallResult(
            call_id="c",
            ok=True,
            duration_ms=1,
            worker="w",
            error=ToolError(code=ToolErrorCode.INTERNAL, message="x"),
        )


def test_deadline_expiry() -> None:
    """A request knows whether its deadline has passed."""
    request = _request()
    assert request.expired(DEADLINE + timedelta(seconds=1))
    assert not request.expired(DEADLINE - timedelta(seconds=1))


def test_catalog_entry_refuses_customer_id_in_schema() -> None:
    """No tool schema shown to the model may ask for a customer id."""
    schema = {"type": "object", "properties": {"customer_id": {"type": "string"}}}
    with pytest.raises(ValidationError, match="customer id"):
        ToolCatalogEntry(name="t", description="d", parameters=schema)
    entry = ToolCatalogEntry(
        name="t", description="d", parameters={"type": "object", "properties": {}}
    )
    assert entry.realtime_tool()["type"] == "function"


def test_conversation_events_round_trip_through_one_union() -> None:
    """Every payload kind parses back to its own class through the envelope."""
    payloads = [
        SessionStarted(customer_id="cus_1", gateway="g1", upstream="emulator", model="m"),
        AssistantTranscript(item_id="i", text="Hello there", interrupted=True, heard_text="Hel"),
        ToolCompleted(call_id="c", tool="t", ok=True, output={"a": 1}, duration_ms=3),
        SessionEnded(reason="client_closed"),
    ]
    for seq, payload in enumerate(payloads):
        event = ConversationEvent(session_id="s", seq=seq, payload=payload)
        parsed = parse_conversation_event(event.model_dump_json())
        assert parsed == event
        assert type(parsed.payload) is type(payload)


def test_a_message_holds_one_event_or_several_of_one_type() -> None:
    """One event is encoded as itself (the single-event wire format), several as a JSON array;
    both parse back; grouping keeps each type's events in the order given."""
    events = [
        ConversationEvent(session_id="s", seq=i, payload=SessionEnded(reason=f"r{i}"))
        for i in range(3)
    ]
    mixed = [events[0], _started(1), events[1], _started(2), events[2]]
    groups = group_by_type(mixed)
    assert list(groups) == ["session.ended", "session.started"]
    assert groups["session.ended"] == events
    assert [e.seq for e in groups["session.started"]] == [1, 2]
    one = encode_conversation_events(events[:1])
    assert one == events[0].model_dump_json().encode()
    assert parse_conversation_events(one) == events[:1]
    several = encode_conversation_events(events)
    assert json.loads(several)[2] == json.loads(events[2].model_dump_json())
    assert parse_conversation_events(b" \n" + several) == events
    assert is_event_batch(several) and is_event_batch(b" \n" + several)
    assert not is_event_batch(one) and not is_event_batch(b"")
    with pytest.raises(ValueError):
        encode_conversation_events([])


def _started(seq: int) -> ConversationEvent:
    payload = SessionStarted(customer_id="c", gateway="g", upstream="emulator", model="m")
    return ConversationEvent(session_id="s", seq=seq, payload=payload)


def test_a_bad_array_is_rejected_whole_and_split_into_parts() -> None:
    """One bad element fails the whole message; split gives each element back as a body of its
    own (the good ones parse), and None for what is not a readable array."""
    good = _started(0)
    body = json.dumps([json.loads(good.model_dump_json()), {"seq": -1}, 7]).encode()
    with pytest.raises(ValidationError):
        parse_conversation_events(body)
    parts = split_conversation_events(body)
    assert parts is not None and len(parts) == 3
    assert parse_conversation_event(parts[0]) == good
    assert json.loads(parts[1]) == {"seq": -1} and parts[2] == b"7"
    assert split_conversation_events(b"[not json") is None
    assert split_conversation_events(good.model_dump_json()) is None
    with pytest.raises(ValidationError):
        parse_conversation_events(b"[1, 2")


@pytest.mark.parametrize(
    "doc",
    [
        {"session_id": "s", "seq": 0, "payload": {"type": "nope"}},
        {"session_id": "s", "seq": -1, "payload": {"type": "session.ended", "reason": "x"}},
        {"session_id": "", "seq": 0, "payload": {"type": "session.ended", "reason": "x"}},
        {"session_id": "s", "seq": 0, "payload": {"type": "session.ended"}},
    ],
)
def test_malformed_events_are_rejected(doc: dict[str, object]) -> None:
    """Unknown payload types, negative sequence numbers and missing fields fail validation."""
    with pytest.raises(ValidationError):
        parse_conversation_event(json.dumps(doc))


def test_realtime_adapters_know_the_ga_protocol() -> None:
    """GA client and server events validate; beta names and unknown types do not."""
    assert "response.create" in CLIENT_EVENT_TYPES
    assert "response.output_audio.delta" in SERVER_EVENT_TYPES
    assert "response.audio.delta" not in SERVER_EVENT_TYPES
    event = validate_client_event({"type": "input_audio_buffer.append", "audio": "AAAA"})
    assert event.type == "input_audio_buffer.append"
    server = validate_server_event(
        {
            "type": "response.output_audio.delta",
            "event_id": "e",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "delta": "AAAA",
        }
    )
    assert server.delta == "AAAA"
    with pytest.raises(ValidationError):
        validate_client_event({"type": "session.hack"})
    with pytest.raises(ValidationError):
        validate_server_event({"type": "response.audio.delta", "event_id": "e"})


def test_failure_builds_the_same_result_as_by_hand() -> None:
    """``ToolCallResult.failure`` is a failed result with the error, no output, and the same JSON
    as the one built field by field."""
    by_hand = ToolCallResult(
        call_id="c",
        ok=False,
        error=ToolError(code=ToolErrorCode.UNAVAILABLE, message="Try later."),
        duration_ms=0,
        worker="gateway",
    )
    made = ToolCallResult.failure("c", ToolErrorCode.UNAVAILABLE, "Try later.", worker="gateway")
    assert made.model_dump_json() == by_hand.model_dump_json()
    assert (made.ok, made.output) == (False, None)
    with_field = ToolCallResult.failure(
        "c", ToolErrorCode.INVALID_ARGUMENTS, "Bad.", worker="w1", field="order_id", duration_ms=2
    )
    assert with_field.error == ToolError(
        code=ToolErrorCode.INVALID_ARGUMENTS, message="Bad.", field="order_id"
    )
    assert with_field.duration_ms == 2


def test_client_event_builders_make_valid_ga_client_events() -> None:
    """Every builder's event is a valid GA client event for the SDK's own types."""
    from switchboard.contracts import client_events as build
    from switchboard.contracts.realtime import client_event_adapter

    events = [
        build.audio_append("AAAA"),
        build.audio_commit(),
        build.user_text("Where is my order 100001?"),
        build.function_call_output("call_1", '{"status": "shipped"}'),
        build.response_create(),
        build.response_create(conversation="none", output_modalities=["audio"]),
        build.response_cancel(),
        build.session_update(audio={"input": {"transcription": {"model": "whisper-1"}}}),
    ]
    for event in events:
        parsed = client_event_adapter.validate_python(event)
        assert parsed.type == event["type"]
    assert build.user_text("hi")["item"]["content"] == [{"type": "input_text", "text": "hi"}]
    assert "response" not in build.response_create()
