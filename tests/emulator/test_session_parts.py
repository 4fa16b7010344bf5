"""The session's pure parts without sockets: the input buffer's bookkeeping, the conversation's
item rules and truncation arithmetic, a response's budget and ``realtime.response`` object, and
the table of client event handlers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from switchboard.contracts.realtime import CLIENT_EVENT_TYPES
from switchboard.contracts.realtime_preview import PREVIEW_CLIENT_EVENT_TYPES
from switchboard.emulator.config import ResponseConfig, SessionConfig
from switchboard.emulator.conversation import (
    Conversation,
    last_call,
    trailing_outputs,
    truncated_transcript,
)
from switchboard.emulator.errors import ProtocolError
from switchboard.emulator.input_buffer import InputBuffer, samples_to_ms
from switchboard.emulator.response import Response, budget, response_object, tokens
from switchboard.emulator.session import CLIENT_EVENT_HANDLERS


def _pcm(samples: int, start: int = 0) -> np.ndarray:
    """*samples* of 16 kHz audio whose values count up from *start* (to see what was kept)."""
    return np.arange(start, start + samples, dtype=np.int64).astype(np.int16)


def _assistant_audio(item_id: str, transcript: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": transcript}],
    }


# -- input buffer -------------------------------------------------------------------------------


def test_buffer_counts_what_it_holds_and_what_came_in() -> None:
    """Added audio counts in the buffer and in the session's received audio, in samples and ms."""
    buffer = InputBuffer()
    buffer.add(_pcm(8000))
    buffer.add(_pcm(1600, start=8000))
    assert (buffer.samples, buffer.total_samples, buffer.start) == (9600, 9600, 0)
    assert (buffer.duration_ms, buffer.received_ms, buffer.start_ms) == (600, 600, 0)
    assert np.array_equal(buffer.audio(), _pcm(9600))


def test_buffer_drops_audio_before_a_position() -> None:
    """Dropping before a position keeps the audio from there on and moves the buffer's start."""
    buffer = InputBuffer()
    buffer.add(_pcm(16_000))
    buffer.drop_before(250)  # 4000 samples
    assert (buffer.start, buffer.samples, buffer.total_samples) == (4000, 12_000, 16_000)
    assert buffer.audio()[0] == 4000 and buffer.audio().size == 12_000
    buffer.drop_before(100)  # before the buffer's start: nothing to drop
    assert (buffer.start, buffer.samples) == (4000, 12_000)
    buffer.drop_before(5000)  # past the end: everything goes, the start stops at the end
    assert (buffer.start, buffer.samples) == (16_000, 0)


def test_a_cleared_buffer_starts_again_at_the_next_audio() -> None:
    """After a clear the buffer is empty and begins where the received audio ends."""
    buffer = InputBuffer()
    buffer.add(_pcm(3200))
    buffer.clear()
    assert (buffer.samples, buffer.start, buffer.total_samples) == (0, 3200, 3200)
    buffer.add(_pcm(1600, start=3200))
    assert buffer.start_ms == 200 and buffer.duration_ms == 100 and buffer.received_ms == 300
    assert buffer.audio()[0] == 3200


def test_samples_become_whole_milliseconds() -> None:
    """16 kHz sample counts turn into ms rounded down."""
    assert [samples_to_ms(n) for n in (0, 15, 16, 16_000, 16_015)] == [0, 0, 1, 1000, 1000]


# -- conversation -------------------------------------------------------------------------------


def test_created_items_go_where_the_client_says() -> None:
    """Items go at the end, first (``root``) or after a named item, with id, object and status."""
    conversation = Conversation()
    a = conversation.create({"type": "message", "role": "user", "content": []}, None)
    b = conversation.create({"id": "item_b", "type": "message", "role": "user"}, "root")
    c = conversation.create({"id": "item_c", "type": "message", "role": "user"}, "item_b")
    assert a["id"].startswith("item_") and a["object"] == "realtime.item"
    assert a["status"] == "completed"
    assert [i["id"] for i in conversation.items] == ["item_b", "item_c", a["id"]]
    assert conversation.previous_id(b) is None and conversation.previous_id(a) == "item_c"
    assert conversation.previous_id(c) == "item_b"


