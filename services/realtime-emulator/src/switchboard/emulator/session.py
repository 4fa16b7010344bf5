"""One Realtime session: conversation state, input audio buffer with server VAD, responses.

The engine speaks GA internally; the :class:`~switchboard.emulator.dialect.Dialect` translates
at the edges. Transport is two callables (receive a text frame, send a text frame), so the same
code runs behind the websocket endpoint and in tests. Per session: one ``TaskGroup`` with a
reader, a writer and the running response; CPU work goes to the shared speech thread pool.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from switchboard.emulator import metrics
from switchboard.emulator.audio import FORMAT_RATES, Resampler, decode, encode
from switchboard.emulator.config import ResponseConfig, SessionConfig
from switchboard.emulator.dialect import Dialect
from switchboard.emulator.errors import ProtocolError
from switchboard.emulator.idle import IdleTimer
from switchboard.emulator.ids import new_id
from switchboard.emulator.policy import Call, DialoguePolicy, Reply
from switchboard.emulator.speech import Speech
from switchboard.emulator.tts import OUTPUT_RATE, split_sentences
from switchboard.emulator.vad import SAMPLE_RATE, WINDOW, SpeechStarted, TurnDetector, VadStream

__all__ = ["RealtimeSession", "SessionClosed"]

log = logging.getLogger(__name__)

_CHUNK_SAMPLES = OUTPUT_RATE // 10  # 100 ms of output audio per delta
_MIN_COMMIT_MS = 100


#: Client messages a session holds while it catches up (about a minute of 40 ms audio chunks).
INBOX_MESSAGES = 1500
#: At most this many queued ``input_audio_buffer.append`` chunks are taken in at once by a
#: session that is behind (a few hundred ms of audio: less than the shortest end-of-turn
#: silence, so a turn's end is still found where it was).
APPEND_BATCH = 8


class SessionClosed(Exception):
    """The client went away."""


@dataclass
class _Response:
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


@dataclass
class _UserAudio:
    item_id: str
    transcript: asyncio.Future[str]
    duration_ms: int


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


class RealtimeSession:
    """The state and event handling of one client connection."""

    def __init__(
        self,
        *,
        model: str,
        dialect: Dialect,
        speech: Speech,
        max_session_s: float = 1800.0,
        receive: Callable[[], Awaitable[str | bytes]],
        send: Callable[[str], Awaitable[None]],
    ) -> None:
        self.id = new_id("sess_emu")
        self.dialect = dialect
        self.speech = speech
        self.config = SessionConfig(session_id=self.id, model=model)
        self.config.expires_at = int(time.time() + max_session_s)
        self.max_session_s = max_session_s
        self._receive = receive
        self._send = send
        self._outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.items: list[dict[str, Any]] = []
        self._audio_ms: dict[str, int] = {}
        self._user_audio: dict[str, _UserAudio] = {}
        self.policy = DialoguePolicy()
        self.response: _Response | None = None
        self._audio_started = False
        self._tg: asyncio.TaskGroup | None = None
        # input audio
        self._resampler = Resampler(FORMAT_RATES[self.config.input_format], SAMPLE_RATE)
        self._vad: VadStream = speech.vad.stream()
        self._detector = self._new_detector()
        self._buffer: list[np.ndarray] = []
        self._buffer_samples = 0
        self._total_samples = 0  # 16 kHz samples received since the session started
        self._buffer_start = 0  # session sample index where the uncommitted buffer begins
        self._pending_item_id: str | None = None
        self._speech_start = 0
        self._vad_origin = 0  # session sample index of the VAD stream's first window
        self._vad_windows = 0
        self._idle = IdleTimer()
        self._idle_items: set[str] = set()  # user items committed by the idle timeout

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until the client leaves or the session cap is reached."""
        metrics.ACTIVE_SESSIONS.inc()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                writer = tg.create_task(self._writer())
                self.emit({"type": "session.created", "session": self.config.as_ga()})
                try:
                    async with asyncio.timeout(self.max_session_s):
                        await self._reader()
                except TimeoutError:
                    self.emit(
                        {
                            "type": "error",
                            "error": {
                                "type": "invalid_request_error",
                                "code": "session_expired",
                                "message": f"Your session hit the maximum duration of {self.max_session_s:g} seconds.",
                            },
                        }
                    )
                self._cancel_active(None)
                self._outbox.put_nowait(None)
                await writer
        except* SessionClosed:
            log.info("client closed the session", extra={"session_id": self.id})
        finally:
            metrics.ACTIVE_SESSIONS.dec()

    async def _writer(self) -> None:
        while (event := await self._outbox.get()) is not None:
            await self._send(json.dumps(event))

    async def _receive_into(self, inbox: asyncio.Queue[str | bytes | Exception]) -> None:
        """Take messages off the connection as they arrive, whatever the handling's pace.

        The server stops reading a websocket until the application has taken its last message,
        pings included; handled in line, an emulator behind on speech work (more callers than
        its CPU serves in real time) left its peers' pings unanswered for tens of seconds and
        they dropped the connection. Now it stays connected and catches up; only
        ``INBOX_MESSAGES`` of backlog (about a minute of audio) stop the reading again."""
        try:
            while True:
                await inbox.put(await self._receive())
        except Exception as exc:  # SessionClosed, or a surprise: handed over in order
            await inbox.put(exc)

    async def _reader(self) -> None:
        inbox: asyncio.Queue[str | bytes | Exception] = asyncio.Queue(maxsize=INBOX_MESSAGES)
        receiver = asyncio.create_task(self._receive_into(inbox), name=f"{self.id}-receive")
        try:
            await self._handle_inbox(inbox)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver

    async def _handle_inbox(self, inbox: asyncio.Queue[str | bytes | Exception]) -> None:
        carried: str | bytes | Exception | None = None
        while True:
            raw, carried = (carried, None) if carried is not None else (await inbox.get(), None)
            if isinstance(raw, SessionClosed):
                self._cancel_active(None)
                self._outbox.put_nowait(None)
                raise raw
            if isinstance(raw, Exception):
                raise raw
            event_id: str | None = None
            try:
                event = self.dialect.parse(raw)
                event_id = event.get("event_id")
                metrics.EVENTS_IN.labels(event["type"]).inc()
                if event["type"] == "input_audio_buffer.append":
                    samples, carried = self._more_appends(
                        inbox, self._decode_append(event["audio"])
                    )
                    await self._append(samples)
                else:
                    await self._handle(event)
            except ProtocolError as exc:
                if event_id is None:
                    with contextlib.suppress(Exception):
                        event_id = json.loads(raw).get("event_id")
                self._error(exc, event_id)

    def emit(self, event: dict[str, Any]) -> None:
        """Queue a GA server event (an ``event_id`` is added) for the writer."""
        event = {"event_id": new_id("event"), **event}
        out = self.dialect.outgoing(event)
        if out is not None:
            metrics.EVENTS_OUT.labels(out["type"]).inc()
            self._outbox.put_nowait(out)

    def _error(self, exc: ProtocolError, event_id: str | None) -> None:
        metrics.PROTOCOL_ERRORS.labels(exc.code).inc()
        log.info(
            "protocol error", extra={"session_id": self.id, "code": exc.code, "param": exc.param}
        )
        self.emit({"type": "error", "error": exc.as_error(event_id)})

    # -- client events --------------------------------------------------------------------------

    async def _handle(self, event: dict[str, Any]) -> None:
        kind = event["type"]  # input_audio_buffer.append never comes here: _handle_inbox
        if kind == "session.update":
            self._session_update(event["session"])
        elif kind == "conversation.item.create":
            self._item_create(event["item"], event.get("previous_item_id"))
        elif kind == "response.create":
            self._response_create(event.get("response"))
        elif kind == "response.cancel":
            self._response_cancel(event.get("response_id"))
        elif kind == "input_audio_buffer.commit":
            self._commit(manual=True)
        elif kind == "input_audio_buffer.clear":
            self._clear_buffer()
            self.emit({"type": "input_audio_buffer.cleared"})
        elif kind == "conversation.item.truncate":
            self._truncate(event["item_id"], event["content_index"], event["audio_end_ms"])
        elif kind == "conversation.item.delete":
            item = self._find(event["item_id"], "item_id")
            self.items.remove(item)
            self.emit({"type": "conversation.item.deleted", "item_id": item["id"]})
        elif kind == "conversation.item.retrieve":
            self.emit(
                {
                    "type": "conversation.item.retrieved",
                    "item": self._find(event["item_id"], "item_id"),
                }
            )
        elif kind == "output_audio_buffer.clear":
            # WebRTC/SIP buffer the audio server-side; over a websocket it is already sent. Stop
            # the response that is producing audio, as the service does.
            if self.response is not None:
                response_id = self.response.id
                self._cancel_active("client_cancelled")
                self.emit({"type": "output_audio_buffer.cleared", "response_id": response_id})
        else:  # pragma: no cover - every validated type is handled above
            raise ProtocolError(f"Unsupported event type {kind!r}.", param="type")

    def _session_update(self, update: dict[str, Any]) -> None:
        new = self.config.merge(update, audio_started=self._audio_started)
        if new.input_format != self.config.input_format:
            self._resampler = Resampler(FORMAT_RATES[new.input_format], SAMPLE_RATE)
        turn_changed = new.turn_detection != self.config.turn_detection
        self.config = new
        if turn_changed:
            self._detector = self._new_detector()
            self._vad = self.speech.vad.stream()
            self._vad_origin = self._total_samples
            self._vad_windows = 0
            self._pending_item_id = None
        self.emit({"type": "session.updated", "session": self.config.as_ga()})

    def _new_detector(self) -> TurnDetector | None:
        td = self.config.turn_detection
        if td is None:
            return None
        return TurnDetector(
            threshold=float(td["threshold"]),
            prefix_padding_ms=int(td["prefix_padding_ms"]),
            silence_duration_ms=int(td["silence_duration_ms"]),
        )

    def _find(self, item_id: str, param: str) -> dict[str, Any]:
        for item in self.items:
            if item["id"] == item_id:
                return item
        raise ProtocolError(
            f"Item with item_id not found: {item_id}", code="item_not_found", param=param
        )

    def _previous_id(self, item: dict[str, Any]) -> str | None:
        index = self.items.index(item)
        return self.items[index - 1]["id"] if index > 0 else None

    def _add_item(self, item: dict[str, Any], previous_item_id: str | None = None) -> None:
        if previous_item_id is None:
            self.items.append(item)
        elif previous_item_id == "root":
            self.items.insert(0, item)
        else:
            previous = self._find(previous_item_id, "previous_item_id")
            self.items.insert(self.items.index(previous) + 1, item)

    def _item_create(self, item: dict[str, Any], previous_item_id: str | None) -> None:
        item = {
            **item,
            "id": item.get("id") or new_id("item"),
            "object": "realtime.item",
            "status": "completed",
        }
        if any(existing["id"] == item["id"] for existing in self.items):
            raise ProtocolError(
                f"Item with id {item['id']} already exists.",
                code="item_already_exists",
                param="item.id",
            )
        if item["type"] == "function_call_output" and not any(
            i.get("type") == "function_call" and i.get("call_id") == item["call_id"]
            for i in self.items
        ):
            raise ProtocolError(
                f"No function call found with call_id {item['call_id']!r}.", param="item.call_id"
            )
        self._add_item(item, previous_item_id)
        previous = self._previous_id(item)
        self.emit({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        self.emit({"type": "conversation.item.done", "previous_item_id": previous, "item": item})

    # -- input audio ----------------------------------------------------------------------------

    def _decode_append(self, audio_b64: str) -> np.ndarray:
        try:
            data = base64.b64decode(audio_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("Invalid 'audio': not valid base64.", param="audio") from exc
        return decode(self.config.input_format, data)

    def _more_appends(
        self, inbox: asyncio.Queue[str | bytes | Exception], first: np.ndarray
    ) -> tuple[np.ndarray, str | bytes | Exception | None]:
        """*first* plus the valid appends queued right behind it (at most ``APPEND_BATCH`` in
        all), and the message that ended the run (to be handled next), if any.

        A session behind on its audio takes a run of chunks in one step instead of one round
        trip to the input thread each; a session keeping up finds the inbox empty."""
        chunks = [first]
        ended: str | bytes | Exception | None = None
        while ended is None and len(chunks) < APPEND_BATCH and not inbox.empty():
            raw = inbox.get_nowait()
            chunk = self._queued_append(raw)
            if chunk is None:
                ended = raw  # not an append, or a malformed one: handled on its own
            else:
                metrics.EVENTS_IN.labels("input_audio_buffer.append").inc()
                chunks.append(chunk)
        return (first if len(chunks) == 1 else np.concatenate(chunks)), ended

    def _queued_append(self, raw: str | bytes | Exception) -> np.ndarray | None:
        """The samples of *raw* if it is a valid ``input_audio_buffer.append``, else None."""
        if isinstance(raw, Exception):
            return None
        try:
            event = self.dialect.parse(raw)
            if event["type"] != "input_audio_buffer.append":
                return None
            return self._decode_append(event["audio"])
        except ProtocolError:
            return None

    async def _append(self, samples: np.ndarray) -> None:
        detector = self._detector
        stream = self._vad
        resampler = self._resampler
        detect = detector is not None

        def ingest() -> tuple[np.ndarray, list[float]]:
            pcm16k = resampler.process(samples)
            return pcm16k, stream.feed(pcm16k) if detect else []

        pcm16k, probs = await self.speech.ingest(ingest)
        first_window_sample = self._vad_origin + self._vad_windows * WINDOW
        self._vad_windows += len(probs)
        self._buffer.append(pcm16k)
        self._buffer_samples += pcm16k.size
        self._total_samples += pcm16k.size
        if detector is None or detector is not self._detector:  # none, or changed meanwhile
            return
        assert detector is not None
        events = detector.push(
            probs,
            first_window_ms=_ms(first_window_sample),
            buffer_start_ms=_ms(self._buffer_start),
        )
        for turn in events:
            if isinstance(turn, SpeechStarted):
                self._pending_item_id = new_id("item")
                self._speech_start = turn.audio_start_ms
                self.emit(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": turn.audio_start_ms,
                        "item_id": self._pending_item_id,
                    }
                )
                self._idle.disarm()
                td = self.config.turn_detection or {}
                if self.response is not None and td.get("interrupt_response", True):
                    self._cancel_active("turn_detected")
            else:
                item_id = self._pending_item_id or new_id("item")
                self.emit(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": turn.audio_end_ms,
                        "item_id": item_id,
                    }
                )
                self._drop_before(self._speech_start)
                self._commit(manual=False, item_id=item_id, speech_end=time.perf_counter())
        self._check_idle()

    def _check_idle(self) -> None:
        """Server VAD's idle timeout: no speech for ``idle_timeout_ms`` after the last response's
        playback → ``input_audio_buffer.timeout_triggered``, the silent audio committed, and a
        response (that asks whether the caller is still there)."""
        td = self.config.turn_detection or {}
        due = self._idle.due(
            _ms(self._total_samples),
            td.get("idle_timeout_ms") if td.get("type") == "server_vad" else None,
            busy=self._pending_item_id is not None or self.response is not None,
        )
        if due is None:
            return
        start_ms, end_ms = due
        item_id = new_id("item")
        self.emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": start_ms,
                "audio_end_ms": end_ms,
                "item_id": item_id,
            }
        )
        self._idle_items.add(item_id)
        self._drop_before(start_ms)
        self._commit(manual=False, item_id=item_id, speech_end=time.perf_counter())

    def _drop_before(self, ms: int) -> None:
        """Discard buffered audio before *ms* (audio before the speech and its prefix padding)."""
        drop = min(self._buffer_samples, max(0, ms * SAMPLE_RATE // 1000 - self._buffer_start))
        if drop <= 0:
            return
        audio = np.concatenate(self._buffer)[drop:]
        self._buffer = [audio]
        self._buffer_samples = audio.size
        self._buffer_start += drop

    def _clear_buffer(self) -> None:
        self._buffer = []
        self._buffer_samples = 0
        self._buffer_start = self._total_samples
        self._pending_item_id = None
        if self._detector is not None:
            self._detector.reset()

    def _commit(
        self, *, manual: bool, item_id: str | None = None, speech_end: float | None = None
    ) -> None:
        duration_ms = self._buffer_samples * 1000 // SAMPLE_RATE
        if duration_ms < _MIN_COMMIT_MS:
            if manual:
                raise ProtocolError(
                    "Error committing input audio buffer: buffer too small. Expected at least "
                    f"{_MIN_COMMIT_MS}ms of audio, but buffer only has {duration_ms:.2f}ms of audio.",
                    code="input_audio_buffer_commit_empty",
                )
            self._clear_buffer()
            return
        audio = np.concatenate(self._buffer)
        item_id = item_id or self._pending_item_id or new_id("item")
        self._clear_buffer()
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        previous = self.items[-1]["id"] if self.items else None
        self.items.append(item)
        self.emit(
            {
                "type": "input_audio_buffer.committed",
                "item_id": item_id,
                "previous_item_id": previous,
            }
        )
        self.emit({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        self.emit({"type": "conversation.item.done", "previous_item_id": previous, "item": item})
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._user_audio[item_id] = _UserAudio(item_id, future, duration_ms)
        self._spawn(self._transcribe(item, audio, future))
        td = self.config.turn_detection
        if (
            not manual
            and td is not None
            and td.get("create_response", True)
            and self.response is None
        ):
            self._start_response(ResponseConfig.build(self.config, None), speech_end=speech_end)

    async def _transcribe(
        self, item: dict[str, Any], audio: np.ndarray, future: asyncio.Future[str]
    ) -> None:
        started = time.perf_counter()
        try:
            transcript = await self.speech.transcribe(audio)
        except Exception:
            log.exception(
                "transcription failed", extra={"session_id": self.id, "item_id": item["id"]}
            )
            future.set_result("")
            if self.config.transcription is not None:
                self.emit(
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
        metrics.TRANSCRIBE_SECONDS.observe(time.perf_counter() - started)
        text = transcript.text
        item["content"][0]["transcript"] = text
        future.set_result(text)
        if self.config.transcription is not None:
            if text:
                self.emit(
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item["id"],
                        "content_index": 0,
                        "delta": text,
                    }
                )
            self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item["id"],
                    "content_index": 0,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": round(audio.size / SAMPLE_RATE, 3)},
                }
            )

    # -- responses ------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        assert self._tg is not None
        return self._tg.create_task(coro)

    def _response_create(self, overrides: dict[str, Any] | None) -> None:
        if self.response is not None:
            raise ProtocolError(
                f"Conversation already has an active response in progress: {self.response.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        self._start_response(ResponseConfig.build(self.config, overrides))

    def _start_response(self, config: ResponseConfig, *, speech_end: float | None = None) -> None:
        response = _Response(id=new_id("resp"), config=config, speech_end=speech_end)
        self.response = response
        response.task = self._spawn(self._run_response(response))

    def _response_cancel(self, response_id: str | None) -> None:
        if self.response is None or (response_id is not None and response_id != self.response.id):
            raise ProtocolError(
                "Cancellation failed: no active response found", code="response_cancel_not_active"
            )
        self._cancel_active("client_cancelled")

    def _cancel_active(self, reason: str | None) -> None:
        response = self.response
        if response is None or response.task is None:
            return
        response.cancel_reason = reason or "client_cancelled"
        response.task.cancel()

    def _response_object(self, response: _Response, status: str) -> dict[str, Any]:
        cfg = response.config
        doc: dict[str, Any] = {
            "id": response.id,
            "object": "realtime.response",
            "status": status,
            "status_details": None,
            "output": [dict(i) for i in response.output],
            "conversation_id": "conv_" + self.id if cfg.conversation == "auto" else None,
            "output_modalities": cfg.output_modalities,
            "max_output_tokens": cfg.max_output_tokens,
            "audio": {"output": {"format": {"type": cfg.output_format}, "voice": cfg.voice}},
            "metadata": cfg.metadata,
            "usage": None,
        }
        if status != "in_progress":
            input_text = sum(
                _tokens(c.get("text") or c.get("transcript") or "")
                for i in self.items
                for c in i.get("content") or []
            )
            input_audio = sum(math.ceil(u.duration_ms / 100) for u in self._user_audio.values())
            output_audio = math.ceil(response.output_audio_ms / 50)
            doc["usage"] = {
                "total_tokens": input_text
                + input_audio
                + response.output_text_tokens
                + output_audio,
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

    async def _run_response(self, response: _Response) -> None:
        self.emit(
            {"type": "response.created", "response": self._response_object(response, "in_progress")}
        )
        status = "completed"
        try:
            reply = await self._decide(response)
            if reply.calls:
                for call in reply.calls:
                    await self._emit_function_call(response, call)
            else:
                await self._emit_message(response, reply.text or "")
            if response.incomplete_reason is not None:
                status = "incomplete"
        except asyncio.CancelledError:
            if response.cancel_reason is None:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            status = "cancelled"
            self._close_open_items(response)
        except Exception:
            log.exception(
                "response failed", extra={"session_id": self.id, "response_id": response.id}
            )
            status = "failed"
            self._close_open_items(response)
        finally:
            if self.response is response:
                self.response = None
        if status in ("completed", "incomplete"):
            heard = _ms(self._total_samples)
            if response.first_audio_pos_ms is not None:
                heard = max(heard, response.first_audio_pos_ms + response.output_audio_ms)
            self._idle.arm(heard)
        metrics.RESPONSES.labels(status).inc()
        self.emit({"type": "response.done", "response": self._response_object(response, status)})

    def _close_open_items(self, response: _Response) -> None:
        for index, item in enumerate(response.output):
            if item.get("status") == "in_progress":
                item["status"] = "incomplete"
                self.emit(
                    {
                        "type": "response.output_item.done",
                        "response_id": response.id,
                        "output_index": index,
                        "item": item,
                    }
                )
                if response.config.conversation == "auto":
                    self.emit({"type": "conversation.item.done", "item": item})

    async def _decide(self, response: _Response) -> Reply:
        cfg = response.config
        items = cfg.input_items if cfg.input_items is not None else self.items
        last = next(
            (
                i
                for i in reversed(items)
                if i.get("type") in ("message", "function_call_output")
                and i.get("role") != "system"
            ),
            None,
        )
        if last is not None and last.get("type") == "function_call_output":
            return self.policy.summarize_all(self._trailing_outputs(items))
        user_text: str | None = None
        if last is not None and last.get("id") in self._idle_items:
            return Reply(text="Are you still there? I'm here if you need anything else.")
        if last is not None and last.get("role") == "user":
            parts = []
            for content in last.get("content") or []:
                if content.get("type") == "input_text":
                    parts.append(content.get("text") or "")
                elif content.get("type") == "input_audio":
                    pending = self._user_audio.get(last.get("id", ""))
                    # shielded: the transcript belongs to the item, and a cancelled response
                    # (barge-in, response.cancel) must not cancel it under the transcription
                    parts.append(
                        await asyncio.shield(pending.transcript)
                        if pending
                        else content.get("transcript") or ""
                    )
            user_text = " ".join(p for p in parts if p)
            if not user_text:
                return Reply(text="Sorry, I didn't catch that. Could you say it again?")
        return self.policy.respond(
            user_text=user_text,
            tools=cfg.tools,
            tool_choice=cfg.tool_choice,
            instructions=cfg.instructions,
            previous_call=_last_call(items),
        )

    def _trailing_outputs(self, items: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
        """(tool name, output) of every function_call_output since the last user message, in
        the order of their calls (several calls in one response are answered together)."""
        outputs: list[dict[str, Any]] = []
        for item in reversed(items):
            if item.get("type") == "message" and item.get("role") == "user":
                break
            if item.get("type") == "function_call_output":
                outputs.append(item)
        names = {
            i.get("call_id"): i.get("name") for i in self.items if i.get("type") == "function_call"
        }
        return [(names.get(o.get("call_id")), str(o.get("output", ""))) for o in reversed(outputs)]

    def _open_item(self, response: _Response, item: dict[str, Any]) -> int:
        index = len(response.output)
        response.output.append(item)
        self.emit(
            {
                "type": "response.output_item.added",
                "response_id": response.id,
                "output_index": index,
                "item": item,
            }
        )
        if response.config.conversation == "auto":
            previous = self.items[-1]["id"] if self.items else None
            self.items.append(item)
            self.emit(
                {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
            )
        return index

    def _close_item(self, response: _Response, index: int, item: dict[str, Any]) -> None:
        item["status"] = "completed"
        self.emit(
            {
                "type": "response.output_item.done",
                "response_id": response.id,
                "output_index": index,
                "item": item,
            }
        )
        if response.config.conversation == "auto":
            self.emit(
                {
                    "type": "conversation.item.done",
                    "previous_item_id": self._previous_id(item),
                    "item": item,
                }
            )

    async def _emit_function_call(self, response: _Response, call: Call) -> None:
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
            self.emit(
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
        response.output_text_tokens += _tokens(arguments)
        self.emit(
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

    def _budget(self, response: _Response, text: str) -> str:
        """Cut *text* to the response's output token budget (then the response is incomplete)."""
        limit = response.config.max_output_tokens
        if limit == "inf" or not isinstance(limit, int):
            return text
        words = text.split()
        kept: list[str] = []
        for word in words:
            if _tokens(" ".join([*kept, word])) > limit:
                response.incomplete_reason = "max_output_tokens"
                break
            kept.append(word)
        return " ".join(kept)

    async def _emit_message(self, response: _Response, text: str) -> None:
        cfg = response.config
        audio = "audio" in cfg.output_modalities
        text = self._budget(response, text)
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
        self.emit({"type": "response.content_part.added", **base, "part": dict(part)})
        spoken: list[str] = []
        self._audio_ms[item["id"]] = 0
        for sentence in split_sentences(text):
            piece = sentence if not spoken else " " + sentence
            if not audio:
                content["text"] += piece
                response.output_text_tokens += _tokens(piece)
                self.emit({"type": "response.output_text.delta", **base, "delta": piece})
                await asyncio.sleep(0)
                continue
            samples = await self.speech.synthesize(sentence, cfg.speed)
            spoken.append(sentence)
            content["transcript"] += piece
            response.output_text_tokens += _tokens(piece)
            # a sentence's transcript goes out with its first audio, as the service interleaves them
            transcript = {"type": "response.output_audio_transcript.delta", **base, "delta": piece}
            await self._stream_audio(response, item["id"], base, samples, transcript)
        if audio:
            self.emit({"type": "response.output_audio.done", **base})
            self.emit(
                {
                    "type": "response.output_audio_transcript.done",
                    **base,
                    "transcript": content["transcript"],
                }
            )
            part["transcript"] = content["transcript"]
        else:
            self.emit({"type": "response.output_text.done", **base, "text": content["text"]})
            part["text"] = content["text"]
        self.emit({"type": "response.content_part.done", **base, "part": part})
        self._close_item(response, index, item)

    async def _stream_audio(
        self,
        response: _Response,
        item_id: str,
        base: dict[str, Any],
        samples: np.ndarray,
        transcript: dict[str, Any],
    ) -> None:
        fmt = response.config.output_format
        if samples.size == 0:
            self.emit(transcript)
        for start in range(0, samples.size, _CHUNK_SAMPLES):
            chunk = samples[start : start + _CHUNK_SAMPLES]
            if response.first_audio_at is None:
                response.first_audio_at = time.perf_counter()
                response.first_audio_pos_ms = _ms(self._total_samples)
                origin = response.speech_end or response.started
                metrics.FIRST_AUDIO_SECONDS.observe(response.first_audio_at - origin)
            self._audio_started = True
            delta = base64.b64encode(encode(fmt, chunk)).decode("ascii")
            self.emit({"type": "response.output_audio.delta", **base, "delta": delta})
            if start == 0:
                self.emit(transcript)
            ms = chunk.size * 1000 // OUTPUT_RATE
            self._audio_ms[item_id] += ms
            response.output_audio_ms += ms
            metrics.AUDIO_OUT_SECONDS.inc(chunk.size / OUTPUT_RATE)
            await asyncio.sleep(0)

    # -- truncation -----------------------------------------------------------------------------

    def _truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        item = self._find(item_id, "item_id")
        if item.get("role") != "assistant" or item.get("type") != "message":
            raise ProtocolError("Only assistant messages can be truncated.", param="item_id")
        content = item.get("content") or []
        if (
            not 0 <= content_index < len(content)
            or content[content_index].get("type") != "output_audio"
        ):
            raise ProtocolError(
                f"Content index {content_index} is not an audio part.", param="content_index"
            )
        if audio_end_ms < 0:
            raise ProtocolError("audio_end_ms must not be negative.", param="audio_end_ms")
        produced = self._audio_ms.get(item_id, 0)
        if audio_end_ms > produced:
            raise ProtocolError(
                f"Audio content of {produced}ms is already shorter than {audio_end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
            )
        if self.response is not None and any(o is item for o in self.response.output):
            self._cancel_active("client_cancelled")
        transcript = content[content_index].get("transcript") or ""
        words = transcript.split()
        keep = math.floor(len(words) * audio_end_ms / produced) if produced else 0
        content[content_index]["transcript"] = " ".join(words[:keep])
        self._audio_ms[item_id] = audio_end_ms
        self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": audio_end_ms,
            }
        )


def _last_call(items: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """The conversation's last function call as (name, arguments), if any."""
    for item in reversed(items):
        if item.get("type") == "function_call" and item.get("name"):
            try:
                arguments = json.loads(item.get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {}
            return str(item["name"]), arguments if isinstance(arguments, dict) else {}
    return None


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE
