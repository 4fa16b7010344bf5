"""A session's input audio: appended chunks resampled and run through the VAD, server-VAD turns,
``input_audio_buffer.commit``/``clear``, the idle timeout, and the transcription of each committed
user turn (in the speech-free mode: the words typed before it). The bookkeeping lives in :class:`~switchboard.emulator.input_buffer.InputBuffer`; this
module carries it out against the session (events out, responses started and interrupted)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from switchboard.emulator import metrics
from switchboard.emulator.audio import FORMAT_RATES, Resampler, decode
from switchboard.emulator.config import ResponseConfig, SessionConfig
from switchboard.emulator.errors import ProtocolError
from switchboard.emulator.idle import IdleTimer
from switchboard.emulator.ids import new_id
from switchboard.emulator.input_buffer import InputBuffer, samples_to_ms
from switchboard.emulator.synthetic import typed_words_before
from switchboard.emulator.vad import SAMPLE_RATE, WINDOW, SpeechStarted, TurnDetector, VadStream

if TYPE_CHECKING:
    from switchboard.emulator.session import RealtimeSession

__all__ = ["MIN_COMMIT_MS", "InputAudio", "UserAudio", "new_detector"]

log = logging.getLogger(__name__)

#: The shortest buffer ``input_audio_buffer.commit`` accepts, as the service does.
MIN_COMMIT_MS = 100


@dataclass
class UserAudio:
    """A committed user turn: its transcript (when ready) and its length."""

    item_id: str
    transcript: asyncio.Future[str]
    duration_ms: int


def new_detector(turn_detection: dict[str, Any] | None) -> TurnDetector | None:
    """The server-VAD turn detector for a session's ``turn_detection`` (None: no detection)."""
    if turn_detection is None:
        return None
    return TurnDetector(
        threshold=float(turn_detection["threshold"]),
        prefix_padding_ms=int(turn_detection["prefix_padding_ms"]),
        silence_duration_ms=int(turn_detection["silence_duration_ms"]),
    )