def test_item_rules_are_protocol_errors() -> None:
    """A repeated id, an output for an unknown call and an unknown item are refused by code."""
    conversation = Conversation()
    conversation.create({"id": "item_a", "type": "message", "role": "user"}, None)
    with pytest.raises(ProtocolError) as repeated:
        conversation.create({"id": "item_a", "type": "message", "role": "user"}, None)
    assert (repeated.value.code, repeated.value.param) == ("item_already_exists", "item.id")
    with pytest.raises(ProtocolError) as orphan:
        conversation.create({"type": "function_call_output", "call_id": "call_x"}, None)
    assert orphan.value.param == "item.call_id"
    with pytest.raises(ProtocolError) as missing:
        conversation.create({"type": "message", "role": "user"}, "item_nope")
    assert (missing.value.code, missing.value.param) == ("item_not_found", "previous_item_id")
    assert [i["id"] for i in conversation.items] == ["item_a"]
    with pytest.raises(ProtocolError):
        conversation.delete("item_nope")
    assert conversation.delete("item_a")["id"] == "item_a" and conversation.items == []


def test_appended_items_report_what_they_follow() -> None:
    """Appending returns the id of the item before, None for the first."""
    conversation = Conversation()
    assert conversation.append({"id": "item_1"}) is None
    assert conversation.append({"id": "item_2"}) == "item_1"


def test_truncation_keeps_the_heard_share_of_the_transcript() -> None:
    """Truncating at a point keeps that share of the words and records the audio now left."""
    conversation = Conversation()
    conversation.append(_assistant_audio("item_a", "one two three four five six seven eight"))
    conversation.audio_ms["item_a"] = 2000
    item = conversation.truncate("item_a", 0, 1000)
    assert item["content"][0]["transcript"] == "one two three four"
    assert conversation.audio_ms["item_a"] == 1000
    assert conversation.truncate("item_a", 0, 0)["content"][0]["transcript"] == ""


def test_truncation_refuses_what_the_service_refuses() -> None:
    """Past the audio produced, a negative end, a non-audio part or a user item is refused."""
    conversation = Conversation()
    conversation.append(_assistant_audio("item_a", "hello there"))
    conversation.append({"id": "item_u", "type": "message", "role": "user", "content": []})
    conversation.audio_ms["item_a"] = 700
    with pytest.raises(ProtocolError) as past:
        conversation.truncate("item_a", 0, 701)
    assert past.value.message == "Audio content of 700ms is already shorter than 701ms"
    assert past.value.param == "audio_end_ms"
    with pytest.raises(ProtocolError) as negative:
        conversation.truncate("item_a", 0, -1)
    assert negative.value.param == "audio_end_ms"
    with pytest.raises(ProtocolError) as part:
        conversation.truncate("item_a", 1, 100)
    assert part.value.param == "content_index"
    with pytest.raises(ProtocolError) as user:
        conversation.truncate("item_u", 0, 100)
    assert user.value.param == "item_id"
    assert conversation.items[0]["content"][0]["transcript"] == "hello there"
    assert conversation.audio_ms["item_a"] == 700


@pytest.mark.parametrize(
    ("end_ms", "produced_ms", "kept"),
    [(0, 1000, ""), (999, 1000, "a b c"), (1000, 1000, "a b c d"), (500, 0, "")],
)
def test_truncated_transcript_rounds_down(end_ms: int, produced_ms: int, kept: str) -> None:
    """The words kept are the heard share rounded down (none when no audio was produced)."""
    assert truncated_transcript("a b c d", end_ms, produced_ms) == kept


def test_trailing_outputs_and_last_call_read_the_conversation() -> None:
    """Outputs since the last user message come back in call order with their tool names; the
    last call can leave out some tools' calls (the confirmation protocol's)."""
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "user"},
        {"type": "function_call_output", "call_id": "call_old", "output": "old"},
        {"type": "message", "role": "user"},
        {"type": "function_call", "call_id": "call_1", "name": "a", "arguments": '{"x": 1}'},
        {"type": "function_call", "call_id": "call_2", "name": "b", "arguments": "not json"},
        {"type": "function_call_output", "call_id": "call_1", "output": "one"},
        {"type": "function_call_output", "call_id": "call_2", "output": 2},
    ]
    conversation = Conversation()
    for n, item in enumerate(items):
        conversation.append({"id": f"item_{n}", **item})
    names = conversation.call_names()
    assert names == {"call_1": "a", "call_2": "b"}
    assert trailing_outputs(items, names) == [("a", "one"), ("b", "2")]
    assert last_call(items) == ("b", {})
    assert last_call(items[:4]) == ("a", {"x": 1})
    assert last_call(items[:3]) is None
    assert last_call(items, skip=frozenset({"b"})) == ("a", {"x": 1})


