"""A session's responses: at most one active, created by the client or by a turn's end, run as a
task of the session (decide the reply, stream it, finish with a status), and cancelled by the
client, by a truncation or by the caller speaking over it."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from switchboard.emulator import metrics
from switchboard.emulator.calls import Reply
from switchboard.emulator.config import ResponseConfig
from switchboard.emulator.confirmation import PROTOCOL_TOOLS, open_proposal
from switchboard.emulator.conversation import last_call, trailing_outputs
from switchboard.emulator.errors import ProtocolError
from switchboard.emulator.ids import new_id
from switchboard.emulator.response import Response, response_object
from switchboard.emulator.streaming import OutputStream

if TYPE_CHECKING:
    from switchboard.emulator.session import RealtimeSession

__all__ = ["Responses"]

log = logging.getLogger(__name__)


class Responses:
    """The responses of one session."""

    def __init__(self, session: RealtimeSession) -> None:
        self._session = session
        self._output = OutputStream(session)
        #: the response in progress, if any
        self.active: Response | None = None

    def create(self, overrides: dict[str, Any] | None) -> None:
        """``response.create``: refused while a response is in progress, as the service does."""
        if self.active is not None:
            raise ProtocolError(
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        self.start(ResponseConfig.build(self._session.config, overrides))

    def start(self, config: ResponseConfig, *, speech_end: float | None = None) -> None:
        """Start a response (*speech_end*: the end of the speech it answers, for the metric)."""
        response = Response(id=new_id("resp"), config=config, speech_end=speech_end)
        self.active = response
        response.task = self._session.spawn(self._run(response))

    def cancel(self, response_id: str | None) -> None:
        """``response.cancel`` of the active response (or of the one named)."""
        if self.active is None or (response_id is not None and response_id != self.active.id):
            raise ProtocolError(
                "Cancellation failed: no active response found", code="response_cancel_not_active"
            )
        self.cancel_active("client_cancelled")

    def cancel_active(self, reason: str | None) -> None:
        """Cancel the active response, if any, for *reason* (default ``client_cancelled``)."""
        response = self.active
        if response is None or response.task is None:
            return
        response.cancel_reason = reason or "client_cancelled"
        response.task.cancel()

    def _object(self, response: Response, status: str) -> dict[str, Any]:
        session = self._session
        return response_object(
            response,
            status,
            session_id=session.id,
            items=session.conversation.items,
            input_audio_ms=[u.duration_ms for u in session.input.user_audio.values()],
        )

    async def _run(self, response: Response) -> None:
        session = self._session
        session.emit(
            {"type": "response.created", "response": self._object(response, "in_progress")}
        )
        status = "completed"
        try:
            reply = await self._decide(response)
            if reply.calls:
                for call in reply.calls:
                    await self._output.function_call(response, call)
            else:
                await self._output.message(response, reply.text or "")
            if response.incomplete_reason is not None:
                status = "incomplete"
        except asyncio.CancelledError:
            if response.cancel_reason is None:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            status = "cancelled"
            self._output.close_open_items(response)
        except Exception:
            log.exception(
                "response failed", extra={"session_id": session.id, "response_id": response.id}
            )
            status = "failed"
            self._output.close_open_items(response)
        finally:
            if self.active is response:
                self.active = None
        if status in ("completed", "incomplete"):
            heard = session.input.buffer.received_ms
            if response.first_audio_pos_ms is not None:
                heard = max(heard, response.first_audio_pos_ms + response.output_audio_ms)
            session.input.idle.arm(heard)
        metrics.RESPONSES.labels(status).inc()
        session.emit({"type": "response.done", "response": self._object(response, status)})

    async def _decide(self, response: Response) -> Reply:
        session = self._session
        cfg = response.config
        items = cfg.input_items if cfg.input_items is not None else session.conversation.items
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
            return session.policy.summarize_all(
                trailing_outputs(items, session.conversation.call_names())
            )
        user_text: str | None = None
        if last is not None and last.get("id") in session.input.idle_items:
            return Reply(text="Are you still there? I'm here if you need anything else.")
        if last is not None and last.get("role") == "user":
            parts = []
            for content in last.get("content") or []:
                if content.get("type") == "input_text":
                    parts.append(content.get("text") or "")
                elif content.get("type") == "input_audio":
                    pending = session.input.user_audio.get(last.get("id", ""))
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
        return session.policy.respond(
            user_text=user_text,
            tools=cfg.tools,
            tool_choice=cfg.tool_choice,
            instructions=cfg.instructions,
            previous_call=last_call(items, skip=PROTOCOL_TOOLS),
            proposal=open_proposal(items),
        )
