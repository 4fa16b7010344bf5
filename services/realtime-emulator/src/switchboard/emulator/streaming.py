"""A response's output as the service streams it: output items opened and closed, function call
arguments in deltas, and an assistant message sentence by sentence (text deltas, or synthesized
audio in 100 ms deltas with the sentence's transcript beside its first audio)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from switchboard.emulator import metrics
from switchboard.emulator.audio import encode
from switchboard.emulator.calls import Call
from switchboard.emulator.ids import new_id
from switchboard.emulator.response import Response, budget, tokens
from switchboard.emulator.tts import OUTPUT_RATE, split_sentences

if TYPE_CHECKING:
    from switchboard.emulator.session import RealtimeSession

__all__ = ["CHUNK_SAMPLES", "OutputStream"]

#: 100 ms of output audio per ``response.output_audio.delta``
CHUNK_SAMPLES = OUTPUT_RATE // 10


class OutputStream:
    """Emits the output items of a session's responses."""

    def __init__(self, session: RealtimeSession) -> None:
        self._session = session

    def _open_item(self, response: Response, item: dict[str, Any]) -> int:
        session = self._session
        index = len(response.output)
        response.output.append(item)
        session.emit(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": index,
                "item": item,
            }
        )
        if response.config.conversation == "auto":
            previous = session.conversation.append(item)
            session.emit(
                {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
            )
        return index

    def _close_item(self, response: Response, index: int, item: dict[str, Any]) -> None:
        self._finish_item(response, index, item, "completed")

    def close_open_items(self, response: Response) -> None:
        """Mark the items a cancelled or failed response left open as incomplete."""
        for index, item in enumerate(response.output):
            if item.get("status") == "in_progress":
                self._finish_item(response, index, item, "incomplete")

    def _finish_item(
        self, response: Response, index: int, item: dict[str, Any], status: str
    ) -> None:
        session = self._session
        item["status"] = status
        session.emit(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": index,
                "item": item,
            }
        )
        if response.config.conversation != "auto":
            return
        if status == "completed":
            previous = session.conversation.previous_id(item)
            session.emit(
                {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
            )
        else:  # an item left open is done without naming its predecessor
            session.emit({"type": "conversation.item.done", "item": item})

    async def function_call(self, response: Response, call: Call) -> None:
        """One ``function_call`` item, its arguments in about three deltas."""
        session = self._session
        arguments = json.dumps(call.arguments)
        item = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.tool,
            "call_id": new_id("call"),
            "arguments": "",
        }
        index = self._open_item(response, item)
        step = max(8, len(arguments) // 3 + 1)
        for start in range(0, len(arguments), step):
            session.emit(
                {
                    "type": "response.function_call_arguments.delta",
                    "response_id": response.id,
                    "item_id": item["id"],
                    "output_index": index,
                    "call_id": item["call_id"],
                    "delta": arguments[start : start + step],
                }
            )
            await asyncio.sleep(0)
        item["arguments"] = arguments
        response.output_text_tokens += tokens(arguments)
        session.emit(
            {
                "type": "response.function_call_arguments.done",
                "response_id": response.id,
                "item_id": item["id"],
                "output_index": index,
                "call_id": item["call_id"],
                "name": call.tool,
                "arguments": arguments,
            }
        )
        self._close_item(response, index, item)

    async def message(self, response: Response, text: str) -> None:
        """One assistant ``message`` item saying *text* (cut to the response's token budget)."""
        session = self._session
        cfg = response.config
        audio = "audio" in cfg.output_modalities
        text, cut = budget(text, cfg.max_output_tokens)
        if cut:
            response.incomplete_reason = "max_output_tokens"
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        index = self._open_item(response, item)
        base = {
            "response_id": response.id,
            "item_id": item["id"],
            "output_index": index,
            "content_index": 0,
        }
        part: dict[str, Any] = (
            {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
        )
        content: dict[str, Any] = (
            {"type": "output_audio", "transcript": ""}
            if audio
            else {"type": "output_text", "text": ""}
        )
        item["content"].append(content)
        session.emit({"type": "response.content_part.added", **base, "part": dict(part)})
        spoken: list[str] = []
        session.conversation.audio_ms[item["id"]] = 0
        for sentence in split_sentences(text):
            piece = sentence if not (spoken or content.get("text")) else " " + sentence
            if not audio:
                content["text"] += piece
                response.output_text_tokens += tokens(piece)
                session.emit({"type": "response.output_text.delta", **base, "delta": piece})
                await asyncio.sleep(0)
                continue
            samples = await session.speech.synthesize(sentence, cfg.speed)
            spoken.append(sentence)
            content["transcript"] += piece
            response.output_text_tokens += tokens(piece)
            # a sentence's transcript goes out with its first audio, as the service interleaves them
            transcript = {"type": "response.output_audio_transcript.delta", **base, "delta": piece}
            await self._stream_audio(response, item["id"], base, samples, transcript)
        if audio:
            session.emit({"type": "response.output_audio.done", **base})
            session.emit(
                {
                    "type": "response.output_audio_transcript.done",
                    **base,
                    "transcript": content["transcript"],
                }
            )
            part["transcript"] = content["transcript"]
        else:
            session.emit({"type": "response.output_text.done", **base, "text": content["text"]})
            part["text"] = content["text"]
        session.emit({"type": "response.content_part.done", **base, "part": part})
        self._close_item(response, index, item)

    async def _stream_audio(
        self,
        response: Response,
        item_id: str,
        base: dict[str, Any],
        samples: np.ndarray,
        transcript: dict[str, Any],
    ) -> None:
        session = self._session
        fmt = response.config.output_format
        if samples.size == 0:
            session.emit(transcript)
        for start in range(0, samples.size, CHUNK_SAMPLES):
            chunk = samples[start : start + CHUNK_SAMPLES]
            if response.first_audio_at is None:
                response.first_audio_at = time.perf_counter()
                response.first_audio_pos_ms = session.input.buffer.received_ms
                origin = response.speech_end or response.started
                metrics.FIRST_AUDIO_SECONDS.observe(response.first_audio_at - origin)
            session.audio_started = True
            delta = base64.b64encode(encode(fmt, chunk)).decode("ascii")
            session.emit({"type": "response.output_audio.delta", **base, "delta": delta})
            if start == 0:
                session.emit(transcript)
            ms = chunk.size * 1000 // OUTPUT_RATE
            session.conversation.audio_ms[item_id] += ms
            response.output_audio_ms += ms
            metrics.AUDIO_OUT_SECONDS.inc(chunk.size / OUTPUT_RATE)
            await asyncio.sleep(0)
