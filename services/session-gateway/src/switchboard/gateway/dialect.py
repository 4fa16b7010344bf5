"""Translation between the GA Realtime dialect the gateway speaks and the preview (beta) dialect
of Azure's ``/openai/realtime?api-version=...`` deployments (pure logic). Client events go
GA → preview; server events come back preview → GA, so clients only ever see GA events."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["GaDialect", "PreviewDialect", "UpstreamDialect"]

_TO_PREVIEW_FORMAT = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
_TO_GA_FORMAT = {v: k for k, v in _TO_PREVIEW_FORMAT.items()}
_SERVER_RENAMES = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "conversation.item.created": "conversation.item.added",
}
_HOT_SERVER_TYPES = frozenset({"response.output_audio.delta", "response.audio.delta"})


class UpstreamDialect:
    """GA: nothing to translate."""

    name = "ga"

    def client_event(self, event: dict[str, Any]) -> dict[str, Any]:
        return event

    def server_events(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        return [event]


class GaDialect(UpstreamDialect):
    pass


def _content_to_preview(item: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(item)
    for part in item.get("content") or []:
        if part.get("type") == "output_text":
            part["type"] = "text"
        elif part.get("type") == "output_audio":
            part["type"] = "audio"
    return item


def _content_to_ga(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("type") != "message" or item.get("role") != "assistant":
        return item
    item = copy.deepcopy(item)
    for part in item.get("content") or []:
        if part.get("type") == "text":
            part["type"] = "output_text"
        elif part.get("type") == "audio":
            part["type"] = "output_audio"
    return item


def _fmt_to_preview(fmt: Any) -> str | None:
    if isinstance(fmt, dict):
        return _TO_PREVIEW_FORMAT.get(str(fmt.get("type")))
    return None


def session_to_preview(session: dict[str, Any]) -> dict[str, Any]:
    """A GA ``session`` object in the preview's flat form."""
    flat: dict[str, Any] = {
        k: session[k] for k in ("instructions", "tools", "tool_choice") if k in session
    }
    if session.get("output_modalities") is not None:
        flat["modalities"] = (
            ["audio", "text"] if "audio" in session["output_modalities"] else ["text"]
        )
    if session.get("max_output_tokens") is not None:
        flat["max_response_output_tokens"] = session["max_output_tokens"]
    audio = session.get("audio") or {}
    audio_in = audio.get("input") or {}
    audio_out = audio.get("output") or {}
    if (fmt := _fmt_to_preview(audio_in.get("format"))) is not None:
        flat["input_audio_format"] = fmt
    if "turn_detection" in audio_in:
        flat["turn_detection"] = audio_in["turn_detection"]
    if "transcription" in audio_in:
        flat["input_audio_transcription"] = audio_in["transcription"]
    if "noise_reduction" in audio_in:
        flat["input_audio_noise_reduction"] = audio_in["noise_reduction"]
    if (fmt := _fmt_to_preview(audio_out.get("format"))) is not None:
        flat["output_audio_format"] = fmt
    for key in ("voice", "speed"):
        if audio_out.get(key) is not None:
            flat[key] = audio_out[key]
    return flat


def session_to_ga(flat: dict[str, Any]) -> dict[str, Any]:
    """A preview session object in the GA nested form (as ``session.created`` carries it)."""
    td = flat.get("turn_detection")
    modalities = flat.get("modalities") or ["audio", "text"]
    in_fmt = _TO_GA_FORMAT.get(str(flat.get("input_audio_format")), "audio/pcm")
    out_fmt = _TO_GA_FORMAT.get(str(flat.get("output_audio_format")), "audio/pcm")

    def fmt(kind: str) -> dict[str, Any]:
        return {"type": kind, "rate": 24000} if kind == "audio/pcm" else {"type": kind}

    session: dict[str, Any] = {
        "type": "realtime",
        "object": "realtime.session",
        "id": flat.get("id"),
        "model": flat.get("model") or "",
        "output_modalities": ["audio"] if "audio" in modalities else ["text"],
        "instructions": flat.get("instructions", ""),
        "tools": flat.get("tools", []),
        "tool_choice": flat.get("tool_choice", "auto"),
        "max_output_tokens": flat.get("max_response_output_tokens", "inf"),
        "audio": {
            "input": {
                "format": fmt(in_fmt),
                "transcription": flat.get("input_audio_transcription"),
                "noise_reduction": flat.get("input_audio_noise_reduction"),
                "turn_detection": None if td is None else dict(td),
            },
            "output": {
                "format": fmt(out_fmt),
                "voice": flat.get("voice", "alloy"),
                "speed": flat.get("speed", 1.0),
            },
        },
    }
    if flat.get("expires_at") is not None:
        session["expires_at"] = flat["expires_at"]
    return {k: v for k, v in session.items() if v is not None}