# -- responses ----------------------------------------------------------------------------------


def test_token_estimate_is_about_four_characters() -> None:
    """Tokens are a quarter of the characters rounded up, at least one for any text."""
    assert [tokens(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]


def test_budget_cuts_at_the_limit_and_says_so() -> None:
    """Text over the token limit is cut to whole words; within it only spacing is normalised."""
    assert budget("one two  three", "inf") == ("one two  three", False)
    assert budget("one two  three", 100) == ("one two three", False)
    kept, cut = budget("alpha beta gamma delta", 3)
    assert (kept, cut) == ("alpha beta", True) and tokens(kept) <= 3
    assert budget("overlong", 1) == ("", True)


def _response(**overrides: Any) -> Response:
    config = ResponseConfig.build(SessionConfig(session_id="sess_t", model="m"), overrides or None)
    return Response(id="resp_1", config=config)


def test_response_object_in_progress_has_no_usage() -> None:
    """An in-progress response object carries its config, a copy of its output and no usage."""
    response = _response()
    response.output.append({"id": "item_1", "status": "in_progress"})
    doc = response_object(response, "in_progress", session_id="s1", items=[], input_audio_ms=[])
    assert doc["status"] == "in_progress" and doc["usage"] is None
    assert doc["status_details"] is None and doc["conversation_id"] == "conv_s1"
    assert doc["output"] == response.output and doc["output"][0] is not response.output[0]
    assert doc["audio"] == {"output": {"format": {"type": "audio/pcm"}, "voice": "alloy"}}
    json.dumps(doc)


def test_response_object_counts_usage_when_done() -> None:
    """A finished response counts text tokens of every item, user audio per 100 ms and its own
    audio per 50 ms."""
    response = _response()
    response.output_text_tokens = 5
    response.output_audio_ms = 1010
    items = [
        {"content": [{"type": "input_text", "text": "abcdefgh"}]},  # 2 tokens
        {"content": [{"type": "output_audio", "transcript": "abc"}]},  # 1
        {"type": "function_call"},
    ]
    doc = response_object(
        response, "completed", session_id="s1", items=items, input_audio_ms=[1000, 1050]
    )
    assert doc["usage"] == {
        "total_tokens": 3 + 21 + 5 + 21,
        "input_tokens": 3 + 21,
        "output_tokens": 5 + 21,
        "input_token_details": {"text_tokens": 3, "audio_tokens": 21, "cached_tokens": 0},
        "output_token_details": {"text_tokens": 5, "audio_tokens": 21},
    }
    assert doc["status_details"] is None


def test_response_object_says_why_it_stopped() -> None:
    """Cancelled, incomplete and failed responses carry their reason; out-of-band ones no
    conversation."""
    response = _response(conversation="none")
    response.cancel_reason = "turn_detected"
    response.incomplete_reason = "max_output_tokens"

    def details(status: str) -> Any:
        doc = response_object(response, status, session_id="s1", items=[], input_audio_ms=[])
        assert doc["conversation_id"] is None
        return doc["status_details"]

    assert details("cancelled") == {"type": "cancelled", "reason": "turn_detected"}
    assert details("incomplete") == {"type": "incomplete", "reason": "max_output_tokens"}
    assert details("failed") == {
        "type": "failed",
        "error": {"type": "server_error", "code": "emulator_error"},
    }


# -- dispatch -----------------------------------------------------------------------------------


def test_every_client_event_type_has_one_handler() -> None:
    """Every GA client event type but the append (taken in by the inbox) has a handler, and every
    preview type the dialect passes on arrives under a handled name."""
    assert set(CLIENT_EVENT_HANDLERS) == set(CLIENT_EVENT_TYPES) - {"input_audio_buffer.append"}
    passed_on = set(PREVIEW_CLIENT_EVENT_TYPES) - {"transcription_session.update"}
    assert passed_on - {"input_audio_buffer.append"} <= set(CLIENT_EVENT_HANDLERS)
