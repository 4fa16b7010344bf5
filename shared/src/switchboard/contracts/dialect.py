"""The one translation between the GA Realtime dialect and the preview (beta) dialect of Azure's
``/openai/realtime?api-version=...`` deployments (pure: dicts in, dicts out).

Both directions live here because both are used: the session gateway speaks GA to its clients
and may have a preview upstream (client events GA → preview, server events preview → GA); the
realtime emulator speaks GA inside and serves preview clients too (client events preview → GA,
server events GA → preview). Each service's ``dialect`` module only dispatches events onto
these functions.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "GA_FORMAT",
    "GA_SERVER_EVENT",
    "PREVIEW_FORMAT",
    "PREVIEW_SERVER_EVENT",
    "item_to_ga",
    "item_to_preview",
    "response_create_to_ga",
    "response_create_to_preview",
    "response_object_to_ga",
    "response_object_to_preview",
    "session_object_to_ga",
    "session_object_to_preview",
    "session_update_to_ga",
    "session_update_to_preview",
]

#: audio format names: GA → preview, and back
PREVIEW_FORMAT = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
GA_FORMAT = {v: k for k, v in PREVIEW_FORMAT.items()}
#: server event types that differ: GA → preview, and back
PREVIEW_SERVER_EVENT = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
GA_SERVER_EVENT = {v: k for k, v in PREVIEW_SERVER_EVENT.items()}


def _modalities_to_ga(modalities: list[str]) -> list[str]:
    return ["audio"] if "audio" in modalities else ["text"]


def _modalities_to_preview(output_modalities: list[str]) -> list[str]:
    return ["audio", "text"] if "audio" in output_modalities else ["text"]


def _format_to_preview(fmt: Any) -> str | None:
    if isinstance(fmt, dict):
        return PREVIEW_FORMAT.get(str(fmt.get("type")))
    return None


# -- items -----------------------------------------------------------------------------------------
def item_to_preview(item: dict[str, Any]) -> dict[str, Any]:
    """An item with the preview's content part types (``text``/``audio`` for GA's
    ``output_text``/``output_audio``); a copy."""
    item = copy.deepcopy(item)
    for part in item.get("content") or []:
        if part.get("type") == "output_text":
            part["type"] = "text"
        elif part.get("type") == "output_audio":
            part["type"] = "audio"
    return item


def item_to_ga(item: dict[str, Any]) -> dict[str, Any]:
    """An item with GA's content part types (an assistant message's ``text``/``audio`` become
    ``output_text``/``output_audio``); other items are returned as they are."""
    if item.get("type") != "message" or item.get("role") != "assistant":
        return item
    item = copy.deepcopy(item)
    for part in item.get("content") or []:
        if part.get("type") == "text":
            part["type"] = "output_text"
        elif part.get("type") == "audio":
            part["type"] = "output_audio"
    return item


# -- session.update (client) -----------------------------------------------------------------------
def session_update_to_preview(session: dict[str, Any]) -> dict[str, Any]:
    """A GA ``session.update`` payload in the preview's flat form (only the fields given)."""
    flat: dict[str, Any] = {
        k: session[k] for k in ("instructions", "tools", "tool_choice") if k in session
    }
    if session.get("output_modalities") is not None:
        flat["modalities"] = _modalities_to_preview(session["output_modalities"])
    if session.get("max_output_tokens") is not None:
        flat["max_response_output_tokens"] = session["max_output_tokens"]
    audio = session.get("audio") or {}
    audio_in = audio.get("input") or {}
    audio_out = audio.get("output") or {}
    if (fmt := _format_to_preview(audio_in.get("format"))) is not None:
        flat["input_audio_format"] = fmt
    if "turn_detection" in audio_in:
        flat["turn_detection"] = audio_in["turn_detection"]
    if "transcription" in audio_in:
        flat["input_audio_transcription"] = audio_in["transcription"]
    if "noise_reduction" in audio_in:
        flat["input_audio_noise_reduction"] = audio_in["noise_reduction"]
    if (fmt := _format_to_preview(audio_out.get("format"))) is not None:
        flat["output_audio_format"] = fmt
    for key in ("voice", "speed"):
        if audio_out.get(key) is not None:
            flat[key] = audio_out[key]
    return flat


def session_update_to_ga(session: dict[str, Any]) -> dict[str, Any]:
    """A preview ``session.update`` payload in GA's nested form (only the fields given; a
    preview turn detection is ``server_vad`` unless it says otherwise)."""
    ga: dict[str, Any] = {"type": "realtime"}
    for key in ("instructions", "tools", "tool_choice"):
        if key in session:
            ga[key] = session[key]
    if session.get("modalities") is not None:
        ga["output_modalities"] = _modalities_to_ga(session["modalities"])
    if session.get("max_response_output_tokens") is not None:
        ga["max_output_tokens"] = session["max_response_output_tokens"]
    audio_in: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}
    if session.get("input_audio_format") is not None:
        audio_in["format"] = {"type": GA_FORMAT[session["input_audio_format"]]}
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
        audio_out["format"] = {"type": GA_FORMAT[session["output_audio_format"]]}
    if session.get("voice") is not None:
        audio_out["voice"] = session["voice"]
    if session.get("speed") is not None:
        audio_out["speed"] = session["speed"]
    if audio_in or audio_out:
        ga["audio"] = {"input": audio_in, "output": audio_out}
    return ga


