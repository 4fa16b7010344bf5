"""The emulator's GA wire protocol through the official openai SDK client: sessions, text turns,
function calling, cancellation, truncation and every error the service answers with."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import websockets
from openai import AsyncOpenAI

from tests.support.clients import EventLog
from tests.support.emulator import Emulator
from tests.support.realtime import ORDER_TOOLS


async def user_says(log: EventLog, text: str) -> None:
    await log.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )


async def test_session_created_names_the_deployment_not_a_real_model(ga: EventLog) -> None:
    """session.created echoes the requested deployment as the model and marks the emulator in the id."""
    created = await ga.until("session.created")
    assert created["session"]["model"] == "switchboard-test"
    assert created["session"]["id"].startswith("sess_emu_")
    assert created["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}


async def test_session_update_merges_fields(ga: EventLog) -> None:
    """session.update changes only the fields it names and answers with the whole merged session."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "instructions": "Be brief.", "tools": ORDER_TOOLS},
        }
    )
    first = (await ga.until("session.updated"))["session"]
    await ga.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcmu"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                    },
                    "output": {"format": {"type": "audio/pcma"}, "voice": "verse"},
                },
                "max_output_tokens": 200,
            },
        }
    )
    second = (await ga.until("session.updated"))["session"]
    assert first["instructions"] == second["instructions"] == "Be brief."
    assert [t["name"] for t in second["tools"]] == ["check_order_status", "cancel_order"]
    assert second["audio"]["input"]["format"]["type"] == "audio/pcmu"
    assert second["audio"]["output"]["format"]["type"] == "audio/pcma"
    assert second["audio"]["output"]["voice"] == "verse"
    assert second["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 300
    assert second["audio"]["input"]["turn_detection"]["threshold"] == 0.5
    assert second["max_output_tokens"] == 200


@pytest.mark.parametrize(
    ("session", "param"),
    [
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}},
            },
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"type": "realtime", "audio": {"output": {"voice": "hal9000"}}},
            "session.audio.output.voice",
        ),
        (
            {"type": "realtime", "audio": {"input": {"format": {"type": "audio/mp3"}}}},
            "session.audio.input.format",
        ),
        ({"type": "realtime", "max_output_tokens": 0}, "session.max_output_tokens"),
        (
            {"type": "realtime", "tool_choice": {"type": "function", "name": "nope"}},
            "session.tool_choice.name",
        ),
        ({"type": "realtime", "colour": "blue"}, "session.colour"),
        ({"instructions": "no type"}, "session.type"),
    ],
)
async def test_invalid_session_field_is_an_error_naming_it(
    ga: EventLog, session: dict[str, Any], param: str
) -> None:
    """A bad session field gets invalid_request_error naming the param; the session stays usable and unchanged."""
    await ga.until("session.created")
    await ga.send({"type": "session.update", "event_id": "evt_bad", "session": session})
    error = await ga.until("error")
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["param"].startswith(param)
    assert error["error"]["event_id"] == "evt_bad"
    await ga.send(
        {"type": "session.update", "session": {"type": "realtime", "instructions": "still here"}}
    )
    updated = await ga.until("session.updated")
    assert updated["session"]["instructions"] == "still here"
    assert updated["session"]["audio"]["output"]["voice"] == "alloy"


async def test_text_turn_with_tool_call_round_trip(ga: EventLog) -> None:
    """A spoken-digit order id becomes a function call; its output is summarised faithfully in audio."""
    await ga.until("session.created")
    await ga.send({"type": "session.update", "session": {"type": "realtime", "tools": ORDER_TOOLS}})
    await ga.until("session.updated")
    await user_says(ga, "What is the status of order one zero zero zero zero one?")
    await ga.send({"type": "response.create"})
    events = await ga.collect_until("response.done")
    done = events[-1]["response"]
    assert done["status"] == "completed"
    call = done["output"][0]
    assert call["type"] == "function_call" and call["name"] == "check_order_status"
    assert json.loads(call["arguments"]) == {"order_id": 100001}
    deltas = "".join(
        e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
    )
    assert deltas == call["arguments"]
    await ga.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": json.dumps(
                    {"order_id": 100001, "status": "in_transit", "carrier": "UPS"}
                ),
            },
        }
    )
    await ga.send({"type": "response.create"})
    events = await ga.collect_until("response.done")
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")[
        "transcript"
    ]
    assert "in transit" in transcript and "UPS" in transcript and "100001" in transcript
    assert any(e["type"] == "response.output_audio.delta" for e in events)
    usage = events[-1]["response"]["usage"]
    assert usage["output_token_details"]["audio_tokens"] > 0