def _response_to_preview(response: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: response[k]
        for k in ("instructions", "tools", "tool_choice", "conversation", "metadata")
        if k in response
    }
    if response.get("output_modalities") is not None:
        out["modalities"] = (
            ["audio", "text"] if "audio" in response["output_modalities"] else ["text"]
        )
    if response.get("max_output_tokens") is not None:
        out["max_response_output_tokens"] = response["max_output_tokens"]
    audio_out = (response.get("audio") or {}).get("output") or {}
    if audio_out.get("voice") is not None:
        out["voice"] = audio_out["voice"]
    if (fmt := _fmt_to_preview(audio_out.get("format"))) is not None:
        out["output_audio_format"] = fmt
    if response.get("input") is not None:
        out["input"] = [_content_to_preview(i) for i in response["input"]]
    return out


def _response_to_ga(response: dict[str, Any]) -> dict[str, Any]:
    ga = {
        k: v
        for k, v in response.items()
        if k not in ("modalities", "voice", "output_audio_format", "temperature")
    }
    modalities = response.get("modalities") or ["audio"]
    ga["output_modalities"] = ["audio"] if "audio" in modalities else ["text"]
    output: dict[str, Any] = {}
    if response.get("voice"):
        output["voice"] = response["voice"]
    if response.get("output_audio_format") in _TO_GA_FORMAT:
        output["format"] = {"type": _TO_GA_FORMAT[response["output_audio_format"]]}
    if output:
        ga["audio"] = {"output": output}
    ga["output"] = [_content_to_ga(i) for i in response.get("output") or []]
    return ga


class PreviewDialect(UpstreamDialect):
    """The preview (beta) dialect: event names, item content types and session shapes."""

    name = "preview"

    def client_event(self, event: dict[str, Any]) -> dict[str, Any]:
        kind = event.get("type")
        if kind == "session.update":
            return {**event, "session": session_to_preview(event.get("session") or {})}
        if kind == "response.create" and event.get("response") is not None:
            return {**event, "response": _response_to_preview(event["response"])}
        if kind == "conversation.item.create":
            return {**event, "item": _content_to_preview(event.get("item") or {})}
        return event

    def server_events(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = str(event.get("type"))
        if kind in _HOT_SERVER_TYPES:
            return [{**event, "type": "response.output_audio.delta"}]
        ga = {**event, "type": _SERVER_RENAMES.get(kind, kind)}
        if isinstance(ga.get("item"), dict):
            ga["item"] = _content_to_ga(ga["item"])
        if kind in ("session.created", "session.updated") and isinstance(ga.get("session"), dict):
            ga["session"] = session_to_ga(ga["session"])
        if kind in ("response.created", "response.done") and isinstance(ga.get("response"), dict):
            ga["response"] = _response_to_ga(ga["response"])
        if isinstance(ga.get("part"), dict):
            part = ga["part"]
            if part.get("type") == "text":
                ga["part"] = {**part, "type": "text"}
        out = [ga]
        if (
            kind == "conversation.item.created"
            and (ga.get("item") or {}).get("status") == "completed"
        ):
            # GA announces a finished item twice (added, then done); the preview only once
            out.append({**ga, "type": "conversation.item.done"})
        elif kind == "response.output_item.done" and isinstance(ga.get("item"), dict):
            out.append(
                {
                    "type": "conversation.item.done",
                    "event_id": f"{event.get('event_id', 'event')}_done",
                    "item": ga["item"],
                }
            )
        return out
