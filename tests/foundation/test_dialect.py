"""The one GA ⇄ preview translation (switchboard.contracts.dialect), used by the gateway towards a
preview upstream and by the emulator towards preview clients: each direction undoes the other."""

from __future__ import annotations

from typing import Any

from switchboard.contracts.dialect import (
    GA_SERVER_EVENT,
    PREVIEW_SERVER_EVENT,
    item_to_ga,
    item_to_preview,
    response_create_to_ga,
    response_create_to_preview,
    response_object_to_ga,
    response_object_to_preview,
    session_object_to_ga,
    session_object_to_preview,
    session_update_to_ga,
    session_update_to_preview,
)

ASSISTANT = {
    "type": "message",
    "role": "assistant",
    "content": [
        {"type": "output_text", "text": "Hi"},
        {"type": "output_audio", "transcript": "Hi"},
    ],
}
GA_SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_1",
    "model": "gpt-realtime",
    "output_modalities": ["audio"],
    "instructions": "Be brief.",
    "tools": [{"type": "function", "name": "check_order_status", "parameters": {}}],
    "tool_choice": "auto",
    "max_output_tokens": 512,
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "transcription": {"model": "whisper-1"},
            "noise_reduction": None,
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
        },
        "output": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "voice": "shimmer",
            "speed": 1.0,
        },
    },
    "expires_at": 1_900_000_000,
}


def test_server_event_names_are_one_table_read_both_ways() -> None:
    assert {v: k for k, v in PREVIEW_SERVER_EVENT.items()} == GA_SERVER_EVENT
    assert PREVIEW_SERVER_EVENT["response.output_audio.delta"] == "response.audio.delta"


def test_an_assistant_item_goes_to_preview_and_back_unchanged() -> None:
    preview = item_to_preview(ASSISTANT)
    assert [p["type"] for p in preview["content"]] == ["text", "audio"]
    assert ASSISTANT["content"][0]["type"] == "output_text"  # a copy, not the caller's dict
    assert item_to_ga(preview) == ASSISTANT
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    assert item_to_ga(user) is user


def test_a_session_update_goes_to_preview_and_back() -> None:
    update: dict[str, Any] = {
        "type": "realtime",
        "instructions": "Be brief.",
        "output_modalities": ["audio"],
        "max_output_tokens": 512,
        "audio": {
            "input": {
                "format": {"type": "audio/pcma"},
                "turn_detection": {"type": "server_vad", "threshold": 0.6},
                "transcription": None,
                "noise_reduction": {"type": "near_field"},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy", "speed": 1.1},
        },
    }
    flat = session_update_to_preview(update)
    assert flat["input_audio_format"] == "g711_alaw" and flat["output_audio_format"] == "g711_ulaw"
    assert flat["modalities"] == ["audio", "text"] and flat["max_response_output_tokens"] == 512
    assert session_update_to_ga(flat) == update


def test_a_response_create_goes_to_preview_and_back() -> None:
    response: dict[str, Any] = {
        "instructions": "Say hi",
        "conversation": "none",
        "metadata": {"switchboard": "filler"},
        "output_modalities": ["text"],
        "max_output_tokens": 40,
        "audio": {"output": {"voice": "alloy", "format": {"type": "audio/pcm"}}},
        "input": [ASSISTANT],
    }
    preview = response_create_to_preview(response)
    assert preview["modalities"] == ["text"] and preview["output_audio_format"] == "pcm16"
    assert preview["input"][0]["content"][0]["type"] == "text"
    assert response_create_to_ga(preview) == response


def test_session_and_response_objects_go_to_preview_and_back() -> None:
    flat = session_object_to_preview(GA_SESSION)
    assert flat["input_audio_format"] == "g711_ulaw" and flat["voice"] == "shimmer"
    back = session_object_to_ga({**flat, "model": "gpt-realtime"})
    assert back == GA_SESSION
    response = {
        "object": "realtime.response",
        "id": "resp_1",
        "status": "completed",
        "output_modalities": ["audio"],
        "audio": {"output": {"voice": "shimmer", "format": {"type": "audio/pcm"}}},
        "output": [ASSISTANT],
    }
    preview = response_object_to_preview(response)
    assert preview["modalities"] == ["audio", "text"]
    assert preview["output"][0]["content"][0]["type"] == "text"
    assert response_object_to_ga(preview) == response