async def test_missing_argument_is_asked_for(ga: EventLog) -> None:
    """A request without the required order id makes the assistant ask for it; the answer and a yes complete the call."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "tools": ORDER_TOOLS, "output_modalities": ["text"]},
        }
    )
    await ga.until("session.updated")
    await user_says(ga, "I want to cancel my order")
    await ga.send({"type": "response.create"})
    events = await ga.collect_until("response.done")
    question = next(e for e in events if e["type"] == "response.output_text.done")["text"]
    assert "order id" in question
    assert not [e for e in events if e["type"] == "response.output_audio.delta"]
    await user_says(ga, "It is one zero zero zero zero four, I found it cheaper elsewhere")
    await ga.send({"type": "response.create"})
    # cancelling changes data: the assistant reads the request back and waits for a yes
    events = await ga.collect_until("response.done")
    confirm = next(e for e in events if e["type"] == "response.output_text.done")["text"]
    assert "cancel order 100004" in confirm and "yes or no" in confirm
    await user_says(ga, "Yes, please.")
    await ga.send({"type": "response.create"})
    done = (await ga.until("response.done"))["response"]
    call = done["output"][0]
    assert call["name"] == "cancel_order"
    assert json.loads(call["arguments"]) == {
        "order_id": 100004,
        "reason": "I found it cheaper elsewhere",
    }


async def test_response_create_while_active_is_rejected(ga: EventLog) -> None:
    """A second response.create during a response gets conversation_already_has_active_response."""
    await ga.until("session.created")
    await user_says(ga, "Hello there, tell me something long please.")
    await ga.send({"type": "response.create"})
    await ga.until("response.created")
    await ga.send({"type": "response.create"})
    error = await ga.until("error")
    assert error["error"]["code"] == "conversation_already_has_active_response"
    await ga.until("response.done")


async def test_response_cancel_cancels(ga: EventLog) -> None:
    """response.cancel during a response ends it with status cancelled (client_cancelled)."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "response.create",
            "response": {
                "instructions": 'Say "This is a long sentence that keeps going. And another one follows it. And a third one too."'
            },
        }
    )
    await ga.until("response.output_audio.delta")
    await ga.send({"type": "response.cancel"})
    done = (await ga.until("response.done"))["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "client_cancelled"
    assert done["output"][0]["status"] == "incomplete"


async def test_response_cancel_without_response_is_an_error(ga: EventLog) -> None:
    """response.cancel with nothing running gets response_cancel_not_active."""
    await ga.until("session.created")
    await ga.send({"type": "response.cancel"})
    error = await ga.until("error")
    assert error["error"]["code"] == "response_cancel_not_active"


async def test_truncate_and_truncate_past_the_audio(ga: EventLog) -> None:
    """Truncating within the produced audio works; past it is rejected like the real service does."""
    await ga.until("session.created")
    await ga.send(
        {
            "type": "response.create",
            "response": {"instructions": 'Say "Thanks for calling the shop. How can I help?"'},
        }
    )
    events = await ga.collect_until("response.done")
    item = events[-1]["response"]["output"][0]
    samples = sum(
        len(__import__("base64").b64decode(e["delta"])) // 2
        for e in events
        if e["type"] == "response.output_audio.delta"
    )
    produced_ms = samples * 1000 // 24000
    await ga.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": produced_ms + 500,
        }
    )
    error = await ga.until("error")
    assert error["error"]["param"] == "audio_end_ms"
    assert "shorter than" in error["error"]["message"]
    await ga.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": produced_ms // 2,
        }
    )
    truncated = await ga.until("conversation.item.truncated")
    assert truncated["audio_end_ms"] == produced_ms // 2
    await ga.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
    retrieved = await ga.until("conversation.item.retrieved")
    full = item["content"][0]["transcript"]
    assert len(retrieved["item"]["content"][0]["transcript"]) < len(full)


