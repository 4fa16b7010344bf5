"""The two wire dialects. The session engine speaks GA; :class:`PreviewDialect` translates the
preview (beta) client events into GA ones and GA server events into preview ones. Pure logic."""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import ValidationError

from switchboard.contracts.realtime import client_event_adapter
from switchboard.contracts.realtime_preview import preview_client_event_adapter
from switchboard.emulator.config import check_unknown_fields, protocol_error_from_validation
from switchboard.emulator.errors import ProtocolError

__all__ = ["Dialect", "GaDialect", "PreviewDialect"]

_PREVIEW_FORMATS = {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}
_GA_FORMATS = {v: k for k, v in _PREVIEW_FORMATS.items()}
_RENAMES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
#: GA events the preview dialect has no counterpart for.
_PREVIEW_DROPS = {"conversation.item.done", "input_audio_buffer.timeout_triggered"}


def _parse(raw: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(
            f"The client event is not valid JSON: {exc}", code="invalid_json"
        ) from exc
    if not isinstance(data, dict):
        raise ProtocolError("The client event must be a JSON object.", code="invalid_json")
    if not isinstance(data.get("type"), str):
        raise ProtocolError(
            "Missing required parameter: 'type'.", code="missing_required_parameter", param="type"
        )
    return data


class Dialect:
    """The GA dialect (base): validates client events against the SDK's GA types."""

    name = "ga"
    adapter = client_event_adapter

    def parse(self, raw: str | bytes) -> dict[str, Any]:
        """A validated client event as a GA dict; raises ``ProtocolError`` naming the param."""
        data = _parse(raw)
        try:
            model = self.adapter.validate_python(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            if error["type"] == "union_tag_invalid":
                raise ProtocolError(
                    f"Invalid value: '{data['type']}'. It is not a client event type this endpoint supports.",
                    code="invalid_value",
                    param="type",
                ) from exc
            raise protocol_error_from_validation(exc) from exc
        if data["type"] in ("session.update", "response.create"):
            key = "session" if data["type"] == "session.update" else "response"
            check_unknown_fields(getattr(model, key, None), key)
        return self.to_ga(data)

    def to_ga(self, event: dict[str, Any]) -> dict[str, Any]:
        return event

    def outgoing(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The server event as this dialect sends it (None: not sent in this dialect)."""
        return event


class GaDialect(Dialect):
    """GA: ``/openai/v1/realtime`` and ``/v1/realtime``."""


def _item_to_ga(item: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(item)
    if item.get("type") == "message" and item.get("role") == "assistant":
        for part in item.get("content") or []:
            if part.get("type") == "text":
                part["type"] = "output_text"
            elif part.get("type") == "audio":
                part["type"] = "output_audio"
    return item


def _item_to_preview(item: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(item)
    for part in item.get("content") or []:
        if part.get("type") == "output_text":
            part["type"] = "text"
        elif part.get("type") == "output_audio":
            part["type"] = "audio"
    return item


def _session_to_ga(session: dict[str, Any]) -> dict[str, Any]:
    ga: dict[str, Any] = {"type": "realtime"}
    for key in ("instructions", "tools", "tool_choice"):
        if key in session:
            ga[key] = session[key]
    if session.get("modalities") is not None:
        ga["output_modalities"] = ["audio"] if "audio" in session["modalities"] else ["text"]
    if session.get("max_response_output_tokens") is not None:
        ga["max_output_tokens"] = session["max_response_output_tokens"]
    audio_in: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}
    if session.get("input_audio_format") is not None:
        audio_in["format"] = {"type": _PREVIEW_FORMATS[session["input_audio_format"]]}
    if "turn_detection" in session:
        td = session["turn_detection"]
        audio_in["turn_detection"] = (
            None
            if td is None
            else {"type": "server_vad", **{k: v for k, v in td.items() if v is not None}}
        )
    if "input_audio_transcription" in session:
        audio_in["transcription"] = session["input_audio_transcription"]
    if "input_audio_noise_reduction" in session:
        audio_in["noise_reduction"] = session["input_audio_noise_reduction"]
    if session.get("output_audio_format") is not None:
        audio_out["format"] = {"type": _PREVIEW_FORMATS[session["output_audio_format"]]}
    if session.get("voice") is not None:
        audio_out["voice"] = session["voice"]
    if session.get("speed") is not None:
        audio_out["speed"] = session["speed"]
    if audio_in or audio_out:
        ga["audio"] = {"input": audio_in, "output": audio_out}
    return ga


def _response_to_ga(response: dict[str, Any]) -> dict[str, Any]:
    ga: dict[str, Any] = {
        k: response[k]
        for k in ("instructions", "tools", "tool_choice", "conversation", "metadata")
        if k in response
    }
    if response.get("modalities") is not None:
        ga["output_modalities"] = ["audio"] if "audio" in response["modalities"] else ["text"]
    if response.get("max_response_output_tokens") is not None:
        ga["max_output_tokens"] = response["max_response_output_tokens"]
    output: dict[str, Any] = {}
    if response.get("voice") is not None:
        output["voice"] = response["voice"]
    if response.get("output_audio_format") is not None:
        output["format"] = {"type": _PREVIEW_FORMATS[response["output_audio_format"]]}
    if output:
        ga["audio"] = {"output": output}
    if response.get("input") is not None:
        ga["input"] = [_item_to_ga(i) for i in response["input"]]
    return ga


class PreviewDialect(Dialect):
    """Preview (beta): ``/openai/realtime?api-version=...&deployment=...``."""

    name = "preview"
    adapter = preview_client_event_adapter

    def to_ga(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = event["type"]
        if kind == "transcription_session.update":
            raise ProtocolError(
                "The emulator does not support transcription sessions.", param="type"
            )
        if kind == "session.update":
            return {**event, "session": _session_to_ga(event["session"])}
        if kind == "response.create" and event.get("response") is not None:
            return {**event, "response": _response_to_ga(event["response"])}
        if kind == "conversation.item.create":
            return {**event, "item": _item_to_ga(event["item"])}
        return event

    def outgoing(self, event: dict[str, Any]) -> dict[str, Any] | None:
        kind = event["type"]
        if kind in _PREVIEW_DROPS:
            return None
        event = {**event, "type": _RENAMES.get(kind, kind)}
        if "item" in event:
            event["item"] = _item_to_preview(event["item"])
        if kind in ("session.created", "session.updated"):
            event["session"] = self._session(event["session"])
        if kind in ("response.created", "response.done"):
            event["response"] = self._response(event["response"])
        return event

    @staticmethod
    def _session(ga: dict[str, Any]) -> dict[str, Any]:
        audio_in = ga["audio"]["input"]
        audio_out = ga["audio"]["output"]
        td = audio_in.get("turn_detection")
        tool_choice = ga.get("tool_choice")
        return {
            "id": ga["id"],
            "object": "realtime.session",
            "modalities": ["audio", "text"] if "audio" in ga["output_modalities"] else ["text"],
            "instructions": ga.get("instructions", ""),
            "voice": audio_out["voice"],
            "speed": audio_out.get("speed", 1.0),
            "input_audio_format": _GA_FORMATS[audio_in["format"]["type"]],
            "output_audio_format": _GA_FORMATS[audio_out["format"]["type"]],
            "input_audio_transcription": audio_in.get("transcription"),
            "input_audio_noise_reduction": audio_in.get("noise_reduction"),
            "turn_detection": None if td is None else {**td, "type": td.get("type", "server_vad")},
            "tools": ga.get("tools", []),
            "tool_choice": tool_choice if isinstance(tool_choice, str) else "required",
            "temperature": 0.8,
            "max_response_output_tokens": ga.get("max_output_tokens", "inf"),
            "expires_at": ga.get("expires_at"),
        }

    @staticmethod
    def _response(ga: dict[str, Any]) -> dict[str, Any]:
        response = {k: v for k, v in ga.items() if k not in ("output_modalities", "audio")}
        modalities = ga.get("output_modalities") or ["audio"]
        response["modalities"] = ["audio", "text"] if "audio" in modalities else ["text"]
        output = (ga.get("audio") or {}).get("output") or {}
        if output.get("voice"):
            response["voice"] = output["voice"]
        if output.get("format"):
            response["output_audio_format"] = _GA_FORMATS[output["format"]["type"]]
        response["output"] = [_item_to_preview(i) for i in ga.get("output") or []]
        return response
