"""One phone call: the carrier's media stream on one side, a gateway conversation on the other.

- Caller audio goes to the gateway as ``input_audio_buffer.append`` untouched (the carrier's
  base64: µ-law 8 kHz from Twilio, PCM16 24 kHz from ACS; the session is set to that format),
  a few carrier frames per append (:mod:`.uplink`).
- Bot audio goes to the carrier in pieces, a mark at every ``PHONE_MARK_INTERVAL_MS`` of an
  item's audio and after an answer's last audio (:mod:`.playback`).
- Barge-in: on ``input_audio_buffer.speech_started`` the carrier's playback is cleared and the
  item truncated at what the carrier's marks say was played.
- Keypad digits become one user message per batch (:mod:`.keypad`).
- Escalation: the gateway's display event ``switchboard.tool.completed`` for
  ``escalate_to_human`` arms a transfer; once the bot's answer has been played (or after
  ``PHONE_TRANSFER_GRACE_S``) the call is moved with the carrier's call control.
- A gateway socket lost mid-call (no close frame, or 1012) is resumed with the carrier call
  held (:mod:`.resume`); the call ends only when the resume fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.exceptions import ConnectionClosed

from switchboard.observability import bind_log_context
from switchboard.phone.carrier import (
    AudioIn,
    CallControl,
    KeyPressed,
    MalformedFrame,
    MarkPlayed,
    MediaStream,
    StreamClosed,
    StreamStopped,
    TransferFailed,
)
from switchboard.phone.deltas import read_audio_delta
from switchboard.phone.gateway import GatewayError, GatewayLink, truncate_event
from switchboard.phone.keypad import Keypad, keypad_item
from switchboard.phone.metrics import PhoneMetrics
from switchboard.phone.playback import Piece, Playback
from switchboard.phone.resume import Upstream, lost_code
from switchboard.phone.settings import PhoneSettings
from switchboard.phone.start import NotAccepted, accept_stream, refuse_frame
from switchboard.phone.uplink import Uplink

__all__ = ["CallDeps", "PhoneCall"]

log = logging.getLogger(__name__)

ESCALATION_TOOL = "escalate_to_human"
#: Mark placed after each complete answer (audio, no tool still running): the carrier echoes
#: it once the caller has heard the whole answer.
ANSWER_END_MARK = "answer-end"


@dataclass(frozen=True)
class CallDeps:
    settings: PhoneSettings
    gateway: GatewayLink
    control: CallControl
    metrics: PhoneMetrics


class PhoneCall:
    """Runs one call from the stream's ``start`` to its end."""

    def __init__(self, stream: MediaStream, deps: CallDeps) -> None:
        self.stream = stream
        self.deps = deps
        self.settings = deps.settings
        self.metrics = deps.metrics
        self.playback = Playback(bytes_per_ms=8, mark_interval_ms=self.settings.mark_interval_ms)
        self.keypad = Keypad(pause_s=self.settings.dtmf_pause_s)
        self.call_id = ""
        self.customer_id = ""
        self.session_id: str | None = None
        self.upstream: Upstream | None = None
        self.uplink: Uplink  # with the upstream
        self.outcome = "hangup"
        self._cut: set[str] = set()
        self._carrier_gone = False
        self._response_active = False
        self._response_audio = False
        self._answers = 0
        self._tools: set[str] = set()
        self._awaiting_response = False
        self._settled = asyncio.Event()
        self._settled.set()
        self._respond_when_idle = False
        self._keys = asyncio.Event()
        self._escalated = asyncio.Event()
        self._answered_after_escalation = False
        self._answered = asyncio.Event()
        self._drained = asyncio.Event()
        self._transfer = asyncio.Event()  # set while the carrier is asked to move the call
        self._transfer_done = asyncio.Event()
        self.transferred_to: str | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            accepted = await accept_stream(self.stream, self.settings, self.metrics)
        except NotAccepted as exc:
            if exc.outcome is not None:
                self.outcome = exc.outcome
            return
        start = accepted.start
        self.call_id = start.call_id
        bind_log_context(call_sid=start.call_id, stream_sid=start.stream_id)
        self.customer_id = accepted.customer_id
        audio_format = accepted.audio_format
        self.playback = Playback(
            bytes_per_ms=accepted.bytes_per_ms, mark_interval_ms=self.settings.mark_interval_ms
        )
        began = time.perf_counter()
        try:
            ws = await self.deps.gateway.open(self.customer_id, audio_format=audio_format)
        except GatewayError as exc:
            log.error("gateway unavailable for a call", extra={"error": str(exc)})
            self.outcome = "gateway_error"
            await self.stream.close()
            return
        self.upstream = Upstream(
            ws,
            link=self.deps.gateway,
            customer_id=self.customer_id,
            audio_format=audio_format,
            settings=self.settings,
            metrics=self.metrics,
        )
        self.uplink = Uplink(
            self.upstream,
            self.metrics,
            bytes_per_ms=accepted.bytes_per_ms,
            batch_ms=self.settings.append_batch_ms,
        )
        self.metrics.setup_seconds.observe(time.perf_counter() - began)
        self.metrics.calls_active.inc()
        log.info("call connected", extra={"customer_id": self.customer_id})
        try:
            await self._relay()
        finally:
            self.uplink.close()
            self.metrics.calls_active.dec()
            self.metrics.calls.labels(self.outcome).inc()
            await self.upstream.close()
            await self.stream.close()
            log.info("call ended", extra={"outcome": self.outcome, "session_id": self.session_id})

    async def _relay(self) -> None:
        tasks = [
            asyncio.create_task(self._carrier_pump(), name="phone-carrier"),
            asyncio.create_task(self._gateway_pump(), name="phone-gateway"),
            asyncio.create_task(self._keypad_timer(), name="phone-keypad"),
            asyncio.create_task(self._transfer_watch(), name="phone-transfer"),
        ]
        try:
            done, _ = await asyncio.wait(tasks[:2] + tasks[3:], return_when="FIRST_COMPLETED")
            for task in done:
                if not task.cancelled() and (exc := task.exception()) is not None:
                    log.error("call failed", exc_info=exc)
                    self.outcome = "error"
            if self._transfer.is_set():
                # moving the call ends its media stream, possibly before the carrier's REST
                # call returns: let the transfer finish and be recorded
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.transfer_grace_s):
                        await self._transfer_done.wait()
            if tasks[0] in done and not self._settled.is_set():
                # the caller hung up while the bot was still working (a tool running, a
                # response coming): keep the conversation open until that is done, so the
                # gateway records the tool's outcome instead of abandoning it
                log.info("caller hung up mid-turn; letting the conversation settle")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.hangup_settle_s):
                        await self._settled.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- carrier -> gateway --------------------------------------------------------------------
    async def _carrier_pump(self) -> None:
        uplink = self.uplink
        while True:
            try:
                event = await self.stream.receive()
            except MalformedFrame as exc:
                refuse_frame(self.metrics, exc)
                continue
            except StreamClosed:
                self._carrier_gone = True
                await uplink.flush()
                return
            if isinstance(event, AudioIn):
                await uplink.audio(event.payload, event.size)
            elif isinstance(event, MarkPlayed):
                # marks never go to the gateway: no flush (one comes back per played piece)
                self.playback.played(event.name)
                self._check_drained()
            elif isinstance(event, KeyPressed):
                batch = self.keypad.press(event.digit, time.monotonic())
                if batch:
                    await self._send_keys(batch)
                else:
                    self._keys.set()
            elif isinstance(event, StreamStopped):
                self._carrier_gone = True
                await uplink.flush()
                return

    async def _keypad_timer(self) -> None:
        while True:
            await self._keys.wait()
            self._keys.clear()
            while (deadline := self.keypad.deadline) is not None:
                await asyncio.sleep(max(0.0, deadline - time.monotonic()))
                batch = self.keypad.due(time.monotonic())
                if batch:
                    await self._send_keys(batch)

    async def _send_keys(self, digits: str) -> None:
        assert self.upstream is not None
        await self.uplink.flush()  # a keypad entry after the audio said before it
        self.metrics.keypad_batches.inc()
        log.info("keypad entry", extra={"digits": len(digits)})
        if not await self.upstream.send(keypad_item(digits)):
            log.warning("keypad entry dropped: the gateway conversation is resuming")
        elif self._response_active:
            self._respond_when_idle = True
        else:
            self._awaiting_response = True
            self._update_settled()
            await self.upstream.send('{"type":"response.create"}')

    # -- gateway -> carrier --------------------------------------------------------------------
    async def _gateway_pump(self) -> None:
        assert self.upstream is not None
        while True:
            ws = self.upstream.ws
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    if (audio := read_audio_delta(raw)) is not None:
                        await self._play(*audio)
                        continue
                    data = orjson.loads(raw)
                    kind = data.get("type")
                    if kind == "response.output_audio.delta":
                        await self._play(str(data["item_id"]), str(data["delta"]))
                    elif kind == "input_audio_buffer.speech_started":
                        await self._barge_in()
                    elif kind == "session.created":
                        self.upstream.note(data)
                    else:
                        await self._on_event(kind, data)
            log.info("gateway closed the conversation", extra={"code": lost_code(ws)})
            if self._carrier_gone:
                break
            if not await self.upstream.resume():
                if self.upstream.gave_up:
                    self.outcome = "resume_failed"
                break
            self._resumed()
        self._settled.set()  # nothing more can come: a hang-up mid-turn need not wait
        if self.outcome == "hangup":
            self.outcome = "gateway_closed"

    def _resumed(self) -> None:
        """The conversation goes on on a new socket: a response in flight was cut by the loss
        (the gateway answers again after a resume) and tool events start afresh."""
        self._response_active = False
        self._awaiting_response = False
        self._respond_when_idle = False
        self._tools.clear()
        self._update_settled()

    async def _play(self, item_id: str, delta: str) -> None:
        if item_id in self._cut:
            return  # the rest of an answer the caller talked over
        self._response_audio = True
        if self._carrier_gone:
            return  # the caller hung up; the conversation is only settling
        try:
            await self._send_pieces(self.playback.pieces(item_id, delta))
        except StreamClosed:
            self._carrier_gone = True

    async def _send_pieces(self, pieces: list[Piece]) -> None:
        for piece in pieces:
            if piece.payload:
                await self.stream.send_audio(piece.payload)
                self.metrics.frames.bot_pieces += 1
            if piece.mark is not None:
                await self.stream.send_mark(piece.mark)

    async def _barge_in(self) -> None:
        cut = self.playback.clear()
        if cut is None:
            log.debug("caller speech while nothing was playing")
            return
        item_id, heard_ms = cut
        self._cut.add(item_id)
        with contextlib.suppress(StreamClosed):
            await self.stream.clear()
        assert self.upstream is not None
        await self.upstream.send(truncate_event(item_id, heard_ms))
        self.metrics.barge_ins.inc()
        sent_ms = self.playback.sent_ms(item_id)
        log.info("barge-in", extra={"item_id": item_id, "heard_ms": heard_ms, "sent_ms": sent_ms})
        self._check_drained()

    async def _on_event(self, kind: Any, data: dict[str, Any]) -> None:
        if kind == "response.created":
            self._response_active = True
            self._awaiting_response = False
            self._response_audio = False
            self._update_settled()
        elif kind == "response.done":
            self._response_active = False
            self._update_settled()
            if not self._carrier_gone:  # the answer's last audio gets its mark
                with contextlib.suppress(StreamClosed):
                    await self._send_pieces(self.playback.tail())
            if self._response_audio and not self._tools:
                self._answers += 1
                if not self._carrier_gone:
                    with contextlib.suppress(StreamClosed):
                        await self.stream.send_mark(f"{ANSWER_END_MARK}-{self._answers}")
            # the answer to an escalation is a spoken response: the response that only called
            # escalate_to_human (hidden from clients) may end after the tool's completion
            if self._escalated.is_set() and self._response_audio:
                self._answered_after_escalation = True
                self._answered.set()
                self._check_drained()
            if self._respond_when_idle and self.upstream is not None:
                self._respond_when_idle = False
                self._awaiting_response = True
                self._update_settled()
                await self.upstream.send('{"type":"response.create"}')
        elif kind == "switchboard.session":
            self.session_id = str(data.get("session_id"))
            bind_log_context(session_id=self.session_id)
        elif kind == "switchboard.tool.started":
            self._tools.add(str(data.get("call_id")))
            self._update_settled()
        elif kind == "switchboard.tool.completed":
            self._tools.discard(str(data.get("call_id")))
            self._update_settled()
            if data.get("tool") == ESCALATION_TOOL and data.get("ok"):
                log.info("escalation requested", extra={"card": data.get("card")})
                self._escalated.set()
        elif kind == "error":
            error = data.get("error") or {}
            log.warning(
                "gateway error event",
                extra={"code": error.get("code"), "message": str(error.get("message"))[:200]},
            )

    def _update_settled(self) -> None:
        if self._tools or self._response_active or self._awaiting_response:
            self._settled.clear()
        else:
            self._settled.set()

    # -- transfer ------------------------------------------------------------------------------
    def _check_drained(self) -> None:
        if self._answered_after_escalation and not self.playback.playing:
            self._drained.set()

    async def _transfer_watch(self) -> None:
        await self._escalated.wait()
        target = self.settings.transfer_to
        if not target:
            log.info("escalation without PHONE_TRANSFER_TO: the call stays with the bot")
            await asyncio.Event().wait()
        # the bot's answer to the escalation is produced, then played; each gets the grace
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.transfer_grace_s):
                await self._answered.wait()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.transfer_grace_s):
                await self._drained.wait()
        handoff = f"{self.settings.store_url}/api/sessions/{self.session_id}/handoff"
        self._transfer.set()
        try:
            await self.deps.control.transfer(self.call_id, target, announcement=None)
        except TransferFailed as exc:
            self.metrics.transfers.labels("failed").inc()
            log.error("transfer failed; the call stays with the bot", extra={"error": str(exc)})
            self._transfer_done.set()
            await asyncio.Event().wait()
        self.metrics.transfers.labels("ok").inc()
        self.transferred_to = target
        self.outcome = "transferred"
        log.info("call transferred", extra={"to": target, "handoff_summary": handoff})
        self._transfer_done.set()