async def test_protocol_errors_keep_the_session(ga: EventLog) -> None:
    """Unknown event types, bad JSON, unknown items, empty commits and bad audio each get an error; the session goes on."""
    await ga.until("session.created")
    await ga.connection.send({"type": "no.such.event"})
    assert (await ga.until("error"))["error"]["param"] == "type"
    await ga.connection.send({"type": "conversation.item.delete", "item_id": "item_missing"})
    assert (await ga.until("error"))["error"]["code"] == "item_not_found"
    await ga.connection.send({"type": "input_audio_buffer.commit"})
    assert (await ga.until("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
    await ga.connection.send({"type": "input_audio_buffer.append", "audio": "***"})
    assert (await ga.until("error"))["error"]["param"] == "audio"
    await ga.connection.send(
        {"type": "conversation.item.truncate", "item_id": "item_missing", "content_index": 0}
    )
    assert (await ga.until("error"))["error"]["param"] == "audio_end_ms"
    await ga.send({"type": "input_audio_buffer.clear"})
    await ga.until("input_audio_buffer.cleared")


async def test_invalid_json_is_an_error(emulator: Emulator) -> None:
    """A frame that is not JSON gets an invalid_json error event and the session stays open."""
    async with websockets.connect(
        f"{emulator.ws}/openai/v1/realtime?model=d",
        additional_headers={"api-key": emulator.api_key},
    ) as ws:
        log = EventLog(ws, dialect="ga")
        await log.until("session.created")
        await ws.send("{not json")
        assert (await log.until("error"))["error"]["code"] == "invalid_json"
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        await log.until("input_audio_buffer.cleared")
        log.check_all_valid()


@pytest.mark.parametrize(
    "headers",
    [{}, {"api-key": "wrong"}, {"Authorization": "Bearer wrong"}],
)
async def test_bad_key_is_401_before_upgrade(emulator: Emulator, headers: dict[str, str]) -> None:
    """A missing or wrong key is refused with HTTP 401 before the websocket upgrade."""
    with pytest.raises(websockets.exceptions.InvalidStatus) as excinfo:
        async with websockets.connect(
            f"{emulator.ws}/openai/v1/realtime?model=d", additional_headers=headers
        ):
            pass
    assert excinfo.value.response.status_code == 401


async def test_sdk_with_wrong_key_fails(emulator: Emulator) -> None:
    """The official SDK client with a wrong key cannot connect."""
    client = AsyncOpenAI(api_key="wrong", websocket_base_url=f"{emulator.ws}/v1")
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with client.realtime.connect(model="d"):
            pass


async def test_browser_subprotocols_select_realtime(emulator: Emulator) -> None:
    """A browser-style client authenticating by subprotocol gets the realtime subprotocol selected."""
    protocols = ["realtime", f"openai-insecure-api-key.{emulator.api_key}"]
    async with websockets.connect(
        f"{emulator.ws}/v1/realtime?model=d", subprotocols=protocols
    ) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "realtime"
        log = EventLog(ws)
        await log.until("session.created")
        log.check_all_valid()


async def test_info_endpoint_says_what_it_is(emulator: Emulator) -> None:
    """GET / identifies the service as the switchboard emulator, not a model."""
    async with httpx.AsyncClient() as client:
        info = (await client.get(f"{emulator.http}/")).json()
        metrics = (await client.get(f"{emulator.http}/metrics")).text
    assert info["service"] == "switchboard-emulator"
    assert "switchboard_emulator_active_sessions" in metrics
