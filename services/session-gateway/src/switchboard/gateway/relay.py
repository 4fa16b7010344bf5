"""The relay rules of one conversation (pure logic, no I/O).

:class:`RelayCore` holds what the gateway knows of a conversation (through
:class:`~switchboard.gateway.conversation.Conversation`) and decides, for each event from
either side, what happens: it returns :mod:`~switchboard.gateway.actions` and never sends.
Control events from the upstream go through a table from event type to handler; audio deltas
(the hot path) have a method of their own that takes the frame's text and the few fields the
relay needs, so the frame is relayed as received.

Rules beyond forwarding:

- function calls are the gateway's business: their events and items never reach the client,
  and ``previous_item_id`` in what is forwarded never names a hidden item (it names the last
  item before it that the client saw, or null);
- a response made only of hidden tool calls is not shown at all: ``response.created`` is held
  until the response shows the client something, and a response that ends having shown nothing
  but tool calls is dropped with its ``response.done`` (the client sees one response per answer);
- errors the upstream answers to the gateway's own events (ids ``sbgw_*``) stay inside;
- the id of the conversation's latest user item (the customer spoke: ``input_audio_buffer.
  committed``; or a user message item was added, spoken or typed) is stamped on each response
  at its ``response.created``, and every function call of that response carries the stamp to
  the tool worker (``ToolCallRequest.user_item_id``): a confirmation is refused unless the
  customer said something after the proposal.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from switchboard.contracts.events import ErrorOccurred, EventPayload
from switchboard.gateway.actions import (
    Action,
    CreateResponse,
    DeliverOutputs,
    Emit,
    SendClient,
    SessionState,
    StartTool,
    StateError,
)
from switchboard.gateway.conversation import Conversation
from switchboard.gateway.policy import client_view_of_session

__all__ = ["FUNCTION_ITEMS", "GW_EVENT_PREFIX", "RelayCore"]

log = logging.getLogger(__name__)

#: Prefix of the event ids the gateway itself sends upstream (errors about them stay inside).
GW_EVENT_PREFIX = "sbgw_"
FUNCTION_ITEMS = frozenset({"function_call", "function_call_output"})
_ITEM_EVENTS = frozenset(
    {"conversation.item.added", "conversation.item.created", "conversation.item.done"}
)
#: Session fields a client may have changed, re-applied on a new upstream session.
_OVERRIDABLE_IN = ("format", "turn_detection", "noise_reduction")
_OVERRIDABLE_OUT = ("format", "voice", "speed")
_NONE: list[Action] = []

Handler = Callable[[dict[str, Any]], bool | dict[str, Any] | None]


class RelayCore:
    """Decisions for one conversation; the session's pumps carry out what it returns."""

    def __init__(
        self,
        *,
        audio_format: str,
        model: str = "",
        usage_estimated: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.state = SessionState.CONNECTING
        self.conversation = Conversation(
            audio_format=audio_format, model=model, usage_estimated=usage_estimated
        )
        self.input_format = audio_format
        #: the client's accepted session changes (re-applied on a new upstream session)
        self.overrides: dict[str, Any] = {}
        self.speaking = False
        self.response_requested = False
        self.last_activity = clock()
        #: ids of items the gateway replayed on a new upstream (their echoes are not forwarded)
        self.replayed: set[str] = set()
        #: hidden item id -> the last item before it the client saw (None: none)
        self.hidden: dict[str, str | None] = {}
        #: tool calls per response id
        self.calls: dict[str, int] = {}
        #: a response.created not shown yet: (response id, frame text)
        self.held: tuple[str, str] | None = None
        #: the id of the latest user item (the customer spoke or typed), None before any
        self.user_item_id: str | None = None
        #: every user item seen (a late event about an older one does not move the latest back)
        self._user_items: set[str] = set()
        #: user items that are turns of the caller's audio (committed from the input buffer)
        self.spoken_items: set[str] = set()
        #: response id -> the latest user item at its response.created (until its done)
        self.user_item_at: dict[str, str | None] = {}
        self._gw_events = 0
        self._handlers: dict[str, Handler] = {
            "response.created": self._response_created,
            "response.done": self._response_done,
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_ended,
            "input_audio_buffer.cleared": self._speech_ended,
            "input_audio_buffer.committed": self._committed,
            "response.function_call_arguments.done": self._call_arguments_done,
            "response.function_call_arguments.delta": _hide,
            "session.created": self._session_created,
            "session.updated": self._session_updated,
            "error": self._error,
        }
        self._actions: list[Action] = []

    # -- state -------------------------------------------------------------------------------------
    def become(self, state: SessionState) -> None:
        """Move to *state*; raises :class:`StateError` for a transition the machine forbids."""
        if state is self.state:
            return
        if not self.state.can_become(state):
            raise StateError(f"{self.state.value} -> {state.value}")
        self.state = state

    @property
    def response_idle(self) -> bool:
        """No response is active upstream and none has been asked for."""
        return self.conversation.active_response is None and not self.response_requested

    @property
    def busy(self) -> bool:
        return self.conversation.active_response is not None

    def request_response(self) -> bool:
        """Claim the right to send a ``response.create`` now (False while one is active)."""
        if not self.response_idle:
            return False
        self.response_requested = True
        return True

    def gw_event_id(self) -> str:
        self._gw_events += 1
        return f"{GW_EVENT_PREFIX}{self._gw_events}"

    # -- upstream -> client: audio (the hot path) -------------------------------------------------
    def on_audio_delta(
        self, text: str, item_id: str, response_id: str | None, audio_bytes: int
    ) -> list[Action]:
        """An audio delta from the upstream, relayed as *text*: one dictionary lookup for the
        item, and nothing else unless a held ``response.created`` must go first."""
        self.last_activity = self.clock()
        facts = self.conversation.on_delivered_bytes(item_id, response_id, audio_bytes)
        if self.held is None and not facts:
            return [SendClient(text)]
        actions: list[Action] = []
        self._release(actions)
        actions.append(SendClient(text))
        actions.extend(Emit(f) for f in facts)
        return actions

    # -- upstream -> client: everything else ------------------------------------------------------
    def on_server_event(self, event: dict[str, Any], raw: str | None) -> list[Action]:
        """A (GA) server event that is not an audio delta; *raw* is its text when unchanged."""
        kind = event.get("type")
        item = event.get("item")
        if not isinstance(item, dict):
            item = None
        if kind in _ITEM_EVENTS and item is not None and item.get("id") in self.replayed:
            return _NONE  # the echo of our replay on a new upstream session
        if item is not None and kind in _ITEM_EVENTS and item.get("role") == "user":
            self._user_item(item.get("id"))
        actions: list[Action] = []
        self._actions = actions
        for fact in self.conversation.observe(event):
            actions.append(Emit(fact))
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            decision = handler(event)
        elif item is not None and item.get("type") in FUNCTION_ITEMS:
            decision = self._hide_item(event, item)
        else:
            decision = True
        if decision is False or decision is None:
            return actions
        forward = event if decision is True else decision
        prev = forward.get("previous_item_id")
        if prev is not None and prev in self.hidden:
            forward = {**forward, "previous_item_id": self.hidden[prev]}
        if self.held is not None and _shows_response(forward):
            self._release(actions)
        text = raw if forward is event and raw is not None else json.dumps(forward)
        actions.append(SendClient(text))
        return actions

    def response_cut(self, response_id: str, event_id: str) -> list[Action]:
        """The upstream dropped during *response_id*: it never finishes, so the client is told
        it failed (unless the client never saw it start)."""
        self.conversation.active_response = None
        self.response_requested = False
        self.user_item_at.pop(response_id, None)
        if self.held is not None and self.held[0] == response_id:
            self.held = None
            return _NONE
        done = {
            "type": "response.done",
            "event_id": event_id,
            "response": {
                "id": response_id,
                "object": "realtime.response",
                "status": "failed",
                "status_details": {
                    "type": "failed",
                    "error": {"type": "server_error", "code": "upstream_reconnected"},
                },
                "output": [],
            },
        }
        return [SendClient(json.dumps(done))]

    def _release(self, actions: list[Action]) -> None:
        if self.held is not None:
            actions.append(SendClient(self.held[1]))
            self.held = None

    # -- handlers: True forwards as is, a dict forwards that instead, False/None drops -----------
    def _response_created(self, event: dict[str, Any]) -> bool:
        self.response_requested = False
        self.last_activity = self.clock()
        response_id = str((event.get("response") or {}).get("id"))
        # what the customer had said when the model started this response: its calls carry it
        self.user_item_at[response_id] = self.user_item_id
        # held until the response shows the client something (it may be only tool calls)
        self._release(self._actions)
        self.held = (response_id, json.dumps(event))
        return False

    def _response_done(self, event: dict[str, Any]) -> dict[str, Any] | bool:
        response = event.get("response") or {}
        response_id = str(response.get("id"))
        self.last_activity = self.clock()
        self.user_item_at.pop(response_id, None)
        if self.calls.pop(response_id, 0):
            self._actions.append(DeliverOutputs(response_id))
        output = response.get("output") or []
        hidden = [o for o in output if o.get("type") in FUNCTION_ITEMS]
        held = self.held is not None and self.held[0] == response_id
        if held and hidden and len(hidden) == len(output):
            self.held = None  # only tool calls: the client never sees this response
            return False
        if held:
            self._release(self._actions)
        if not hidden:
            return True
        visible = [o for o in output if o.get("type") not in FUNCTION_ITEMS]
        return {**event, "response": {**response, "output": visible}}

    def _speech_started(self, event: dict[str, Any]) -> bool:
        self.speaking = True
        return True

    def _speech_ended(self, event: dict[str, Any]) -> bool:
        self.speaking = False
        return True

    def _committed(self, event: dict[str, Any]) -> bool:
        item_id = event.get("item_id")
        self._user_item(item_id)
        if isinstance(item_id, str) and item_id:
            self.spoken_items.add(item_id)
        return True

    def _user_item(self, item_id: Any) -> None:
        """The customer spoke or typed: *item_id* is the conversation's latest user item."""
        if isinstance(item_id, str) and item_id and item_id not in self._user_items:
            self._user_items.add(item_id)
            self.user_item_id = item_id

    def _call_arguments_done(self, event: dict[str, Any]) -> bool:
        response_id = str(event.get("response_id"))
        self.calls[response_id] = self.calls.get(response_id, 0) + 1
        self._actions.append(
            StartTool(
                call_id=str(event.get("call_id")),
                name=str(event.get("name")),
                arguments=str(event.get("arguments") or "{}"),
                response_id=response_id,
                # a call of a response never seen starting gets no stamp (never a newer one)
                user_item_id=self.user_item_at.get(response_id),
            )
        )
        return False

    def _hide_item(self, event: dict[str, Any], item: dict[str, Any]) -> bool:
        item_id = item.get("id")
        if isinstance(item_id, str) and (item_id not in self.hidden or "previous_item_id" in event):
            prev = event.get("previous_item_id")
            self.hidden[item_id] = self.hidden.get(prev, prev) if isinstance(prev, str) else None
        return False

    def _session_created(self, event: dict[str, Any]) -> bool:
        self.learn_session(event.get("session") or {})
        return False  # the client got its own session.created when it connected

    def _session_updated(self, event: dict[str, Any]) -> dict[str, Any]:
        session = event.get("session") or {}
        self.learn_session(session)
        return {**event, "session": client_view_of_session(session)}

    def _error(self, event: dict[str, Any]) -> bool:
        error = event.get("error") or {}
        code = str(error.get("code") or error.get("type") or "unknown")
        self._actions.append(
            Emit(
                ErrorOccurred(
                    code=code[:64], message=str(error.get("message", ""))[:500], source="upstream"
                )
            )
        )
        if not str(error.get("event_id") or "").startswith(GW_EVENT_PREFIX):
            return True
        # the message may quote what the gateway sent (a replayed transcript, a tool's output):
        # only the code and the parameter at INFO and above (the audit event has the message,
        # redacted)
        log.warning(
            "upstream refused a gateway event", extra={"code": code, "param": error.get("param")}
        )
        log.debug("upstream refusal message", extra={"error_message": error.get("message")})
        if code == "conversation_already_has_active_response" and self.response_requested:
            self.response_requested = False
            self._actions.append(CreateResponse())
        return False

    # -- session -----------------------------------------------------------------------------------
    def learn_session(self, session: dict[str, Any]) -> None:
        """Remember the formats in use and the client-changeable settings (re-applied after a
        reconnect)."""
        audio = session.get("audio") or {}
        audio_in = audio.get("input") or {}
        audio_out = audio.get("output") or {}
        fmt_in = (audio_in.get("format") or {}).get("type")
        fmt_out = (audio_out.get("format") or {}).get("type")
        if fmt_in:
            self.input_format = fmt_in
        if fmt_out:
            self.conversation.audio_format = fmt_out
        overrides: dict[str, Any] = {"audio": {"input": {}, "output": {}}}
        for key in _OVERRIDABLE_IN:
            if key in audio_in:
                overrides["audio"]["input"][key] = audio_in[key]
        for key in _OVERRIDABLE_OUT:
            if key in audio_out:
                overrides["audio"]["output"][key] = audio_out[key]
        for key in ("output_modalities", "max_output_tokens"):
            if key in session:
                overrides[key] = session[key]
        self.overrides = overrides

    def flush(self) -> list[EventPayload]:
        """The audit facts still owed at the end of the conversation."""
        return self.conversation.flush()


def _hide(event: dict[str, Any]) -> bool:
    return False


def _shows_response(event: dict[str, Any]) -> bool:
    """Whether forwarding *event* shows the client a response (so its held
    ``response.created`` must go first)."""
    kind = str(event.get("type"))
    if kind.startswith("response."):
        return True
    if kind in _ITEM_EVENTS:
        item = event.get("item") or {}
        return item.get("role") == "assistant"
    return False
