"""Session configuration: the GA session object, merge semantics of ``session.update`` and
``response.create`` overrides, and the validation that turns a bad field into a typed error
naming the parameter. Pure logic (no I/O)."""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from switchboard.emulator.errors import ProtocolError

__all__ = [
    "VOICES",
    "ResponseConfig",
    "SessionConfig",
    "check_unknown_fields",
    "protocol_error_from_validation",
]

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
_TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_FORMATS = ("audio/pcm", "audio/pcmu", "audio/pcma")
DEFAULT_TURN_DETECTION: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}


def _param(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif re.fullmatch(r"[a-z_][a-z0-9_]*", item):
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def protocol_error_from_validation(exc: ValidationError, *, skip: int = 1) -> ProtocolError:
    """The first pydantic error as the service words it (missing / invalid value / type)."""
    error = exc.errors()[0]
    param = _param(tuple(error["loc"])[skip:])
    if error["type"] == "missing":
        return ProtocolError(
            f"Missing required parameter: '{param}'.",
            code="missing_required_parameter",
            param=param,
        )
    if error["type"] in {"literal_error", "union_tag_invalid", "enum"}:
        return ProtocolError(
            f"Invalid value for '{param}': {error['msg']}", code="invalid_value", param=param
        )
    return ProtocolError(
        f"Invalid type for '{param}': {error['msg']}", code="invalid_type", param=param
    )


def check_unknown_fields(model: Any, path: str) -> None:
    """Raise for the first field the SDK type does not declare (the SDK's models accept extras;
    the service does not)."""
    if isinstance(model, BaseModel):
        for key in model.model_extra or {}:
            raise ProtocolError(
                f"Unknown parameter: '{path}.{key}'.",
                code="unknown_parameter",
                param=f"{path}.{key}",
            )
        for name in type(model).model_fields:
            value = getattr(model, name)
            if name in {"parameters", "metadata"}:
                continue
            check_unknown_fields(value, f"{path}.{name}")
    elif isinstance(model, list):
        for i, value in enumerate(model):
            check_unknown_fields(value, f"{path}[{i}]")


def _invalid(param: str, message: str) -> ProtocolError:
    return ProtocolError(message, code="invalid_value", param=param)


def _check_tools(tools: Any, param: str) -> list[dict[str, Any]]:
    checked: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"{param}[{i}]"
        if tool.get("type", "function") != "function":
            raise _invalid(
                f"{where}.type",
                f"The emulator supports only function tools (got {tool.get('type')!r}).",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not _TOOL_NAME_RE.match(name):
            raise _invalid(
                f"{where}.name",
                "Invalid tool name: use 1-64 characters of a-z, A-Z, 0-9, '_' or '-'.",
            )
        if name in names:
            raise _invalid(f"{where}.name", f"Duplicate tool name {name!r}.")
        names.add(name)
        parameters = tool.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
            raise _invalid(
                f"{where}.parameters", "Tool parameters must be a JSON schema of type 'object'."
            )
        checked.append(
            {
                "type": "function",
                "name": name,
                "description": tool.get("description") or "",
                "parameters": parameters,
            }
        )
    return checked


def _check_tool_choice(choice: Any, tools: list[dict[str, Any]], param: str) -> Any:
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise _invalid(
                param,
                f"Invalid value: '{choice}'. Supported values are: 'auto', 'none' and 'required'.",
            )
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        if choice.get("name") not in {t["name"] for t in tools}:
            raise _invalid(
                f"{param}.name",
                f"Tool choice names a tool that is not defined: {choice.get('name')!r}.",
            )
        return {"type": "function", "name": choice["name"]}
    raise _invalid(
        param, "The emulator supports tool_choice 'auto', 'none', 'required' or a function."
    )


def _check_max_tokens(value: Any, param: str) -> int | str:
    if value == "inf":
        return "inf"
    if isinstance(value, int) and 1 <= value <= 4096:
        return value
    raise _invalid(param, f"Invalid value: {value!r}. max_output_tokens must be 1-4096 or 'inf'.")


def _check_modalities(value: Any, param: str) -> list[str]:
    if not value or any(m not in ("text", "audio") for m in value):
        raise _invalid(param, "output_modalities must be ['audio'] or ['text'].")
    return ["audio"] if "audio" in value else ["text"]


def _check_voice(value: Any, param: str) -> str:
    voice = value.get("id") if isinstance(value, dict) else value
    if voice not in VOICES:
        raise _invalid(
            param,
            f"Invalid value: '{voice}'. Supported values are: {', '.join(repr(v) for v in VOICES)}.",
        )
    return str(voice)


def _check_format(value: Any, param: str) -> str:
    fmt = (value or {}).get("type") or "audio/pcm"
    if fmt not in _FORMATS:
        raise _invalid(f"{param}.type", f"Invalid audio format {fmt!r}.")
    rate = (value or {}).get("rate")
    if fmt == "audio/pcm" and rate not in (None, 24000):
        raise _invalid(f"{param}.rate", "audio/pcm is 24000 Hz only.")
    return str(fmt)


def _check_turn_detection(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type")
    merged = {**DEFAULT_TURN_DETECTION}
    if kind == "semantic_vad":
        # approximated by server VAD; eagerness maps to the silence before the turn ends
        eagerness = value.get("eagerness") or "auto"
        merged["silence_duration_ms"] = {"low": 800, "medium": 500, "high": 250, "auto": 500}[
            eagerness
        ]
        merged.update(
            {
                k: value[k]
                for k in ("create_response", "interrupt_response")
                if k in value and value[k] is not None
            }
        )
        merged["type"] = "semantic_vad"
        merged["eagerness"] = eagerness
        return merged
    merged.update({k: v for k, v in value.items() if v is not None})
    threshold = merged["threshold"]
    if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise _invalid(
            f"{param}.threshold",
            f"Invalid value: {threshold!r}. threshold must be between 0 and 1.",
        )
    for key in ("prefix_padding_ms", "silence_duration_ms"):
        if not isinstance(merged[key], int) or not 0 <= merged[key] <= 10_000:
            raise _invalid(
                f"{param}.{key}", f"Invalid value: {merged[key]!r}. {key} must be 0-10000."
            )
    idle = merged.get("idle_timeout_ms")
    if idle is not None and (not isinstance(idle, int) or not 5_000 <= idle <= 30_000):
        raise _invalid(f"{param}.idle_timeout_ms", "idle_timeout_ms must be 5000-30000.")
    return merged


@dataclass
class SessionConfig:
    """The session as the GA API shows it; ``merge`` applies a validated ``session.update``."""

    session_id: str
    model: str
    instructions: str = ""
    output_modalities: list[str] = field(default_factory=lambda: ["audio"])
    voice: str = "alloy"
    speed: float = 1.0
    input_format: str = "audio/pcm"
    output_format: str = "audio/pcm"
    turn_detection: dict[str, Any] | None = field(
        default_factory=lambda: dict(DEFAULT_TURN_DETECTION)
    )
    transcription: dict[str, Any] | None = None
    noise_reduction: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    max_output_tokens: int | str = "inf"
    expires_at: int = field(default_factory=lambda: int(time.time()) + 1800)

    def merge(self, update: dict[str, Any], *, audio_started: bool) -> SessionConfig:
        """A new config with *update* (a GA session object) applied; raises ``ProtocolError``
        naming the first bad field and leaves this config unchanged."""
        new = copy.deepcopy(self)
        if update.get("type") not in (None, "realtime"):
            raise _invalid("session.type", "The emulator supports only 'realtime' sessions.")
        if "instructions" in update and update["instructions"] is not None:
            new.instructions = str(update["instructions"])
        if update.get("output_modalities") is not None:
            new.output_modalities = _check_modalities(
                update["output_modalities"], "session.output_modalities"
            )
        if update.get("max_output_tokens") is not None:
            new.max_output_tokens = _check_max_tokens(
                update["max_output_tokens"], "session.max_output_tokens"
            )
        if update.get("tools") is not None:
            new.tools = _check_tools(update["tools"], "session.tools")
        if update.get("tool_choice") is not None:
            new.tool_choice = _check_tool_choice(
                update["tool_choice"], new.tools, "session.tool_choice"
            )
        elif isinstance(new.tool_choice, dict) and new.tool_choice["name"] not in {
            t["name"] for t in new.tools
        }:
            new.tool_choice = "auto"
        audio = update.get("audio") or {}
        audio_in = audio.get("input") or {}
        audio_out = audio.get("output") or {}
        if audio_in.get("format") is not None:
            new.input_format = _check_format(audio_in["format"], "session.audio.input.format")
        if "turn_detection" in audio_in:
            new.turn_detection = _check_turn_detection(
                audio_in["turn_detection"], "session.audio.input.turn_detection"
            )
        if "transcription" in audio_in:
            new.transcription = audio_in["transcription"]
        if "noise_reduction" in audio_in:
            new.noise_reduction = audio_in["noise_reduction"]
        if audio_out.get("format") is not None:
            new.output_format = _check_format(audio_out["format"], "session.audio.output.format")
        if audio_out.get("voice") is not None:
            voice = _check_voice(audio_out["voice"], "session.audio.output.voice")
            if audio_started and voice != self.voice:
                raise _invalid(
                    "session.audio.output.voice",
                    "Cannot update a conversation's voice if assistant audio is present.",
                )
            new.voice = voice
        if audio_out.get("speed") is not None:
            speed = audio_out["speed"]
            if not 0.25 <= float(speed) <= 1.5:
                raise _invalid("session.audio.output.speed", "speed must be between 0.25 and 1.5.")
            new.speed = float(speed)
        return new

    def as_ga(self) -> dict[str, Any]:
        """The GA session object of ``session.created`` / ``session.updated``."""
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.session_id,
            "model": self.model,
            "expires_at": self.expires_at,
            "instructions": self.instructions,
            "output_modalities": list(self.output_modalities),
            "max_output_tokens": self.max_output_tokens,
            "tool_choice": self.tool_choice,
            "tools": copy.deepcopy(self.tools),
            "tracing": None,
            "truncation": "auto",
            "audio": {
                "input": {
                    "format": _format_object(self.input_format),
                    "transcription": self.transcription,
                    "noise_reduction": self.noise_reduction,
                    "turn_detection": copy.deepcopy(self.turn_detection),
                },
                "output": {
                    "format": _format_object(self.output_format),
                    "voice": self.voice,
                    "speed": self.speed,
                },
            },
        }


def _format_object(fmt: str) -> dict[str, Any]:
    return {"type": fmt, "rate": 24000} if fmt == "audio/pcm" else {"type": fmt}


@dataclass
class ResponseConfig:
    """What one response runs with: the session's settings and the response.create overrides."""

    instructions: str
    output_modalities: list[str]
    voice: str
    speed: float
    output_format: str
    tools: list[dict[str, Any]]
    tool_choice: Any
    max_output_tokens: int | str
    conversation: str = "auto"
    metadata: dict[str, Any] | None = None
    input_items: list[dict[str, Any]] | None = None

    @classmethod
    def build(cls, session: SessionConfig, overrides: dict[str, Any] | None) -> ResponseConfig:
        """Apply the ``response`` object of ``response.create`` (raises ``ProtocolError``)."""
        o = overrides or {}
        audio_out = (o.get("audio") or {}).get("output") or {}
        tools = (
            _check_tools(o["tools"], "response.tools")
            if o.get("tools") is not None
            else session.tools
        )
        tool_choice = (
            _check_tool_choice(o["tool_choice"], tools, "response.tool_choice")
            if o.get("tool_choice") is not None
            else session.tool_choice
        )
        conversation = o.get("conversation") or "auto"
        if conversation not in ("auto", "none"):
            raise _invalid("response.conversation", "conversation must be 'auto' or 'none'.")
        return cls(
            instructions=o["instructions"]
            if o.get("instructions") is not None
            else session.instructions,
            output_modalities=_check_modalities(
                o["output_modalities"], "response.output_modalities"
            )
            if o.get("output_modalities") is not None
            else list(session.output_modalities),
            voice=_check_voice(audio_out["voice"], "response.audio.output.voice")
            if audio_out.get("voice") is not None
            else session.voice,
            speed=session.speed,
            output_format=_check_format(audio_out["format"], "response.audio.output.format")
            if audio_out.get("format") is not None
            else session.output_format,
            tools=tools,
            tool_choice=tool_choice,
            max_output_tokens=_check_max_tokens(
                o["max_output_tokens"], "response.max_output_tokens"
            )
            if o.get("max_output_tokens") is not None
            else session.max_output_tokens,
            conversation=conversation,
            metadata=o.get("metadata"),
            input_items=o.get("input"),
        )
