"""What a caller knows about a call, built from the server's events: both transcripts, tool
activity (Switchboard display events), the reply audio as heard, per-turn latency and barge-in.

Pure logic: ``CallState.handle(event, now)`` updates the state, reports lines for a live
transcript through ``on_line`` and returns the client events to send back (a
``conversation.item.truncate`` on barge-in). The websocket code lives in ``call.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from switchboard.cli.audio import SAMPLE_RATE, b64_to_pcm
from switchboard.cli.playout import Playout

__all__ = ["CallState", "ToolRecord", "TurnRecord"]

Line = Callable[[str, str], None]


@dataclass
class ToolRecord:
    call_id: str
    tool: str
    summary: str
    started_at: float
    ok: bool | None = None
    duration_ms: float | None = None
    error_code: str | None = None
    card: dict[str, Any] | None = None


@dataclass
class TurnRecord:
    """One thing the caller said (audio) or typed (text), and what came back."""

    index: int
    kind: str
    label: str
    started_at: float
    speech_end: float | None = None
    vad_stopped_at: float | None = None
    first_audio_at: float | None = None
    reply_seen: bool = False
    user_transcript: list[str] = field(default_factory=list)
    bot_transcript: list[str] = field(default_factory=list)
    tools: list[ToolRecord] = field(default_factory=list)
    interrupted_at_ms: int | None = None
    timed_out: bool = False

    @property
    def latency_ms(self) -> float | None:
        """From the end of the caller's speech (or the text being sent) to the first reply audio."""
        if self.speech_end is None or self.first_audio_at is None:
            return None
        return (self.first_audio_at - self.speech_end) * 1000

    @property
    def after_vad_ms(self) -> float | None:
        """From the server's ``speech_stopped`` to the first reply audio (excludes VAD silence)."""
        if self.vad_stopped_at is None or self.first_audio_at is None:
            return None
        return (self.first_audio_at - self.vad_stopped_at) * 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "turn": self.index,
            "kind": self.kind,
            "said": self.label,
            "heard_as": " ".join(self.user_transcript),
            "reply": " ".join(self.bot_transcript),
            "latency_ms": _round(self.latency_ms),
            "after_vad_ms": _round(self.after_vad_ms),
            "tools": [
                {
                    "tool": t.tool,
                    "summary": t.summary,
                    "ok": t.ok,
                    "duration_ms": _round(t.duration_ms),
                    "error_code": t.error_code,
                    "card": t.card,
                }
                for t in self.tools
            ],
            "interrupted_at_ms": self.interrupted_at_ms,
            "timed_out": self.timed_out,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class CallState:
    """Everything the client saw on one call."""

    def __init__(self, *, on_line: Line | None = None, jitter_ms: int = 0) -> None:
        self._line: Line = on_line or (lambda _kind, _text: None)
        self.session_id: str | None = None
        self.customer_id: str | None = None
        self.model: str | None = None
        self.turns: list[TurnRecord] = []
        self.errors: list[dict[str, Any]] = []
        self.playout = Playout(jitter_ms=jitter_ms)
        self.active_responses: set[str] = set()
        self.tools_in_flight: dict[str, ToolRecord] = {}
        self.last_event_at = 0.0
        self._item_audio: dict[str, list[np.ndarray]] = {}
        self._item_turn: dict[str, TurnRecord] = {}
        self._item_order: list[str] = []
        self._truncated: dict[str, int] = {}
        self._prelude = TurnRecord(index=0, kind="none", label="", started_at=0.0)
        self._speaking = False

    # -- turns ----------------------------------------------------------------------------------

    @property
    def current(self) -> TurnRecord:
        return self.turns[-1] if self.turns else self._prelude

    def begin_turn(self, kind: str, label: str, now: float) -> TurnRecord:
        turn = TurnRecord(index=len(self.turns) + 1, kind=kind, label=label, started_at=now)
        self.turns.append(turn)
        return turn

    def reply_finished(self, now: float, *, linger_s: float) -> bool:
        """The current turn got a reply, nothing is pending, the reply has been heard, and the
        line has been quiet for *linger_s* (a follow-up response may still start after a tool)."""
        turn = self.current
        return (
            turn.reply_seen
            and not self.active_responses
            and not self.tools_in_flight
            and not self.playout.busy(now)
            and now - self.last_event_at >= linger_s
        )

    # -- events ---------------------------------------------------------------------------------

    def handle(self, event: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """Apply one server event; return client events to send in answer."""
        self.last_event_at = now
        kind = event.get("type", "")
        handler = _HANDLERS.get(kind)
        if handler is None:
            return []
        return handler(self, event, now) or []

    def _session_created(self, event: dict[str, Any], now: float) -> None:
        session = event.get("session") or {}
        self.model = session.get("model") or self.model
        if self.session_id is None:
            self.session_id = session.get("id")
        elif self.active_responses or self.tools_in_flight or self._speaking:
            # a resumed connection: what was under way on the lost one never finishes on this
            # one (the gateway asks again for an answer it owed, under a new response id).
            # Kept, a response started before the loss held every later turn "unfinished"
            # until it timed out: two stalled turns per resumed call in make chaos
            self.active_responses.clear()
            self.tools_in_flight.clear()
            self._speaking = False

    def _switchboard_session(self, event: dict[str, Any], now: float) -> None:
        self.session_id = event.get("session_id") or self.session_id
        self.customer_id = event.get("customer_id")
        self._line(
            "info", f"session {self.session_id} as {self.customer_id} ({event.get('upstream')})"
        )

    def _speech_started(self, event: dict[str, Any], now: float) -> list[dict[str, Any]]:
        self._speaking = True
        cut = self.playout.stop(now)
        if cut is None:
            return []
        turn = self._item_turn.get(cut.item_id, self.current)
        turn.interrupted_at_ms = cut.heard_ms
        self._truncated[cut.item_id] = cut.heard_ms * SAMPLE_RATE // 1000
        self._line("barge-in", f"caller talked over the bot after {cut.heard_ms} ms of its reply")
        if cut.heard_ms <= 0:
            return []  # nothing was heard: some servers reject audio_end_ms=0
        return [
            {
                "type": "conversation.item.truncate",
                "item_id": cut.item_id,
                "content_index": cut.content_index,
                "audio_end_ms": min(cut.heard_ms, cut.received_ms),
            }
        ]

    def _speech_stopped(self, event: dict[str, Any], now: float) -> None:
        self._speaking = False
        if self.current.vad_stopped_at is None:
            self.current.vad_stopped_at = now

    def _user_transcript(self, event: dict[str, Any], now: float) -> None:
        text = (event.get("transcript") or "").strip()
        if text:
            self.current.user_transcript.append(text)
            self._line("you", text)

    def _response_created(self, event: dict[str, Any], now: float) -> None:
        rid = (event.get("response") or {}).get("id")
        if rid:
            self.active_responses.add(rid)

    def _response_done(self, event: dict[str, Any], now: float) -> None:
        response = event.get("response") or {}
        self.active_responses.discard(response.get("id"))
        if response.get("status") == "failed":
            detail = (response.get("status_details") or {}).get("error") or {}
            self._error({"type": "response_failed", **detail})

    def _audio_delta(self, event: dict[str, Any], now: float) -> None:
        pcm = b64_to_pcm(event.get("delta", ""))
        item_id = event.get("item_id", "")
        turn = self._item_turn.setdefault(item_id, self.current)
        if item_id not in self._item_audio:
            self._item_audio[item_id] = []
            self._item_order.append(item_id)
        self._item_audio[item_id].append(pcm)
        turn.reply_seen = True
        if turn.first_audio_at is None:
            turn.first_audio_at = now
        self.playout.push(item_id, int(event.get("content_index", 0)), pcm.size, now)

    def _bot_transcript(self, event: dict[str, Any], now: float) -> None:
        text = (event.get("transcript") or event.get("text") or "").strip()
        turn = self._item_turn.setdefault(event.get("item_id", ""), self.current)
        turn.reply_seen = True
        if text:
            turn.bot_transcript.append(text)
            self._line("bot", text)

    def _tool_started(self, event: dict[str, Any], now: float) -> None:
        record = ToolRecord(
            call_id=event.get("call_id", ""),
            tool=event.get("tool", ""),
            summary=event.get("summary", ""),
            started_at=now,
        )
        self.tools_in_flight[record.call_id] = record
        self.current.tools.append(record)
        self._line("tool", f"{record.tool}: {record.summary}")

    def _tool_completed(self, event: dict[str, Any], now: float) -> None:
        call_id = event.get("call_id", "")
        record = self.tools_in_flight.pop(call_id, None)
        if record is None:
            record = ToolRecord(call_id, event.get("tool", ""), "", now)
            self.current.tools.append(record)
        record.ok = bool(event.get("ok"))
        record.summary = event.get("summary") or record.summary
        record.duration_ms = event.get("duration_ms")
        record.error_code = event.get("error_code")
        record.card = event.get("card")
        outcome = "done" if record.ok else f"failed ({record.error_code})"
        self._line(
            "tool", f"{record.tool} {outcome} in {record.duration_ms or 0:.0f} ms: {record.summary}"
        )

    def _error_event(self, event: dict[str, Any], now: float) -> None:
        self._error(event.get("error") or {})

    def _error(self, error: dict[str, Any]) -> None:
        self.errors.append(error)
        self._line("error", f"{error.get('code') or error.get('type')}: {error.get('message', '')}")

    # -- results --------------------------------------------------------------------------------

    def reply_audio(self, *, gap_ms: int = 300) -> np.ndarray:
        """Every assistant audio item in order as heard (cut where the caller barged in)."""
        gap = np.zeros(SAMPLE_RATE * gap_ms // 1000, dtype=np.int16)
        parts: list[np.ndarray] = []
        for item_id in self._item_order:
            audio = np.concatenate(self._item_audio[item_id])
            if item_id in self._truncated:
                audio = audio[: self._truncated[item_id]]
            if parts:
                parts.append(gap)
            parts.append(audio)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def tools(self) -> list[ToolRecord]:
        return [t for turn in [self._prelude, *self.turns] for t in turn.tools]


_HANDLERS: dict[str, Callable[[CallState, dict[str, Any], float], list[dict[str, Any]] | None]] = {
    "session.created": CallState._session_created,
    "switchboard.session": CallState._switchboard_session,
    "input_audio_buffer.speech_started": CallState._speech_started,
    "input_audio_buffer.speech_stopped": CallState._speech_stopped,
    "conversation.item.input_audio_transcription.completed": CallState._user_transcript,
    "response.created": CallState._response_created,
    "response.done": CallState._response_done,
    "response.output_audio.delta": CallState._audio_delta,
    "response.output_audio_transcript.done": CallState._bot_transcript,
    "response.output_text.done": CallState._bot_transcript,
    "switchboard.tool.started": CallState._tool_started,
    "switchboard.tool.completed": CallState._tool_completed,
    "error": CallState._error_event,
}