class InputAudio:
    """The input audio buffer of one session, with server VAD and the idle timeout."""

    def __init__(self, session: RealtimeSession) -> None:
        self._session = session
        config = session.config
        self._resampler = Resampler(FORMAT_RATES[config.input_format], SAMPLE_RATE)
        self._vad: VadStream = session.speech.vad.stream()
        self._detector = new_detector(config.turn_detection)
        self.buffer = InputBuffer()
        self._pending_item_id: str | None = None
        self._speech_start = 0
        self._vad_origin = 0  # session sample index of the VAD stream's first window
        self._vad_windows = 0
        self.idle = IdleTimer()
        #: user items committed by the idle timeout
        self.idle_items: set[str] = set()
        #: every committed user turn, by item id
        self.user_audio: dict[str, UserAudio] = {}

    def reconfigure(self, old: SessionConfig, new: SessionConfig) -> None:
        """Follow a ``session.update``: a new input format, or a new turn detection (which
        starts the VAD afresh and forgets a turn in progress)."""
        if new.input_format != old.input_format:
            self._resampler = Resampler(FORMAT_RATES[new.input_format], SAMPLE_RATE)
        if new.turn_detection != old.turn_detection:
            self._detector = new_detector(new.turn_detection)
            self._vad = self._session.speech.vad.stream()
            self._vad_origin = self.buffer.total_samples
            self._vad_windows = 0
            self._pending_item_id = None

    def decode(self, audio_b64: str) -> np.ndarray:
        """The samples of an ``input_audio_buffer.append``'s base64 ``audio``."""
        try:
            data = base64.b64decode(audio_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("Invalid 'audio': not valid base64.", param="audio") from exc
        return decode(self._session.config.input_format, data)

    async def append(self, samples: np.ndarray) -> None:
        """Take in appended audio; emit turn events, commit ended turns, check the idle timeout."""
        detector = self._detector
        stream = self._vad
        resampler = self._resampler
        detect = detector is not None

        def ingest() -> tuple[np.ndarray, list[float]]:
            pcm16k = resampler.process(samples)
            return pcm16k, stream.feed(pcm16k) if detect else []

        session = self._session
        pcm16k, probs = await session.speech.ingest(ingest)
        first_window_sample = self._vad_origin + self._vad_windows * WINDOW
        self._vad_windows += len(probs)
        self.buffer.add(pcm16k)
        if detector is None or detector is not self._detector:  # none, or changed meanwhile
            return
        assert detector is not None
        events = detector.push(
            probs,
            first_window_ms=samples_to_ms(first_window_sample),
            buffer_start_ms=self.buffer.start_ms,
        )
        for turn in events:
            if isinstance(turn, SpeechStarted):
                self._pending_item_id = new_id("item")
                self._speech_start = turn.audio_start_ms
                session.emit(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": turn.audio_start_ms,
                        "item_id": self._pending_item_id,
                    }
                )
                self.idle.disarm()
                td = session.config.turn_detection or {}
                if session.responses.active is not None and td.get("interrupt_response", True):
                    session.responses.cancel_active("turn_detected")
            else:
                item_id = self._pending_item_id or new_id("item")
                session.emit(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": turn.audio_end_ms,
                        "item_id": item_id,
                    }
                )
                self.buffer.drop_before(self._speech_start)
                self.commit(manual=False, item_id=item_id, speech_end=time.perf_counter())
        self._check_idle()

    def _check_idle(self) -> None:
        """Server VAD's idle timeout: no speech for ``idle_timeout_ms`` after the last response's
        playback → ``input_audio_buffer.timeout_triggered``, the silent audio committed, and a
        response (that asks whether the caller is still there)."""
        session = self._session
        td = session.config.turn_detection or {}
        due = self.idle.due(
            self.buffer.received_ms,
            td.get("idle_timeout_ms") if td.get("type") == "server_vad" else None,
            busy=self._pending_item_id is not None or session.responses.active is not None,
        )
        if due is None:
            return
        start_ms, end_ms = due
        item_id = new_id("item")
        session.emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": start_ms,
                "audio_end_ms": end_ms,
                "item_id": item_id,
            }
        )
        self.idle_items.add(item_id)
        self.buffer.drop_before(start_ms)
        self.commit(manual=False, item_id=item_id, speech_end=time.perf_counter())

    def clear(self) -> None:
        """Empty the buffer and forget a turn in progress."""
        self.buffer.clear()
        self._pending_item_id = None
        if self._detector is not None:
            self._detector.reset()

    def commit(
        self, *, manual: bool, item_id: str | None = None, speech_end: float | None = None
    ) -> None:
        """Turn the buffer into a user message (too little audio: an error when the client asked,
        else dropped), transcribe it, and answer it when server VAD creates responses."""
        session = self._session
        duration_ms = self.buffer.duration_ms
        if duration_ms < MIN_COMMIT_MS:
            if manual:
                raise ProtocolError(
                    "Error committing input audio buffer: buffer too small. Expected at least "
                    f"{MIN_COMMIT_MS}ms of audio, but buffer only has {duration_ms:.2f}ms of audio.",
                    code="input_audio_buffer_commit_empty",
                )
            self.clear()
            return
        item_id = item_id or self._pending_item_id or new_id("item")
        audio = self.buffer.audio()
        self.clear()
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        previous = session.conversation.append(item)
        session.emit(
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": previous,
            }
        )
        session.emit(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        session.emit({"type": "conversation.item.done", "previous_item_id": previous, "item": item})
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.user_audio[item_id] = UserAudio(item_id, future, duration_ms)
        session.spawn(self._transcribe(item, audio, future))
        td = session.config.turn_detection
        if (
            not manual
            and td is not None
            and td.get("create_response", True)
            and session.responses.active is None
        ):
            session.responses.start(
                ResponseConfig.build(session.config, None), speech_end=speech_end
            )

    async def _transcribe(
        self, item: dict[str, Any], audio: np.ndarray, future: asyncio.Future[str]
    ) -> None:
        session = self._session
        started = time.perf_counter()
        try:
            if session.speech.hears:
                text = (await session.speech.transcribe(audio)).text
                metrics.TRANSCRIBE_SECONDS.observe(time.perf_counter() - started)
            else:  # the speech-free mode: the caller's words were typed before the audio
                text = typed_words_before(session.conversation.items, item)
        except Exception:
            log.exception(
                "transcription failed", extra={"session_id": session.id, "item_id": item["id"]}
            )
            future.set_result("")
            if session.config.transcription is not None:
                session.emit(
                    {
                        "type": "conversation.item.input_audio_transcription.failed",
                        "item_id": item["id"],
                        "content_index": 0,
                        "error": {
                            "type": "server_error",
                            "code": "transcription_failed",
                            "message": "The emulator could not transcribe this audio.",
                        },
                    }
                )
            return
        item["content"][0]["transcript"] = text
        future.set_result(text)
        if session.config.transcription is not None:
            if text:
                session.emit(
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item["id"],
                        "content_index": 0,
                        "delta": text,
                    }
                )
            session.emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item["id"],
                    "content_index": 0,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": round(audio.size / SAMPLE_RATE, 3)},
                }
            )
