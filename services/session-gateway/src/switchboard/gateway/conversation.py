"""What the gateway knows about one conversation, learnt from the server events it relays
(pure logic, no I/O): the items so far (to replay on a new upstream session), the audio
delivered to the client per assistant item (to clamp truncation), the active response, and
the audit facts (transcripts, truncation, turn latency) the session publishes.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from switchboard.contracts.events import (
    AssistantTranscript,
    EventPayload,
    ResponseUsage,
    Truncated,
    TurnLatency,
    UserTranscript,
)
from switchboard.gateway.appends import audio_ms, b64_length

__all__ = ["AssistantItem", "Conversation"]


@dataclass(slots=True)
class AssistantItem:
    """One assistant message: what was said and how much of its audio reached the client."""

    item_id: str
    response_id: str | None
    text: str = ""
    audio_ms: int = 0  # sum of whole milliseconds per delta (never more than was produced)
    heard_ms: int | None = None  # set by a (clamped) truncation
    cancelled: bool = False
    finished: bool = False  # the response that produced it is done
    published: bool = False


@dataclass
class Conversation:
    """State of one conversation as seen through the relay."""

    audio_format: str = "audio/pcm"
    #: the upstream model, and whether its usage is an estimate (the emulator): for ResponseUsage
    model: str = ""
    usage_estimated: bool = False
    now: Callable[[], float] = time.perf_counter
    #: the conversation's items by id, in order (for replay)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    assistant: dict[str, AssistantItem] = field(default_factory=dict)
    #: assistant messages finished but not published yet
    _finished: dict[str, AssistantItem] = field(default_factory=dict)
    active_response: str | None = None
    _speech: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    _speech_end_at: float | None = None
    _latency_pending_for: str | None = None

    # -- derived ---------------------------------------------------------------------------------
    def delivered_ms(self, item_id: str) -> int:
        item = self.assistant.get(item_id)
        return item.audio_ms if item else 0

    def replay_items(self, *, skip_response: str | None = None) -> list[dict[str, Any]]:
        """The conversation as ``conversation.item.create`` items for a new upstream session:
        user speech as its transcript, assistant speech as what the user heard. Assistant
        messages of *skip_response* (cut off by the drop, about to be regenerated) are left out."""
        out: list[dict[str, Any]] = []
        for item in self.items.values():
            said = self.assistant.get(str(item.get("id")))
            if skip_response is not None and said is not None and said.response_id == skip_response:
                continue
            kind = item.get("type")
            if kind == "message" and item.get("role") == "user":
                texts = [
                    c.get("text") or c.get("transcript") or ""
                    for c in item.get("content") or []
                    if c.get("type") in ("input_text", "input_audio")
                ]
                text = " ".join(t for t in texts if t)
                if text:
                    out.append(
                        {
                            "id": item["id"],
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": text}],
                        }
                    )
            elif kind == "message" and item.get("role") == "assistant":
                said = self.assistant.get(item["id"])
                text = _heard_text(said, self.delivered_ms(said.item_id)) if said else ""
                if text:
                    out.append(
                        {
                            "id": item["id"],
                            "type": "message",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": text}],
                        }
                    )
            elif kind in ("function_call", "function_call_output"):
                out.append(_strip(item))
        return out

    # -- observation -----------------------------------------------------------------------------
    def on_delivered(
        self, item_id: str, response_id: str | None, delta_b64: str
    ) -> list[EventPayload]:
        """An audio delta (base64) was handed to the client."""
        return self.on_delivered_bytes(item_id, response_id, b64_length(delta_b64))

    def on_delivered_bytes(
        self, item_id: str, response_id: str | None, audio_bytes: int
    ) -> list[EventPayload]:
        """An audio delta of *audio_bytes* was handed to the client: one dictionary lookup."""
        said = self.assistant.get(item_id)
        if said is None:
            said = self.assistant[item_id] = AssistantItem(item_id, response_id)
        # whole milliseconds per delta, as servers count them: summing exact durations could
        # round past what the upstream thinks it produced and get the truncation refused
        said.audio_ms += int(audio_ms(audio_bytes, self.audio_format))
        if self._speech_end_at is None:
            return []
        facts: list[EventPayload] = []
        if self._speech_end_at is not None:
            latency = max(0.0, (self.now() - self._speech_end_at) * 1000)
            facts.append(TurnLatency(response_id=response_id, latency_ms=round(latency, 3)))
            self._speech_end_at = None
        return facts

    def observe(self, event: dict[str, Any]) -> list[EventPayload]:
        """Learn from one (GA) server event; returns the audit facts it completes."""
        kind = event.get("type")
        facts: list[EventPayload] = []
        if kind == "input_audio_buffer.speech_started":
            self._speech[event.get("item_id", "")] = (event.get("audio_start_ms"), None)
        elif kind == "input_audio_buffer.speech_stopped":
            item_id = event.get("item_id", "")
            start = self._speech.get(item_id, (None, None))[0]
            self._speech[item_id] = (start, event.get("audio_end_ms"))
            self._speech_end_at = self.now()
        elif kind in ("conversation.item.added", "conversation.item.created"):
            item = event.get("item") or {}
            if item.get("role") == "user":
                facts += self.finish_assistant()
            self._add_item(item, event.get("previous_item_id"))
            if item.get("role") == "user":
                text = " ".join(
                    c.get("text") or ""
                    for c in item.get("content") or []
                    if c.get("type") == "input_text"
                )
                if text:
                    facts.append(UserTranscript(item_id=item["id"], text=text))
        elif kind == "conversation.item.done":
            item = event.get("item") or {}
            if item.get("type") in ("function_call", "function_call_output"):
                self._add_item(item, event.get("previous_item_id"))
        elif kind == "conversation.item.input_audio_transcription.completed":
            item_id = event.get("item_id", "")
            text = event.get("transcript") or ""
            item = self.items.get(item_id)
            if item is not None:
                for content in item.get("content") or []:
                    if content.get("type") == "input_audio":
                        content["transcript"] = text
            start, end = self._speech.pop(item_id, (None, None))
            facts.append(
                UserTranscript(
                    item_id=item_id, text=text, speech_started_ms=start, speech_ended_ms=end
                )
            )
        elif kind == "conversation.item.deleted":
            self.items.pop(str(event.get("item_id")), None)
        elif kind == "response.created":
            facts += self.finish_assistant()
            self.active_response = (event.get("response") or {}).get("id")
        elif kind == "response.output_item.added":
            item = event.get("item") or {}
            if item.get("type") == "message" and item.get("id"):
                self.assistant.setdefault(
                    item["id"], AssistantItem(item["id"], event.get("response_id"))
                )
        elif kind == "response.output_audio_transcript.delta":
            said = self._said(event)
            said.text += event.get("delta") or ""
        elif kind == "response.output_audio_transcript.done":
            self._said(event).text = event.get("transcript") or ""
        elif kind == "response.output_text.done":
            self._said(event).text = event.get("text") or ""
        elif kind == "response.done":
            response = event.get("response") or {}
            if self.active_response == response.get("id"):
                self.active_response = None
            cancelled = response.get("status") == "cancelled"
            usage = response.get("usage")
            if isinstance(usage, dict):
                facts.append(self._usage(response.get("id"), usage))
            for out in response.get("output") or []:
                if out.get("type") == "message" and out.get("id") in self.assistant:
                    said = self.assistant[out["id"]]
                    self._finish(said)
                    said.cancelled = said.cancelled or cancelled
                if out.get("type") == "function_call":
                    self._add_item(out, None)
        return facts

    def _usage(self, response_id: Any, usage: dict[str, Any]) -> ResponseUsage:
        """``response.done``'s usage as an audit fact (missing or odd counts read as 0)."""

        def count(details: Any, key: str) -> int:
            value = details.get(key) if isinstance(details, dict) else None
            return value if isinstance(value, int) and value >= 0 else 0

        inp = usage.get("input_token_details")
        cached = inp.get("cached_tokens_details") if isinstance(inp, dict) else None
        out = usage.get("output_token_details")
        cached_text, cached_audio = count(cached, "text_tokens"), count(cached, "audio_tokens")
        if not isinstance(cached, dict):
            # no breakdown of the cached tokens: count them as text (the cheaper assumption
            # would hide a price difference; text is what a replayed prompt mostly is)
            cached_text = count(inp, "cached_tokens")
        return ResponseUsage(
            response_id=response_id if isinstance(response_id, str) else None,
            model=self.model,
            input_text_tokens=count(inp, "text_tokens"),
            input_audio_tokens=count(inp, "audio_tokens"),
            cached_text_tokens=cached_text,
            cached_audio_tokens=cached_audio,
            output_text_tokens=count(out, "text_tokens"),
            output_audio_tokens=count(out, "audio_tokens"),
            estimated=self.usage_estimated,
        )

    def clamp_truncate(self, item_id: str, requested_ms: int) -> tuple[int, list[EventPayload]]:
        """Clamp a client's ``audio_end_ms`` to the audio delivered for *item_id*; returns the
        position to forward and the audit facts (``Truncated`` and, for a message already
        finished, its interrupted transcript)."""
        said = self.assistant.get(item_id)
        if said is None:
            return requested_ms, []
        heard = max(0, min(requested_ms, self.delivered_ms(item_id)))
        said.heard_ms = heard
        facts: list[EventPayload] = [
            Truncated(item_id=item_id, requested_ms=requested_ms, heard_ms=heard)
        ]
        if said.finished and not said.published:
            self._finished.pop(said.item_id, None)
            facts.append(self._publish(said))
        return heard, facts

    def finish_assistant(self) -> list[EventPayload]:
        """Publish every finished assistant message not published yet (called when the next
        turn starts, and at the end of the session)."""
        if not self._finished:
            return []
        done = [self._publish(s) for s in self._finished.values() if not s.published]
        self._finished.clear()
        return done

    def flush(self) -> list[EventPayload]:
        """Everything left at the end of the session, finished or not."""
        for said in self.assistant.values():
            self._finish(said)
        return self.finish_assistant()

    def _finish(self, said: AssistantItem) -> None:
        said.finished = True
        if not said.published:
            self._finished[said.item_id] = said

    # -- helpers ---------------------------------------------------------------------------------
    def _said(self, event: dict[str, Any]) -> AssistantItem:
        item_id = event.get("item_id", "")
        said = self.assistant.get(item_id)
        if said is None:
            said = self.assistant[item_id] = AssistantItem(item_id, event.get("response_id"))
        return said

    def _publish(self, said: AssistantItem) -> AssistantTranscript:
        said.published = True
        produced = self.delivered_ms(said.item_id)
        interrupted = said.heard_ms is not None or said.cancelled
        return AssistantTranscript(
            item_id=said.item_id,
            response_id=said.response_id,
            text=said.text,
            interrupted=interrupted,
            heard_text=_heard_text(said, produced) if interrupted else None,
            audio_ms=produced,
            heard_ms=said.heard_ms
            if said.heard_ms is not None
            else (produced if interrupted else None),
        )

    def _add_item(self, item: dict[str, Any], previous_item_id: str | None) -> None:
        item_id = item.get("id")
        if not item_id:
            return
        existing = self.items.get(item_id)
        if existing is not None:
            self.items[item_id] = {**existing, **copy.deepcopy(item)}
        else:
            self.items[item_id] = copy.deepcopy(item)


def _heard_text(said: AssistantItem, produced_ms: int | None = None) -> str:
    if said.heard_ms is None:
        return said.text
    words = said.text.split()
    produced = produced_ms
    if not produced:
        return "" if said.heard_ms == 0 else said.text
    keep = math.floor(len(words) * min(1.0, said.heard_ms / produced))
    return " ".join(words[:keep])


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "type", "call_id", "name", "arguments", "output")
    return {k: item[k] for k in keep if k in item}