# -- session objects (server: session.created / session.updated) -----------------------------------
def session_object_to_ga(flat: dict[str, Any]) -> dict[str, Any]:
    """A preview session object in the GA nested form (as ``session.created`` carries it),
    GA's defaults where the preview leaves a field out."""
    td = flat.get("turn_detection")
    modalities = flat.get("modalities") or ["audio", "text"]
    in_fmt = GA_FORMAT.get(str(flat.get("input_audio_format")), "audio/pcm")
    out_fmt = GA_FORMAT.get(str(flat.get("output_audio_format")), "audio/pcm")

    def fmt(kind: str) -> dict[str, Any]:
        return {"type": kind, "rate": 24000} if kind == "audio/pcm" else {"type": kind}

    session: dict[str, Any] = {
        "type": "realtime",
        "object": "realtime.session",
        "id": flat.get("id"),
        "model": flat.get("model") or "",
        "output_modalities": _modalities_to_ga(modalities),
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


def session_object_to_preview(ga: dict[str, Any]) -> dict[str, Any]:
    """A full GA session object in the preview's flat form, every field the preview has."""
    audio_in = ga["audio"]["input"]
    audio_out = ga["audio"]["output"]
    td = audio_in.get("turn_detection")
    tool_choice = ga.get("tool_choice")
    return {
        "id": ga["id"],
        "object": "realtime.session",
        "modalities": _modalities_to_preview(ga["output_modalities"]),
        "instructions": ga.get("instructions", ""),
        "voice": audio_out["voice"],
        "speed": audio_out.get("speed", 1.0),
        "input_audio_format": PREVIEW_FORMAT[audio_in["format"]["type"]],
        "output_audio_format": PREVIEW_FORMAT[audio_out["format"]["type"]],
        "input_audio_transcription": audio_in.get("transcription"),
        "input_audio_noise_reduction": audio_in.get("noise_reduction"),
        "turn_detection": None if td is None else {**td, "type": td.get("type", "server_vad")},
        "tools": ga.get("tools", []),
        "tool_choice": tool_choice if isinstance(tool_choice, str) else "required",
        "temperature": 0.8,
        "max_response_output_tokens": ga.get("max_output_tokens", "inf"),
        "expires_at": ga.get("expires_at"),
    }


# -- response.create (client) ----------------------------------------------------------------------
_RESPONSE_KEYS = ("instructions", "tools", "tool_choice", "conversation", "metadata")


def response_create_to_preview(response: dict[str, Any]) -> dict[str, Any]:
    """A GA ``response.create`` payload in the preview's form."""
    out: dict[str, Any] = {k: response[k] for k in _RESPONSE_KEYS if k in response}
    if response.get("output_modalities") is not None:
        out["modalities"] = _modalities_to_preview(response["output_modalities"])
    if response.get("max_output_tokens") is not None:
        out["max_response_output_tokens"] = response["max_output_tokens"]
    audio_out = (response.get("audio") or {}).get("output") or {}
    if audio_out.get("voice") is not None:
        out["voice"] = audio_out["voice"]
    if (fmt := _format_to_preview(audio_out.get("format"))) is not None:
        out["output_audio_format"] = fmt
    if response.get("input") is not None:
        out["input"] = [item_to_preview(i) for i in response["input"]]
    return out


def response_create_to_ga(response: dict[str, Any]) -> dict[str, Any]:
    """A preview ``response.create`` payload in GA's form."""
    ga: dict[str, Any] = {k: response[k] for k in _RESPONSE_KEYS if k in response}
    if response.get("modalities") is not None:
        ga["output_modalities"] = _modalities_to_ga(response["modalities"])
    if response.get("max_response_output_tokens") is not None:
        ga["max_output_tokens"] = response["max_response_output_tokens"]
    output: dict[str, Any] = {}
    if response.get("voice") is not None:
        output["voice"] = response["voice"]
    if response.get("output_audio_format") is not None:
        output["format"] = {"type": GA_FORMAT[response["output_audio_format"]]}
    if output:
        ga["audio"] = {"output": output}
    if response.get("input") is not None:
        ga["input"] = [item_to_ga(i) for i in response["input"]]
    return ga


# -- response objects (server: response.created / response.done) ----------------------------------
def response_object_to_ga(response: dict[str, Any]) -> dict[str, Any]:
    """A preview response object in GA's form."""
    ga = {
        k: v
        for k, v in response.items()
        if k not in ("modalities", "voice", "output_audio_format", "temperature")
    }
    ga["output_modalities"] = _modalities_to_ga(response.get("modalities") or ["audio"])
    output: dict[str, Any] = {}
    if response.get("voice"):
        output["voice"] = response["voice"]
    if response.get("output_audio_format") in GA_FORMAT:
        output["format"] = {"type": GA_FORMAT[response["output_audio_format"]]}
    if output:
        ga["audio"] = {"output": output}
    ga["output"] = [item_to_ga(i) for i in response.get("output") or []]
    return ga


def response_object_to_preview(ga: dict[str, Any]) -> dict[str, Any]:
    """A GA response object in the preview's form."""
    response = {k: v for k, v in ga.items() if k not in ("output_modalities", "audio")}
    response["modalities"] = _modalities_to_preview(ga.get("output_modalities") or ["audio"])
    output = (ga.get("audio") or {}).get("output") or {}
    if output.get("voice"):
        response["voice"] = output["voice"]
    if output.get("format"):
        response["output_audio_format"] = PREVIEW_FORMAT[output["format"]["type"]]
    response["output"] = [item_to_preview(i) for i in ga.get("output") or []]
    return response
