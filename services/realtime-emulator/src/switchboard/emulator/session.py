"""One Realtime session: the connection loop, event dispatch, ``session.update`` and the
conversation's item events.

The engine speaks GA internally; the :class:`~switchboard.emulator.dialect.Dialect` translates
at the edges. Transport is two callables (receive a text frame, send a text frame), so the same
code runs behind the websocket endpoint and in tests. Per session: one ``TaskGroup`` with a
reader, a writer and the running response; CPU work goes to the shared speech thread pool.
The input audio (:mod:`~switchboard.emulator.input_audio`), the responses
(:mod:`~switchboard.emulator.responses`, :mod:`~switchboard.emulator.streaming`) and the
conversation (:mod:`~switchboard.emulator.conversation`) live in modules of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from switchboard.emulator import metrics
from switchboard.emulator.config import SessionConfig
from switchboard.emulator.conversation import Conversation
from switchboard.emulator.dialect import Dialect
from switchboard.emulator.errors import ProtocolError
from switchboard.emulator.ids import new_id
from switchboard.emulator.input_audio import InputAudio
from switchboard.emulator.policy import DialoguePolicy
from switchboard.emulator.responses import Responses
from switchboard.emulator.speech import Speech

__all__ = [
    "APPEND_BATCH",
    "CLIENT_EVENT_HANDLERS",
    "INBOX_MESSAGES",
    "RealtimeSession",
    "SessionClosed",
]

log = logging.getLogger(__name__)

#: Client messages a session holds while it catches up (about a minute of 40 ms audio chunks).
INBOX_MESSAGES = 1500
#: At most this many queued ``input_audio_buffer.append`` chunks are taken in at once by a
#: session that is behind (a few hundred ms of audio: less than the shortest end-of-turn
#: silence, so a turn's end is still found where it was).
APPEND_BATCH = 8


class SessionClosed(Exception):
    """The client went away."""


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
        self.config = SessionConfig(session_id=self.id, model=model, instructions=speech.notice)
        self.config.expires_at = int(time.time() + max_session_s)
        self.max_session_s = max_session_s
        self._receive = receive
        self._send = send
        self._outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.conversation = Conversation()
        self.policy = DialoguePolicy()
        #: set once output audio went out (the output format can no longer change)
        self.audio_started = False
        self._tg: asyncio.TaskGroup | None = None
        #: set when the client has closed the connection (its queued messages are dropped)
        self._client_gone = False
        self.input = InputAudio(self)
        self.responses = Responses(self)

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
                self.responses.cancel_active(None)
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
        ``INBOX_MESSAGES`` of backlog (about a minute of audio) stop the reading again.

        When the client has gone, its backlog is dropped: nobody hears what it would produce,
        and a busy emulator working through the queues of callers who hung up (a soak found
        five sessions alive per connected caller, gigabytes of queued audio) falls further
        behind on the callers still there."""
        try:
            while True:
                await inbox.put(await self._receive())
        except SessionClosed as exc:
            self._client_gone = True
            await inbox.put(exc)
        except Exception as exc:  # a surprise: handed over in order
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
            if self._client_gone:  # the backlog is for nobody: dropped
                raw = SessionClosed()
            if isinstance(raw, SessionClosed):
                self.responses.cancel_active(None)
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
                    samples, carried = self._more_appends(inbox, self.input.decode(event["audio"]))
                    await self.input.append(samples)
                else:
                    self._handle(event)
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

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run *coro* as a task of this session (ended with it)."""
        assert self._tg is not None
        return self._tg.create_task(coro)

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
            return self.input.decode(event["audio"])
        except ProtocolError:
            return None

    # -- client events --------------------------------------------------------------------------

    def _handle(self, event: dict[str, Any]) -> None:
        # input_audio_buffer.append never comes here: _handle_inbox takes it in
        handler = CLIENT_EVENT_HANDLERS.get(event["type"])
        if handler is None:  # pragma: no cover - every validated type has a handler
            raise ProtocolError(f"Unsupported event type {event['type']!r}.", param="type")
        handler(self, event)

    def _session_update(self, event: dict[str, Any]) -> None:
        new = self.config.merge(event["session"], audio_started=self.audio_started)
        self.input.reconfigure(self.config, new)
        self.config = new
        self.emit({"type": "session.updated", "session": self.config.as_ga()})

    def _item_create(self, event: dict[str, Any]) -> None:
        item = self.conversation.create(event["item"], event.get("previous_item_id"))
        previous = self.conversation.previous_id(item)
        self.emit({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        self.emit({"type": "conversation.item.done", "previous_item_id": previous, "item": item})

    def _item_delete(self, event: dict[str, Any]) -> None:
        item = self.conversation.delete(event["item_id"])
        self.emit({"type": "conversation.item.deleted", "item_id": item["id"]})

    def _item_retrieve(self, event: dict[str, Any]) -> None:
        item = self.conversation.find(event["item_id"], "item_id")
        self.emit({"type": "conversation.item.retrieved", "item": item})

    def _item_truncate(self, event: dict[str, Any]) -> None:
        item_id = event["item_id"]
        item = self.conversation.truncate(item_id, event["content_index"], event["audio_end_ms"])
        active = self.responses.active
        if active is not None and any(o is item for o in active.output):
            self.responses.cancel_active("client_cancelled")
        self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": event["content_index"],
                "audio_end_ms": event["audio_end_ms"],
            }
        )

    def _response_create(self, event: dict[str, Any]) -> None:
        self.responses.create(event.get("response"))

    def _response_cancel(self, event: dict[str, Any]) -> None:
        self.responses.cancel(event.get("response_id"))

    def _buffer_commit(self, event: dict[str, Any]) -> None:
        self.input.commit(manual=True)

    def _buffer_clear(self, event: dict[str, Any]) -> None:
        self.input.clear()
        self.emit({"type": "input_audio_buffer.cleared"})

    def _output_buffer_clear(self, event: dict[str, Any]) -> None:
        # WebRTC/SIP buffer the audio server-side; over a websocket it is already sent. Stop the
        # response that is producing audio, as the service does.
        active = self.responses.active
        if active is not None:
            self.responses.cancel_active("client_cancelled")
            self.emit({"type": "output_audio_buffer.cleared", "response_id": active.id})


#: The handler of every client event type but ``input_audio_buffer.append``.
CLIENT_EVENT_HANDLERS: dict[str, Callable[[RealtimeSession, dict[str, Any]], None]] = {
    "session.update": RealtimeSession._session_update,
    "conversation.item.create": RealtimeSession._item_create,
    "conversation.item.delete": RealtimeSession._item_delete,
    "conversation.item.retrieve": RealtimeSession._item_retrieve,
    "conversation.item.truncate": RealtimeSession._item_truncate,
    "response.create": RealtimeSession._response_create,
    "response.cancel": RealtimeSession._response_cancel,
    "input_audio_buffer.commit": RealtimeSession._buffer_commit,
    "input_audio_buffer.clear": RealtimeSession._buffer_clear,
    "output_audio_buffer.clear": RealtimeSession._output_buffer_clear,
}
