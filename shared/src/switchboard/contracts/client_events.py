"""Builders of the GA Realtime client events Switchboard's own clients send (the CLI's calls,
the chaos callers, benches and tests), so none of them writes the JSON by hand. Each returns the
event as a dict, valid for the SDK's GA client event types; ``json.dumps`` it to send."""

from __future__ import annotations

from typing import Any

__all__ = [
    "audio_append",
    "audio_commit",
    "function_call_output",
    "response_cancel",
    "response_create",
    "session_update",
    "user_text",
]


def audio_append(audio_b64: str) -> dict[str, Any]:
    """``input_audio_buffer.append`` of base64 audio in the session's input format."""
    return {"type": "input_audio_buffer.append", "audio": audio_b64}


def audio_commit() -> dict[str, Any]:
    return {"type": "input_audio_buffer.commit"}


def user_text(text: str) -> dict[str, Any]:
    """A typed user turn: ``conversation.item.create`` of a user message with one text part."""
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def function_call_output(call_id: str, output: str) -> dict[str, Any]:
    """The answer to a function call, as ``conversation.item.create``."""
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call_id, "output": output},
    }


def response_create(**response: Any) -> dict[str, Any]:
    """``response.create``; keyword arguments become its ``response`` object when given."""
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    return event


def response_cancel() -> dict[str, Any]:
    return {"type": "response.cancel"}


def session_update(**session: Any) -> dict[str, Any]:
    """``session.update`` of a realtime session with the given fields."""
    return {"type": "session.update", "session": {"type": "realtime", **session}}
