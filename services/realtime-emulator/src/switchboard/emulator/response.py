"""One response's state and the pure arithmetic around it: token estimates, the output token
budget, and the ``realtime.response`` object (with usage) sent in ``response.created`` and
``response.done``. No I/O."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from switchboard.emulator.config import ResponseConfig

__all__ = ["Response", "budget", "response_object", "tokens"]


@dataclass
class Response:
    """A response in progress (or just finished)."""

    id: str
    config: ResponseConfig
    output: list[dict[str, Any]] = field(default_factory=list)
    cancel_reason: str | None = None
    task: asyncio.Task[None] | None = None
    started: float = field(default_factory=time.perf_counter)
    first_audio_at: float | None = None
    output_text_tokens: int = 0
    output_audio_ms: int = 0
    #: received-audio position (ms) when this response's first audio went out
    first_audio_pos_ms: int | None = None
    incomplete_reason: str | None = None
    #: when set, the response was triggered by the end of speech at this perf_counter time
    speech_end: float | None = None


def tokens(text: str) -> int:
    """A token estimate for *text* (about four characters a token; at least one if any)."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def budget(text: str, limit: int | str) -> tuple[str, bool]:
    """*text* cut to *limit* output tokens (``"inf"``: no limit), and whether it was cut.

    With a limit, the kept words are joined by single spaces even when nothing is cut."""
    if limit == "inf" or not isinstance(limit, int):
        return text, False
    kept: list[str] = []
    for word in text.split():
        if tokens(" ".join([*kept, word])) > limit:
            return " ".join(kept), True
        kept.append(word)
    return " ".join(kept), False


def response_object(
    response: Response,
    status: str,
    *,
    session_id: str,
    items: Iterable[dict[str, Any]],
    input_audio_ms: Iterable[int],
) -> dict[str, Any]:
    """The ``realtime.response`` object of *response* at *status*; once it is no longer in
    progress, with usage counted over the conversation's *items* and the lengths of its committed
    user audio turns (*input_audio_ms*)."""
    cfg = response.config
    doc: dict[str, Any] = {
        "id": response.id,
        "object": "realtime.response",
        "status": status,
        "status_details": None,
        "output": [dict(i) for i in response.output],
        "conversation_id": "conv_" + session_id if cfg.conversation == "auto" else None,
        "output_modalities": cfg.output_modalities,
        "max_output_tokens": cfg.max_output_tokens,
        "audio": {"output": {"format": {"type": cfg.output_format}, "voice": cfg.voice}},
        "metadata": cfg.metadata,
        "usage": None,
    }
    if status != "in_progress":
        input_text = sum(
            tokens(c.get("text") or c.get("transcript") or "")
            for i in items
            for c in i.get("content") or []
        )
        input_audio = sum(math.ceil(ms / 100) for ms in input_audio_ms)
        output_audio = math.ceil(response.output_audio_ms / 50)
        doc["usage"] = {
            "total_tokens": input_text + input_audio + response.output_text_tokens + output_audio,
            "input_tokens": input_text + input_audio,
            "output_tokens": response.output_text_tokens + output_audio,
            "input_token_details": {
                "text_tokens": input_text,
                "audio_tokens": input_audio,
                "cached_tokens": 0,
            },
            "output_token_details": {
                "text_tokens": response.output_text_tokens,
                "audio_tokens": output_audio,
            },
        }
    if status == "cancelled":
        doc["status_details"] = {"type": "cancelled", "reason": response.cancel_reason}
    elif status == "incomplete":
        doc["status_details"] = {"type": "incomplete", "reason": response.incomplete_reason}
    elif status == "failed":
        doc["status_details"] = {
            "type": "failed",
            "error": {"type": "server_error", "code": "emulator_error"},
        }
    return doc
